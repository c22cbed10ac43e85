"""Review states of documents, and whether two documents are versions of one subject."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from hygiene.records import Review
from steward.catalog import DocumentRow
from steward.domain import ReviewState


def review_state(
    row: DocumentRow, review: Review | None, interval_days: int, now: datetime
) -> tuple[ReviewState, datetime]:
    """The document's state and when its review falls due.

    A review date an owner set (after the last verification) decides first. A verification
    holds for the text it was given to (its body hash) and renews the review date; without
    one, the front matter's `review_by` decides, else the last change plus the review interval
    (the document's own, else its source's, else the default).
    """
    interval = timedelta(days=row.review_interval_days or interval_days)
    verified = (
        review is not None
        and review.verified_at is not None
        and review.verified_hash in (row.body_hash, row.content_hash)
    )
    set_date = review.review_by if review is not None else None
    set_at = review.review_set_at if review is not None else None
    verified_at = review.verified_at if verified and review is not None else None
    if set_date is not None and set_at is not None and not (verified_at and verified_at > set_at):
        # The owner's own date, set after the last verification, wins over every other rule.
        expires = set_date + timedelta(days=1)
    elif verified:
        assert review is not None and review.verified_at is not None
        expires = review.verified_at + interval
    elif row.review_by:
        expires = datetime.fromisoformat(row.review_by).replace(tzinfo=UTC) + timedelta(days=1)
    else:
        expires = row.updated_at + interval
    if review is not None and review.deprecated_at is not None:
        return ReviewState.DEPRECATED, expires
    if now >= expires:
        return ReviewState.EXPIRED, expires
    return (ReviewState.VERIFIED if verified else ReviewState.UNVERIFIED), expires


# Words that mark a copy or an edition of a document rather than its subject.
_EDITION = re.compile(
    r"^(?:(?:19|20)\d\d(?:\d\d){0,2}|v\d+(?:\.\d+)*|\d+|old|older|new|newer|latest|current|"
    r"final|draft|copy|backup|bak|archive|archived|print|export|exported|legacy|previous|"
    r"deprecated|superseded|rev\d*|revision|version|edition)$"
)


# Folders and names under which people file copies rather than the living document.
_COPY_PLACE = re.compile(
    r"^(?:archive|archived|archives|export|exports|exported|print|printout|copy|copies|"
    r"backup|backups|bak|old|legacy|attic|trash|tmp|temp|mirror|snapshot|snapshots)$"
)


def copy_marked(key: str) -> bool:
    """The path says "this is a copy": a folder or name word like archive, export, print."""
    return any(_COPY_PLACE.match(t) for t in re.findall(r"[0-9a-z]+", key.lower()))


def subject(text: str) -> str:
    """A title or file stem without its edition words: "Travel Policy (2023)" -> "travel policy"."""
    tokens = re.findall(r"[0-9a-z]+", text.lower())
    kept = [t for t in tokens if not _EDITION.match(t)]
    return " ".join(kept)


def stem(key: str) -> str:
    """A document key's file name without folders and extension."""
    name = key.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


_NAME_TOKEN = re.compile(r"[0-9a-z]+(?:[.][0-9a-z]+)*")


_DIGIT = re.compile(r"[0-9]")


# A scan asks for the same page's and chunk's numbers once per pair it takes part in (351,628
# calls and 19.5 of 44 profiled seconds for 6,000 pages); the texts are the corpus's own strings.
@lru_cache(maxsize=1 << 16)
def numbers(text: str) -> frozenset[str]:
    """The tokens of a title or file stem that hold a digit: years, versions, seasons, ids."""
    return frozenset(t for t in _NAME_TOKEN.findall(text.lower()) if _DIGIT.search(t))


def named_apart(a: DocumentRow, b: DocumentRow) -> bool:
    """Titles (or file names) naming different years, versions or numbers, each one its own.

    "2011-12 Coastal Carolina ... season" against "2012-13 ...", "Python 3.9 Release Schedule"
    against "Python 3.10 ...": each names one the other lacks, so each may be a subject of its
    own (a season, a release, a yearly report) rather than an edition; only text kept in common
    says otherwise ("Travel policy 2024" edited into "Travel policy 2025"). A name that only
    adds a year or "v1" ("travel-policy-2023.md" beside "travel-policy.md") is an edition mark.
    """
    return bool(_apart(a, b)[0])


