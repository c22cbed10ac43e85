"""The `steward` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from steward import tracing
from steward.errors import ConfigError, IndexLockedError, StewardError
from steward.logs import configure_logging
from steward.settings import Settings, load_settings

if TYPE_CHECKING:
    from pydantic import BaseModel

    from client import StewardClient

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
        settings = load_settings()
    # Every command may ingest or retrieve: traced when the OTEL_* variables ask for it.
    tracing.configure(settings.tracing)
    return settings


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
    which = f"source {summary['source']!r}"
    if summary.get("partition"):
        which += f", partition {summary['partition']}"
    elif summary.get("partitions"):
        which += f", {len(summary['partitions'])} partitions"
    table = Table(title=f"ingest of {which}: {summary['status']}")
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
        from hygiene.findings import FINDING_KINDS

        table.add_section()
        for kind in FINDING_KINDS:
            if kind.exported and kind.name in hygiene:
                table.add_row(f"hygiene: {kind.label}", str(hygiene[kind.name]))
        table.add_row("hygiene: expired", str(hygiene["states"].get("expired", 0)))
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
    settings = _settings()
    with _errors(), _client(settings) as steward:
        declared = steward.sources()
    table = Table(title=f"sources in {settings.home.sources_file}")
    for column in ("source", "connector", "schedule", "documents", "last run", "status"):
        table.add_column(column)
    for source in declared:
        last = source.last_run
        table.add_row(
            escape(source.name),
            source.connector,
            source.schedule or "-",
            str(source.documents),
            str(last.finished_at or last.started_at)[:19] if last else "never",
            escape(str(last.status)) if last else "-",
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
    partition: Annotated[
        str | None,
        typer.Option(
            help="Only this bucket of a source with `partitions: N`, as INDEX/N "
            "(from 0): machines or cron entries may each sync their own."
        ),
    ] = None,
) -> None:
    """Sync the sources of steward.yaml: only what changed is redone."""
    from app.runtime import open_runtime
    from app.sources import load_sources
    from app.sync import sync_source
    from steward.domain import Partition

    settings = _settings()
    failed = False
    with _errors():
        declared = load_sources(settings.home.sources_file)
        unknown = sorted(set(names or []) - set(declared))
        if unknown:
            raise ConfigError(f"no source {', '.join(unknown)} in {settings.home.sources_file}")
        bucket = Partition.parse(partition) if partition is not None else None
        if bucket is not None and len(names or []) != 1:
            raise ConfigError("--partition: name exactly one source")
        runtime = open_runtime(settings)
        try:
            for name in names or list(declared):
                summary = sync_source(
                    runtime, name, allow_deletes, incremental=incremental, partition=bucket
                )
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
    insecure_bind: Annotated[
        bool,
        typer.Option(
            "--insecure-bind",
            help="Bind a non-loopback interface without access control "
            "(STEWARD_AUTH_ALLOW_INSECURE_BIND).",
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (POST /retrieve; docs at /docs)."""
    import uvicorn

    from api.app import create_app

    settings = _settings()
    bind = host or settings.api.host
    with _errors():
        try:
            settings.auth.check_bind(bind, insecure_bind)
        except ConfigError:
            # Keys made with `steward keys create` turn access control on too.
            if not _keys_stored(settings):
                raise
        # Our handler on the root logger (text or JSON, the request id on every line); uvicorn's
        # loggers propagate to it instead of keeping their own configuration.
        configure_logging(settings.log)
        uvicorn.run(
            create_app(settings),
            host=bind,
            port=port or settings.api.port,
            log_config=None,
            log_level=settings.log.level.lower(),
        )


@contextmanager
def _client(settings: Settings, index: bool = False) -> Iterator[StewardClient]:
    """Steward in this process, or, while `steward serve` holds the embedded index and the
    command needs the index, the server that holds it (which does the same work for us).

    Commands that only read or write the catalog (`index=False`) always run here.
    """
    from app.client import LocalClient
    from client import ApiError, HttpClient, TransportError

    try:
        local = LocalClient.open(settings, index=index)
    except IndexLockedError:
        url = f"http://{settings.api.host}:{settings.api.port}"
        # An evaluation or a scan of a large index takes minutes.
        key = settings.api.key.get_secret_value() if settings.api.key else None
        with HttpClient(url, api_key=key, timeout=3600) as remote:
            try:
                yield remote
            except TransportError as error:
                raise StewardError(
                    f"the embedded index is held by another process and no server answers at "
                    f"{url} ({error.reason}); set STEWARD_API_PORT to the running server's port"
                ) from None
            except ApiError as error:
                hint = "; set STEWARD_API_KEY to a key" if error.status_code in (401, 403) else ""
                raise StewardError(
                    f"the server answered {error.status_code}: {error.detail}{hint}"
                ) from None
        return
    with local:
        yield local


