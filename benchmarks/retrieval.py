"""Retrieval benchmark on msmarco-5k: Steward against the common demo stack and BM25.

Each system runs in its own subprocess (so peak RSS is its own), in one invocation, on the same
machine; compare ratios, not absolute seconds. Then the exact-match benchmark
(benchmarks/exact_match.py) on msmarco-5k and on every `--corpus` given. Prints both tables and
writes JSON.

    python benchmarks/retrieval.py [--data ../shared/datasets/msmarco-5k] [--out FILE]
        [--corpus NAME=FOLDER@QUESTIONS.jsonl ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import exact_match  # noqa: E402
from benchmarks.phases import _fmt, run_phase  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"
QUERY_ROUNDS = 3  # each judged query is timed this many times


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))],
    }


def _timed_queries(
    queries: dict[str, str], run_one: Any
) -> tuple[dict[str, list[str]], dict[str, float]]:
    rankings: dict[str, list[str]] = {}
    samples: list[float] = []
    for text in list(queries.values())[:3]:  # warm-up
        run_one(text)
    for _ in range(QUERY_ROUNDS):
        for qid, text in queries.items():
            started = time.perf_counter()
            rankings[qid] = run_one(text)
            samples.append((time.perf_counter() - started) * 1000)
    return rankings, _percentiles(samples)


# -- phases, each in its own process -------------------------------------------------------


def phase_embed(data: Path) -> dict[str, Any]:
    """The floor: embedding the same texts Steward embeds, nothing else."""
    from evaluation.beir import load_beir
    from retrieval.embed import SentenceTransformerEmbedder
    from steward.settings import EmbeddingSettings

    dataset = load_beir(data)
    settings = EmbeddingSettings()
    embedder = SentenceTransformerEmbedder(settings.model, settings.batch_size)
    texts = [
        d["title"] + "\n\n" + d["text"] if d["title"] else d["text"]
        for d in dataset.corpus.values()
    ]
    started = time.perf_counter()
    embedder.embed_documents(texts)
    return {
        "system": "embedding only",
        "embed_s": time.perf_counter() - started,
        "texts": len(texts),
        "peak_rss_mb": _peak_rss_mb(),
    }


def phase_steward(data: Path) -> dict[str, Any]:
    import httpx
    import uvicorn

    from api.app import create_app
    from app.runtime import open_runtime
    from connectors.jsonl import JsonlConnector
    from evaluation.beir import load_beir
    from evaluation.metrics import evaluate, ranked_run
    from retrieval.search import Retriever
    from steward.settings import HomeSettings, RetrievalSettings, Settings

    dataset = load_beir(data)
    home = Path(tempfile.mkdtemp(prefix="steward-bench-"))
    settings = Settings(home=HomeSettings(home=home))
    runtime = open_runtime(settings)
    started = time.perf_counter()
    summary = runtime.pipeline.run(JsonlConnector(data / "corpus.jsonl", "msmarco"))
    ingest_s = time.perf_counter() - started
    assert summary.status == "ok", summary

    started = time.perf_counter()
    again = runtime.pipeline.run(JsonlConnector(data / "corpus.jsonl", "msmarco"))
    reingest_s = time.perf_counter() - started

    def rank_with(retriever: Retriever, mode: str) -> Any:
        def run_one(text: str) -> list[str]:
            hits = retriever.retrieve(text, top_k=10, mode=mode).hits  # type: ignore[arg-type]
            return [h.payload.source_uri for h in hits]

        return run_one

    results: dict[str, Any] = {}
    for mode in ("dense", "sparse", "hybrid"):
        rankings, latency = _timed_queries(dataset.queries, rank_with(runtime.retriever, mode))
        results[mode] = {
            **evaluate(
                dataset.qrels,
                ranked_run(rankings),
            ),
            **latency,
        }

    # The fusion grid behind the default (RetrievalSettings); quality only.
    grid: list[dict[str, Any]] = []
    for fusion in ("weighted", "dbsf", "rrf"):
        for weight in (0.5, 0.7, 0.8, 0.9, 0.95):
            for candidates in (20, 50, 100):
                config = RetrievalSettings(
                    fusion=fusion, dense_weight=weight, candidates=candidates
                )
                retriever = Retriever(runtime.store, runtime.embedder, runtime.sparse, config)
                rankings = {
                    q: rank_with(retriever, "hybrid")(t) for q, t in dataset.queries.items()
                }
                scores = evaluate(
                    dataset.qrels,
                    ranked_run(rankings),
                )
                grid.append(
                    {"fusion": fusion, "dense_weight": weight, "candidates": candidates, **scores}
                )

    # Over HTTP: a real uvicorn server on loopback, one client, keep-alive.
    app = create_app(settings, runtime)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

        def over_http(text: str) -> list[str]:
            response = client.post("/retrieve", json={"query": text, "top_k": 10})
            response.raise_for_status()
            return [r["source_uri"] for r in response.json()["results"]]

        rankings, http_latency = _timed_queries(dataset.queries, over_http)
    server.should_exit = True
    thread.join(timeout=10)
    runtime.close()
    return {
        "system": "steward",
        "ingest_s": ingest_s,
        "embed_s": summary.embed_seconds,
        "reingest_s": reingest_s,
        "reingest_embedded": again.chunks_embedded,
        "chunks": summary.chunks,
        "modes": results,
        "http": {
            **evaluate(
                dataset.qrels,
                ranked_run(rankings),
            ),
            **http_latency,
        },
        "fusion_grid": grid,
        "default": {
            "mode": settings.retrieval.mode,
            "fusion": settings.retrieval.fusion,
            "dense_weight": settings.retrieval.dense_weight,
            "candidates": settings.retrieval.candidates,
        },
        "peak_rss_mb": _peak_rss_mb(),
    }


def phase_demo(data: Path) -> dict[str, Any]:
    """LlamaIndex VectorStoreIndex over QdrantVectorStore in qdrant-client local mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core import Settings as LISettings
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from evaluation.beir import load_beir
    from evaluation.metrics import evaluate, ranked_run
    from retrieval.embed import resolve_model_path

    dataset = load_beir(data)
    LISettings.embed_model = HuggingFaceEmbedding(
        model_name=resolve_model_path("bundled:all-MiniLM-L6-v2")
    )
    LISettings.llm = None
    client = QdrantClient(path=tempfile.mkdtemp(prefix="demo-qdrant-"))
    started = time.perf_counter()
    store = QdrantVectorStore(client=client, collection_name="demo")
    documents = [Document(text=d["text"], id_=doc_id) for doc_id, d in dataset.corpus.items()]
    index = VectorStoreIndex.from_documents(
        documents, storage_context=StorageContext.from_defaults(vector_store=store)
    )
    ingest_s = time.perf_counter() - started
    retriever = index.as_retriever(similarity_top_k=10)

    def run_one(text: str) -> list[str]:
        return [n.node.ref_doc_id for n in retriever.retrieve(text)]

    rankings, latency = _timed_queries(dataset.queries, run_one)
    scores = evaluate(dataset.qrels, ranked_run(rankings))
    return {
        "system": "demo stack",
        "ingest_s": ingest_s,
        **scores,
        **latency,
        "peak_rss_mb": _peak_rss_mb(),
    }


