"""Knowledge hygiene: per-document review interval, scan results, decisions, conflicts, audit.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("review_interval_days", sa.Integer, nullable=True))
    op.create_table(
        "hygiene_documents",
        sa.Column("doc_id", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("expires_at", _TZ),
        sa.Column("duplicate_of", sa.String(64)),
        sa.Column("similarity", sa.Float),
        sa.Column("superseded_by", sa.String(64)),
        sa.Column("superseded_since", _TZ),
        sa.Column("conflicts", sa.Integer, nullable=False),
        sa.Column("scanned_at", _TZ, nullable=False),
    )
    op.create_table(
        "hygiene_reviews",
        sa.Column("doc_id", sa.String(64), primary_key=True),
        sa.Column("verified_at", _TZ),
        sa.Column("verified_by", sa.Text),
        sa.Column("verified_hash", sa.String(64)),
        sa.Column("deprecated_at", _TZ),
        sa.Column("deprecated_by", sa.Text),
        sa.Column("note", sa.Text),
    )
    op.create_table(
        "hygiene_distinct",
        sa.Column("doc_a", sa.String(64), primary_key=True),
        sa.Column("doc_b", sa.String(64), primary_key=True),
        sa.Column("decided_by", sa.Text, nullable=False),
        sa.Column("decided_at", _TZ, nullable=False),
    )
    op.create_table(
        "hygiene_conflicts",
        sa.Column("conflict_id", sa.String(32), primary_key=True),
        sa.Column("a_doc", sa.String(64), nullable=False),
        sa.Column("b_doc", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("a_span", sa.Text, nullable=False),
        sa.Column("b_span", sa.Text, nullable=False),
        sa.Column("a_value", sa.Text, nullable=False),
        sa.Column("b_value", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("newer", sa.String(1)),
        sa.Column("first_seen", _TZ, nullable=False),
        sa.Column("last_seen", _TZ, nullable=False),
        sa.Column("resolution", sa.String(20)),
        sa.Column("resolved_by", sa.Text),
        sa.Column("resolved_at", _TZ),
    )
    op.create_index("ix_hygiene_conflicts_a_doc", "hygiene_conflicts", ["a_doc"])
    op.create_index("ix_hygiene_conflicts_b_doc", "hygiene_conflicts", ["b_doc"])
    op.create_table(
        "hygiene_chunk_duplicates",
        sa.Column("chunk_id", sa.String(36), primary_key=True),
        sa.Column("canonical_chunk", sa.String(36), nullable=False),
        sa.Column("cosine", sa.Float, nullable=False),
    )
    op.create_table(
        "hygiene_audit",
        sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "hygiene_scans",
        sa.Column("scan_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", _TZ, nullable=False),
        sa.Column("finished_at", _TZ),
        sa.Column("duration_s", sa.Float),
        sa.Column("summary", sa.JSON),
    )


def downgrade() -> None:
    for table in (
        "hygiene_scans",
        "hygiene_audit",
        "hygiene_chunk_duplicates",
        "hygiene_conflicts",
        "hygiene_distinct",
        "hygiene_reviews",
        "hygiene_documents",
    ):
        op.drop_table(table)
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("review_interval_days")
