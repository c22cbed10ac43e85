"""Analysing a statement once: its tokens with values masked, names, negations, claims and the
product-like names in a slot; and a text's statements indexed by content word."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from hygiene.conflicts.claims import Claim, claims_of
from hygiene.conflicts.statements import split_statements
from hygiene.conflicts.values import Value, value_matches, value_of
from hygiene.conflicts.words import (
    CONTRACTIONS,
    NEGATIONS,
    NOT_NEGATION_AFTER_NO,
    STOPWORDS,
    TOKEN,
    name_like,
    stem,
)


@dataclass(frozen=True, slots=True)
class Slot:
    """A product-like name right after "is", "through", "use"... and the words just before it."""

    name: str  # lower-cased
    written: str
    topic: frozenset[str]


@dataclass(frozen=True, slots=True)
class Statement:
    """One sentence, list item or table row, analysed once."""

    span: str
    norm: str
    tokens: tuple[str, ...]  # lower-cased; each value is one "<kind>" placeholder
    raw: tuple[str, ...]  # the same tokens as written
    stems: tuple[str, ...]  # the same tokens stemmed, for aligning two statements
    names: tuple[bool, ...]  # per token: looks like a proper name (Concur, LastPass, **Navan**)
    values: tuple[Value | None, ...]  # per token: the value behind a placeholder
    content: frozenset[str]
    name_words: frozenset[str]  # the content words that are name-like
    negations: int
    key: str | None  # a table row's first cell
    metadata: bool  # "Last updated 2026-09-02": about the page, not a fact in it
    asserts: bool  # a statement of fact: not a question, a heading or a bare label
    claims: tuple[Claim, ...]
    slots: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class Analysed:
    """A text's statements, an index from content word to statements, and its whole vocabulary."""

    statements: tuple[Statement, ...]
    by_word: Mapping[str, tuple[int, ...]]
    vocabulary: frozenset[str]


_SLOT_CUES = frozenset({"is", "are", "through", "via", "use", "uses", "using"})
# After "in" and "with" a capitalized word is as often a place, a team or a person ("in Europe",
# "with Support"), so there only an unmistakable product name counts: CamelCase, 1Password, bold.
_WEAK_SLOT_CUES = frozenset({"in", "with"})
# Every page has its own edit date; two pages that differ there do not disagree about anything.
_PAGE_METADATA = re.compile(
    r"(?:page |document |this page was |this document was )?(?:last )?"
    r"(?:updated|modified|edited|reviewed|revised|published|printed|exported|generated)\b"
)
_COPYRIGHT = re.compile(r"\s*(?:©|\(c\)|copyright\b)", re.IGNORECASE)
# Numbering before a list item's text, where extraction left it as words: "7 7 Based on ...",
# "3) Based on". One bare number is a value ("30 days after purchase ...").
_NUMBERING = re.compile(r"\s*(?:\d{1,3}[.)]\s+|(?:\d{1,3}[.)]?\s+){2,3})(?=[^\W\d_])")
# A question asks; "What is RegTech?" and "What is SaaS?" state nothing that could disagree.
_QUESTION = re.compile(r"\?[\s*_\"'’”)\]]*\Z")
_TERMINAL = re.compile(r"[.!?:;,][\s*_\"'’”)\]]*\Z")
_HEADING_WORDS = 8


def _is_heading(clean: str) -> bool:
    """A line that names a section rather than states something: short, unpunctuated, with
    every longer word capitalized ("Release Schedule", "Market Overview 2025")."""
    if "\n" in clean.strip() or _TERMINAL.search(clean) or ":" in clean:
        return False
    tokens = clean.split()
    if not tokens or len(tokens) > _HEADING_WORDS:
        return False
    words = [t for t in tokens if t[:1].isalpha()]
    return bool(words) and all(t[:1].isupper() for t in words if len(t) > 3)


_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_MARKUP = re.compile(r"\*\*|__|`")


@dataclass(slots=True)
class _Words:
    """A statement's tokens as parallel lists, while it is being analysed."""

    lower: list[str] = field(default_factory=list)  # values become "<kind>" placeholders
    raw: list[str] = field(default_factory=list)
    values: list[Value | None] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    clauses: list[int] = field(default_factory=list)
    initials: list[bool] = field(default_factory=list)

    def add(self, lower: str, raw: str, start: int, clause: int, initial: bool) -> None:
        self.lower.append(lower)
        self.raw.append(raw)
        self.values.append(None)
        self.starts.append(start)
        self.clauses.append(clause)
        self.initials.append(initial)


