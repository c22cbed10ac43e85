"""Failed authentications throttled per client address, over a real server.

Each test speaks from its own loopback address (127.0.0.x: Linux routes the whole 127/8 to
the loopback interface), so one test's failures never count against another's.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from identity_provider import AUDIENCE, FORGER, ISSUER, KID, PRIVATE, jwks, token

from app.runtime import Runtime, open_runtime
from steward import auth_failures
from steward.auth_failures import FailureThrottle
from steward.errors import TooManyFailuresError
from steward.settings import AccessSettings, KeyEntry

KEY = "reader-key-00000000001"
LIMIT = 3


@pytest.fixture(scope="module")
def kb(
    tmp_path_factory: pytest.TempPathFactory, hash_embedder: Any, make_settings: Any
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("auth-failures")
    jwks_file = root / "jwks.json"
    jwks_file.write_text(json.dumps(jwks(PRIVATE, KID)), encoding="utf-8")
    auth = AccessSettings(
        keys=[KeyEntry(name="reader", role="reader", key=KEY)],
        jwks_file=jwks_file,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        max_failures=LIMIT,
        failure_window_s=60,
    )
    live = open_runtime(make_settings(root, auth=auth), embedder=hash_embedder)
    yield live
    live.close()


def client_from(base_url: str, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=60)


def keyed(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_an_address_that_keeps_failing_is_refused_before_its_key_is_checked(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bad = ["wrong-key-000000000001", token("mallory", key=FORGER), "wrong-key-000000000002"]
    with client_from(base_url, "127.0.0.2") as guesser:
        for key in bad:
            answer = guesser.get("/hygiene/stale", headers=keyed(key))
            assert answer.status_code == 401, answer.text
        # Now even the right key is not looked at: the address waits out the window.
        answer = guesser.get("/hygiene/stale", headers=keyed(KEY))
        assert answer.status_code == 429, answer.text
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert "too many failed authentications" in answer.json()["detail"]
        # So does a request with no key, and the MCP endpoint.
        assert guesser.get("/hygiene/stale").status_code == 429
        assert guesser.post("/mcp", json={}, headers=keyed(KEY)).status_code == 429
        # Open routes stay open.
        assert guesser.get("/health").status_code == 200
    # Another address is not held back by this one's failures.
    with client_from(base_url, "127.0.0.3") as other:
        assert other.get("/hygiene/stale", headers=keyed(KEY)).status_code == 200
    # Each failure is logged with the address and the failed check, never the secret.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("failed authentication from 127.0.0.2") == LIMIT
    assert "signature does not verify" in logged
    assert all(key not in logged for key in bad)
    metrics = httpx.get(f"{base_url}/metrics", headers=keyed(KEY)).text
    assert re.search(r'steward_requests_refused_total\{reason="auth_failures"\} [1-9]', metrics)


def test_successful_authentications_are_neither_slowed_nor_counted(base_url: str) -> None:
    with client_from(base_url, "127.0.0.4") as caller:
        for _ in range(4 * LIMIT):
            assert caller.get("/hygiene/stale", headers=keyed(KEY)).status_code == 200
        assert caller.get("/hygiene/stale").status_code == 401  # none sent: not a guess
        assert caller.get("/hygiene/stale").status_code == 401
        for _ in range(LIMIT - 1):
            assert caller.get("/hygiene/stale", headers=keyed("wrong")).status_code == 401
        # Below the limit, the right key works at once; a success does not clear the count.
        assert caller.get("/hygiene/stale", headers=keyed(KEY)).status_code == 200
        assert caller.get("/hygiene/stale", headers=keyed("wrong")).status_code == 401
        assert caller.get("/hygiene/stale", headers=keyed(KEY)).status_code == 429


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_failed_dashboard_sign_ins_are_throttled_too(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with client_from(base_url, "127.0.0.5") as browser:
        csrf = _csrf(browser.get("/sign-in").text)
        for attempt in range(LIMIT):
            answer = browser.post("/sign-in", data={"csrf": csrf, "key": f"guess-{attempt}-0000"})
            assert answer.status_code == 401
        answer = browser.post("/sign-in", data={"csrf": csrf, "key": KEY})
        assert answer.status_code == 429
        assert "too many failed authentications" in answer.text
        assert int(answer.headers["retry-after"]) >= 1
        assert KEY not in answer.text
        # A proxy's header from the same address is held back as well.
        page = browser.get("/queue", headers=keyed(KEY))
        assert page.status_code == 429 and 'type="password"' in page.text
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("failed authentication from 127.0.0.5") == LIMIT
    assert "guess-0-0000" not in logged


def test_the_window_slides_and_the_table_stays_bounded() -> None:
    now = [1000.0]
    throttle = FailureThrottle(max_failures=2, window_s=60, clock=lambda: now[0])
    throttle.failed("a")
    now[0] += 30
    throttle.failed("a")
    with pytest.raises(TooManyFailuresError) as refused:
        throttle.check("a")
    assert refused.value.retry_after_s == pytest.approx(30)  # when the first failure ages out
    now[0] += 30
    throttle.check("a")  # one failure left in the window
    throttle.failed("a")
    with pytest.raises(TooManyFailuresError):
        throttle.check("a")
    # Many addresses failing once each: the table forgets the quiet ones, not the recent.
    for n in range(auth_failures.MAX_TRACKED):
        throttle.failed(f"10.0.{n // 256}.{n % 256}")
    now[0] += 61
    throttle.failed("b")
    throttle.failed("b")
    assert len(throttle._failures) <= auth_failures.MAX_TRACKED
    with pytest.raises(TooManyFailuresError):
        throttle.check("b")
