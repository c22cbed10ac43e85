"""Sync benchmark: a 5,000-document folder (msmarco-5k passages as .txt files in a temp dir).

Measures the initial ingest, a resync of the unchanged folder, a resync after one document
changed (and that document's embedding alone), and that a deleted document is gone from
retrieval after the next sync. Prints a table and writes JSON.

    python benchmarks/sync.py [--data ../shared/datasets/msmarco-5k] [--out FILE]

`--source confluence` runs the same steps against the local Confluence Cloud server of the
tests (tests/saas_servers.py) over real HTTP, plus one page whose readers change:

    python benchmarks/sync.py --source confluence [--documents 500]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "msmarco-5k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sync.json")
    parser.add_argument("--documents", type=int, default=None)
    parser.add_argument("--source", choices=["folder", "confluence"], default="folder")
    args = parser.parse_args()
    if args.source == "confluence":
        confluence(args.documents or 500, args.out.with_name("sync_confluence.json"))
        return
    args.documents = args.documents or 5000

    from app.runtime import open_runtime
    from connectors.filesystem import FilesystemConnector
    from evaluation.beir import load_beir
    from ingest.check import check
    from steward.settings import HomeSettings, Settings

    dataset = load_beir(args.data)
    work = Path(tempfile.mkdtemp(prefix="steward-sync-bench-"))
    folder = work / "kb"
    ids = list(dataset.corpus)[: args.documents]
    for n, doc_id in enumerate(ids):
        target = folder / f"team{n % 10}" / f"{doc_id}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dataset.corpus[doc_id]["text"] + "\n", encoding="utf-8")

    runtime = open_runtime(Settings(home=HomeSettings(home=work / "home")))
    source = FilesystemConnector(folder, "kb")
    results: dict[str, float | int | bool] = {"documents": len(ids)}
    try:
        started = time.perf_counter()
        first = runtime.pipeline.run(source)
        results["initial_s"] = time.perf_counter() - started
        results["initial_embedded"] = first.chunks_embedded
        assert first.status == "ok", first.error

        started = time.perf_counter()
        unchanged = runtime.pipeline.run(source)
        results["unchanged_s"] = time.perf_counter() - started
        results["unchanged_embedded"] = unchanged.chunks_embedded

        changed_path = folder / "team3" / f"{ids[3]}.txt"
        new_text = "Revised: " + dataset.corpus[ids[3]]["text"] + " This sentence is new.\n"
        changed_path.write_text(new_text, encoding="utf-8")
        started = time.perf_counter()
        changed = runtime.pipeline.run(source)
        results["one_changed_s"] = time.perf_counter() - started
        results["one_changed_embedded"] = changed.chunks_embedded
        started = time.perf_counter()
        runtime.embedder.embed_documents([new_text.strip()])
        results["one_document_embedding_s"] = time.perf_counter() - started

        gone_id = ids[7]
        gone_text = dataset.corpus[gone_id]["text"]
        (folder / "team7" / f"{gone_id}.txt").unlink()
        started = time.perf_counter()
        deleted = runtime.pipeline.run(source)
        results["one_deleted_s"] = time.perf_counter() - started
        results["deleted_count"] = deleted.deleted
        hits = runtime.retriever.retrieve(gone_text, top_k=10).hits
        results["deleted_absent_from_retrieve"] = all(
            h.payload.source_uri != f"team7/{gone_id}.txt" for h in hits
        )
        results["check_clean"] = check(runtime.catalog, runtime.store).clean
    finally:
        runtime.close()
        shutil.rmtree(work, ignore_errors=True)

    unchanged_share = results["unchanged_s"] / results["initial_s"]
    overhead = results["one_changed_s"] - results["one_document_embedding_s"]
    lines = [
        "| measure | value | target |",
        "|---|---|---|",
        f"| initial ingest of {len(ids)} files | {results['initial_s']:.1f} s | |",
        f"| resync, nothing changed | {results['unchanged_s']:.2f} s = {unchanged_share:.1%} of the "
        f"initial, {results['unchanged_embedded']} embedded | <= 2 % |",
        f"| resync, one document changed | {results['one_changed_s']:.2f} s "
        f"({results['one_changed_embedded']} chunk embedded; embedding it alone "
        f"{results['one_document_embedding_s'] * 1000:.0f} ms) | <= 2 s + its embedding |",
        f"| resync, one document deleted | {results['one_deleted_s']:.2f} s, deleted "
        f"{results['deleted_count']}, absent from retrieve: {results['deleted_absent_from_retrieve']}"
        " | absent |",
        f"| steward check after all | clean: {results['check_clean']} | clean |",
        "",
        f"one-change overhead beyond its embedding: {overhead:.2f} s",
    ]
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {args.out}")


def confluence(pages: int, out: Path) -> None:
    """Initial sync, unchanged resync, one page edited, one page's readers changed, one page
    deleted: a Confluence Cloud site of `pages` pages served on loopback."""
    sys.path.insert(0, str(ROOT / "tests"))
    from saas_servers import confluence_site, storage_page

    from app.runtime import open_runtime
    from connectors.api_client import RetryPolicy
    from connectors.confluence import ConfluenceConnector
    from ingest.check import check
    from ingest.pipeline import document_id
    from steward.domain import SearchFilters
    from steward.outbound import OutboundPolicy
    from steward.settings import HomeSettings, Settings

    site = confluence_site("cloud", pages=pages)
    work = Path(tempfile.mkdtemp(prefix="steward-sync-confluence-"))
    runtime = open_runtime(Settings(home=HomeSettings(home=work / "home")))
    source = ConfluenceConnector(
        "wiki",
        site.url,
        ["ENG", "OPS"],
        site.token,
        "the benchmark's token",
        user=site.user,
        outbound=OutboundPolicy.of(allow_private=True),
        retry=RetryPolicy(backoff_s=0.1),
    )
    total = len(site.pages)
    results: dict[str, float | int | bool] = {"pages": total}

    def run(name: str) -> object:
        before = source.client.requests
        started = time.perf_counter()
        summary = runtime.pipeline.run(source)
        results[f"{name}_s"] = time.perf_counter() - started
        results[f"{name}_embedded"] = summary.chunks_embedded
        results[f"{name}_requests"] = source.client.requests - before
        assert summary.status == "ok", summary.error
        return summary

    try:
        run("initial")
        run("unchanged")
        site.edit("1003", body=storage_page("Runbook 2", "topic 2", "A rollback step is added."))
        changed = run("one_changed")
        results["one_changed_count"] = changed.changed  # type: ignore[attr-defined]
        site.pages["1004"].read_groups = ["sre"]
        regrouped = run("permissions")
        results["permissions_metadata_only"] = regrouped.metadata_only  # type: ignore[attr-defined]
        acl = {
            tuple(c.payload.acl) for c in runtime.store.document_chunks(document_id("wiki", "1004"))
        }
        results["permissions_applied"] = acl == {("sre",)}
        gone_text = "Runbook number 5 covers service 5."
        del site.pages["1006"]
        deleted = run("one_deleted")
        results["deleted_count"] = deleted.deleted  # type: ignore[attr-defined]
        hits = runtime.retriever.retrieve(
            gone_text, top_k=10, filters=SearchFilters(groups=("engineering",))
        ).hits
        results["deleted_absent_from_retrieve"] = all(
            h.payload.doc_id != document_id("wiki", "1006") for h in hits
        )
        results["tombstoned"] = any(
            t["doc_id"] == document_id("wiki", "1006")
            for t in runtime.catalog.tombstones_of("wiki")
        )
        results["check_clean"] = check(runtime.catalog, runtime.store).clean
    finally:
        source.close()
        runtime.close()
        site.close()
        shutil.rmtree(work, ignore_errors=True)

    share = results["unchanged_s"] / results["initial_s"]
    lines = [
        "| measure | value | target |",
        "|---|---|---|",
        f"| initial sync of {total} Confluence pages over HTTP | {results['initial_s']:.1f} s "
        f"({results['initial_requests']} requests, {results['initial_embedded']} chunks embedded) | |",
        f"| resync, nothing changed | {results['unchanged_s']:.2f} s = {share:.1%} of the initial "
        f"({results['unchanged_requests']} requests), {results['unchanged_embedded']} embedded "
        "| <= 2 %, 0 embedded |",
        f"| resync, one page edited | {results['one_changed_s']:.2f} s, "
        f"{results['one_changed_count']} changed, {results['one_changed_embedded']} chunks embedded | |",
        f"| resync, one page's readers changed | {results['permissions_s']:.2f} s, "
        f"{results['permissions_metadata_only']} metadata-only, {results['permissions_embedded']} "
        f"embedded, groups applied: {results['permissions_applied']} | 0 embedded |",
        f"| resync, one page deleted | {results['one_deleted_s']:.2f} s, deleted "
        f"{results['deleted_count']}, tombstone: {results['tombstoned']}, absent from retrieve: "
        f"{results['deleted_absent_from_retrieve']} | absent |",
        f"| steward check after all | clean: {results['check_clean']} | clean |",
    ]
    print("\n".join(lines))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
