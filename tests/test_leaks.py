"""No read path leaks a document its caller may not read: a property test over random documents.

Hypothesis writes a few pages per example, each with random access groups (or none: public), on
one of three topics whose values differ between pages (so scans find copies across groups and
conflicts between them), ingests them into a running server's index, scans, has an admin act on
them (verify, feedback) so the audit log and the feedback summary name them, and then calls every
read endpoint as each principal. Every page carries a marker word in its title, text and file
name; no answer to a principal may hold the marker, id or URI of a page outside its groups.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from app.sources import FilesystemSource, build_connector
from cli.main import app as cli
from ingest.pipeline import document_id
from steward.settings import AccessSettings, KeyEntry

GROUPS = ("red", "blue", "green")
# name -> (role, groups); the admin only sets the scene, it reads everything by design.
PRINCIPALS = {
    "red": ("reader", ["red"]),
    "blue": ("reader", ["blue"]),
    "red-blue": ("reader", ["red", "blue"]),
    "no-group": ("reader", []),
    "green-owner": ("owner", ["green"]),
    "admin": ("admin", []),
}
TOPICS = (
    "The daily meal allowance on business trips is {value} dollars, and receipts are kept.",
    "Laptops are replaced every {value} months by the service desk, who wipe the old disk.",
    "The office opens at {value} o'clock on weekdays; visitors register at reception.",
)
VALUES = (30, 45, 60)


def key_of(name: str) -> str:
    return f"leak-test-key-{name}-0001"


@dataclass(frozen=True)
class Page:
    marker: str
    source: str
    uri: str
    acl: frozenset[str]

    @property
    def doc_id(self) -> str:
        return document_id(self.source, self.uri)

    def readable_by(self, name: str) -> bool:
        role, groups = PRINCIPALS[name]
        return role == "admin" or not self.acl or bool(self.acl & set(groups))


class World:
    """The running server, its runtime, and every page written so far (across examples)."""

    def __init__(self, root: Path, runtime: Runtime, http: httpx.Client) -> None:
        self.root = root
        self.runtime = runtime
        self.http = http
        self.pages: list[Page] = []
        self.runs: list[str] = []  # the evaluation runs' paths
        self.examples = itertools.count()

    def get(self, name: str, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.auth(name))

    def post(self, name: str, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body, headers=self.auth(name))

    @staticmethod
    def auth(name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key_of(name)}"}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    hash_embedder: Any,
    make_settings: Any,
    serve_app: Any,
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("leaks")
    access = AccessSettings(
        keys=[
            KeyEntry(name=name, role=role, groups=groups, key=key_of(name))
            for name, (role, groups) in PRINCIPALS.items()
        ]
    )
    runtime = open_runtime(make_settings(root, auth=access), embedder=hash_embedder)
    try:
        with (
            serve_app(create_app(runtime.settings, runtime)) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            yield World(root, runtime, http)
    finally:
        runtime.close()


page_specs = st.lists(
    st.tuples(
        st.frozensets(st.sampled_from(GROUPS), max_size=2),
        st.integers(0, len(TOPICS) - 1),
        st.sampled_from(VALUES),
    ),
    min_size=1,
    max_size=4,
)


def write_pages(world: World, specs: list[tuple[frozenset[str], int, int]]) -> list[Page]:
    example = next(world.examples)
    source = f"s{example}"
    folder = world.root / source
    folder.mkdir()
    pages = []
    for i, (acl, topic, value) in enumerate(specs):
        marker = f"qxmark{example}x{i}"
        page = Page(marker, source, f"{marker}.md", acl)
        front = f"---\ntitle: Page {marker}\nacl: {sorted(acl)}\n---\n\n"
        text = f"# Page {marker}\n\n{TOPICS[topic].format(value=value)} See {marker}.\n"
        (folder / page.uri).write_text(front + text, encoding="utf-8")
        pages.append(page)
    summary = world.runtime.pipeline.run(
        build_connector(source, FilesystemSource(connector="filesystem", path=folder), world.root)
    )
    assert summary.status == "ok" and summary.skipped == [], summary
    return pages


def found_ids(answer: dict[str, Any]) -> set[str]:
    """The pages of a /retrieve answer: its results and the copies folded into them."""
    return {r["doc_id"] for r in answer["results"]} | {
        d for r in answer["results"] for d in r["duplicates"]
    }


def act_as_admin(world: World, pages: list[Page]) -> None:
    """Give the audit log and the feedback summary something to name about every page."""
    for page in pages:
        assert world.post("admin", f"/documents/{page.doc_id}/verify", {}).status_code == 204
        answer = world.post("admin", "/retrieve", {"query": page.marker, "top_k": 3})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        # The marker finds its page (or the copy it is folded into): a page missing below is
        # filtered, not unfindable.
        assert page.doc_id in found_ids(body), page
        for result in body["results"]:
            for _ in range(3):
                feedback = {
                    "query_id": body["query_id"],
                    "chunk_id": result["chunk_id"],
                    "relevant": False,
                }
                assert world.post("admin", "/feedback", feedback).status_code == 201


def evaluate_as_admin(world: World, pages: list[Page]) -> int:
    """A golden set judging this example's pages by their markers, run: the run's id."""
    name = f"leaks-{pages[0].source}"
    queries = [
        {"id": f"q{i}", "query": page.marker, "relevant": [{"doc_id": page.doc_id}]}
        for i, page in enumerate(pages)
    ]
    saved = world.post("admin", "/eval/golden-sets", {"name": name, "queries": queries})
    assert saved.status_code == 201, saved.text
    run = world.post("admin", "/eval/runs", {"golden_set": name})
    assert run.status_code == 201, run.text
    # Scored per query (a copy folded into its canonical page may score 0: still a detail).
    assert run.json()["status"] == "ok" and len(run.json()["per_query"]) == len(pages)
    return int(run.json()["run_id"])


def answers_for(world: World, name: str, pages: list[Page]) -> list[tuple[str, httpx.Response]]:
    """Every read endpoint as `name`: (what was asked, the answer)."""
    asked: list[tuple[str, httpx.Response]] = []
    queries = [page.marker for page in pages] + [topic.format(value=45) for topic in TOPICS]
    for query, mode in itertools.product(queries, ("hybrid", "sparse")):
        body = {"query": query, "top_k": 10, "mode": mode}
        asked.append((f"retrieve {query!r} {mode}", world.post(name, "/retrieve", body)))
    for path in ("/hygiene/duplicates", "/hygiene/stale", "/hygiene/conflicts"):
        asked.append((path, world.get(name, path, limit=500)))
    asked.append(("/hygiene/audit", world.get(name, "/hygiene/audit", limit=500)))
    for path in ("/hygiene/scans/last", "/feedback/summary", "/metrics"):
        asked.append((path, world.get(name, path)))
    for path in ("/eval/runs", "/eval/regressions", "/eval/golden-sets", *world.runs):
        asked.append((path, world.get(name, path)))
    return asked


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(specs=page_specs)
def test_no_read_path_shows_a_page_outside_the_callers_groups(
    world: World, specs: list[tuple[frozenset[str], int, int]]
) -> None:
    pages = write_pages(world, specs)
    world.pages.extend(pages)
    scan_hygiene(world.runtime)
    act_as_admin(world, pages)
    world.runs.append(f"/eval/runs/{evaluate_as_admin(world, pages)}")

    for name in PRINCIPALS:
        hidden = [page for page in world.pages if not page.readable_by(name)]
        for page in pages:
            answer = world.get(name, f"/documents/{page.doc_id}")
            expected = 200 if page.readable_by(name) else 404
            assert answer.status_code == expected, (name, page, answer.text)
            if expected == 404:
                assert page.marker not in answer.text and page.uri not in answer.text
        for asked, answer in answers_for(world, name, pages):
            assert answer.status_code == 200, (name, asked, answer.text)
            for page in hidden:
                for secret in (page.marker, page.doc_id, page.uri):
                    assert secret not in answer.text, (name, asked, page, secret)


def test_the_property_sees_restricted_pages_where_their_groups_allow(world: World) -> None:
    """The property's own check: a restricted page is found by its group and by nobody else."""
    (page,) = write_pages(world, [(frozenset({"red"}), 0, 30)])
    world.pages.append(page)
    for name in PRINCIPALS:
        answer = world.post(name, "/retrieve", {"query": page.marker, "top_k": 10}).json()
        found = page.doc_id in found_ids(answer)
        assert found == (name in {"red", "red-blue", "admin"}), name


def test_the_cli_asking_the_server_reads_as_its_key(world: World) -> None:
    """While the server holds the embedded index, `steward query` asks it with
    STEWARD_API_KEY: the answer is that key's, never wider."""
    (page,) = write_pages(world, [(frozenset({"blue"}), 1, 30)])
    world.pages.append(page)
    home = world.runtime.settings.home.home
    port = world.http.base_url.port
    for name in PRINCIPALS:
        env = {
            "STEWARD_HOME": str(home),
            "STEWARD_API_HOST": "127.0.0.1",
            "STEWARD_API_PORT": str(port),
            "STEWARD_API_KEY": key_of(name),
        }
        result = CliRunner().invoke(cli, ["query", page.marker, "--top-k", "10"], env=env)
        assert result.exit_code == 0, (name, result.output)
        assert (page.uri in result.output) == page.readable_by(name), (name, result.output)
        for hidden in world.pages:
            if not hidden.readable_by(name):
                assert hidden.marker not in result.output, (name, hidden)
