"""Turn a BEIR set into a messy knowledge base on disk, the way real ones drift, with its truth.

Every passage becomes a markdown page `kb/<team>/<slug>-<id>.md` (front matter `title` and
`updated`, mtime set to that date). Then, deterministically for a seed, some pages gain stale
exact copies in other teams' folders, boilerplate-wrapped exports, superseded older versions
with changed values in an `archive/` folder, and paraphrased pages on the same topic that are
not duplicates. `truth.json` beside the `kb/` folder says which is which (paths relative to
`kb/`):

- `documents`: path -> {beir_id, role: original|copy|near_copy|superseded|paraphrase, of};
- `duplicates`: clusters, the original first; `paraphrases`: [original, paraphrase] pairs;
- `superseded`: {old, current, changes: [{kind, old, new}]}, `old` being in the old text;
- `conflicts`: {a: old, b: current, kind, a_value, b_value}, one per value change or negation;
  with `shared_with: current` when b is another page stating the current value in the same
  words (MS MARCO passages often share sentences);
- `natural_duplicates` ([a, b, jaccard]) and `natural_conflicts` ([a, b]): originals that were
  already near-duplicates, or stated one thing with different numbers, in the source. They get
  no derivatives, and a scorer should not count what is said about them as right or wrong;
- `qrels` remapped to the original pages only, `queries`, `params`.

    python benchmarks/messy_kb.py --data ../shared/datasets/msmarco-5k --out /tmp/messy
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any, TypeVar

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evaluation.beir import load_beir  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"

TEAMS = ("hr", "finance", "engineering", "support", "it", "legal", "sales")
# Shares of the corpus size: how many extra files of each kind to write.
SHARES = {"copy": 0.08, "near_copy": 0.05, "superseded": 0.08, "paraphrase": 0.03}
JUDGED_SHARE = 0.8  # of the pages given a derivative, this share is judged relevant somewhere
SECOND_COPY_SHARE = 0.2  # originals with a copy that get a second one
NEAR_COPY_OF_COPIED_SHARE = 0.2  # near-copies of originals that also have an exact copy
VALUE_CHANGE_SHARE = 0.85  # superseded versions whose change is a value (the rest: text)
PARAPHRASE_MAX_JACCARD = 0.45  # word 3-shingle overlap with the original, well below a copy's
# Source passages that already overlap this much (MS MARCO has many from one web page) are
# recorded as natural near-duplicates and given no derivatives, so the truth stays unambiguous.
NATURAL_DUP_JACCARD = 0.5

ORIGINAL_DATES = (date(2025, 1, 1), date(2026, 10, 31))
STALE_COPY_FLOOR = date(2024, 1, 1)
SUPERSEDED_DATES = (date(2023, 1, 1), date(2024, 12, 31))
ARCHIVE_SUFFIXES = ("2023", "old", "v1")

# Real exports repeat the same few lines on every page.
NAV_LINE = "Home | Docs | Search"
EXPORT_LINES = (
    "Exported from Confluence on 2024-05-02",
    "Exported from Confluence on 2024-11-18",
    "Exported from SharePoint on 2025-02-10",
)
FOOTER_LINES = (
    "Was this page helpful? Yes | No",
    "Questions? Contact the knowledge team at kb@example.com",
)
COPYRIGHT_LINE = "© 2025 Example Corp. Internal use only."

GENERIC_SENTENCES = (
    "Here is a short overview of the topic.",
    "The points below summarise what is generally understood about it.",
    "This note collects the essentials in one place.",
    "In brief, the main facts are as follows.",
)
# Said in an old version in place of a sentence the current one has.
REPLACED_SENTENCES = (
    "This section is still being reviewed and may change.",
    "Details are to be confirmed by the owning team.",
    "Further information will be added in a later revision.",
)

SYNONYMS = {
    "about": "roughly",
    "allow": "permit",
    "allows": "permits",
    "also": "additionally",
    "area": "region",
    "because": "since",
    "begin": "start",
    "big": "large",
    "buy": "purchase",
    "common": "frequent",
    "different": "distinct",
    "each": "every",
    "enough": "sufficient",
    "fast": "quick",
    "find": "locate",
    "get": "obtain",
    "help": "assist",
    "however": "nevertheless",
    "important": "significant",
    "include": "comprise",
    "includes": "comprises",
    "large": "big",
    "make": "create",
    "makes": "creates",
    "many": "numerous",
    "need": "require",
    "needs": "requires",
    "often": "frequently",
    "people": "individuals",
    "provide": "supply",
    "provides": "supplies",
    "quickly": "rapidly",
    "several": "a number of",
    "show": "demonstrate",
    "shows": "demonstrates",
    "small": "little",
    "start": "begin",
    "type": "kind",
    "types": "kinds",
    "typically": "usually",
    "usually": "typically",
    "use": "employ",
    "used": "employed",
    "very": "highly",
    "whole": "entire",
}

VALUE_KINDS = ("money", "percent", "duration", "year", "number")
_BEFORE = r"(?<![\w.,/:$-])"
_AFTER = r"(?![\w/:%]|[.,]\d|-\d)"
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_UNITS = r"seconds?|minutes?|hours?|days?|weeks?|months?|years?"
VALUE = re.compile(
    rf"(?P<money>(?<![\w$])\$(?:{_NUM}){_AFTER})"
    rf"|(?P<percent>{_BEFORE}(?:\d+(?:\.\d+)?)(?:\s?%|\s(?:percent|per cent)\b))"
    rf"|(?P<duration>{_BEFORE}(?:{_NUM})(?:\s|-)(?:{_UNITS})\b)"
    rf"|(?P<year>{_BEFORE}(?:1[6-9]|20)\d\d{_AFTER})"
    # A bare number counts only as a quantity of something ("206 bones"), not a list marker.
    rf"|(?P<number>{_BEFORE}(?<![(#])(?:{_NUM}){_AFTER}(?=\s+[A-Za-z]))"
)
NEGATABLE = re.compile(r"\b(is|are|was|were|can|will|should|must)\b")
NEGATED = {"can": "cannot"}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
WORD = re.compile(r"\w+")
# Any number, for matching statements across passages with their numbers masked.
NUMBERISH = re.compile(r"\$?\d+(?:[.,:/]\d+)*(?:\s?%)?")
PLACEHOLDER = "_n_"
LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]?\s+(?=[A-Za-z])")

T = TypeVar("T")


# -- pages on disk -------------------------------------------------------------------------


def render_page(title: str, updated: date, body: str) -> str:
    """A markdown page with YAML front matter (the title JSON-quoted, which is valid YAML)."""
    return f"---\ntitle: {json.dumps(title)}\nupdated: {updated.isoformat()}\n---\n\n{body}\n"


def read_page(path: Path) -> tuple[dict[str, Any], str]:
    """Front matter and body of a page written by `render_page`."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}, text.strip("\n")
    head, _, body = text[4:].partition("\n---\n")
    return dict(yaml.safe_load(head) or {}), body.strip("\n")


