"""Claims of permission, obligation and expiry ("X is (not) allowed", "must (not) reuse"), and
when two of them clash."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hygiene.conflicts.words import NEGATIONS, STOPWORDS, lemma


@dataclass(frozen=True, slots=True)
class Claim:
    """A permission, obligation or expiry claim: "X is (not) allowed", "must (not) reuse"."""

    group: str  # "permit", "oblige" or "expire"
    positive: bool
    predicate: str  # the verb a modal governs ("reuse"), "" when the subject itself is judged
    subject: frozenset[str]  # content words before the claim, in its clause
    objects: frozenset[str]  # content words after a modal's verb, in its clause
    phrase: str  # as written: "not permitted", "must be changed", "cannot reuse"


_PERMIT = frozenset({"allowed", "permitted", "allow", "allows", "permit", "permits"})
_FORBID = frozenset({"prohibited", "forbidden", "banned", "disallowed"})
_REQUIRE = frozenset({"required", "require", "requires", "mandatory", "needed", "compulsory"})
_EXPIRE = frozenset({"expire", "expires", "expired", "expiry", "expiration", "lapse", "lapses"})
_PERIODIC = frozenset({"changed", "change", "rotated", "rotate", "reset", "renewed", "renew"})
_MODAL_SKIP = frozenset({"not", "also", "only", "still", "always", "never", "be", "been"})


def claims_of(
    tokens: list[str], clauses: list[int], content: list[str], phrase: Callable[[int, int], str]
) -> tuple[Claim, ...]:
    """Permission, obligation and expiry claims; `phrase(i, j)` is tokens i..j as written."""
    claims: list[Claim] = []
    count = len(tokens)

    def subject(i: int) -> frozenset[str]:
        return frozenset(content[j] for j in range(i) if clauses[j] == clauses[i] and content[j])

    def objects(i: int) -> frozenset[str]:
        return frozenset(
            content[j] for j in range(i + 1, count) if clauses[j] == clauses[i] and content[j]
        )

    def negation_before(i: int) -> int | None:
        for j in range(i - 1, max(-1, i - 4), -1):
            if clauses[j] != clauses[i]:
                return None
            if tokens[j] in NEGATIONS:
                return j
        return None

    def judged(i: int, group: str, positive: bool) -> Claim:
        cue = negation_before(i)
        start = i if cue is None else cue
        positive = positive == (cue is None)
        return Claim(group, positive, "", subject(i), frozenset(), phrase(start, i))

    for i, token in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < count else ""
        if token in _PERMIT or token in _FORBID:
            claims.append(judged(i, "permit", token in _PERMIT))
        elif token in _REQUIRE or token == "optional":
            claims.append(judged(i, "oblige", token != "optional"))
        elif token in _EXPIRE or (token in _PERIODIC and "every" in tokens[i + 1 : i + 3]):
            # "must be changed every 90 days" says that passwords expire.
            claims.append(judged(i, "expire", True))
        elif token in ("can", "may", "must") or (token in ("need", "needs") and nxt == "to"):
            j = i + (2 if nxt == "to" else 1)
            negative = j < count and tokens[j] in ("not", "never")
            while j < count and tokens[j] in _MODAL_SKIP:
                j += 1
            if j >= count or tokens[j].startswith("<") or tokens[j] in _PERIODIC:
                continue
            verb = lemma(tokens[j]) if tokens[j] not in STOPWORDS else "be"
            if token in ("can", "may"):
                positive, group = not negative, "permit"
            elif token == "must":
                positive, group = not negative, "permit" if negative else "oblige"
            else:
                cue = negation_before(i)
                positive, group = cue is None, "oblige"
            claim = Claim(group, positive, verb, subject(i), objects(j), phrase(i, j))
            claims.append(claim)
        elif i == 0 and (token == "never" or (token == "do" and nxt == "not")):
            # An imperative prohibition: "Do not store passwords", "Never reuse a password".
            j = 1 if token == "never" else 2
            if j < count and not tokens[j].startswith("<"):
                # An imperative has no subject, only what it forbids.
                verb = lemma(tokens[j])
                claims.append(Claim("permit", False, verb, frozenset(), objects(j), phrase(0, j)))
    return tuple(claims)


def claims_clash(a: Claim, b: Claim) -> bool:
    if a.positive == b.positive or a.predicate != b.predicate:
        return False
    if a.group == b.group:
        return True
    # "required" against "not allowed": what is required is at least allowed.
    pair = {(a.group, a.positive), (b.group, b.positive)}
    return pair == {("oblige", True), ("permit", False)}
