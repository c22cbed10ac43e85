"""Rows of a SQL query as documents: `id`, `title`, `body`, `updated_at` (+ `owner`, `acl`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from steward.domain import DocumentRef, RawDocument
from steward.errors import DocumentError, SourceError
from steward.redact import MASK

REQUIRED = ("id", "title", "body", "updated_at")


def _utc(value: Any) -> datetime:
    """A row's `updated_at` in UTC (a naive time is taken as UTC); ValueError if it is none."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value is None:
        raise ValueError("is NULL")
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"is not an ISO 8601 time: {str(value)[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _acl(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    text_value = str(value).strip()
    if text_value.startswith("["):
        return [str(v) for v in json.loads(text_value)]
    return [part.strip() for part in text_value.split(",") if part.strip()]


class SqlConnector:
    """One query against any SQLAlchemy URL; each row is a document keyed by its `id`."""

    def __init__(self, url: str, query: str, source: str) -> None:
        self.url = url
        self.query = query
        self.source = source
        self._rows: dict[str, dict[str, Any]] = {}

    def list(self) -> Iterator[DocumentRef]:
        return self._list(text(self.query), {})

    def list_changed(self, since: datetime) -> Iterator[DocumentRef]:
        """Rows whose `updated_at` is after `since`; deleted rows are not seen this way."""
        query = text(f"SELECT * FROM ({self.query}) AS steward_rows WHERE updated_at > :since")
        return self._list(query, {"since": since})

    def _list(self, query: Any, params: dict[str, Any]) -> Iterator[DocumentRef]:
        try:
            engine = create_engine(self.url)
            try:
                with engine.connect() as connection:
                    result = connection.execute(query, params)
                    columns = list(result.keys())
                    rows = [dict(zip(columns, row, strict=True)) for row in result]
            finally:
                engine.dispose()
        except SQLAlchemyError as error:
            reason = f"query failed: {error.__class__.__name__}: {error}"
            raise SourceError(self.source, self._without_password(reason)) from None
        missing = [name for name in REQUIRED if name not in columns]
        if missing:
            raise SourceError(self.source, f"the query returns no column {', '.join(missing)}")
        self._rows = {}
        for row in rows:
            key = str(row["id"])
            try:
                updated_at = _utc(row["updated_at"])
            except ValueError as error:
                # The whole listing fails: a row left out would read as deleted and be pruned.
                raise SourceError(self.source, f"row {key[:80]!r}: updated_at {error}") from None
            self._rows[key] = row
            body = str(row["body"] or "")
            fingerprint = sha256(
                json.dumps([row.get(c) for c in columns], default=str).encode()
            ).hexdigest()[:16]
            yield DocumentRef(
                source=self.source,
                key=key,
                source_uri=f"{self.source}/{key}",
                updated_at=updated_at,
                size=len(body.encode()),
                fingerprint=fingerprint,
            )

    def _without_password(self, text_value: str) -> str:
        """`text_value` with the URL's password masked, should a driver's message repeat it."""
        try:
            password = make_url(self.url).password
        except ArgumentError:
            return text_value
        return text_value.replace(str(password), MASK) if password else text_value

    def fetch(self, ref: DocumentRef) -> RawDocument:
        row = self._rows.get(ref.key)
        if row is None:
            raise DocumentError(ref.source_uri, "row vanished between listing and reading")
        metadata: dict[str, object] = {}
        if row.get("owner"):
            metadata["owner"] = str(row["owner"])
        if "acl" in row:
            try:
                metadata["acl"] = _acl(row["acl"])
            except ValueError:  # json.JSONDecodeError included
                raise DocumentError(
                    ref.source_uri, "acl is neither a JSON list nor a comma list"
                ) from None
        return RawDocument(
            ref=ref,
            content=str(row["body"] or "").encode(),
            media_type="text/x-record",
            title=str(row["title"] or "") or None,
            metadata=metadata,
        )