def _write_page(kb: Path, relpath: str, title: str, updated: date, body: str) -> None:
    path = kb / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_page(title, updated, body), encoding="utf-8")
    stamp = datetime(updated.year, updated.month, updated.day, 12, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))


def _title_of(record: dict[str, str]) -> str:
    if record["title"].strip():
        return record["title"].strip()
    words = record["text"].split()[:6]
    return " ".join(words).rstrip(".,;:!?-") or "Untitled"


def _slug(title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())[:6]
    return "-".join(words)[:50].strip("-") or "page"


def _random_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text.strip()) if s.strip()]


def shingles(text: str, k: int = 3) -> set[tuple[str, ...]]:
    """Lower-cased word k-shingles."""
    words = WORD.findall(text.lower())
    return {tuple(words[i : i + k]) for i in range(max(1, len(words) - k + 1))}


def shingle_jaccard(a: str, b: str, k: int = 3) -> float:
    """Jaccard overlap of lower-cased word k-shingles."""
    left, right = shingles(a, k), shingles(b, k)
    return len(left & right) / len(left | right) if left | right else 1.0


def natural_near_duplicates(
    texts: dict[str, str], threshold: float = NATURAL_DUP_JACCARD
) -> list[tuple[str, str, float]]:
    """Pairs of source passages that already overlap by `threshold` or more (id order kept)."""
    sets = {doc_id: shingles(text) for doc_id, text in texts.items()}
    postings: dict[tuple[str, ...], list[str]] = {}
    for doc_id, shingle_set in sets.items():
        for shingle in shingle_set:
            postings.setdefault(shingle, []).append(doc_id)
    # A pair that overlaps this much shares rare shingles too: skip the very common ones.
    candidates = {
        (ids[i], ids[j])
        for ids in postings.values()
        if 1 < len(ids) <= 100
        for i in range(len(ids))
        for j in range(i + 1, len(ids))
    }
    found = []
    for a, b in sorted(candidates):
        jaccard = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
        if jaccard >= threshold:
            found.append((a, b, round(jaccard, 3)))
    return found


