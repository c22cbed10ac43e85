"""The HTTP API over a real server, the real model and a small knowledge base of ten files."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from api.app import create_app
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from ingest.pipeline import document_id
from steward.errors import StoreError

MODES = ["hybrid", "dense", "sparse"]
FIELDS = set(
    "chunk_id doc_id source source_uri title section text score updated_at flags"
    " superseded_by duplicate_of duplicates".split()
)

VPN = (
    "Connect to the company VPN with the WireGuard client before opening internal sites. "
    "Import the profile from the IT portal; it renews itself every thirty days."
)


def onboarding_weeks() -> str:
    """A long document: six paragraphs of about ninety word pieces, several chunks in all."""
    paragraphs = []
    for week, task in enumerate(
        [
            "set up the laptop",
            "meet the team",
            "read the architecture notes",
            "ship a first change",
            "join the on-call rota",
            "present a demo",
        ],
        start=1,
    ):
        paragraphs.append(
            f"In week {week} of onboarding every new engineer will {task}. "
            + " ".join(
                f"Step {week}.{n}: the buddy checks that the work to {task} is complete."
                for n in range(1, 6)
            )
        )
    return "# Engineering onboarding\n\n" + "\n\n".join(paragraphs) + "\n"


@pytest.fixture(scope="module")
def kb_runtime(
    tmp_path_factory: pytest.TempPathFactory, embedder, make_settings, write
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("api")
    kb, legal = root / "kb", root / "legal"
    write.markdown(
        kb / "hr/vacation.md",
        "# Vacation policy\n\nSubmit vacation requests two weeks ahead in the HR portal.\n\n"
        "## Carry over\n\nUp to five unused vacation days carry over into the next year.\n",
        owner="hr@example.com",
        review_by="2026-01-31",
        tags=["hr", "leave"],
        acl=["staff"],
        updated="2025-03-01",
    )
    write.text(
        kb / "it/printer.txt",
        "Printer setup\n\nTo connect to the office printer, open the system settings and add "
        "the network printer named floor3-laser. Toner is kept in the supply room.\n",
    )
    write.html(
        kb / "eng/api-limits.html",
        "API rate limits",
        [("Quotas", "Each API key may make one hundred requests per minute; more are refused.")],
    )
    write.docx(
        kb / "finance/expenses.docx",
        "Expense guide",
        [("Meals", "Meals on business trips are reimbursed up to fifty euros per day.")],
    )
    write.pdf(
        kb / "it/security.pdf",
        "Security handbook",
        [("Passwords", "Passwords must be rotated every ninety days with the password manager.")],
    )
    write.markdown(kb / "eng/onboarding.md", onboarding_weeks(), updated="2023-05-01")
    write.markdown(
        kb / "facilities/coffee.md",
        "# Coffee machine\n\nDescale the coffee machine every Friday with the blue tablets.\n",
        updated="2022-01-10",
    )
    write.markdown(kb / "it/vpn.md", f"# VPN access\n\n{VPN}\n", updated="2025-09-01")
    write.markdown(kb / "archive/vpn.md", f"# VPN access\n\n{VPN}\n", updated="2025-09-01")
    write.markdown(
        legal / "contracts.md",
        "# Contract review\n\nEvery contract above ten thousand euros is reviewed by the legal "
        "team within five working days.\n",
        updated="2025-01-01",
    )
    live = open_runtime(make_settings(root), embedder=embedder)
    for folder, source in ((kb, "kb"), (legal, "legal")):
        summary = live.pipeline.run(FilesystemConnector(folder, source))
        assert summary.status == "ok" and summary.skipped == [], summary
    yield live
    live.close()


@pytest.fixture(scope="module")
def base_url(kb_runtime: Runtime, serve_app) -> Iterator[str]:
    with serve_app(create_app(kb_runtime.settings, kb_runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http


def retrieve(client: httpx.Client, **body) -> dict:
    response = client.post("/retrieve", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# -- retrieval -----------------------------------------------------------------------------

QUESTIONS = [
    ("how many unused vacation days carry over into the next year", "hr/vacation.md"),
    ("how do I connect to the office printer", "it/printer.txt"),
    ("how often must passwords be rotated", "it/security.pdf"),
    ("descale the coffee machine", "facilities/coffee.md"),
    ("API key requests per minute", "eng/api-limits.html"),
    ("meals reimbursed per day on business trips", "finance/expenses.docx"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("question", "expected"), QUESTIONS)
def test_the_right_document_comes_first(client, mode: str, question: str, expected: str) -> None:
    answer = retrieve(client, query=question, mode=mode, top_k=3)
    assert answer["results"][0]["source_uri"] == expected


def test_the_response_has_every_field(client, kb_runtime: Runtime) -> None:
    answer = retrieve(client, query="vacation carry over", top_k=5)
    assert set(answer) == {"query_id", "results", "took_ms"}
    assert isinstance(answer["took_ms"], float) and answer["took_ms"] > 0
    assert len(answer["query_id"]) == 36
    top = answer["results"][0]
    assert set(top) == FIELDS
    assert top["doc_id"] == document_id("kb", "hr/vacation.md")
    assert (top["source"], top["title"], top["section"]) == ("kb", "Vacation policy", "")
    assert "Up to five unused vacation days carry over" in top["text"]
    assert top["updated_at"] == "2025-03-01T00:00:00Z"
    assert top["flags"] == []
    stored = {c.chunk_id: c.payload.text for c in kb_runtime.store.document_chunks(top["doc_id"])}
    assert stored[top["chunk_id"]] == top["text"]
    scores = [hit["score"] for hit in answer["results"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode", MODES)
def test_identical_text_in_two_files_takes_one_slot(client, mode: str) -> None:
    hits = retrieve(client, query="connect to the VPN with WireGuard", mode=mode, top_k=10)
    results = hits["results"]
    assert VPN in results[0]["text"]
    assert sum(VPN in hit["text"] for hit in results) == 1
    assert len({hit["text"] for hit in results}) == len(results)


@pytest.mark.parametrize("mode", MODES)
def test_top_k_is_respected(client, kb_runtime: Runtime, mode: str) -> None:
    # Four documents match these words in every mode: three results, no more.
    query = "vacation printer password coffee"
    assert len(retrieve(client, query=query, mode=mode, top_k=3)["results"]) == 3
    assert len(retrieve(client, query="vacation printer", mode=mode, top_k=1)["results"]) == 1
    if mode == "dense":
        # Dense search reaches every chunk; one slot per distinct text.
        distinct = {
            c.payload.content_hash
            for row in [
                *kb_runtime.catalog.documents_of("kb"),
                *kb_runtime.catalog.documents_of("legal"),
            ]
            for c in kb_runtime.store.document_chunks(row)
        }
        everything = retrieve(client, query="policy", mode=mode, top_k=100)["results"]
        assert len(everything) == len(distinct) < kb_runtime.store.count()


def test_a_query_of_stopwords_only_finds_nothing_sparse(client) -> None:
    assert retrieve(client, query="the of and", mode="sparse")["results"] == []


# -- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_source_filter_keeps_one_source(client, mode: str) -> None:
    legal = retrieve(client, query="who reviews contracts", mode=mode, filters={"source": "legal"})
    assert legal["results"] and {h["source"] for h in legal["results"]} == {"legal"}
    assert legal["results"][0]["source_uri"] == "contracts.md"

    vacation = retrieve(client, query="vacation days", mode="dense", filters={"source": ["legal"]})
    assert {h["source"] for h in vacation["results"]} == {"legal"}

    both = retrieve(
        client,
        query="vacation contract",
        mode="dense",
        top_k=100,
        filters={"source": ["kb", "legal"]},
    )
    assert {h["source"] for h in both["results"]} == {"kb", "legal"}


@pytest.mark.parametrize("mode", MODES)
def test_the_uri_prefix_filter_keeps_one_folder(client, mode: str) -> None:
    answer = retrieve(
        client,
        query="printer password VPN vacation",
        mode=mode,
        top_k=100,
        filters={"source_uri_prefix": "it/"},
    )
    uris = {hit["source_uri"] for hit in answer["results"]}
    assert uris and all(uri.startswith("it/") for uri in uris)
    if mode == "dense":
        assert uris == {"it/printer.txt", "it/security.pdf", "it/vpn.md"}


@pytest.mark.parametrize("mode", MODES)
def test_the_updated_after_filter_drops_older_documents(client, mode: str) -> None:
    question = "descale the coffee machine"
    assert retrieve(client, query=question, mode=mode)["results"][0]["source_uri"] == (
        "facilities/coffee.md"
    )
    answer = retrieve(
        client,
        query=question,
        mode=mode,
        top_k=100,
        filters={"updated_after": "2024-01-01T00:00:00Z"},
    )
    uris = {hit["source_uri"] for hit in answer["results"]}
    assert "facilities/coffee.md" not in uris and "eng/onboarding.md" not in uris
    assert all(hit["updated_at"] > "2024-01-01T00:00:00Z" for hit in answer["results"])
    if mode == "dense":
        assert "hr/vacation.md" in uris


def test_updated_after_understands_offsets_and_naive_times(client) -> None:
    # 2025-03-01T00:00Z is 2025-03-01T01:00+01:00: "after 00:30+01:00" (23:30Z the day before)
    # includes the vacation policy; "after 01:30+01:00" excludes it.
    def uris(after: str) -> set[str]:
        answer = retrieve(
            client, query="vacation", mode="dense", top_k=100, filters={"updated_after": after}
        )
        return {hit["source_uri"] for hit in answer["results"]}

    assert "hr/vacation.md" in uris("2025-03-01T00:30:00+01:00")
    assert "hr/vacation.md" not in uris("2025-03-01T01:30:00+01:00")
    assert "hr/vacation.md" not in uris("2025-03-01T00:00:00")  # naive means UTC; strictly after
    assert "hr/vacation.md" in uris("2025-02-28")


def test_filters_combine(client) -> None:
    answer = retrieve(
        client,
        query="VPN",
        mode="dense",
        top_k=100,
        filters={
            "source": "kb",
            "source_uri_prefix": "it/",
            "updated_after": "2025-06-01T00:00:00Z",
        },
    )
    uris = {hit["source_uri"] for hit in answer["results"]}
    assert "it/vpn.md" in uris
    assert all(u.startswith("it/") for u in uris) and "archive/vpn.md" not in uris


# -- bad requests --------------------------------------------------------------------------

BAD_BODIES = {
    "empty query": ({"query": ""}, ["body", "query"]),
    "whitespace query": ({"query": " \t\n "}, ["body", "query"]),
    "query too long": ({"query": "x" * 4001}, ["body", "query"]),
    "query not a string": ({"query": 42}, ["body", "query"]),
    "query missing": ({"top_k": 3}, ["body", "query"]),
    "top_k 0": ({"query": "vpn", "top_k": 0}, ["body", "top_k"]),
    "top_k 101": ({"query": "vpn", "top_k": 101}, ["body", "top_k"]),
    "top_k not a number": ({"query": "vpn", "top_k": "many"}, ["body", "top_k"]),
    "top_k fractional": ({"query": "vpn", "top_k": 2.5}, ["body", "top_k"]),
    "top_k a boolean": ({"query": "vpn", "top_k": True}, ["body", "top_k"]),
    "unknown mode": ({"query": "vpn", "mode": "semantic"}, ["body", "mode"]),
    "unknown top-level key": ({"query": "vpn", "limit": 3}, ["body", "limit"]),
    "unknown filter key": (
        {"query": "vpn", "filters": {"author": "me"}},
        ["body", "filters", "author"],
    ),
    "filters not an object": ({"query": "vpn", "filters": "kb"}, ["body", "filters"]),
    "bad updated_after": (
        {"query": "vpn", "filters": {"updated_after": "last tuesday"}},
        ["body", "filters", "updated_after"],
    ),
    "empty source name": (
        {"query": "vpn", "filters": {"source": " "}},
        ["body", "filters", "source"],
    ),
    "source not a string": (
        {"query": "vpn", "filters": {"source": 7}},
        ["body", "filters", "source"],
    ),
    "empty uri prefix": (
        {"query": "vpn", "filters": {"source_uri_prefix": ""}},
        ["body", "filters", "source_uri_prefix"],
    ),
    "body is a list": (["vpn"], ["body"]),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_bad_body_is_a_422_naming_the_field(client, case: str) -> None:
    body, loc = BAD_BODIES[case]
    response = client.post("/retrieve", json=body)
    assert response.status_code == 422, response.text
    locs = [item["loc"][: len(loc)] for item in response.json()["detail"]]
    assert loc in locs, locs


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {"content-type": "application/json"}),
        (b'{"query": "vpn",', {"content-type": "application/json"}),
        (b"query=vpn", {"content-type": "application/x-www-form-urlencoded"}),
    ],
    ids=["missing body", "malformed JSON", "form body"],
)
def test_a_body_that_is_not_json_is_a_422(client, content: bytes, headers: dict) -> None:
    response = client.post("/retrieve", content=content, headers=headers)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all(item["loc"][0] == "body" for item in detail)


def test_a_body_that_is_not_utf8_is_a_client_error(client) -> None:
    response = client.post(
        "/retrieve", content=b"\xff\xfe not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400  # FastAPI's answer to a body it cannot decode
    assert response.json() == {"detail": "There was an error parsing the body"}


@pytest.mark.parametrize("after", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_updated_after_at_the_edge_of_time_is_not_a_500(base_url: str, after: str) -> None:
    # Its own connection: after a 500 the server drops the connection it answered on.
    body = {"query": "vpn", "filters": {"updated_after": after}}
    response = httpx.post(f"{base_url}/retrieve", json=body, timeout=30)
    assert response.status_code in (200, 422), response.text


# -- documents, health, docs ---------------------------------------------------------------


def test_a_document_comes_with_its_metadata_and_chunks_in_order(client, kb_runtime) -> None:
    doc_id = document_id("kb", "eng/onboarding.md")
    response = client.get(f"/documents/{doc_id}")
    assert response.status_code == 200
    doc = response.json()
    assert (doc["doc_id"], doc["source"], doc["source_uri"]) == (doc_id, "kb", "eng/onboarding.md")
    assert doc["title"] == "Engineering onboarding"
    assert doc["updated_at"] == "2023-05-01T00:00:00Z"
    row = kb_runtime.catalog.document(doc_id)
    assert (doc["content_hash"], doc["size"]) == (row.content_hash, row.size)
    chunks = doc["chunks"]
    assert len(chunks) >= 3
    assert [c["ordinal"] for c in chunks] == list(range(len(chunks)))
    assert [c["chunk_id"] for c in chunks] == row.chunk_ids
    text = "\n".join(c["text"] for c in chunks)
    weeks = [text.index(f"In week {week} of onboarding") for week in range(1, 7)]
    assert weeks == sorted(weeks)  # reading order


def test_a_documents_front_matter_is_served(client) -> None:
    doc = client.get(f"/documents/{document_id('kb', 'hr/vacation.md')}").json()
    assert doc["owner"] == "hr@example.com"
    assert doc["review_by"] == "2026-01-31"
    assert (doc["tags"], doc["acl"]) == (["hr", "leave"], ["staff"])
    assert datetime.fromisoformat(doc["last_ingested"]) >= datetime.fromisoformat(doc["first_seen"])


def test_an_unknown_document_is_a_404_with_a_message(client) -> None:
    response = client.get("/documents/no-such-document")
    assert response.status_code == 404
    assert response.json() == {"detail": "document 'no-such-document' not found"}


def test_health_counts_documents_and_chunks(client, kb_runtime: Runtime) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "backend": "edge",
        "model": "bundled:all-MiniLM-L6-v2",
        "documents": 10,
        "chunks": kb_runtime.store.count(),
        "access_control": "off",
    }
    assert kb_runtime.store.count() >= 12


def test_the_openapi_schema_and_docs_are_served(client) -> None:
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/retrieve", "/documents/{doc_id}", "/health"} <= set(paths)
    assert "post" in paths["/retrieve"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()
    assert "/openapi.json" in docs.text


def test_concurrent_requests_all_get_the_same_answer(client) -> None:
    body = {"query": "how often must passwords be rotated", "top_k": 3}

    def ask(_: int) -> tuple[int, str]:
        response = client.post("/retrieve", json=body)
        return response.status_code, response.json()["results"][0]["chunk_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(24)))
    assert {status for status, _ in answers} == {200}
    assert len({chunk for _, chunk in answers}) == 1


def test_an_empty_index_answers_with_nothing(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as http:
        health = http.get("/health").json()
        assert (health["documents"], health["chunks"]) == (0, 0)
        for mode in MODES:
            response = http.post("/retrieve", json={"query": "anything at all", "mode": mode})
            assert response.status_code == 200, response.text
            assert response.json()["results"] == []
        assert http.get("/documents/abc").status_code == 404


def test_the_server_shuts_down_and_frees_its_port(kb_runtime: Runtime, serve_app) -> None:
    with serve_app(create_app(kb_runtime.settings, kb_runtime)) as url:
        assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)
    # The runtime handed in is left open: the module's server still answers from it.
    assert kb_runtime.store.count() > 0


def test_updated_at_is_rfc3339_utc(client) -> None:
    for hit in retrieve(client, query="printer", mode="dense", top_k=20)["results"]:
        parsed = datetime.strptime(hit["updated_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert parsed.year >= 2022


def test_kb_fixture_sanity(kb_runtime: Runtime) -> None:
    """The knowledge base is what the tests above assume: ten documents, two sources."""
    assert len(kb_runtime.catalog.documents_of("kb")) == 9
    assert len(kb_runtime.catalog.documents_of("legal")) == 1


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect in the local Qdrant:UserWarning")
def test_both_backends_serve_the_same_answers(
    tmp_path, embedder, make_settings, write, serve_app
) -> None:
    """The same small folder behind each backend's server: same results, same order."""
    kb = tmp_path / "kb"
    write.markdown(kb / "vacation.md", "# Vacation\n\nFive unused vacation days carry over.\n")
    write.text(kb / "printer.txt", "The office printer is floor3-laser, next to the kitchen.\n")
    write.markdown(kb / "coffee.md", "# Coffee\n\nDescale the coffee machine every Friday.\n")
    backends = {"edge": {"backend": "edge"}, "qdrant": {"backend": "qdrant", "url": ":memory:"}}
    answers: dict[str, list] = {}
    for name, index in backends.items():
        live = open_runtime(make_settings(tmp_path / name, index=index), embedder=embedder)
        try:
            live.pipeline.run(FilesystemConnector(kb, "kb"))
            with (
                serve_app(create_app(live.settings, live)) as url,
                httpx.Client(base_url=url, timeout=30) as http,
            ):
                assert http.get("/health").json()["backend"] == name
                answers[name] = [
                    [
                        (hit["chunk_id"], round(hit["score"], 4))
                        for hit in http.post(
                            "/retrieve", json={"query": question, "mode": mode}
                        ).json()["results"]
                    ]
                    for question in ("vacation days", "where is the printer", "coffee")
                    for mode in MODES
                ]
        finally:
            live.close()
    assert all(answers["edge"])
    assert answers["edge"] == answers["qdrant"]


