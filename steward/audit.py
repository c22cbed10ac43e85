"""The audit log: who did what to which document, run or pair, and when (GET /hygiene/audit).

Owners' hygiene decisions and accepted evaluation baselines both write here, each inside the
transaction that makes the change; so the table is the kernel's, below both packages. (Its name,
`hygiene_audit`, is older than the evaluation's entries: kept, so existing catalogs open as
they are.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    cast,
    insert,
    or_,
    select,
)

from steward.database import Database, metadata
from steward.domain import as_utc, utc_now
from steward.errors import QueryError

hygiene_audit = Table(
    "hygiene_audit",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", Text, nullable=False),
    Column("detail", JSON, nullable=False),
)


def require_actor(actor: str) -> None:
    if not actor or not actor.strip():
        raise QueryError("actor", "must name who acts (an e-mail or user name)")


def audit(conn: Any, actor: str, action: str, subject: str, **detail: Any) -> None:
    """One entry of the audit log, inside the caller's transaction."""
    conn.execute(
        insert(hygiene_audit).values(
            at=utc_now(), actor=actor, action=action, subject=subject, detail=detail
        )
    )


def entries(
    database: Database,
    limit: int | None = 100,
    offset: int = 0,
    actor: str | None = None,
    action: str | None = None,
    document: str | None = None,
) -> list[dict[str, Any]]:
    """The log, newest first; only one actor's, one action's, or the entries naming a document
    (as their subject, in a pair, or in their detail) when asked."""
    query = select(hygiene_audit).order_by(hygiene_audit.c.entry_id.desc())
    if actor is not None:
        query = query.where(hygiene_audit.c.actor == actor)
    if action is not None:
        query = query.where(hygiene_audit.c.action == action)
    if document is not None:
        query = query.where(
            or_(
                hygiene_audit.c.subject.contains(document, autoescape=True),
                cast(hygiene_audit.c.detail, Text).contains(document, autoescape=True),
            )
        )
    with database.connect() as conn:
        rows = conn.execute(query.limit(limit).offset(offset))
        return [{**dict(r._mapping), "at": as_utc(r.at)} for r in rows]


def choices(database: Database) -> dict[str, list[str]]:
    """The actors and the actions the log holds, for a filter's options."""
    with database.connect() as conn:
        return {
            name: sorted(str(v) for (v,) in conn.execute(select(column).distinct()))
            for name, column in (
                ("actors", hygiene_audit.c.actor),
                ("actions", hygiene_audit.c.action),
            )
        }