# -- changes for superseded versions --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One edit between an old version and the current one: `old` is in the old text."""

    kind: str
    old: str
    new: str
    at: tuple[int, int] = (0, 0)  # where the changed part sits in the current text

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "old": self.old, "new": self.new}


def _format_like(template: str, value: float) -> str:
    digits = template.split(".", 1)[1] if "." in template else ""
    decimals = len(re.match(r"\d*", digits).group()) if digits else 0  # type: ignore[union-attr]
    text = f"{value:,.{decimals}f}" if "," in template else f"{value:.{decimals}f}"
    return text


def _parse_number(text: str) -> float:
    return float(text.replace(",", ""))


def _changed_value(kind: str, token: str, rng: random.Random) -> str | None:
    """The old version's form of `token` (a value in the current text), or None."""
    if kind == "money":
        amount = _parse_number(token[1:])
        for factor in rng.sample((0.5, 0.75, 0.8, 1.25, 1.5, 2.0), 6):
            candidate = "$" + _format_like(token[1:], amount * factor)
            if candidate != token and _parse_number(candidate[1:]) > 0:
                return candidate
        return None
    if kind == "percent":
        number = re.match(r"\d+(?:\.\d+)?", token).group()  # type: ignore[union-attr]
        value = _parse_number(number)
        shifted = value + rng.choice((-5, -3, -2, 2, 3, 5, 10))
        if shifted <= 0:
            shifted = value + 5
        return _format_like(number, shifted) + token[len(number) :]
    if kind == "duration":
        match = re.match(rf"({_NUM})([\s-])(\w+)", token)
        if match is None:
            return None
        number, gap, unit = match.groups()
        value = _parse_number(number)
        options = [value * 2, value + 1] + ([value / 2] if value >= 4 else [])
        new_value = rng.choice(options)
        if "." not in number:
            new_value = round(new_value)
        if gap == " ":  # "1 day" / "3 days"; the hyphenated "3-day" stays singular
            singular = unit[:-1] if unit.endswith("s") else unit
            unit = singular if new_value == 1 else singular + "s"
        return f"{_format_like(number, new_value)}{gap}{unit}"
    if kind == "year":
        return str(int(token) + rng.choice((-3, -2, -1, 1, 2)))
    value = _parse_number(token)
    if value < 10 and "." not in token:
        return str(int(value) + rng.choice((1, 2, 3)))
    for factor in rng.sample((0.5, 0.8, 1.25, 1.5, 2.0), 5):
        candidate = _format_like(token, value * factor)
        if candidate != token and _parse_number(candidate) > 0:
            return candidate
    return None


