"""Golden sets and evaluation runs, checked against an independent computation over HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from ranx import Qrels, Run
from ranx import evaluate as ranx_evaluate

from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from evaluation.golden import load_golden
from steward.errors import QueryError

ROOT = Path(__file__).resolve().parent.parent
KB = ROOT / "examples" / "sample-kb"
QUERIES = [
    json.loads(line)
    for line in (ROOT / "examples" / "sample-queries.jsonl").read_text().splitlines()
    if line.strip()
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, make_settings: Any, serve_app: Any
) -> Iterator[tuple[Runtime, str]]:
    from api.app import create_app

    root = tmp_path_factory.mktemp("evaluation")
    runtime = open_runtime(make_settings(root), embedder=embedder)
    assert runtime.pipeline.run(FilesystemConnector(KB, "handbook")).status == "ok"
    with serve_app(create_app(runtime.settings, runtime)) as url:
        yield runtime, url
    runtime.close()


def test_a_stored_run_matches_ranx_over_the_apis_own_answers(served: Any) -> None:
    _, url = served
    created = httpx.post(f"{url}/eval/golden-sets", json={"name": "sample", "queries": QUERIES})
    assert created.status_code == 201 and created.json() == {"name": "sample", "queries": 20}
    stored = httpx.post(f"{url}/eval/runs", json={"golden_set": "sample"}, timeout=120).json()
    assert stored["status"] == "ok" and stored["missing"] == []
    assert stored["index_state"]["documents"] == 47 and stored["index_state"]["chunks"] > 47

    # Independently: the raw /retrieve answers, documents in order of their first chunk, ranx.
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    precision: list[float] = []
    recall: list[float] = []
    for number, case in enumerate(QUERIES, start=1):
        qid = str(number)
        qrels[qid] = {r["source_uri"]: r["grade"] for r in case["relevant"]}
        answer = httpx.post(f"{url}/retrieve", json={"query": case["query"], "top_k": 10}).json()
        ranked = list(dict.fromkeys(hit["source_uri"] for hit in answer["results"]))
        run[qid] = {uri: float(len(ranked) - rank) for rank, uri in enumerate(ranked)}
        # ragas' ID-based context metrics, by hand: the relevant share of what came back, and
        # the share of the relevant documents that came back.
        relevant = {uri for uri, grade in qrels[qid].items() if grade > 0}
        precision.append(len(relevant.intersection(ranked)) / len(ranked))
        recall.append(len(relevant.intersection(ranked)) / len(relevant))
    expected = ranx_evaluate(
        Qrels(qrels), Run(run), ["ndcg@10", "precision@5", "recall@10", "mrr@10"]
    )
    assert stored["metrics"]["ndcg@10"] == pytest.approx(expected["ndcg@10"], abs=1e-6)
    assert stored["metrics"]["p@5"] == pytest.approx(expected["precision@5"], abs=1e-6)
    assert stored["metrics"]["recall@10"] == pytest.approx(expected["recall@10"], abs=1e-6)
    assert stored["metrics"]["mrr@10"] == pytest.approx(expected["mrr@10"], abs=1e-6)
    assert 0.5 < stored["metrics"]["ndcg@10"] < 1.0
    assert stored["metrics"]["context_precision"] == pytest.approx(
        sum(precision) / len(precision), abs=1e-6
    )
    assert stored["metrics"]["context_recall"] == pytest.approx(sum(recall) / len(recall), abs=1e-6)
    # Most of the ten documents are not judged relevant; most relevant ones are found.
    assert 0.05 < stored["metrics"]["context_precision"] < 0.5
    assert stored["metrics"]["context_recall"] > 0.8
    assert "llm_context_precision" not in stored["metrics"]  # no LLM endpoint: off
    assert set(stored["per_source"]) == {"handbook"}

    listed = httpx.get(f"{url}/eval/runs", params={"golden_set": "sample"}).json()
    assert listed[0]["run_id"] == stored["run_id"] and "per_query" not in listed[0]


def test_a_rerun_on_an_unchanged_index_shows_no_difference(served: Any) -> None:
    _, url = served
    httpx.post(f"{url}/eval/golden-sets", json={"name": "again", "queries": QUERIES})
    first = httpx.post(f"{url}/eval/runs", json={"golden_set": "again"}, timeout=120).json()
    second = httpx.post(f"{url}/eval/runs", json={"golden_set": "again"}, timeout=120).json()
    found = httpx.get(
        f"{url}/eval/compare", params={"a": first["run_id"], "b": second["run_id"]}
    ).json()
    assert found["queries"] == 20 and found["skipped"] == []
    assert set(found["metrics"]) == {
        "ndcg@10",
        "p@5",
        "p@10",
        "recall@10",
        "mrr@10",
        "context_precision",
        "context_recall",
    }
    for metric in found["metrics"].values():
        assert metric["difference"] == 0 and not metric["significant"]


def test_judged_documents_that_are_gone_are_reported_not_dropped(served: Any) -> None:
    _, url = served
    queries = [
        {
            "query": "How long is the refund window?",
            "relevant": [
                {"source_uri": "support/refund-policy.md", "grade": 2},
                {"source_uri": "support/deleted-page.md", "grade": 1},
            ],
        },
        {"query": "Where is the office?", "relevant": [{"source_uri": "gone.md", "grade": 1}]},
    ]
    httpx.post(f"{url}/eval/golden-sets", json={"name": "gone", "queries": queries})
    stored = httpx.post(f"{url}/eval/runs", json={"golden_set": "gone"}, timeout=60).json()
    assert {m["source_uri"] for m in stored["missing"]} == {"support/deleted-page.md", "gone.md"}
    # Gone documents still count as relevant: the knowledge was lost, the scores say so. The
    # office query finds nothing relevant and still counts: MRR is the refund query's half.
    answer = httpx.post(f"{url}/retrieve", json={"query": queries[0]["query"], "top_k": 10})
    ranked = list(dict.fromkeys(hit["source_uri"] for hit in answer.json()["results"]))
    reciprocal = 1 / (ranked.index("support/refund-policy.md") + 1)
    assert stored["index_state"]["scored_queries"] == 2
    assert stored["metrics"]["mrr@10"] == pytest.approx(reciprocal / 2)


def test_bad_golden_sets_and_runs_are_refused_by_name(served: Any) -> None:
    _, url = served
    bad = httpx.post(
        f"{url}/eval/golden-sets", json={"name": "bad", "queries": [{"query": "no judgements"}]}
    )
    assert bad.status_code == 422 and "relevant" in json.dumps(bad.json())
    missing = httpx.post(f"{url}/eval/runs", json={"golden_set": "nope"})
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert "bad" not in {s["name"] for s in httpx.get(f"{url}/eval/golden-sets").json()}


def test_golden_sets_load_from_json_lines_and_beir_folders(tmp_path: Path) -> None:
    lines = tmp_path / "set.jsonl"
    lines.write_text(
        '{"query": "a?", "relevant": [{"source_uri": "x.md", "grade": 2}]}\n'
        '{"id": "q2", "query": "b?", "relevant": [{"doc_id": "abc"}]}\n'
    )
    loaded = load_golden(lines)
    assert [(q.query_id, q.text, q.relevant[0].grade) for q in loaded] == [
        ("1", "a?", 2),
        ("q2", "b?", 1),
    ]
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "queries.jsonl").write_text('{"_id": "7", "text": "c?"}\n{"_id": "8", "text": "d"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n7\tdoc-1\t2\n")
    [only] = load_golden(beir)
    assert (only.query_id, only.relevant[0].source_uri, only.relevant[0].grade) == ("7", "doc-1", 2)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"query": "a?", "relevant": []}\n')
    with pytest.raises(QueryError, match="broken.jsonl: query 1: 'relevant'"):
        load_golden(broken)
    (tmp_path / "notjson.jsonl").write_text("{nope\n")
    with pytest.raises(QueryError, match="notjson.jsonl:1: not JSON"):
        load_golden(tmp_path / "notjson.jsonl")


def test_deleting_relevant_documents_is_a_regression_and_an_unchanged_rerun_is_not(
    tmp_path: Path, embedder: Any, make_settings: Any, serve_app: Any
) -> None:
    import shutil

    from fastapi import FastAPI

    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords, evaluate_golden
    from hygiene.records import HygieneRecords

    received: list[dict[str, Any]] = []
    hook = FastAPI()

    @hook.post("/hook")
    def catch(body: dict[str, Any]) -> dict[str, str]:
        received.append(body)
        return {"ok": "yes"}

    kb = tmp_path / "kb"
    shutil.copytree(KB, kb)
    with serve_app(hook) as hook_url:
        runtime = open_runtime(
            make_settings(
                tmp_path,
                ingest={"max_delete_share": 1.0},
                evaluation={"webhook_url": f"{hook_url}/hook"},
                outbound={"allow_private": True},
            ),
            embedder=embedder,
        )
        try:
            assert runtime.pipeline.run(FilesystemConnector(kb, "handbook")).status == "ok"
            records = EvalRecords(runtime.database)
            records.save_golden("sample", parse_records(QUERIES))
            first = evaluate_golden(runtime, "sample")
            assert first.accepted_by == "steward (first run)" and first.regression is None
            printed = first.as_dict()  # as the CLI prints
            assert printed["accepted_at"].endswith("Z") and json.dumps(printed)
            again = evaluate_golden(runtime, "sample")
            assert again.baseline_run == first.run_id and not again.regression

            # Break retrieval on purpose: the best answers leave the source.
            for case in QUERIES[:8]:
                best = max(case["relevant"], key=lambda r: r["grade"])["source_uri"]
                (kb / best).unlink(missing_ok=True)
            assert runtime.pipeline.run(FilesystemConnector(kb, "handbook")).status == "ok"
            broken = evaluate_golden(runtime, "sample")
            assert broken.missing and broken.regression
            fallen = broken.regression["ndcg@10"]
            assert fallen["drop"] > 0.02 and fallen["p_value"] < 0.05
            assert [r.run_id for r in records.regressions("sample")] == [broken.run_id]
            # Sent by the runtime's webhook thread: the run does not wait for the receiver.
            assert runtime.webhooks.flush(timeout=30)
            assert [
                (b["event"], b["data"]["run_id"], b["data"]["golden_set"]) for b in received
            ] == [("steward.evaluation.regression", broken.run_id, "sample")]

            # Accepting the new state is explicit and audited; then the same state is fine.
            records.accept(broken.run_id, "ana@example.com")
            entry = HygieneRecords(runtime.database).audit()[0]
            assert (entry["action"], entry["actor"], entry["subject"]) == (
                "accept_baseline",
                "ana@example.com",
                str(broken.run_id),
            )
            after = evaluate_golden(runtime, "sample")
            assert after.baseline_run == broken.run_id and not after.regression
            # Fine runs are not regressions, so they take no place in a listing's limit.
            assert [r.run_id for r in records.regressions("sample", limit=1)] == [broken.run_id]
            assert runtime.webhooks.flush(timeout=30)
            assert len(received) == 1
        finally:
            runtime.close()


def test_feedback_precision_disliked_documents_and_metrics(served: Any) -> None:
    runtime, url = served
    answer = httpx.post(f"{url}/retrieve", json={"query": "How do I connect to the VPN?"}).json()
    query_id, first = answer["query_id"], answer["results"][0]

    def judge(relevant: bool, chunk: str = first["chunk_id"], qid: str = query_id) -> Any:
        body = {"query_id": qid, "chunk_id": chunk, "relevant": relevant}
        return httpx.post(f"{url}/feedback", json=body)

    assert judge(True).status_code == 201
    for _ in range(3):
        assert judge(False).status_code == 201
    assert judge(True, qid="no-such-query").status_code == 404
    wrong = judge(True, chunk="not-a-result")
    assert wrong.status_code == 422 and "chunk_id" in json.dumps(wrong.json())

    summary = httpx.get(f"{url}/feedback/summary").json()
    assert summary["precision_by_source"]["handbook"] == {"judged": 4, "precision": 0.25}
    assert [d["doc_id"] for d in summary["disliked_documents"]] == [first["doc_id"]]
    assert summary["queries"] >= 1
    stale = httpx.get(f"{url}/hygiene/stale").json()["items"]
    flagged = [i for i in stale if i["reason"] == "negative_feedback"]
    assert [(i["doc_id"], i["not_relevant"]) for i in flagged] == [(first["doc_id"], 3)]

    text = httpx.get(f"{url}/metrics").text
    count = next(
        line
        for line in text.splitlines()
        if line.startswith("steward_retrieve_latency_seconds_count")
    )
    assert float(count.split()[1]) >= 1  # prometheus_client writes every value as a float
    assert 'steward_eval_score{golden_set="sample",metric="ndcg@10"}' in text
    assert 'steward_feedback_precision{source="handbook"} 0.25\n' in text
    assert 'steward_sync_last_status{source="handbook"} 1' in text
    assert "# TYPE steward_hygiene_items gauge" in text
    assert 'steward_hygiene_items{kind="unresolved_conflicts"} ' in text


def test_query_text_is_not_logged_when_switched_off(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any
) -> None:
    from sqlalchemy import select

    from api.app import create_app
    from evaluation.tables import query_log

    runtime = open_runtime(
        make_settings(tmp_path, api={"log_query_text": False}), embedder=hash_embedder
    )
    try:
        runtime.pipeline.run(FilesystemConnector(KB / "hr", "hr"))
        with serve_app(create_app(runtime.settings, runtime)) as url:
            answer = httpx.post(f"{url}/retrieve", json={"query": "my private question"}).json()
        with runtime.database.connect() as conn:
            row = conn.execute(
                select(query_log).where(query_log.c.query_id == answer["query_id"])
            ).one()
        assert row.text is None and row.zero_result == 0
        assert [r["chunk_id"] for r in row.results] == [r["chunk_id"] for r in answer["results"]]
    finally:
        runtime.close()


def test_probes_find_their_own_documents(served: Any) -> None:
    _, url = served
    first = httpx.post(f"{url}/eval/probes", json={"size": 20}, timeout=120).json()
    assert first["golden_set"] == "probes" and first["index_state"]["queries"] == 20
    assert first["metrics"]["recall@10"] >= 0.9  # known-item queries, a healthy index
    again = httpx.post(f"{url}/eval/probes", json={"size": 20}, timeout=120).json()
    assert again["baseline_run"] == first["run_id"] and not again["regression"]
    assert (
        f"steward_probe_hit_rate {again['metrics']['recall@10']}"
        in httpx.get(f"{url}/metrics").text
    )


class MismatchedEmbedder:
    """The real model's name and dimension, other weights: its vectors are rotated.

    What serving with the wrong checkpoint looks like (a re-exported or fine-tuned model under the
    same name): the runtime's model check cannot see it, only the evaluation can.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.name, self.dimension, self.max_tokens = real.name, real.dimension, real.max_tokens
        gaussian = np.random.default_rng(7).standard_normal((real.dimension, real.dimension))
        self._rotation = np.linalg.qr(gaussian)[0].astype(np.float32)

    def embed_documents(self, texts: Any) -> Any:
        return self._real.embed_documents(texts) @ self._rotation

    def embed_query(self, text: str) -> Any:
        return self._real.embed_query(text) @ self._rotation

    def count_tokens(self, texts: Any) -> list[int]:
        return list(self._real.count_tokens(texts))

    def encode_tokens(self, text: str) -> list[int]:
        return list(self._real.encode_tokens(text))


