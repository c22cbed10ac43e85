"""Bad files are skipped one by one with a reason; the run, and what is indexed, survive them."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import zipfile
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from app.runtime import Runtime
from connectors.filesystem import FilesystemConnector
from connectors.jsonl import JsonlConnector
from evaluation.golden import parse_records
from evaluation.runs import EvalRecords
from ingest import parse
from ingest.pipeline import document_id
from steward.domain import DocumentRef, RawDocument

SOURCE = "kb"


class VanishingConnector(FilesystemConnector):
    """A folder where some files are deleted between the listing and the read."""

    def __init__(self, root: Path, source: str, vanish: set[str]) -> None:
        super().__init__(root, source)
        self.vanish = vanish

    def fetch(self, ref: DocumentRef) -> RawDocument:
        if ref.key in self.vanish:
            (self.root / ref.key).unlink()
        return super().fetch(ref)


def snapshot(live: Runtime, key: str) -> tuple:
    """What the index and catalog hold for one document, timestamps aside."""
    doc_id = document_id(SOURCE, key)
    row = live.catalog.document(doc_id)
    chunks = [(c.chunk_id, c.payload.text) for c in live.store.document_chunks(doc_id)]
    return (row.content_hash, row.chunk_ids, row.last_ingested) if row else None, chunks


def reasons(summary) -> dict[str, str]:
    return {item["source_uri"]: item["reason"] for item in summary.skipped}


@pytest.fixture
def hash_runtime(open_home, hash_embedder) -> Runtime:
    return open_home("a", hash_embedder)


def test_bad_files_are_skipped_with_reasons_and_indexed_documents_survive(
    hash_runtime: Runtime, write, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    write.markdown(kb / "good.md", "# Good\n\nThe cafeteria opens at eight in the morning.\n")
    write.text(kb / "notes.txt", "Parking permits are renewed every January.\n")
    write.pdf(kb / "report.pdf", "Quarterly Report", [("Revenue", "Revenue grew by ten percent.")])
    first = hash_runtime.pipeline.run(FilesystemConnector(kb, SOURCE))
    assert (first.new, first.skipped) == (3, [])
    before = {key: snapshot(hash_runtime, key) for key in ("good.md", "notes.txt", "report.pdf")}
    assert all(chunks for _, chunks in before.values())

    # Run 2: the PDF got damaged, and a zoo of bad files arrived beside one good newcomer.
    (kb / "report.pdf").write_bytes(
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\ngarbage"
    )
    (kb / "corrupt.pdf").write_bytes(b"this is not a PDF at all\n" * 20)
    (kb / "binary.md").write_bytes(b"# Looks like markdown\n\x00\x01\x02\xff\xfe\x00binary" * 10)
    (kb / "empty.txt").write_bytes(b"")
    (kb / "blank.md").write_bytes(b"  \n\n\t\n")
    (kb / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip archive")
    (kb / "front.md").write_text("---\ntitle: [unclosed\n---\n\nBody text here.\n")
    (kb / "picture.xyz").write_bytes(b"whatever")
    (kb / "Makefile").write_text("all:\n\techo hi\n")
    write.markdown(kb / "vanish.md", "# Soon gone\n\nThis file disappears before it is read.\n")
    write.text(
        kb / "legacy.txt",
        "Legacy notes\n\nJosé paid 25 € for the café voucher – a “good” deal.\n",
        encoding="cp1252",
    )

    second = hash_runtime.pipeline.run(VanishingConnector(kb, SOURCE, vanish={"vanish.md"}))

    assert second.status == "ok"
    skipped = reasons(second)
    assert set(skipped) == {
        "report.pdf",
        "corrupt.pdf",
        "binary.md",
        "empty.txt",
        "blank.md",
        "broken.docx",
        "front.md",
        "picture.xyz",
        "Makefile",
        "vanish.md",
    }
    expected_words = {
        "report.pdf": "PDF",
        "corrupt.pdf": "PDF",
        "binary.md": "binary",
        "empty.txt": "empty",
        "blank.md": "empty",
        "broken.docx": "DOCX",
        "front.md": "front matter",
        "picture.xyz": "unsupported file type .xyz",
        "Makefile": "unsupported file type",
        "vanish.md": "vanished",
    }
    for uri, word in expected_words.items():
        assert word in skipped[uri], (uri, skipped[uri])

    # Everything else is in: the unchanged documents untouched, the cp1252 file decoded right.
    assert (second.new, second.unchanged, second.changed, second.deleted) == (1, 2, 0, 0)
    legacy = hash_runtime.store.document_chunks(document_id(SOURCE, "legacy.txt"))
    text = "\n".join(c.payload.text for c in legacy)
    assert "José paid 25 € for the café voucher – a “good” deal." in text
    assert "\ufffd" not in text

    # The document that went bad keeps what run 1 indexed; so do the good ones.
    for key, state in before.items():
        assert snapshot(hash_runtime, key) == state, key
    assert hash_runtime.catalog.document(document_id(SOURCE, "vanish.md")) is None
    assert hash_runtime.store.count() == sum(len(c) for _, c in before.values()) + len(legacy)


def test_files_above_the_size_limit_are_skipped(open_home, hash_embedder, write, tmp_path) -> None:
    live = open_home("a", hash_embedder, ingest={"max_file_mb": 0.001})  # 1,048 bytes
    kb = tmp_path / "kb"
    write.text(kb / "small.txt", "Small files are welcome here.\n")
    write.text(kb / "big.txt", "Large files are refused by size. " * 150)  # ~5 KB

    summary = live.pipeline.run(FilesystemConnector(kb, SOURCE))

    assert summary.new == 1
    assert [item["source_uri"] for item in summary.skipped] == ["big.txt"]
    assert "limit" in summary.skipped[0]["reason"]
    assert live.catalog.document(document_id(SOURCE, "big.txt")) is None
    assert live.store.document_ids(SOURCE) == {document_id(SOURCE, "small.txt")}


def test_the_size_reason_states_a_size_above_the_limit(
    open_home, hash_embedder, write, tmp_path
) -> None:
    live = open_home("a", hash_embedder, ingest={"max_file_mb": 0.001})
    write.text(tmp_path / "kb/big.txt", "Large files are refused by size. " * 150)
    summary = live.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    reason = summary.skipped[0]["reason"]
    size, limit = (float(x) for x in re.findall(r"\d+(?:\.\d+)?", reason)[:2])
    assert size > limit, reason


def test_a_missing_source_folder_fails_the_run_and_prunes_nothing(
    hash_runtime: Runtime, write, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    write.text(kb / "a.txt", "Parking permits are renewed every January at the front desk.\n")
    write.text(kb / "b.txt", "Lunch is served in the canteen from noon until two.\n")
    hash_runtime.pipeline.run(FilesystemConnector(kb, SOURCE))
    rows_before = hash_runtime.catalog.documents_of(SOURCE)
    count_before = hash_runtime.store.count()
    assert len(rows_before) == 2 and count_before >= 2

    missing = tmp_path / "no-such-folder"
    summary = hash_runtime.pipeline.run(FilesystemConnector(missing, SOURCE))

    assert summary.status == "failed"
    assert str(missing) in (summary.error or "")
    assert summary.deleted == 0
    assert hash_runtime.catalog.documents_of(SOURCE) == rows_before
    assert hash_runtime.store.count() == count_before
    assert hash_runtime.store.document_ids(SOURCE) == set(rows_before)
    assert hash_runtime.catalog.last_run(SOURCE).status == "failed"


def test_an_empty_folder_prunes_nothing_unless_deletes_are_allowed(
    open_home, hash_embedder, write, tmp_path: Path
) -> None:
    """An empty listing is what a flaky source looks like: it fails, unless told otherwise."""
    kb = tmp_path / "kb"
    write.text(kb / "a.txt", "Parking permits are renewed every January at the front desk.\n")
    guarded = open_home("a", hash_embedder)
    guarded.pipeline.run(FilesystemConnector(kb, SOURCE))
    (kb / "a.txt").unlink()

    summary = guarded.pipeline.run(FilesystemConnector(kb, SOURCE))
    assert (summary.status, summary.deleted) == ("failed", 0)
    assert "1 of 1 documents" in (summary.error or "")
    assert len(guarded.catalog.documents_of(SOURCE)) == 1 and guarded.store.count() == 1
    guarded.close()

    allowed = open_home("a", hash_embedder, ingest={"max_delete_share": 1.0})
    summary = allowed.pipeline.run(FilesystemConnector(kb, SOURCE))
    assert (summary.status, summary.deleted) == ("ok", 1)
    assert allowed.catalog.documents_of(SOURCE) == {}
    assert allowed.store.count() == 0


# -- JSON-lines records --------------------------------------------------------------------

RECORDS = [
    {"_id": "d1", "title": "Pumps", "text": "Pumps are serviced every spring by the crew."},
    {"_id": "d2", "title": "Valves", "text": "Valves are checked monthly for leaks."},
]


def write_jsonl(path: Path, records: list, extra: str = "") -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n" + extra, encoding="utf-8")
    return path


def test_a_bad_jsonl_record_fails_the_run_and_prunes_nothing(
    hash_runtime: Runtime, tmp_path: Path
) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", RECORDS)
    first = hash_runtime.pipeline.run(JsonlConnector(corpus, "records"))
    assert (first.status, first.new) == ("ok", 2)
    rows = hash_runtime.catalog.documents_of("records")

    write_jsonl(corpus, RECORDS[:1], extra='{"_id": "d3", "text": "cut off\n')
    summary = hash_runtime.pipeline.run(JsonlConnector(corpus, "records"))

    assert summary.status == "failed"
    assert "corpus.jsonl:2" in summary.error  # the file and the line
    assert summary.deleted == 0
    assert hash_runtime.catalog.documents_of("records") == rows
    assert hash_runtime.store.document_ids("records") == set(rows)


def test_a_repeated_jsonl_id_does_not_crash_the_run(hash_runtime: Runtime, tmp_path: Path) -> None:
    duplicate = {"_id": "d1", "title": "Boilers", "text": "Boilers are bled every autumn."}
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [*RECORDS, duplicate])

    summary = hash_runtime.pipeline.run(JsonlConnector(corpus, "records"))  # must not raise

    assert "d1" in (summary.error or "") + json.dumps(summary.skipped)
    assert hash_runtime.store.document_ids("records") == set(
        hash_runtime.catalog.documents_of("records")
    )


# -- odd input over HTTP: a 4xx that names the field, never a 500 -----------------------------

# Raw JSON, so the escape reaches the server as sent: json.dumps of "\ud800" would be the same.
LONE_SURROGATE = "\\ud800"


@pytest.fixture
def api_url(hash_runtime: Runtime, serve_app, write, tmp_path: Path):
    write.text(tmp_path / "kb/a.txt", "Parking permits are renewed every January.\n")
    hash_runtime.pipeline.run(FilesystemConnector(tmp_path / "kb", SOURCE))
    with serve_app(create_app(hash_runtime.settings, hash_runtime)) as url:
        yield url


def post_raw(url: str, path: str, raw: str) -> httpx.Response:
    # A fresh connection each time: after a 500 the server drops the one it answered on.
    headers = {"content-type": "application/json"}
    return httpx.post(f"{url}{path}", content=raw.encode("ascii"), headers=headers, timeout=30)


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (f'{{"query": "park{LONE_SURROGATE}ing"}}', ["body", "query"]),
        (
            f'{{"query": "parking", "filters": {{"source": "{LONE_SURROGATE}"}}}}',
            ["body", "filters", "source"],
        ),
        (
            f'{{"query": "parking", "filters": {{"source": ["kb", "{LONE_SURROGATE}"]}}}}',
            ["body", "filters", "source"],
        ),
        (
            f'{{"query": "parking", "filters": {{"source_uri_prefix": "{LONE_SURROGATE}"}}}}',
            ["body", "filters", "source_uri_prefix"],
        ),
    ],
    ids=["query", "source", "source list", "uri prefix"],
)
def test_a_lone_surrogate_is_a_422_naming_the_field(api_url: str, raw: str, loc: list) -> None:
    response = post_raw(api_url, "/retrieve", raw)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert loc in [item["loc"][: len(loc)] for item in detail], detail
    assert any("unicode" in item["msg"].lower() for item in detail), detail


TOO_BIG = str(2**63)


@pytest.mark.parametrize(
    ("method", "path", "params", "name"),
    [
        ("GET", f"/eval/runs/{TOO_BIG}", {}, "run_id"),
        ("POST", f"/eval/runs/{TOO_BIG}/accept", {}, "run_id"),
        ("GET", "/eval/compare", {"a": TOO_BIG, "b": "1"}, "a"),
        ("GET", "/eval/compare", {"a": "1", "b": TOO_BIG}, "b"),
        ("GET", "/hygiene/stale", {"offset": TOO_BIG}, "offset"),
        ("GET", "/hygiene/duplicates", {"offset": TOO_BIG}, "offset"),
        ("GET", "/eval/runs", {"limit": TOO_BIG}, "limit"),
    ],
)
def test_an_integer_beyond_64_bits_is_a_422(
    api_url: str, method: str, path: str, params: dict, name: str
) -> None:
    body = {} if path.endswith("/accept") else None
    response = httpx.request(method, f"{api_url}{path}", params=params, json=body, timeout=30)
    assert response.status_code == 422, response.text
    assert name in [item["loc"][-1] for item in response.json()["detail"]]


def test_the_largest_64_bit_run_id_is_an_ordinary_404(api_url: str) -> None:
    response = httpx.get(f"{api_url}/eval/runs/{2**63 - 1}", timeout=30)
    assert response.status_code == 404, response.text


# -- bounded requests ------------------------------------------------------------------------


@pytest.fixture
def small_body_url(open_home, hash_embedder, serve_app):
    live = open_home("capped", hash_embedder, api={"max_body_bytes": 4096})
    with serve_app(create_app(live.settings, live)) as url:
        yield url


def test_a_body_above_the_limit_is_a_413_naming_the_limit(small_body_url: str) -> None:
    body = {"query": "parking " * 1000}  # ~8 KB
    response = httpx.post(f"{small_body_url}/retrieve", json=body, timeout=30)
    assert response.status_code == 413, response.text
    assert "4096 bytes" in response.json()["detail"]
    assert "STEWARD_API_MAX_BODY_BYTES" in response.json()["detail"]


def test_a_chunked_body_without_a_length_is_capped_too(small_body_url: str) -> None:
    def chunks():
        yield b'{"query": "'
        for _ in range(100):
            yield b"parking " * 16
        yield b'"}'

    request = httpx.Request(
        "POST",
        f"{small_body_url}/retrieve",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in request.headers  # sent chunked
    with httpx.Client(timeout=30) as http:
        response = http.send(request)
    assert response.status_code == 413, response.text
    assert "4096 bytes" in response.json()["detail"]


def test_a_body_within_the_limit_is_served(small_body_url: str) -> None:
    response = httpx.post(f"{small_body_url}/retrieve", json={"query": "parking"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == []  # nothing indexed in this home


def test_a_422_echoes_a_long_input_shortened(api_url: str) -> None:
    response = httpx.post(f"{api_url}/retrieve", json={"query": "x" * 100_000}, timeout=30)
    assert response.status_code == 422, response.text
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "query"]
    assert item["input"].startswith("xxxx") and len(item["input"]) <= 201
    assert len(response.content) < 2000


# -- bounded evaluation ----------------------------------------------------------------------


def golden(count: int) -> list[dict]:
    return [
        {"id": f"q{n}", "query": f"question {n}", "relevant": [{"doc_id": "d1"}]}
        for n in range(count)
    ]


def test_a_golden_set_above_the_limit_is_refused_naming_the_limit(
    open_home, hash_embedder, serve_app
) -> None:
    live = open_home("eval", hash_embedder, evaluation={"max_golden_queries": 3})
    with serve_app(create_app(live.settings, live)) as url:
        body = {"name": "big", "queries": golden(4)}
        refused = httpx.post(f"{url}/eval/golden-sets", json=body, timeout=30)
        assert refused.status_code == 422, refused.text
        message = json.dumps(refused.json())
        assert "4 queries" in message and "limit of 3" in message
        assert "STEWARD_EVAL_MAX_GOLDEN_QUERIES" in message
        assert EvalRecords(live.database).names() == []

        body = {"name": "small", "queries": golden(3)}
        saved = httpx.post(f"{url}/eval/golden-sets", json=body, timeout=30)
        assert saved.status_code == 201, saved.text
        assert EvalRecords(live.database).names() == ["small"]


def test_an_evaluation_run_left_running_is_marked_failed_at_start_up(
    open_home, hash_embedder
) -> None:
    first = open_home("eval", hash_embedder)
    records = EvalRecords(first.database)
    records.save_golden("sample", parse_records(golden(1)))
    run_id = records.start("sample", "api")  # ...and the process dies here
    assert records.run(run_id).status == "running"
    first.close()

    again = open_home("eval", hash_embedder)

    found = EvalRecords(again.database).run(run_id)
    assert found.status == "failed"
    assert "interrupted" in (found.error or "")


# -- parse limits ----------------------------------------------------------------------------

ALIAS_BOMB = (
    "---\n"
    "title: Laughs\n"
    'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "tags: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "---\n\nThe body of a document whose front matter expands to thousands of values.\n"
)


def test_front_matter_with_too_many_aliases_is_skipped_with_its_reason(
    hash_runtime: Runtime, write, tmp_path: Path
) -> None:
    kb = tmp_path / "kb"
    (kb / "bomb.md").parent.mkdir(parents=True, exist_ok=True)
    (kb / "bomb.md").write_text(ALIAS_BOMB, encoding="utf-8")
    # A few aliases, as people write them, are fine.
    (kb / "shared.md").write_text(
        "---\nowner: &who hr@example.com\nreviewer: *who\n---\n\n"
        "Parking permits are renewed every January.\n",
        encoding="utf-8",
    )

    summary = hash_runtime.pipeline.run(FilesystemConnector(kb, SOURCE))

    skipped = reasons(summary)
    assert set(skipped) == {"bomb.md"}, skipped
    assert "front matter" in skipped["bomb.md"] and "27 YAML aliases" in skipped["bomb.md"]
    assert hash_runtime.catalog.document(document_id(SOURCE, "bomb.md")) is None
    assert summary.new == 1
    assert hash_runtime.catalog.document(document_id(SOURCE, "shared.md")).owner == (
        "hr@example.com"
    )


def test_a_docx_that_unpacks_above_the_limit_is_skipped_with_its_reason(
    hash_runtime: Runtime, write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real limit is 256 MB; a smaller one keeps the test file small.
    monkeypatch.setattr(parse, "MAX_DOCX_UNPACKED_BYTES", 1024 * 1024)
    kb = tmp_path / "kb"
    write.docx(kb / "fine.docx", "Expense guide", [("Meals", "Meals are reimbursed.")])
    write.docx(kb / "bomb.docx", "Expense guide", [("Meals", "Meals are reimbursed.")])
    with zipfile.ZipFile(kb / "bomb.docx", "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/padding.bin", b"\0" * (2 * 1024 * 1024))
    assert (kb / "bomb.docx").stat().st_size < 64 * 1024  # small on disk, large unpacked

    summary = hash_runtime.pipeline.run(FilesystemConnector(kb, SOURCE))

    skipped = reasons(summary)
    assert set(skipped) == {"bomb.docx"}, skipped
    assert "DOCX unpacks to 2." in skipped["bomb.docx"]
    assert "limit of 1.0 MB" in skipped["bomb.docx"]
    assert summary.new == 1


# -- a busy catalog --------------------------------------------------------------------------


def test_retrieve_answers_while_the_catalog_is_locked_for_writing(
    hash_runtime: Runtime, api_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Another writer (a sync, a scan, a second process) holds the write lock past the timeout.
    holder = sqlite3.connect(hash_runtime.settings.home.catalog_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with caplog.at_level(logging.WARNING, logger="evaluation.feedback"):
            response = httpx.post(f"{api_url}/retrieve", json={"query": "parking"}, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [hit["source_uri"] for hit in answer["results"]] == ["a.txt"]
    assert "query log entry" in caplog.text and answer["query_id"] in caplog.text


def test_a_write_while_the_catalog_is_locked_is_a_503_to_retry(
    hash_runtime: Runtime, api_url: str
) -> None:
    holder = sqlite3.connect(hash_runtime.settings.home.catalog_path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        body = {"name": "sample", "queries": golden(1)}
        response = httpx.post(f"{api_url}/eval/golden-sets", json=body, timeout=60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503, response.text
    assert "retry" in response.json()["detail"] and response.headers["retry-after"] == "5"
    # Once the lock is gone the same request goes through.
    again = httpx.post(f"{api_url}/eval/golden-sets", json=body, timeout=60)
    assert again.status_code == 201, again.text
