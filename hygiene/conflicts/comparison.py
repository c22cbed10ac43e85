"""Comparing two analysed texts: statements about the same thing that give different values,
flip a claim, or swap a name; the thresholds behind "the same thing" and each kind's confidence."""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

from hygiene.conflicts.analysis import Analysed, Statement, analyze
from hygiene.conflicts.claims import Claim, claims_clash
from hygiene.conflicts.values import same_value
from hygiene.conflicts.words import NEGATIONS, STOPWORDS

KINDS = (
    "number",
    "money",
    "percentage",
    "duration",
    "date",
    "version",
    "negation",
    "named_value",
)

# -- thresholds, measured on examples/sample-kb -------------------------------------------------

# Two statements are about the same thing when, with values masked, their content words overlap
# this much (Jaccard), their stemmed word sequences match this much (difflib ratio), and they
# share enough content words. Measured on every statement pair of the sample KB (all 1,035
# document pairs): the 23 planted conflicts and the other real edits between the superseded
# pages reach Jaccard >= 0.44 and ratio >= 0.72 at worst ("File trip expenses in Concur within
# 60 days of your return." against the same sentence with a clause appended). The nearest
# pairs that differ in a value but must not pair are at ratio <= 0.64: the BW-200 datasheet's
# "Requires Fleet Manager 6.5 or later; 7.0 or later is recommended" against the BW-350's
# "7.0 or later" (0.64), a sentence whose values would be aligned wrongly (0.62), "Premium
# economy is allowed for flights of 6 hours" against "Economy class for flights under 8 hours"
# (0.50). One real conflict falls below too: a table row against a sentence giving another
# mileage rate (Jaccard 0.57, ratio 0.63); rewording that much is out of reach of this rule.
SAME_JACCARD = 0.4
SAME_RATIO = 0.7
# A pair needs this many shared content words: "Certifications are valid for 2 years" and
# "Quotes are valid for 30 days" match at ratio 0.80 on a single shared word.
SAME_SHARED = 2

VALUE_CONFIDENCE = {
    "money": 1.0,
    "percentage": 1.0,
    "date": 0.95,
    "version": 0.95,
    "duration": 0.95,
    # A bare number is the most ambiguous value: a count, a label that slipped through, a size.
    "number": 0.85,
}
NAMED_CONFIDENCE = 0.85
# Applied when, besides the value, a content word was swapped for another (see the use).
SUBSTITUTION_PENALTY = 0.7
FLIP_CONFIDENCE = 0.8
CLAIM_CONFIDENCE = 0.7
LOOSE_NAMED_CONFIDENCE = 0.6


@dataclass(frozen=True, slots=True)
class ValueConflict:
    """Two statements, one from each text, about the same thing with different values."""

    kind: str
    a_span: str
    b_span: str
    confidence: float
    a_value: str
    b_value: str


def _conflict(
    kind: str, a: Statement, b: Statement, confidence: float, a_value: str, b_value: str
) -> ValueConflict:
    return ValueConflict(kind, a.span, b.span, round(confidence, 3), a_value, b_value)


def _name_run(statement: Statement, start: int, end: int) -> str:
    """The name-like words of tokens start..end, widened to the whole name ("IT Help Desk")."""
    while start > 0 and statement.names[start - 1]:
        start -= 1
    while end < len(statement.tokens) and statement.names[end]:
        end += 1
    return " ".join(statement.raw[start:end])


def _has_label(statement: Statement, start: int, end: int) -> bool:
    """Whether tokens start..end hold an identifier with digits: Tier 2, P1, BW-350."""
    return any(
        statement.values[n] is None and any(c.isdigit() for c in statement.tokens[n])
        for n in range(start, end)
    )