def value_change(text: str, rng: random.Random) -> tuple[str, list[Change]] | None:
    """The text of an older version with one or two values changed, or None without values."""
    found = [
        (m.start(), m.end(), kind, m.group())
        for m in VALUE.finditer(text)
        for kind in VALUE_KINDS
        if m.group(kind)
    ]
    if not found:
        return None
    # Money, percentages and durations are what readers act on: pick them first.
    weights = {"money": 4, "percent": 4, "duration": 3, "year": 2, "number": 1}
    count = 2 if len(found) > 1 and rng.random() < 0.2 else 1
    picked: list[tuple[int, int, str, str]] = []
    pool = list(found)
    while pool and len(picked) < count:
        choice = rng.choices(pool, weights=[weights[f[2]] for f in pool])[0]
        pool.remove(choice)
        picked.append(choice)
    edits: list[tuple[int, int, str, Change]] = []
    for start, end, kind, token in sorted(picked):
        replacement = _changed_value(kind, token, rng)
        if replacement is None or replacement == token:
            continue
        edits.append(
            (start, end, replacement, Change(kind, old=replacement, new=token, at=(start, end)))
        )
    if not edits:
        return None
    old_text = text
    for start, end, replacement, _ in reversed(edits):
        old_text = old_text[:start] + replacement + old_text[end:]
    return old_text, [change for *_, change in edits]


def _line_sentence_spans(text: str) -> list[tuple[int, int]]:
    """The spans of the sentences of each line that is not a heading (Markdown pages)."""
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip() and not line.lstrip().startswith("#"):
            spans += [(offset + a, offset + b) for a, b in sentence_spans(line)]
        offset += len(line) + 1
    return spans


def text_change(text: str, rng: random.Random) -> tuple[str, list[Change]] | None:
    """An older version with a statement negated, or a sentence swapped for another.

    The edit is made in place: the page's other sentences, its paragraphs and headings stay
    as they are (joining the sentences with spaces ran a Markdown page's headings and
    paragraphs into one line, an edit no owner makes).
    """
    spans = _line_sentence_spans(text)
    parts = [text[start:end] for start, end in spans]
    negatable = [i for i, s in enumerate(parts) if NEGATABLE.search(s)]
    if negatable and (len(parts) < 2 or rng.random() < 0.5):
        index = rng.choice(negatable)
        current = parts[index]
        verb = NEGATABLE.search(current)
        assert verb is not None
        old = current[: verb.start()] + NEGATED.get(verb.group(1), verb.group(1) + " not")
        old += current[verb.end() :]
        start, end = spans[index]
        at = (start + verb.start(), start + verb.end())
        return text[:start] + old + text[end:], [Change("negation", old=old, new=current, at=at)]
    if len(parts) >= 2:
        # Each sentence with what follows it up to the next one (a space, a paragraph break).
        pieces = [
            [parts[i], text[spans[i][1] : spans[i + 1][0] if i + 1 < len(spans) else len(text)]]
            for i in range(len(spans))
        ]
        index = rng.randrange(len(parts))
        dropped, after = pieces.pop(index)
        if index > 0:  # the paragraph break or heading after the dropped sentence stays
            joined = pieces[index - 1][1] + after
            if "\n" in joined:
                pieces[index - 1][1] = joined.strip(" ")
            else:  # the text's own ending when the dropped sentence ended it
                pieces[index - 1][1] = after if index == len(pieces) else " "
        added = rng.choice(REPLACED_SENTENCES)
        where = rng.randrange(len(pieces) + 1)
        if where == len(pieces):
            pieces[-1][1], tail = " ", pieces[-1][1]
            pieces.append([added, tail])
        else:
            pieces.insert(where, [added, " "])
        edited = text[: spans[0][0]] + "".join(sentence + after for sentence, after in pieces)
        return edited, [Change("sentence_replaced", old=added, new=dropped)]
    return None


def sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    position = 0
    for sentence in sentences(text):
        start = text.find(sentence, position)
        spans.append((start, start + len(sentence)))
        position = start + len(sentence)
    return spans


