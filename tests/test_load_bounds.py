"""Bounded load over a real server: a per-principal rate limit (429) and a bound on the
expensive requests in flight (503), both with Retry-After."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.rate_limit import RateLimiter
from app.runtime import open_runtime
from app.sources import FilesystemSource, build_connector
from steward.errors import RateLimitedError
from steward.settings import AccessSettings, ApiSettings, KeyEntry

KEYS = {
    "ana": "ana-key-0000000000001",
    "bo": "bo-key-00000000000001",
    "cy": "cy-key-00000000000001",
}
BODY = b'{"query": "renew the parking permit", "top_k": 3}'


def headers(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}", "Content-Type": "application/json"}


@pytest.fixture
def server(
    tmp_path: Path, hash_embedder: Any, make_settings: Any, write: Any, serve_app: Any
) -> Iterator[Callable[[ApiSettings], str]]:
    """`server(ApiSettings(...))`: a served app over a small knowledge base with two keys."""
    numbers = count()
    with ExitStack() as stack:

        def start(api: ApiSettings) -> str:
            root = tmp_path / f"kb{next(numbers)}"
            for name, text in {
                "parking": "Parking permits are renewed each January at the front desk.",
                "vpn": "Connect to the VPN with the WireGuard client first.",
            }.items():
                write.markdown(root / "docs" / f"{name}.md", f"# {name}\n\n{text}\n")
            auth = AccessSettings(
                keys=[KeyEntry(name=name, role="reader", key=key) for name, key in KEYS.items()]
            )
            live = open_runtime(make_settings(root, api=api, auth=auth), embedder=hash_embedder)
            stack.callback(live.close)
            config = FilesystemSource(connector="filesystem", path=root / "docs")
            assert live.pipeline.run(build_connector("docs", config, root / "home")).status == "ok"
            url: str = stack.enter_context(serve_app(create_app(live.settings, live)))
            return url

        yield start


# -- rate limit ------------------------------------------------------------------------------


def test_a_principal_above_its_rate_gets_429_with_retry_after(server: Any) -> None:
    url = server(ApiSettings(rate_limit_per_minute=1))
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/retrieve", content=BODY, headers=headers("ana")).status_code == 200
        refused = http.post("/retrieve", content=BODY, headers=headers("ana"))
        assert refused.status_code == 429, refused.text
        # One token a minute, just spent: the next one is about a minute away.
        assert 50 <= int(refused.headers["retry-after"]) <= 60
        assert "'ana' sent too many requests" in refused.json()["detail"]
        assert KEYS["ana"] not in refused.text
        # Per principal: another key has its own bucket, on any route.
        assert http.get("/hygiene/stale", headers=headers("bo")).status_code == 200
        assert http.get("/hygiene/stale", headers=headers("bo")).status_code == 429
        # /health names nobody and is never limited; a stranger is refused before any bucket.
        assert all(http.get("/health").status_code == 200 for _ in range(3))
        assert http.post("/retrieve", content=BODY).status_code == 401
        # Both refusals are counted for the operator.
        metrics = http.get("/metrics", headers=headers("cy")).text
        assert 'steward_requests_refused_total{reason="rate_limit"} 2.0' in metrics


def test_the_bucket_refills_at_the_rate_and_holds_a_burst() -> None:
    now = [1000.0]
    limiter = RateLimiter(per_minute=6, burst=2, clock=lambda: now[0])
    limiter.take("ana")
    limiter.take("ana")
    with pytest.raises(RateLimitedError) as refused:
        limiter.take("ana")
    assert refused.value.retry_after_s == pytest.approx(10.0)  # 6 a minute: one per 10 s
    now[0] += 10
    limiter.take("ana")
    with pytest.raises(RateLimitedError):
        limiter.take("ana")
    now[0] += 3600  # a quiet hour refills to the burst, not beyond it
    limiter.take("ana")
    limiter.take("ana")
    with pytest.raises(RateLimitedError):
        limiter.take("ana")
    limiter.take("bo")  # untouched by ana's requests


# -- requests in flight ----------------------------------------------------------------------


def _hold_a_retrieve(url: str) -> socket.socket:
    """A /retrieve whose body is half sent: it holds its slot until the rest arrives."""
    host, port = url.removeprefix("http://").split(":")
    held = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST /retrieve HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEYS['ana']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    )
    held.sendall(head.encode() + BODY[:10])
    return held


def test_beyond_the_inflight_bound_retrieve_answers_503_at_once(server: Any) -> None:
    url = server(ApiSettings(max_inflight=1))
    held = _hold_a_retrieve(url)
    with httpx.Client(base_url=url, timeout=30) as http:
        # The held request takes the slot as soon as its headers are read; until then a
        # request may still pass, so ask until the bound shows.
        deadline = time.monotonic() + 10
        while True:
            started = time.monotonic()
            answer = http.post("/retrieve", content=BODY, headers=headers("bo"))
            if answer.status_code == 503 or time.monotonic() > deadline:
                break
            assert answer.status_code == 200, answer.text
        assert answer.status_code == 503, answer.text
        assert time.monotonic() - started < 5  # refused at once, not after waiting in line
        assert answer.headers["retry-after"] == "1"
        assert "STEWARD_API_MAX_INFLIGHT" in answer.json()["detail"]
        # The cheap routes are not bounded by it.
        assert http.get("/hygiene/stale", headers=headers("bo")).status_code == 200
        metrics = http.get("/metrics", headers=headers("bo")).text
        assert 'steward_requests_refused_total{reason="in_flight"} 1.0' in metrics
        held.sendall(BODY[10:])
        reply = held.recv(65536).decode("latin-1")
        held.close()
        assert reply.startswith("HTTP/1.1 200"), reply[:200]
        # The slot is free again once the held answer is sent.
        assert http.post("/retrieve", content=BODY, headers=headers("bo")).status_code == 200


def test_concurrent_clients_get_answers_or_503s_never_errors(server: Any) -> None:
    url = server(ApiSettings(max_inflight=2))
    held = _hold_a_retrieve(url)  # one slot taken for the whole burst: the bound must show

    def ask(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=30) as http:
            return http.post("/retrieve", content=BODY, headers=headers("bo"))

    try:
        time.sleep(0.2)
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(ask, range(64)))
    finally:
        held.close()
    codes = [answer.status_code for answer in answers]
    assert set(codes) <= {200, 503}, codes
    assert codes.count(200) >= 1
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 503)
    assert all(len(a.json()["results"]) > 0 for a in answers if a.status_code == 200)