_PERIODS = frozenset(
    "january february april june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


def _has_period(statement: Statement, start: int, stop: int) -> bool:
    """A month or weekday name among these tokens (the subject's time, not its value)."""
    return any(statement.tokens[n] in _PERIODS for n in range(start, stop))


def _is_word(statement: Statement, n: int) -> bool:
    return statement.values[n] is None and statement.tokens[n] not in STOPWORDS


def _same_thing_conflict(
    a: Statement, b: Statement, ratio: float, matcher: SequenceMatcher[str]
) -> ValueConflict | None:
    """For two statements about the same thing: a differing value, a flip or a name swap."""
    swaps: list[tuple[str, str]] = []
    substituted = reworded = renamed_only = False
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and _has_label(a, a0, a1) and _has_label(b, b0, b1):
            return None  # "Tier 2" against "Tier 3", "P1" against "P2": two different things
        if op == "replace" and _has_period(a, a0, a1) and _has_period(b, b0, b1):
            return None  # "an average June day" against "an average February day"
        a_names = {a.tokens[n] for n in range(a0, a1) if a.names[n]}
        b_names = {b.tokens[n] for n in range(b0, b1) if b.names[n]}
        a_words = any(_is_word(a, n) and not a.names[n] for n in range(a0, a1))
        b_words = any(_is_word(b, n) and not b.names[n] for n in range(b0, b1))
        if op == "replace" and a_names and b_names:
            # Names that were only moved around are no swap.
            renamed_only |= bool(a_names & set(b.tokens) or b_names & set(a.tokens))
            swaps.append((_name_run(a, a0, a1), _name_run(b, b0, b1)))
        reworded |= a_words or b_words or (op != "replace" and bool(a_names or b_names))
        substituted |= op == "replace" and a_words and b_words
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            value_a, value_b = a.values[block.a + k], b.values[block.b + k]
            if value_a and value_b and value_a.kind == value_b.kind:
                if not same_value(value_a, value_b):
                    confidence = VALUE_CONFIDENCE[value_a.kind] * (0.5 + 0.5 * ratio)
                    if substituted:
                        # "Book flights 14 days ahead" against "Book hotels 7 days ahead": a
                        # word swapped for another may mean another subject, not another value.
                        confidence *= SUBSTITUTION_PENALTY
                    return _conflict(value_a.kind, a, b, confidence, value_a.raw, value_b.raw)
    if a.negations % 2 != b.negations % 2:
        confidence = FLIP_CONFIDENCE * (0.5 + 0.5 * ratio)
        for claim_a in a.claims:
            for claim_b in b.claims:
                if claims_clash(claim_a, claim_b):
                    return _conflict("negation", a, b, confidence, claim_a.phrase, claim_b.phrase)
        negated, plain = (a, b) if a.negations % 2 else (b, a)
        at = next(n for n, t in enumerate(negated.tokens) if t in NEGATIONS)
        flipped = " ".join(negated.raw[at : at + 2])
        word = negated.raw[at + 1] if at + 1 < len(negated.raw) else ""
        lower = word.lower()
        affirmed = word if lower in plain.tokens and lower not in STOPWORDS else "(no negation)"
        a_value, b_value = (flipped, affirmed) if negated is a else (affirmed, flipped)
        return _conflict("negation", a, b, confidence, a_value, b_value)
    if swaps and not reworded and not renamed_only:
        confidence = NAMED_CONFIDENCE * (0.5 + 0.5 * ratio)
        return _conflict("named_value", a, b, confidence, swaps[0][0], swaps[0][1])
    return None


def _affirmed(statement: Statement) -> list[str]:
    pairs = zip(statement.tokens, statement.stems, strict=True)
    return [stem for t, stem in pairs if t not in NEGATIONS and t not in ("do", "does")]


def _keys_agree(a: Statement, b: Statement) -> bool:
    """Table rows are about the same thing only when their first cells name the same thing."""
    return a.key is None or b.key is None or a.key == b.key


def _topics_meet(a: Statement, b: Statement, claim_a: Claim, claim_b: Claim) -> bool:
    """Whether two claims are about the same thing."""
    # A shared subject word ("Passwords"), two shared object words ("store passwords in
    # browsers"), or a subject the other statement mentions ("SMS codes" in "MFA ... an SMS code").
    if claim_a.subject & claim_b.subject or len(claim_a.objects & claim_b.objects) >= 2:
        return True
    return len(claim_a.subject & b.content) >= 2 or len(claim_b.subject & a.content) >= 2


def _pair(a: Statement, b: Statement) -> ValueConflict | None:
    """The most specific conflict between two statements, if any, except the loose name rule."""
    shared = a.content & b.content
    jaccard = len(shared) / (len(a.content | b.content) or 1)
    # Two rows of one table keyed alike ("| Runtime | ...") share their key and need no more.
    rows = a.key is not None and a.key == b.key
    same = len(shared) >= (1 if rows else SAME_SHARED) and jaccard >= SAME_JACCARD
    # "All employees use LastPass" against "... 1Password": the only content words that differ
    # are names, so the opcodes decide (a name swap and nothing else).
    renamed = a.content - shared <= a.name_words and b.content - shared <= b.name_words
    if (same or (renamed and shared)) and _keys_agree(a, b):
        matcher = SequenceMatcher(None, a.stems, b.stems, autojunk=False)
        ratio = matcher.ratio()
        if ratio < SAME_RATIO and a.negations % 2 != b.negations % 2:
            # A polarity flip differs by its negation words themselves ("Do not store
            # passwords in browsers" against "You may store passwords in browsers").
            ratio = SequenceMatcher(None, _affirmed(a), _affirmed(b), autojunk=False).ratio()
        if ratio >= SAME_RATIO:
            found = _same_thing_conflict(a, b, ratio, matcher)
            if found:
                return found
    for claim_a in a.claims:
        for claim_b in b.claims:
            if claims_clash(claim_a, claim_b) and _topics_meet(a, b, claim_a, claim_b):
                return _conflict("negation", a, b, CLAIM_CONFIDENCE, claim_a.phrase, claim_b.phrase)
    return None


def _loose_names(
    a: Statement, b: Statement, a_text: Analysed, b_text: Analysed
) -> ValueConflict | None:
    """Different product-like names in the same slot after a shared topic word.

    "The on-call tool is PagerDuty" against "... pages the engineering on-call through Opsgenie".
    Each name must be absent from the whole other text: a text that mentions both names is
    probably comparing them, not disagreeing.
    """
    for slot_a in a.slots:
        for slot_b in b.slots:
            if (
                slot_a.name != slot_b.name
                and slot_a.topic & slot_b.topic
                and slot_a.name not in b_text.vocabulary
                and slot_b.name not in a_text.vocabulary
            ):
                return _conflict(
                    "named_value", a, b, LOOSE_NAMED_CONFIDENCE, slot_a.written, slot_b.written
                )
    return None


def compare(a: Analysed, b: Analysed) -> list[ValueConflict]:
    """Conflicts between two analysed texts, at most one per pair of statements, best first."""
    a_norms = {s.norm for s in a.statements}
    b_norms = {s.norm for s in b.statements}
    pairs: list[tuple[int, int]] = []
    for i, statement_a in enumerate(a.statements):
        # A statement the other text states word for word is agreed on; its near matches there
        # are other facts ("Book flights 14 days ahead" next to "Book hotels 7 days ahead").
        if statement_a.norm in b_norms or statement_a.metadata or not statement_a.asserts:
            continue
        candidates = {j for word in statement_a.content for j in b.by_word.get(word, ())}
        pairs.extend(
            (i, j)
            for j in sorted(candidates)
            if b.statements[j].norm not in a_norms
            and not b.statements[j].metadata
            and b.statements[j].asserts
        )
    found: dict[tuple[int, int], ValueConflict] = {}
    for i, j in pairs:
        conflict = _pair(a.statements[i], b.statements[j])
        if conflict:
            found[i, j] = conflict
    # The loose rule is a fallback for statements worded differently; a statement already in a
    # conflict has had its difference explained, and a second, looser one would be noise.
    used_a = {i for i, _ in found}
    used_b = {j for _, j in found}
    for i, j in pairs:
        if i not in used_a and j not in used_b and a.statements[i].slots:
            conflict = _loose_names(a.statements[i], b.statements[j], a, b)
            if conflict:
                found[i, j] = conflict
    ranked = sorted(found.items(), key=lambda item: (-item[1].confidence, item[0]))
    return [conflict for _, conflict in ranked]


def compare_texts(a: str, b: str) -> list[ValueConflict]:
    """Statements of a and b about the same thing that give different values."""
    return compare(analyze(a), analyze(b))
