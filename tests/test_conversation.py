"""Follow-up rewriting: a question that leans on the conversation becomes a standalone question."""

from __future__ import annotations

import pytest

from rag.conversation import focus, is_follow_up, rewrite, unresolved_reference
from rag.pipeline import Pipeline


def turns(*questions: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for q in questions:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": "Some answer [1]."}]
    return out


@pytest.mark.parametrize(
    ("history", "question", "expected"),
    [
        (["what is cainiao?"], "who runs it?", "who runs cainiao?"),
        (["tell me about alicloud"], "what is its market share?", "what is alicloud's market share?"),
        (
            ["how many overseas customers does alibaba have?"],
            "and in europe?",
            "how many overseas customers does alibaba have in europe?",
        ),
        (["what is cainiao?", "who runs it?"], "and in 2021?", "who runs cainiao in 2021?"),
        # "it" after a role of something is the something; after "who runs X" it is X, "he" is not X
        (
            ["who is the head of alibaba cloud?"],
            "how fast is it growing in southeast asia",
            "how fast is alibaba cloud growing in southeast asia",
        ),
        (["who heads the aafa"], "how many brands does it represent", "how many brands does aafa represent"),
        (["who runs alibaba?"], "how old is he?", "who runs alibaba? how old is he?"),
        # partitive and additive follow-ups carry the previous question, however long they are
        (
            ["how many packages did liege airport handle in 2019"],
            "how many of those were alibaba's exactly",
            "how many packages did liege airport handle in 2019? how many of those were alibaba's exactly",
        ),
        (
            ["who hosted the singles day opening concert"],
            "which athlete showed up too?",
            "who hosted the singles day opening concert? which athlete showed up too?",
        ),
    ],
)
def test_follow_ups_are_rewritten_into_standalone_questions(
    history: list[str], question: str, expected: str
) -> None:
    assert rewrite(question, turns(*history)) == expected


def test_a_follow_up_without_a_named_subject_carries_the_previous_question() -> None:
    standalone = rewrite("how big is it?", turns("when did ali start building the liege warehouse?"))
    assert standalone == "when did ali start building the liege warehouse? how big is it?"


def test_standalone_questions_and_first_questions_are_left_alone() -> None:
    assert (
        rewrite("How large is the warehouse at Liège airport?", turns("what is cainiao?"))
        == "How large is the warehouse at Liège airport?"
    )
    assert rewrite("who runs it?", []) == "who runs it?"
    assert rewrite("who runs it?", [{"role": "assistant", "content": "Hello"}]) == "who runs it?"
    assert not is_follow_up("How large is the warehouse at Liège airport?")
    assert is_follow_up("and in europe?") and is_follow_up("why?")
    assert focus("what is cainiao?") == "cainiao" and focus("how big is the warehouse") is None


def test_the_pipeline_answers_the_rewritten_question_and_returns_it(seed_pipeline: Pipeline) -> None:
    answer = seed_pipeline.ask(
        "how many packages did it handle in march 2021?", history=turns("what is cainiao?")
    )
    assert answer.standalone_question == "how many packages did cainiao handle in march 2021?"
    assert answer.question == "how many packages did it handle in march 2021?"
    assert not answer.abstained and "5 million" in answer.answer
    assert seed_pipeline.ask("What is Cainiao?").standalone_question is None


@pytest.mark.parametrize(
    ("question", "unresolved"),
    [
        ("How big is it?", True),
        ("who runs it", True),
        ("what is its revenue?", True),
        ("what does it do", True),
        ("how many overseas customers does it have?", False),  # the customers abroad narrow it to the corpus
        ("how big is the liege warehouse?", False),
        ("what is cainiao?", False),
        ("when did ali start building the liege warehouse? how big is it?", False),  # carried from history
    ],
)
def test_a_pronoun_as_the_only_subject_is_an_unresolved_reference(question: str, unresolved: bool) -> None:
    assert unresolved_reference(question) is unresolved