def statement(sentence: str) -> tuple[str, tuple[str, ...]] | None:
    """A sentence's wording with its numbers masked, and the numbers; None when too short."""
    sentence = LIST_MARKER.sub("", sentence)  # "2  Haemophilus ..." in one, unnumbered in another
    words = WORD.findall(NUMBERISH.sub(f" {PLACEHOLDER} ", sentence).lower())
    if sum(word != PLACEHOLDER for word in words) < 5:
        return None
    values = tuple(re.sub(r"[$,\s]", "", v) for v in NUMBERISH.findall(sentence))
    return " ".join(words), values


class Statements:
    """Which passages make which statement: the same wording, numbers masked.

    MS MARCO passages often share sentences. Two that say the same thing with other numbers
    already conflict in the source; and an old version's changed value also contradicts every
    other page that states the current value in the same words.
    """

    def __init__(self, texts: dict[str, str], titles: dict[str, str] | None = None) -> None:
        self.texts = texts
        self.titles = titles or {}
        self.words = {
            doc_id: f" {' '.join(WORD.findall(t.lower()))} " for doc_id, t in texts.items()
        }
        self.by_wording: dict[str, dict[str, tuple[str, ...]]] = {}
        for doc_id, text in texts.items():
            for start, end in sentence_spans(text):
                found = statement(text[start:end])
                if found is not None:
                    self.by_wording.setdefault(found[0], {}).setdefault(doc_id, found[1])

    def conflicts(self) -> list[tuple[str, str]]:
        """Pairs of passages that state one thing with different numbers."""
        pairs = set()
        for wording, stated in self.by_wording.items():
            if PLACEHOLDER in wording.split() and 1 < len(stated) <= 50:
                for a, b in combinations(sorted(stated), 2):
                    if stated[a] != stated[b] and not self._names_subjects(a, b, stated):
                        pairs.add((a, b))
        return sorted(pairs)

    def _names_subjects(self, a: str, b: str, stated: dict[str, tuple[str, ...]]) -> bool:
        """Whether every value that differs is written in its own page's title: "The 2010
        ... football team" against "The 2012 ...", two seasons, not a disagreement."""
        named_a, named_b = (
            {re.sub(r"[$,\s]", "", v) for v in NUMBERISH.findall(self.titles.get(d, ""))}
            for d in (a, b)
        )
        differ = [(x, y) for x, y in zip(stated[a], stated[b], strict=False) if x != y]
        return bool(differ) and all(x in named_a and y in named_b for x, y in differ)

    def echoes(self, doc_id: str, at: tuple[int, int]) -> list[str]:
        """Other passages stating what `doc_id` states around `at`: the same sentence, or the
        same words on either side (where sentences split differently)."""
        text = self.texts[doc_id]
        start, end = next(((s, e) for s, e in sentence_spans(text) if s <= at[0] < e), at)
        found = statement(text[start:end])
        stated = self.by_wording.get(found[0], {}) if found else {}
        same = {d for d, values in stated.items() if found and values == found[1]}
        before = WORD.findall(text[start : at[0]].lower())[-5:]
        after = WORD.findall(text[at[1] : end].lower())[:5]
        window = before + WORD.findall(text[at[0] : at[1]].lower()) + after
        if len(window) >= 6:
            phrase = f" {' '.join(window)} "
            same |= {d for d, words in self.words.items() if phrase in words}
        return sorted(same - {doc_id})


# -- paraphrases ----------------------------------------------------------------------------


def _swap_synonyms(sentence: str) -> str:
    def swap(match: re.Match[str]) -> str:
        word = match.group()
        replacement = SYNONYMS.get(word.lower())
        if replacement is None:
            return word
        return replacement.capitalize() if word[0].isupper() else replacement

    return WORD.sub(swap, sentence)


