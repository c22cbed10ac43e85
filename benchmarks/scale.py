"""Scale benchmark (issue 15): how ingest, resync, the hygiene scan, /retrieve and the sizes on
disk grow with the knowledge base, and what the embedded index does with a million chunks.

The knowledge base: `--data` (msmarco-5k) made messy by benchmarks/messy_kb.py (about 6,200
pages with its copies, superseded editions and conflicts), then multiplied: copy k of every page
has each word swapped for another of about the same corpus frequency (bands of 50 ranks, a
shuffle per copy and band; numbers, dates and front matter keys kept), so every copy has the
corpus's lengths and word statistics and its own duplicates and conflicts, and no copy is a
duplicate of another. A size of N documents is the first N pages of copy 0, copy 1, ...

Per size, each phase in a fresh interpreter (its peak RSS is its own): ingest (documents/s),
an unchanged resync, the hygiene scan, and /retrieve over HTTP (uvicorn on loopback, one client
in another process, benchmarks/load.py's, for `--retrieve-seconds`); then the index's and the
catalog's size on disk. The model is replaced by a hashing embedder (benchmarks/hash_embedder.py,
384 dimensions like MiniLM's): none of these figures is about the model's speed.

The index alone: `--index-chunks` random 384-d vectors (clustered around 2,000 centres, as text
embeddings are; uniform random vectors are a worst case for HNSW), with a payload like a chunk's,
in a Qdrant Edge shard left as written (`plain`: never optimized) or optimized: the HNSW graph
with Qdrant's defaults (`hnsw`, what an ingest builds), int8 scalar quantization, HNSW m 32,
payload in RAM. Insert and build time, search p50/p99 and recall@10 against exact search, size
on disk, peak RSS.

Prints a table and writes JSON. The machine may be shared: each phase records the load average.

    python benchmarks/scale.py [--data ../shared/datasets/msmarco-5k] [--sizes 6000 25000 100000]
                               [--index-chunks 1000000] [--index-variants plain,hnsw,int8]
                               [--retrieve-seconds 15] [--profile ingest] [--out FILE]
                               [--partitions 4: ingest and resync bucket after bucket]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"
DIMENSION = 384  # MiniLM's, so the index's size on disk is a real one
BAND = 50  # words swap within bands of this many frequency ranks
KB_PHASES = ("ingest", "resync", "scan", "retrieve")
_WORD = re.compile(r"[A-Za-z]+")


# -- the knowledge base --------------------------------------------------------------------------


class Multiplier:
    """Copies of a messy knowledge base with their words swapped, deterministically per copy."""

    def __init__(self, base: Path) -> None:
        from benchmarks.messy_kb import read_page

        self.base = base
        self.pages = sorted(str(p.relative_to(base)) for p in base.rglob("*.md"))
        self.read = {rel: read_page(base / rel) for rel in self.pages}
        counts: Counter[str] = Counter()
        for meta, body in self.read.values():
            counts.update(w.casefold() for w in _WORD.findall(f"{meta.get('title', '')} {body}"))
        ranked = sorted(counts, key=lambda w: (-counts[w], w))
        self.bands = [ranked[i : i + BAND] for i in range(0, len(ranked), BAND)]
        self._maps: dict[int, dict[str, str]] = {}

    def _map(self, copy: int) -> dict[str, str]:
        if copy not in self._maps:
            mapping: dict[str, str] = {}
            for n, band in enumerate(self.bands):
                swapped = band[:]
                random.Random(f"{copy}:{n}").shuffle(swapped)
                mapping.update(zip(band, swapped, strict=True))
            self._maps[copy] = mapping
        return self._maps[copy]

    def swap(self, text: str, copy: int) -> str:
        if copy == 0:
            return text
        mapping = self._map(copy)

        def one(match: re.Match[str]) -> str:
            word = match.group(0)
            new = mapping.get(word.casefold(), word)
            if word.isupper() and len(word) > 1:
                return new.upper()
            return new.capitalize() if word[0].isupper() else new

        return _WORD.sub(one, text)

    def write(self, out: Path, documents: int) -> None:
        """The first `documents` pages of copy 0, 1, ... under `out/copyNN/`."""
        from benchmarks.messy_kb import render_page

        for n in range(documents):
            copy, index = divmod(n, len(self.pages))
            rel = self.pages[index]
            meta, body = self.read[rel]
            target = out / f"copy{copy:02d}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            title = self.swap(str(meta.get("title", "")), copy)
            target.write_text(render_page(title, meta["updated"], self.swap(body, copy)))
            stamp = (self.base / rel).stat().st_mtime
            os.utime(target, (stamp, stamp))

    def queries(self, texts: list[str], copies: int) -> list[str]:
        """Each query in the words of each copy: hits land in every copy, not only the first."""
        return [self.swap(q, copy) for q in texts for copy in range(copies)]


# -- one phase, in a child process ---------------------------------------------------------------


def _settings(home: Path) -> Any:
    from steward.settings import HomeSettings, Settings

    return Settings(home=HomeSettings(home=home))


def _runtime(home: Path) -> Any:
    from app.runtime import open_runtime
    from benchmarks.hash_embedder import WordHashEmbedder

    return open_runtime(_settings(home), embedder=WordHashEmbedder(DIMENSION))


def _kb_phase(
    phase: str, home: Path, kb: Path, queries_file: Path, seconds: float, partitions: int = 1
) -> dict[str, Any]:
    from connectors.base import ListedOnce
    from connectors.filesystem import FilesystemConnector
    from steward.domain import Partition

    runtime = _runtime(home)
    try:
        if phase in ("ingest", "resync"):
            # The HNSW graph's build, timed apart: it starts only above Qdrant's indexing
            # threshold (about 6,500 vectors), so it bends the ingest's growth at that size.
            optimize_s: list[float] = []
            optimize = runtime.store.optimize

            def timed_optimize() -> None:
                began = time.perf_counter()
                optimize()
                optimize_s.append(time.perf_counter() - began)

            runtime.store.optimize = timed_optimize
            started, cpu = time.perf_counter(), _cpu_s()
            # A partitioned source's sync in one process: bucket after bucket (app.sync).
            connector = ListedOnce(FilesystemConnector(kb, "kb"))
            buckets = [Partition(i, partitions) for i in range(partitions)]
            runs = [
                runtime.pipeline.run(connector, partition=b if partitions > 1 else None)
                for b in buckets
            ]
            took, cpu = time.perf_counter() - started, _cpu_s() - cpu
            failed = [r for r in runs if r.status != "ok"]
            if failed:
                raise RuntimeError(f"{phase} failed: {failed[0].error}")
            return {
                "seconds": took,
                "phase_cpu_s": cpu,
                "partitions": partitions,
                **{
                    key: sum(getattr(r, key) for r in runs)
                    for key in ("listed", "new", "unchanged", "chunks", "chunks_embedded")
                },
                "optimize_s": sum(optimize_s),
            }
        if phase == "scan":
            from app.hygiene import scan_hygiene

            started, cpu = time.perf_counter(), _cpu_s()
            report = scan_hygiene(runtime)
            took, cpu = time.perf_counter() - started, _cpu_s() - cpu
            summary = report.summary()
            return {
                "seconds": took,
                "phase_cpu_s": cpu,
                "findings": summary,
                "timings": summary["timings"],
            }
        if phase == "retrieve":
            return _retrieve(runtime, queries_file, seconds)
        raise ValueError(f"unknown phase {phase!r}")
    finally:
        runtime.close()


def _retrieve(runtime: Any, queries_file: Path, seconds: float) -> dict[str, Any]:

    from api.app import create_app
    from benchmarks import load

    url, stop = load.serve_in_thread(create_app(runtime.settings, runtime))
    queries = json.loads(queries_file.read_text())
    try:
        import httpx

        # The first requests warm the process (the hygiene marks, the BM25 statistics): they
        # took about a second each and are no steady-state latency.
        with httpx.Client(base_url=url, timeout=120) as client:
            for query in queries[:5]:
                client.post("/retrieve", json={"query": query, "top_k": 10}).raise_for_status()
        before = _cpu_s()
        found = load._run_clients(url, 1, seconds, queries_file)
        server_cpu_s = _cpu_s() - before
    finally:
        stop()
    if found["errors"] or not found["ok"]:
        raise RuntimeError(f"/retrieve failed: {found}")
    return {
        "queries": found["ok"],
        "p50_ms": found["p50_ms"],
        "p99_ms": found["p99_ms"],
        "server_cpu_ms_per_query": server_cpu_s * 1000 / found["ok"],
    }


def _cpu_s() -> float:
    """CPU seconds this process used (every thread): unlike wall time, not stretched by the
    other processes of a shared machine, so what growth ratios are best read from."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _vectors(rng: Any, centres: Any, count: int) -> Any:
    import numpy as np

    rows = centres[rng.integers(0, len(centres), count)] + rng.standard_normal(
        (count, DIMENSION), dtype=np.float32
    )
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


