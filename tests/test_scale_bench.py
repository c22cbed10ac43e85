"""benchmarks/scale.py at tiny sizes, so the script cannot rot: every field of its JSON is there
and the multiplied knowledge base really grows (its copies are not collapsed as duplicates)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MSMARCO = ROOT.parent / "shared" / "datasets" / "msmarco-5k"

KB_FIELDS = {
    "ingest": {
        "seconds",
        "phase_cpu_s",
        "docs_per_s",
        "chunks",
        "peak_rss_mb",
        "cpu_s",
        "load_avg",
    },
    "resync": {"seconds", "phase_cpu_s", "unchanged", "chunks_embedded", "peak_rss_mb", "load_avg"},
    "scan": {"seconds", "phase_cpu_s", "findings", "timings", "peak_rss_mb", "load_avg"},
    "retrieve": {"queries", "p50_ms", "p99_ms", "server_cpu_ms_per_query", "peak_rss_mb"},
}
INDEX_FIELDS = {
    "variant",
    "chunks",
    "insert_s",
    "build_s",
    "search",
    "search_ef256",
    "disk_mb",
    "peak_rss_mb",
    "load_avg",
}


def _tiny_beir(folder: Path, passages: int) -> Path:
    """The first `passages` of msmarco-5k, with its queries and the judgements left on them."""
    lines = (MSMARCO / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:passages]
    kept = {json.loads(line)["_id"] for line in lines}
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "queries.jsonl").write_text(
        (MSMARCO / "queries.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    header, *rows = (MSMARCO / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    judged = [row for row in rows if row.split("\t")[1] in kept]
    (folder / "qrels" / "test.tsv").write_text("\n".join([header, *judged]) + "\n")
    return folder


@pytest.mark.skipif(not MSMARCO.is_dir(), reason="needs ../shared/datasets/msmarco-5k")
def test_scale_benchmark_writes_every_field(tmp_path: Path) -> None:
    data = _tiny_beir(tmp_path / "beir", 120)
    out = tmp_path / "scale.json"
    command = [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--data", str(data)]
    command += ["--sizes", "100", "300", "--index-chunks", "3000"]
    command += ["--index-variants", "plain,hnsw,int8", "--index-queries", "30"]
    command += ["--retrieve-seconds", "1", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))

    assert "not the model" in results["embedder"]
    small, large = results["sizes"]
    assert (small["documents"], large["documents"]) == (100, 300)
    for row in (small, large):
        for phase, fields in KB_FIELDS.items():
            assert fields <= set(row[phase]), (phase, set(row[phase]))
        assert row["index_mb"] > 0 and row["catalog_mb"] > 0
        assert row["retrieve"]["queries"] > 0
        # The unchanged resync embeds nothing; every listed page is unchanged.
        assert row["resync"]["chunks_embedded"] == 0
        assert row["resync"]["unchanged"] == row["documents"]
    # 300 pages need three copies of the ~150-page messy KB; the copies are new text, so
    # every page is its own document with its chunk (none dropped as an exact copy).
    assert large["copies"] == 2 or large["copies"] == 3
    assert large["ingest"]["chunks"] >= 0.9 * large["documents"]
    assert large["scan"]["findings"]["documents"] == large["documents"]
    (step,) = results["growth"]
    assert {"from", "to", "ingest", "resync", "scan", "scan_peak_rss"} <= set(step)
    assert {"ingest_cpu", "resync_cpu", "scan_cpu"} <= set(step)

    assert [row["variant"] for row in results["index"]] == ["plain", "hnsw", "int8"]
    for row in results["index"]:
        assert INDEX_FIELDS <= set(row), set(row)
        assert row["chunks"] == 3000
        assert 0.0 <= row["search"]["recall_at_10"] <= 1.0
        assert row["search"]["p99_ms"] >= row["search"]["p50_ms"] > 0
    assert "index alone" in done.stdout and "per-document cost" in done.stdout
