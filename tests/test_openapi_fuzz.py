"""The API fuzzed from its own /openapi.json by Schemathesis: a real server, access control on.

Every operation gets generated requests (valid and invalid bodies, parameters and ids) as an admin,
the caller who may reach every route: no answer is a 500, and every answer with a documented
schema matches it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from api.app import create_app
from app.hygiene import scan_hygiene
from app.runtime import open_runtime
from app.sources import FilesystemSource, build_connector
from steward.settings import AccessSettings, KeyEntry

ADMIN_KEY = "fuzz-admin-key-000000001"
PAGES = {
    "travel.md": "# Travel\n\nThe daily meal allowance is 40 dollars; receipts are kept.\n",
    "travel-2023.md": "# Travel\n\nThe daily meal allowance is 35 dollars; receipts are kept.\n",
    "travel-copy.md": "# Travel\n\nThe daily meal allowance is 40 dollars; receipts are kept.\n",
    "laptops.md": "# Laptops\n\nLaptops are replaced every 36 months by the service desk.\n",
}


@pytest.fixture(scope="module")
def base_url(
    tmp_path_factory: pytest.TempPathFactory,
    hash_embedder: Any,
    make_settings: Any,
    serve_app: Any,
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("fuzz")
    kb = root / "kb"
    kb.mkdir()
    for name, text in PAGES.items():
        (kb / name).write_text(text, encoding="utf-8")
    (kb / "restricted.md").write_text(
        "---\nacl: [finance]\n---\n\n# Budget\n\nThe budget for 2027 is frozen.\n", encoding="utf-8"
    )
    access = AccessSettings(keys=[KeyEntry(name="admin", role="admin", key=ADMIN_KEY)])
    runtime = open_runtime(make_settings(root, auth=access), embedder=hash_embedder)
    try:
        config = FilesystemSource(connector="filesystem", path=kb)
        summary = runtime.pipeline.run(build_connector("kb", config, root / "home"))
        assert summary.status == "ok", summary
        scan_hygiene(runtime)
        with serve_app(create_app(runtime.settings, runtime)) as url:
            yield url
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


def test_no_generated_request_gets_a_500_or_an_answer_off_its_schema(api_schema: Any) -> None:
    # One Hypothesis run per operation (schemathesis' pytest plugin does not load under this
    # pytest); a failing operation is reported with its shrunk case, and the others still run.
    failed: dict[str, str] = {}
    for operation in _operations(api_schema):

        @settings(
            max_examples=25,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
                timeout=60,
            )

        try:
            call()
        except Exception as error:  # noqa: BLE001 - every operation's failure is collected
            failed[f"{operation.method.upper()} {operation.path}"] = str(error)[:2000]
    assert not failed, "\n\n".join(f"{name}: {why}" for name, why in failed.items())


def test_the_fuzzed_schema_covers_every_route(api_schema: Any, base_url: str) -> None:
    """The fuzzing above reaches every operation the server serves."""
    served = httpx.get(f"{base_url}/openapi.json", timeout=30).json()["paths"]
    operations = {(op.method.upper(), op.path) for op in _operations(api_schema)}
    assert operations == {(m.upper(), p) for p, methods in served.items() for m in methods}
    assert len(operations) > 20


def _operations(api_schema: Any) -> list[Any]:
    return [result.ok() for result in api_schema.get_all_operations()]


def test_fuzzing_needs_the_admin_key(base_url: str) -> None:
    """Without the key the fuzzing would only ever see 401s and test nothing past the guard."""
    assert httpx.post(f"{base_url}/retrieve", json={"query": "travel"}).status_code == 401
    answer = httpx.post(
        f"{base_url}/retrieve",
        json={"query": "travel"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert answer.status_code == 200 and answer.json()["results"]