def test_serving_a_mismatched_embedding_model_is_a_regression(
    tmp_path: Path, embedder: Any, make_settings: Any
) -> None:
    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords, compare, evaluate_golden
    from steward.database import Database

    settings = make_settings(tmp_path)
    runtime = open_runtime(settings, embedder=embedder)
    try:
        assert runtime.pipeline.run(FilesystemConnector(KB, "handbook")).status == "ok"
        EvalRecords(runtime.database).save_golden("sample", parse_records(QUERIES))
        first = evaluate_golden(runtime, "sample")
        again = evaluate_golden(runtime, "sample")
        assert again.baseline_run == first.run_id and not again.regression
    finally:
        runtime.close()

    swapped = open_runtime(settings, embedder=MismatchedEmbedder(embedder))
    try:
        broken = evaluate_golden(swapped, "sample")
    finally:
        swapped.close()
    assert broken.index_state["model"] == first.index_state["model"]  # same name
    assert broken.missing == [] and broken.regression
    fallen = broken.regression["ndcg@10"]
    assert fallen["drop"] > 0.02 and fallen["p_value"] < 0.05
    assert broken.metrics["ndcg@10"] < first.metrics["ndcg@10"]

    # The paired test is ranx's (its Student test), over the same queries in the same order.
    from ranx.statistical_tests import paired_student_t_test

    database = Database(settings.home.catalog_url(settings.catalog))
    try:
        records = EvalRecords(database)
        found = compare(records, first.run_id, broken.run_id)
        a, b = records.run(first.run_id).per_query, records.run(broken.run_id).per_query
    finally:
        database.close()
    assert found.queries == 20 and set(found.metrics) == set(first.metrics)
    for metric, m in found.metrics.items():
        shared = sorted(a)
        p_value, _ = paired_student_t_test(
            [a[q][metric] for q in shared], [b[q][metric] for q in shared]
        )
        assert m.p_value == pytest.approx(p_value, abs=1e-6)
    # Retrieval no longer collapses with the dense side (the words get an equal say when the
    # model is unsure), so not every metric falls significantly; the ranking ones do.
    assert found.metrics["ndcg@10"].significant and found.metrics["mrr@10"].significant


