"""Shared fixtures: the real embedding model (loaded once) and a real index of the seed corpus."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.pipeline import Pipeline
from rag.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


def run_rag(
    args: Sequence[str],
    index_dir: Path,
    timeout: int = 300,
    command: Sequence[str] = (sys.executable, "-m", "rag.cli"),
    extra_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real `rag` command line (`command`: the module, or the installed entry point) in a child process
    over `index_dir`, the seed corpus as default corpus; the caller's RAG_INDEX_NAME and RAG_STORE do not leak in
    (`extra_env` sets further variables for this run)."""
    env = {
        **os.environ,
        "RAG_INDEX_DIR": str(index_dir),
        "RAG_CORPUS_DIR": str(CORPUS),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("RAG_INDEX_NAME", None)
    env.pop("RAG_STORE", None)
    env.update(extra_env or {})
    return subprocess.run(
        [*command, *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


SCIFACT = REPO.parent / "shared" / "data" / "scifact"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2 model, loaded once for the whole run."""
    return Embedder()


def make_settings(index_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own index folder, everything else at the defaults (environment ignored)."""
    return Settings(_env_file=None, index_dir=index_dir, corpus_dir=CORPUS, **overrides)


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Path:
    """A folder holding a real index of the seed corpus, built once per run."""
    root = tmp_path_factory.mktemp("seed-index")
    Pipeline(make_settings(root), embedder=embedder).index([CORPUS])
    return root


@pytest.fixture(scope="session")
def seed_pipeline(seed_index_dir: Path, embedder: Embedder) -> Pipeline:
    """A read-only pipeline over the seed index (tests must not modify it)."""
    return Pipeline(make_settings(seed_index_dir), embedder=embedder)


@pytest.fixture()
def writable_pipeline(tmp_path: Path, seed_index_dir: Path, embedder: Embedder) -> Pipeline:
    """A pipeline over a private copy of the seed index, free to modify."""
    shutil.copytree(seed_index_dir / "seed", tmp_path / "index" / "seed")
    return Pipeline(make_settings(tmp_path / "index"), embedder=embedder)


def pdf_escape(text: str) -> str:
    """`text` as the inside of a PDF string literal."""
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(objects: list[str], info: int) -> bytes:
    """A PDF file of numbered `objects` (1: the catalog; `info`: the document info), with its xref table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def make_pdf(lines: list[str], title: str = "") -> bytes:
    """A small, valid one-page PDF with `lines` of text in Helvetica (written by hand: no PDF writer needed)."""
    esc = pdf_escape
    content = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({esc(line)}) Tj T*" for line in lines) + " ET"
    info = f"<< /Title ({esc(title)}) >>" if title else "<< >>"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            "/Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        f"<< /Length {len(content.encode('latin-1'))} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        info,
    ]
    return pdf_bytes(objects, 6)
