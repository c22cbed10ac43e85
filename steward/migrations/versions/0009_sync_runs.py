"""Sync runs asked for over HTTP in the embedded mode, kept so their ids outlive a restart.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("requested_at", _TZ, nullable=False),
        sa.Column("started_at", _TZ),
        sa.Column("finished_at", _TZ),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("result", sa.JSON),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_sync_runs_source", "sync_runs", ["source"])


def downgrade() -> None:
    op.drop_table("sync_runs")