def _judge_app(fail: bool = False) -> Any:
    """An OpenAI-compatible endpoint answering ragas' context precision prompt.

    A chunk is "useful" when it shares at least three words of five letters or more with the
    reference answer (the rule `_useful` applies again in the test); `fail` answers 503.
    """
    from fastapi import FastAPI, HTTPException

    app = FastAPI()
    app.state.asked = []

    @app.post("/v1/chat/completions")
    def complete(body: dict[str, Any]) -> dict[str, Any]:
        if fail:
            raise HTTPException(503, "overloaded")
        prompt = body["messages"][-1]["content"]
        given = json.loads(prompt.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0])
        app.state.asked.append(given)
        verdict = {
            "reason": "shared words",
            "verdict": int(_useful(given["context"], given["answer"])),
        }
        return {
            "id": "judge",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": json.dumps(verdict)},
                }
            ],
        }

    return app


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.casefold()) if len(w) >= 5}


def _useful(context: str, answer: str) -> bool:
    return len(_words(context) & _words(answer)) >= 3


def _average_precision(verdicts: list[int]) -> float:
    hits = [sum(verdicts[: i + 1]) / (i + 1) for i, v in enumerate(verdicts) if v]
    return sum(hits) / len(hits) if hits else 0.0


REFERENCED = [
    {
        "query": "How long do customers have to ask for a refund?",
        "reference": "Customers can request a refund within 30 days of delivery of the robot.",
        "relevant": [{"source_uri": "support/refund-policy.md", "grade": 2}],
    },
    {
        "query": "How do I connect to the VPN?",
        "reference": "Install the GlobalProtect client and connect to the company VPN gateway.",
        "relevant": [{"source_uri": "it/security/vpn-setup.md", "grade": 2}],
    },
    {
        "query": "Who approves travel?",
        "relevant": [{"source_uri": "finance/travel-policy.md", "grade": 2}],
    },
]


