"""API keys made by an admin (`steward keys create`, `POST /keys`), kept in the catalog.

A key is shown once, when it is made, and stored only as its SHA-256 digest. Revoking one takes
effect at once for every process that shares the catalog (a server reads the table again at most
`REFRESH_S` after a change), without a restart; the keys declared in the keys file or the
environment (steward/settings.py) stay where they are and are managed there.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Column, DateTime, String, Table, Text, insert, select, update
from sqlalchemy.exc import IntegrityError

from steward.access import ApiKey, Principal, Role, digest
from steward.audit import audit
from steward.database import Database, metadata
from steward.domain import as_utc, utc_now
from steward.errors import NotFoundError, QueryError

api_keys = Table(
    "api_keys",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("groups", JSON, nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", Text),
    # None: the key never expires.
    Column("expires_at", DateTime(timezone=True)),
)

# A key's name: what the audit log records as the actor of everything done with it.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
# How stale a server's view of the table may be: a revocation takes effect within this.
REFRESH_S = 1.0
PREFIX = "stw_"
# A key's lifetime as asked for: `90d`, `12h`, `2w`, `30m`, `45s`.
DURATION = re.compile(r"([1-9][0-9]{0,5})([smhdw])")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Ten years: a longer lifetime is a typo, not a plan (no expiry at all is asked by leaving it out).
MAX_LIFETIME = timedelta(days=3650)


def lifetime(text: str, field: str = "expires_in") -> timedelta:
    """A lifetime like `90d` (s, m, h, d or w); QueryError naming `field` for anything else."""
    found = DURATION.fullmatch(text.strip())
    if found is None:
        raise QueryError(field, "a whole number and a unit: s, m, h, d or w (e.g. 90d)")
    span = timedelta(seconds=int(found.group(1)) * UNIT_S[found.group(2)])
    if span > MAX_LIFETIME:
        raise QueryError(field, "at most 3650d (leave it out for a key that never expires)")
    return span


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A stored key as listed: never the key, nor its digest."""

    name: str
    role: str
    groups: list[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    expires_at: datetime | None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utc_now()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "groups": self.groups,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "revoked_by": self.revoked_by,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "expired": self.expired,
        }


class StoredKeys:
    """The catalog's keys: made, listed and revoked here; read by `KeyRing` on every request."""

    def __init__(self, database: Database, declared: frozenset[str] = frozenset()) -> None:
        self.database = database
        # Names of keys declared in the settings: a stored key may not take one.
        self.declared = declared
        self._lock = threading.Lock()
        self._cached: tuple[float, list[ApiKey]] | None = None

    def create(
        self,
        name: str,
        role: str,
        groups: list[str],
        actor: str,
        expires_in: str | None = None,
    ) -> tuple[str, list[str], datetime | None]:
        """A new key (returned once), its groups as stored and when it expires (`expires_in`
        from now, like `90d`; None: never); QueryError naming the field for a bad or taken
        name, a bad role or a bad lifetime."""
        if not NAME.fullmatch(name):
            raise QueryError(
                "name", "1-100 letters, digits or . _ @ -, starting with a letter or digit"
            )
        if name in self.declared:
            raise QueryError("name", f"{name!r} is a key declared in the settings (keys file)")
        try:
            Role.named(role)
        except KeyError:
            roles = ", ".join(r.name.lower() for r in Role)
            raise QueryError("role", f"must be one of {roles}") from None
        cleaned = sorted({g.strip() for g in groups if g.strip()})
        now = utc_now()
        expires_at = None if expires_in is None else now + lifetime(expires_in)
        key = PREFIX + secrets.token_urlsafe(32)
        try:
            with self.database.begin() as conn:
                conn.execute(
                    insert(api_keys).values(
                        name=name,
                        role=role.lower(),
                        groups=cleaned,
                        sha256=digest(key),
                        created_at=now,
                        created_by=actor,
                        expires_at=expires_at,
                    )
                )
                expiry = expires_at.isoformat() if expires_at else None
                audit(
                    conn,
                    actor,
                    "key_create",
                    name,
                    role=role.lower(),
                    groups=cleaned,
                    expires_at=expiry,
                )
        except IntegrityError:
            raise QueryError("name", f"a key named {name!r} exists (revoke it first)") from None
        self._cached = None
        return key, cleaned, expires_at

    def revoke(self, name: str, actor: str) -> None:
        """Revoke a stored key (NotFoundError if none has that name); revoking twice is a no-op."""
        with self.database.begin() as conn:
            found = conn.execute(select(api_keys.c.revoked_at).where(api_keys.c.name == name))
            row = found.first()
            if row is None:
                raise NotFoundError("key", name)
            if row.revoked_at is None:
                conn.execute(
                    update(api_keys)
                    .where(api_keys.c.name == name)
                    .values(revoked_at=utc_now(), revoked_by=actor)
                )
                audit(conn, actor, "key_revoke", name)
        self._cached = None

    def listed(self) -> list[StoredKey]:
        with self.database.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.name))
            return [
                StoredKey(
                    name=r.name,
                    role=r.role,
                    groups=list(r.groups),
                    created_at=as_utc(r.created_at),
                    created_by=r.created_by,
                    revoked_at=as_utc(r.revoked_at) if r.revoked_at else None,
                    revoked_by=r.revoked_by,
                    expires_at=as_utc(r.expires_at) if r.expires_at else None,
                )
                for r in rows
            ]

    def keys(self) -> list[ApiKey]:
        """Every stored key as the key ring compares them (revoked ones marked, with their
        expiry), read again at most every REFRESH_S."""
        now = time.monotonic()
        cached = self._cached
        if cached is not None and now - cached[0] < REFRESH_S:
            return cached[1]
        with self._lock:
            with self.database.connect() as conn:
                rows = conn.execute(
                    select(
                        api_keys.c.name,
                        api_keys.c.role,
                        api_keys.c.groups,
                        api_keys.c.sha256,
                        api_keys.c.revoked_at,
                        api_keys.c.expires_at,
                    )
                ).all()
            found = [
                ApiKey(
                    r.sha256,
                    Principal(r.name, Role.named(r.role), frozenset(r.groups)),
                    revoked=r.revoked_at is not None,
                    expires=as_utc(r.expires_at).timestamp() if r.expires_at else None,
                )
                for r in rows
            ]
            self._cached = (time.monotonic(), found)
            return found
