"""Knowledge gaps benchmark: where the best dense cosine separates answerable questions from
off-topic ones, the threshold below which the gaps page counts an answer as a miss.

For each knowledge base, its own questions are answerable and the other corpora's questions
are off-topic (unanswerable); each is asked through the retriever as `/retrieve` asks it
(hybrid, top 10) and its `RetrievalResult.top_cosine`, what the query log keeps, is recorded.
The threshold is chosen on the tuning corpora (the sample KB and the 18F handbook: the best
mean F1 of "miss" over them) and checked on a held-out one (1,000 MS MARCO passages and the
MS MARCO questions judged against them), never tuned on.

    python benchmarks/gaps.py [--handbook-home /work/messy/home/18f/steward]
                              [--msmarco ../shared/datasets/msmarco-5k] [--passages 1000]
                              [--out benchmarks/results/gaps.json]

The 18F home is copied to a temporary folder first and only the copy is opened.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from itertools import islice
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE_KB = ROOT / "examples" / "sample-kb"
SAMPLE_QUERIES = ROOT / "examples" / "sample-queries.jsonl"
HANDBOOK_HOME = Path("/work/messy/home/18f/steward")
HANDBOOK_QUERIES = Path("/work/corpora/18f-beir/queries.jsonl")
PEPS_QUERIES = Path("/work/corpora/peps-beir/queries.jsonl")
MSMARCO = ROOT.parent / "shared" / "datasets" / "msmarco-5k"
TUNED_ON = ("sample", "18f-handbook")
HELD_OUT = "msmarco-1k"
PERCENTILES = (5, 10, 25, 50, 75, 90, 95)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _questions(args: argparse.Namespace) -> tuple[dict[str, list[str]], list[str]]:
    """Each corpus's own questions, and the msmarco passage ids the held-out KB holds."""
    corpus = args.msmarco / "corpus.jsonl"
    with corpus.open() as lines:
        kept = [json.loads(line)["_id"] for line in islice(lines, args.passages)]
    held = set(kept)
    judged: set[str] = set()
    for line in (args.msmarco / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        query_id, passage_id, *_ = line.split("\t")
        if passage_id in held:
            judged.add(query_id)
    msmarco = [q["text"] for q in _jsonl(args.msmarco / "queries.jsonl") if q["_id"] in judged]
    return {
        "sample": [q["query"] for q in _jsonl(SAMPLE_QUERIES)],
        "18f-handbook": [q["text"] for q in _jsonl(args.handbook_queries)],
        "msmarco-1k": msmarco,
        "peps": [q["text"] for q in _jsonl(PEPS_QUERIES)],
    }, kept


def _cosines(runtime: Any, texts: Iterable[str]) -> list[float | None]:
    return [runtime.retriever.retrieve(text, 10, "hybrid").top_cosine for text in texts]


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Per KB: the top cosine of its own questions and of each off-topic set."""
    from app.runtime import open_runtime
    from connectors.filesystem import FilesystemConnector
    from connectors.jsonl import JsonlConnector
    from steward.settings import HomeSettings, Settings

    questions, passages = _questions(args)
    subset = work / "msmarco-1k.jsonl"
    wanted = set(passages)
    with (args.msmarco / "corpus.jsonl").open() as lines, subset.open("w") as out:
        for line in lines:
            if json.loads(line)["_id"] in wanted:
                out.write(line)
    handbook = work / "18f-home"
    shutil.copytree(args.handbook_home, handbook)
    kbs: dict[str, tuple[Path, Any]] = {
        "sample": (work / "sample-home", FilesystemConnector(SAMPLE_KB, "handbook")),
        "18f-handbook": (handbook, None),  # ingested and scanned already
        "msmarco-1k": (work / "msmarco-home", JsonlConnector(subset, "msmarco")),
    }
    # Off-topic for the tuning KBs: each other and the PEPs, not the held-out questions.
    off_topic = {
        "sample": ["18f-handbook", "peps"],
        "18f-handbook": ["sample", "peps"],
        "msmarco-1k": ["sample", "18f-handbook", "peps"],
    }
    found: dict[str, Any] = {}
    for name, (home, connector) in kbs.items():
        runtime = open_runtime(Settings(home=HomeSettings(home=home)))
        try:
            ingest_s = None
            if connector is not None:
                started = time.perf_counter()
                summary = runtime.pipeline.run(connector)
                assert summary.status == "ok", summary.error
                ingest_s = time.perf_counter() - started
            started = time.perf_counter()
            own = _cosines(runtime, questions[name])
            others = {o: _cosines(runtime, questions[o]) for o in off_topic[name]}
            found[name] = {
                "documents": len(runtime.catalog.all_documents()),
                "ingest_s": ingest_s,
                "query_s": time.perf_counter() - started,
                "answerable": own,
                "off_topic": others,
            }
        finally:
            runtime.close()
    return found


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {f"p{p}": values[0] for p in PERCENTILES} if values else {}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {f"p{p}": round(cuts[p - 1], 3) for p in PERCENTILES}


def _miss(answerable: list[float], off: list[float], threshold: float) -> dict[str, Any]:
    """Precision and recall of "miss" (top cosine below the threshold) against off-topic."""
    caught = sum(c < threshold for c in off)
    false = sum(c < threshold for c in answerable)
    precision = caught / (caught + false) if caught + false else None
    recall = caught / len(off) if off else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision and recall and precision + recall
        else 0.0
    )
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "answerable_flagged": false,
        "answerable": len(answerable),
        "off_topic_flagged": caught,
        "off_topic": len(off),
    }


def _groups(entry: dict[str, Any]) -> tuple[list[float], list[float]]:
    answerable = [c for c in entry["answerable"] if c is not None]
    off = [c for values in entry["off_topic"].values() for c in values if c is not None]
    return answerable, off


def choose(found: dict[str, Any]) -> dict[str, Any]:
    """The threshold (a step of 0.01) with the best mean F1 of "miss" on the tuning KBs."""
    grid = [round(0.10 + 0.01 * n, 2) for n in range(71)]  # 0.10 .. 0.80

    def mean_f1(threshold: float) -> float:
        return statistics.fmean(_miss(*_groups(found[k]), threshold)["f1"] for k in TUNED_ON)

    best = max(grid, key=lambda t: (round(mean_f1(t), 6), -t))
    return {
        "threshold": best,
        "mean_f1_tuned": mean_f1(best),
        "curve": {str(t): round(mean_f1(t), 4) for t in grid},
    }


def report(found: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    threshold = chosen["threshold"]
    rows = {}
    for name, entry in found.items():
        answerable, off = _groups(entry)
        rows[name] = {
            "role": "held out" if name == HELD_OUT else "tuned on",
            "documents": entry["documents"],
            "answerable_percentiles": _percentiles(answerable),
            "off_topic_percentiles": _percentiles(off),
            "off_topic_by_set": {
                o: _percentiles([c for c in v if c is not None])
                for o, v in entry["off_topic"].items()
            },
            "at_threshold": _miss(answerable, off, threshold),
        }
    return rows


def _table(rows: dict[str, Any], threshold: float) -> str:
    head = (
        f"{'KB':<14} {'role':<9} {'group':<10} {'n':>4} "
        + " ".join(f"{'p' + str(p):>6}" for p in PERCENTILES)
        + "   miss precision / recall"
    )
    lines = [f"threshold (best mean F1 of 'miss' on {', '.join(TUNED_ON)}): {threshold}", head]
    for name, row in rows.items():
        at = row["at_threshold"]
        for group, key, n in (
            ("answerable", "answerable_percentiles", at["answerable"]),
            ("off-topic", "off_topic_percentiles", at["off_topic"]),
        ):
            cells = " ".join(
                f"{row[key].get('p' + str(p), float('nan')):>6.3f}" for p in PERCENTILES
            )
            tail = ""
            if group == "off-topic":
                precision = at["precision"]
                tail = (
                    f"   {precision if precision is None else round(precision, 3)} / "
                    f"{round(at['recall'], 3)} ({at['off_topic_flagged']}/{at['off_topic']} caught, "
                    f"{at['answerable_flagged']}/{at['answerable']} answerable flagged)"
                )
            lines.append(f"{name:<14} {row['role']:<9} {group:<10} {n:>4} {cells}{tail}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handbook-home", type=Path, default=HANDBOOK_HOME)
    parser.add_argument("--handbook-queries", type=Path, default=HANDBOOK_QUERIES)
    parser.add_argument("--msmarco", type=Path, default=MSMARCO)
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gaps.json")
    args = parser.parse_args()
    for path in (args.handbook_home / "catalog.sqlite", args.msmarco / "corpus.jsonl"):
        if not path.exists():
            parser.error(f"{path} does not exist")
    with tempfile.TemporaryDirectory(prefix="steward-gaps-") as work:
        found = measure(args, Path(work))
    chosen = choose(found)
    rows = report(found, chosen)
    print(_table(rows, chosen["threshold"]))  # noqa: T201
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"chosen": chosen, "kbs": rows, "raw": found}, indent=2, default=str)
    )
    print(f"wrote {args.out}")  # noqa: T201


if __name__ == "__main__":
    main()
