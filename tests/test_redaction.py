"""Secrets stay out of logs and reprs: webhook URLs are redacted, API keys are SecretStr."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from evaluation.runs import post_webhook
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
            assert post_webhook(secret_url, {"event": "test"}) is False

    logged = caplog.text
    assert "webhook" in logged and "answered 401" in logged
    assert "/hook" in logged and "127.0.0.1" in logged
    for secret in ("s3cret", "abc123"):
        assert secret not in logged, logged

