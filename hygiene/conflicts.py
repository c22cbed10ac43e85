"""Value conflicts: statements of two similar texts about the same thing that give different values.

Each text is split into statements (sentences, list items, table rows). A statement's values
(money, percentages, durations, dates, versions, plain numbers) are masked, so two statements
"talk about the same thing" when their masked words are very similar, and they conflict when an
aligned value differs once normalized ("$5,000" equals "$5000", "1 hour" equals "60 minutes").
Two further rules need no value: a polarity flip of the same statement, or of a permission,
obligation or expiry claim about a shared subject (``negation``), and the same statement naming
a different product or tool (``named_value``).

Everything is rules and regular expressions: no model, no network. `analyze` does the per-text
work once, so a caller comparing one chunk against many can cache it; `compare` then costs
well under a millisecond for two chunks of about 200 words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher

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

# Durations in different units (one month, 30 days) are only a conflict beyond this relative gap.
DURATION_TOLERANCE = 0.1


@dataclass(frozen=True, slots=True)
class ValueConflict:
    """Two statements, one from each text, about the same thing with different values."""

    kind: str
    a_span: str
    b_span: str
    confidence: float
    a_value: str
    b_value: str


@dataclass(frozen=True, slots=True)
class Value:
    """A value as written in a statement and its normalized form for comparison."""

    kind: str
    raw: str
    norm: tuple[str | float, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    """A permission, obligation or expiry claim: "X is (not) allowed", "must (not) reuse"."""

    group: str  # "permit", "oblige" or "expire"
    positive: bool
    predicate: str  # the verb a modal governs ("reuse"), "" when the subject itself is judged
    subject: frozenset[str]  # content words before the claim, in its clause
    objects: frozenset[str]  # content words after a modal's verb, in its clause
    phrase: str  # as written: "not permitted", "must be changed", "cannot reuse"


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


# -- splitting into statements -------------------------------------------------------------------

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


# -- values --------------------------------------------------------------------------------------

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
# A value's digits must not be glued to an identifier: BW-350, 802.11ax, 24/7, +1-503-555-0199.
_B = r"(?<![\w./:+#@$€£¥])(?<!\w-)"
_E = r"(?![\w%]|[-/.:,]\d|[-/][A-Za-z])"
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
)
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
_DURATION_UNIT = (
    r"(?i:milliseconds?|ms|seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?|weeks?|months?"
    r"|years?|yrs?)"
)
_PHYSICAL_UNIT = (
    r"°\s?[CF]|kWh|Wh|mAh|kW|W|V|kg|g|mm|cm|km/h|km|m/s|m|GB|MB|TB|KB|Gbps|Mbps|GHz|MHz|Hz"
    r"|dB|lbs?|ft|px"
)
_DURATION_TAIL = (
    rf"(?:\s?-\s?|\s+|(?<=\d))(?P<qualifier>(?i:business|calendar|working)[\s-]+)?"
    rf"(?P<unit>{_DURATION_UNIT})(?![\w-])"
)
# Values that start with a digit, a currency or a "v". The lookahead rejects most positions with
# one character test; without it every alternative is tried at every character.
_VALUE = re.compile(
    r"(?=[\d$€£¥vVUCAEG])(?:"
    + "|".join(
        (
            rf"(?P<iso>{_B}\d{{4}}[-/]\d{{2}}[-/]\d{{2}}(?![\w-]))",
            rf"(?P<dmy>{_B}\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}\b)",
            r"(?P<time>(?<![\w:.])(?:(?:[01]?\d|2[0-3]):[0-5]\d(?:\s?(?i:am|pm)\b)?"
            r"|(?:1[0-2]|0?[1-9])\s?(?i:am|pm)\b)(?![\w:]))",
            r"(?P<money>(?<![\w$€£¥])(?:[$€£¥]|(?:US|CA|AU)\$|(?:USD|EUR|GBP|CHF)\s?)\s?"
            rf"{_NUM}(?:\s?(?i:k|m|bn|thousand|million|billion)\b)?)",
            rf"(?P<money2>{_B}{_NUM}\s?(?:USD|EUR|GBP|CHF|(?i:dollars?|euros?))\b)",
            rf"(?P<semver>{_B}\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.]+)?{_E})",
            rf"(?P<later>{_B}\d+(?:\.\d+)?(?=\s+(?:or|and)\s+(?:later|newer|higher|above|up)\b))",
            r"(?P<vee>(?<![\w.])[vV]\d+(?:\.\d+){0,2}(?![\w]|\.\d))",
            rf"(?P<percent>{_B}{_NUM}\s?(?:%|(?i:percent|per\s?cent)\b))",
            rf"(?P<duration>{_B}{_NUM}{_DURATION_TAIL})",
            rf"(?P<number>{_B}{_NUM}(?:\s?(?P<physical>{_PHYSICAL_UNIT})(?![\w/]))?{_E})",
        )
    )
    + ")"
)
# Values that start with a word: "March 1, 2024", "March 2024", "one month", "an hour".
_WORD_VALUE = re.compile(
    r"\b(?=[A-Za-z])(?:"
    + "|".join(
        (
            rf"(?P<mdy>{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,\s*|\s+)\d{{4}}\b)",
            rf"(?P<my>{_MONTH}\s+\d{{4}}\b)",
            rf"(?P<md>{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b)",
            r"(?P<duration>(?<![\w-])(?i:an?|one|two|three|four|five|six|seven|eight|nine|ten"
            rf"|eleven|twelve){_DURATION_TAIL})",
        )
    )
    + ")"
)
_DIGIT = re.compile(r"\d")


def _value_matches(text: str) -> list[re.Match[str]]:
    """Every value in a text, left to right, none overlapping another."""
    matches = list(_WORD_VALUE.finditer(text))
    if _DIGIT.search(text):
        matches += _VALUE.finditer(text)
        matches.sort(key=lambda m: m.start())
    kept: list[re.Match[str]] = []
    for match in matches:
        if not kept or match.start() >= kept[-1].end():
            kept.append(match)
    return kept


_MONTHS = {
    name: n
    for n, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_CURRENCIES = {
    "$": "USD",
    "us$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "¥": "JPY",
    "chf": "CHF",
    "ca$": "CAD",
    "au$": "AUD",
}
_MULTIPLIERS = {"k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6, "bn": 1e9, "billion": 1e9}
# Minutes per unit. A month is 30 days and a year 365: close enough to call "one month" and
# "30 days" the same, which is the conservative reading.
_MINUTES = {"millisecond": 1 / 60000, "second": 1 / 60, "minute": 1, "hour": 60, "day": 1440}
_MINUTES |= {"week": 10080}
_MINUTES |= {"month": 43200, "year": 525600}
_UNIT_NAMES = {"ms": "millisecond", "sec": "second", "secs": "second", "min": "minute"}
_UNIT_NAMES |= {"mins": "minute", "h": "hour", "hr": "hour", "hrs": "hour", "yr": "year"}
_UNIT_NAMES |= {"yrs": "year"}
_DIGITS = re.compile(_NUM)
_INTEGER = re.compile(r"\d+")
_NUMBER_CHARS = re.compile(r"[\d,.\s]")
_MULTIPLIER = re.compile(r"(?i:k|m|bn|thousand|million|billion)\b\s*\Z")
_MONTH_WORD = re.compile(r"[A-Za-z]{3,}")
_VERSION_CONTEXT = re.compile(r"(?:version|firmware|release|build|ver\.?)[\s:|]*\Z", re.I)
# Capitalized words that introduce a quantity rather than name a thing ("Maximum 5 robots").
_QUANTITY_WORDS = frozenset(
    "maximum minimum max min approximately approx roughly around nearly almost exactly total"
    " only about over under up".split()
)
_CAPITALIZED_BEFORE = re.compile(r"\b([A-Z][A-Za-z]*(?:-[A-Za-z]+)*)\s+\Z")


def _amount(text: str) -> float:
    found = _DIGITS.search(text)
    return float(found.group().replace(",", "")) if found else 0.0


def _value(match: re.Match[str], text: str) -> Value | None:
    """The Value of a match of _VALUE or _WORD_VALUE, or None for a number that is a label."""
    group = match.lastgroup
    raw = match.group()
    start = match.start()
    if group == "iso":
        return Value("date", raw, (raw.replace("/", "-"),))
    if group in ("mdy", "dmy", "my", "md"):
        month = _MONTHS[_MONTH_WORD.findall(raw)[0].lower()]
        numbers = [int(n) for n in _INTEGER.findall(raw)]
        year = next((f"{n:04d}" for n in numbers if n > 31), "")
        day = next((f"-{n:02d}" for n in numbers if n <= 31), "")
        return Value("date", raw, (f"{year or '-'}-{month:02d}{day}",))
    if group == "time":
        clock = [int(n) for n in _INTEGER.findall(raw)] + [0]
        hours, minutes = clock[0], clock[1]
        meridiem = raw[-2:].lower()
        if meridiem == "pm" and hours < 12:
            hours += 12
        elif meridiem == "am" and hours == 12:
            hours = 0
        return Value("date", raw, (f"T{hours:02d}:{minutes:02d}",))
    if group in ("money", "money2"):
        symbol = _MULTIPLIER.sub("", _NUMBER_CHARS.sub("", raw)).lower()
        multiplier = _MULTIPLIER.search(raw)
        amount = _amount(raw) * (_MULTIPLIERS[multiplier.group().lower()] if multiplier else 1)
        return Value("money", raw, (_CURRENCIES.get(symbol, symbol.upper()), amount))
    if group in ("semver", "later", "vee"):
        return Value("version", raw, _version(raw))
    if group == "percent":
        return Value("percentage", raw, (_amount(raw),))
    if group == "duration":
        head = raw.split(None, 1)[0].split("-", 1)[0].lower()
        count = float(_WORD_NUMBERS[head]) if head in _WORD_NUMBERS else _amount(raw)
        unit = match.group("unit").lower()
        unit = _UNIT_NAMES.get(unit) or unit.removesuffix("s")
        qualifier = (match.group("qualifier") or "calendar").strip(" -").lower()
        days = "calendar" if qualifier == "calendar" else "business"  # business or working
        return Value("duration", raw, (count * _MINUTES[unit], days, unit))
    unit = (match.group("physical") or "").replace(" ", "")
    prefix = text[max(0, start - 24) : start]
    plain_integer = "." not in raw and "," not in raw and not unit
    if plain_integer and 1900 <= _amount(raw) <= 2100 and len(raw) == 4:
        return Value("date", raw, (raw,))
    if "." in raw and not unit and _VERSION_CONTEXT.search(prefix):
        return Value("version", raw, _version(raw))
    before = _CAPITALIZED_BEFORE.search(prefix)
    word = before.group(1).lower() if before else ""
    if word and word not in _STOPWORDS and word not in _QUANTITY_WORDS:
        # "Tier 2", "Step 3", "Wi-Fi 6", "Fleet Manager 6.5": a name's number, not a quantity.
        if "." in raw and not unit:
            return Value("version", raw, _version(raw))
        if plain_integer:
            return None
    sign = -1.0 if text[max(0, start - 1) : start] in ("-", "−") else 1.0
    return Value("number", ("-" if sign < 0 else "") + raw, (sign * _amount(raw), unit))


def _version(raw: str) -> tuple[float, ...]:
    parts = [float(p) for p in _INTEGER.findall(raw.split("-", 1)[0].split("+", 1)[0])]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _same_value(a: Value, b: Value) -> bool:
    """Whether two values of one kind agree; when unsure (other units), they do."""
    if a.kind == "duration":
        if a.norm[1] != b.norm[1]:
            return True  # business days against calendar days: not comparable
        if a.norm[2] == b.norm[2]:
            return a.norm[0] == b.norm[0]
        minutes = sorted((float(a.norm[0]), float(b.norm[0])))
        return minutes[1] - minutes[0] <= DURATION_TOLERANCE * minutes[1]
    if a.kind in ("version", "date"):
        # "4.2" against "4.2.1", "2024" against "2024-03-01": one may just be less precise.
        shorter, longer = sorted((a.norm, b.norm), key=len)
        if a.kind == "date":
            return str(longer[0]).startswith(str(shorter[0]))
        return longer[: len(shorter)] == shorter
    if a.kind == "number" and a.norm[1] and b.norm[1] and a.norm[1] != b.norm[1]:
        return True  # 2 m against 200 cm: conversions are not attempted
    if a.kind == "number":
        return a.norm[0] == b.norm[0]
    return a.norm == b.norm


# -- words ---------------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from into onto up down out
    over under about above below after before within without between through during until than
    as is are was were be been being am do does did done have has had having will would shall
    should can could may might must it its this that these those there here their they them we
    our us you your yours he she his her i me my who whom which what when where why how all any
    each every some such only also not no nor never so too very just more most less least other
    others same own per via etc both either neither yes once off again further while because
    since whether whose one ones it's let lets get gets got use""".split()
)
_NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor"})
# "no later than 2 days", "no more than", "no less than" are bounds, not negations.
_NOT_NEGATION_AFTER_NO = frozenset({"later", "earlier", "more", "less", "fewer", "sooner"})
# A word ("on-call", "BW-350", "can't", "Care+") or a mark that ends a clause.
_TOKEN = re.compile(r"(\w+(?:['’\-./+&]\w+)*\+?)|([,;:()|])")
_CONTRACTIONS = {"ca": "can", "wo": "will", "sha": "shall"}


