"""Text normalization and cross-document boilerplate detection."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from hashlib import blake2b

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")

# Lines longer than this are content, never boilerplate.
BOILERPLATE_MAX_CHARS = 200


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


def boilerplate_keys(
    per_document: Iterable[Iterable[str]], min_share: float, min_docs: int
) -> set[str]:
    """Line keys that repeat in at least `min_share` of the documents and `min_docs` of them."""
    counts: Counter[str] = Counter()
    total = 0
    for keys in per_document:
        total += 1
        counts.update(set(keys))
    threshold = max(min_docs, min_share * total)
    return {key for key, seen in counts.items() if seen >= threshold}
