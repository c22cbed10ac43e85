"""Dashboard benchmark: server-side time of every dashboard page on a served knowledge base.

Builds a knowledge base (the sample by default; `--data` a BEIR set made messy by
benchmarks/messy_kb.py, the issue's target being msmarco-5k at about 6,200 pages; `--messy` a
messy KB already generated; `--kb` any folder), ingests it, scans it, logs `--queries` answers
through the retriever, stores three evaluation runs of a golden set and a few owners'
decisions, then serves it (uvicorn on loopback, access control off: the local admin, who reads
every page, the largest lists) and asks each page `--requests` times, one request at a time.
Prints p50 / p95 per page and writes JSON. The target: p95 <= 150 ms per page.

    python benchmarks/dashboard.py [--kb examples/sample-kb | --data ../shared/datasets/msmarco-5k
                                    | --messy /tmp/messy] [--requests 30] [--fast-embedder]
                                   [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_KB = ROOT / "examples" / "sample-kb"
DEFAULT_QUERIES = ROOT / "examples" / "sample-queries.jsonl"
TARGET_P95_MS = 150.0


def _corpus(args: argparse.Namespace, work: Path) -> tuple[Path, list[dict[str, Any]]]:
    """The folder to ingest, and queries as [{"query", "relevant": [relative paths]}]."""
    if args.data is None and args.messy is None:
        lines = DEFAULT_QUERIES.read_text(encoding="utf-8").splitlines()
        queries = [json.loads(line) for line in lines if line.strip()]
        return args.kb, [
            {"query": q["query"], "relevant": [j["source_uri"] for j in q["relevant"]]}
            for q in queries
        ]
    messy = args.messy
    if messy is None:
        from benchmarks.messy_kb import generate

        messy = work / "messy"
        generate(args.data, messy)
    truth = json.loads((messy / "truth.json").read_text(encoding="utf-8"))
    queries = [
        {"query": truth["queries"][qid], "relevant": [p for p, g in grades.items() if g > 0]}
        for qid, grades in truth["qrels"].items()
        if qid in truth["queries"]
    ]
    return messy / "kb", queries


def _build(runtime: Any, kb: Path, queries: list[dict[str, Any]], logged: int) -> dict[str, Any]:
    """Ingest, scan, log answers, evaluate three times, decide a few findings."""
    from app.hygiene import scan_hygiene
    from connectors.filesystem import FilesystemConnector
    from evaluation.golden import parse_records
    from evaluation.runs import EvalRecords, evaluate_golden
    from hygiene import report

    started = time.perf_counter()
    summary = runtime.pipeline.run(FilesystemConnector(kb, "kb"))
    assert summary.status == "ok", summary.error
    ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    scan_hygiene(runtime)
    scan_s = time.perf_counter() - started

    retriever = runtime.retriever
    for n in range(logged):
        text = queries[n % len(queries)]["query"]
        found = retriever.retrieve(text, 10)
        runtime.query_log.record(
            str(uuid.uuid4()),
            text,
            "hybrid",
            10,
            found.took_ms,
            found.hits,
            top_cosine=found.top_cosine,
        )
    # A few questions nobody's page answers, for the gaps page.
    for n in range(20):
        runtime.query_log.record(
            str(uuid.uuid4()), f"moon base parking {n % 4}", "hybrid", 10, 1.0, [], top_cosine=None
        )

    rows = runtime.catalog.all_documents()
    by_path = {row.source_uri.rsplit(str(kb) + "/", 1)[-1]: doc_id for doc_id, row in rows.items()}
    golden = [
        {
            "query": q["query"],
            "relevant": [{"doc_id": by_path[p], "grade": 1} for p in q["relevant"] if p in by_path],
        }
        for q in queries[:100]
    ]
    golden = [q for q in golden if q["relevant"]]
    records = EvalRecords(runtime.database)
    records.save_golden("bench", parse_records(golden))
    runs = [evaluate_golden(runtime, "bench").run_id for _ in range(3)]

    from hygiene.records import HygieneRecords

    decisions = HygieneRecords(runtime.database)
    for item in report.stale(runtime.database, report.Filters())[:20]:
        decisions.verify(item["doc_id"], "bench-owner")
    conflicts = report.conflicts(runtime.database, report.Filters())
    for conflict in conflicts[:5]:
        decisions.resolve_conflict(conflict["id"], "keep_b", "bench-owner")
    scan_hygiene(runtime)  # a second scan: a trend of two points
    runtime.hygiene.invalidate()
    clusters = report.duplicates(runtime.database, report.Filters())
    return {
        "documents": len(rows),
        "ingest_s": round(ingest_s, 1),
        "scan_s": round(scan_s, 1),
        "logged_answers": logged,
        "golden_queries": len(golden),
        "runs": runs,
        "pair": (clusters[0]["canonical"]["doc_id"], clusters[0]["members"][0]["doc_id"])
        if clusters
        else None,
        "document": next(iter(rows)),
        "query": queries[0]["query"],
    }


def _pages(built: dict[str, Any]) -> dict[str, str]:
    a, b, c = built["runs"]
    found = {
        "overview": "/",
        "queue": "/queue",
        "duplicates": "/duplicates",
        "conflicts": "/conflicts",
        "conflicts (all)": "/conflicts?show=all",
        "document": f"/document/{built['document']}",
        "evaluation": "/evaluation",
        "run": f"/evaluation/runs/{c}",
        "compare": f"/evaluation/compare?a={a}&b={c}",
        "playground": "/playground?q=" + built["query"].replace(" ", "+"),
        "gaps": "/gaps",
        "audit": "/audit",
        "sources": "/source-syncs",
    }
    if built["pair"]:
        canonical, member = built["pair"]
        found["diff"] = f"/duplicates/diff?canonical={canonical}&member={member}"
    return found


def _measure(url: str, paths: dict[str, str], requests: int) -> list[dict[str, Any]]:
    import httpx

    rows = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, path in paths.items():
            answer = client.get(path)  # a first request: the session, warm caches
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, path
            times.sort()
            rows.append(
                {
                    "page": name,
                    "path": path,
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
                    "max_ms": round(times[-1], 1),
                    "bytes": len(answer.content),
                }
            )
            print(f"{name}: {rows[-1]}", file=sys.stderr)
    return rows


def report(results: dict[str, Any]) -> str:
    lines = [f"{'page':<16} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KB':>7}  target"]
    for row in results["pages"]:
        ok = "ok" if row["p95_ms"] <= TARGET_P95_MS else "OVER"
        lines.append(
            f"{row['page']:<16} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['max_ms']:>8.1f} "
            f"{row['bytes'] / 1024:>7.1f}  {ok}"
        )
    lines.append(
        f"{results['documents']} documents, {results['logged_answers']} logged answers, "
        f"{results['requests']} requests per page"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB, help="a folder of documents")
    parser.add_argument("--data", type=Path, default=None, help="a BEIR set, made messy")
    parser.add_argument("--messy", type=Path, default=None, help="a messy KB already generated")
    parser.add_argument("--requests", type=int, default=30, help="per page")
    parser.add_argument("--queries", type=int, default=300, help="answers logged")
    parser.add_argument(
        "--fast-embedder",
        action="store_true",
        help="hashed words instead of the model (ingest in minutes on a busy machine)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "dashboard.json"
    )
    args = parser.parse_args()

    from api.app import create_app
    from app.runtime import open_runtime
    from benchmarks import load
    from benchmarks.hash_embedder import WordHashEmbedder
    from steward.settings import HomeSettings, Settings

    work = Path(tempfile.mkdtemp(prefix="steward-dashboard-bench-"))
    runtime = None
    try:
        kb, queries = _corpus(args, work)
        model = WordHashEmbedder() if args.fast_embedder else None
        runtime = open_runtime(Settings(home=HomeSettings(home=work / "home")), embedder=model)
        built = _build(runtime, kb, queries, args.queries)
        url, stop = load.serve_in_thread(create_app(runtime.settings, runtime))
        try:
            pages = _measure(url, _pages(built), args.requests)
        finally:
            stop()
        results = {
            "corpus": str(args.messy or args.data or args.kb),
            "requests": args.requests,
            "embedder": runtime.embedder.name,
            "target_p95_ms": TARGET_P95_MS,
            **{
                k: v
                for k, v in built.items()
                if k in ("documents", "ingest_s", "scan_s", "logged_answers", "golden_queries")
            },
            "pages": pages,
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(report(results))
    finally:
        if runtime is not None:
            runtime.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
