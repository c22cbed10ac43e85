"""Owners' queue decisions: a document's next review date, and a hand-over to another owner.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("hygiene_reviews") as batch:
        batch.add_column(sa.Column("review_by", _TZ))
        batch.add_column(sa.Column("review_set_at", _TZ))
        batch.add_column(sa.Column("review_set_by", sa.Text))
        batch.add_column(sa.Column("owner", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("hygiene_reviews") as batch:
        batch.drop_column("owner")
        batch.drop_column("review_set_by")
        batch.drop_column("review_set_at")
        batch.drop_column("review_by")
