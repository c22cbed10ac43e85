"""Knowledge gaps from real answers: the query log keeps the best dense cosine, and a question
the knowledge base cannot answer falls below MISS_COSINE while an answered one does not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from app.runtime import Runtime
from connectors.filesystem import FilesystemConnector
from evaluation.gaps import MISS_COSINE, knowledge_gaps
from evaluation.tables import query_log
from steward.domain import utc_now

SAMPLE_KB = Path(__file__).resolve().parent.parent / "examples" / "sample-kb"
ANSWERED = "How long is the refund window?"  # support/refund-policy.md
OFF_TOPIC = "Which PEP added the walrus operator to Python?"


def logged_cosines(runtime: Runtime) -> dict[str, float | None]:
    query = select(query_log.c.query_id, query_log.c.top_score)
    with runtime.database.connect() as conn:
        return dict(conn.execute(query).tuples().all())


def test_an_unanswerable_question_is_a_gap_and_an_answered_one_is_not(
    runtime: Runtime, live_server: str
) -> None:
    assert runtime.pipeline.run(FilesystemConnector(SAMPLE_KB, "handbook")).status == "ok"
    with httpx.Client(base_url=live_server, timeout=60) as client:
        answers = {
            text: client.post("/retrieve", json={"query": text, "mode": "hybrid"}).json()
            for text in (ANSWERED, OFF_TOPIC)
        }
        # Hybrid search always returns something: the miss is in the cosine, not the count.
        assert all(answer["results"] for answer in answers.values())
        cosines = logged_cosines(runtime)
        answered = cosines[answers[ANSWERED]["query_id"]]
        missed = cosines[answers[OFF_TOPIC]["query_id"]]
        assert answered is not None and missed is not None
        assert missed < MISS_COSINE <= answered

        gaps = knowledge_gaps(runtime.database, utc_now() - timedelta(days=1))
        asked = [example for group in gaps.groups for example in group.examples]
        assert asked == [OFF_TOPIC]
        assert gaps.groups[0].empty == 0  # it had results; only a weak best match

        page = client.get("/gaps").text  # the local admin: access control is off
        assert "walrus operator" in page and "refund window" not in page


def test_sparse_mode_logs_no_cosine(runtime: Runtime, live_server: str) -> None:
    assert runtime.pipeline.run(FilesystemConnector(SAMPLE_KB, "handbook")).status == "ok"
    with httpx.Client(base_url=live_server, timeout=60) as client:
        answer = client.post("/retrieve", json={"query": ANSWERED, "mode": "sparse"}).json()
    assert answer["results"]
    # Nothing was embedded, so there is no cosine to compare: not a gap on that account.
    assert logged_cosines(runtime)[answer["query_id"]] is None
    assert knowledge_gaps(runtime.database, utc_now() - timedelta(days=1)).groups == []
