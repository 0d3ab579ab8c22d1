"""`rag migrate`: copy an embedded index into Milvus with its stored vectors (nothing is embedded again)."""

from __future__ import annotations

import shutil
import time
from enum import Enum
from typing import Annotated

import typer

from rag.errors import InvalidInput

BATCH = 256  # documents copied (and committed) per Milvus write


class Target(str, Enum):
    """Backends an index can be migrated to."""

    milvus = "milvus"


def migrate(
    index: Annotated[
        str | None, typer.Option("--index", "-i", help="Embedded index to copy (default: RAG_INDEX_NAME).")
    ] = None,
    to: Annotated[Target, typer.Option("--to", help="Backend to copy it into.")] = Target.milvus,
    target: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Name of the copy (default: the same name; the embedded index then stays as NAME.embedded).",
        ),
    ] = None,
    milvus_uri: Annotated[
        str | None,
        typer.Option("--milvus-uri", help="Milvus Lite file or server URI (default: RAG_MILVUS_URI)."),
    ] = None,
) -> None:
    """Copy an embedded index into Milvus, re-using its chunks and vectors (no re-embedding).

    Afterwards serve it with RAG_STORE=milvus (and RAG_MILVUS_URI when not the default file).
    """
    from rag.cli_common import console, err, settings_for
    from rag.stores import EmbeddedStore, empty_store

    source_settings = settings_for(index)
    name = source_settings.index_name
    settings = settings_for(target or name, store=to.value, milvus_uri=milvus_uri)
    source_path, path = source_settings.index_path, settings.index_path
    started = time.perf_counter()
    source = EmbeddedStore.load(source_path)
    moved = None
    if path == source_path:  # one folder holds one index's CURRENT: keep the embedded one under another name
        moved = source_path.with_name(f"{name}.embedded")
        if moved.exists():
            raise InvalidInput(f"{moved} already exists; name the copy with --as NAME")
        source_path.rename(moved)
    elif (path / "CURRENT").exists():
        raise InvalidInput(
            f"index {settings.index_name!r} already exists in {settings.index_dir}/; choose --as NAME"
        )
    ids = sorted(source.documents)
    try:
        store = empty_store(settings, source.model_id, source.dimension, source.chunking)
        for start in range(0, max(len(ids), 1), BATCH):
            batch = [source.export(d) for d in ids[start : start + BATCH]]
            store = store.update(upsert=batch, remove=[], roots=source.roots)
            store.save(path)
            err.print(f"copied {min(start + BATCH, len(ids))}/{len(ids)} documents", highlight=False)
    except BaseException:
        if moved is not None and not (path / "CURRENT").exists():
            shutil.rmtree(path, ignore_errors=True)
            moved.rename(source_path)
        raise
    console.print(
        f"index [bold]{settings.index_name}[/] in {to.value}: {len(store.documents)} documents, "
        f"{store.chunk_count} chunks copied from the embedded index {name!r} in {time.perf_counter() - started:.1f}s"
        + (f"; the embedded index stays available as --index {moved.name}" if moved else ""),
        highlight=False,
        soft_wrap=True,
    )
