"""What a query asks for exactly: identifier-shaped tokens and "quoted phrases".

Dense embeddings do not know error codes, ticket numbers, version strings or code names, and
BM25 weighs such a token like any other rare word: "troubleshooting error 0x87EC75F0" ranks
pages about troubleshooting errors above the one page that names the code. Identifier-shaped
tokens get a larger weight in the BM25 query, and a quoted phrase must appear in a result's
text for it to rank above those without it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from retrieval import fusion
from steward.domain import Candidate, ChunkPayload, SparseVector

_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
_EDGE_PUNCTUATION = "\"'“”‘’()[]{}<>,;:!?.`*/—–"
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")
# Three or more digit groups joined by separators: 7.31.905, 2024-11-05, 192.168.1.1 (two
# groups are mostly decimals, ranges and times: 3.5, 10-12, 10:30).
_DIGIT_GROUPS = re.compile(r"\d+(?:[._\-/]\d+){2,}")
# Inner capitals or underscores: HTTPException, allowCredentials, allow_credentials.
_CODE_NAME = re.compile(r"[a-z][A-Z]|[A-Z]{2,}[a-z]|[A-Za-z0-9]_[A-Za-z0-9]")
# A number with a short suffix is a measure, an ordinal, a decade or a time: 16GB, 21st,
# 1990s, 10am, 5km.
_MEASURE = re.compile(r"\d+(?:[.,]\d+)?[^\W\d_]{1,3}", re.IGNORECASE)
# A number joined to a word is a quantity too: 10-hour, 2-factor, 30-day (on the 18F handbook
# "working four 10-hour days" lifted every page naming 10-hour days above the one on schedules).
_HYPHENED_MEASURE = re.compile(r"\d+(?:[.,]\d+)?(?:-[a-z]+)+")
_POSSESSIVE = re.compile(r"['’]s$")
# An identifier held by more candidates than this (or a tenth of them) is a common word.
RARE_HOLDERS = 5
NAMED_MARGIN = 0.1  # of the score range: a named page over its siblings (see named_first)
MAX_IDENTIFIERS = 8  # per query; a pasted log line should not become hundreds of patterns


# A year (1990-2099), a dotted version (3.9, 2.7.18) or a v-number (v2): what names an
# edition, a season or a release in a title.
_EDITION_NAME = re.compile(r"(?<![\w.])(?:(?:19|20)\d\d|v?\d+(?:\.\d+)+|v\d+)(?![\w]|\.\d)", re.I)


def edition_names(text: str) -> frozenset[str]:
    """The years and versions a query or a title names, lower-cased: "2024", "3.9", "v2"."""
    return frozenset(m.group().lower() for m in _EDITION_NAME.finditer(text))


def quoted_phrases(text: str) -> list[str]:
    """The phrases the query puts in double quotes, normalised (case, spaces), none empty."""
    phrases = []
    for match in _QUOTED.finditer(text):
        phrase = normalize(match.group(1) or match.group(2) or "")
        if phrase:
            phrases.append(phrase)
    return phrases


def normalize(text: str) -> str:
    """Lower case with runs of whitespace as one space: how quoted phrases are matched."""
    return " ".join(text.lower().split())


def _bare(token: str) -> str:
    return _POSSESSIVE.sub("", token.strip(_EDGE_PUNCTUATION)).strip(_EDGE_PUNCTUATION)


def is_identifier(token: str) -> bool:
    """Whether a word looks like a code, an identifier or a version rather than a word.

    Letters mixed with digits (QX-4821-ZE17, 0x87EC75F0, E404), three or more digit groups
    (7.31.905) and code names (HTTPException, allow_credentials), four characters or more.
    Plain numbers, decimals, measures (16GB, 1990s, 21st, 10-hour), plural acronyms (APIs),
    short codes and ordinary words are not.
    """
    word = _bare(token)
    # Short codes (P1, 4G, v2) are common words of a corpus, not something to match exactly:
    # with them, "first response time for a P1 ticket" put the escalation page above the SLA.
    if len(word) < 4 or _MEASURE.fullmatch(word) or _HYPHENED_MEASURE.fullmatch(word):
        return False
    if word.endswith("s") and word[:-1].isupper():
        return False
    if _HAS_DIGIT.search(word) and _HAS_LETTER.search(word):
        return True
    return bool(_DIGIT_GROUPS.fullmatch(word) or _CODE_NAME.search(word))


def identifier_tokens(text: str) -> list[str]:
    """The query's identifier-shaped words (at most MAX_IDENTIFIERS), bare, each once."""
    found = dict.fromkeys(_bare(w) for w in text.split() if is_identifier(w))
    return list(found)[:MAX_IDENTIFIERS]


def identifier_pattern(identifiers: Sequence[str]) -> re.Pattern[str]:
    """Any of the identifiers as a whole word, any case (7.31.905 is not in 7.31.905.2)."""
    alternatives = "|".join(re.escape(w) for w in sorted(identifiers, key=len, reverse=True))
    return re.compile(rf"(?<![\w.\-])(?:{alternatives})(?![\w]|[.\-]\w)", re.IGNORECASE)


