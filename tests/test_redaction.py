"""Secrets stay out of logs and reprs: webhooks log their host alone, API keys are SecretStr."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from steward.outbound import OutboundPolicy
from steward.redact import redact_url
from steward.webhooks import Endpoint, Webhooks


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://bob:s3cret@hooks.example.com/x?token=abc&ch=7",
            "https://bob:***@hooks.example.com/x?token=%2A%2A%2A&ch=%2A%2A%2A",
        ),
        ("https://tok123@hooks.example.com/x", "https://***@hooks.example.com/x"),
        ("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
    ],
)
def test_a_url_keeps_its_host_and_path_and_loses_its_secrets(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_a_failing_webhook_logs_its_host_alone_never_its_credentials_path_or_secret(
    serve_app, caplog: pytest.LogCaptureFixture
) -> None:
    hook = FastAPI()

    @hook.post("/hook")
    def refuse(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "bad token"}, status_code=401)

    with serve_app(hook) as url:
        secret_url = url.replace("http://", "http://bob:s3cret@") + "/hook?token=abc123"
        endpoint = Endpoint(secret_url)
        hooks = Webhooks(
            [endpoint], "signing-key-0123456789", OutboundPolicy.of(allow_private=True)
        )
        with caplog.at_level(logging.INFO, logger="steward.webhooks"):
            assert hooks.deliver(endpoint, "steward.test", "d-1", b"{}") is False
        hooks.close()

    logged = caplog.text
    assert "webhook" in logged and "answered 401" in logged
    assert url.removeprefix("http://") in logged  # the host and port say which receiver
    for secret in ("s3cret", "abc123", "/hook", "bob", "signing-key-0123456789"):
        assert secret not in logged, logged
    assert "signing-key" not in repr(hooks) and "abc123" not in repr(endpoint)


def test_settings_reprs_never_show_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from steward.settings import load_settings

    monkeypatch.setenv("STEWARD_HYGIENE_JUDGE_API_KEY", "sk-judge-secret")
    monkeypatch.setenv("STEWARD_EVAL_LLM_API_KEY", "sk-eval-secret")
    monkeypatch.setenv("STEWARD_INDEX_API_KEY", "qdrant-secret")
    monkeypatch.setenv("STEWARD_WEBHOOK_SECRET", "whsec-0123456789abcdef")
    monkeypatch.setenv("STEWARD_WEBHOOK_URL", "https://hooks.example.com/x?token=hook-token")
    settings = load_settings()
    shown = " ".join(
        repr(part) + str(part)
        for part in (settings.hygiene, settings.evaluation, settings.index, settings.webhook)
    )
    for secret in ("sk-judge-secret", "sk-eval-secret", "qdrant-secret", "whsec-0", "hook-token"):
        assert secret not in shown
    # ...while the value is still there for the client that sends it.
    assert settings.hygiene.judge.api_key.get_secret_value() == "sk-judge-secret"
    assert settings.index.api_key.get_secret_value() == "qdrant-secret"