def test_llm_judged_context_precision_is_added_when_an_endpoint_is_set(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any
) -> None:
    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords, compare, evaluate_golden

    judge = _judge_app()
    with serve_app(judge) as url:
        runtime = open_runtime(
            make_settings(
                tmp_path,
                evaluation={"llm": {"url": f"{url}/v1", "model": "judge-1"}},
                outbound={"allow_private": True},
            ),
            embedder=hash_embedder,
        )
        try:
            assert runtime.pipeline.run(FilesystemConnector(KB, "handbook")).status == "ok"
            EvalRecords(runtime.database).save_golden("referenced", parse_records(REFERENCED))
            stored = evaluate_golden(runtime, "referenced")
            # Independently: the same chunks, in the same order, judged by the same rule.
            expected = {}
            chunks = 0
            for number, case in enumerate(REFERENCED[:2], start=1):
                hits = runtime.retriever.retrieve(case["query"], top_k=10).hits
                verdicts = [int(_useful(h.payload.text, case["reference"])) for h in hits]
                expected[str(number)] = _average_precision(verdicts)
                chunks += len(hits)
            second = evaluate_golden(runtime, "referenced")
        finally:
            runtime.close()
    assert stored.index_state["llm_judge"] == {
        "model": "judge-1",
        "judged": 2,
        "without_reference": 1,
        "failed": 0,
        "errors": [],
    }
    per_query = stored.per_query
    for query_id, value in expected.items():
        assert per_query[query_id]["llm_context_precision"] == pytest.approx(value, abs=1e-6)
    assert "llm_context_precision" not in per_query["3"]  # no reference answer: not judged
    assert stored.metrics["llm_context_precision"] == pytest.approx(
        sum(expected.values()) / 2, abs=1e-6
    )
    assert 0 < stored.metrics["llm_context_precision"] <= 1
    # Every retrieved chunk of a judged query was asked about, once a run, with its answer.
    assert len(judge.state.asked) == 2 * chunks and chunks > 10
    assert {a["answer"] for a in judge.state.asked} == {q["reference"] for q in REFERENCED[:2]}
    # Paired comparisons take the judged queries only.
    found = compare(EvalRecords(runtime.database), stored.run_id, second.run_id)
    assert found.metrics["llm_context_precision"].queries == 2 and found.skipped == []

    # The judge switched off: the next run has no LLM metric, and a comparison says so.
    plain = open_runtime(make_settings(tmp_path), embedder=hash_embedder)
    try:
        without = evaluate_golden(plain, "referenced")
        found = compare(EvalRecords(plain.database), stored.run_id, without.run_id)
    finally:
        plain.close()
    assert "llm_judge" not in without.index_state and not without.regression
    assert found.skipped == ["llm_context_precision"]
    assert "llm_context_precision" not in found.metrics and "ndcg@10" in found.metrics