def phase_bm25(data: Path) -> dict[str, Any]:
    import bm25s
    import Stemmer

    from evaluation.beir import load_beir
    from evaluation.metrics import evaluate, ranked_run

    dataset = load_beir(data)
    ids = list(dataset.corpus)
    stemmer = Stemmer.Stemmer("english")
    started = time.perf_counter()
    tokens = bm25s.tokenize(
        [dataset.corpus[i]["text"] for i in ids],
        stopwords="en",
        stemmer=stemmer,
        show_progress=False,
    )
    model = bm25s.BM25()
    model.index(tokens, show_progress=False)
    ingest_s = time.perf_counter() - started

    def run_one(text: str) -> list[str]:
        query = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False)
        found, _ = model.retrieve(query, k=10, show_progress=False)
        return [ids[i] for i in found[0]]

    rankings, latency = _timed_queries(dataset.queries, run_one)
    scores = evaluate(dataset.qrels, ranked_run(rankings))
    return {
        "system": "BM25 (bm25s)",
        "ingest_s": ingest_s,
        **scores,
        **latency,
        "peak_rss_mb": _peak_rss_mb(),
    }


PHASES = {"embed": phase_embed, "steward": phase_steward, "demo": phase_demo, "bm25": phase_bm25}


def _run_phase(name: str, data: Path) -> dict[str, Any]:
    result = run_phase(__file__, name, "--data", str(data))
    if "error" in result:
        raise SystemExit(result["error"])
    return result


