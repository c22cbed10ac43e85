"""Secrets stay out of logs and reprs: webhook URLs are redacted, API keys are SecretStr."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from evaluation.runs import post_webhook
from steward.outbound import OutboundPolicy
from steward.redact import redact_url


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


def test_a_failing_webhook_logs_its_url_without_credentials_or_tokens(
    serve_app, caplog: pytest.LogCaptureFixture
) -> None:
    hook = FastAPI()

    @hook.post("/hook")
    def refuse(request: Request) -> JSONResponse:
        return JSONResponse({"detail": "bad token"}, status_code=401)

    with serve_app(hook) as url:
        secret_url = url.replace("http://", "http://bob:s3cret@") + "/hook?token=abc123"
        with caplog.at_level(logging.WARNING, logger="evaluation.runs"):
            loopback = OutboundPolicy.of(allow_private=True)
            assert post_webhook(secret_url, {"event": "test"}, loopback) is False

    logged = caplog.text
    assert "webhook" in logged and "answered 401" in logged
    assert "/hook" in logged and "127.0.0.1" in logged
    for secret in ("s3cret", "abc123"):
        assert secret not in logged, logged


def test_settings_reprs_never_show_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from steward.settings import load_settings

    monkeypatch.setenv("STEWARD_HYGIENE_JUDGE_API_KEY", "sk-judge-secret")
    monkeypatch.setenv("STEWARD_EVAL_LLM_API_KEY", "sk-eval-secret")
    monkeypatch.setenv("STEWARD_INDEX_API_KEY", "qdrant-secret")
    settings = load_settings()
    shown = " ".join(
        repr(part) + str(part) for part in (settings.hygiene, settings.evaluation, settings.index)
    )
    for secret in ("sk-judge-secret", "sk-eval-secret", "qdrant-secret"):
        assert secret not in shown
    # ...while the value is still there for the client that sends it.
    assert settings.hygiene.judge.api_key.get_secret_value() == "sk-judge-secret"
    assert settings.index.api_key.get_secret_value() == "qdrant-secret"