def test_an_index_built_with_another_model_is_refused_not_a_500(
    tmp_path, embedder, hash_embedder, make_settings, write, serve_app
) -> None:
    write.markdown(tmp_path / "kb/pumps.md", "# Pumps\n\nPumps are serviced every spring.\n")
    settings = make_settings(tmp_path)
    built = open_runtime(settings, embedder=hash_embedder)
    built.pipeline.run(FilesystemConnector(tmp_path / "kb", "kb"))
    built.close()

    try:
        live = open_runtime(settings, embedder=embedder)
    except StoreError as error:  # refusing at start is a fine answer
        assert hash_embedder.name in str(error)
        return
    try:
        with serve_app(create_app(settings, live)) as url:
            response = httpx.post(f"{url}/retrieve", json={"query": "pumps", "mode": "dense"})
    except RuntimeError:  # the server refused to start: fine too
        return
    finally:
        live.close()
    assert response.status_code == 503, response.text
    assert hash_embedder.name in response.json()["detail"]


def test_every_json_route_declares_its_response_model() -> None:
    """So OpenAPI documents every answer and nothing undeclared leaves: a pydantic model (or a
    list of them) on each route, not a `dict[str, Any]` inferred from the function; 204s have no
    body and /metrics answers Prometheus text."""
    import importlib
    import pkgutil
    from typing import get_args

    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    import api.routes

    def declared(model: object) -> bool:
        inner = get_args(model)[0] if get_args(model) else model
        return isinstance(inner, type) and issubclass(inner, BaseModel)

    routes = [
        route
        for module in pkgutil.iter_modules(api.routes.__path__)
        for route in importlib.import_module(f"api.routes.{module.name}").router.routes
        if isinstance(route, APIRoute)
    ]
    answering = [
        route
        for route in routes
        if route.status_code != 204
        and getattr(route.response_class, "value", route.response_class) is JSONResponse
    ]
    assert {"/eval/runs", "/eval/compare", "/feedback/summary"} <= {r.path for r in answering}
    assert [r.path for r in answering if not declared(r.response_model)] == []
