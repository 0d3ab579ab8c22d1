"""Answer reader: a small cross-encoder scoring whether a candidate sentence (or window) answers a question."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from rag.errors import ModelUnavailable

READER_PATH = Path(__file__).with_name("reader")  # trained by training/train_reader.py
MAX_LENGTH = 128  # tokens of question + text; the text is truncated first when longer


class Reader:
    """Cross-encoder (MiniLM layers fine-tuned here, see training/README.md) giving one logit per (question, text):
    higher means the text states the answer. `input` says what the texts should be (the bundled model: "sentence",
    the candidate sentence alone). Loads once, on the CPU, from a local folder only; thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        folder = Path(path) if path is not None else READER_PATH
        if not (folder / "config.json").is_file():
            raise ModelUnavailable(
                f"the answer reader model is missing: {str(folder)!r} is not a model folder "
                f"(train it with training/train_reader.py; no downloads are made)"
            )
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()
            self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self._model = (
                AutoModelForSequenceClassification.from_pretrained(
                    folder, local_files_only=True, dtype=torch.float32
                )
                .to("cpu")
                .eval()
            )
        except Exception as exc:  # noqa: BLE001  (any load failure becomes one clear line naming the folder)
            raise ModelUnavailable(
                f"cannot load the answer reader from {str(folder)!r}: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        meta = folder / "training.json"
        self.meta: dict = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
        self.input: str = self.meta.get("input", "window")  # what the texts should be: "window" or "sentence"
        self.max_length = int(self.meta.get("max_length", MAX_LENGTH))
        self.path = folder
        self._lock = threading.Lock()

    def scores(self, question: str, texts: list[str]) -> np.ndarray:
        """One logit per text (float32, shape (len(texts),)), all pairs in one forward pass."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        import torch

        batch = self._tokenizer(
            [question] * len(texts),
            list(texts),
            padding=True,
            truncation="longest_first",
            max_length=self.max_length,
            return_tensors="pt",
        )
        with self._lock, torch.inference_mode():
            logits = self._model(**batch).logits[:, 0]
        return logits.numpy().astype(np.float32)
