"""Evaluation benchmark: what a full golden-set run costs beyond the retrieval it measures.

Ingests msmarco-5k's corpus (JSON lines), loads its BEIR folder (43 judged queries) as a golden
set, then in one process, alternating, several times each:

- retrieval alone: the 43 queries through the retriever, as a run issues them;
- a full run (`evaluate_golden`): retrieval, ir-measures and ragas metrics, per source and per
  query, the catalog writes and the comparison with the baseline.

The first full run also pays ragas' import; it is reported on its own. Prints a table and writes
JSON. Target: a full run takes at most 10 s beyond the retrieval itself.

    python benchmarks/evaluation.py [--data ../shared/datasets/msmarco-5k] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"
TARGET_OVERHEAD_S = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "evaluation.json"
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl").exists():
        parser.error(f"no BEIR dataset at {args.data} (corpus.jsonl missing)")

    from app.runtime import open_runtime
    from connectors.jsonl import JsonlConnector
    from evaluation.golden import load_golden
    from evaluation.runs import TOP_K, EvalRecords, EvalRun, evaluate_golden
    from steward.settings import HomeSettings, Settings

    work = Path(tempfile.mkdtemp(prefix="steward-eval-bench-"))
    runtime = open_runtime(Settings(home=HomeSettings(home=work / "home")))
    results: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        summary = runtime.pipeline.run(JsonlConnector(args.data / "corpus.jsonl", "msmarco"))
        results["ingest_s"] = time.perf_counter() - started
        assert summary.status == "ok", summary.error
        queries = load_golden(args.data)
        EvalRecords(runtime.database).save_golden("msmarco", queries)
        results["queries"] = len(queries)
        texts = [q.text for q in queries]
        for text in texts[:5]:  # warm the model and the index
            runtime.retriever.retrieve(text, top_k=TOP_K)

        started = time.perf_counter()
        first = evaluate_golden(runtime, "msmarco", "benchmark")
        results["first_run_s"] = time.perf_counter() - started

        retrieval: list[float] = []
        full: list[float] = []
        runs: list[EvalRun] = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            for text in texts:
                runtime.retriever.retrieve(text, top_k=TOP_K)
            retrieval.append(time.perf_counter() - started)
            started = time.perf_counter()
            runs.append(evaluate_golden(runtime, "msmarco", "benchmark"))
            full.append(time.perf_counter() - started)
    finally:
        runtime.close()
        shutil.rmtree(work, ignore_errors=True)

    results["retrieval_s"] = statistics.median(retrieval)
    results["full_run_s"] = statistics.median(full)
    results["overhead_s"] = results["full_run_s"] - results["retrieval_s"]
    results["first_run_overhead_s"] = results["first_run_s"] - results["retrieval_s"]
    results["full_over_retrieval"] = results["full_run_s"] / results["retrieval_s"]
    results["samples"] = {"retrieval_s": retrieval, "full_run_s": full}
    results["metrics"] = first.metrics
    results["regressions"] = sum(1 for r in runs if r.regression)
    results["target_overhead_s"] = TARGET_OVERHEAD_S
    print(report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten: {args.out}")


def report(r: dict[str, Any]) -> str:
    lines = [
        f"msmarco-5k, {r['queries']} judged queries; median of {len(r['samples']['full_run_s'])}"
        f" alternating repeats (ingest {r['ingest_s']:.1f} s)",
        "",
        "| what | seconds |",
        "|---|---|",
        f"| retrieval alone (the run's {r['queries']} queries) | {r['retrieval_s']:.2f} |",
        f"| full evaluation run | {r['full_run_s']:.2f} |",
        f"| beyond the retrieval | {r['overhead_s']:.2f} (target ≤ {r['target_overhead_s']:.0f}) |",
        f"| first run of the process (imports ragas) | {r['first_run_s']:.2f}"
        f" ({r['first_run_overhead_s']:.2f} beyond) |",
        f"| full run / retrieval alone | {r['full_over_retrieval']:.2f}× |",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {value:.3f} |" for name, value in r["metrics"].items()),
        "",
        f"unchanged reruns reported as regressions: {r['regressions']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