INDEX_VARIANTS: dict[str, dict[str, Any]] = {
    # As written and never optimized: how Steward left its index before its ingest optimized.
    "plain": {"optimize": False},
    "hnsw": {"optimize": True},  # optimize(): the HNSW graph with the defaults (m 16, ef 100)
    "int8": {"optimize": True, "int8": True},
    "m32": {"optimize": True, "m": 32, "ef_construct": 200},
    "payload-ram": {"optimize": True, "payload_ram": True},
}


def _index_config(variant: dict[str, Any]) -> Any:
    import qdrant_edge as qe

    from retrieval.store import DENSE

    options: dict[str, Any] = {}
    if variant.get("m"):
        options["hnsw_config"] = qe.HnswIndexConfig(
            m=variant["m"], ef_construct=variant["ef_construct"], full_scan_threshold=10000
        )
    if variant.get("int8"):
        options["quantization_config"] = qe.ScalarQuantizationConfig(
            qe.ScalarType.Int8, quantile=0.99, always_ram=True
        )
    if variant.get("payload_ram"):
        options["payload_memory"] = qe.Memory.Cached
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=DIMENSION, distance=qe.Distance.Cosine)},
        **options,
    )


def _index_phase(name: str, chunks: int, folder: Path, queries: int) -> dict[str, Any]:
    import numpy as np
    import qdrant_edge as qe

    from retrieval.store import DENSE

    variant = INDEX_VARIANTS[name]
    rng = np.random.default_rng(15)
    centres = rng.standard_normal((2000, DIMENSION), dtype=np.float32)
    shard = qe.EdgeShard.create(str(folder), _index_config(variant))
    for field in ("doc_id", "source", "content_hash"):
        shard.update(qe.UpdateOperation.create_field_index(field, qe.PayloadSchemaType.Keyword))
    started = time.perf_counter()
    for first in range(0, chunks, 1000):
        rows = _vectors(rng, centres, min(1000, chunks - first))
        points = [
            qe.Point(
                first + n,
                {DENSE: row.tolist()},
                {
                    "doc_id": f"doc-{(first + n) // 4}",
                    "source": "kb",
                    "content_hash": f"{first + n:064x}",
                    "text": "a chunk's text stands here " * 12,
                },
            )
            for n, row in enumerate(rows)
        ]
        shard.update(qe.UpdateOperation.upsert_points(points))
    shard.flush()
    insert_s = time.perf_counter() - started
    started = time.perf_counter()
    if variant["optimize"]:
        shard.optimize()
    shard.flush()
    build_s = time.perf_counter() - started
    asked = _vectors(rng, centres, queries)

    def search(vector: Any, params: Any = None) -> list[int]:
        request = qe.QueryRequest(
            limit=10,
            query=qe.Query.Nearest(vector.tolist(), using=DENSE),
            with_payload=["content_hash", "doc_id"],
            params=params,
        )
        return [int(p.id) for p in shard.query(request)]

    truth = [set(search(v, qe.SearchParams(exact=True))) for v in asked[:50]]
    found: dict[str, Any] = {}
    for ef in (None, 256):
        params = qe.SearchParams(hnsw_ef=ef) if ef else None
        times, hits = [], []
        for n, vector in enumerate(asked):
            began = time.perf_counter()
            ids = search(vector, params)
            times.append((time.perf_counter() - began) * 1000)
            if n < len(truth):
                hits.append(len(truth[n] & set(ids)) / 10)
        times.sort()
        found["search" if ef is None else f"search_ef{ef}"] = {
            "p50_ms": statistics.median(times),
            "p99_ms": times[min(len(times) - 1, int(0.99 * len(times)))],
            "recall_at_10": statistics.fmean(hits),
        }
    segments = (
        len(list((folder / "segments").iterdir())) if (folder / "segments").is_dir() else None
    )
    shard.close()
    return {
        "chunks": chunks,
        "insert_s": insert_s,
        "build_s": build_s,
        "segments": segments,
        **found,
        "disk_mb": _disk_mb(folder),
    }


