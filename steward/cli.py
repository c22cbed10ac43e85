"""The `steward` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
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
        from steward.runtime import open_runtime

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
    from steward.catalog import Catalog
    from steward.sources import load_sources

    settings = _settings()
    with _errors():
        declared = load_sources(settings.home.sources_file)
        catalog = Catalog(settings.home.catalog_url(settings.catalog))
        try:
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
        finally:
            catalog.close()
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
    from ingest.sync import sync_source
    from steward.runtime import open_runtime
    from steward.sources import load_sources

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
    from ingest.check import check as run_check
    from retrieval.store import VectorStore
    from steward.catalog import Catalog
    from steward.runtime import open_store

    settings = _settings()
    with _errors():
        store: VectorStore = open_store(settings)
        catalog = Catalog(settings.home.catalog_url(settings.catalog))
        try:
            report = run_check(catalog, store, source)
        finally:
            store.close()
            catalog.close()
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


def _query_over_http(settings: Settings, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    url = f"http://{settings.api.host}:{settings.api.port}/retrieve"
    try:
        response = httpx.post(url, json=body, timeout=30)
    except httpx.HTTPError as error:
        raise StewardError(
            f"the embedded index is held by another process and no server answers at {url} "
            f"({error}); set STEWARD_API_PORT to the running server's port"
        ) from None
    answer: dict[str, Any] = response.json()
    if response.status_code != 200:
        raise StewardError(f"the server answered {response.status_code}: {answer.get('detail')}")
    return answer


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
        from steward.runtime import open_runtime

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
