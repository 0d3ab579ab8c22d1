"""What every command of the `rag` CLI shares: its consoles, common options, and settings and Pipeline makers."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from rag.settings import AnswerMode, Settings

console = Console()
err = Console(stderr=True)

IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        "-i",
        help="Index name under RAG_INDEX_DIR (default: RAG_INDEX_NAME, i.e. 'seed', the seed corpus).",
    ),
]
TopKOpt = Annotated[int | None, typer.Option("--top-k", "-k", min=1, max=100, help="Passages to retrieve.")]
ModeOpt = Annotated[
    AnswerMode | None, typer.Option("--mode", "-m", help="Answer mode (default RAG_ANSWER_MODE).")
]


def settings_for(index: str | None, **overrides: object) -> Settings:
    """Settings from the environment, with the command's options on top."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if index is not None:
        values["index_name"] = index
    return Settings(**values)


def make_pipeline(settings: Settings):
    """The Pipeline for these settings (loads the embedding model)."""
    from rag.pipeline import Pipeline

    return Pipeline(settings)