def _disk_mb(path: Path) -> float:
    """Blocks allocated, as `du` counts them: Qdrant preallocates sparse files (a 5,000-chunk
    shard's files add up to 151 MB of apparent size)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_blocks * 512 for p in files) / 2**20


def _child(args: argparse.Namespace) -> None:
    """Run one phase; print its result and this process's peak RSS as one JSON line."""
    load_before = os.getloadavg()[0]
    profiler = None
    if args.profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    if args.child == "index":
        result = _index_phase(args.variant, args.index_chunks, args.folder, args.index_queries)
    else:
        result = _kb_phase(
            args.child,
            args.home,
            args.folder,
            args.queries_file,
            args.retrieve_seconds,
            args.partitions,
        )
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile_to)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["cpu_s"] = _cpu_s()  # the whole phase's process, start-up included
    result["load_avg"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(json.dumps(result))


def _spawn(arguments: list[str]) -> dict[str, Any]:
    command = [sys.executable, __file__, *arguments]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(arguments[:2])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the runs ------------------------------------------------------------------------------------


def kb_sizes(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    from benchmarks.messy_kb import generate
    from evaluation.beir import load_beir

    if not (args.keep and (work / "messy" / "kb").is_dir()):
        generate(args.data, work / "messy")
    multiplier = Multiplier(work / "messy" / "kb")
    texts = list(load_beir(args.data).queries.values())
    rows = []
    for size in args.sizes:
        kb, home = work / f"kb-{size}", work / f"home-{size}"
        if args.partitions > 1:
            home = work / f"home-{size}-in-{args.partitions}"
        started = time.perf_counter()
        if not (args.keep and kb.is_dir()):  # a kept folder is listed again, unchanged
            multiplier.write(kb, size)
        copies = -(-size // len(multiplier.pages))
        queries_file = work / f"queries-{size}.json"
        queries_file.write_text(json.dumps(multiplier.queries(texts, copies)))
        row: dict[str, Any] = {"documents": size, "copies": copies}
        row["write_s"] = round(time.perf_counter() - started, 1)
        for phase in args.phases:
            arguments = ["--child", phase, "--home", str(home), "--folder", str(kb)]
            arguments += ["--queries-file", str(queries_file)]
            arguments += ["--retrieve-seconds", str(args.retrieve_seconds)]
            arguments += ["--partitions", str(args.partitions)]
            if phase in args.profile:
                target = args.out.parent / f"scale-{phase}-{size}.prof"
                arguments += ["--profile-to", str(target)]
            row[phase] = _spawn(arguments)
            print(f"{size} {phase}: {row[phase]}", file=sys.stderr, flush=True)
        if "ingest" in row:
            row["ingest"]["docs_per_s"] = size / row["ingest"]["seconds"]
        row["index_mb"] = _disk_mb(home / "index")
        row["catalog_mb"] = sum(_disk_mb(p) for p in home.glob("catalog.sqlite*"))
        print(
            f"{size} on disk: {row['index_mb']:.1f} MB index, {row['catalog_mb']:.1f} MB catalog",
            file=sys.stderr,
            flush=True,
        )
        rows.append(row)
        # What is measured so far, should a long run be stopped before its last size.
        args.out.write_text(json.dumps({"sizes": rows}, indent=2) + "\n", encoding="utf-8")
        if not args.keep:
            shutil.rmtree(kb, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
    return rows


def index_alone(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    rows = []
    for name in args.index_variants:
        if name not in INDEX_VARIANTS:
            raise SystemExit(
                f"--index-variants: unknown {name!r}; one of {', '.join(INDEX_VARIANTS)}"
            )
        folder = work / f"index-{name}"
        arguments = ["--child", "index", "--variant", name, "--folder", str(folder)]
        arguments += ["--index-chunks", str(args.index_chunks)]
        arguments += ["--index-queries", str(args.index_queries)]
        row = {"variant": name, **_spawn(arguments)}
        print(f"index {name}: {row}", file=sys.stderr, flush=True)
        rows.append(row)
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-document cost of each size over the previous one's: 1.0 is linear growth."""
    found = []
    for small, large in zip(rows, rows[1:], strict=False):
        scale = large["documents"] / small["documents"]
        step: dict[str, Any] = {"from": small["documents"], "to": large["documents"]}
        for phase in ("ingest", "resync", "scan"):
            if phase not in small or phase not in large:
                continue
            step[phase] = round(large[phase]["seconds"] / small[phase]["seconds"] / scale, 2)
            # CPU time: the figure a shared machine's load stretches least.
            step[f"{phase}_cpu"] = round(
                large[phase]["phase_cpu_s"] / small[phase]["phase_cpu_s"] / scale, 2
            )
        if "scan" in small and "scan" in large:
            step["scan_peak_rss"] = round(
                large["scan"]["peak_rss_mb"] / small["scan"]["peak_rss_mb"] / scale, 2
            )
        found.append(step)
    return found


def _cell(values: dict[str, Any], key: str, width: int, digits: int) -> str:
    """A table cell: the value rounded to `digits`, or "-" where the phase did not run."""
    value = values.get(key)
    return f"{'-' if value is None else f'{value:.{digits}f}':>{width}}"


def report(results: dict[str, Any]) -> str:
    lines = []
    if results["sizes"]:
        lines.append(
            "hashing embedder (384-d) for every figure below: the model's speed is not measured"
        )
        header = (
            f"{'documents':>9} {'chunks':>7} {'ingest/s':>8} {'graph s':>7} {'resync s':>8} {'scan s':>7} "
            f"{'scan MB':>7} {'ingest MB':>9} {'p50 ms':>7} {'p99 ms':>7} {'index MB':>8} "
            f"{'catalog MB':>10} {'load':>5}"
        )
        lines.append(header)
        for row in results["sizes"]:
            ingest = row.get("ingest", {})
            phases = [phase for phase in KB_PHASES if phase in row]  # those this run measured
            load = row[phases[0]]["load_avg"][0] if phases else 0.0
            lines.append(
                f"{row['documents']:>9} {ingest.get('chunks', '-'):>7} "
                f"{_cell(ingest, 'docs_per_s', 8, 1)} {_cell(ingest, 'optimize_s', 7, 1)} "
                f"{_cell(row.get('resync', {}), 'seconds', 8, 2)} "
                f"{_cell(row.get('scan', {}), 'seconds', 7, 2)} "
                f"{_cell(row.get('scan', {}), 'peak_rss_mb', 7, 0)} "
                f"{_cell(ingest, 'peak_rss_mb', 9, 0)} "
                f"{_cell(row.get('retrieve', {}), 'p50_ms', 7, 1)} "
                f"{_cell(row.get('retrieve', {}), 'p99_ms', 7, 1)} {_cell(row, 'index_mb', 8, 1)} "
                f"{_cell(row, 'catalog_mb', 10, 1)} {load:>5.2f}"
            )
        for step in results["growth"]:
            parts = [
                f"{phase} {step[phase]} (CPU {step[f'{phase}_cpu']})"
                for phase in ("ingest", "resync", "scan")
                if phase in step
            ]
            if "scan_peak_rss" in step:
                parts.append(f"scan RSS {step['scan_peak_rss']}")
            lines.append(
                f"per-document cost {step['to']} / {step['from']} (1.0 = linear), wall: "
                + ", ".join(parts)
            )
    if results["index"]:
        lines.append(
            f"index alone: {results['index'][0]['chunks']} random 384-d chunks "
            "(recall@10 against exact search)"
        )
        lines.append(
            f"{'variant':<12} {'insert s':>8} {'build s':>8} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'recall':>6} {'ef256 p50':>9} {'recall':>6} {'disk MB':>8} {'RSS MB':>7} {'load':>5}"
        )
        for row in results["index"]:
            lines.append(
                f"{row['variant']:<12} {row['insert_s']:>8.1f} {row['build_s']:>8.1f} "
                f"{row['search']['p50_ms']:>7.2f} {row['search']['p99_ms']:>7.2f} "
                f"{row['search']['recall_at_10']:>6.3f} {row['search_ef256']['p50_ms']:>9.2f} "
                f"{row['search_ef256']['recall_at_10']:>6.3f} {row['disk_mb']:>8.0f} "
                f"{row['peak_rss_mb']:>7.0f} {row['load_avg'][0]:>5.2f}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="a BEIR set to multiply")
    parser.add_argument("--sizes", type=int, nargs="*", default=[6000, 25000, 100000])
    parser.add_argument("--index-chunks", type=int, default=1_000_000, help="0: no index step")
    parser.add_argument("--index-variants", default="plain,hnsw,int8")
    parser.add_argument("--index-queries", type=int, default=200)
    parser.add_argument("--retrieve-seconds", type=float, default=20.0)
    parser.add_argument("--profile", default="", help="phases to run under cProfile (.prof files)")
    parser.add_argument("--phases", default=",".join(KB_PHASES), help="which phases, in order")
    parser.add_argument(
        "--partitions",
        type=int,
        default=1,
        help="sync the KB in this many buckets, one after another (a source's `partitions`)",
    )
    parser.add_argument(
        "--keep", type=Path, help="work here and keep the folders and homes (a rerun reuses them)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    # A phase in a child process (internal).
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args)
        return
    if any(size < 1 for size in args.sizes):
        parser.error("--sizes: every size must be a positive number of documents")
    args.sizes = sorted(args.sizes)
    args.index_variants = [v for v in args.index_variants.split(",") if v]
    args.profile = [p for p in args.profile.split(",") if p]
    args.phases = [p for p in args.phases.split(",") if p]
    unknown = sorted(set(args.phases) - set(KB_PHASES))
    if unknown:
        parser.error(f"--phases: unknown {', '.join(unknown)}; of {', '.join(KB_PHASES)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="steward-scale-bench-"))
    try:
        sizes = kb_sizes(args, work) if args.sizes else []
        index = index_alone(args, work) if args.index_chunks > 0 else []
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results = {
        "data": str(args.data),
        "embedder": f"bench:word-hash-{DIMENSION} (hashing; not the model)",
        "cpus": os.cpu_count(),
        "sizes": sizes,
        "growth": growth(sizes),
        "index": index,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(report(results))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
