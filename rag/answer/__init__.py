"""Answer components: turn retrieved passages into an Answer with `[n]` citations."""

from collections.abc import Iterable

from rag.types import Answer

ABSTAIN_TEXT = "I could not find this in the documents."
RELATED_TEXT = "The documents do not state this directly. These passages are the closest to your question."


def final_answer(items: Iterable[object]) -> Answer:
    """Drain an answer stream (text pieces, then the Answer) and return its final Answer."""
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    if answer is None:
        raise RuntimeError("the answer stream ended without an Answer")
    return answer
