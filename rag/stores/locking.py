"""The cross-process write lock of an index folder, its CURRENT pointer, and durable file replacement."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_held = threading.local()  # index folders whose write lock this thread holds (the lock is re-entrant)


def _held_paths() -> set[str]:
    if not hasattr(_held, "paths"):
        _held.paths = set()
    return _held.paths


@contextlib.contextmanager
def write_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the index's cross-process write lock (`flock` on `path/.lock`); yields whether it is held.

    Re-entrant within a thread. With `blocking=False` it yields False at once when another writer holds it.
    """
    key = str(path.resolve())
    held = _held_paths()
    if key in held:
        yield True
        return
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        held.add(key)
        try:
            yield True
        finally:
            held.discard(key)
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_version(path: Path) -> str | None:
    """The version folder `CURRENT` names, or None when there is no index at `path`."""
    try:
        return (path / "CURRENT").read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, text: str) -> None:
    """Replace the file `path` with `text` atomically and durably (a temporary file, fsync, `os.replace`,
    then fsync of the folder), so a crash leaves either the old file or the new one."""
    staging = path.with_name(f".{path.name}.tmp")
    with open(staging, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(staging, path)
    fsync_dir(path.parent)


def set_current(path: Path, version: str) -> None:
    """Make `version` the one the index at `path` serves (the `CURRENT` pointer others watch)."""
    write_durably(path / "CURRENT", version + "\n")