def paraphrase(text: str, rng: random.Random) -> str | None:
    """Same topic, other wording: half the sentences, reordered, synonyms, a generic line."""
    parts = sentences(text)
    if len(parts) < 2:
        return None
    kept = rng.sample(parts, math.ceil(len(parts) / 2))
    rewritten = [_swap_synonyms(s) for s in kept]
    rewritten.insert(rng.choice((0, len(rewritten))), rng.choice(GENERIC_SENTENCES))
    result = " ".join(rewritten)
    if len(WORD.findall(result)) < 12 or shingle_jaccard(text, result) >= PARAPHRASE_MAX_JACCARD:
        return None
    return result


# -- selection ------------------------------------------------------------------------------


def _pick(
    judged: list[str],
    unjudged: list[str],
    count: int,
    used: set[str],
    accept: Callable[[str], T | None],
) -> list[tuple[str, T]]:
    """`count` unused ids, JUDGED_SHARE of them judged, each with what `accept` made of it."""
    chosen: list[tuple[str, T]] = []

    def take(pool: Iterable[str], limit: int) -> None:
        taken = 0
        for doc_id in pool:
            if taken >= limit or len(chosen) >= count:
                return
            if doc_id in used:
                continue
            made = accept(doc_id)
            if made is not None:
                used.add(doc_id)
                chosen.append((doc_id, made))
                taken += 1

    want_judged = round(count * JUDGED_SHARE)
    take(judged, want_judged)
    take(unjudged, count - len(chosen))
    take(judged, count - len(chosen))  # top up when the unjudged pool ran short
    return chosen


def _other_team(rng: random.Random, *avoid: str) -> str:
    return rng.choice([t for t in TEAMS if t not in avoid])


# -- the generator --------------------------------------------------------------------------


