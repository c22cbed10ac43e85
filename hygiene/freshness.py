"""Answer freshness: the share of recent retrieval results served from pages an owner vouches for.

A result is fresh when its document is verified, its review has not expired and it takes part
in no open conflict; the results are those of the query log's answers of the last
`FRESHNESS_DAYS` days, each counted in its document's source. This is the number that tells
whether owners' work pays off: it rises as the pages people actually read get verified.

`hygiene.overview.freshness` is the figure now (the last scan's states, with owners' decisions
since); each scan also stores the figure it saw (`hygiene.history`), which gives its trend.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from evaluation.tables import query_log
from steward.domain import ReviewState, as_utc

# How far back the query log counts for freshness: a week of answers.
FRESHNESS_DAYS = 7


@dataclass(slots=True)
class Freshness:
    """Results served from one source's pages, and how many of them were fresh."""

    served: int = 0
    fresh: int = 0

    @property
    def share(self) -> float | None:
        """fresh / served; None when nothing was served (no figure rather than a false 0)."""
        return self.fresh / self.served if self.served else None


def is_fresh(state: str | None, expires_at: datetime | None, conflicts: int, now: datetime) -> bool:
    """Verified, not past its review, in no open conflict."""
    unexpired = expires_at is None or as_utc(expires_at) > now
    return state == ReviewState.VERIFIED.value and unexpired and not conflicts


def served(conn: Any, since: datetime) -> Iterator[str]:
    """The document of every result the query log holds since `since` (one per result)."""
    for (results,) in conn.execute(select(query_log.c.results).where(query_log.c.at >= since)):
        for hit in results or ():
            yield str(hit["doc_id"])
