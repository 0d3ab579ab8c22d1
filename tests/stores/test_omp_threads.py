"""FAISS's one-thread searches must not leave torch (which can share its OpenMP runtime) on one thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

# torch imported before faiss: both then use one OpenMP runtime, and a thread's OpenMP setting is torch's too.
SCRIPT = """
import sys
from pathlib import Path

import torch

assert torch.get_num_threads() == 2  # from OMP_NUM_THREADS (an explicit set_num_threads would be kept apart)
import numpy as np

from rag.pipeline import Pipeline
from rag.settings import Settings
from rag.stores import hnsw

assert torch.get_num_threads() == 2, ("after importing the stores", torch.get_num_threads())
pipeline = Pipeline(Settings(_env_file=None, index_dir=Path(sys.argv[1])))
assert pipeline.search("How large is the warehouse at Liege airport?")
assert torch.get_num_threads() == 2, ("after a search", torch.get_num_threads())
hnsw.build(np.random.default_rng(0).standard_normal((500, 8)).astype("float32"))
assert torch.get_num_threads() == 2, ("after an HNSW build", torch.get_num_threads())
print("threads kept")
"""


def test_searches_and_builds_keep_torchs_threads(seed_index_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(seed_index_dir)],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "threads kept" in done.stdout
