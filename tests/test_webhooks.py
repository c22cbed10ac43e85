"""Outgoing webhooks against a real local receiver: signed, retried with bounded backoff, sent
off the caller's thread, and raised by syncs, scans and evaluation runs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time
from pathlib import Path

import pytest

from app.runtime import open_runtime
from app.sync import sync_source
from steward.outbound import OutboundPolicy
from steward.settings import WebhookSettings
from steward.webhooks import (
    NEW_CONFLICTS,
    SYNC_FAILED,
    SYNC_FINISHED,
    Endpoint,
    Webhooks,
    sign,
)

SECRET = "whsec-test-0123456789abcdef"
LOOPBACK = OutboundPolicy.of(allow_private=True)
SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sample-kb"


def hooks_to(url: str, attempts: int = 4, backoff_s: float = 0.01) -> Webhooks:
    return Webhooks([Endpoint(url)], SECRET, LOOPBACK, attempts, backoff_s, 1.0, 5.0)


def verified(headers: dict[str, str], body: bytes, secret: str = SECRET) -> dict:
    """What a receiver does (the README's recipe): recompute the HMAC, compare, read the body."""
    timestamp = headers["x-steward-timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(headers["x-steward-signature"], f"sha256={expected.hexdigest()}")
    return json.loads(body)


def test_an_event_is_signed_over_its_timestamp_and_body(receiver) -> None:
    hooks = hooks_to(receiver.url)
    before = int(time.time())
    assert hooks.send(SYNC_FINISHED, {"source": "kb", "new": 3}) == 1
    [(headers, body)] = receiver.wait_for(1)
    hooks.close()

    sent = verified(headers, body)
    assert (sent["event"], sent["data"]) == (SYNC_FINISHED, {"source": "kb", "new": 3})
    assert headers["x-steward-event"] == SYNC_FINISHED
    assert headers["x-steward-delivery"] == sent["id"]
    assert headers["content-type"] == "application/json"
    assert before <= int(headers["x-steward-timestamp"]) <= int(time.time())
    # Another secret, or the same body under another timestamp, does not verify.
    with pytest.raises(AssertionError):
        verified(headers, body, secret="another-secret-0123456789")
    replayed = {**headers, "x-steward-timestamp": str(int(headers["x-steward-timestamp"]) + 60)}
    with pytest.raises(AssertionError):
        verified(replayed, body)
    assert sign(SECRET, 1, b"{}") == (
        "sha256=" + hmac.new(SECRET.encode(), b"1.{}", hashlib.sha256).hexdigest()
    )


def test_5xx_and_429_are_retried_with_the_same_delivery_id_then_delivered(receiver) -> None:
    receiver.statuses = [503, 500, 429]
    hooks = hooks_to(receiver.url, attempts=4)
    assert hooks.deliver(hooks.endpoints[0], SYNC_FAILED, "delivery-1", b'{"n":1}') is True
    hooks.close()
    assert len(receiver.received) == 4
    assert {h["x-steward-delivery"] for h, _ in receiver.received} == {"delivery-1"}
    for headers, body in receiver.received:
        verified(headers, body)  # each try is signed with its own timestamp


def test_retries_are_bounded_and_a_4xx_is_not_retried(receiver, caplog) -> None:
    receiver.statuses = [500] * 10
    hooks = hooks_to(receiver.url, attempts=3)
    with caplog.at_level(logging.WARNING, logger="steward.webhooks"):
        assert hooks.deliver(hooks.endpoints[0], SYNC_FAILED, "d-1", b"{}") is False
    assert len(receiver.received) == 3
    assert "failed after 3 tries: answered 500" in caplog.text

    receiver.statuses = [400]
    assert hooks.deliver(hooks.endpoints[0], SYNC_FAILED, "d-2", b"{}") is False
    hooks.close()
    assert len(receiver.received) == 4  # one more try, not three


def test_network_errors_are_retried_with_a_doubling_wait(caplog) -> None:
    with socket.socket() as unused:  # a port nobody listens on once closed
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    hooks = hooks_to(f"http://127.0.0.1:{port}/hook", attempts=3, backoff_s=0.2)
    started = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="steward.webhooks"):
        assert hooks.deliver(hooks.endpoints[0], SYNC_FAILED, "d-1", b"{}") is False
    took = time.perf_counter() - started
    hooks.close()
    assert 0.6 <= took < 5, took  # waits of 0.2 s then 0.4 s between the three tries
    assert "next try in 0.2 s" in caplog.text and "next try in 0.4 s" in caplog.text
    assert "failed after 3 tries: ConnectError" in caplog.text


def test_send_does_not_wait_for_a_slow_receiver(receiver) -> None:
    receiver.delay_s = 1.5
    hooks = hooks_to(receiver.url)
    started = time.perf_counter()
    assert hooks.send(SYNC_FINISHED, {"source": "kb"}) == 1
    assert time.perf_counter() - started < 0.1
    assert receiver.received == []
    receiver.wait_for(1)
    hooks.close()


def test_events_go_only_to_receivers_that_take_them(receiver) -> None:
    hooks = Webhooks([Endpoint(receiver.url, frozenset({SYNC_FAILED}))], SECRET, LOOPBACK)
    assert hooks.send(SYNC_FINISHED, {}) == 0
    assert hooks.send(SYNC_FAILED, {"source": "kb"}) == 1
    receiver.wait_for(1)
    hooks.close()
    assert receiver.events() == [SYNC_FAILED]


def test_a_placeholder_secret_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="16 random characters"):
        WebhookSettings(url="https://hooks.example.com/x", secret="changeme")
    with pytest.raises(ValidationError, match="http"):
        WebhookSettings(url="ftp://hooks.example.com/x")


@pytest.mark.slow
def test_a_sync_sends_new_conflicts_then_finished_and_a_broken_one_sends_failed(
    receiver, embedder, make_settings, tmp_path: Path
) -> None:
    (tmp_path / "steward.yaml").write_text(
        "sources:\n"
        f"  handbook:\n    connector: filesystem\n    path: {SAMPLE}\n"
        f"  gone:\n    connector: filesystem\n    path: {tmp_path / 'missing'}\n",
        encoding="utf-8",
    )
    settings = make_settings(
        tmp_path,
        webhook={"url": receiver.url, "secret": SECRET, "backoff_s": 0.01},
        outbound={"allow_private": True},
    )
    runtime = open_runtime(settings, embedder=embedder)
    try:
        summary = sync_source(runtime, "handbook")
        assert summary["status"] == "ok" and summary["hygiene"]["unresolved_conflicts"] > 0
        receiver.wait_for(2)
        assert receiver.events() == [NEW_CONFLICTS, SYNC_FINISHED]
        conflicts = verified(*receiver.received[0])["data"]
        assert conflicts["count"] == summary["hygiene"]["unresolved_conflicts"]
        assert conflicts["conflicts"][0]["a"]["value"] != conflicts["conflicts"][0]["b"]["value"]
        finished = verified(*receiver.received[1])["data"]
        assert (finished["source"], finished["status"]) == ("handbook", "ok")
        assert finished["new"] == summary["new"] > 40
        assert isinstance(finished["skipped"], int)

        # Nothing changed: the sync is reported, no conflict is new.
        sync_source(runtime, "handbook")
        assert sync_source(runtime, "gone")["status"] == "failed"
        receiver.wait_for(4)
        assert receiver.events()[2:] == [SYNC_FINISHED, SYNC_FAILED]
        failed = verified(*receiver.received[3])["data"]
        assert failed["source"] == "gone" and "not a readable folder" in failed["error"]
    finally:
        runtime.close()