def generate(beir_dir: Path, out_dir: Path, seed: int = 7) -> dict[str, Any]:
    """Write `out_dir/kb/` and `out_dir/truth.json`; return the truth."""
    dataset = load_beir(beir_dir)
    kb = out_dir / "kb"
    if kb.exists() and any(kb.iterdir()):
        raise FileExistsError(f"{kb} is not empty")
    rng = random.Random(seed)
    ids = list(dataset.corpus)
    total = len(ids)

    team = {doc_id: rng.choice(TEAMS) for doc_id in ids}
    updated = {doc_id: _random_date(rng, *ORIGINAL_DATES) for doc_id in ids}
    title = {doc_id: _title_of(dataset.corpus[doc_id]) for doc_id in ids}
    body = {doc_id: dataset.corpus[doc_id]["text"].strip() for doc_id in ids}
    original = {doc_id: f"{team[doc_id]}/{_slug(title[doc_id])}-{doc_id}.md" for doc_id in ids}

    relevant = {d for grades in dataset.qrels.values() for d, g in grades.items() if g > 0}
    judged = [d for d in ids if d in relevant]
    unjudged = [d for d in ids if d not in relevant]
    rng.shuffle(judged)
    rng.shuffle(unjudged)
    natural = natural_near_duplicates(body)
    statements = Statements(body, title)
    natural_conflicts = statements.conflicts()
    used = {doc_id for a, b, _ in natural for doc_id in (a, b)}

    documents: dict[str, dict[str, Any]] = {
        original[d]: {"beir_id": d, "role": "original", "of": None} for d in ids
    }
    for doc_id in ids:
        _write_page(kb, original[doc_id], title[doc_id], updated[doc_id], body[doc_id])

    def add(relpath: str, doc_id: str, role: str, title_: str, when: date, text: str) -> None:
        documents[relpath] = {"beir_id": doc_id, "role": role, "of": original[doc_id]}
        _write_page(kb, relpath, title_, when, text)

    def stale_date(doc_id: str) -> date:
        return _random_date(rng, STALE_COPY_FLOOR, updated[doc_id] - timedelta(days=30))

    # Superseded versions: mostly a changed value, some a negation or a swapped sentence.
    superseded_count = round(total * SHARES["superseded"])
    value_count = round(superseded_count * VALUE_CHANGE_SHARE)
    superseded: list[dict[str, Any]] = []
    conflicts: list[dict[str, str]] = []
    # Not of pages that already conflict with another: every conflict of the old version
    # is then either with its current page, or with a page that says the same (an echo).
    in_conflict = {doc_id for pair in natural_conflicts for doc_id in pair}
    versions = _pick(
        judged,
        unjudged,
        value_count,
        used,
        lambda d: None if d in in_conflict else value_change(body[d], rng),
    )
    versions += _pick(
        judged,
        unjudged,
        superseded_count - len(versions),
        used,
        lambda d: None if d in in_conflict else text_change(body[d], rng),
    )
    for doc_id, (old_text, changes) in versions:
        relpath = (
            f"{team[doc_id]}/archive/{_slug(title[doc_id])}-{doc_id}-"
            f"{rng.choice(ARCHIVE_SUFFIXES)}.md"
        )
        add(
            relpath,
            doc_id,
            "superseded",
            title[doc_id],
            _random_date(rng, *SUPERSEDED_DATES),
            old_text,
        )
        superseded.append(
            {"old": relpath, "current": original[doc_id], "changes": [c.as_dict() for c in changes]}
        )
        for change in changes:
            if change.kind not in VALUE_KINDS and change.kind != "negation":
                continue
            conflict = {"a": relpath, "kind": change.kind, "a_value": change.old}
            conflicts.append({**conflict, "b": original[doc_id], "b_value": change.new})
            conflicts += [
                {
                    **conflict,
                    "b": original[other],
                    "b_value": change.new,
                    "shared_with": original[doc_id],
                }
                for other in statements.echoes(doc_id, change.at)
            ]

    # Paraphrases: distinct pages on the same topic, not duplicates.
    paraphrases: list[list[str]] = []
    for doc_id, text in _pick(
        judged,
        unjudged,
        round(total * SHARES["paraphrase"]),
        used,
        lambda d: paraphrase(body[d], rng),
    ):
        other = _other_team(rng, team[doc_id])
        raw_title = dataset.corpus[doc_id]["title"].strip()
        lead = next(s for s in sentences(text) if s not in GENERIC_SENTENCES)
        new_title = f"Notes on {raw_title}" if raw_title else _title_of({"title": "", "text": lead})
        relpath = f"{other}/notes/{_slug(new_title)}-{doc_id}-overview.md"
        add(relpath, doc_id, "paraphrase", new_title, _random_date(rng, *ORIGINAL_DATES), text)
        paraphrases.append([original[doc_id], relpath])

    # Exact copies: stale snapshots of the same text in other teams' shared folders.
    clusters: dict[str, list[str]] = {}
    copies_left = round(total * SHARES["copy"])
    candidates = [d for d, _ in _pick(judged, unjudged, copies_left, used, lambda d: d)]
    rng.shuffle(candidates)  # judged and unjudged mixed, so stopping early keeps the share
    copied: list[str] = []
    for doc_id in candidates:
        if copies_left <= 0:
            used.discard(doc_id)  # not needed after all: free for the near-copies
            continue
        copied.append(doc_id)
        teams_used = [team[doc_id]]
        for _ in range(min(copies_left, 2 if rng.random() < SECOND_COPY_SHARE else 1)):
            other = _other_team(rng, *teams_used)
            teams_used.append(other)
            relpath = f"{other}/shared/{original[doc_id].split('/', 1)[1]}"
            add(relpath, doc_id, "copy", title[doc_id], stale_date(doc_id), body[doc_id])
            clusters.setdefault(original[doc_id], [original[doc_id]]).append(relpath)
            copies_left -= 1

    # Near-copies: the same text wrapped in an export's boilerplate.
    near_count = round(total * SHARES["near_copy"])
    of_copied = min(len(copied), round(near_count * NEAR_COPY_OF_COPIED_SHARE))
    near_sources = rng.sample(copied, of_copied)
    near_sources += [
        d for d, _ in _pick(judged, unjudged, near_count - of_copied, used, lambda d: d)
    ]
    for doc_id in near_sources:
        taken = {p.split("/", 1)[0] for p in clusters.get(original[doc_id], [])}
        other = _other_team(rng, team[doc_id], *taken)
        footer = (
            [rng.choice(FOOTER_LINES), COPYRIGHT_LINE] if rng.random() < 0.5 else [COPYRIGHT_LINE]
        )
        text = "\n".join([NAV_LINE, rng.choice(EXPORT_LINES), "", body[doc_id], "", *footer])
        relpath = f"{other}/exports/{original[doc_id].split('/', 1)[1]}"
        add(relpath, doc_id, "near_copy", title[doc_id], stale_date(doc_id), text)
        clusters.setdefault(original[doc_id], [original[doc_id]]).append(relpath)

    qrels = {
        qid: {original[d]: g for d, g in grades.items() if d in original}
        for qid, grades in dataset.qrels.items()
    }
    truth: dict[str, Any] = {
        "documents": dict(sorted(documents.items())),
        "duplicates": sorted(clusters.values()),
        "superseded": superseded,
        "paraphrases": paraphrases,
        "natural_duplicates": [[original[a], original[b], j] for a, b, j in natural],
        "natural_conflicts": [[original[a], original[b]] for a, b in natural_conflicts],
        "conflicts": conflicts,
        "qrels": qrels,
        "queries": dataset.queries,
        "params": {"seed": seed, "shares": SHARES, "source": beir_dir.name},
    }
    (out_dir / "truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False))
    return truth


def summarize(truth: dict[str, Any]) -> dict[str, Any]:
    """Counts of a generated knowledge base, for printing."""
    roles = Counter(d["role"] for d in truth["documents"].values())
    relevant = {p for grades in truth["qrels"].values() for p, g in grades.items() if g > 0}
    derived_of = {d["of"] for d in truth["documents"].values() if d["of"]}
    changes = Counter(c["kind"] for s in truth["superseded"] for c in s["changes"])
    return {
        "files": len(truth["documents"]),
        **{f"role {role}": count for role, count in sorted(roles.items())},
        "duplicate clusters": len(truth["duplicates"]),
        "clusters of 3+": sum(1 for c in truth["duplicates"] if len(c) > 2),
        "superseded pairs": len(truth["superseded"]),
        "value-changed pairs": sum(
            1 for s in truth["superseded"] if any(c["kind"] in VALUE_KINDS for c in s["changes"])
        ),
        **{f"change {kind}": count for kind, count in sorted(changes.items())},
        "conflicts": sum(1 for c in truth["conflicts"] if "shared_with" not in c),
        "conflicts with pages sharing the sentence": sum(
            1 for c in truth["conflicts"] if "shared_with" in c
        ),
        "paraphrase pairs": len(truth["paraphrases"]),
        "natural near-duplicate pairs": len(truth["natural_duplicates"]),
        "natural conflict pairs": len(truth["natural_conflicts"]),
        "originals with derivatives": len(derived_of),
        "of them judged relevant": len(derived_of & relevant),
        "judged queries": len(truth["queries"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, required=True, help="writes OUT/kb/ and OUT/truth.json")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT/kb/")
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl").exists():
        parser.error(f"no BEIR dataset at {args.data} (corpus.jsonl missing)")
    kb = args.out / "kb"
    if kb.exists() and any(kb.iterdir()):
        if not args.overwrite:
            parser.error(f"{kb} is not empty (pass --overwrite to replace it)")
        shutil.rmtree(kb)
    truth = generate(args.data, args.out, args.seed)
    for name, count in summarize(truth).items():
        print(f"{name:>28}: {count}")
    print(f"\nwritten to {args.out / 'kb'} and {args.out / 'truth.json'}")


if __name__ == "__main__":
    main()
