"""A side-by-side diff of two texts (difflib), line by line with the changed words marked.

Only structure comes out of here; the template escapes every piece of text it prints.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# Unchanged lines kept around a change; longer unchanged runs fold into one "n lines" row.
CONTEXT = 2
_WORDS = re.compile(r"\S+|\s+")


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    changed: bool


@dataclass(frozen=True, slots=True)
class Line:
    """One row: `equal`, `replace`, `delete`, `insert`, or `skip` (`skipped` unchanged lines)."""

    tag: str
    left: list[Piece]
    right: list[Piece]
    skipped: int = 0


def _words(a: str, b: str) -> tuple[list[Piece], list[Piece]]:
    left_words, right_words = _WORDS.findall(a), _WORDS.findall(b)
    matcher = difflib.SequenceMatcher(None, left_words, right_words, autojunk=False)
    left: list[Piece] = []
    right: list[Piece] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            left.append(Piece("".join(left_words[i1:i2]), tag != "equal"))
        if j2 > j1:
            right.append(Piece("".join(right_words[j1:j2]), tag != "equal"))
    return left, right


def side_by_side(a: str, b: str) -> list[Line]:
    """`a` (left, the canonical text) against `b` (right, the copy)."""
    left_lines, right_lines = a.splitlines(), b.splitlines()
    matcher = difflib.SequenceMatcher(None, left_lines, right_lines, autojunk=False)
    rows: list[Line] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            same = left_lines[i1:i2]
            if len(same) > 2 * CONTEXT + 1:
                head = same[:CONTEXT] if rows else []
                tail = same[-CONTEXT:] if i2 < len(left_lines) else []
                rows += [Line("equal", [Piece(t, False)], [Piece(t, False)]) for t in head]
                rows.append(Line("skip", [], [], len(same) - len(head) - len(tail)))
                rows += [Line("equal", [Piece(t, False)], [Piece(t, False)]) for t in tail]
            else:
                rows += [Line("equal", [Piece(t, False)], [Piece(t, False)]) for t in same]
            continue
        olds, news = left_lines[i1:i2], right_lines[j1:j2]
        for n in range(max(len(olds), len(news))):
            old = olds[n] if n < len(olds) else None
            new = news[n] if n < len(news) else None
            if old is not None and new is not None:
                rows.append(Line("replace", *_words(old, new)))
            elif old is not None:
                rows.append(Line("delete", [Piece(old, True)], []))
            elif new is not None:
                rows.append(Line("insert", [], [Piece(new, True)]))
    return rows
