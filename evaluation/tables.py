"""The evaluation tables: golden sets and their runs, the query log and feedback.

`evaluation.runs` and `evaluation.feedback` read and write them; `steward/migrations` creates
them (0005).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Integer, String, Table, Text

from steward.database import metadata

golden_sets = Table(
    "eval_golden_sets",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # [{"id", "query", "relevant": [{"source_uri" | "doc_id", "source"?, "grade"}]}]: judged by
    # document identity, so re-chunking never breaks a judgement.
    Column("queries", JSON, nullable=False),
)

eval_runs = Table(
    "eval_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("golden_set", String(200), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("trigger", String(40), nullable=False),  # manual, api, sync, schedule
    Column("status", String(20), nullable=False),
    Column("metrics", JSON),  # overall
    Column("per_source", JSON),
    Column("per_query", JSON),  # query id -> metric -> value (for paired tests)
    Column("missing", JSON),  # judged documents that no longer exist
    Column("index_state", JSON),  # documents, chunks, model, retrieval settings
    Column("error", Text),
    # The accepted baseline of its golden set is the newest accepted run (an audited action).
    Column("accepted_at", DateTime(timezone=True)),
    Column("accepted_by", Text),
    Column("baseline_run", Integer),  # the baseline it was compared with
    # metric -> {baseline, value, drop, p_value}; SQL NULL when none (so `IS NULL` finds them).
    Column("regression", JSON(none_as_null=True)),
)

# Each /retrieve: what was asked (unless query text logging is off), what came back, how fast.
query_log = Table(
    "query_log",
    metadata,
    Column("query_id", String(36), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("text", Text),
    Column("mode", String(20), nullable=False),
    Column("top_k", Integer, nullable=False),
    Column("took_ms", Float, nullable=False),
    Column("results", JSON, nullable=False),  # [{"chunk_id", "doc_id", "source"}]
    # The best dense cosine among the answer's candidates (not the best hit's normalised score,
    # which is always about 1); NULL in sparse mode, where nothing is embedded, and when empty.
    Column("top_score", Float),
    Column("zero_result", Integer, nullable=False),
)

feedback = Table(
    "feedback",
    metadata,
    Column("feedback_id", Integer, primary_key=True, autoincrement=True),
    Column("query_id", String(36), nullable=False, index=True),
    Column("chunk_id", String(36), nullable=False),
    Column("doc_id", String(64), nullable=False, index=True),
    Column("source", String(200), nullable=False),
    Column("relevant", Integer, nullable=False),  # 1 relevant, 0 not
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
)