@contextmanager
def _database(settings: Settings) -> Iterator[Any]:
    """The home's catalog database (steward.database.Database), closed on the way out."""
    from steward.database import Database

    database = Database(settings.home.catalog_url(settings.catalog))
    try:
        yield database
    finally:
        database.close()


def _record(model: BaseModel) -> dict[str, Any]:
    """A result as the record it was read from (fields it did not have are left out)."""
    return model.model_dump(exclude_unset=True)


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
    with _errors(), _client(settings, index=True) as steward:
        answer = steward.retrieve(text, top_k=top_k, mode=mode, source=source)
    if as_json:
        sys.stdout.write(json.dumps(answer.model_dump(mode="json")) + "\n")
        return
    for rank, hit in enumerate(answer.results, start=1):
        out.print(
            f"[bold]{rank}. {escape(hit.title)}[/] [dim]{escape(hit.source)}:"
            f"{escape(hit.source_uri)}{escape(' > ' + hit.section) if hit.section else ''}"
            f"  score {hit.score:.3f}[/]"
        )
        out.print("   " + hit.text[:300].replace("\n", " "), markup=False)
    out.print(f"[dim]{len(answer.results)} results in {answer.took_ms:.1f} ms[/]")


@app.command("mcp")
def mcp_server(
    url: Annotated[
        str | None,
        typer.Option(
            help="Ask a running server at this URL (its key: STEWARD_API_KEY) instead of "
            "opening the home in this process."
        ),
    ] = None,
) -> None:
    """Serve Steward's tools to an agent over MCP on stdio (a desktop client starts this)."""
    settings = _settings()
    with _errors(), _mcp_client(settings, url) as steward:
        import anyio

        from integrations.mcp import AsyncSteward, Threaded, build_server

        threaded = Threaded(steward)

        @asynccontextmanager
        async def connect(_headers: Any) -> AsyncIterator[AsyncSteward]:
            yield threaded

        anyio.run(build_server(connect).run_stdio_async)


@contextmanager
def _mcp_client(settings: Settings, url: str | None) -> Iterator[StewardClient]:
    """The server at `url`, or Steward in this process (or the server holding its index)."""
    if url is None:
        with _client(settings, index=True) as steward:
            yield steward
        return
    from client import HttpClient

    key = settings.api.key.get_secret_value() if settings.api.key else None
    with HttpClient(url, api_key=key) as remote:
        yield remote


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
    settings = _settings()
    with _errors(), _client(settings, index=True) as steward:
        with Progress(
            TextColumn("{task.description}"), TimeElapsedColumn(), console=err, disable=as_json
        ) as bar:
            task = bar.add_task("scan")

            def progress(stage: str, _done: int, _total: int) -> None:
                bar.update(task, description=stage)

            summary = steward.scan(progress).summary
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        out.print(_scan_summary(summary))


def _every(fetch: Callable[..., Any], **filters: Any) -> list[dict[str, Any]]:
    """Every item of a paged listing, as records."""
    items: list[dict[str, Any]] = []
    while True:
        page = fetch(**filters, limit=500, offset=len(items))
        items.extend(_record(item) for item in page.items)
        if not page.items or len(items) >= page.total:
            return items