def _words(clean: str) -> _Words:
    """Tokens of a statement, each value one placeholder token, with clause numbers."""
    found = [(m, v) for m in value_matches(clean) if (v := value_of(m, clean)) is not None]
    words = _Words()
    clause = 0
    initial = True  # the first word of a sentence, a table cell or a "Label: text"
    pending = 0  # the next value of `found` to place
    value_end = -1
    for match in TOKEN.finditer(clean):
        start = match.start()
        while pending < len(found) and found[pending][0].start() <= start:
            value_match, value = found[pending]
            words.add(f"<{value.kind}>", value.raw, value_match.start(), clause, False)
            words.values[-1] = value
            value_end = value_match.end()
            pending += 1
        if start < value_end:
            continue  # a piece of the value just placed
        raw = match.group(1)
        if raw is None:
            clause += 1
            initial = initial or match.group(2) in "|:"
            continue
        raw = raw.replace("’", "'")
        lower = raw.lower()
        if lower.endswith("n't") or lower == "cannot":
            base = lower[:-3]
            words.add(CONTRACTIONS.get(base, base), raw[:-3], start, clause, initial)
            words.add("not", "not", start + len(raw) - 3, clause, False)
        else:
            words.add(lower, raw, start, clause, initial)
        initial = False
    for value_match, value in found[pending:]:
        words.add(f"<{value.kind}>", value.raw, value_match.start(), clause, False)
        words.values[-1] = value
    return words


def _slots(
    words: _Words, content: list[str], names: list[bool], products: list[bool]
) -> tuple[Slot, ...]:
    slots: list[Slot] = []
    for n, token in enumerate(words.lower[:-1]):
        raw = words.raw[n + 1]
        # A product-like name: capitalized, not an acronym like VP or SMS, not a value.
        named = names[n + 1] and not (raw.isupper() and len(raw) <= 3)
        if (token in _SLOT_CUES and named) or (token in _WEAK_SLOT_CUES and products[n + 1]):
            # The topic is a noun just before the cue: not an imperative's verb ("Update
            # through Jamf") and not a participle ("booked through Navan").
            topic = frozenset(
                content[j]
                for j in range(max(0, n - 3), n)
                if content[j]
                and not words.initials[j]
                and not words.lower[j].endswith(("ed", "ing"))
            )
            if topic:
                slots.append(Slot(words.lower[n + 1], raw, topic))
    return tuple(slots)


def _statement(span: str) -> Statement:
    bold = [m.span() for m in _BOLD.finditer(span)] if "**" in span or "__" in span else []
    # Markup becomes spaces so that offsets into the cleaned text still fit the span.
    clean = _MARKUP.sub(lambda m: " " * len(m.group()), span) if bold or "`" in span else span
    numbering = _NUMBERING.match(clean)
    if numbering:
        # Spaces keep the offsets into the cleaned text fitting the span.
        clean = " " * numbering.end() + clean[numbering.end() :]
    key: str | None = None
    if clean.startswith("|"):
        cells = [c.strip() for c in clean.strip().strip("|").split("|")]
        if len(cells) >= 2:
            key = " ".join(cells[0].lower().split())
    words = _words(clean)
    tokens, values = words.lower, words.values

    names: list[bool] = []
    products: list[bool] = []  # strongly product-like: CamelCase, 1Password or bold
    for n, raw in enumerate(words.raw):
        strong = bool(bold) and any(b0 <= words.starts[n] < b1 for b0, b1 in bold)
        if values[n] is not None or (raw.islower() and not strong):
            names.append(False)  # the common case, decided without a call
            products.append(False)
            continue
        names.append(name_like(raw, words.initials[n], strong))
        products.append(names[n] and (strong or name_like(raw, True, False)))
    negations = 0
    if not NEGATIONS.isdisjoint(tokens):
        negations = sum(
            1
            for n, t in enumerate(tokens)
            if t in NEGATIONS
            and not (t == "no" and n + 1 < len(tokens) and tokens[n + 1] in NOT_NEGATION_AFTER_NO)
        )
    stems = [stem(t) for t in tokens]
    content = [
        ""
        if values[n] is not None or t in STOPWORDS or (len(t) < 2 and not t.isdigit())
        else stems[n]
        for n, t in enumerate(tokens)
    ]

    def phrase(i: int, j: int) -> str:
        return clean[words.starts[i] : words.starts[j] + len(words.raw[j])]

    return Statement(
        span=span,
        norm=" ".join(clean.split()),
        tokens=tuple(tokens),
        raw=tuple(words.raw),
        stems=tuple(stems),
        names=tuple(names),
        values=tuple(values),
        content=frozenset(c for c in content if c),
        name_words=frozenset(c for n, c in enumerate(content) if c and names[n]),
        negations=negations,
        key=key,
        metadata=(len(tokens) <= 8 and bool(_PAGE_METADATA.match(" ".join(tokens))))
        or bool(_COPYRIGHT.match(clean)),
        asserts=not (_QUESTION.search(clean) or (key is None and _is_heading(clean))),
        claims=claims_of(tokens, words.clauses, content, phrase),
        slots=_slots(words, content, names, products),
    )


def analyze(text: str) -> Analysed:
    """Split a text into statements and analyse each once, for any number of comparisons."""
    statements = tuple(_statement(s) for s in split_statements(text))
    by_word: dict[str, list[int]] = {}
    for n, statement in enumerate(statements):
        for word in statement.content:
            by_word.setdefault(word, []).append(n)
    vocabulary = frozenset(t for s in statements for t in s.tokens)
    return Analysed(statements, {w: tuple(ns) for w, ns in by_word.items()}, vocabulary)