def report(results: dict[str, Any]) -> str:
    steward, demo, bm25, embed = (
        results["steward"],
        results["demo"],
        results["bm25"],
        results["embed"],
    )
    rows = [
        ("BM25 (bm25s)", bm25, bm25["ingest_s"], bm25),
        ("demo stack (LlamaIndex + qdrant local)", demo, demo["ingest_s"], demo),
    ]
    for mode in ("sparse", "dense", "hybrid"):
        label = f"steward {mode}" + (" (default)" if mode == steward["default"]["mode"] else "")
        rows.append((label, steward["modes"][mode], steward["ingest_s"], steward["modes"][mode]))
    rows.append(
        ("steward default over HTTP", steward["http"], steward["ingest_s"], steward["http"])
    )
    lines = [
        "| system | nDCG@10 | Recall@10 | MRR@10 | ingest s | query p50 ms | query p99 ms | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, scores, ingest_s, latency in rows:
        rss = steward["peak_rss_mb"] if label.startswith("steward") else scores.get("peak_rss_mb")
        lines.append(
            f"| {label} | {_fmt(scores['ndcg@10'])} | {_fmt(scores['recall@10'])} | {_fmt(scores['mrr@10'])} "
            f"| {_fmt(ingest_s, 1)} | {_fmt(latency['p50_ms'], 1)} | {_fmt(latency['p99_ms'], 1)} | {_fmt(rss, 0)} |"
        )
    best = max(steward["fusion_grid"], key=lambda g: g["ndcg@10"])
    ratios = [
        "",
        f"embedding only (same texts, same model): {embed['embed_s']:.1f} s; steward's own embedding share: {steward['embed_s']:.1f} s",
        f"steward ingest / embedding only: {steward['ingest_s'] / embed['embed_s']:.2f} (target <= 1.2)",
        f"steward ingest / demo stack ingest: {steward['ingest_s'] / demo['ingest_s']:.2f} (target <= 0.7)",
        f"unchanged re-ingest: {steward['reingest_s']:.2f} s = {100 * steward['reingest_s'] / steward['ingest_s']:.1f} % of the first "
        f"(target <= 5 %), {steward['reingest_embedded']} chunks embedded",
        f"default fusion {steward['default']}; best of grid: {best['fusion']} w={best['dense_weight']} "
        f"candidates={best['candidates']} nDCG@10 {best['ndcg@10']:.3f}",
    ]
    return "\n".join(lines + ratios)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "retrieval.json"
    )
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument(
        "--only", nargs="*", choices=[*sorted(PHASES), "exact"], help="Run only these phases."
    )
    parser.add_argument(
        "--corpus",
        action="append",
        default=[],
        help="More corpora for the exact-match table: NAME=PATH[@QUESTIONS.jsonl]",
    )
    parser.add_argument("--keep", type=Path, help="Keep the exact-match indexes here (reused).")
    args = parser.parse_args()
    if not (args.data / "corpus.jsonl").exists():
        parser.error(f"no BEIR dataset at {args.data} (corpus.jsonl missing)")
    if args.phase:
        args.out.write_text(json.dumps(PHASES[args.phase](args.data)))
        return
    names = args.only or ["embed", "steward", "demo", "bm25", "exact"]
    try:
        corpora = [exact_match.Corpus.parse(f"msmarco={args.data}")] + [
            exact_match.Corpus.parse(spec) for spec in args.corpus
        ]
    except ValueError as error:
        parser.error(str(error))
    results: dict[str, Any] = {n: _run_phase(n, args.data) for n in names if n in PHASES}
    if "exact" in names:
        results["exact_match"] = exact_match.run_all(corpora, args.keep)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    if "exact_match" in results:
        print("exact matches (planted page first / in the top 10) and natural queries (nDCG@10):")
        print(exact_match.report(results["exact_match"], exact_match.SHOWN))
        print()
    if set(PHASES) <= set(results):
        print(report(results))
        print("\nfusion grid (hybrid, nDCG@10):")
        for g in sorted(results["steward"]["fusion_grid"], key=lambda g: -g["ndcg@10"])[:12]:
            print(
                f"  {g['fusion']:>8} w={g['dense_weight']:.2f} candidates={g['candidates']:>3}  "
                f"nDCG@10 {g['ndcg@10']:.3f}  R@10 {g['recall@10']:.3f}  MRR@10 {g['mrr@10']:.3f}"
            )
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
