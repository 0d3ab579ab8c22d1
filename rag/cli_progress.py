"""What `rag index` shows while it runs: files read and texts embedded, as bars with an ETA on a terminal."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class IndexBars:
    """An IndexProgress (rag.progress) for the command line.

    On a terminal: one bar per step (reading files, embedding chunks, embedding sentences) with counts,
    elapsed time and the estimated time left. Elsewhere (a pipe, a log file): one plain line when each step
    starts and ends, so logs stay readable.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.bars = Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}
        self.started: dict[str, float] = {}

    def __enter__(self) -> Self:
        if self.live:
            self.bars.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live:
            self.bars.stop()

    def _step(self, name: str, unit: str, done: int, total: int) -> None:
        if self.live:
            if name not in self.tasks:
                self.tasks[name] = self.bars.add_task(name, total=total, unit=unit)
            self.bars.update(self.tasks[name], completed=done, total=total)
            return
        if name not in self.started:
            self.started[name] = time.perf_counter()
            self.console.print(f"{name}: {total} {unit}", highlight=False)
        elif done >= total:
            took = time.perf_counter() - self.started[name]
            self.console.print(f"{name}: {done}/{total} {unit} done in {took:.1f}s", highlight=False)

    def reading(self, files: int) -> None:
        """`files` files are about to be read."""
        self._step("reading files", "files", 0, files)

    def read(self, documents: int, failures: int) -> None:
        """Reading is done."""
        unit = f"files ({failures} unreadable)" if failures else "files"
        if self.live and "reading files" in self.tasks:
            self.bars.update(self.tasks["reading files"], unit=unit)
        self._step("reading files", unit, documents + failures, documents + failures)

    def embedding(self, kind: str, done: int, total: int) -> None:
        """`done` of `total` texts of `kind` are embedded."""
        if total:
            self._step(f"embedding {kind}", kind, done, total)
