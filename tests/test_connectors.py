"""Each connector against a real instance: a git repository and the machine's PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.runtime import Runtime
from app.sources import FilesystemSource, build_connector, load_sources
from connectors.git import GitConnector
from connectors.sql import SqlConnector
from ingest.check import check
from ingest.pipeline import document_id
from steward.errors import ConfigError

STEWARD = Path(sys.executable).with_name("steward")


def assert_consistent(live: Runtime) -> None:
    report = check(live.catalog, live.store)
    assert report.clean, report.as_dict()


# -- git -----------------------------------------------------------------------------------


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: str = "ana@example.com") -> str:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author.split("@")[0],
            "GIT_AUTHOR_EMAIL": author,
            "GIT_COMMITTER_NAME": "ci",
            "GIT_COMMITTER_EMAIL": "ci@example.com",
        }
        done = subprocess.run(
            ["git", *args], cwd=self.root, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    def commit(self, files: dict[str, str | None], author: str = "ana@example.com") -> None:
        for path, content in files.items():
            target = self.root / path
            if content is None:
                self.git("rm", "-q", path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
            self.git("add", path)
        self.git("commit", "-q", "-m", "change", author=author)


def page(title: str, body: str, owner: str | None = None) -> str:
    front = f"---\ntitle: {title}\n" + (f"owner: {owner}\n" if owner else "") + "---\n\n"
    return front + f"# {title}\n\n{body}\n"


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    made = Repo(tmp_path / "repo")
    made.commit(
        {
            "docs/pumps.md": page("Pumps", "Pumps are inspected every spring by the crew."),
            "docs/valves.md": page("Valves", "Valves are checked monthly for leaks."),
            "docs/parking.txt": "Parking permits are renewed every January.\n",
            "src/app.py": "print('not a document')\n",
        }
    )
    made.commit(
        {"docs/valves.md": page("Valves", "Valves are checked weekly for leaks.")},
        author="ben@example.com",
    )
    return made


def test_git_lists_the_branch_with_last_commit_owner_and_globs(repo: Repo, tmp_path: Path) -> None:
    connector = GitConnector(str(repo.root), "eng", tmp_path / "work", include=["docs/**"])
    refs = {ref.key: ref for ref in connector.list()}
    assert set(refs) == {"docs/pumps.md", "docs/valves.md", "docs/parking.txt"}
    assert connector.fetch(refs["docs/valves.md"]).metadata["owner"] == "ben@example.com"
    assert connector.fetch(refs["docs/pumps.md"]).metadata["owner"] == "ana@example.com"
    assert b"weekly" in connector.fetch(refs["docs/valves.md"]).content
    assert refs["docs/valves.md"].updated_at >= refs["docs/pumps.md"].updated_at


def test_git_uncommitted_edits_are_not_read(repo: Repo, tmp_path: Path) -> None:
    (repo.root / "docs/pumps.md").write_text("uncommitted scribbles", encoding="utf-8")
    connector = GitConnector(str(repo.root), "eng", tmp_path / "work", include=["docs/**"])
    ref = next(r for r in connector.list() if r.key == "docs/pumps.md")
    assert b"inspected every spring" in connector.fetch(ref).content


def test_git_every_change_class(repo: Repo, open_home, hash_embedder, tmp_path: Path) -> None:
    live = open_home("a", hash_embedder, ingest={"max_delete_share": 1.0})
    connector = GitConnector(str(repo.root), "eng", tmp_path / "work", include=["docs/**"])
    first = live.pipeline.run(connector)
    assert (first.status, first.new) == ("ok", 3)
    row = live.catalog.document(document_id("eng", "docs/valves.md"))
    assert row is not None and row.owner == "ben@example.com"

    repo.commit(
        {
            "docs/pumps.md": page("Pumps", "Pumps are inspected every autumn by the crew."),
            "docs/valves.md": page("Valves", "Valves are checked weekly for leaks.", "ops@x.com"),
        }
    )
    (repo.root / "docs/facilities").mkdir()
    repo.git("mv", "docs/parking.txt", "docs/facilities/parking.txt")
    repo.git("commit", "-q", "-m", "move")
    second = live.pipeline.run(connector)
    assert (second.changed, second.metadata_only, second.moved) == (1, 1, 1)
    assert (second.new, second.deleted, second.chunks_embedded) == (0, 0, 1)
    assert_consistent(live)

    repo.commit({"docs/pumps.md": None})
    third = live.pipeline.run(connector)
    assert (third.deleted, third.unchanged) == (1, 2)
    assert live.store.document_ids("eng") == {
        document_id("eng", "docs/valves.md"),
        document_id("eng", "docs/facilities/parking.txt"),
    }
    assert_consistent(live)


def test_an_unreachable_repository_fails_the_run_and_prunes_nothing(
    repo: Repo, open_home, hash_embedder, tmp_path: Path
) -> None:
    live = open_home("a", hash_embedder)
    work = tmp_path / "work"
    live.pipeline.run(GitConnector(str(repo.root), "eng", work, include=["docs/**"]))
    gone = GitConnector(str(tmp_path / "no-such-repo"), "eng", work, include=["docs/**"])
    summary = live.pipeline.run(gone)
    assert summary.status == "failed" and "git" in (summary.error or "")
    assert len(live.catalog.documents_of("eng")) == 3
    assert_consistent(live)


# -- SQL (the machine's PostgreSQL) -----------------------------------------------------

QUERY = "select id, title, body, updated_at, owner, acl from pages"


@pytest.fixture
def pages(postgres_url: str):
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "create table pages (id integer primary key, title text, body text,"
                " updated_at timestamptz, owner text, acl text)"
            )
        )
        conn.execute(
            text("insert into pages values (:id, :title, :body, :at, :owner, :acl)"),
            [
                {
                    "id": 1,
                    "title": "Refunds",
                    "body": "Refunds are paid within 30 days.",
                    "at": "2026-01-05T10:00:00+00:00",
                    "owner": "ana@x.com",
                    "acl": '["support"]',
                },
                {
                    "id": 2,
                    "title": "Travel",
                    "body": "The per diem is 65 dollars a day.",
                    "at": "2026-02-01T09:00:00+00:00",
                    "owner": None,
                    "acl": None,
                },
                {
                    "id": 3,
                    "title": "Leave",
                    "body": "Employees get 25 days of leave a year.",
                    "at": "2026-03-01T08:00:00+00:00",
                    "owner": "hr@x.com",
                    "acl": "hr,managers",
                },
            ],
        )
    yield engine
    engine.dispose()


@pytest.mark.services
def test_sql_rows_are_documents_with_owner_acl_and_time(pages, postgres_url: str) -> None:
    connector = SqlConnector(postgres_url, QUERY, "wiki")
    refs = {ref.key: ref for ref in connector.list()}
    assert set(refs) == {"1", "2", "3"}
    assert refs["2"].updated_at.isoformat() == "2026-02-01T09:00:00+00:00"
    first = connector.fetch(refs["1"])
    assert (first.title, first.metadata) == ("Refunds", {"owner": "ana@x.com", "acl": ["support"]})
    assert connector.fetch(refs["3"]).metadata["acl"] == ["hr", "managers"]
    assert connector.fetch(refs["2"]).metadata == {"acl": []}


@pytest.mark.services
def test_sql_every_change_class(pages, postgres_url: str, open_home, hash_embedder) -> None:
    live = open_home("a", hash_embedder, ingest={"max_delete_share": 1.0})
    connector = SqlConnector(postgres_url, QUERY, "wiki")
    assert live.pipeline.run(connector).new == 3
    with pages.begin() as conn:
        conn.execute(
            text("update pages set body = 'Refunds are paid within 14 days.' where id = 1")
        )
        conn.execute(text("update pages set owner = 'finance@x.com' where id = 2"))
        conn.execute(text("delete from pages where id = 3"))
        conn.execute(
            text(
                "insert into pages values (4, 'Leave', 'Employees get 25 days of leave"
                " a year.', '2026-03-02T08:00:00+00:00', 'hr@x.com', 'hr,managers')"
            )
        )
    summary = live.pipeline.run(connector)
    assert (summary.changed, summary.metadata_only, summary.moved) == (1, 1, 1)
    assert (summary.deleted, summary.chunks_embedded) == (0, 1)
    row = live.catalog.document(document_id("wiki", "2"))
    assert row is not None and row.owner == "finance@x.com"
    assert_consistent(live)


@pytest.mark.services
def test_a_failing_query_fails_the_run_and_prunes_nothing(
    pages, postgres_url: str, open_home, hash_embedder
) -> None:
    live = open_home("a", hash_embedder)
    live.pipeline.run(SqlConnector(postgres_url, QUERY, "wiki"))
    broken = live.pipeline.run(SqlConnector(postgres_url, "select id, title from pages", "wiki"))
    assert broken.status == "failed" and "body" in (broken.error or "")
    down = live.pipeline.run(SqlConnector("postgresql+psycopg://x@127.0.0.1:1/none", QUERY, "wiki"))
    assert down.status == "failed" and "query failed" in (down.error or "")
    assert len(live.catalog.documents_of("wiki")) == 3
    assert_consistent(live)


@pytest.mark.services
def test_a_row_with_a_bad_time_fails_the_run_naming_it_and_a_bad_acl_skips_its_row(
    pages, postgres_url: str, open_home, hash_embedder
) -> None:
    live = open_home("a", hash_embedder)
    live.pipeline.run(SqlConnector(postgres_url, QUERY, "wiki"))
    for at, reason in (
        ("'yesterday'", "is not an ISO 8601 time: 'yesterday'"),
        ("null", "is NULL"),
    ):
        odd = QUERY.replace(
            "updated_at,", f"case when id = 2 then {at} else updated_at::text end as updated_at,"
        )
        broken = live.pipeline.run(SqlConnector(postgres_url, odd, "wiki"))
        assert broken.status == "failed", broken
        assert f"row '2': updated_at {reason}" in (broken.error or ""), broken.error
    bad_acl = QUERY.replace(" acl from", " case when id = 3 then '[hr' else acl end as acl from")
    skipped = live.pipeline.run(SqlConnector(postgres_url, bad_acl, "wiki"))
    assert [s["reason"] for s in skipped.skipped] == ["acl is neither a JSON list nor a comma list"]
    assert len(live.catalog.documents_of("wiki")) == 3  # nothing pruned or lost
    assert_consistent(live)


# -- steward.yaml ----------------------------------------------------------------------------


def test_sources_file_resolves_paths_and_applies_defaults(tmp_path: Path, write) -> None:
    write.text(tmp_path / "docs/a.txt", "Parking permits are renewed every January.\n")
    (tmp_path / "steward.yaml").write_text(
        "sources:\n  kb:\n    connector: filesystem\n    path: docs\n"
        "    owner: kb@example.com\n    acl: [staff]\n    schedule: '*/30 * * * *'\n"
    )
    sources = load_sources(tmp_path / "steward.yaml")
    config = sources["kb"]
    assert isinstance(config, FilesystemSource) and config.path == tmp_path / "docs"
    connector = build_connector("kb", config, tmp_path / "home")
    raw = connector.fetch(next(iter(connector.list())))
    assert raw.metadata == {"owner": "kb@example.com", "acl": ["staff"]}


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("sources:\n  kb:\n    connector: ftp\n    path: x\n", "sources.kb"),
        ("sources:\n  kb:\n    connector: filesystem\n", "path"),
        ("sources:\n  kb:\n    connector: git\n    url: x\n    schedule: hourly\n", "schedule"),
        ("sources:\n  kb:\n    connector: git\n    url: x\n    schedule: 61 * * * *\n", "schedule"),
        (
            "sources:\n  kb:\n    connector: sql\n    url: x\n    query: q\n    colour: red\n",
            "colour",
        ),
        ("sources: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_sources_file_names_the_problem(tmp_path: Path, content: str, named: str) -> None:
    (tmp_path / "steward.yaml").write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_sources(tmp_path / "steward.yaml")
    assert named in str(caught.value) and "steward.yaml" in str(caught.value)


@pytest.mark.slow
def test_steward_sync_runs_every_declared_source(repo: Repo, tmp_path: Path, write) -> None:
    write.text(tmp_path / "docs/a.txt", "Parking permits are renewed every January.\n")
    (tmp_path / "steward.yaml").write_text(
        "sources:\n"
        "  kb:\n    connector: filesystem\n    path: docs\n"
        f"  eng:\n    connector: git\n    url: {repo.root}\n    include: ['docs/**']\n"
    )
    env = {
        **os.environ,
        "STEWARD_HOME": str(tmp_path / "home"),
        "STEWARD_SOURCES_FILE": str(tmp_path / "steward.yaml"),
    }
    done = subprocess.run(
        [str(STEWARD), "sync", "--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    summaries = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(s["source"], s["new"]) for s in summaries] == [("kb", 1), ("eng", 3)]
    listed = subprocess.run(
        [str(STEWARD), "sources"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0 and "eng" in listed.stdout and "ok" in listed.stdout
    unknown = subprocess.run(
        [str(STEWARD), "sync", "nope"], env=env, capture_output=True, text=True, timeout=120
    )
    assert unknown.returncode == 2 and "no source nope" in unknown.stderr


@pytest.mark.services
def test_sql_incremental_sync_lists_rows_updated_since_the_last_good_run(
    pages, postgres_url: str, open_home, hash_embedder, tmp_path: Path
) -> None:
    from app.sync import sync_source

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "steward.yaml").write_text(
        f"sources:\n  wiki:\n    connector: sql\n    url: {postgres_url}\n    query: {QUERY}\n"
    )
    live = open_home("a", hash_embedder)
    assert sync_source(live, "wiki", incremental=True)["new"] == 3  # the first one is full
    with pages.begin() as conn:
        conn.execute(
            text(
                "update pages set body = 'Refunds are paid within 14 days.', updated_at = now()"
                " + interval '1 minute' where id = 1"
            )
        )
        conn.execute(text("delete from pages where id = 3"))
    summary = sync_source(live, "wiki", incremental=True)
    assert summary["incremental"] and (summary["listed"], summary["changed"]) == (1, 1)
    assert summary["deleted"] == 0 and len(live.catalog.documents_of("wiki")) == 3
    full = sync_source(live, "wiki", allow_deletes=True)
    assert (full["incremental"], full["deleted"]) == (False, 1)
    assert_consistent(live)
