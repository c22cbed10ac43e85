"""Evaluation runs of golden sets: computed through the retriever (no HTTP), stored in the catalog.

Judgements name documents (by source URI or id); a run ranks documents by their first chunk in
the top-k chunks `/retrieve` would answer, so the stored figures can be recomputed from the
API's own answers. Metrics: nDCG@10, P@5, P@10, R@10, MRR@10 (ir-measures, trec_eval
semantics) and ragas' ID-based context precision and recall over the retrieved documents —
overall, per source, and per query (for paired comparisons). With an LLM endpoint configured,
ragas' LLM-judged context precision over the retrieved chunks is added for the queries that carry
a reference answer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from evaluation.context import (
    CONTEXT_PRECISION,
    CONTEXT_RECALL,
    LLM_CONTEXT_PRECISION,
    Judged,
    id_based,
    llm_context_precision,
)
from evaluation.golden import GoldenQuery, as_records, parse_records
from evaluation.metrics import MEASURES, means, per_query, ranked_run
from evaluation.probes import PROBE_SET, build_probes
from evaluation.runtime import Runtime
from evaluation.tables import eval_runs, golden_sets
from steward.audit import audit, require_actor
from steward.database import Database
from steward.domain import as_utc, rfc3339, utc_now
from steward.errors import NotFoundError, QueryError
from steward.webhooks import EVALUATION_REGRESSION

log = logging.getLogger("steward.evaluation")

TOP_K = 10
# Every metric a run stores per query, in the order listings show them. The LLM-judged one is
# there only for the queries it judged.
METRICS = (*MEASURES, CONTEXT_PRECISION, CONTEXT_RECALL, LLM_CONTEXT_PRECISION)


Scores = dict[str, float]  # metric -> value


@dataclass(frozen=True, slots=True)
class GoldenSetInfo:
    """A golden set as listed: its name, when it was saved, how many queries it holds."""

    name: str
    created_at: datetime
    queries: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "created_at": rfc3339(self.created_at), "queries": self.queries}


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A stored evaluation run as listed: everything but its per-query scores.

    `metrics` is overall, `per_source` by source; `missing` names judged documents that no
    longer exist; `regression` is metric -> {baseline, value, drop, p_value} against
    `baseline_run`, None when nothing fell.
    """

    run_id: int
    golden_set: str
    started_at: datetime
    finished_at: datetime | None
    trigger: str  # manual, api, sync, schedule
    status: str  # running, ok, failed
    metrics: Scores | None
    per_source: dict[str, Scores] | None
    missing: list[dict[str, str | None]] | None
    index_state: dict[str, Any] | None
    error: str | None
    accepted_at: datetime | None
    accepted_by: str | None
    baseline_run: int | None
    regression: dict[str, Scores] | None

    def summary(self) -> dict[str, Any]:
        """What a sync or a schedule reports of a run: its id, its set and its metrics."""
        return {"run_id": self.run_id, "golden_set": self.golden_set, **(self.metrics or {})}

    def as_dict(self) -> dict[str, Any]:
        """As JSON (what the API answers and the CLI prints): times in RFC 3339."""
        found = {name: getattr(self, name) for name in _RUN_FIELDS if hasattr(self, name)}
        for name in ("started_at", "finished_at", "accepted_at"):
            found[name] = _when(found[name])
        return found


@dataclass(frozen=True, slots=True)
class EvalRun(RunSummary):
    """A stored evaluation run with its per-query scores (query id -> metric -> value)."""

    per_query: dict[str, Scores] | None = None


@dataclass(frozen=True, slots=True)
class MetricComparison:
    """One metric of two runs over the queries both scored: means, b - a, paired t-test."""

    a: float
    b: float
    difference: float
    p_value: float
    significant: bool
    queries: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """Run b against run a: per metric over the queries both scored, and the metrics only one
    of them has (`skipped`)."""

    run_a: int
    run_b: int
    queries: int
    metrics: dict[str, MetricComparison]
    skipped: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# The stored columns in their order: as_dict keeps it, so JSON reads as it always has.
