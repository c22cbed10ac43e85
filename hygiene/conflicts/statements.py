"""Splitting a text into statements: sentences, list items and table rows, verbatim."""

from __future__ import annotations

import re

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"#{1,6}\s")
_FENCE = re.compile(r"(?:```|~~~)")
# "Owner: IT" and "Last updated: 2026-02-17" on consecutive lines of a plain-text page are two
# statements, not one wrapped sentence.
_LABEL_LINE = re.compile(r"[ \t]*[A-Z][\w-]*(?: [\w-]+){0,3}:[ \t]")
_UNDERLINE = re.compile(r"={3,}|-{3,}")
_TABLE_RULE = re.compile(r"\|?[\s:|-]+\|?")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
# A sentence ends at . ! or ? (maybe inside bold or quotes) followed by space and a capital,
# a digit or an opening mark.
_SENTENCE_END = re.compile(r"[.!?](?:\*\*|[\"')\]’”])*\s+(?=[\"'(\[*“‘]*[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs approx no nos fig mr mrs ms dr inc ltd co st dept est min max incl".split()
)


def _sentences(text: str, start: int, end: int) -> list[str]:
    spans: list[str] = []
    begin = start
    for match in _SENTENCE_END.finditer(text, start, end):
        words = text[begin : match.start()].rsplit(None, 1)
        word = words[-1].lower().strip("*(\"'") if words else ""
        # "e.g. Okta" and an initial ("J. Smith") do not end a sentence.
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        spans.append(text[begin : match.start() + 1])
        begin = match.end()
    spans.append(text[begin:end])
    return [s.strip() for s in spans if s.strip()]


def split_statements(text: str) -> list[str]:
    """Sentences, list items and table rows of a markdown-ish text, verbatim, in order."""
    match = _FRONT_MATTER.match(text)
    offset = match.end() if match else 0
    statements: list[str] = []
    block: list[int] = []  # [start, end] of the paragraph or list item being read
    in_code = False

    def flush() -> None:
        if block:
            statements.extend(_sentences(text, block[0], block[1]))
            block.clear()

    for line in text[offset:].splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        stripped = line.strip()
        if _FENCE.match(stripped):
            flush()
            in_code = not in_code
            continue
        if in_code or not stripped or _HEADING.match(stripped):
            flush()
            continue
        if _UNDERLINE.fullmatch(stripped):
            block.clear()  # the line above was a setext heading ("PRINTERS" over "--------")
            continue
        if stripped.startswith("|"):
            flush()
            if not _TABLE_RULE.fullmatch(stripped):
                statements.append(stripped)
            continue
        item = _LIST_ITEM.match(line)
        if item:
            flush()
            block.extend((line_start + item.end(), offset))
        elif block and not _LABEL_LINE.match(line):
            block[1] = offset
        else:
            flush()
            block.extend((line_start, offset))
    flush()
    return statements
