"""Text normalization and cross-document boilerplate detection."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from hashlib import blake2b

from steward.domain import Element, ElementKind

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")

# Lines longer than this are content, never boilerplate.
BOILERPLATE_MAX_CHARS = 200
# Headers, footers, navigation and legal lines sit at a document's edges: only this many
# elements at each end are candidates, so repeated body text is never stripped.
BOILERPLATE_EDGE = 4


def normalize_text(text: str) -> str:
    """NFC, no control or zero-width characters, single spaces, at most one blank line."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def line_key(text: str) -> str | None:
    """The hash under which a short line is counted for boilerplate; None for long lines.

    Case and digits are folded so "Page 3 of 9" and "Page 4 of 9" count as one line.
    """
    if not text or len(text) > BOILERPLATE_MAX_CHARS:
        return None
    folded = re.sub(r"\d+", "0", text.casefold())
    return blake2b(folded.encode(), digest_size=8).hexdigest()


def edge_line_keys(texts: Sequence[str]) -> list[str]:
    """Keys of the short lines at the start and end of a document: its boilerplate candidates."""
    if len(texts) > 2 * BOILERPLATE_EDGE:
        texts = [*texts[:BOILERPLATE_EDGE], *texts[-BOILERPLATE_EDGE:]]
    return [key for text in texts if (key := line_key(text)) is not None]


def boilerplate_keys(
    per_document: Iterable[tuple[str, Iterable[str]]], min_share: float, min_docs: int
) -> set[str]:
    """Edge-line keys found in at least `min_docs` distinct documents and `min_share` of them.

    `per_document` pairs each document's content hash with its edge-line keys; exact copies of
    one document count once, so three copies of a page do not make its own lines boilerplate.
    """
    distinct = {content_hash: set(keys) for content_hash, keys in per_document}
    counts: Counter[str] = Counter()
    for keys in distinct.values():
        counts.update(keys)
    threshold = max(min_docs, min_share * len(distinct))
    return {key for key, seen in counts.items() if seen >= threshold}


class RunningBoilerplate:
    """`boilerplate_keys` over the documents seen so far, asked about one document's lines:
    the guess an ingest chunks ahead with before it has read every document."""

    def __init__(self, min_share: float, min_docs: int) -> None:
        self._min_share = min_share
        self._min_docs = min_docs
        self._counts: Counter[str] = Counter()
        self._seen: set[str] = set()

    def add(self, content_hash: str, keys: Iterable[str]) -> None:
        if content_hash not in self._seen:  # exact copies count once, as in boilerplate_keys
            self._seen.add(content_hash)
            self._counts.update(set(keys))

    def among(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` are boilerplate by what has been seen."""
        threshold = max(self._min_docs, self._min_share * len(self._seen))
        return {key for key in keys if self._counts[key] >= threshold}


def strip_boilerplate(
    elements: Sequence[Element], boilerplate: set[str]
) -> tuple[list[Element], int]:
    """The elements without boilerplate lines, and how many went; never all of the text."""
    kept: list[Element] = []
    last = len(elements) - 1
    for position, element in enumerate(elements):
        key = line_key(element.text)
        at_edge = position < BOILERPLATE_EDGE or last - position < BOILERPLATE_EDGE
        # A heading that opens a section ("Purpose") is structure, not boilerplate.
        heads_section = (
            element.kind is ElementKind.TITLE
            and position < last
            and elements[position + 1].kind is not ElementKind.TITLE
        )
        if at_edge and not heads_section and key is not None and key in boilerplate:
            continue
        kept.append(element)
    if not any(e.kind is not ElementKind.TITLE for e in kept):
        # Every line of it repeats elsewhere (a templated one-line page): it is content.
        return list(elements), 0
    return kept, len(elements) - len(kept)