def _stem(word: str) -> str:
    """A light plural stem so that "codes" meets "code" and "passwords" meets "password"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _lemma(word: str) -> str:
    """A crude verb lemma: changed, changes and change all give "chang"."""
    for ending in ("ing", "ed", "es", "s"):
        if len(word) > len(ending) + 2 and word.endswith(ending):
            word = word[: -len(ending)]
            break
    return word.rstrip("e")


def _name_like(raw: str, initial: bool, bold: bool) -> bool:
    """Concur, LastPass, 1Password, **Navan**; not "The" at the start of a sentence."""
    if raw.islower() or not any(c.isalpha() for c in raw):
        return bold and raw.isalnum() and not raw.isdigit()
    if bold:
        return True
    if not any(c.isupper() for c in raw):
        return False
    inner_capital = any(c.isupper() for c in raw[1:]) and any(c.islower() for c in raw)
    if inner_capital or (raw[0].isdigit() and any(c.isupper() for c in raw)):
        return True
    if raw.isupper():
        return len(raw) > 1 and not initial
    return not initial and raw.lower() not in _STOPWORDS


# -- claims: permission, obligation, expiry -------------------------------------------------------

_PERMIT = frozenset({"allowed", "permitted", "allow", "allows", "permit", "permits"})
_FORBID = frozenset({"prohibited", "forbidden", "banned", "disallowed"})
_REQUIRE = frozenset({"required", "require", "requires", "mandatory", "needed", "compulsory"})
_EXPIRE = frozenset({"expire", "expires", "expired", "expiry", "expiration", "lapse", "lapses"})
_PERIODIC = frozenset({"changed", "change", "rotated", "rotate", "reset", "renewed", "renew"})
_MODAL_SKIP = frozenset({"not", "also", "only", "still", "always", "never", "be", "been"})


def _claims(
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
            if tokens[j] in _NEGATIONS:
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
            verb = _lemma(tokens[j]) if tokens[j] not in _STOPWORDS else "be"
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
                verb = _lemma(tokens[j])
                claims.append(Claim("permit", False, verb, frozenset(), objects(j), phrase(0, j)))
    return tuple(claims)


def _claims_clash(a: Claim, b: Claim) -> bool:
    if a.positive == b.positive or a.predicate != b.predicate:
        return False
    if a.group == b.group:
        return True
    # "required" against "not allowed": what is required is at least allowed.
    pair = {(a.group, a.positive), (b.group, b.positive)}
    return pair == {("oblige", True), ("permit", False)}


# -- analysing a statement -----------------------------------------------------------------------

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
    found = [(m, v) for m in _value_matches(clean) if (v := _value(m, clean)) is not None]
    words = _Words()
    clause = 0
    initial = True  # the first word of a sentence, a table cell or a "Label: text"
    pending = 0  # the next value of `found` to place
    value_end = -1
    for match in _TOKEN.finditer(clean):
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
            words.add(_CONTRACTIONS.get(base, base), raw[:-3], start, clause, initial)
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
        names.append(_name_like(raw, words.initials[n], strong))
        products.append(names[n] and (strong or _name_like(raw, True, False)))
    negations = 0
    if not _NEGATIONS.isdisjoint(tokens):
        negations = sum(
            1
            for n, t in enumerate(tokens)
            if t in _NEGATIONS
            and not (t == "no" and n + 1 < len(tokens) and tokens[n + 1] in _NOT_NEGATION_AFTER_NO)
        )
    stems = [_stem(t) for t in tokens]
    content = [
        ""
        if values[n] is not None or t in _STOPWORDS or (len(t) < 2 and not t.isdigit())
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
        claims=_claims(tokens, words.clauses, content, phrase),
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


# -- comparing -----------------------------------------------------------------------------------


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
    return statement.values[n] is None and statement.tokens[n] not in _STOPWORDS


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
                if not _same_value(value_a, value_b):
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
                if _claims_clash(claim_a, claim_b):
                    return _conflict("negation", a, b, confidence, claim_a.phrase, claim_b.phrase)
        negated, plain = (a, b) if a.negations % 2 else (b, a)
        at = next(n for n, t in enumerate(negated.tokens) if t in _NEGATIONS)
        flipped = " ".join(negated.raw[at : at + 2])
        word = negated.raw[at + 1] if at + 1 < len(negated.raw) else ""
        lower = word.lower()
        affirmed = word if lower in plain.tokens and lower not in _STOPWORDS else "(no negation)"
        a_value, b_value = (flipped, affirmed) if negated is a else (affirmed, flipped)
        return _conflict("negation", a, b, confidence, a_value, b_value)
    if swaps and not reworded and not renamed_only:
        confidence = NAMED_CONFIDENCE * (0.5 + 0.5 * ratio)
        return _conflict("named_value", a, b, confidence, swaps[0][0], swaps[0][1])
    return None


def _affirmed(statement: Statement) -> list[str]:
    pairs = zip(statement.tokens, statement.stems, strict=True)
    return [stem for t, stem in pairs if t not in _NEGATIONS and t not in ("do", "does")]


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
            if _claims_clash(claim_a, claim_b) and _topics_meet(a, b, claim_a, claim_b):
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
