"""Callbacks of the chat page: ask (streaming), upload, list and remove documents; all call the Pipeline directly."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from rag.api.locations import location_words
from rag.errors import InvalidInput, RagError
from rag.pipeline import Pipeline
from rag.types import Answer, Citation, Document
from ui import render, sources

log = logging.getLogger(__name__)

Session = dict[
    str, Any
]  # {"messages": chat messages shown, "turns": plain history, "answers": {index: Answer dump}}


@dataclass(frozen=True)
class Example:
    """A question to click, shown while the document it is about is indexed (always, when `doc_id` is None)."""

    question: str
    doc_id: str | None = None


SEED_EXAMPLES: tuple[Example, ...] = (
    Example("How large is the warehouse at Liège airport?", "2020-alibaba-europe-expansion"),
    Example(
        "Which pop singer hosted the opening concert of Alibaba's Singles Day event?",
        "2016-singles-day-goes-global",
    ),
    Example(
        "Who is the head of the American Apparel and Footwear Association?",
        "2016-counterfeit-notorious-markets-dispute",
    ),
    Example("Who won the 2018 FIFA World Cup?"),  # not in the documents: shows an abstention
)


def new_session() -> Session:
    """An empty conversation."""
    return {"messages": [], "turns": [], "answers": {}}


def user_message(exc: BaseException, doing: str) -> str:
    """A message fit to show a person: a RagError's own text, otherwise a generic line (traceback goes to the log)."""
    if isinstance(exc, RagError):
        return str(exc)
    log.error("page: unexpected error while %s", doing, exc_info=exc)
    return f"Something went wrong while {doing}. The details were written to the server log."


