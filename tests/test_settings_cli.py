"""Settings fail at start naming the variable; the CLI reports errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from retrieval.edge_store import EdgeStore
from steward.errors import ConfigError, IndexLockedError
from steward.settings import load_settings

STEWARD = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "steward"

BAD_VALUES = [
    ("STEWARD_INGEST_MAX_FILE_MB", "-1"),
    ("STEWARD_INDEX_BACKEND", "mongo"),
    ("STEWARD_API_PORT", "70000"),
    ("STEWARD_EMBED_BATCH_SIZE", "0"),
    ("STEWARD_RETRIEVAL_DENSE_WEIGHT", "1.5"),
    ("STEWARD_RETRIEVAL_MODE", "semantic"),
    ("STEWARD_INGEST_BATCH_DOCUMENTS", "lots"),
    ("STEWARD_INDEX_URL", "localhost:6333"),
    ("STEWARD_HOME", ""),
    ("STEWARD_HYGIENE_JUDGE_TIMEOUT_S", "0"),
    ("STEWARD_EVAL_LLM_CONCURRENCY", "many"),
    ("STEWARD_AUTH_ALLOW_INSECURE_BIND", "perhaps"),
    ("STEWARD_AUTH_KEYS_FILE", "/nonexistent/keys.yaml"),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_a_bad_variable_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert f"{name}:" in str(raised.value)


def test_good_variables_are_applied(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STEWARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STEWARD_INGEST_BATCH_DOCUMENTS", "5")
    monkeypatch.setenv("STEWARD_INGEST_EXCLUDE", '["**/draft-*"]')
    monkeypatch.setenv("STEWARD_INDEX_BACKEND", "qdrant")
    monkeypatch.setenv("STEWARD_INDEX_URL", ":memory:")
    monkeypatch.setenv("STEWARD_RETRIEVAL_MODE", "dense")
    settings = load_settings()
    assert settings.home.catalog_path == tmp_path / "home" / "catalog.sqlite"
    assert settings.ingest.batch_documents == 5
    assert settings.ingest.exclude == ["**/draft-*"]
    assert (settings.index.backend, settings.index.url) == ("qdrant", ":memory:")
    assert settings.retrieval.mode == "dense"


def test_both_llm_judges_read_one_group_under_their_own_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The variables users have set keep their meaning: each judge is switched on by its own."""
    monkeypatch.setenv("STEWARD_HYGIENE_JUDGE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("STEWARD_HYGIENE_JUDGE_API_KEY", "sk-conflicts")
    monkeypatch.setenv("STEWARD_HYGIENE_JUDGE_TIMEOUT_S", "5")
    monkeypatch.setenv("STEWARD_EVAL_LLM_MODEL", "judge-1")
    monkeypatch.setenv("STEWARD_EVAL_LLM_CONCURRENCY", "2")
    settings = load_settings()
    conflicts, context = settings.hygiene.judge, settings.evaluation.llm
    key = conflicts.api_key.get_secret_value() if conflicts.api_key else None
    assert (conflicts.url, conflicts.model, key, conflicts.timeout_s) == (
        "http://127.0.0.1:11434/v1",
        "gpt-4o-mini",
        "sk-conflicts",
        5.0,
    )
    assert (context.url, context.model, context.timeout_s, context.concurrency) == (
        None,
        "judge-1",
        60.0,
        2,
    )


def test_a_list_variable_that_is_not_json_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEWARD_INGEST_INCLUDE", "*.md")
    with pytest.raises(ConfigError, match="STEWARD_INGEST_INCLUDE"):
        load_settings()


# -- the command line ----------------------------------------------------------------------


def steward(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [str(STEWARD), *args],
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("name", "value"), [("STEWARD_INGEST_MAX_FILE_MB", "-1"), ("STEWARD_INDEX_BACKEND", "mongo")]
)
def test_the_cli_refuses_a_bad_variable_without_a_traceback(
    tmp_path: Path, name: str, value: str
) -> None:
    (tmp_path / "kb").mkdir()
    env = {"STEWARD_HOME": str(tmp_path / "home"), name: value}
    result = steward("ingest", str(tmp_path / "kb"), "--source", "s", env=env)
    assert result.returncode == 2
    assert f"{name}:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "home").exists()  # it stopped before touching anything


def test_the_cli_refuses_a_list_variable_that_is_not_json_without_a_traceback(
    tmp_path: Path,
) -> None:
    (tmp_path / "kb").mkdir()
    env = {"STEWARD_HOME": str(tmp_path / "home"), "STEWARD_INGEST_INCLUDE": "*.md"}
    result = steward("ingest", str(tmp_path / "kb"), "--source", "s", env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "STEWARD_INGEST_INCLUDE" in result.stderr


def test_serve_refuses_a_public_interface_without_access_control(tmp_path: Path) -> None:
    env = {"STEWARD_HOME": str(tmp_path / "home")}
    result = steward("serve", "--host", "0.0.0.0", env=env)
    assert result.returncode == 2
    assert "STEWARD_AUTH_ALLOW_INSECURE_BIND" in result.stderr
    assert "--insecure-bind" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "home").exists()  # refused before opening anything


def test_the_cli_refuses_an_empty_source_name(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    result = steward(
        "ingest", str(tmp_path / "kb"), "--source", "  ", env={"STEWARD_HOME": str(tmp_path / "h")}
    )
    assert result.returncode == 2
    assert "--source must not be empty" in result.stderr


@pytest.mark.slow
def test_cli_ingest_json_prints_one_summary_object(tmp_path: Path, write) -> None:
    kb = tmp_path / "kb"
    write.markdown(kb / "vacation.md", "# Vacation\n\nFive unused vacation days carry over.\n")
    write.text(kb / "printer.txt", "The office printer is called floor3-laser, on floor three.\n")
    (kb / "picture.xyz").write_bytes(b"not a document")
    home = tmp_path / "home"

    result = steward("ingest", str(kb), "--source", "s", "--json", env={"STEWARD_HOME": str(home)})

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert {"new", "changed", "unchanged", "deleted", "skipped", "chunks_embedded"} <= set(summary)
    assert (summary["status"], summary["source"]) == ("ok", "s")
    assert (summary["new"], summary["changed"], summary["unchanged"], summary["deleted"]) == (
        2,
        0,
        0,
        0,
    )
    assert summary["chunks_embedded"] == 2
    assert summary["skipped"] == [
        {"source_uri": "picture.xyz", "reason": "unsupported file type .xyz"}
    ]
    assert (home / "catalog.sqlite").exists() and (home / "index").is_dir()


# -- one process per embedded index --------------------------------------------------------


def test_a_second_open_of_the_embedded_index_is_refused(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "index")
    try:
        with pytest.raises(IndexLockedError) as raised:
            EdgeStore(tmp_path / "index")
        assert raised.value.holder == f"pid {os.getpid()}"
        assert str(tmp_path / "index") in str(raised.value)
    finally:
        first.close()
    EdgeStore(tmp_path / "index").close()  # released on close: the next open works


def ingest_while_held(tmp_path: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`steward ingest` into a home whose embedded index this process holds open."""
    (tmp_path / "kb").mkdir()
    held = EdgeStore(home / "index")
    try:
        return steward(
            "ingest", str(tmp_path / "kb"), "--source", "s", env={"STEWARD_HOME": str(home)}
        )
    finally:
        held.close()


def test_the_cli_refuses_an_index_held_by_another_process(tmp_path: Path) -> None:
    result = ingest_while_held(tmp_path, tmp_path / "home")
    assert result.returncode == 2
    assert f"in use by pid {os.getpid()}" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_error_naming_a_path_with_brackets_is_printed_verbatim(tmp_path: Path) -> None:
    home = tmp_path / "home[/x]"
    result = ingest_while_held(tmp_path, home)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert str(home / "index") in result.stderr


@pytest.mark.slow
def test_cli_hygiene_scan_report_and_resolve(tmp_path: Path) -> None:
    """Ingest scans; the report lists what it found; a conflict resolves by its short id."""
    kb = Path(__file__).resolve().parents[1] / "examples" / "sample-kb"
    env = {"STEWARD_HOME": str(tmp_path / "home")}
    ingested = steward("ingest", str(kb), "--source", "handbook", "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["hygiene"]["duplicate_clusters"] == 4

    found = steward("hygiene", "report", "--json", env=env)
    assert found.returncode == 0, found.stderr
    report = json.loads(found.stdout)
    assert len(report["duplicates"]) == 4
    lastpass = next(c for c in report["conflicts"] if "LastPass" in c["a"]["span"])

    table = steward("hygiene", "report", env=env)
    assert "conflicts" in table.stdout and lastpass["id"][:8] in table.stdout

    resolved = steward(
        "hygiene", "resolve", lastpass["id"][:8], "keep_b", "--actor", "it@example.com", env=env
    )
    assert resolved.returncode == 0, resolved.stderr
    after = json.loads(steward("hygiene", "report", "--json", env=env).stdout)
    assert lastpass["id"] not in {c["id"] for c in after["conflicts"]}

    bad = steward("hygiene", "resolve", "zz", "keep_b", "--actor", "it", env=env)
    assert bad.returncode == 2 and "zz" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_evaluation_asks_the_server_that_holds_the_index(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any
) -> None:
    """While `steward serve` holds the embedded index, `steward eval run|probes` ask it."""
    from api.app import create_app
    from app.runtime import open_runtime
    from connectors.filesystem import FilesystemConnector
    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords

    kb = Path(__file__).resolve().parents[1] / "examples" / "sample-kb"
    runtime = open_runtime(make_settings(tmp_path), embedder=hash_embedder)
    try:
        assert runtime.pipeline.run(FilesystemConnector(kb / "support", "support")).status == "ok"
        queries = [{"query": "refund window", "relevant": [{"source_uri": "refund-policy.md"}]}]
        EvalRecords(runtime.database).save_golden("support", parse_records(queries))
        with serve_app(create_app(runtime.settings, runtime)) as url:
            env = {
                "STEWARD_HOME": str(runtime.settings.home.home),
                "STEWARD_API_PORT": url.rsplit(":", 1)[1],
            }
            ran = steward("eval", "run", "--json", env=env)
            probed = steward("eval", "probes", "--size", "5", env=env)
        stored = EvalRecords(runtime.database).runs()
    finally:
        runtime.close()
    assert ran.returncode == 0, ran.stderr
    [run] = json.loads(ran.stdout)
    assert (run["golden_set"], run["trigger"], run["status"]) == ("support", "api", "ok")
    assert "context_precision" in run["metrics"]
    assert probed.returncode == 0, probed.stderr
    assert {(r.golden_set, r.trigger) for r in stored} == {
        ("support", "api"),
        ("probes", "api"),
    }


def test_cli_sends_its_api_key_to_a_server_with_access_control(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any
) -> None:
    """STEWARD_API_KEY is the key the CLI sends when it asks the server holding the index."""
    from api.app import create_app
    from app.runtime import open_runtime
    from connectors.filesystem import FilesystemConnector
    from steward.settings import AccessSettings, KeyEntry

    kb = Path(__file__).resolve().parents[1] / "examples" / "sample-kb"
    ops = KeyEntry(name="ops", role="owner", key="ops-key-0000000000001")
    auth = AccessSettings(keys=[ops])
    runtime = open_runtime(make_settings(tmp_path, auth=auth), embedder=hash_embedder)
    try:
        assert runtime.pipeline.run(FilesystemConnector(kb / "support", "support")).status == "ok"
        with serve_app(create_app(runtime.settings, runtime)) as url:
            env = {
                "STEWARD_HOME": str(runtime.settings.home.home),
                "STEWARD_API_PORT": url.rsplit(":", 1)[1],
            }
            refused = steward("eval", "probes", "--size", "5", env=env)
            probed = steward(
                "eval",
                "probes",
                "--size",
                "5",
                env={**env, "STEWARD_API_KEY": "ops-key-0000000000001"},
            )
    finally:
        runtime.close()
    assert refused.returncode == 2
    assert "401" in refused.stderr and "STEWARD_API_KEY" in refused.stderr
    assert probed.returncode == 0, probed.stderr


def test_the_ingest_table_shows_every_exported_finding_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The CLI's hygiene rows come from FINDING_KINDS: a new kind appears without a CLI edit."""
    from rich.console import Console

    from cli.main import _summary_table
    from hygiene import findings

    new_kind = findings.FindingKind("orphans", lambda report: 0, "pages with no owner")
    monkeypatch.setattr(findings, "FINDING_KINDS", (*findings.FINDING_KINDS, new_kind))
    counts = {kind.name: 10 + i for i, kind in enumerate(findings.FINDING_KINDS)}
    summary: dict[str, Any] = {
        "source": "s",
        "status": "ok",
        **dict.fromkeys(
            (
                "listed new changed metadata_only moved unchanged deleted chunks chunks_embedded "
                "chunks_cached boilerplate_lines_removed"
            ).split(),
            0,
        ),
        "skipped": [],
        "seconds": 1.0,
        "hygiene": {**counts, "states": {"expired": 3}},
    }
    console = Console(width=200, record=True)
    console.print(_summary_table(summary))
    shown = console.export_text()

    for kind in findings.FINDING_KINDS:
        row = f"hygiene: {kind.label}"
        if kind.exported:
            assert row in shown and str(counts[kind.name]) in shown
        else:
            assert row not in shown
    assert "hygiene: pages with no owner" in shown and "hygiene: expired" in shown
