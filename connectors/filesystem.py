"""A folder of files, walked with include and exclude globs."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path

from steward.domain import DocumentRef, RawDocument
from steward.errors import DocumentError, SourceError

# Media types by extension; anything else is skipped with a reason.
MEDIA_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".html": "text/html",
    ".htm": "text/html",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pdf": "application/pdf",
}


def matches(relative: str, patterns: Sequence[str]) -> bool:
    # "**/x" also matches "x" at the top, as users expect from gitignore-like globs.
    return any(
        fnmatchcase(relative, p) or (p.startswith("**/") and fnmatchcase(relative, p[3:]))
        for p in patterns
    )


class FilesystemConnector:
    """Documents are the files below `root` whose relative path passes the globs."""

    def __init__(
        self,
        root: Path,
        source: str,
        include: Sequence[str] = ("**/*",),
        exclude: Sequence[str] = ("**/.*", "**/.*/**"),
    ) -> None:
        self.root = root.resolve()
        self.source = source
        self.include = tuple(include)
        self.exclude = tuple(exclude)

    def list(self) -> Iterator[DocumentRef]:
        return self._walk(None)

    def list_changed(self, since: datetime) -> Iterator[DocumentRef]:
        """Files modified after `since` (by mtime); deletions are not seen this way."""
        return self._walk(since.timestamp())

    def _walk(self, after: float | None) -> Iterator[DocumentRef]:
        if not self.root.is_dir():
            raise SourceError(self.source, f"{self.root} is not a readable folder")
        errors: list[OSError] = []
        for directory, subdirs, files in os.walk(self.root, onerror=errors.append):
            subdirs.sort()
            for name in sorted(files):
                path = Path(directory) / name
                relative = path.relative_to(self.root).as_posix()
                if not matches(relative, self.include) or matches(relative, self.exclude):
                    continue
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue  # vanished between the directory read and the stat
                if not path.is_file() or (after is not None and stat.st_mtime <= after):
                    continue
                yield DocumentRef(
                    source=self.source,
                    key=relative,
                    source_uri=relative,
                    updated_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                    size=stat.st_size,
                    fingerprint=f"{stat.st_size}:{stat.st_mtime_ns}",
                )
        if errors:
            # A folder we could not read makes the listing incomplete: refuse it as a whole.
            raise SourceError(
                self.source, f"cannot read {errors[0].filename}: {errors[0].strerror}"
            )

    def fetch(self, ref: DocumentRef) -> RawDocument:
        path = self.root / ref.key
        suffix = path.suffix.lower()
        media_type = MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
        if suffix not in MEDIA_TYPES:
            raise DocumentError(ref.source_uri, f"unsupported file type {suffix or '(none)'}")
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise DocumentError(ref.source_uri, "file vanished before it was read") from None
        except OSError as error:
            raise DocumentError(ref.source_uri, f"cannot read: {error.strerror}") from None
        return RawDocument(ref=ref, content=content, media_type=media_type or "text/plain")
