"""The query log and feedback: how retrieval does on real questions, without labels.

Every `/retrieve` answer carries a `query_id`; its log entry holds latency, result ids, the best
dense cosine among the candidates (`top_score`: comparable across queries, None in sparse mode)
and whether nothing came back, and the text when STEWARD_API_LOG_QUERY_TEXT says so (by
default only while access control is off). Entries are kept STEWARD_API_QUERY_LOG_RETENTION_DAYS
(`QueryLog`).
Feedback names a query id and one of its chunks; precision from feedback is computed per source,
and documents judged not relevant again and again become hygiene items.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from evaluation.tables import feedback, query_log
from steward.catalog import documents
from steward.database import Database
from steward.domain import ScoredChunk, as_utc, utc_now
from steward.errors import NotFoundError, QueryError

log = logging.getLogger(__name__)

# Old entries are looked for this often while answers are logged: a DELETE through the `at`
# index, so an hour keeps it off nearly every answer's path and the log at most an hour late.
PRUNE_EVERY_S = 3600.0

# A document with at least this many "not relevant" judgements, and more of them than
# "relevant" ones, is listed for its owner.
NEGATIVE_FEEDBACK_MIN = 3


class FeedbackRecords:
    """The query log and feedback of one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def log_query(
        self,
        query_id: str,
        text: str | None,
        mode: str,
        top_k: int,
        took_ms: float,
        hits: list[ScoredChunk],
        *,
        top_cosine: float | None,
    ) -> bool:
        """Log one answer, best-effort: a locked or failing catalog costs the log entry (and
        feedback on that answer), never the answer itself. Whether it was written.

        `top_cosine` is the retrieval's best dense cosine (`RetrievalResult.top_cosine`), kept
        in the `top_score` column: the hits' own scores are normalised per query, so the best
        is always about 1 and says nothing about whether the question was answered."""
        try:
            self._insert_query(query_id, text, mode, top_k, took_ms, hits, top_cosine)
        except SQLAlchemyError as error:
            log.warning(
                "the query log entry %s was not written: %s", query_id, type(error).__name__
            )
            return False
        return True

    def _insert_query(
        self,
        query_id: str,
        text: str | None,
        mode: str,
        top_k: int,
        took_ms: float,
        hits: list[ScoredChunk],
        top_cosine: float | None,
    ) -> None:
        with self._database.begin() as conn:
            conn.execute(
                insert(query_log).values(
                    query_id=query_id,
                    at=utc_now(),
                    text=text,
                    mode=mode,
                    top_k=top_k,
                    took_ms=took_ms,
                    results=[
                        {
                            "chunk_id": h.chunk_id,
                            "doc_id": h.payload.doc_id,
                            "source": h.payload.source,
                        }
                        for h in hits
                    ],
                    top_score=top_cosine if hits else None,
                    zero_result=0 if hits else 1,
                )
            )

    def prune_queries(self, older_than_days: int) -> int:
        """Delete log entries older than that, best-effort (as logging is); how many."""
        cutoff = utc_now() - timedelta(days=older_than_days)
        try:
            with self._database.begin() as conn:
                done = conn.execute(delete(query_log).where(query_log.c.at < cutoff))
        except SQLAlchemyError as error:
            log.warning("old query log entries were not pruned: %s", type(error).__name__)
            return 0
        return int(done.rowcount or 0)

    def add(self, query_id: str, chunk_id: str, relevant: bool, note: str | None) -> int:
        """Record a judgement of one result of a logged query; its id."""
        with self._database.begin() as conn:
            row = conn.execute(
                select(query_log.c.results).where(query_log.c.query_id == query_id)
            ).first()
            if row is None:
                raise NotFoundError("query", query_id)
            result = next((r for r in row.results if r["chunk_id"] == chunk_id), None)
            if result is None:
                raise QueryError("chunk_id", f"{chunk_id} was not among the results of {query_id}")
            key = conn.execute(
                insert(feedback).values(
                    query_id=query_id,
                    chunk_id=chunk_id,
                    doc_id=result["doc_id"],
                    source=result["source"],
                    relevant=1 if relevant else 0,
                    at=utc_now(),
                    note=note,
                )
            ).inserted_primary_key
            assert key is not None
            return int(key[0])

    def _judgements(self, key: Any) -> dict[str, dict[int, int]]:
        """Feedback counts by `key` (a feedback column): value -> {1: relevant, 0: not}."""
        query = select(key, feedback.c.relevant, func.count()).group_by(key, feedback.c.relevant)
        counts: dict[str, dict[int, int]] = defaultdict(dict)
        with self._database.connect() as conn:
            for value, relevant, count in conn.execute(query):
                counts[value][int(relevant)] = int(count)
        return counts

    def precision_by_source(self) -> dict[str, dict[str, float]]:
        """Share of judged results that were relevant, per source."""
        return {
            source: {
                "judged": c.get(0, 0) + c.get(1, 0),
                "precision": c.get(1, 0) / max(1, c.get(0, 0) + c.get(1, 0)),
            }
            for source, c in sorted(self._judgements(feedback.c.source).items())
        }

    def disliked_documents(self) -> list[dict[str, Any]]:
        """Documents repeatedly judged not relevant (more often than relevant)."""
        flagged = {
            d: c
            for d, c in self._judgements(feedback.c.doc_id).items()
            if c.get(0, 0) >= NEGATIVE_FEEDBACK_MIN and c.get(0, 0) > c.get(1, 0)
        }
        with self._database.connect() as conn:
            rows = {
                r.doc_id: r
                for r in conn.execute(
                    select(documents.c.doc_id, documents.c.source_uri, documents.c.owner).where(
                        documents.c.doc_id.in_(list(flagged) or [""])
                    )
                )
            }
        return [
            {
                "doc_id": d,
                "source_uri": rows[d].source_uri if d in rows else None,
                "owner": rows[d].owner if d in rows else None,
                "not_relevant": c.get(0, 0),
                "relevant": c.get(1, 0),
            }
            for d, c in sorted(flagged.items(), key=lambda item: -item[1].get(0, 0))
        ]

    def retrievals(self, since: datetime) -> Counter[str]:
        """How many logged answers since `since` returned each document (once per answer)."""
        counts: Counter[str] = Counter()
        query = select(query_log.c.results).where(query_log.c.at >= since)
        with self._database.connect() as conn:
            for (results,) in conn.execute(query):
                counts.update({hit["doc_id"] for hit in results or ()})
        return counts

    def traffic_of(
        self, doc_id: str, since: datetime, recent: int = 10
    ) -> tuple[Counter[str], list[dict[str, Any]]]:
        """How many logged answers since `since` returned the document, per day (YYYY-MM-DD),
        and the newest `recent` of them (when, the query's text if it was kept, the mode)."""
        days: Counter[str] = Counter()
        found: list[dict[str, Any]] = []
        query = (
            select(query_log.c.at, query_log.c.text, query_log.c.mode, query_log.c.results)
            .where(query_log.c.at >= since)
            .order_by(query_log.c.at.desc())
        )
        with self._database.connect() as conn:
            for at, text, mode, results in conn.execute(query):
                if any(hit["doc_id"] == doc_id for hit in results or ()):
                    days[as_utc(at).date().isoformat()] += 1
                    if len(found) < recent:
                        found.append({"at": as_utc(at), "text": text, "mode": mode})
        return days, found

    def feedback_of(self, doc_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """Judgements of the document's results, newest first."""
        query = (
            select(feedback.c.at, feedback.c.relevant, feedback.c.note, feedback.c.chunk_id)
            .where(feedback.c.doc_id == doc_id)
            .order_by(feedback.c.feedback_id.desc())
            .limit(limit)
        )
        with self._database.connect() as conn:
            return [
                {
                    "at": as_utc(r.at),
                    "relevant": bool(r.relevant),
                    "note": r.note,
                    "chunk_id": r.chunk_id,
                }
                for r in conn.execute(query)
            ]

    def results_of(self, query_id: str) -> list[dict[str, Any]]:
        """The results a logged answer returned ([] for a query not in the log)."""
        with self._database.connect() as conn:
            row = conn.execute(
                select(query_log.c.results).where(query_log.c.query_id == query_id)
            ).first()
        return list(row.results or []) if row else []

    def query_stats(self) -> dict[str, float]:
        with self._database.connect() as conn:
            total, zero = conn.execute(
                select(func.count(), func.coalesce(func.sum(query_log.c.zero_result), 0))
            ).one()
        return {"queries": int(total), "zero_results": int(zero)}


class QueryLog:
    """One process's query log: the text kept only when `keep_text`, entries older than
    `retention_days` deleted when it opens and then at most once per `prune_every_s`."""

    def __init__(
        self,
        database: Database,
        retention_days: int,
        keep_text: bool,
        prune_every_s: float = PRUNE_EVERY_S,
    ) -> None:
        self._records = FeedbackRecords(database)
        self.retention_days = retention_days
        self.keep_text = keep_text
        self.prune_every_s = prune_every_s
        self._pruned_at: float | None = None  # monotonic time of the last prune
        self._lock = threading.Lock()

    def record(
        self,
        query_id: str,
        text: str,
        mode: str,
        top_k: int,
        took_ms: float,
        hits: list[ScoredChunk],
        *,
        top_cosine: float | None,
    ) -> bool:
        """Log one answer (best-effort) and prune when due; whether the entry was written."""
        written = self._records.log_query(
            query_id,
            text if self.keep_text else None,
            mode,
            top_k,
            took_ms,
            hits,
            top_cosine=top_cosine,
        )
        self.prune_when_due()
        return written

    def prune_when_due(self) -> int:
        """Delete expired entries unless that was done less than `prune_every_s` ago."""
        with self._lock:
            now = time.monotonic()
            if self._pruned_at is not None and now - self._pruned_at < self.prune_every_s:
                return 0
            self._pruned_at = now
        pruned = self._records.prune_queries(self.retention_days)
        if pruned:
            log.info("pruned %d query log entries older than %d days", pruned, self.retention_days)
        return pruned
