"""Sources, a chunks table, tombstones of deleted documents, and the last run that saw each.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("connector", sa.String(40), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    chunks = op.create_table(
        "chunks",
        sa.Column("doc_id", sa.String(64), primary_key=True),
        sa.Column("chunk_id", sa.String(36), primary_key=True),
        sa.Column("ordinal", sa.Integer, nullable=False),
    )
    op.create_table(
        "document_tombstones",
        sa.Column("doc_id", sa.String(64), primary_key=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("source_uri", sa.Text, nullable=False),
        sa.Column("run_id", sa.Integer),
    )
    op.create_index("ix_document_tombstones_source", "document_tombstones", ["source"])
    # Chunk ids move from a JSON column of documents into their own table.
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT doc_id, chunk_ids FROM documents")).all()
    moved: list[dict[str, object]] = []
    for doc_id, chunk_ids in rows:
        ids = json.loads(chunk_ids) if isinstance(chunk_ids, str) else chunk_ids
        moved.extend({"chunk_id": c, "doc_id": doc_id, "ordinal": n} for n, c in enumerate(ids))
    if moved:
        op.bulk_insert(chunks, moved)
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("chunk_ids")
        batch.add_column(sa.Column("last_seen_run", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("last_seen_run")
        batch.add_column(sa.Column("chunk_ids", sa.JSON, nullable=False, server_default="[]"))
    op.drop_table("document_tombstones")
    op.drop_table("chunks")
    op.drop_table("sources")
