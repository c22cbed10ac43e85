"""Values in a statement (money, percentages, durations, dates, versions, plain numbers),
normalized so that two can be compared: "$5,000" equals "$5000", "1 hour" equals "60 minutes"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hygiene.conflicts.words import STOPWORDS

# Durations in different units (one month, 30 days) are only a conflict beyond this relative gap.
DURATION_TOLERANCE = 0.1


@dataclass(frozen=True, slots=True)
class Value:
    """A value as written in a statement and its normalized form for comparison."""

    kind: str
    raw: str
    norm: tuple[str | float, ...]


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


def value_matches(text: str) -> list[re.Match[str]]:
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


def value_of(match: re.Match[str], text: str) -> Value | None:
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
    if word and word not in STOPWORDS and word not in _QUANTITY_WORDS:
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


def same_value(a: Value, b: Value) -> bool:
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
