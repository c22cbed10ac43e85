"""The initial catalog: documents, the embedding cache and ingest runs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("doc_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("pipeline_version", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("review_by", sa.String(10)),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("acl", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ingested", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chunk_ids", sa.JSON, nullable=False),
        sa.Column("line_hashes", sa.JSON, nullable=False),
    )
    op.create_index("ix_documents_source", "documents", ["source"])
    op.create_table(
        "embeddings",
        sa.Column("model", sa.String(300), primary_key=True),
        sa.Column("content_hash", sa.String(64), primary_key=True),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("duration_s", sa.Float),
        sa.Column("summary", sa.JSON),
    )
    op.create_index("ix_ingest_runs_source", "ingest_runs", ["source"])


def downgrade() -> None:
    op.drop_table("ingest_runs")
    op.drop_table("embeddings")
    op.drop_table("documents")