@hygiene_app.command("report")
def hygiene_report(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only documents of this owner.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """What the last scan found, as tables: duplicates, stale documents, conflicts."""
    settings = _settings()
    with _errors(), _client(settings) as steward:
        last = steward.last_scan()
        found: dict[str, Any] = {
            "scan": _record(last) if last is not None else None,
            "duplicates": _every(steward.duplicates, source=source, owner=owner),
            "stale": _every(steward.stale, source=source, owner=owner),
            "conflicts": _every(steward.conflicts, source=source, owner=owner),
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


def _act(do: Callable[[StewardClient], None]) -> None:
    settings = _settings()
    with _errors(), _client(settings) as steward:
        do(steward)


Actor = Annotated[str, typer.Option(help="Who acts (recorded in the audit log).")]


@hygiene_app.command("verify")
def hygiene_verify(doc_id: str, actor: Actor, note: str | None = None) -> None:
    """Vouch for a document as it reads now; its review date starts again."""
    _act(lambda steward: steward.verify(doc_id, actor=actor, note=note))
    out.print(f"verified {doc_id}")


@hygiene_app.command("deprecate")
def hygiene_deprecate(doc_id: str, actor: Actor, note: str | None = None) -> None:
    """Keep a document but rank it last and flag it."""
    _act(lambda steward: steward.deprecate(doc_id, actor=actor, note=note))
    out.print(f"deprecated {doc_id}")


@hygiene_app.command("not-duplicate")
def hygiene_not_duplicate(doc_a: str, doc_b: str, actor: Actor) -> None:
    """Two documents are distinct, whatever their similarity."""
    _act(lambda steward: steward.not_duplicate(doc_a, doc_b, actor=actor))
    out.print(f"{doc_a} and {doc_b} are not duplicates")


@hygiene_app.command("resolve")
def hygiene_resolve(
    conflict_id: str,
    resolution: Annotated[str, typer.Argument(help="keep_a, keep_b or both_valid")],
    actor: Actor,
) -> None:
    """Resolve a conflict; the resolution holds while the conflict stands."""
    # Checked by the client, which names the field when it is none of the three.
    chosen = cast(Literal["keep_a", "keep_b", "both_valid"], resolution)
    _act(lambda steward: steward.resolve_conflict(conflict_id, chosen, actor=actor))
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
    from evaluation.golden import as_records, load_golden

    settings = _settings()
    with _errors():
        queries = load_golden(path)
        with _client(settings) as steward:
            added = steward.add_golden_set(name or path.stem, as_records(queries))
    out.print(f"golden set {escape(name or path.stem)}: {added.queries} queries")


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
    settings = _settings()
    with _errors(), _client(settings, index=True) as steward:
        names = golden_set or [found.name for found in steward.golden_sets()]
        done = [_record(steward.evaluate(name)) for name in names]
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
    settings = _settings()
    with _errors(), _client(settings) as steward:
        found = [_record(run) for run in steward.runs(golden_set=golden_set)]
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
    settings = _settings()
    with _errors(), _client(settings) as steward:
        found = _record(steward.compare(run_a, run_b))
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
    settings = _settings()
    with _errors(), _client(settings) as steward:
        steward.accept_run(run_id, actor=actor)
    out.print(f"run {run_id} is the baseline")


@eval_app.command("probes")
def eval_probes(
    size: Annotated[int, typer.Option(min=1, help="Chunks to sample on first use.")] = 50,
    rebuild: Annotated[bool, typer.Option(help="Sample new chunks.")] = False,
) -> None:
    """Run label-free probes: known-item queries built from sampled chunks."""
    settings = _settings()
    with _errors(), _client(settings, index=True) as steward:
        found = _record(steward.probes(size=size, rebuild=rebuild))
    hit_rate = found["metrics"]["recall@10"]
    out.print(f"probe run {found['run_id']}: {hit_rate:.1%} of probes found their own document")
    if found.get("regression"):
        out.print(f"[bold red]regression[/] against run {found['baseline_run']}")


# -- keys ------------------------------------------------------------------------------------

keys_app = typer.Typer(help="API keys kept in the catalog: made, listed, revoked (no restart).")
app.add_typer(keys_app, name="keys")


@contextmanager
def _stored_keys() -> Iterator[Any]:
    """The home's stored keys (steward.stored_keys.StoredKeys); this machine's user acts."""
    from steward.stored_keys import StoredKeys

    settings = _settings()
    with _database(settings) as database:
        declared = settings.auth.key_ring().declared_names()
        yield StoredKeys(database, declared)


def _keys_stored(settings: Settings) -> bool:
    """Whether the home's catalog holds a key in force; a home not made yet is not made here."""
    url = settings.home.catalog_url(settings.catalog)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return False
    with _stored_keys() as stored:
        return any(key.in_force for key in stored.keys())


def _local_actor() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="The key's name: the actor it acts as.")],
    role: Annotated[Literal["reader", "app", "owner", "admin"], typer.Option()],
    groups: Annotated[
        str, typer.Option(help="Access groups, comma-separated (none: public pages only).")
    ] = "",
    expires_in: Annotated[
        str | None,
        typer.Option(help="How long it works: a number and s, m, h, d or w (90d). Default: ever."),
    ] = None,
) -> None:
    """Make a key and print it once (only its digest is kept)."""
    with _errors(), _stored_keys() as stored:
        key, kept, expires_at = stored.create(
            name, role, groups.split(","), _local_actor(), expires_in
        )
    sys.stdout.write(key + "\n")
    until = f"expires {expires_at.isoformat()}" if expires_at else "never expires"
    err.print(
        f"key {name!r} ({role}; groups: {', '.join(kept) or 'none'}; {until}) made: it is "
        "shown this once, keep it now"
    )


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The stored keys (never a key); keys declared in the settings are not listed here."""
    with _errors(), _stored_keys() as stored:
        found = [key.as_dict() for key in stored.listed()]
    if as_json:
        sys.stdout.write(json.dumps(found) + "\n")
        return
    table = Table(title="stored API keys")
    for column in ("name", "role", "groups", "created", "expires", "revoked"):
        table.add_column(column)
    for key in found:
        revoked = f"{key['revoked_at']} by {key['revoked_by']}" if key["revoked_at"] else ""
        expires = key["expires_at"] or "never"
        if key["expired"]:
            expires += " (expired)"
        table.add_row(
            key["name"],
            key["role"],
            ", ".join(key["groups"]),
            key["created_at"],
            expires,
            revoked,
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(name: str) -> None:
    """Revoke a stored key: a running server refuses it within a second."""
    with _errors(), _stored_keys() as stored:
        stored.revoke(name, _local_actor())
    err.print(f"key {name!r} revoked")
