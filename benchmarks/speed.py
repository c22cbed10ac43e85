"""Speed benchmark (issue 15): ingest against the embedder, CLI start-up, /retrieve against the
model, as ratios measured in one run (the machine is shared: only ratios within a run count).

- folder ingest of N msmarco passages written as .md files (and .txt), and of a messy knowledge
  base's folder (`--messy-kb`, benchmarks/messy_kb.py's OUT/kb), vs embedding the same texts
  alone with the same model object, in this process, and vs the common demo stack (LlamaIndex
  `SimpleDirectoryReader` -> `VectorStoreIndex` over qdrant-client's local mode, the same model
  through `HuggingFaceEmbedding`), each in a worker thread;
- wall time of CLI commands that need no model (`steward ingest` of an unchanged small folder,
  `sources`, `check`, `hygiene report`), each in a fresh interpreter;
- /retrieve over HTTP, one client, p50 (and per retrieval mode) vs embedding one query alone
  (the model in a fresh process, on one thread); throughput at 32 clients (benchmarks/load.py's
  server and clients); `--code` measures another checkout's packages in the same run.

Prints a table and writes JSON.

    python benchmarks/speed.py [--data ../shared/datasets/msmarco-5k] [--documents 5000]
                               [--messy-kb OUT/kb] [--no-demo] [--parts ingest,cli,retrieve]
                               [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"
STEWARD = [sys.executable, "-c", "from cli.main import app; app()"]


def _write(folder: Path, texts: dict[str, str], suffix: str) -> None:
    for n, (doc_id, text) in enumerate(texts.items()):
        target = folder / f"team{n % 10}" / f"{doc_id}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")


def _embed_alone(embedder: Any, texts: list[str]) -> float:
    """Seconds to embed `texts`, in a worker thread as the ingest does (ingest/ahead.py): on
    this shared machine torch ran 4-5 times slower in the main thread than in another one
    (100 passages: 43.1 s against 10.8 s, same torch.get_num_threads() of 2)."""
    return _in_worker(lambda: embedder.embed_documents(texts))


def _in_worker(work: Any) -> float:
    """Seconds `work()` takes in a worker thread (see `_embed_alone` for why a thread)."""
    took: list[float] = []
    failed: list[BaseException] = []

    def run() -> None:
        started = time.perf_counter()
        try:
            work()
        except BaseException as error:  # re-raised in the caller's thread
            failed.append(error)
        took.append(time.perf_counter() - started)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if failed:
        raise failed[0]
    return took[0]


def _demo_ingest(folder: Path, qdrant_dir: Path) -> float:
    """Seconds for the demo stack to load `folder` and index it: LlamaIndex's defaults, the
    same MiniLM weights, qdrant-client in local mode (what a tutorial builds)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llama_index.core import Settings as LISettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient

    from retrieval.embed import resolve_model_path

    LISettings.embed_model = HuggingFaceEmbedding(
        model_name=resolve_model_path("bundled:all-MiniLM-L6-v2")
    )
    LISettings.llm = None
    LISettings.embed_model.get_text_embedding("warm-up")  # the model's load is nobody's cost
    client = QdrantClient(path=str(qdrant_dir))

    def run() -> None:
        documents = SimpleDirectoryReader(str(folder), recursive=True).load_data()
        store = QdrantVectorStore(client=client, collection_name="demo")
        VectorStoreIndex.from_documents(
            documents, storage_context=StorageContext.from_defaults(vector_store=store)
        )

    try:
        return _in_worker(run)
    finally:
        client.close()


def _folders(args: argparse.Namespace, work: Path) -> list[tuple[str, Path, list[str]]]:
    """(label, folder, the texts its pages hold) for each folder ingested."""
    from benchmarks.messy_kb import read_page
    from evaluation.beir import load_beir

    dataset = load_beir(args.data)
    texts = {i: dataset.corpus[i]["text"] for i in list(dataset.corpus)[: args.documents]}
    folders = []
    for suffix in filter(None, args.formats.split(",")):  # --formats "": the messy KB alone
        folder = work / f"kb-{suffix}"
        _write(folder, texts, f".{suffix}")
        folders.append((f".{suffix}", folder, list(texts.values())))
    if args.messy_kb:
        pages = sorted(args.messy_kb.rglob("*.md"))
        folders.append(("messy", args.messy_kb, [read_page(page)[1] for page in pages]))
    return folders


