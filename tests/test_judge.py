"""The optional conflict judge, against a real OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from app.hygiene import scan_hygiene
from app.runtime import open_runtime
from connectors.filesystem import FilesystemConnector

KB = Path(__file__).resolve().parent.parent / "examples" / "sample-kb"


def _judge_app(asked: list[str]) -> FastAPI:
    """Says "no" to every pair that mentions Concur, "yes" to the rest."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def complete(body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][0]["content"]
        asked.append(prompt)
        answer = "No." if "Concur" in prompt else "Yes"
        return {"choices": [{"message": {"role": "assistant", "content": answer}}]}

    return app


def _travel_kb(root: Path, with_copy: bool = False) -> Path:
    kb = root / "kb"
    for name in ("travel-policy.md", "travel-policy-2023.md"):
        (kb / "finance").mkdir(parents=True, exist_ok=True)
        shutil.copy(KB / "finance" / name, kb / "finance" / name)
    if with_copy:  # its conflicts move onto the original, the canonical copy
        (kb / "archive").mkdir()
        shutil.copy(KB / "finance" / "travel-policy.md", kb / "archive" / "travel-policy-copy.md")
    return kb


@pytest.mark.parametrize("with_copy", [False, True], ids=["plain", "with-a-copy"])
def test_the_judge_vetoes_only_what_it_answers_no_to(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, serve_app: Any, with_copy: bool
) -> None:
    kb = _travel_kb(tmp_path, with_copy)
    plain = open_runtime(make_settings(tmp_path / "plain"), embedder=hash_embedder)
    try:
        plain.pipeline.run(FilesystemConnector(kb, "finance"))
        without = scan_hygiene(plain).conflicts
    finally:
        plain.close()
    assert any("Concur" in c.a_span for c in without)

    asked: list[str] = []
    with serve_app(_judge_app(asked)) as url:
        judged = open_runtime(
            make_settings(
                tmp_path / "judged",
                hygiene={"judge": {"url": f"{url}/v1"}},
                outbound={"allow_private": True},
            ),
            embedder=hash_embedder,
        )
        try:
            judged.pipeline.run(FilesystemConnector(kb, "finance"))
            first = scan_hygiene(judged).conflicts
            calls = len(asked)
            again = scan_hygiene(judged).conflicts
        finally:
            judged.close()
    assert calls == len(without)  # every candidate asked once...
    assert len(asked) == calls  # ...and never again on a rescan
    vetoed = {c.conflict_id for c in without if "Concur" in c.a_span + c.b_span}
    assert vetoed
    for scanned in (first, again):
        assert {c.conflict_id for c in scanned} == {c.conflict_id for c in without}
        for c in scanned:
            resolved = ("both_valid", "judge gpt-4o-mini") if c.conflict_id in vetoed else None
            assert (resolved is None and c.resolution is None) or (
                (c.resolution, c.resolved_by) == resolved
            )


def test_an_unreachable_judge_loses_no_finding(
    tmp_path: Path, hash_embedder: Any, make_settings: Any
) -> None:
    kb = _travel_kb(tmp_path)
    runtime = open_runtime(
        make_settings(
            tmp_path,
            hygiene={"judge": {"url": "http://127.0.0.1:9/v1", "timeout_s": 2}},
            outbound={"allow_hosts": ["127.0.0.1:9"]},
        ),
        embedder=hash_embedder,
    )
    try:
        runtime.pipeline.run(FilesystemConnector(kb, "finance"))
        found = scan_hygiene(runtime).conflicts
    finally:
        runtime.close()
    assert len(found) >= 10
