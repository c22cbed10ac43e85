"""A short history of each scan's summary per source, for the dashboard's trends.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hygiene_source_history",
        sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("scan_id", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("acl", sa.JSON, nullable=False),
        sa.Column("other_acl", sa.JSON),
        sa.Column("counts", sa.JSON, nullable=False),
    )
    op.create_index("ix_hygiene_source_history_scan_id", "hygiene_source_history", ["scan_id"])


def downgrade() -> None:
    op.drop_table("hygiene_source_history")
