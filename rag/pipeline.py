"""The Pipeline: one object that indexes documents and answers questions for the CLI, API, page and evaluator."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.answer import final_answer
from rag.answer.answerability import Decision, build_answerability
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.answer.responder import Responder
from rag.conversation import Turn, rewrite
from rag.documents import load_bytes, load_text
from rag.embedding import Embedder
from rag.errors import DocumentNotFound
from rag.indexing import IndexReport, index_paths
from rag.llm import make_llm
from rag.parsing import ParseLimits
from rag.progress import IndexProgress
from rag.query_batcher import QueryBatcher
from rag.retrieval import HybridRetriever, Retrieval
from rag.settings import AnswerMode, Settings
from rag.snapshot import SnapshotHolder
from rag.stages import answered, timed
from rag.stores import ChunkingConfig, DocumentRecord, Store, UpdateStats
from rag.types import Answer, Document, Passage
from rag.validation import check_mode, check_question, check_top_k

log = logging.getLogger(__name__)


class Pipeline:
    """The facade the CLI, API, page and evaluator share: each verb delegates to a named part.

    Parts: `embedder` (the model, loaded once), `holder` (the index snapshot: loading, following commits made
    elsewhere, committing under the cross-process lock; see rag.snapshot), `retriever` (hybrid search over the
    snapshot's Store) and `responder` (answerability decision, then an extractive or generative answer).
    """

    # When serving (rag serve), single-question embeddings go through this micro-batcher; None = direct calls.
    query_batcher: QueryBatcher | None = None

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or Embedder(
            self.settings.model_path, self.settings.embed_batch_size, self.settings.encode_processes
        )
        self.retriever = HybridRetriever(
            self.embedder,
            candidates=self.settings.candidates,
            rrf_k=self.settings.rrf_k,
            dense_weight=self.settings.dense_weight,
            bm25_weight=self.settings.bm25_weight,
            fusion=self.settings.fusion,
        )
        self.responder = Responder(
            build_answerability(self.settings),
            ExtractiveAnswerer(self.settings.max_answer_sentences),
            GenerativeAnswerer(
                make_llm(self.settings), prompt_chars=self.settings.llm_prompt_chars
            ),  # loads nothing
            self.embedder,
        )
        self.holder = SnapshotHolder(self.settings, self.embedder)

    # ---- index state ---------------------------------------------------------------------------------
    @property
    def index_name(self) -> str:
        """Name of the index this pipeline serves."""
        return self.holder.index_name

    @property
    def path(self) -> Path:
        """Folder of this pipeline's index."""
        return self.holder.path

    @property
    def chunking(self) -> ChunkingConfig:
        """Chunking configured in the settings."""
        return self.holder.chunking

    def reload(self) -> None:
        """(Re)load the index from disk if one exists; a missing index leaves the pipeline empty."""
        self.holder.reload()

    @property
    def data(self) -> Store:
        """The current snapshot, checked to match the loaded model; raises IndexUnavailable otherwise."""
        return self.holder.current()

    @property
    def loaded(self) -> bool:
        """True when an index is loaded and matches the model."""
        return self.holder.loaded

    # ---- writing -------------------------------------------------------------------------------------
    def index(
        self,
        paths: Sequence[Path] = (),
        *,
        rebuild: bool = False,
        progress: bool | IndexProgress = False,
        embed_sentences: bool = True,
    ) -> IndexReport:
        """Sync the index with the files under `paths` (default: the paths it was built from, or the corpus).

        New and changed files are embedded; files gone from those paths are removed; unchanged ones cost nothing.
        Unreadable files are reported in the result and skipped. `progress`: True shows the embedding model's
        progress bars; an IndexProgress is told the files read and the texts embedded as it goes.
        The documents are committed `index_batch_size` at a time, so a run that is killed keeps what it
        committed and a rerun embeds only the rest; a `rebuild` of an existing index commits once, at the end
        (the old index serves until then).
        """
        return index_paths(
            self.holder, paths, rebuild=rebuild, progress=progress, embed_sentences=embed_sentences
        )

    def add_file(self, name: str, content: bytes, *, title: str | None = None) -> Document:
        """Index an uploaded file (replacing a document of the same id); raises on unsupported/unreadable files."""
        doc = load_bytes(
            name,
            content,
            title=title,
            source=f"upload:{name}",
            limits=ParseLimits.from_settings(self.settings),
        )
        self.add_documents([doc])
        return doc

    def add_text(self, text: str, title: str, doc_id: str | None = None) -> Document:
        """Index a document given as plain text."""
        doc = load_text(text, title, doc_id=doc_id, source=f"text:{title}")
        self.add_documents([doc])
        return doc

    def add_documents(
        self, docs: list[Document], *, progress: bool = False, embed_sentences: bool = True
    ) -> UpdateStats:
        """Add or replace documents and persist the index (unchanged documents cost nothing)."""
        return self.holder.commit(docs, [], progress=progress, embed_sentences=embed_sentences)[0]

    def delete_document(self, doc_id: str) -> None:
        """Remove a document and its vectors; raises DocumentNotFound for an unknown id."""
        self.holder.refresh(force=True)
        data = self.holder.snapshot
        if data is None or doc_id not in data.documents:
            raise DocumentNotFound(f"no document with id {doc_id!r} in index {self.index_name!r}")
        self.holder.commit([], [doc_id])

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until the index's background work (approximate index builds) is saved; False on timeout."""
        data = self.holder.snapshot
        return data is None or data.settle(timeout)

    def close(self) -> None:
        """Stop the embedder's encoding processes (RAG_ENCODE_PROCESSES), if any were started."""
        self.embedder.close()

    # ---- reading -------------------------------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        """The indexed documents' manifest records, sorted by id."""
        self.holder.refresh()
        data = self.holder.snapshot
        return [] if data is None else [data.records[d] for d in sorted(data.records)]

    def document(self, doc_id: str) -> Document:
        """One indexed document (cleaned text); raises DocumentNotFound."""
        data = self.data
        if doc_id not in data.documents:
            raise DocumentNotFound(f"no document with id {doc_id!r} in index {self.index_name!r}")
        return data.documents[doc_id]

    def _question(self, question: str) -> str:
        return check_question(question, self.settings.max_question_chars)

    def _top_k(self, top_k: int | None) -> int:
        return check_top_k(top_k, self.settings.top_k)

    def search(
        self, query: str, top_k: int | None = None, history: Sequence[Turn] | None = None
    ) -> list[Passage]:
        """The best passages for `query` (no answer)."""
        return self.retrieve(query, top_k, history).passages

    def retrieve(
        self, query: str, top_k: int | None = None, history: Sequence[Turn] | None = None
    ) -> Retrieval:
        """The retrieval for `query` (a follow-up is first rewritten from `history`): passages and query vector."""
        query = rewrite(self._question(query), history)
        return self._retrieve(self.data, query, self._top_k(top_k))

    def retrieve_many(self, queries: Sequence[str], top_k: int | None = None) -> list[Retrieval]:
        """`retrieve` for many standalone queries, their embeddings computed in one batch."""
        data, k = self.data, self._top_k(top_k)
        checked = [self._question(q) for q in queries]
        with timed("embed"):
            vectors = self.embedder.embed(checked)
        with timed("search"):
            return [self.retriever.run(data, q, k, query_vector=v) for q, v in zip(checked, vectors)]

    def rank(self, query: str, n: int, query_vector: np.ndarray | None = None) -> list[Passage]:
        """The `n` best passages for a standalone query, with no question or top-k limits (for benchmarks
        such as BEIR, which rank deeper than an answer needs); `query_vector` skips embedding it again."""
        if query_vector is None:
            query_vector = self.embedder.embed_query(query)
        return self.retriever.run(self.data, query, max(1, n), query_vector=query_vector).passages

    def assess(
        self, question: str, history: Sequence[Turn] | None = None, top_k: int | None = None
    ) -> tuple[str, Retrieval, Decision]:
        """The standalone question, its retrieval and the answerability decision (with every candidate's
        features and probability): what `ask` decides before composing, for evaluation and training."""
        question = rewrite(self._question(question), history)
        data = self.data
        retrieval = self._retrieve(data, question, self._top_k(top_k))
        return question, retrieval, self.responder.decide(question, retrieval, data)

    def derived(self, upsert: Sequence[Document] = (), remove: Sequence[str] = ()) -> Pipeline:
        """A read-only pipeline over this index with `upsert` added and `remove` dropped, kept in memory only
        (nothing is saved): for what-if evaluation such as removing the sentences that hold an answer."""
        clone = copy.copy(self)
        clone.holder = self.holder.derived(upsert, remove)
        return clone

    def _retrieve(self, data: Store, query: str, top_k: int) -> Retrieval:
        """Embed the query, then search the index; each step is timed as its stage (rag.stages)."""
        batcher = self.query_batcher
        with timed("embed"):
            vector = (batcher or self.embedder).embed_query(query)
        with timed("search"):
            return self.retriever.run(data, query, top_k, query_vector=vector)

    def _prepare(
        self, question: str, history: Sequence[Turn] | None, top_k: int | None, mode: AnswerMode | str | None
    ) -> tuple[str, str, AnswerMode, Store, Retrieval]:
        question = self._question(question)
        mode = check_mode(mode, self.settings.answer_mode)
        data = self.data
        query = rewrite(question, history)
        return question, query, mode, data, self._retrieve(data, query, self._top_k(top_k))

    def ask(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        top_k: int | None = None,
        mode: AnswerMode | str | None = None,
        *,
        extra_system: str | None = None,
        max_tokens: int | None = None,
    ) -> Answer:
        """Answer `question` (a follow-up is first rewritten from `history`), citing passages as `[n]`.

        Generative mode only: `extra_system` is appended to the grounding rules of the prompt (never replacing
        them) and `max_tokens` lowers the model's limit on new tokens (RAG_MAX_NEW_TOKENS) for this answer.
        """
        return final_answer(
            self.ask_stream(question, history, top_k, mode, extra_system=extra_system, max_tokens=max_tokens)
        )

    def ask_stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        top_k: int | None = None,
        mode: AnswerMode | str | None = None,
        *,
        extra_system: str | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str | Answer]:
        """Like `ask` (same options), but yields the answer text in pieces as produced, then the final Answer.

        Input is validated before the first piece, so errors surface as exceptions, not mid-stream.
        The pieces concatenate to the final `Answer.answer`.
        """
        started = time.perf_counter()
        question, query, mode, data, retrieval = self._prepare(question, history, top_k, mode)

        def pieces() -> Iterator[str | Answer]:
            for item in self.responder.stream(
                mode, query, retrieval, data, extra_system=extra_system, max_tokens=max_tokens
            ):
                if isinstance(item, Answer):
                    item.question = question
                    item.standalone_question = query if query != question else None
                    item.latency_ms = round((time.perf_counter() - started) * 1000, 2)
                    answered(item.mode, item.abstained)  # for /metrics (rag.stages)
                yield item

        return pieces()
