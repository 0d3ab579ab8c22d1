"""One settings object for every surface (CLI, API, page, evaluator), read from RAG_* environment variables."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class AnswerMode(str, Enum):
    """How an answer is produced from the retrieved passages."""

    extractive = "extractive"
    generative = "generative"


class LLMBackend(str, Enum):
    """Where generative answers come from."""

    openai = (
        "openai"  # any OpenAI-compatible chat-completions server: Ollama, vLLM, llama.cpp, LM Studio, OpenAI
    )
    local = "local"  # a transformers model run in-process from a GGUF file or model folder


def _bundled_llm() -> str | None:
    from rag.llm.local import bundled_model_path

    return bundled_model_path()


class FusionMethod(str, Enum):
    """How the dense and BM25 rankings are combined."""

    convex = "convex"  # weighted sum of min-max normalised scores
    rrf = "rrf"  # weighted reciprocal-rank fusion


class StoreBackend(str, Enum):
    """Where the index lives."""

    embedded = "embedded"  # FAISS + BM25 segments in index/<name>/ (no server)
    milvus = "milvus"  # a Milvus Lite file or a Milvus server/cluster (RAG_MILVUS_URI)


class Settings(BaseSettings):
    """All tunables, each overridable as RAG_<NAME> (e.g. RAG_TOP_K=8, RAG_INDEX_NAME=notes)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    # Where things live.
    index_dir: Path = Field(Path("index"), description="Folder holding one sub-folder per named index.")
    index_name: str = Field("seed", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Index to use.")
    corpus_dir: Path = Field(
        Path("corpus"), description="Documents indexed by default into the default index."
    )

    # Index backend.
    store: StoreBackend = Field(StoreBackend.embedded, description="Index backend: embedded or milvus.")
    milvus_uri: str | None = Field(
        None,
        description="RAG_STORE=milvus: a local file (Milvus Lite, in-process) or a server such as "
        "http://host:19530; empty = <index_dir>/milvus.db.",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Milvus server credentials (user:password or token)."
    )
    ann_min_chunks: int = Field(
        50_000,
        ge=0,
        le=1_000_000_000,
        description="Segments with at least this many chunks get an approximate (HNSW) index; smaller ones "
        "are searched exactly. 0 = always exact. Chosen with bench/scale.py (README, Index layer: scale and "
        "ingestion): HNSW kept recall@10 at 1.00 (10k) and 0.95 (100k) at under 1 ms, while exact search "
        "grows with the rows; 50,000 keeps SciFact-size indexes (20,449 chunks) exact.",
    )

    # Embedding.
    model_path: str | None = Field(
        None, description="Local sentence-transformers model folder; empty = bundled all-MiniLM-L6-v2."
    )
    embed_batch_size: int = Field(32, ge=1, le=1024)
    encode_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes that encode large indexing batches, each with its share of the cores (sentence-"
        "transformers' multi-process pool); 1 = encode in this process with all cores (README: Ingestion).",
    )
    query_batch_window_ms: float = Field(
        3.0,
        ge=0.0,
        le=1000.0,
        description="When serving: how long the first waiting question's embedding waits for others to join "
        "its batch (one model call for all of them); 0 = take only those already waiting.",
    )
    query_batch_max: int = Field(
        64, ge=1, le=1024, description="When serving: most question embeddings computed in one model call."
    )

    # Chunking.
    chunk_size: int = Field(600, ge=100, le=8000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(1, ge=0, le=5, description="Sentences shared by neighbouring chunks.")

    # Indexing and sharing an index between processes.
    index_batch_size: int = Field(
        256,
        ge=1,
        le=1_000_000,
        description="Documents `rag index` embeds between commits: a killed build resumes from the last one.",
    )
    index_refresh_seconds: float = Field(
        1.0,
        ge=0.0,
        le=3600,
        description="How often (at most) a running server checks the index for commits by other processes.",
    )

    # Retrieval.
    top_k: int = Field(5, ge=1, le=50, description="Passages handed to the answer component.")
    candidates: int = Field(
        1000,
        ge=10,
        le=2000,
        description="Hits taken from each retriever before fusion "
        "(1000: best on BEIR SciFact train; costs little with exact search).",
    )
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(1.0, ge=0.0, le=10.0)
    bm25_weight: float = Field(1.0, ge=0.0, le=10.0)
    fusion: FusionMethod = Field(
        FusionMethod.convex,
        description="convex = weighted sum of min-max normalised "
        "scores; rrf = weighted reciprocal-rank fusion (uses rrf_k).",
    )

    # Answering.
    answer_mode: AnswerMode = AnswerMode.extractive
    answer_threshold: float = Field(
        0.43,  # `rag train-answerability`: best balanced accuracy on its training questions (never the test split)
        ge=0.0,
        le=1.0,
        description="Confidence (0..1) from which a question counts as answered; below it no claim is made. "
        "Unset: the threshold chosen when the answerability model was trained (this default for the bundled one).",
    )
    answer_reader: bool = Field(
        False,
        description="Have the answer reader (a 6-layer cross-encoder) read the 2 best candidates for the confidence "
        "(the bundled answerability_reader.json model): separates answerable from near-miss questions better, "
        "but costs about 80 ms more CPU per question on 2 cores. Ignored when RAG_ANSWERABILITY_MODEL is set.",
    )
    related_threshold: float = Field(
        0.18,
        ge=0.0,
        le=1.0,  # natural set, dev split: off-topic questions reach at most 0.16, others 0.19+
        description="Cosine of question and best passage from which an unanswered question gets related passages "
        "(below it: nothing relevant).",
    )
    answerability_model: Path | None = Field(
        None,
        description="Answerability model (JSON) written by "
        "`rag train-answerability`; empty = the bundled one.",
    )
    max_answer_sentences: int = Field(2, ge=1, le=10)
    max_question_chars: int = Field(2000, ge=10, le=100_000)

    # Generation (answer_mode=generative).
    llm_backend: LLMBackend = Field(
        LLMBackend.local,
        description="openai = an OpenAI-compatible server; "
        "local = a transformers model from RAG_LOCAL_MODEL_PATH.",
    )
    llm_base_url: str = Field(
        "http://127.0.0.1:11434/v1",
        pattern=r"^https?://\S+$",
        description="OpenAI-compatible API base URL, up to and including /v1.",
    )
    llm_model: str = Field("", description="Model name sent to the server (required for llm_backend=openai).")
    llm_api_key: SecretStr | None = Field(None, description="Bearer key for the server, if it needs one.")
    llm_timeout: float = Field(120.0, gt=0, le=3600, description="Seconds to wait for the server (per read).")
    llm_retries: int = Field(
        2, ge=0, le=10, description="Retries on connection errors, timeouts, 429 and 5xx."
    )
    local_model_path: str | None = Field(
        default_factory=_bundled_llm,
        description="A .gguf file or model "
        "folder for llm_backend=local; default: bundled SmolLM2-135M-Instruct.",
    )
    max_new_tokens: int = Field(256, ge=1, le=8192, description="Most tokens a generative answer may have.")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 = greedy (reproducible).")
    llm_prompt_chars: int = Field(
        8000,
        ge=500,
        le=1_000_000,
        description="Most passage characters put into the prompt (best passages first).",
    )

    # HTTP server.
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key: SecretStr | None = Field(
        None, description="When set, /api and /v1 require 'Authorization: Bearer'."
    )
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1)
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Other sites (e.g. https://notes.example.org) whose pages may send "
        "state-changing requests; the server's own origin always may. Comma-separated in RAG_ALLOWED_ORIGINS.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the server answers besides the bound address, localhost and "
        "IP literals ('*' = any; guards against DNS rebinding). Comma-separated in RAG_ALLOWED_HOSTS.",
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        le=10_000,
        description="Failed logins on the chat page per client "
        "within login_window_seconds before further tries get 429.",
    )
    login_window_seconds: float = Field(60.0, gt=0, le=86_400, description="Window of the login rate limit.")

    # Parsing uploaded and indexed files (runs in a separate process; a file over a limit is refused with 413).
    max_html_depth: int = Field(
        512, ge=8, le=100_000, description="Deepest element nesting an HTML file may have."
    )
    max_html_elements: int = Field(
        500_000, ge=100, le=50_000_000, description="Most elements an HTML file may have."
    )
    max_pdf_pages: int = Field(2000, ge=1, le=1_000_000, description="Most pages a PDF may have.")
    max_pdf_decompressed_bytes: int = Field(
        200 * 1024 * 1024,
        ge=1024,
        description="Most bytes a PDF's page content streams may decompress to, all pages together.",
    )
    parse_timeout: float = Field(60.0, gt=0, le=3600, description="Seconds one file may take to parse.")

    @field_validator("allowed_origins", "allowed_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.dense_weight == 0 and self.bm25_weight == 0:
            raise ValueError("dense_weight and bm25_weight cannot both be 0")
        if self.model_path is not None and not self.model_path.strip():
            self.model_path = None
        if self.local_model_path is not None and not self.local_model_path.strip():
            self.local_model_path = _bundled_llm()
        if self.llm_backend is LLMBackend.openai and not self.llm_model.strip():
            raise ValueError(
                "llm_backend=openai needs llm_model (RAG_LLM_MODEL), the model name the server serves"
            )
        return self

    @property
    def index_path(self) -> Path:
        """Folder of the selected index."""
        return self.index_dir / self.index_name
