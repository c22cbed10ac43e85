"""Knowledge gaps: what people ask that the knowledge base does not answer.

The query log's answers that came back empty, or whose best dense cosine (the query log's
`top_score`: how closely the best passage matches the question, on one scale for every query)
fell below `MISS_COSINE`, grouped by word overlap: a question joins the first group whose words
it shares at least `SIMILARITY` of (Jaccard), so "vpn setup mac" and "set up vpn on mac" fall
together. Only answers whose text was kept can be grouped (STEWARD_API_LOG_QUERY_TEXT); the
others are counted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select

from evaluation.tables import query_log
from steward.database import Database
from steward.domain import as_utc

# A best dense cosine below this counts as a miss (all-MiniLM-L6-v2; re-measure after changing
# the model). Chosen by benchmarks/gaps.py: each KB's own questions against other corpora's,
# the best mean F1 of "miss" on the sample KB and the 18F handbook (0.93; flat within 0.01
# from 0.45 to 0.55). Median own / off-topic: sample 0.61 / 0.27, 18F 0.57 / 0.32. At 0.49,
# off-topic caught 86/90 and 62/70, own questions flagged 1/20 and 7/40 (vague ones: "zoom
# call keeps ending after 40 minutes"); most off-topic ones above it are the other handbook's
# leave, laptop and expense questions, which a handbook half answers. Held out, 1,000 MS MARCO
# passages: 110/110 off-topic caught, 2/42 own flagged (own p5 0.55, off-topic p95 0.38).
MISS_COSINE = 0.49
SIMILARITY = 0.5
# Answers read, newest first: a month of a busy server's misses, bounded.
MAX_READ = 5000
EXAMPLES = 3
_WORD = re.compile(r"[^\W_]+")
_STOP = frozenset(
    "a an and are as at be by can do does for from how i in is it my of on or the to what when "
    "where which who why with you your we our".split()
)


@dataclass(slots=True)
class Gap:
    """Questions about one thing that found nothing good."""

    words: frozenset[str]  # the first question's words: what the group is about
    count: int = 0
    empty: int = 0  # of them, how many came back with no result at all
    examples: list[str] = field(default_factory=list)
    last_at: datetime | None = None
    terms: Counter[str] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        """The group's most frequent words."""
        return " ".join(word for word, _ in self.terms.most_common(4))


@dataclass(frozen=True, slots=True)
class Gaps:
    groups: list[Gap]
    without_text: int  # misses whose question was not kept


def words(text: str) -> frozenset[str]:
    found = {w for w in _WORD.findall(text.casefold()) if w not in _STOP}
    return frozenset(found or _WORD.findall(text.casefold()))


def knowledge_gaps(
    database: Database,
    since: datetime,
    miss_cosine: float = MISS_COSINE,
    similarity: float = SIMILARITY,
) -> Gaps:
    """The misses since `since` grouped by similarity, the largest group first."""
    query = (
        select(query_log.c.at, query_log.c.text, query_log.c.zero_result)
        .where(
            query_log.c.at >= since,
            or_(query_log.c.zero_result == 1, query_log.c.top_score < miss_cosine),
        )
        .order_by(query_log.c.at.desc())
        .limit(MAX_READ)
    )
    groups: list[Gap] = []
    without_text = 0
    with database.connect() as conn:
        for at, text, zero in conn.execute(query):
            if not text or not text.strip():
                without_text += 1
                continue
            mine = words(text)
            group = next(
                (
                    g
                    for g in groups
                    if mine and len(mine & g.words) / len(mine | g.words) >= similarity
                ),
                None,
            )
            if group is None:
                group = Gap(mine)
                groups.append(group)
            group.count += 1
            group.empty += int(zero)
            group.terms.update(mine)
            asked = " ".join(text.split())
            if len(group.examples) < EXAMPLES and asked not in group.examples:
                group.examples.append(asked)
            group.last_at = group.last_at or as_utc(at)
    groups.sort(key=lambda g: (-g.count, g.label))
    return Gaps(groups, without_text)