def boost_terms(vector: SparseVector, terms: Sequence[SparseVector], factor: float) -> SparseVector:
    """`vector` with the weight of every index that `terms` use multiplied by `factor`."""
    chosen = {index for term in terms for index in term.indices}
    if factor == 1.0 or not chosen:
        return vector
    values = [
        value * factor if index in chosen else value
        for index, value in zip(vector.indices, vector.values, strict=True)
    ]
    return SparseVector(indices=list(vector.indices), values=values)


def exact_first(
    ranked: list[Candidate],
    payloads: Mapping[str, ChunkPayload],
    phrases: list[str],
    identifiers: list[str],
) -> list[Candidate]:
    """Candidates whose text holds the query's exact strings first, each group in order.

    Exact: every quoted phrase, and the query's identifier-shaped words as whole words,
    those holding more of them first. Only candidates in `payloads` (those read) can move. A
    word that many of them hold (more than a tenth, and than RARE_HOLDERS) is a common word
    of this corpus, not a code: it lifts nothing. Nothing moves when no text holds them.
    """
    held: dict[str, set[str]] = {}
    pattern = identifier_pattern(identifiers) if identifiers else None
    for candidate in ranked:
        payload = payloads.get(candidate.chunk_id)
        if payload is None:
            continue
        body = payload.title + "\n" + payload.text
        if phrases and not all(p in normalize(body) for p in phrases):
            continue
        held[candidate.chunk_id] = (
            {m.group(0).lower() for m in pattern.finditer(body)} if pattern else set()
        )
    if pattern is not None:
        holders = Counter(word for words in held.values() for word in words)
        common = max(RARE_HOLDERS, len(payloads) // 10)
        rare = {word for word, count in holders.items() if count <= common}
        # With a quoted phrase, its holders stay first whether or not they hold a code.
        held = {i: w & rare for i, w in held.items() if (w & rare) or phrases}
    if not held:
        return ranked
    first = sorted((c for c in ranked if c.chunk_id in held), key=lambda c: -len(held[c.chunk_id]))
    rest = [c for c in ranked if c.chunk_id not in held]
    fused = fusion.anchored(
        [(c.chunk_id, c.score) for c in (*first, *rest)], [c.chunk_id for c in first]
    )
    by_id = {c.chunk_id: c for c in ranked}
    return [replace(by_id[ident], score=score) for ident, score in fused]


def _family(title: str) -> str:
    """A title without its years, versions and numbers: "2011 Coastal Carolina ... team"."""
    return " ".join(w for w in re.findall(r"[a-z]+", _EDITION_NAME.sub(" ", title.lower())))


def named_first(
    ranked: list[Candidate], payloads: Mapping[str, ChunkPayload], names: frozenset[str]
) -> list[Candidate]:
    """Among the candidates whose titles name a year or version, those naming the query's first.

    "2011 Chanticleers season" asks for the 2011 season's page, which dense retrieval cannot
    tell from the 2010 one: the pages naming another year give up their places to it. Pages
    whose titles name no year keep theirs ("travel policy 2024" does not lift "Refund Policy
    (2024)" over the travel policy). Only candidates in `payloads` (those read) take part; a
    name held by more than half of them tells nothing.
    """
    titled: dict[int, tuple[str, bool]] = {}  # position -> (family, names the query's)
    for n, candidate in enumerate(ranked):
        payload = payloads.get(candidate.chunk_id)
        found = edition_names(payload.title) if payload is not None else frozenset()
        if found and payload is not None:
            titled[n] = (_family(payload.title), bool(names & found))
    # Only a family with a page naming the query's year reorders: the 2011 season's page
    # takes the 2012 one's place, "Refund Policy (2024)" not "Travel Policy (2023 edition)"'s.
    families = {family for family, hit in titled.values() if hit}
    slots = [n for n, (family, _) in sorted(titled.items()) if family in families]
    named = [ranked[n] for n in slots if titled[n][1]]
    siblings = [ranked[n] for n in slots if not titled[n][1]]
    if not named or not siblings or len(named) > len(payloads) // 2:
        return ranked
    # A named page takes its slot's score and a margin over the sibling after it, so that the
    # freshness fade and the review factors (a few per cent) do not swap them back; never
    # above a page outside the family ranked before it.
    scores = [c.score for c in ranked]
    margin = NAMED_MARGIN * ((max(scores) - min(scores)) or 1.0)
    moved = list(ranked)
    for k, (slot, candidate) in enumerate(zip(slots, (*named, *siblings), strict=True)):
        score = ranked[slot].score
        if k < len(named):
            ceiling = next(
                (ranked[n].score for n in range(slot - 1, -1, -1) if n not in slots), None
            )
            score += margin
            if ceiling is not None:
                score = min(score, (ceiling + ranked[slot].score) / 2)
        moved[slot] = replace(candidate, score=score)
    return moved