def ingest_part(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from app.runtime import open_runtime
    from app.sync import scan_after_ingest
    from connectors.filesystem import FilesystemConnector
    from retrieval.embed import open_embedder
    from steward.settings import EmbeddingSettings, HomeSettings, Settings

    settings = EmbeddingSettings()
    embedder = open_embedder(settings.model, settings.batch_size, settings.device)
    embedder.embed_documents(["warm-up"])  # the load and first pass are nobody's cost
    results: dict[str, Any] = {"documents": args.documents}
    for label, folder, texts in _folders(args, work):
        # Alone before and after the others: their mean is the embedder's speed meanwhile.
        before = _embed_alone(embedder, texts)
        home = work / f"home{label}"
        runtime = open_runtime(Settings(home=HomeSettings(home=home)), embedder=embedder)
        try:
            started = time.perf_counter()
            summary = runtime.pipeline.run(FilesystemConnector(folder, "kb"))
            ingest_s = time.perf_counter() - started
            assert summary.status == "ok", summary.error
            # What `steward ingest` does next: the hygiene scan wired after an ingest.
            scan_after_ingest(runtime, summary.as_dict())
            with_scan_s = time.perf_counter() - started
        finally:
            runtime.close()
        demo_s = None if args.no_demo else _demo_ingest(folder, work / f"demo{label}")
        after = _embed_alone(embedder, texts)
        alone = (before + after) / 2
        results[label] = row = {
            "files": len(texts),
            "ingest_s": round(ingest_s, 2),
            "ingest_and_scan_s": round(with_scan_s, 2),
            "embed_alone_s": [round(before, 2), round(after, 2)],
            "ratio": round(ingest_s / alone, 3),
            "ratio_with_scan": round(with_scan_s / alone, 3),
            "demo_s": None if demo_s is None else round(demo_s, 2),
            "ratio_to_demo": None if demo_s is None else round(ingest_s / demo_s, 3),
            "chunks": summary.chunks,
            "embed_s_inside": round(summary.embed_seconds, 2),
            "load_average": os.getloadavg()[0],
        }
        print(f"ingest {label}: {row}", file=sys.stderr, flush=True)
    return results


def _wall(command: list[str], env: dict[str, str], repeat: int) -> float:
    """The median wall time of `steward COMMAND` in a fresh interpreter."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        # `python -c` puts the working directory first on sys.path: run where the code is.
        subprocess.run(
            [*STEWARD, *command], env=env, cwd=env["PYTHONPATH"], capture_output=True, check=True
        )
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cli_part(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    kb = ROOT / "examples" / "sample-kb"
    small = work / "small"
    small.mkdir()
    for name in ("hr/leave-policy.md", "it/notes.txt", "support/sla.md"):
        shutil.copy(kb / name, small / Path(name).name)
    sources = work / "steward.yaml"
    sources.write_text(f"sources:\n  small:\n    connector: filesystem\n    path: {small}\n")
    env = {
        **os.environ,
        "STEWARD_HOME": str(work / "cli-home"),
        "STEWARD_SOURCES_FILE": str(sources),
        "PYTHONPATH": str(args.code or ROOT),
    }
    ingest = ["ingest", str(small), "--source", "small", "--json"]
    subprocess.run(
        [*STEWARD, *ingest], env=env, cwd=env["PYTHONPATH"], capture_output=True, check=True
    )
    results = {
        "python_startup_s": round(_wall(["--help"], env, args.repeat), 2),
        "ingest_unchanged_s": round(_wall(ingest, env, args.repeat), 2),
        "sync_unchanged_s": round(_wall(["sync", "small"], env, args.repeat), 2),
        "sources_s": round(_wall(["sources"], env, args.repeat), 2),
        "check_s": round(_wall(["check"], env, args.repeat), 2),
        "hygiene_report_s": round(_wall(["hygiene", "report"], env, args.repeat), 2),
    }
    print(f"cli: {results}", file=sys.stderr, flush=True)
    return results


def retrieve_part(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    import load  # benchmarks/load.py: its clients, in a child process

    from api.app import create_app
    from app.runtime import open_runtime
    from connectors.filesystem import FilesystemConnector
    from evaluation.beir import load_beir
    from steward.settings import HomeSettings, Settings

    dataset = load_beir(args.data)
    kb = work / "retrieve-kb"
    ids = list(dataset.corpus)[: args.retrieve_documents]
    _write(kb, {i: dataset.corpus[i]["text"] for i in ids}, ".txt")
    queries = list(dataset.queries.values())
    queries_file = work / "queries.json"
    queries_file.write_text(json.dumps(queries), encoding="utf-8")
    runtime = open_runtime(Settings(home=HomeSettings(home=work / "retrieve-home")))
    results: dict[str, Any] = {"documents": len(ids)}
    try:
        summary = runtime.pipeline.run(FilesystemConnector(kb, "kb"))
        assert summary.status == "ok", summary.error
        alone = _embed_alone_elsewhere(queries_file)
        url, stop = load.serve_in_thread(create_app(runtime.settings, runtime))
        try:
            one = load._run_clients(url, 1, args.duration, queries_file)
            many = load._run_clients(url, 32, args.duration, queries_file)
            # Where one client's time goes: each retrieval mode alone (sparse embeds nothing).
            modes = {
                mode: load._run_clients(url, 1, args.duration / 2, queries_file, mode)["p50_ms"]
                for mode in ("sparse", "dense", "hybrid")
            }
        finally:
            stop()
    finally:
        runtime.close()
    embed_p50 = alone
    results.update(
        served_by=sys.modules[create_app.__module__].__file__,
        embed_query_p50_ms=round(embed_p50, 2),
        one_client=one,
        clients_32=many,
        p50_over_embed=round(one["p50_ms"] / embed_p50, 2),
        one_client_p50_ms_by_mode={mode: round(p50, 2) for mode, p50 in modes.items()},
    )
    print(f"retrieve: {results}", file=sys.stderr, flush=True)
    return results


def _embed_alone_elsewhere(queries_file: Path) -> float:
    """One query's embedding alone, p50 ms: the model in a fresh process, on one worker thread
    (a server's other threads that have called torch slow each call: retrieval/query_batch.py).
    The model's cost, so this checkout's embedder whichever code `--code` measures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--embed-queries", str(queries_file)]
    done = subprocess.run(
        command,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def _embed_queries(queries_file: Path) -> None:
    """(A child process.) Print the p50 ms of embedding each query alone, after a warm-up."""
    from retrieval.embed import open_embedder
    from steward.settings import EmbeddingSettings

    settings = EmbeddingSettings()
    embedder = open_embedder(settings.model, settings.batch_size, settings.device)
    queries = json.loads(queries_file.read_text(encoding="utf-8"))[:200]
    took: list[float] = []

    def run() -> None:
        for query in ["warm-up", *queries[:5]]:
            embedder.embed_query(query)
        for query in queries:
            started = time.perf_counter()
            embedder.embed_query(query)
            took.append(time.perf_counter() - started)

    _in_worker(run)
    print(round(statistics.median(took) * 1000, 3))


def report(results: dict[str, Any]) -> str:
    lines = [f"{'measure':<48} {'value':>10}"]
    ingest = results.get("ingest", {})
    for label, row in ingest.items():
        if not isinstance(row, dict):
            continue
        alone = sum(row["embed_alone_s"]) / 2
        files = row["files"]
        lines += [
            f"{f'ingest {label} ({files} files) s':<48} {row['ingest_s']:>10.2f}",
            f"{f'ingest {label} and its scan s':<48} {row['ingest_and_scan_s']:>10.2f}",
            f"{'embed the same texts alone s (mean of 2)':<48} {alone:>10.2f}",
            f"{f'ratio ingest {label} / embed alone':<48} {row['ratio']:>10.3f}",
            f"{f'ratio ingest {label} and scan / embed alone':<48} {row['ratio_with_scan']:>10.3f}",
        ]
        if row["demo_s"] is not None:
            lines.append(f"{f'demo stack {label} s':<48} {row['demo_s']:>10.2f}")
            lines.append(
                f"{f'ratio ingest {label} / demo stack':<48} {row['ratio_to_demo']:>10.3f}"
            )
    for key, value in results.get("cli", {}).items():
        lines.append(f"{'cli ' + key:<48} {value:>10.2f}")
    retrieve = results.get("retrieve")
    if retrieve:
        lines.append(f"{'embed one query p50 ms':<48} {retrieve['embed_query_p50_ms']:>10.2f}")
        lines.append(f"{'/retrieve 1 client p50 ms':<48} {retrieve['one_client']['p50_ms']:>10.2f}")
        lines.append(
            f"{'ratio /retrieve p50 / embed one query':<48} {retrieve['p50_over_embed']:>10.2f}"
        )
        for mode, p50 in retrieve.get("one_client_p50_ms_by_mode", {}).items():
            lines.append(f"{f'/retrieve 1 client p50 ms, {mode} mode':<48} {p50:>10.2f}")
        many = retrieve["clients_32"]
        lines.append(f"{'/retrieve 32 clients req/s':<48} {many['throughput_qps']:>10.1f}")
        lines.append(f"{'/retrieve 32 clients errors':<48} {many['errors']:>10d}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--formats", default="md,txt")
    parser.add_argument("--messy-kb", type=Path, help="also a messy KB's folder (messy_kb.py)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo stack's ingests")
    parser.add_argument("--parts", default="ingest,cli,retrieve")
    parser.add_argument("--repeat", type=int, default=3, help="runs per CLI command")
    parser.add_argument("--retrieve-documents", type=int, default=5000)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.json")
    parser.add_argument(
        "--code", type=Path, help="measure another checkout's packages (the old code, same run)"
    )
    parser.add_argument("--embed-queries", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.embed_queries:
        _embed_queries(args.embed_queries)
        return
    sys.path.append(str(ROOT / "benchmarks"))  # for load.py; after the packages it shadows
    import load  # noqa: F401  (it puts this checkout first on sys.path: --code goes before it)

    if args.code:
        sys.path.insert(0, str(args.code.resolve()))

    parts = args.parts.split(",")
    work = Path(tempfile.mkdtemp(prefix="steward-speed-bench-"))
    results: dict[str, Any] = {}
    try:
        if "cli" in parts:
            results["cli"] = cli_part(args, work)
        if "ingest" in parts:
            results["ingest"] = ingest_part(args, work)
        if "retrieve" in parts:
            results["retrieve"] = retrieve_part(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["code"] = str(args.code or ROOT)
    print(report(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
