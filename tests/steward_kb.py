"""A real Steward for the integrations' tests: the sample knowledge base ingested and scanned on
the embedded index, served by uvicorn on a free port (tests/conftest.py `serve`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-kb"
REFUND = "support/refund-policy.md"
OLD_REFUND = "support/refund-policy-2024.md"


def sample_runtime(root: Path, embedder: Any, make_settings: Any) -> Runtime:
    """A runtime over the sample knowledge base (source `handbook`), ingested and scanned."""
    (root / "steward.yaml").write_text(
        f"sources:\n  handbook:\n    connector: filesystem\n    path: {SAMPLE}\n",
        encoding="utf-8",
    )
    # The tests' server must not run steward.yaml's schedules.
    settings = make_settings(root, jobs={"embedded_scheduler": False})
    runtime = open_runtime(settings, embedder=embedder)
    try:
        assert runtime.pipeline.run(FilesystemConnector(SAMPLE, "handbook")).status == "ok"
        scan_hygiene(runtime)
    except BaseException:
        runtime.close()
        raise
    return runtime


def doc_id(runtime: Runtime, source_uri: str) -> str:
    [found] = [d for d in runtime.catalog.all_documents().values() if d.source_uri == source_uri]
    return found.doc_id
