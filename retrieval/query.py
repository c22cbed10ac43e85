"""What a query asks for exactly: identifier-shaped tokens and "quoted phrases".

Dense embeddings do not know error codes, ticket numbers, version strings or code names, and
BM25 weighs such a token like any other rare word: "troubleshooting error 0x87EC75F0" ranks
pages about troubleshooting errors above the one page that names the code. Identifier-shaped
tokens get a larger weight in the BM25 query, and a quoted phrase must appear in a result's
text for it to rank above those without it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from steward.domain import SparseVector

_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”')
_EDGE_PUNCTUATION = "\"'“”‘’()[]{}<>,;:!?."
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[^\W\d_]")
# Digit groups joined by separators: 7.31.905, 2024-11-05, 10/4.
_DIGIT_GROUPS = re.compile(r"\d+(?:[._\-/:]\d+)+")
# Inner capitals or underscores: HTTPException, allowCredentials, allow_credentials.
_CODE_NAME = re.compile(r"[a-z][A-Z]|[A-Z]{2,}[a-z]|[A-Za-z0-9]_[A-Za-z0-9]")


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


def is_identifier(token: str) -> bool:
    """Whether a word looks like a code, an identifier or a version rather than a word.

    Letters mixed with digits (QX-4821-ZE17, 0x87EC75F0, E404), digit groups joined by
    separators (7.31.905) and code names (HTTPException, allow_credentials), four characters
    or more. Plain numbers (years, counts), short codes and ordinary words are not.
    """
    word = token.strip(_EDGE_PUNCTUATION)
    # Short codes (P1, 4G, v2) are common words of a corpus, not something to match exactly:
    # with them, "first response time for a P1 ticket" put the escalation page above the SLA.
    if len(word) < 4:
        return False
    if _HAS_DIGIT.search(word) and _HAS_LETTER.search(word):
        return True
    return bool(_DIGIT_GROUPS.fullmatch(word) or _CODE_NAME.search(word))


def identifier_tokens(text: str) -> list[str]:
    """The query's identifier-shaped words, in order, without surrounding punctuation."""
    return [w.strip(_EDGE_PUNCTUATION) for w in text.split() if is_identifier(w)]


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
