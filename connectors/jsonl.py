"""Records already in text form: a JSON-lines file of `{"_id", "title", "text"}` (BEIR corpus)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

from steward.domain import DocumentRef, RawDocument
from steward.errors import DocumentError, SourceError


class JsonlConnector:
    """Each line is one document; `_id` (or `id`) is its key, `text` its body."""

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        self._records: dict[str, dict[str, object]] = {}

    def list(self) -> Iterator[DocumentRef]:
        try:
            stat = self.path.stat()
            # Not splitlines(): it also splits on U+2028 and friends inside JSON strings.
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as error:
            raise SourceError(self.source, f"cannot read {self.path}: {error}") from error
        updated = datetime.fromtimestamp(stat.st_mtime, UTC)
        self._records = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                key = str(record.get("_id", record.get("id")))
                if key == "None":
                    raise KeyError("_id")
            except (json.JSONDecodeError, KeyError, AttributeError) as error:
                raise SourceError(
                    self.source, f"{self.path}:{number}: bad record ({error})"
                ) from None
            self._records[key] = record
            text = str(record.get("text") or "")
            yield DocumentRef(
                source=self.source,
                key=key,
                source_uri=key,
                updated_at=updated,
                size=len(text),
                fingerprint=sha256(line.encode()).hexdigest()[:16],
            )

    def fetch(self, ref: DocumentRef) -> RawDocument:
        record = self._records.get(ref.key)
        if record is None:
            raise DocumentError(ref.source_uri, "record vanished from the file")
        return RawDocument(
            ref=ref,
            content=str(record.get("text") or "").encode("utf-8"),
            media_type="text/x-record",
            title=str(record.get("title") or "") or None,
        )