class PageHandlers:
    """The page's event handlers, bound to one Pipeline shared with the API."""

    def __init__(self, pipeline: Pipeline, examples: Sequence[Example] = SEED_EXAMPLES) -> None:
        self.pipeline = pipeline
        self.examples = tuple(examples)

    # ---- chat ------------------------------------------------------------------------------------------
    def locator(self) -> sources.Locate:
        """Where a citation's quote is in its document ("page 3, paragraph 2"), looking each document up once;
        only the page (or nothing) when the document is gone or changed since the answer."""
        documents: dict[str, Document | None] = {}

        def locate(citation: Citation) -> str | None:
            if citation.doc_id not in documents:
                try:
                    documents[citation.doc_id] = self.pipeline.document(citation.doc_id)
                except RagError:
                    documents[citation.doc_id] = None
            document = documents[citation.doc_id]
            if document is None or document.text[citation.start : citation.end] != citation.quote:
                return sources.page_only(citation)
            return location_words(document, citation.start)

        return locate

    def sources_html(self, answer: Answer | dict[str, Any] | None, key: int | None = None) -> str:
        """The sources panel for `answer`, the answer at place `key` of the chat."""
        return sources.sources_html(answer, self.locator(), key)

    def ask(
        self, question: str | None, session: Session | None, top_k: float | None, mode: str | None
    ) -> Iterator[tuple[Any, ...]]:
        """Stream the answer to `question` into the chat; outputs: (question box, chat, session, sources, status)."""
        session = session or new_session()
        messages: list[dict[str, str]] = session["messages"]
        question = (question or "").strip()
        if not question:
            yield (
                gr.skip(),
                gr.skip(),
                session,
                gr.skip(),
                render.message_html("Type a question first.", "error"),
            )
            return
        messages.append({"role": "user", "content": render.escape_markdown(question)})
        messages.append({"role": "assistant", "content": render.partial_markdown("")})
        yield "", list(messages), session, render.message_html("Searching the documents…"), ""
        answer: Answer | None = None
        text = ""
        try:
            k = int(top_k) if top_k is not None else None
            for piece in self.pipeline.ask_stream(
                question, history=list(session["turns"]), top_k=k, mode=mode or None
            ):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    text += piece
                    messages[-1] = {"role": "assistant", "content": render.partial_markdown(text)}
                    yield gr.skip(), list(messages), session, gr.skip(), gr.skip()
            if answer is None:
                raise RuntimeError("the answer stream ended without a final answer")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable message
            message = user_message(exc, "answering the question")
            messages[-1] = {"role": "assistant", "content": render.error_markdown(message)}
            yield gr.skip(), list(messages), session, self.sources_html(None), ""
            return
        key = len(messages) - 1
        messages[-1] = {"role": "assistant", "content": render.answer_markdown(answer, key)}
        session["turns"].extend(
            [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]
        )
        session["answers"][key] = answer.model_dump()
        yield gr.skip(), list(messages), session, self.sources_html(answer, key), ""

    def select(self, session: Session | None, evt: gr.SelectData) -> Any:
        """Show the sources of the answer a person clicked in the chat."""
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        answer = (session or {}).get("answers", {}).get(index)
        return self.sources_html(answer, index) if answer is not None else gr.skip()

    @staticmethod
    def clear() -> tuple[Any, ...]:
        """Start a new conversation; outputs: (chat, session, sources, status)."""
        return [], new_session(), sources.sources_html(None), ""

    # ---- documents -------------------------------------------------------------------------------------
    def _document_outputs(self) -> tuple[Any, ...]:
        """(documents table, remove dropdown, *example buttons) for the current index."""
        records = self.pipeline.documents()
        choices = [(f"{r.title} ({r.doc_id})", r.doc_id) for r in records]
        present = {r.doc_id for r in records}
        buttons = [gr.Button(visible=e.doc_id is None or e.doc_id in present) for e in self.examples]
        return (render.documents_html(records), gr.Dropdown(choices=choices, value=None), *buttons)

    def refresh(self) -> tuple[Any, ...]:
        """Current documents (on page load); outputs: (documents table, dropdown, *example buttons)."""
        try:
            return self._document_outputs()
        except Exception as exc:  # noqa: BLE001
            message = user_message(exc, "listing the documents")
            return (render.message_html(message, "error"), gr.skip(), *[gr.skip() for _ in self.examples])

    def upload(
        self,
        files: Sequence[str] | str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects it
    ) -> tuple[Any, ...]:
        """Index uploaded files at once; outputs: (file box, status, documents table, dropdown, *example buttons)."""
        paths = [files] if isinstance(files, str) else list(files or [])
        if not paths:
            return (
                None,
                render.message_html("Choose one or more files to upload.", "error"),
                *self._document_outputs(),
            )
        added: list[str] = []
        failed: list[str] = []
        limit = self.pipeline.settings.max_upload_bytes
        for i, path in enumerate(paths):
            name = Path(path).name
            progress((i, len(paths)), desc=f"Indexing {name}")
            try:
                size = Path(path).stat().st_size
                if size > limit:
                    raise InvalidInput(f"{name} is {size:,} bytes; the upload limit is {limit:,} bytes")
                doc = self.pipeline.add_file(name, Path(path).read_bytes())
                added.append(f"{doc.title} ({doc.doc_id})")
            except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
                failed.append(user_message(exc, f"indexing {name}"))
        lines = []
        if added:
            lines.append(
                render.message_html("Indexed: " + "; ".join(added) + ". You can ask about it now.", "ok")
            )
        lines.extend(render.message_html(f"Not indexed: {m}", "error") for m in failed)
        return (None, "".join(lines), *self._document_outputs())

    def ask_remove(self, doc_id: str | None) -> tuple[Any, ...]:
        """Ask before removing: show the confirmation naming the chosen document; outputs: (pending removal,
        confirmation box, its question, status)."""
        if not doc_id:
            error = render.message_html("Choose a document to remove.", "error")
            return None, gr.Column(visible=False), "", error
        try:
            record = next((r for r in self.pipeline.documents() if r.doc_id == doc_id), None)
        except Exception as exc:  # noqa: BLE001
            error = render.message_html(user_message(exc, "listing the documents"), "error")
            return None, gr.Column(visible=False), "", error
        if record is None:
            error = render.message_html(f"{doc_id} is no longer indexed.", "error")
            return None, gr.Column(visible=False), "", error
        question = render.confirm_html(record.title, record.doc_id, record.chunks)
        return doc_id, gr.Column(visible=True), question, ""

    @staticmethod
    def cancel_remove(doc_id: str | None) -> tuple[Any, ...]:
        """Keep the document; outputs: (pending removal, confirmation box, its question, status)."""
        status = render.message_html(f"Kept {doc_id}: nothing was removed.", "info") if doc_id else ""
        return None, gr.Column(visible=False), "", status

    def remove(self, doc_id: str | None) -> tuple[Any, ...]:
        """Remove the confirmed document from the index; outputs: (pending removal, confirmation box, its
        question, status, documents table, dropdown, *example buttons)."""
        hidden = (None, gr.Column(visible=False), "")
        if not doc_id:
            error = render.message_html("Choose a document to remove.", "error")
            return (*hidden, error, *self._document_outputs())
        try:
            self.pipeline.delete_document(doc_id)
            status = render.message_html(f"Removed {doc_id}.", "ok")
        except Exception as exc:  # noqa: BLE001
            status = render.message_html(user_message(exc, f"removing {doc_id}"), "error")
        return (*hidden, status, *self._document_outputs())
