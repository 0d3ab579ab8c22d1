"""Stage timings (embed, search, answer, generate) and answers of the Pipeline, told to observers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
Observer = Callable[[str, float], None]

# embed: the question's embedding; search: hybrid retrieval over the index; answer: the extractive answer;
# generate: the generative answer (language model and citation verification), time spent producing it only.
STAGES = ("embed", "search", "answer", "generate")

_observers: list[Observer] = []
_lock = threading.RLock()  # re-entrant: a remover may run from a finalizer while the lock is held


def add_observer(observer: Observer) -> Callable[[], None]:
    """Call `observer(stage, seconds)` after each timed stage (in the thread that ran it); returns remover."""
    with _lock:
        _observers.append(observer)

    def remove() -> None:
        with _lock:
            if observer in _observers:
                _observers.remove(observer)

    return remove


def _report(stage: str, seconds: float) -> None:
    for observer in tuple(_observers):
        observer(stage, seconds)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Time the enclosed block as `stage` (also when it raises) and report it to the observers."""
    started = time.perf_counter()
    try:
        yield
    finally:
        if _observers:
            _report(stage, time.perf_counter() - started)


def timed_iter(stage: str, items: Iterator[T]) -> Iterator[T]:
    """`items`, reporting as `stage` the time spent producing them (not the time the consumer held them)."""
    spent = 0.0
    try:
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                spent += time.perf_counter() - started
                return
            spent += time.perf_counter() - started
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
        if _observers:
            _report(stage, spent)


AnswerObserver = Callable[[str, bool], None]
_answer_observers: list[AnswerObserver] = []


def add_answer_observer(observer: AnswerObserver) -> Callable[[], None]:
    """Call `observer(mode, abstained)` for every answer the Pipeline gives; returns a remover."""
    with _lock:
        _answer_observers.append(observer)

    def remove() -> None:
        with _lock:
            if observer in _answer_observers:
                _answer_observers.remove(observer)

    return remove


def answered(mode: str, abstained: bool) -> None:
    """Tell the answer observers that an answer in `mode` was given (or the question abstained)."""
    for observer in tuple(_answer_observers):
        observer(mode, abstained)
