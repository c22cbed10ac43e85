"""The outbound policy: which URLs Steward may send requests to, and its settings."""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from steward.errors import ConfigError, OutboundError
from steward.outbound import OutboundPolicy
from steward.settings import OutboundSettings, load_settings

STRICT = OutboundPolicy()
PUBLIC = "93.184.215.14"  # a global unicast address; literals need no DNS


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/admin", "loopback"),
        ("http://127.8.9.10/", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
        ("http://[::ffff:7f00:1]/", "loopback"),  # the same, written in hex
        ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64 to 127.0.0.1
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 around 127.0.0.1
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://[fe80::1]/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[ff02::1]/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://100.64.0.1/", "reserved"),  # carrier-grade NAT
        ("http://240.0.0.1/", "reserved"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
    ],
)
def test_addresses_that_are_not_public_are_refused(url: str, kind: str) -> None:
    with pytest.raises(OutboundError) as refused:
        STRICT.check(url)
    assert f"a {kind} address" in refused.value.reason
    assert url in str(refused.value) and "STEWARD_OUTBOUND_ALLOW_HOSTS" in str(refused.value)


def test_a_public_address_is_allowed_on_the_allowed_ports_only() -> None:
    STRICT.check(f"https://{PUBLIC}/page")
    STRICT.check(f"http://{PUBLIC}:80/page")
    with pytest.raises(OutboundError, match="port 6379 is not allowed"):
        STRICT.check(f"http://{PUBLIC}:6379/")
    OutboundPolicy.of(ports=[443, 8443]).check(f"https://{PUBLIC}:8443/")
    OutboundPolicy.of([f"{PUBLIC}:6379"]).check(f"http://{PUBLIC}:6379/")


def test_the_operator_allows_a_host_by_name_or_by_host_and_port() -> None:
    OutboundPolicy.of(["LocalHost"]).check("http://localhost:11434/v1")
    by_port = OutboundPolicy.of(["127.0.0.1:11434", "[::1]:8080"])
    by_port.check("http://127.0.0.1:11434/v1")
    by_port.check("http://[::1]:8080/")
    with pytest.raises(OutboundError, match="loopback"):
        by_port.check("http://127.0.0.1:11435/v1")  # another port of the same host
    with pytest.raises(OutboundError, match="loopback"):
        by_port.check("http://[::1]:8081/")


def test_allowing_private_addresses_leaves_link_local_and_the_rest_refused() -> None:
    private = OutboundPolicy.of(allow_private=True)
    for url in ("http://127.0.0.1:9000/", "http://10.0.0.7:8080/", "http://[fd00::1]:81/"):
        private.check(url)
    for url in ("http://169.254.169.254/", "http://0.0.0.0/", "http://224.0.0.1/"):
        with pytest.raises(OutboundError):
            private.check(url)
    OutboundPolicy.of(["169.254.169.254"], allow_private=True).check("http://169.254.169.254/")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://example.com/", "scheme 'gopher' is not allowed"),
        ("/relative/path", r"scheme '\(none\)' is not allowed"),
        ("http:///nohost", "names no host"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_a_url_that_is_not_one_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(OutboundError, match=reason):
        STRICT.check(url)


def test_an_unresolvable_host_is_marked_as_a_network_failure() -> None:
    with pytest.raises(OutboundError) as refused:
        STRICT.check("http://no-such-host.invalid/")
    assert refused.value.unresolved
    with pytest.raises(OutboundError) as refused:
        STRICT.check("http://127.0.0.1/")
    assert not refused.value.unresolved


def test_the_refusal_names_the_url_without_its_secrets() -> None:
    with pytest.raises(OutboundError) as refused:
        STRICT.check("http://bob:s3cret@127.0.0.1/hook?token=abc123")
    shown = str(refused.value)
    assert "127.0.0.1/hook" in shown and "bob" in shown
    assert "s3cret" not in shown and "abc123" not in shown


def test_outbound_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().outbound.policy() == OutboundPolicy()
    monkeypatch.setenv("STEWARD_OUTBOUND_ALLOW_HOSTS", '["127.0.0.1:11434", "Wiki.Internal"]')
    monkeypatch.setenv("STEWARD_OUTBOUND_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("STEWARD_OUTBOUND_PORTS", "[443]")
    policy = load_settings().outbound.policy()
    assert policy.allow_hosts == {"127.0.0.1:11434", "wiki.internal"}
    assert policy.allow_private and policy.ports == {443}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STEWARD_OUTBOUND_ALLOW_HOSTS", '["http://evil.example/"]'),
        ("STEWARD_OUTBOUND_ALLOW_HOSTS", '["user@host"]'),
        ("STEWARD_OUTBOUND_PORTS", "[0]"),
        ("STEWARD_OUTBOUND_ALLOW_PRIVATE", "maybe"),
    ],
)
def test_a_bad_outbound_setting_fails_at_start_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_settings_default_to_public_addresses_only() -> None:
    assert OutboundSettings().policy() == STRICT