_RUN_FIELDS = [c.name for c in eval_runs.c]


def _when(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


def _run(row: Mapping[str, Any]) -> EvalRun | RunSummary:
    values = dict(row)
    for name in ("started_at", "finished_at", "accepted_at"):
        values[name] = as_utc(values[name]) if values[name] is not None else None
    return EvalRun(**values) if "per_query" in values else RunSummary(**values)


class EvalRecords:
    """Golden sets and runs in one database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def save_golden(
        self, name: str, queries: list[GoldenQuery], max_queries: int | None = None
    ) -> None:
        """Create or replace a golden set; uploads pass `max_queries`, the limit they obey."""
        if not name.strip() or len(name) > 200:
            raise QueryError("name", "must be 1 to 200 characters")
        if max_queries is not None and len(queries) > max_queries:
            raise QueryError(
                "queries",
                f"{len(queries)} queries is above the limit of {max_queries} per golden set "
                "(STEWARD_EVAL_MAX_GOLDEN_QUERIES)",
            )
        with self._database.begin() as conn:
            conn.execute(delete(golden_sets).where(golden_sets.c.name == name))
            conn.execute(
                insert(golden_sets).values(
                    name=name, created_at=utc_now(), queries=as_records(queries)
                )
            )

    def golden(self, name: str) -> list[GoldenQuery]:
        with self._database.connect() as conn:
            row = conn.execute(select(golden_sets).where(golden_sets.c.name == name)).first()
        if row is None:
            raise NotFoundError("golden set", name)
        return parse_records(list(row.queries), name)

    def names(self) -> list[str]:
        """The golden sets' names, without reading their queries."""
        with self._database.connect() as conn:
            return list(conn.scalars(select(golden_sets.c.name).order_by(golden_sets.c.name)))

    def golden_sets(self) -> list[GoldenSetInfo]:
        with self._database.connect() as conn:
            rows = conn.execute(select(golden_sets).order_by(golden_sets.c.name)).all()
        return [GoldenSetInfo(r.name, as_utc(r.created_at), len(r.queries)) for r in rows]

    def start(self, golden_set: str, trigger: str) -> int:
        with self._database.begin() as conn:
            key = conn.execute(
                insert(eval_runs).values(
                    golden_set=golden_set, started_at=utc_now(), trigger=trigger, status="running"
                )
            ).inserted_primary_key
            assert key is not None
            return int(key[0])

    def interrupt_running(self) -> int:
        """Mark runs still `running` as failed: their process died before finishing them."""
        with self._database.begin() as conn:
            result = conn.execute(
                update(eval_runs)
                .where(eval_runs.c.status == "running")
                .values(
                    status="failed",
                    finished_at=utc_now(),
                    error="interrupted: the process stopped before the run finished",
                )
            )
        return int(result.rowcount or 0)

    def finish(self, run_id: int, **values: Any) -> None:
        with self._database.begin() as conn:
            conn.execute(
                update(eval_runs)
                .where(eval_runs.c.run_id == run_id)
                .values(finished_at=utc_now(), **values)
            )

    def compared(
        self, run_id: int, baseline_run: int, regression: dict[str, Scores] | None
    ) -> None:
        """Record which baseline a run was compared with, and what regressed."""
        with self._database.begin() as conn:
            conn.execute(
                update(eval_runs)
                .where(eval_runs.c.run_id == run_id)
                .values(baseline_run=baseline_run, regression=regression)
            )

    def baseline(self, golden_set: str) -> EvalRun | None:
        """The newest accepted run of a golden set."""
        with self._database.connect() as conn:
            row = conn.execute(
                select(eval_runs.c.run_id)
                .where(
                    eval_runs.c.golden_set == golden_set,
                    eval_runs.c.accepted_at.is_not(None),
                    eval_runs.c.status == "ok",
                )
                .order_by(eval_runs.c.run_id.desc())
                .limit(1)
            ).first()
        return self.run(int(row[0])) if row else None

    def accept(self, run_id: int, actor: str) -> None:
        """Make a finished run the baseline of its golden set; written to the audit log."""
        require_actor(actor)
        found = self.run(run_id)
        if found.status != "ok":
            raise QueryError("run", f"run {run_id} did not finish well ({found.status})")
        with self._database.begin() as conn:
            conn.execute(
                update(eval_runs)
                .where(eval_runs.c.run_id == run_id)
                .values(accepted_at=utc_now(), accepted_by=actor)
            )
            audit(
                conn,
                actor,
                "accept_baseline",
                str(run_id),
                golden_set=found.golden_set,
                metrics=found.metrics,
            )

    def regressions(self, golden_set: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs that regressed, newest first."""
        found = self._listed(golden_set, limit, eval_runs.c.regression.is_not(None))
        # Runs stored before the column kept None as SQL NULL hold a JSON null: left out here.
        return [r for r in found if r.regression]

    def runs(self, golden_set: str | None = None, limit: int = 50) -> list[RunSummary]:
        """Runs, newest first, without their per-query scores."""
        return self._listed(golden_set, limit)

    def _listed(self, golden_set: str | None, limit: int, *where: Any) -> list[RunSummary]:
        columns = [c for c in eval_runs.c if c.name != "per_query"]
        query = select(*columns).where(*where).order_by(eval_runs.c.run_id.desc()).limit(limit)
        if golden_set is not None:
            query = query.where(eval_runs.c.golden_set == golden_set)
        with self._database.connect() as conn:
            return [_run(dict(r._mapping)) for r in conn.execute(query)]

    def run(self, run_id: int) -> EvalRun:
        with self._database.connect() as conn:
            row = conn.execute(select(eval_runs).where(eval_runs.c.run_id == run_id)).first()
        if row is None:
            raise NotFoundError("evaluation run", str(run_id))
        found = _run(dict(row._mapping))
        assert isinstance(found, EvalRun)
        return found


def _measure(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Mean metrics (a judged query the run misses scores 0) and per-query values."""
    scores = per_query(qrels, run)
    pairs = [
        (list(run.get(q, {})), [d for d, grade in judged.items() if grade > 0])
        for q, judged in qrels.items()
    ]
    for query_id, context in zip(qrels, id_based(pairs), strict=True):
        scores[query_id].update(context)
    return {
        "means": means(scores, (*MEASURES, CONTEXT_PRECISION, CONTEXT_RECALL)),
        "per_query": scores,
    }


def evaluate_golden(runtime: Runtime, name: str, trigger: str = "manual") -> EvalRun:
    """Run a golden set against the index now; the stored run."""
    records = EvalRecords(runtime.database)
    queries = records.golden(name)
    run_id = records.start(name, trigger)
    try:
        rows = runtime.catalog.all_documents()
        by_uri: dict[str, list[str]] = {}
        for doc_id, row in rows.items():
            by_uri.setdefault(row.source_uri, []).append(doc_id)
        qrels: dict[str, dict[str, int]] = {}
        missing: list[dict[str, Any]] = []
        for q in queries:
            judged: dict[str, int] = {}
            for j in q.relevant:
                if j.doc_id is not None:
                    ids = [j.doc_id] if j.doc_id in rows else []
                else:
                    ids = [
                        d
                        for d in by_uri.get(j.source_uri or "", [])
                        if j.source is None or rows[d].source == j.source
                    ]
                if not ids:
                    missing.append(
                        {"query_id": q.query_id, "source_uri": j.source_uri, "doc_id": j.doc_id}
                    )
                    # Still relevant, now unfindable: losing judged knowledge lowers the scores
                    # (and shows as a regression) instead of shrinking the question set.
                    ids = [f"missing:{j.doc_id or j.source_uri}"]
                for doc_id in ids:
                    judged[doc_id] = max(judged.get(doc_id, 0), j.grade)
            qrels[q.query_id] = judged
        run: dict[str, dict[str, float]] = {}
        retriever = runtime.retriever
        to_judge: list[Judged] = []
        for q in queries:
            hits = retriever.retrieve(q.text, top_k=TOP_K).hits
            run.update(ranked_run({q.query_id: [h.payload.doc_id for h in hits]}))
            if q.reference:
                to_judge.append(
                    Judged(q.query_id, q.text, q.reference, [h.payload.text for h in hits])
                )
        scored = {q: docs for q, docs in qrels.items() if docs}
        overall = _measure(scored, run)
        llm_state: dict[str, Any] | None = None
        settings = runtime.settings
        judge = settings.evaluation.llm
        if judge.url:
            llm_scores, errors = llm_context_precision(judge, to_judge, settings.outbound.policy())
            for query_id, value in llm_scores.items():
                overall["per_query"].setdefault(query_id, {})[LLM_CONTEXT_PRECISION] = value
            if llm_scores:
                overall["means"][LLM_CONTEXT_PRECISION] = sum(llm_scores.values()) / len(llm_scores)
            llm_state = {
                "model": judge.model,
                "judged": len(llm_scores),
                "without_reference": sum(1 for q in queries if not q.reference),
                "failed": len(errors),
                "errors": errors[:5],
            }
        per_source: dict[str, dict[str, float]] = {}
        for source in sorted({row.source for row in rows.values()}):
            part_qrels = {
                q: {d: g for d, g in docs.items() if d in rows and rows[d].source == source}
                for q, docs in scored.items()
            }
            part_qrels = {q: docs for q, docs in part_qrels.items() if docs}
            if part_qrels:
                part_run = {
                    q: {d: s for d, s in docs.items() if rows[d].source == source}
                    for q, docs in run.items()
                }
                per_source[source] = _measure(part_qrels, part_run)["means"]
        index_state = {
            "documents": len(rows),
            "chunks": runtime.store.count(),
            "model": runtime.embedder.name,
            "retrieval": settings.retrieval.model_dump(mode="json"),
            "queries": len(queries),
            "scored_queries": len(scored),
            **({"llm_judge": llm_state} if llm_state else {}),
        }
        records.finish(
            run_id,
            status="ok",
            metrics={k: _round(v) for k, v in overall["means"].items()},
            per_source={s: {k: _round(v) for k, v in m.items()} for s, m in per_source.items()},
            per_query=overall["per_query"],
            missing=missing,
            index_state=index_state,
        )
    except Exception as error:
        records.finish(run_id, status="failed", error=str(error))
        raise
    _judge_against_baseline(runtime, records, run_id, name)
    return records.run(run_id)


def _judge_against_baseline(runtime: Runtime, records: EvalRecords, run_id: int, name: str) -> None:
    """Compare a finished run with its set's baseline; store, log and send a regression."""
    settings = runtime.settings.evaluation
    baseline = records.baseline(name)
    if baseline is None:
        # The first good run of a set is its baseline until someone accepts another.
        records.accept(run_id, "steward (first run)")
        return
    found = compare(records, baseline.run_id, run_id)
    fallen = {
        metric: {
            "baseline": m.a,
            "value": m.b,
            "drop": _round(m.a - m.b),
            "p_value": m.p_value,
        }
        for metric, m in found.metrics.items()
        if m.a - m.b > settings.regression_margin and m.p_value < settings.significance
    }
    if found.skipped:
        log.info(
            "run %d of %s: %s not in baseline run %d, so not watched for regressions until a "
            "newer run is accepted (steward eval accept)",
            run_id,
            name,
            ", ".join(found.skipped),
            baseline.run_id,
        )
    records.compared(run_id, baseline.run_id, fallen or None)
    if not fallen:
        return
    log.warning(
        "evaluation run %d of %s regressed against run %d: %s",
        run_id,
        name,
        baseline.run_id,
        fallen,
    )
    # Sent to STEWARD_WEBHOOK_URL and STEWARD_EVAL_WEBHOOK_URL, off this thread.
    runtime.webhooks.send(
        EVALUATION_REGRESSION,
        {
            "run_id": run_id,
            "golden_set": name,
            "baseline_run": baseline.run_id,
            "regression": fallen,
        },
    )


def _round(value: float) -> float:
    return round(value, 6) if math.isfinite(value) else 0.0


def compare(records: EvalRecords, run_a: int, run_b: int) -> Comparison:
    """Per-metric difference b - a over the queries both scored, with a paired t-test.

    A metric one of the runs lacks (an older run, or no LLM judge then) is left out. The test is
    ranx's paired Student t-test, which is this scipy call (ranx itself stays out of the service:
    it imports numba); a test checks the two agree.
    """
    from scipy.stats import ttest_rel

    a, b = records.run(run_a), records.run(run_b)
    if a.status != "ok" or b.status != "ok":
        raise QueryError("run", "both runs must have finished well")
    a_scores, b_scores = a.per_query or {}, b.per_query or {}
    shared = sorted(set(a_scores) & set(b_scores))
    if not shared:
        raise QueryError("run", "the two runs share no scored query (different golden sets?)")
    metrics: dict[str, MetricComparison] = {}
    for name in METRICS:
        both = [q for q in shared if name in a_scores[q] and name in b_scores[q]]
        if not both:
            continue
        xs = [a_scores[q][name] for q in both]
        ys = [b_scores[q][name] for q in both]
        mean_a, mean_b = sum(xs) / len(xs), sum(ys) / len(ys)
        if len(both) > 1 and any(x != y for x, y in zip(xs, ys, strict=True)):
            p_value = float(ttest_rel(ys, xs).pvalue)
        else:
            p_value = 1.0  # identical per-query values: no evidence of any difference
        metrics[name] = MetricComparison(
            a=_round(mean_a),
            b=_round(mean_b),
            difference=_round(mean_b - mean_a),
            p_value=_round(p_value) if math.isfinite(p_value) else 1.0,
            significant=bool(math.isfinite(p_value) and p_value < 0.05),
            queries=len(both),
        )
    # Metrics only one run has (a baseline older than a metric, or the LLM judge switched on
    # since): named, so nobody takes their absence from the comparison for "no change".
    skipped = sorted((set(a.metrics or {}) | set(b.metrics or {})) - set(metrics))
    return Comparison(run_a, run_b, len(shared), metrics, skipped)


def probe_run(
    runtime: Runtime, size: int = 50, rebuild: bool = False, trigger: str = "manual"
) -> EvalRun:
    """Run the probe set, building it first when there is none (or when asked to)."""
    records = EvalRecords(runtime.database)
    known = set(records.names())
    if rebuild or PROBE_SET not in known:
        probes = build_probes(runtime, size)
        if not probes:
            raise QueryError("probes", "the index has no chunk to build a probe from")
        records.save_golden(PROBE_SET, probes)
    return evaluate_golden(runtime, PROBE_SET, trigger)


def evaluate_all(runtime: Runtime, trigger: str, probes: bool = False) -> list[dict[str, Any]]:
    """Run every golden set (and the probes, building them on first use); each run's summary.

    A failing set is logged and stored as failed; the others still run.
    """
    records = EvalRecords(runtime.database)
    names = records.names()
    found: list[dict[str, Any]] = []
    for name in names if not probes else [n for n in names if n != PROBE_SET]:
        try:
            run = evaluate_golden(runtime, name, trigger)
        except Exception:  # one broken set does not stop the others
            log.exception("evaluating golden set %s failed", name)
            continue
        found.append(run.summary())
    if probes:
        try:
            run = probe_run(runtime, trigger=trigger)
            found.append(run.summary())
        except Exception:
            log.exception("the probe run failed")
    return found