def test_a_query_that_retrieved_nothing_scores_zero_without_asking_the_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from evaluation.context import Judged, llm_context_precision
    from steward.errors import ConfigError
    from steward.settings import ContextJudgeSettings, load_settings

    # Nothing listens on port 9: asking would fail the query instead of scoring it.
    judge = ContextJudgeSettings(url="http://127.0.0.1:9/v1")
    scores, errors = llm_context_precision(judge, [Judged("q", "a question?", "an answer", [])])
    assert (scores, errors) == ({"q": 0.0}, [])
    monkeypatch.setenv("STEWARD_EVAL_LLM_MODEL", "")
    with pytest.raises(ConfigError, match="STEWARD_EVAL_LLM_MODEL"):
        load_settings()


def test_a_failing_llm_judge_leaves_the_run_standing(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any
) -> None:
    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords, evaluate_golden

    with serve_app(_judge_app(fail=True)) as url:
        runtime = open_runtime(
            make_settings(
                tmp_path, evaluation={"llm": {"url": f"{url}/v1"}}, outbound={"allow_private": True}
            ),
            embedder=hash_embedder,
        )
        try:
            assert (
                runtime.pipeline.run(FilesystemConnector(KB / "support", "support")).status == "ok"
            )
            EvalRecords(runtime.database).save_golden("referenced", parse_records(REFERENCED[:1]))
            stored = evaluate_golden(runtime, "referenced")
        finally:
            runtime.close()
    assert stored.status == "ok" and "ndcg@10" in stored.metrics
    assert "llm_context_precision" not in stored.metrics
    state = stored.index_state["llm_judge"]
    assert (state["judged"], state["failed"]) == (0, 1)
    assert state["errors"][0].startswith("1: ")


def test_benchmark_metrics_agree_with_ranx_when_queries_are_missing() -> None:
    """A judged query the run lacks scores 0, once: the benchmarks' means match ranx's."""
    import random

    from evaluation.metrics import evaluate, per_query

    rng = random.Random(3)
    docs = [f"d{i}" for i in range(40)]
    qrels = {
        f"q{i}": {d: rng.choice([1, 2, 3]) for d in rng.sample(docs, rng.randint(1, 6))}
        for i in range(25)
    }
    run = {
        f"q{i}": {d: rng.random() for d in rng.sample(docs, rng.randint(1, 12))}
        for i in range(25)
        if i % 4
    }
    ours = evaluate(qrels, run)
    full = {q: run.get(q, {"nothing": 0.0}) for q in qrels}  # ranx needs every query ranked
    theirs = ranx_evaluate(Qrels(qrels), Run(full), ["ndcg@10", "recall@10", "mrr@10"])
    assert ours == pytest.approx(theirs, abs=1e-9) and ours["ndcg@10"] > 0
    assert all(
        v == 0
        for q, scores in per_query(qrels, run).items()
        if q not in run
        for v in scores.values()
    )