# In a file name only a year or a version names an edition or a season; other numbers there
# are ids ("passage-7067032.md", "ticket-4821.md"), different on every page.
_EDITION_NUMBER = re.compile(r"(?:19|20)\d\d|v?\d+(?:\.\d+)+|v\d+")


def _stem_numbers(key: str) -> frozenset[str]:
    return frozenset(t for t in numbers(stem(key)) if _EDITION_NUMBER.fullmatch(t))


def _apart(a: DocumentRow, b: DocumentRow) -> tuple[frozenset[str], frozenset[str]]:
    """The numbers each name has and the other lacks (titles first, else file stems)."""
    for first, second in (
        (numbers(a.title), numbers(b.title)),
        (_stem_numbers(a.key), _stem_numbers(b.key)),
    ):
        if first - second and second - first:
            return first - second, second - first
    return frozenset(), frozenset()


def name_themselves(a: DocumentRow, b: DocumentRow, a_text: str, b_text: str) -> bool:
    """Pages named apart whose texts each state a number of their own name ("The 2010 ...
    team represented ...", "the release schedule for Python 3.9"): the numbers name what each
    page is about, and templated statements on the two do not disagree."""
    own_a, own_b = _apart(a, b)
    return bool(own_a & numbers(a_text)) and bool(own_b & numbers(b_text))


def _order(tokens: frozenset[str]) -> tuple[int, ...]:
    return max(tuple(int(p) for p in re.findall(r"\d+", t)) for t in tokens)


def distinct_subjects(a: DocumentRow, b: DocumentRow, a_text: str, b_text: str) -> bool:
    """Pages named apart that cannot be one edition of the other.

    Each page's text states a number of its own name (`name_themselves`). Or the page
    updated last names the earlier year or version: the 1901 season rewritten after the 1963
    one does not replace it.
    """
    own_a, own_b = _apart(a, b)
    if not own_a:
        return False
    if name_themselves(a, b, a_text, b_text):
        return True
    if a.updated_at == b.updated_at:
        return False
    newer, older = (own_a, own_b) if a.updated_at > b.updated_at else (own_b, own_a)
    return _order(newer) < _order(older)


def names_subject(value: str, title: str) -> bool:
    """A value that is written in its page's title names the page's subject: "2010" in "2010
    Coastal Carolina Chanticleers football team", "3.9" in "Python 3.9 Release Schedule"."""
    tokens = numbers(value)
    return bool(tokens) and tokens <= numbers(title)


def same_subject(a: DocumentRow, b: DocumentRow) -> bool:
    """Same title or same file stem once edition words (years, "old", "v2") are dropped."""
    title_a, title_b = subject(a.title), subject(b.title)
    if title_a and title_a == title_b:
        return True
    stem_a, stem_b = subject(stem(a.key)), subject(stem(b.key))
    return bool(stem_a) and stem_a == stem_b


# Words a file name gains when someone keeps an edition of a page beside it. Unlike _EDITION,
# a bare number is not one: "passage-4737063" and "passage-5247992" are two pages, not editions.
_EDITION_MARK = re.compile(
    r"^(?:(?:19|20)\d\d(?:\d\d){0,2}|v\d+(?:\.\d+)*|old|older|new|newer|latest|current|final|"
    r"draft|copy|backup|bak|archive|archived|legacy|previous|deprecated|superseded|rev\d*|"
    r"revision|version|edition)$"
)


def marked_edition(a: DocumentRow, b: DocumentRow) -> bool:
    """One page is the other under the same title, its file name marked as an edition.

    "archive/travel-policy-v1.md" beside "travel-policy.md", both titled "Travel Policy": the
    name says which page the other is an edition of, however much of the text was rewritten
    (a sentence replaced in a three-sentence page leaves a shingle Jaccard near 0.45). Names
    that each carry a mark of their own ("1901-..." and "1963-...") are `named_apart`.
    """
    if not subject(a.title) or subject(a.title) != subject(b.title):
        return False
    tokens_a = re.findall(r"[0-9a-z]+", stem(a.key).lower())
    tokens_b = re.findall(r"[0-9a-z]+", stem(b.key).lower())
    base_a = [t for t in tokens_a if not _EDITION_MARK.match(t)]
    base_b = [t for t in tokens_b if not _EDITION_MARK.match(t)]
    if not base_a or base_a != base_b:
        return False
    marks_a, marks_b = len(tokens_a) - len(base_a), len(tokens_b) - len(base_b)
    # Exactly one of the two names carries marks: the other is the living page's name.
    return (marks_a == 0) != (marks_b == 0)
