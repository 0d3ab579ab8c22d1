"""The Pipeline: one object that indexes documents and answers questions for the CLI, API, page and evaluator."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.answer import final_answer
from rag.answer.answerability import MODEL_PATH, Answerability, AnswerabilityModel, Decision
from rag.answer.extractive import ExtractiveAnswerer
from rag.answer.generative import GenerativeAnswerer
from rag.answer.responder import Responder
from rag.conversation import Turn, rewrite
from rag.documents import iter_files, load_bytes, load_paths, load_text
from rag.embedding import Embedder, QueryBatcher
from rag.errors import DocumentNotFound, IndexUnavailable, InvalidInput
from rag.ingest import plan, prepare, record_for
from rag.llm import make_llm
from rag.parsing import ParseLimits
from rag.progress import EmbedFn, IndexProgress, reporting_embed
from rag.retrieval import HybridRetriever, Retrieval
from rag.settings import AnswerMode, Settings
from rag.stages import answered, timed
from rag.stores import (
    ChunkingConfig,
    DocumentRecord,
    PreparedDocument,
    Store,
    UpdateStats,
    current_version,
    empty_store,
    load_store,
    write_lock,
)
from rag.types import Answer, Document, Passage

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """Outcome of indexing paths: what changed, and the files that could not be read."""

    stats: UpdateStats
    failures: list[tuple[str, str]] = field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    seconds: float = 0.0
    rebuilt: bool = False


class _Cumulative:
    """An IndexProgress for a run committed in batches: embedding counts add up over the batches."""

    def __init__(self, inner: IndexProgress) -> None:
        self.inner = inner
        self.before: dict[str, int] = {}

    def reading(self, files: int) -> None:
        self.inner.reading(files)

    def read(self, documents: int, failures: int) -> None:
        self.inner.read(documents, failures)

    def embedding(self, kind: str, done: int, total: int) -> None:
        before = self.before.get(kind, 0)
        self.inner.embedding(kind, before + done, before + total)
        if done >= total:
            self.before[kind] = before + total


class Pipeline:
    """Loads the embedding model once, holds the current index snapshot, and answers questions.

    Readers take the current snapshot reference once per call; writers build a new snapshot, save it
    atomically, then swap the reference, so a concurrent reader never sees a half-updated index.
    Writers in every process serialise on the index's lock file and build on the newest committed version;
    readers pick up commits made elsewhere (another process, another Pipeline) within
    `index_refresh_seconds`.
    """

    # When serving (rag serve), single-question embeddings go through this micro-batcher; None = direct calls.
    query_batcher: QueryBatcher | None = None

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or Settings()
        self.embedder = embedder or Embedder(self.settings.model_path, self.settings.embed_batch_size)
        self.retriever = HybridRetriever(
            self.embedder,
            candidates=self.settings.candidates,
            rrf_k=self.settings.rrf_k,
            dense_weight=self.settings.dense_weight,
            bm25_weight=self.settings.bm25_weight,
            fusion=self.settings.fusion,
        )
        model = AnswerabilityModel.load(self.settings.answerability_model or MODEL_PATH)
        self.responder = Responder(
            Answerability(model, self.settings.answer_threshold, self.settings.related_threshold),
            ExtractiveAnswerer(self.settings.max_answer_sentences),
            GenerativeAnswerer(
                make_llm(self.settings), prompt_chars=self.settings.llm_prompt_chars
            ),  # loads nothing
            self.embedder,
        )
        self._data: Store | None = None
        self._version: str | None = None  # the version folder `_data` was loaded from or saved as
        self._checked = 0.0  # time.monotonic() of the last look at CURRENT (`_refresh`)
        self._follow_disk = True  # False for `derived` pipelines, which live in memory only
        self._write_lock = threading.Lock()
        self.reload()

    # ---- index state ---------------------------------------------------------------------------------
    @property
    def index_name(self) -> str:
        """Name of the index this pipeline serves."""
        return self.settings.index_name

    @property
    def path(self) -> Path:
        """Folder of this pipeline's index."""
        return self.settings.index_path

    @property
    def chunking(self) -> ChunkingConfig:
        """Chunking configured in the settings."""
        return ChunkingConfig(self.settings.chunk_size, self.settings.chunk_overlap)

    def reload(self) -> None:
        """(Re)load the index from disk if one exists; a missing index leaves the pipeline empty."""
        version = current_version(self.path)
        self._data = load_store(self.settings, self.path, self._data) if version is not None else None
        self._version = version
        self._checked = time.monotonic()

    def _refresh(self, *, force: bool = False) -> None:
        """Load the newest committed version when another process (or Pipeline) has committed since this one
        loaded; looks at CURRENT at most every `index_refresh_seconds` unless `force`. Skipped while this
        pipeline is writing (its commit brings the newest version). A newer version that cannot be read is
        logged and the snapshot held now is kept."""
        if not self._follow_disk:
            return
        if not force and time.monotonic() - self._checked < self.settings.index_refresh_seconds:
            return
        if not self._write_lock.acquire(blocking=False):
            return
        try:
            for _ in range(3):
                version = current_version(self.path)
                self._checked = time.monotonic()
                if version == self._version:
                    return
                try:
                    self.reload()
                    return
                except IndexUnavailable as exc:
                    if current_version(self.path) != version:
                        continue  # replaced (and its folder pruned) while being read: read the newer one
                    log.warning("index %r changed on disk but cannot be read: %s", self.index_name, exc)
                    self._version = version
                    return
        finally:
            self._write_lock.release()

    def _compatible(self, data: Store) -> bool:
        return data.model_id == self.embedder.model_id and data.dimension == self.embedder.dimension

    @property
    def data(self) -> Store:
        """The current snapshot, checked to match the loaded model; raises IndexUnavailable otherwise."""
        self._refresh()
        data = self._data
        if data is None:
            raise IndexUnavailable(
                f"no index named {self.index_name!r} in {self.settings.index_dir}/; "
                f"build it with: rag index --index {self.index_name} PATHS"
            )
        if not self._compatible(data):
            raise IndexUnavailable(
                f"index {self.index_name!r} was built with model {data.model_id!r} (dimension {data.dimension}) "
                f"but the configured model is {self.embedder.model_id!r} (dimension {self.embedder.dimension}); "
                f"rebuild it with: rag index --index {self.index_name} --rebuild"
            )
        return data

    @property
    def loaded(self) -> bool:
        """True when an index is loaded and matches the model."""
        return self._data is not None and self._compatible(self._data)

    def _base(self, rebuild: bool) -> tuple[Store, bool]:
        data = self._data
        if (
            data is not None
            and not rebuild
            and (not self._compatible(data) or data.chunking != self.chunking)
        ):
            log.warning(
                "index %r was built with other model or chunking settings: rebuilding it", self.index_name
            )
            rebuild = True
        if data is None or rebuild:
            store = empty_store(self.settings, self.embedder.model_id, self.embedder.dimension, self.chunking)
            return store, rebuild
        return data, False

    def _commit(
        self,
        upsert: list[Document],
        remove: list[str],
        *,
        rebuild: bool = False,
        roots: list[str] | None = None,
        progress: bool | IndexProgress = False,
        embed_sentences: bool = True,
    ) -> tuple[UpdateStats, bool]:
        embed = self.embedder.embed
        if not isinstance(progress, bool):  # an IndexProgress: embed in batches and tell it after each
            embed, progress = reporting_embed(embed, progress, max(64, self.embedder.batch_size)), False
        # Serialise with writers in this process (thread lock) and in others (lock file), and build on the
        # newest committed version: another process may have committed since this one loaded.
        with self._write_lock, write_lock(self.path):
            if self._follow_disk and current_version(self.path) != self._version:
                try:
                    self.reload()
                except IndexUnavailable:
                    if not rebuild:
                        raise
                    self._data, self._version = None, current_version(self.path)
            base, rebuilt = self._base(rebuild)
            new, stats, relabelled = _updated(base, upsert, remove, embed, roots, progress, embed_sentences)
            if stats.modified or relabelled or rebuilt or self._data is None or new.roots != base.roots:
                self._version = new.save(self.path)
                self._data = new
            self._checked = time.monotonic()
            return stats, rebuilt

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
        started = time.perf_counter()
        self._refresh(force=True)
        roots = [Path(p) for p in paths]
        if not roots:
            previous = self._data.roots if self._data is not None else []
            roots = [Path(r) for r in previous] or [self.settings.corpus_dir]
        missing = [str(r) for r in roots if not r.exists()]
        if missing:
            raise InvalidInput(f"no such file or folder: {', '.join(missing)}")
        reporter = None if isinstance(progress, bool) else progress
        if reporter is not None:
            reporter.reading(len(iter_files(roots)))
        loaded = load_paths(roots, ParseLimits.from_settings(self.settings))
        if reporter is not None:
            reporter.read(len(loaded.documents), len(loaded.failures))
        if not loaded.documents:
            detail = f" ({len(loaded.failures)} unreadable)" if loaded.failures else ""
            raise InvalidInput(
                f"no readable documents under {', '.join(map(str, roots))}{detail}; index left as it was"
            )
        resolved = [str(r.resolve()) for r in roots]
        current = self._data
        stale: list[str] = []
        if current is not None and not rebuild:
            found = {d.doc_id for d in loaded.documents}
            failed = {str(Path(f).resolve()) for f, _ in loaded.failures}
            for doc_id, record in current.records.items():
                under = any(
                    record.source == r or record.source.startswith(r.rstrip("/") + "/") for r in resolved
                )
                if under and doc_id not in found and record.source not in failed:
                    stale.append(doc_id)
        docs = loaded.documents
        size = len(docs) if rebuild and current is not None else self.settings.index_batch_size
        batch_progress = progress if reporter is None else _Cumulative(reporter)
        stats, rebuilt = UpdateStats(), False
        for start in range(0, len(docs), size):
            batch, first = docs[start : start + size], start == 0
            done, rebuilt_now = self._commit(
                batch,
                stale if first else [],
                rebuild=rebuild and first,
                roots=resolved,
                progress=batch_progress,
                embed_sentences=embed_sentences,
            )
            rebuilt = rebuilt or rebuilt_now
            for name in ("added", "changed", "removed", "unchanged"):
                getattr(stats, name).extend(getattr(done, name))
            stats.embedded_chunks += done.embedded_chunks
            stats.embedded_sentences += done.embedded_sentences
        data = self.data
        return IndexReport(
            stats=stats,
            failures=loaded.failures,
            documents=len(data.documents),
            chunks=data.chunk_count,
            seconds=time.perf_counter() - started,
            rebuilt=rebuilt,
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
        return self._commit(docs, [], progress=progress, embed_sentences=embed_sentences)[0]

    def delete_document(self, doc_id: str) -> None:
        """Remove a document and its vectors; raises DocumentNotFound for an unknown id."""
        self._refresh(force=True)
        with self._write_lock:
            data = self._data
            if data is None or doc_id not in data.documents:
                raise DocumentNotFound(f"no document with id {doc_id!r} in index {self.index_name!r}")
        self._commit([], [doc_id])

    # ---- reading -------------------------------------------------------------------------------------
    def documents(self) -> list[DocumentRecord]:
        """The indexed documents' manifest records, sorted by id."""
        self._refresh()
        data = self._data
        return [] if data is None else [data.records[d] for d in sorted(data.records)]

    def document(self, doc_id: str) -> Document:
        """One indexed document (cleaned text); raises DocumentNotFound."""
        data = self.data
        if doc_id not in data.documents:
            raise DocumentNotFound(f"no document with id {doc_id!r} in index {self.index_name!r}")
        return data.documents[doc_id]

    def check_question(self, question: str) -> str:
        """The question stripped; raises InvalidInput when empty or longer than the limit."""
        if not isinstance(question, str) or not question.strip():
            raise InvalidInput("the question is empty")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InvalidInput(f"the question is {len(question)} characters long; the limit is {limit}")
        return question.strip()

    def _top_k(self, top_k: int | None) -> int:
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= 100:
            raise InvalidInput("top_k must be between 1 and 100")
        return k

    def search(
        self, query: str, top_k: int | None = None, history: Sequence[Turn] | None = None
    ) -> list[Passage]:
        """The best passages for `query` (no answer)."""
        return self.retrieve(query, top_k, history).passages

    def retrieve(
        self, query: str, top_k: int | None = None, history: Sequence[Turn] | None = None
    ) -> Retrieval:
        """The retrieval for `query` (a follow-up is first rewritten from `history`): passages and query vector."""
        query = rewrite(self.check_question(query), history)
        return self._retrieve(self.data, query, self._top_k(top_k))

    def retrieve_many(self, queries: Sequence[str], top_k: int | None = None) -> list[Retrieval]:
        """`retrieve` for many standalone queries, their embeddings computed in one batch."""
        data, k = self.data, self._top_k(top_k)
        checked = [self.check_question(q) for q in queries]
        with timed("embed"):
            vectors = self.embedder.embed(checked)
        with timed("search"):
            return [self.retriever.run(data, q, k, query_vector=v) for q, v in zip(checked, vectors)]

    def assess(
        self, question: str, history: Sequence[Turn] | None = None, top_k: int | None = None
    ) -> tuple[str, Retrieval, Decision]:
        """The standalone question, its retrieval and the answerability decision (with every candidate's
        features and probability): what `ask` decides before composing, for evaluation and training."""
        question = rewrite(self.check_question(question), history)
        data = self.data
        retrieval = self._retrieve(data, question, self._top_k(top_k))
        return question, retrieval, self.responder.decide(question, retrieval, data)

    def derived(self, upsert: Sequence[Document] = (), remove: Sequence[str] = ()) -> Pipeline:
        """A read-only pipeline over this index with `upsert` added and `remove` dropped, kept in memory only
        (nothing is saved): for what-if evaluation such as removing the sentences that hold an answer."""
        new = _updated(self.data, upsert, remove, self.embedder.embed, None, False, True)[0]
        clone = copy.copy(self)
        clone._data = new
        clone._follow_disk = False
        clone._write_lock = threading.Lock()
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
        question = self.check_question(question)
        try:
            mode = AnswerMode(mode or self.settings.answer_mode)
        except ValueError:
            raise InvalidInput(
                f"unknown answer mode {mode!r}; use one of: {', '.join(m.value for m in AnswerMode)}"
            ) from None
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


def _updated(
    base: Store,
    upsert: Sequence[Document],
    remove: Sequence[str],
    embed: EmbedFn,
    roots: list[str] | None,
    progress: bool,
    embed_sentences: bool,
) -> tuple[Store, UpdateStats, bool]:
    """`base` with `upsert` and `remove` applied, embedding only new text: the new snapshot, what changed,
    and whether records changed without new text (a new source or metadata)."""
    todo = plan(base.records, upsert, remove)
    fresh = prepare(todo.fresh, base.chunking, embed, embed_sentences=embed_sentences, progress=progress)
    todo.stats.embedded_chunks = sum(len(p.chunks) for p in fresh)
    todo.stats.embedded_sentences = sum(len(p.sentence_spans) for p in fresh) if embed_sentences else 0
    moved = [_relabelled(base.export(doc.doc_id), doc) for doc in todo.relabelled]
    new = base.update(upsert=[*fresh, *moved], remove=todo.remove, roots=roots)
    return new, todo.stats, bool(moved)


def _relabelled(stored: PreparedDocument, doc: Document) -> PreparedDocument:
    """A stored document with the new source and metadata of `doc` (same text: its vectors are kept)."""
    return PreparedDocument(
        document=doc,
        record=record_for(doc, len(stored.chunks)),
        chunks=stored.chunks,
        chunk_vectors=stored.chunk_vectors,
        sentence_spans=stored.sentence_spans,
        sentence_vectors=stored.sentence_vectors,
    )
