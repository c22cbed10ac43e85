"""Evaluation: golden query sets, evaluation runs, the query log and feedback.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "eval_golden_sets",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("queries", sa.JSON, nullable=False),
    )
    op.create_table(
        "eval_runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("golden_set", sa.String(200), nullable=False),
        sa.Column("started_at", _TZ, nullable=False),
        sa.Column("finished_at", _TZ),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("metrics", sa.JSON),
        sa.Column("per_source", sa.JSON),
        sa.Column("per_query", sa.JSON),
        sa.Column("missing", sa.JSON),
        sa.Column("index_state", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("accepted_at", _TZ),
        sa.Column("accepted_by", sa.Text),
        sa.Column("baseline_run", sa.Integer),
        sa.Column("regression", sa.JSON),
    )
    op.create_index("ix_eval_runs_golden_set", "eval_runs", ["golden_set"])
    op.create_table(
        "query_log",
        sa.Column("query_id", sa.String(36), primary_key=True),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("text", sa.Text),
        sa.Column("mode", sa.String(20), nullable=False),
        sa.Column("top_k", sa.Integer, nullable=False),
        sa.Column("took_ms", sa.Float, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("top_score", sa.Float),
        sa.Column("zero_result", sa.Integer, nullable=False),
    )
    op.create_index("ix_query_log_at", "query_log", ["at"])
    op.create_table(
        "feedback",
        sa.Column("feedback_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("query_id", sa.String(36), nullable=False),
        sa.Column("chunk_id", sa.String(36), nullable=False),
        sa.Column("doc_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("relevant", sa.Integer, nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_feedback_query_id", "feedback", ["query_id"])
    op.create_index("ix_feedback_doc_id", "feedback", ["doc_id"])


def downgrade() -> None:
    op.drop_table("feedback")
    op.drop_table("query_log")
    op.drop_table("eval_runs")
    op.drop_table("eval_golden_sets")
