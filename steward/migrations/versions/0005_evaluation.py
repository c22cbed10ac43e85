"""Evaluation: golden query sets and evaluation runs.

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


def downgrade() -> None:
    op.drop_table("eval_runs")
    op.drop_table("eval_golden_sets")
