"""ragas' context metrics for evaluation runs.

- ID-based context precision and recall (`IDBasedContextPrecision`, `IDBasedContextRecall`):
  the documents a query retrieved against the documents judged relevant. No model, offline.
- LLM-judged context precision (`ContextPrecisionWithReference`): an OpenAI-compatible endpoint
  judges whether each retrieved chunk helps towards the golden query's reference answer. Off
  unless STEWARD_EVAL_LLM_URL is set; only queries that carry a `reference` answer are judged.

ragas is imported on first use (it takes seconds) and never reports usage: its analytics are
switched off before it is imported.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import warnings
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from steward.errors import OutboundError
from steward.llm import async_openai
from steward.outbound import OutboundPolicy
from steward.settings import ContextJudgeSettings

# Unconditionally: ragas reports usage unless this is exactly "true" (a "1" would turn it on).
os.environ["RAGAS_DO_NOT_TRACK"] = "true"

log = logging.getLogger("steward.evaluation")
T = TypeVar("T")

CONTEXT_PRECISION = "context_precision"
CONTEXT_RECALL = "context_recall"
LLM_CONTEXT_PRECISION = "llm_context_precision"


_loaded = threading.Lock()
_quiet = False


def _ragas() -> None:
    """Load ragas once, quietly.

    ragas builds a usage event on every metric call and LLM call, RAGAS_DO_NOT_TRACK or not; the
    event's user id is read once per process from ~/.local/share/ragas/uuid.json through a file
    it never closes (ragas 0.4.3). That first read happens here, with its ResourceWarning muted
    (warning filters are process-wide, so only this once).
    """
    global _quiet
    with _loaded:
        if _quiet:
            return
        from ragas._analytics import get_userid

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            get_userid()
        _quiet = True


class _IdMetrics:
    """ragas' two ID-based metrics, built once."""

    _metrics: tuple[Any, Any] | None = None

    @classmethod
    def get(cls) -> tuple[Any, Any]:
        if cls._metrics is None:
            _ragas()
            from ragas.metrics import IDBasedContextPrecision, IDBasedContextRecall

            cls._metrics = (IDBasedContextPrecision(), IDBasedContextRecall())
        return cls._metrics


def id_based(pairs: Sequence[tuple[Sequence[str], Sequence[str]]]) -> list[dict[str, float]]:
    """ragas' ID-based context precision and recall for each (retrieved, relevant) id pair.

    Precision: the share of retrieved ids that are relevant; recall: the share of relevant ids
    retrieved. An empty side scores 0 on both rather than ragas' NaN and warning.
    """
    if not any(retrieved and relevant for retrieved, relevant in pairs):
        return [{CONTEXT_PRECISION: 0.0, CONTEXT_RECALL: 0.0} for _ in pairs]
    from ragas import SingleTurnSample

    precision, recall = _IdMetrics.get()

    async def one(retrieved: Sequence[str], relevant: Sequence[str]) -> dict[str, float]:
        if not retrieved or not relevant:
            return {CONTEXT_PRECISION: 0.0, CONTEXT_RECALL: 0.0}
        sample = SingleTurnSample(
            retrieved_context_ids=list(retrieved), reference_context_ids=list(relevant)
        )
        scores = {
            CONTEXT_PRECISION: float(await precision.single_turn_ascore(sample)),
            CONTEXT_RECALL: float(await recall.single_turn_ascore(sample)),
        }
        return {k: v if math.isfinite(v) else 0.0 for k, v in scores.items()}

    async def every() -> list[dict[str, float]]:
        return [await one(retrieved, relevant) for retrieved, relevant in pairs]

    return _run_async(every)


def _run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end from sync code, also from a thread whose loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@dataclass(frozen=True, slots=True)
class Judged:
    """One query for the LLM judge: its text, reference answer and retrieved chunk texts."""

    query_id: str
    question: str
    reference: str
    contexts: list[str]


def llm_context_precision(
    judge: ContextJudgeSettings,
    queries: Sequence[Judged],
    outbound: OutboundPolicy | None = None,
) -> tuple[dict[str, float], list[str]]:
    """LLM-judged context precision per query id, and one error line per query that failed.

    A query that retrieved nothing scores 0 without asking. A failing endpoint (or a setting it
    refuses) fails the queries it was asked about, never the run: their scores are left out;
    so does an endpoint the outbound policy refuses (public addresses only without `outbound`).
    """
    if not judge.url or not queries:
        return {}, []
    _ragas()
    from ragas.llms import llm_factory
    from ragas.metrics.collections import ContextPrecisionWithReference

    async def every() -> list[float | BaseException]:
        try:
            client = async_openai(judge, max_retries=1, outbound=outbound)
        except OutboundError as error:
            return [error if query.contexts else 0.0 for query in queries]
        try:
            metric = ContextPrecisionWithReference(llm=llm_factory(judge.model, client=client))
            gate = asyncio.Semaphore(judge.concurrency)

            async def one(query: Judged) -> float:
                if not query.contexts:
                    return 0.0
                async with gate:
                    found = await metric.ascore(
                        user_input=query.question,
                        reference=query.reference,
                        retrieved_contexts=query.contexts,
                    )
                return float(found.value)

            return await asyncio.gather(*(one(q) for q in queries), return_exceptions=True)
        except Exception as error:  # the judge could not be set up: every query fails with it
            return [error for _ in queries]
        finally:
            await client.close()

    scores: dict[str, float] = {}
    errors: list[str] = []
    for query, result in zip(queries, _run_async(every), strict=True):
        if isinstance(result, BaseException):
            errors.append(f"{query.query_id}: {type(result).__name__}: {result}")
        elif math.isfinite(result):
            scores[query.query_id] = min(1.0, max(0.0, result))
    if errors:
        log.warning(
            "the LLM judge (%s) failed %d of %d queries; first: %s",
            judge.url,
            len(errors),
            len(queries),
            errors[0],
        )
    return scores, errors