# -- the webhook and the judges, against real local servers ----------------------------------


def _recording_app(seen: list[str], redirect_to: str | None = None) -> Any:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    def anything(path: str, request: Request) -> Any:
        seen.append(f"{request.method} /{path}")
        if redirect_to is not None:
            return RedirectResponse(redirect_to, status_code=307)
        return JSONResponse({"ok": True})

    return app


def test_a_webhook_to_a_local_address_is_not_sent_without_consent(
    serve_app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from steward.webhooks import Endpoint, Webhooks

    seen: list[str] = []
    with serve_app(_recording_app(seen)) as url:
        endpoint = Endpoint(f"{url}/hook?token=abc123")
        strict = Webhooks([endpoint])
        with caplog.at_level(logging.WARNING, logger="steward.webhooks"):
            assert strict.deliver(endpoint, "steward.test", "d-1", b"{}") is False
        strict.close()
        assert seen == []
        assert "loopback" in caplog.text and url.removeprefix("http://") in caplog.text
        assert "abc123" not in caplog.text
        allowed = Webhooks([endpoint], outbound=OutboundPolicy.of(allow_private=True))
        assert allowed.deliver(endpoint, "steward.test", "d-2", b"{}") is True
        allowed.close()
    assert seen == ["POST /hook"]


def test_a_webhook_that_redirects_is_not_followed(serve_app: Any) -> None:
    from steward.webhooks import Endpoint, Webhooks

    inner: list[str] = []
    outer: list[str] = []
    with (
        serve_app(_recording_app(inner)) as admin,
        serve_app(_recording_app(outer, redirect_to=f"{admin}/admin")) as hook,
    ):
        endpoint = Endpoint(f"{hook}/hook")
        hooks = Webhooks([endpoint], outbound=OutboundPolicy.of([hook.removeprefix("http://")]))
        assert hooks.deliver(endpoint, "steward.test", "d-1", b"{}") is False
        hooks.close()
    assert outer == ["POST /hook"] and inner == []


def test_an_llm_judge_at_a_local_address_needs_consent() -> None:
    from hygiene.judge import LlmJudge

    with pytest.raises(OutboundError, match="loopback"):
        LlmJudge("http://127.0.0.1:11434/v1", "llama3")
    LlmJudge(
        "http://127.0.0.1:11434/v1", "llama3", outbound=OutboundPolicy.of(["127.0.0.1:11434"])
    ).close()


def test_a_request_goes_to_the_address_checked_not_to_a_second_resolution(
    serve_app: Any,
) -> None:
    """DNS rebinding: the name is resolved once, by the check, and the connection goes there.

    `rebind.invalid` resolves only through the policy's resolver (to the loopback server, which
    the policy allows): a client resolving the name again would find nothing.
    """
    import httpx

    from steward.outbound import PinnedTransport

    seen: list[str] = []
    with serve_app(_recording_app(seen)) as url:
        port = httpx.URL(url).port
        assert port is not None
        asked: list[str] = []

        def resolve(host: str, _port: int) -> list[Any]:
            asked.append(host)
            return [ipaddress.ip_address("127.0.0.1")]

        policy = OutboundPolicy(allow_private=True, ports=frozenset({port}), resolve=resolve)
        with httpx.Client(transport=PinnedTransport(policy)) as client:
            answer = client.get(f"http://rebind.invalid:{port}/page")
        assert answer.status_code == 200 and seen == ["GET /page"]
        assert asked == ["rebind.invalid"]
        # Without the pin, the client's own resolution fails.
        with httpx.Client() as plain, pytest.raises(httpx.ConnectError):
            plain.get(f"http://rebind.invalid:{port}/page")
        # A second resolution answering a refused address is refused, and nothing is sent.
        rebinding = OutboundPolicy(
            ports=frozenset({port}),
            resolve=lambda _h, _p: [ipaddress.ip_address("169.254.169.254")],
        )
        with (
            httpx.Client(transport=PinnedTransport(rebinding)) as client,
            pytest.raises(OutboundError, match="link-local"),
        ):
            client.get(f"http://rebind.invalid:{port}/page")
    assert seen == ["GET /page"]
