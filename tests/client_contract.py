"""The contract every `StewardClient` implementation keeps: same calls, same results, same errors.

A new implementation gets every test by subclassing `ClientContract` and giving the `client`
fixture: a client over `kb` (a fresh copy of the sample knowledge base, ingested and scanned).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from app.after_sync import AfterSync
from app.runtime import Runtime
from client import (
    ConflictError,
    EvalRun,
    InvalidRequestError,
    NotFoundError,
    StewardClient,
    SyncFailedError,
    SyncRun,
    SyncTimeoutError,
)
from client.errors import FieldError

REFUND = "support/refund-policy.md"
OLD_REFUND = "support/refund-policy-2024.md"
QUERIES = [
    {"query": "how long is the refund window?", "relevant": [{"source_uri": REFUND, "grade": 2}]},
    {
        "query": "which password manager do employees use?",
        "relevant": [{"source_uri": "it/security/password-policy.md"}],
    },
]


def doc_id(kb: Runtime, source_uri: str) -> str:
    [found] = [d for d in kb.catalog.all_documents().values() if d.source_uri == source_uri]
    return found.doc_id


def fields(error: pytest.ExceptionInfo[Any]) -> set[str]:
    return {f.field for f in error.value.fields}


class ClientContract:
    """Subclasses provide `client` over `kb` (see tests/test_client.py)."""

    @pytest.fixture
    def client(self, kb: Runtime) -> StewardClient:
        raise NotImplementedError

    # -- retrieval and documents

    def test_retrieve_answers_typed_results_one_slot_per_text(self, client: StewardClient) -> None:
        answer = client.retrieve("how long is the refund window?", top_k=5)
        assert answer.query_id and 0 < len(answer.results) <= 5
        assert answer.results[0].source_uri == REFUND
        scores = [hit.score for hit in answer.results]
        assert scores == sorted(scores, reverse=True)
        texts = [hit.text for hit in answer.results]
        assert len(set(texts)) == len(texts)

    def test_retrieve_flags_the_superseded_edition(self, client: StewardClient) -> None:
        answer = client.retrieve("refund window restocking fee", top_k=10, mode="sparse")
        old = [hit for hit in answer.results if hit.source_uri == OLD_REFUND]
        assert old and "superseded" in old[0].flags
        assert old[0].superseded_by is not None

    def test_retrieve_honours_the_filters(self, client: StewardClient) -> None:
        answer = client.retrieve("policy", top_k=20, source_uri_prefix="it/")
        assert answer.results and all(h.source_uri.startswith("it/") for h in answer.results)
        assert client.retrieve("policy", source="elsewhere").results == []

    def test_a_document_with_its_chunks_and_hygiene(
        self, client: StewardClient, kb: Runtime
    ) -> None:
        found = client.document(doc_id(kb, OLD_REFUND))
        assert found.source_uri == OLD_REFUND and found.chunks
        assert [c.ordinal for c in found.chunks] == list(range(len(found.chunks)))
        assert found.hygiene is not None and found.hygiene.superseded_by == doc_id(kb, REFUND)

    def test_health_counts_the_index(self, client: StewardClient, kb: Runtime) -> None:
        health = client.health()
        assert (health.documents, health.chunks) == (kb.catalog.count_documents(), kb.store.count())

    # -- hygiene

    def test_hygiene_lists_page_through_the_findings(self, client: StewardClient) -> None:
        duplicates = client.duplicates()
        assert duplicates.total == len(duplicates.items) == 4
        assert client.duplicates(limit=1, offset=1).items == duplicates.items[1:2]
        stale = client.stale(source="handbook")
        assert {item.reason for item in stale.items} >= {"superseded", "expired"}
        superseded = [item for item in stale.items if item.reason == "superseded"]
        assert all(item.superseded_by is not None for item in superseded)
        conflicts = client.conflicts(kind="money")
        assert conflicts.total > 0 and {c.kind for c in conflicts.items} == {"money"}
        assert client.stale(owner="nobody@example.com").total == 0

    def test_verify_is_seen_by_the_document_and_audited(
        self, client: StewardClient, kb: Runtime
    ) -> None:
        target = doc_id(kb, REFUND)
        client.verify(target, actor="ana@example.com", note="read it")
        hygiene = client.document(target).hygiene
        assert hygiene is not None and hygiene.last_verified_at is not None
        assert hygiene.verified_by == "ana@example.com"
        client.scan()  # the review state is the scan's reading
        rescanned = client.document(target).hygiene
        assert rescanned is not None and rescanned.state == "verified"
        entries = [(e.actor, e.action, e.subject) for e in client.audit().items]
        assert ("ana@example.com", "verify", target) in entries

    def test_deprecate_lists_the_document_as_stale_and_flags_it(
        self, client: StewardClient, kb: Runtime
    ) -> None:
        target = doc_id(kb, REFUND)
        client.deprecate(target, actor="ana@example.com")
        hits = client.retrieve("how long is the refund window?", top_k=100).results
        assert "deprecated" in next(h for h in hits if h.doc_id == target).flags  # at once
        client.scan()
        reasons = {(i.doc_id, i.reason, i.by) for i in client.stale().items}
        assert (target, "deprecated", "ana@example.com") in reasons

    def test_not_duplicate_takes_a_cluster_apart(self, client: StewardClient) -> None:
        cluster = client.duplicates().items[0]
        member = cluster.members[0]
        client.not_duplicate(cluster.canonical.doc_id, member.doc_id, actor="ana@example.com")
        left = client.duplicates()
        assert left.total == 3
        assert cluster.canonical.doc_id not in {c.canonical.doc_id for c in left.items}

    def test_a_conflict_resolves_by_a_prefix_of_its_id(self, client: StewardClient) -> None:
        conflict = client.conflicts().items[0]
        client.resolve_conflict(conflict.id[:8], "keep_b", actor="it@example.com")
        assert conflict.id not in {c.id for c in client.conflicts().items}
        resolved = [c for c in client.conflicts(include_resolved=True).items if c.id == conflict.id]
        assert resolved[0].resolution == "keep_b" and resolved[0].resolved_by == "it@example.com"

    def test_a_scan_is_recorded_as_the_last_one(self, client: StewardClient, kb: Runtime) -> None:
        before = client.last_scan()
        assert before is not None
        stages: list[str] = []
        done = client.scan(lambda stage, _done, _total: stages.append(stage))
        assert done.scan_id > before.scan_id
        assert done.summary["documents"] == kb.catalog.count_documents()
        assert done.summary["duplicate_clusters"] == 4
        last = client.last_scan()
        assert last is not None and last.scan_id == done.scan_id and last.finished_at is not None

    # -- evaluation, feedback, sources

    def test_a_golden_set_is_evaluated_stored_and_compared(self, client: StewardClient) -> None:
        added = client.add_golden_set("sample", QUERIES)
        assert (added.name, added.queries) == ("sample", 2)
        assert [(s.name, s.queries) for s in client.golden_sets()] == [("sample", 2)]
        first, second = client.evaluate("sample"), client.evaluate("sample")
        assert isinstance(first, EvalRun) and first.status == "ok"
        assert first.metrics is not None and 0 < first.metrics["ndcg@10"] <= 1
        assert first.per_query is not None and len(first.per_query) == 2
        listed = client.runs(golden_set="sample")
        assert [r.run_id for r in listed] == [second.run_id, first.run_id]
        assert listed[0].per_query is None  # listings leave out the per-query scores
        assert client.run(first.run_id).per_query == first.per_query
        compared = client.compare(first.run_id, second.run_id)
        assert compared.queries == 2
        assert compared.metrics["ndcg@10"].difference == 0.0
        client.accept_run(second.run_id, actor="ana@example.com")
        assert client.run(second.run_id).accepted_by == "ana@example.com"
        assert client.regressions(golden_set="sample") == []

    def test_probes_run_as_their_own_golden_set(self, client: StewardClient) -> None:
        probed = client.probes(size=4)
        assert probed.golden_set == "probes" and probed.status == "ok"
        assert probed.metrics is not None and "recall@10" in probed.metrics

    def test_feedback_on_a_result_is_summarised(self, client: StewardClient) -> None:
        answer = client.retrieve("how long is the refund window?", top_k=3)
        feedback_id = client.feedback(answer.query_id, answer.results[0].chunk_id, True)
        assert isinstance(feedback_id, int)
        summary = client.feedback_summary()
        assert summary.precision_by_source["handbook"].judged == 1
        assert summary.queries >= 1

    def test_sources_are_listed_with_their_last_run(self, client: StewardClient) -> None:
        [source] = client.sources()
        assert (source.name, source.connector, source.schedule) == ("handbook", "filesystem", None)
        assert source.documents > 40
        assert source.last_run is not None and source.last_run.status == "ok"

    # -- syncs asked for by id

    def test_a_sync_is_started_followed_and_read_back(
        self, client: StewardClient, kb: Runtime
    ) -> None:
        [before] = client.sources()
        started = client.start_sync("handbook")
        assert isinstance(started, SyncRun) and started.source == "handbook"
        assert started.status in ("queued", "running") and started.finished_at is None
        done = client.wait_for_sync("handbook", started.run_id, timeout_s=120, poll_s=0.05)
        assert (done.run_id, done.status, done.error) == (started.run_id, "ok", None)
        assert done.result is not None and done.result["new"] == 0
        assert done.result["unchanged"] == before.documents  # nothing changed since the ingest
        assert done.result["listed"] == before.documents + done.result["skipped"]
        assert done.progress.read == done.result["listed"]
        assert done.started_at is not None and done.finished_at is not None
        assert done.requested_at <= done.started_at <= done.finished_at
        assert client.sync_run("handbook", started.run_id) == done
        [after] = client.sources()
        assert after.last_run is not None and before.last_run is not None
        assert after.last_run.run_id > before.last_run.run_id and after.last_run.status == "ok"

    def test_a_second_sync_of_a_source_is_a_conflict_naming_the_running_one(
        self, client: StewardClient, kb: Runtime
    ) -> None:
        release, held = threading.Event(), threading.Event()

        def hold(_summary: dict[str, Any]) -> None:  # a step after the sync: it still runs
            held.set()
            release.wait(60)

        kb.after_sync.append(AfterSync(None, hold))
        try:
            first = client.start_sync("handbook")
            assert held.wait(60)
            with pytest.raises(ConflictError) as busy:
                client.start_sync("handbook")
            assert busy.value.status_code == 409 and first.run_id in busy.value.detail
            with pytest.raises(SyncTimeoutError) as late:
                client.wait_for_sync("handbook", first.run_id, timeout_s=0.2, poll_s=0.05)
            assert late.value.run.status == "running" and late.value.run.progress.read > 40
            assert first.run_id in str(late.value)
        finally:
            release.set()
        assert client.wait_for_sync("handbook", first.run_id, timeout_s=120).status == "ok"

    def test_a_failed_sync_fails_the_wait_with_its_reason(
        self, client: StewardClient, kb: Runtime
    ) -> None:
        declared = kb.settings.home.sources_file
        declared.write_text(
            "sources:\n  handbook:\n    connector: filesystem\n    path: /no/such/folder\n",
            encoding="utf-8",
        )
        started = client.start_sync("handbook")
        with pytest.raises(SyncFailedError) as failed:
            client.wait_for_sync("handbook", started.run_id, timeout_s=120, poll_s=0.05)
        run = failed.value.run
        assert (run.run_id, run.status) == (started.run_id, "failed")
        assert run.error is not None and "not a readable folder" in run.error
        assert "not a readable folder" in str(failed.value)

    def test_unknown_sources_and_runs_are_not_found(self, client: StewardClient) -> None:
        with pytest.raises(NotFoundError) as source:
            client.start_sync("nope")
        assert source.value.status_code == 404 and "nope" in source.value.detail
        with pytest.raises(NotFoundError):
            client.sync_run("handbook", "no-such-run")
        started = client.start_sync("handbook")
        with pytest.raises(NotFoundError):  # a run is found under its own source only
            client.sync_run("other", started.run_id)
        with pytest.raises(ValueError, match="poll_s"):
            client.wait_for_sync("handbook", started.run_id, poll_s=0)
        client.wait_for_sync("handbook", started.run_id, timeout_s=120)

    # -- errors: the same ones from every implementation

    def test_an_unknown_id_is_not_found(self, client: StewardClient) -> None:
        with pytest.raises(NotFoundError) as raised:
            client.document("nope")
        assert raised.value.status_code == 404 and "nope" in raised.value.detail
        with pytest.raises(NotFoundError):
            client.run(999)
        with pytest.raises(NotFoundError):
            client.resolve_conflict("zz", "keep_b", actor="ana@example.com")
        with pytest.raises(NotFoundError):
            client.evaluate("no-such-set")
        with pytest.raises(NotFoundError):
            client.feedback("no-such-query", "chunk", True)

    def test_an_invalid_request_names_its_fields(self, client: StewardClient) -> None:
        with pytest.raises(InvalidRequestError) as blank:
            client.retrieve("   ")
        assert blank.value.status_code == 422
        assert blank.value.fields == [
            FieldError(("body", "query"), "Value error, must not be empty")
        ]
        with pytest.raises(InvalidRequestError) as top_k:
            client.retrieve("refund", top_k=0)
        assert fields(top_k) == {"top_k"}
        with pytest.raises(InvalidRequestError) as limit:
            client.duplicates(limit=0)
        assert fields(limit) == {"limit"}
        with pytest.raises(InvalidRequestError) as resolution:
            client.resolve_conflict("zz", "keep_x", actor="ana")  # type: ignore[arg-type]
        assert fields(resolution) == {"resolution"}
        with pytest.raises(InvalidRequestError) as actor:
            client.verify("nope", actor="")
        assert fields(actor) == {"actor"}
        with pytest.raises(InvalidRequestError) as queries:
            client.add_golden_set("empty", [])
        assert fields(queries) == {"queries"}
