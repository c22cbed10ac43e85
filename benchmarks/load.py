"""Load benchmark: concurrent /retrieve clients on a served index, idle and while it works.

The server (uvicorn on loopback, the embedded index, access control off) runs in this process;
the clients run in a child process (asyncio, one keep-alive connection each), so their work
does not share the server's interpreter lock. For each level of concurrent clients (1, 8, 32,
128) the clients ask for `--duration` seconds, first with the server idle, then while an
ingest (a copy of the knowledge base, every page changed, re-embedded each round) and a
hygiene scan run in a loop beside it. A 503 (past STEWARD_API_MAX_INFLIGHT) is counted, and
its client waits the Retry-After as ours does; an error is any other failure. Prints a table
and writes JSON.

    python benchmarks/load.py [--kb examples/sample-kb | --data ../shared/datasets/msmarco-5k]
                              [--duration 10] [--levels 1,8,32,128] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_KB = ROOT / "examples" / "sample-kb"
DEFAULT_QUERIES = ROOT / "examples" / "sample-queries.jsonl"


# -- the clients (the child process) -------------------------------------------------------------


async def _drive(
    url: str, clients: int, duration: float, queries: list[str], mode: str | None = None
) -> dict[str, Any]:
    import httpx

    extra = {"mode": mode} if mode else {}

    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "unavailable_503": 0, "server_errors_5xx": 0}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as http:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration

        async def client(n: int) -> None:
            turn = n
            while loop.time() < deadline:
                query = queries[turn % len(queries)]
                turn += clients
                started = time.perf_counter()
                try:
                    answer = await http.post(
                        "/retrieve", json={"query": query, "top_k": 10, **extra}
                    )
                except httpx.HTTPError:
                    counts["errors"] += 1
                    continue
                took = time.perf_counter() - started
                if answer.status_code == 200:
                    counts["ok"] += 1
                    latencies.append(took)
                elif answer.status_code == 503:
                    counts["unavailable_503"] += 1
                    await asyncio.sleep(float(answer.headers.get("retry-after", "1")))
                else:
                    counts["errors"] += 1
                    if answer.status_code >= 500:
                        counts["server_errors_5xx"] += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "throughput_qps": round(counts["ok"] / elapsed, 1),
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else None,
        **counts,
    }


def _run_clients(
    url: str, clients: int, duration: float, queries_file: Path, mode: str | None = None
) -> dict[str, Any]:
    """One level of load, from a child process; its JSON result. `mode`: the server's own
    retrieval mode unless given."""
    command = [
        sys.executable,
        __file__,
        "--drive",
        url,
        "--clients",
        str(clients),
        "--duration",
        str(duration),
        "--queries-file",
        str(queries_file),
        *(["--mode", mode] if mode else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- the server and its background work (this process) -------------------------------------------


def _write_corpus(args: argparse.Namespace, folder: Path) -> list[str]:
    """The knowledge base as files in `folder`; the query texts."""
    if args.data is None:
        shutil.copytree(args.kb, folder)
        lines = args.queries.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["query"] for line in lines if line.strip()]
    from evaluation.beir import load_beir

    dataset = load_beir(args.data)
    for n, doc_id in enumerate(list(dataset.corpus)[: args.documents]):
        target = folder / f"team{n % 10}" / f"{doc_id}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dataset.corpus[doc_id]["text"] + "\n", encoding="utf-8")
    return list(dataset.queries.values())


class _Background:
    """An ingest of a changed copy of the knowledge base and a hygiene scan, in a loop."""

    def __init__(self, runtime: Any, kb: Path, work: Path, documents: int) -> None:
        self.runtime = runtime
        self.files = sorted(p for p in kb.rglob("*") if p.is_file())[: max(1, documents // 5)]
        self.kb = kb
        self.copy = work / "ingest-copy"
        self.stop = threading.Event()
        self.rounds = {"ingests": 0, "scans": 0}
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        from app.hygiene import scan_hygiene
        from connectors.filesystem import FilesystemConnector

        turn = 0
        while not self.stop.is_set():
            turn += 1
            # Every page changed: the whole copy is embedded again, not skipped as unchanged.
            for path in self.files:
                target = self.copy / path.relative_to(self.kb)
                target.parent.mkdir(parents=True, exist_ok=True)
                text = path.read_text(encoding="utf-8", errors="replace")
                target.write_text(f"{text}\nRevision {turn}.\n", encoding="utf-8")
            self.runtime.pipeline.run(FilesystemConnector(self.copy, "load-ingest"))
            self.rounds["ingests"] += 1
            if self.stop.is_set():
                break
            scan_hygiene(self.runtime)
            self.rounds["scans"] += 1

    def __enter__(self) -> _Background:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def serve_in_thread(app: Any) -> tuple[str, Callable[[], None]]:
    """Serve `app` under uvicorn in a daemon thread on a free loopback port: its base URL, and
    the call that stops it (the benchmarks' one way to run a server in-process)."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)

    return f"http://127.0.0.1:{port}", stop


def report(results: dict[str, Any]) -> str:
    lines = [
        f"{'phase':<6} {'clients':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'ok':>6} "
        f"{'errors':>6} {'503s':>6} {'5xx':>5}",
    ]
    for row in results["levels"]:
        p50 = "-" if row["p50_ms"] is None else f"{row['p50_ms']:.1f}"
        p99 = "-" if row["p99_ms"] is None else f"{row['p99_ms']:.1f}"
        lines.append(
            f"{row['phase']:<6} {row['clients']:>7} {row['throughput_qps']:>7.1f} {p50:>8} "
            f"{p99:>8} {row['ok']:>6} {row['errors']:>6} {row['unavailable_503']:>6} "
            f"{row['server_errors_5xx']:>5}"
        )
    for clients, ratio in results["p50_busy_over_idle"].items():
        lines.append(f"p50 while ingesting and scanning / idle, {clients} clients: {ratio}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB, help="a folder of documents")
    parser.add_argument("--queries", type=Path, default=DEFAULT_QUERIES, help="its queries")
    parser.add_argument("--data", type=Path, default=None, help="a BEIR dataset instead")
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per level")
    parser.add_argument("--levels", default="1,8,32,128")
    parser.add_argument("--max-inflight", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "load.json")
    parser.add_argument("--drive", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.drive:  # the child process: one level of clients, its result as JSON
        queries = json.loads(args.queries_file.read_text(encoding="utf-8"))
        print(
            json.dumps(
                asyncio.run(_drive(args.drive, args.clients, args.duration, queries, args.mode))
            )
        )
        return

    from api.app import create_app
    from app.runtime import open_runtime
    from connectors.filesystem import FilesystemConnector
    from steward.settings import ApiSettings, HomeSettings, Settings

    levels = [int(level) for level in args.levels.split(",")]
    work = Path(tempfile.mkdtemp(prefix="steward-load-bench-"))
    kb = work / "kb"
    queries = _write_corpus(args, kb)
    queries_file = work / "queries.json"
    queries_file.write_text(json.dumps(queries), encoding="utf-8")
    api = (
        ApiSettings() if args.max_inflight is None else ApiSettings(max_inflight=args.max_inflight)
    )
    runtime = open_runtime(Settings(home=HomeSettings(home=work / "home"), api=api))
    results: dict[str, Any] = {
        "corpus": str(args.data or args.kb),
        "duration_s": args.duration,
        "max_inflight": api.max_inflight,
        "levels": [],
    }
    try:
        started = time.perf_counter()
        summary = runtime.pipeline.run(FilesystemConnector(kb, "kb"))
        assert summary.status == "ok", summary.error
        results["documents"] = runtime.catalog.count_documents()
        results["ingest_s"] = round(time.perf_counter() - started, 1)

        url, stop = serve_in_thread(create_app(runtime.settings, runtime))
        try:
            for clients in levels:
                row = _run_clients(url, clients, args.duration, queries_file)
                results["levels"].append({"phase": "idle", **row})
                print(f"idle, {clients} clients: {row}", file=sys.stderr)
            with _Background(runtime, kb, work, results["documents"]) as background:
                for clients in levels:
                    row = _run_clients(url, clients, args.duration, queries_file)
                    results["levels"].append({"phase": "busy", **row})
                    print(f"busy, {clients} clients: {row}", file=sys.stderr)
            results["background_rounds"] = background.rounds
        finally:
            stop()
    finally:
        runtime.close()
        shutil.rmtree(work, ignore_errors=True)

    idle = {r["clients"]: r["p50_ms"] for r in results["levels"] if r["phase"] == "idle"}
    busy = {r["clients"]: r["p50_ms"] for r in results["levels"] if r["phase"] == "busy"}
    results["p50_busy_over_idle"] = {
        clients: round(busy[clients] / idle[clients], 2)
        if idle[clients] and busy[clients]
        else None
        for clients in levels
    }
    print(report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
