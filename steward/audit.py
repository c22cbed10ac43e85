"""The audit log: who did what to which document, run or pair, and when (GET /hygiene/audit).

Owners' hygiene decisions and accepted evaluation baselines both write here, each inside the
transaction that makes the change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select

from steward.catalog import hygiene_audit
from steward.domain import as_utc, utc_now
from steward.errors import QueryError


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


def entries(engine: Engine, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """The log, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(hygiene_audit)
            .order_by(hygiene_audit.c.entry_id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [{**dict(r._mapping), "at": as_utc(r.at)} for r in rows]
