"""The `steward` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from steward.errors import ConfigError, IndexLockedError, StewardError
from steward.settings import Settings, load_settings

app = typer.Typer(
    help="Steward: a clean, measured knowledge base behind a retrieval API.",
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except StewardError as error:
        err.print(f"[bold red]error:[/] {escape(str(error))}")
        raise typer.Exit(2) from None


def _settings() -> Settings:
    with _errors():
        return load_settings()


def _connector(
    path: Path,
    source: str,
    include: list[str] | None,
    exclude: list[str] | None,
    settings: Settings,
) -> Any:
    from connectors.filesystem import FilesystemConnector
    from connectors.jsonl import JsonlConnector

    if path.is_file() and path.suffix == ".jsonl":
        return JsonlConnector(path, source)
    return FilesystemConnector(
        path,
        source,
        include=include or settings.ingest.include,
        exclude=exclude or settings.ingest.exclude,
    )


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"ingest of source {summary['source']!r}: {summary['status']}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, key in [
        ("documents listed", "listed"),
        ("new", "new"),
        ("changed", "changed"),
        ("metadata only", "metadata_only"),
        ("moved", "moved"),
        ("unchanged", "unchanged"),
        ("deleted", "deleted"),
        ("chunks written", "chunks"),
        ("chunks embedded", "chunks_embedded"),
        ("chunks from cache", "chunks_cached"),
        ("boilerplate lines removed", "boilerplate_lines_removed"),
    ]:
        table.add_row(label, str(summary[key]))
    table.add_row("skipped", str(len(summary["skipped"])))
    table.add_row("seconds", f"{summary['seconds']:.2f}")
    hygiene = summary.get("hygiene")
    if hygiene:
        table.add_section()
        table.add_row("hygiene: copies in clusters", str(hygiene["duplicates"]))
        table.add_row("hygiene: superseded", str(hygiene["superseded"]))
        table.add_row("hygiene: expired", str(hygiene["states"].get("expired", 0)))
        table.add_row("hygiene: open conflicts", str(hygiene["unresolved_conflicts"]))
    return table


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="A folder, or a .jsonl file of records.")],
    source: Annotated[str, typer.Option(help="Source name; documents are keyed within it.")],
    include: Annotated[list[str] | None, typer.Option(help="Glob of files to take.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Glob of files to leave.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    allow_deletes: Annotated[
        bool, typer.Option(help="Prune however many documents left the source.")
    ] = False,
) -> None:
    """Ingest a folder into the index; a second run only redoes what changed."""
    settings = _settings()
    if allow_deletes:
        settings.ingest = settings.ingest.model_copy(update={"max_delete_share": 1.0})
    if not source.strip():
        err.print("[bold red]error:[/] --source must not be empty")
        raise typer.Exit(2)
    with _errors():
        from app.runtime import open_runtime

        runtime = open_runtime(settings)
        try:
            connector = _connector(path, source, include, exclude, settings)
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                disable=not err.is_terminal and as_json,
            ) as bar:
                tasks: dict[str, Any] = {}

                def progress(stage: str, done: int, total: int) -> None:
                    if stage not in tasks:
                        tasks[stage] = bar.add_task(f"{stage:>5}", total=total)
                    bar.update(tasks[stage], completed=done, total=total)

                summary = runtime.pipeline.run(connector, progress).as_dict()
            if summary["status"] == "ok":
                from app.sync import scan_after_ingest

                summary["hygiene"] = scan_after_ingest(runtime, summary)
        finally:
            runtime.close()
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    else:
        out.print(_summary_table(summary))
        for item in summary["skipped"]:
            out.print(f"  skipped {escape(item['source_uri'])}: {escape(item['reason'])}")
        if summary["error"]:
            out.print(f"[bold red]failed:[/] {escape(summary['error'])}")
    if summary["status"] != "ok":
        raise typer.Exit(1)


@app.command()
def sources() -> None:
    """The sources of steward.yaml with their last run."""
    from app.sources import load_sources
    from steward.catalog import Catalog

    settings = _settings()
    with _errors():
        declared = load_sources(settings.home.sources_file)
        with _database(settings) as database:
            catalog = Catalog(database)
            table = Table(title=f"sources in {settings.home.sources_file}")
            for column in ("source", "connector", "schedule", "documents", "last run", "status"):
                table.add_column(column)
            for name, config in declared.items():
                last = catalog.last_run(name)
                table.add_row(
                    escape(name),
                    config.connector,
                    config.schedule or "-",
                    str(len(catalog.documents_of(name))),
                    str(last["finished_at"] or last["started_at"])[:19] if last else "never",
                    escape(str(last["status"])) if last else "-",
                )
    out.print(table)


@app.command()
def sync(
    names: Annotated[
        list[str] | None, typer.Argument(help="Sources to sync; all by default.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON summary per line.")] = False,
    allow_deletes: Annotated[
        bool, typer.Option(help="Prune however many documents left a source.")
    ] = False,
    incremental: Annotated[
        bool,
        typer.Option(help="List only what changed since the last good run (no pruning)."),
    ] = False,
) -> None:
    """Sync the sources of steward.yaml: only what changed is redone."""
    from app.runtime import open_runtime
    from app.sources import load_sources
    from app.sync import sync_source

    settings = _settings()
    failed = False
    with _errors():
        declared = load_sources(settings.home.sources_file)
        unknown = sorted(set(names or []) - set(declared))
        if unknown:
            raise ConfigError(f"no source {', '.join(unknown)} in {settings.home.sources_file}")
        runtime = open_runtime(settings)
        try:
            for name in names or list(declared):
                summary = sync_source(runtime, name, allow_deletes, incremental=incremental)
                failed = failed or summary["status"] != "ok"
                if as_json:
                    sys.stdout.write(json.dumps(summary, default=str) + "\n")
                else:
                    out.print(_summary_table(summary))
                    if summary["error"]:
                        out.print(f"[bold red]failed:[/] {escape(summary['error'])}")
        finally:
            runtime.close()
    if failed:
        raise typer.Exit(1)


@app.command()
def check(
    source: Annotated[list[str] | None, typer.Option(help="Only these sources.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compare catalog and index; exit 1 when they disagree."""
    from app.runtime import open_store
    from ingest.check import check as run_check
    from retrieval.store import VectorStore
    from steward.catalog import Catalog

    settings = _settings()
    with _errors():
        store: VectorStore = open_store(settings)
        try:
            with _database(settings) as database:
                report = run_check(Catalog(database), store, source)
        finally:
            store.close()
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict()) + "\n")
    else:
        out.print(
            f"{len(report.sources)} sources, {report.documents} documents, "
            f"{report.chunks} chunks: "
            + ("[green]consistent[/]" if report.clean else "[red]disagree[/]")
        )
        for label, ids in [
            ("orphan points (in the index, not the catalog)", report.orphan_points),
            ("missing points (in the catalog, not the index)", report.missing_points),
            ("stale payloads", report.stale_payloads),
        ]:
            if ids:
                out.print(f"  {label}: {len(ids)}, e.g. {', '.join(ids[:5])}")
    if not report.clean:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the HTTP API (POST /retrieve; docs at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    with _errors():
        uvicorn.run(
            create_app(settings),
            host=host or settings.api.host,
            port=port or settings.api.port,
            log_level="info",
        )


def _query_over_http(
    settings: Settings, body: dict[str, Any], path: str = "/retrieve", timeout: float = 30
) -> dict[str, Any]:
    import httpx

    url = f"http://{settings.api.host}:{settings.api.port}{path}"
    try:
        response = httpx.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as error:
        raise StewardError(
            f"the embedded index is held by another process and no server answers at {url} "
            f"({error}); set STEWARD_API_PORT to the running server's port"
        ) from None
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        answer = {"detail": response.text[:200]}
    if not response.is_success:  # POST /eval/runs and /eval/probes answer 201
        raise StewardError(f"the server answered {response.status_code}: {answer.get('detail')}")
    return answer


def _with_index(
    settings: Settings, here: Callable[[Any], dict[str, Any]], path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """`here(runtime)` on the embedded index, or, while `steward serve` holds it, the server's
    answer to POST `path` (which does the same work on our behalf)."""
    from app.runtime import open_runtime

    try:
        runtime = open_runtime(settings)
    except IndexLockedError:
        return _query_over_http(settings, body, path, timeout=3600)
    try:
        return here(runtime)
    finally:
        runtime.close()


@app.command()
def query(
    text: Annotated[str, typer.Argument(help="The question.")],
    top_k: Annotated[int, typer.Option(min=1, max=100)] = 5,
    mode: Annotated[Literal["hybrid", "dense", "sparse"] | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ask the index; uses the running server when it holds the embedded index."""
    settings = _settings()
    body: dict[str, Any] = {"query": text, "top_k": top_k}
    if mode:
        body["mode"] = mode
    if source:
        body["filters"] = {"source": source}
    with _errors():
        from api.app import create_app
        from app.runtime import open_runtime

        try:
            runtime = open_runtime(settings)
        except IndexLockedError:
            answer = _query_over_http(settings, body)
        else:
            from fastapi.testclient import TestClient

            try:
                with TestClient(create_app(settings, runtime)) as client:
                    response = client.post("/retrieve", json=body)
                    answer = response.json()
                    if response.status_code != 200:
                        err.print(f"[bold red]error:[/] {escape(str(answer['detail']))}")
                        raise typer.Exit(2)
            finally:
                runtime.close()
    if as_json:
        sys.stdout.write(json.dumps(answer) + "\n")
        return
    for rank, hit in enumerate(answer["results"], start=1):
        out.print(
            f"[bold]{rank}. {escape(hit['title'])}[/] [dim]{escape(hit['source'])}:"
            f"{escape(hit['source_uri'])}{escape(' > ' + hit['section']) if hit['section'] else ''}"
            f"  score {hit['score']:.3f}[/]"
        )
        out.print("   " + hit["text"][:300].replace("\n", " "), markup=False)
    out.print(f"[dim]{len(answer['results'])} results in {answer['took_ms']:.1f} ms[/]")


# -- hygiene ---------------------------------------------------------------------------------

hygiene_app = typer.Typer(help="Duplicates, stale documents and conflicts, and owners' actions.")
app.add_typer(hygiene_app, name="hygiene")


def _scan_summary(summary: dict[str, Any]) -> Table:
    from hygiene.findings import FINDING_KINDS

    table = Table(title="hygiene scan", show_header=False)
    for key in ("documents", *(kind.name for kind in FINDING_KINDS)):
        table.add_row(key.replace("_", " "), str(summary.get(key, 0)))
    for state, count in sorted(summary.get("states", {}).items()):
        table.add_row(f"state {state}", str(count))
    table.add_row("seconds", f"{summary.get('duration_s', 0):.2f}")
    return table


@hygiene_app.command("scan")
def hygiene_scan(
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Find duplicates, superseded and expired documents and conflicts (also run after syncs)."""
    from app.hygiene import scan_hygiene

    def here(runtime: Any) -> dict[str, Any]:
        with Progress(
            TextColumn("{task.description}"), TimeElapsedColumn(), console=err, disable=as_json
        ) as bar:
            task = bar.add_task("scan")

            def progress(stage: str, _done: int, _total: int) -> None:
                bar.update(task, description=stage)

            found = scan_hygiene(runtime, progress)
        return {"scan_id": found.scan_id, "summary": found.summary()}

    settings = _settings()
    with _errors():
        summary = _with_index(settings, here, "/hygiene/scan", {})["summary"]
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        out.print(_scan_summary(summary))


@contextmanager
def _database(settings: Settings) -> Iterator[Any]:
    """The home's catalog database (steward.database.Database), closed on the way out."""
    from steward.database import Database

    database = Database(settings.home.catalog_url(settings.catalog))
    try:
        yield database
    finally:
        database.close()


@hygiene_app.command("report")
def hygiene_report(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only documents of this owner.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """What the last scan found, as tables: duplicates, stale documents, conflicts."""
    from hygiene import report
    from hygiene.records import HygieneRecords

    settings = _settings()
    with _errors():
        with _database(settings) as database:
            filters = report.Filters(source, owner)
            found: dict[str, Any] = {
                "scan": HygieneRecords(database).last_scan(),
                "duplicates": report.duplicates(database, filters),
                "stale": report.stale(database, filters),
                "conflicts": report.conflicts(database, filters),
            }
    if as_json:
        sys.stdout.write(json.dumps(found, default=str) + "\n")
        return
    if found["scan"] is None:
        out.print("no hygiene scan yet: run [bold]steward hygiene scan[/]")
        return
    out.print(f"last scan {found['scan']['finished_at']:%Y-%m-%d %H:%M} UTC")
    dups = Table(title=f"duplicates ({len(found['duplicates'])} clusters)")
    for name in ("canonical", "copy", "similarity"):
        dups.add_column(name)
    for cluster in found["duplicates"]:
        for member in cluster["members"]:
            dups.add_row(
                escape(cluster["canonical"]["source_uri"] or cluster["canonical"]["doc_id"]),
                escape(member["source_uri"] or member["doc_id"]),
                f"{member['similarity']:.2f}",
            )
    stale = Table(title=f"stale ({len(found['stale'])})")
    for name in ("document", "reason", "since", "instead"):
        stale.add_column(name)
    for item in found["stale"]:
        newer = item.get("superseded_by") or {}
        stale.add_row(
            escape(item["source_uri"] or item["doc_id"]),
            item["reason"],
            (item["since"] or "")[:10],
            escape(newer.get("source_uri") or ""),
        )
    conflicts = Table(title=f"conflicts ({len(found['conflicts'])} unresolved)")
    for name in ("id", "kind", "a", "b", "suggested"):
        conflicts.add_column(name)
    for c in found["conflicts"]:
        conflicts.add_row(
            c["id"][:8],
            c["kind"],
            escape(f"{c['a']['source_uri']}: {c['a']['value']}"),
            escape(f"{c['b']['source_uri']}: {c['b']['value']}"),
            c["suggested"],
        )
    for table in (dups, stale, conflicts):
        out.print(table)


def _act(do: Any) -> None:
    settings = _settings()
    with _errors():
        with _database(settings) as database:
            from hygiene.records import HygieneRecords

            do(HygieneRecords(database))


Actor = Annotated[str, typer.Option(help="Who acts (recorded in the audit log).")]


@hygiene_app.command("verify")
def hygiene_verify(doc_id: str, actor: Actor, note: str | None = None) -> None:
    """Vouch for a document as it reads now; its review date starts again."""
    _act(lambda records: records.verify(doc_id, actor, note))
    out.print(f"verified {doc_id}")


@hygiene_app.command("deprecate")
def hygiene_deprecate(doc_id: str, actor: Actor, note: str | None = None) -> None:
    """Keep a document but rank it last and flag it."""
    _act(lambda records: records.deprecate(doc_id, actor, note))
    out.print(f"deprecated {doc_id}")


@hygiene_app.command("not-duplicate")
def hygiene_not_duplicate(doc_a: str, doc_b: str, actor: Actor) -> None:
    """Two documents are distinct, whatever their similarity."""
    _act(lambda records: records.mark_distinct(doc_a, doc_b, actor))
    out.print(f"{doc_a} and {doc_b} are not duplicates")


@hygiene_app.command("resolve")
def hygiene_resolve(
    conflict_id: str,
    resolution: Annotated[str, typer.Argument(help="keep_a, keep_b or both_valid")],
    actor: Actor,
) -> None:
    """Resolve a conflict; the resolution holds while the conflict stands."""
    _act(lambda records: records.resolve_conflict(conflict_id, resolution, actor))
    out.print(f"resolved {conflict_id}: {resolution}")


# -- evaluation ------------------------------------------------------------------------------

eval_app = typer.Typer(help="Golden query sets and evaluation runs.")
golden_app = typer.Typer(help="Golden query sets.")
eval_app.add_typer(golden_app, name="golden")
app.add_typer(eval_app, name="eval")


@golden_app.command("add")
def golden_add(
    path: Annotated[Path, typer.Argument(help="A JSON lines file or a BEIR folder.")],
    name: Annotated[
        str | None, typer.Option(help="The set's name; the file's stem if unset.")
    ] = None,
) -> None:
    """Create or replace a golden set from a file."""
    from evaluation.golden import load_golden
    from evaluation.runs import EvalRecords

    settings = _settings()
    with _errors():
        queries = load_golden(path)
        with _database(settings) as database:
            EvalRecords(database).save_golden(name or path.stem, queries)
    out.print(f"golden set {escape(name or path.stem)}: {len(queries)} queries")


def _metrics_table(title: str, rows: list[tuple[str, dict[str, Any]]]) -> Table:
    from evaluation.runs import METRICS

    # Older runs lack the ragas metrics and most lack the LLM-judged one: show what some row has.
    shown = [n for n in METRICS if any(n in metrics for _, metrics in rows)]
    table = Table(title=title)
    table.add_column("")
    for name in shown:
        table.add_column(name.replace("context_", "ctx_"), justify="right")
    for label, metrics in rows:
        table.add_row(
            escape(label),
            *(f"{metrics[n]:.3f}" if n in metrics else "—" for n in shown),
        )
    return table


@eval_app.command("run")
def eval_run(
    golden_set: Annotated[list[str] | None, typer.Option("--set", help="Only these sets.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """Evaluate golden sets against the index now and store the runs."""
    from app.runtime import open_runtime
    from evaluation.runs import EvalRecords, evaluate_golden

    settings = _settings()
    done: list[dict[str, Any]] = []
    with _errors():
        try:
            runtime = open_runtime(settings)
        except IndexLockedError:
            with _database(settings) as database:
                names = golden_set or EvalRecords(database).names()
            done = [
                _query_over_http(settings, {"golden_set": n}, "/eval/runs", 3600) for n in names
            ]
        else:
            try:
                records = EvalRecords(runtime.database)
                names = golden_set or records.names()
                done = [evaluate_golden(runtime, n, "manual").as_dict() for n in names]
            finally:
                runtime.close()
    if as_json:
        sys.stdout.write(json.dumps(done) + "\n")
        return
    if not done:
        out.print("no golden sets: add one with [bold]steward eval golden add FILE[/]")
    for found in done:
        rows = [("overall", found["metrics"])] + list(found["per_source"].items())
        out.print(_metrics_table(f"run {found['run_id']} of {found['golden_set']}", rows))
        for item in found["missing"]:
            gone = item["source_uri"] or item["doc_id"]
            out.print(f"  judged document gone: {escape(str(gone))} (query {item['query_id']})")


@eval_app.command("runs")
def eval_runs(
    golden_set: Annotated[str | None, typer.Option("--set", help="Only this set.")] = None,
) -> None:
    """Stored runs, newest first."""
    from evaluation.runs import EvalRecords

    settings = _settings()
    with _errors():
        with _database(settings) as database:
            found = [r.as_dict() for r in EvalRecords(database).runs(golden_set)]
    if not found:
        out.print("no evaluation runs yet: [bold]steward eval run[/]")
        return
    rows = [
        (f"{r['run_id']} {r['golden_set']} {r['started_at']} {r['trigger']}", r["metrics"] or {})
        for r in found
    ]
    out.print(_metrics_table("evaluation runs", rows))


@eval_app.command("compare")
def eval_compare(run_a: int, run_b: int) -> None:
    """Per-metric difference (b - a) with a paired t-test over the shared queries."""
    from evaluation.runs import EvalRecords, compare

    settings = _settings()
    with _errors():
        with _database(settings) as database:
            found = compare(EvalRecords(database), run_a, run_b).as_dict()
    table = Table(title=f"run {run_b} against run {run_a} ({found['queries']} queries)")
    for name in ("metric", "a", "b", "b - a", "p", "significant"):
        table.add_column(name)
    for name, m in found["metrics"].items():
        table.add_row(
            name,
            f"{m['a']:.3f}",
            f"{m['b']:.3f}",
            f"{m['difference']:+.3f}",
            f"{m['p_value']:.3g}",
            "yes" if m["significant"] else "no",
        )
    out.print(table)
    if found["skipped"]:
        out.print(f"not in both runs, not compared: {', '.join(found['skipped'])}")


@eval_app.command("accept")
def eval_accept(
    run_id: int,
    actor: Actor,
) -> None:
    """Make a run the baseline its golden set's next runs are compared with."""
    from evaluation.runs import EvalRecords

    settings = _settings()
    with _errors():
        with _database(settings) as database:
            EvalRecords(database).accept(run_id, actor)
    out.print(f"run {run_id} is the baseline")


@eval_app.command("probes")
def eval_probes(
    size: Annotated[int, typer.Option(min=1, help="Chunks to sample on first use.")] = 50,
    rebuild: Annotated[bool, typer.Option(help="Sample new chunks.")] = False,
) -> None:
    """Run label-free probes: known-item queries built from sampled chunks."""
    from evaluation.runs import probe_run

    settings = _settings()
    with _errors():
        found = _with_index(
            settings,
            lambda runtime: probe_run(runtime, size, rebuild).as_dict(),
            "/eval/probes",
            {"size": size, "rebuild": rebuild},
        )
    hit_rate = found["metrics"]["recall@10"]
    out.print(f"probe run {found['run_id']}: {hit_rate:.1%} of probes found their own document")
    if found.get("regression"):
        out.print(f"[bold red]regression[/] against run {found['baseline_run']}")
