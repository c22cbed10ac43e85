"""The dashboard behind single sign-on: a deployment with a JWKS and no API key at all.

The identity provider is a real HTTP server handing out its JWKS (tests/identity_provider.py);
the dashboard is a real server. A request may carry `Authorization: Bearer <jwt>` (as an auth
proxy such as oauth2-proxy adds to every request), or sign in once with the token through the
form, for a cookie that ends no later than the token.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from identity_provider import AUDIENCE, FORGER, ISSUER, KID, PRIVATE, JwksServer, jwks, token

from app.hygiene import scan_hygiene
from app.runtime import Runtime, open_runtime
from connectors.filesystem import FilesystemConnector
from dashboard.sessions import COOKIE, _unb64
from hygiene.records import HygieneRecords
from ingest.pipeline import document_id
from steward.settings import AccessSettings

OLGA = "olga@example.com"
PUBLIC = document_id("kb", "printer.md")
SECRET = document_id("kb", "merger-plan.md")


@pytest.fixture(scope="module")
def idp() -> Iterator[JwksServer]:
    with JwksServer(jwks(PRIVATE, KID)) as server:
        yield server


@pytest.fixture(scope="module")
def kb(
    tmp_path_factory: pytest.TempPathFactory,
    hash_embedder: Any,
    make_settings: Any,
    write: Any,
    idp: JwksServer,
) -> Iterator[Runtime]:
    root = tmp_path_factory.mktemp("dashboard-sso")
    write.markdown(
        root / "kb" / "printer.md",
        "# Printer\n\nThe office printer floor3-laser takes toner from the supply room.\n",
        owner=OLGA,
        review_by="2020-01-01",
    )
    write.markdown(
        root / "kb" / "merger-plan.md",
        "# Merger plan\n\nThe Falcon acquisition closes in March.\n",
        owner=OLGA,
        review_by="2020-01-01",
        acl=["secret-team"],
    )
    # Single sign-on alone: no API key is declared or stored. No clock-skew leeway, so a
    # token's end is its `exp` to the second.
    auth = AccessSettings(
        jwks_url=idp.url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_role_claim="steward_role",
        jwt_leeway_s=0,
        # This module sends a dozen bad tokens from one address on purpose; the throttle of
        # failures is tests/test_auth_failures.py's subject.
        max_failures=0,
    )
    live = open_runtime(make_settings(root, auth=auth), embedder=hash_embedder)
    assert live.pipeline.run(FilesystemConnector(root / "kb", "kb")).status == "ok"
    scan_hygiene(live)
    yield live
    live.close()


def browser(base_url: str, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=60, follow_redirects=False, headers=headers)


def bearer(jwt: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt}"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def queue_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-doc="([0-9a-f]+)"', html)


def sign_in(client: httpx.Client, presented: str) -> httpx.Response:
    csrf = csrf_of(client.get("/sign-in").text)
    return client.post("/sign-in", data={"csrf": csrf, "key": presented, "next": "/queue"})


def test_with_single_sign_on_alone_the_dashboard_still_asks_who_is_visiting(
    base_url: str,
) -> None:
    # Without an API key the dashboard took access control for off: every visitor was the
    # local admin, reading the restricted page, while the API asked for a token.
    with browser(base_url) as client:
        answer = client.get("/queue")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/sign-in?next=/queue"
        assert client.get(f"/document/{SECRET}").status_code == 303
        page = client.get("/sign-in")
        assert page.status_code == 200 and "local admin" not in page.text
        assert "token" in page.text


def test_a_proxys_bearer_token_signs_each_request_in_without_a_cookie(base_url: str) -> None:
    staff = bearer(token(OLGA, "owner", ["staff"]))
    with browser(base_url, **staff) as client:
        page = client.get("/queue")
        assert page.status_code == 200, page.text
        assert OLGA in page.text
        # Her groups, from the token, decide what she reads: not the restricted page.
        assert queue_ids(page.text) == [PUBLIC]
        assert client.get(f"/document/{SECRET}").status_code == 404
        assert client.get(f"/document/{PUBLIC}").status_code == 200
        # The cookie the dashboard sets holds a CSRF token, not the principal.
        body = client.cookies[COOKIE].split(".")[0]
        assert json.loads(_unb64(body)).get("p") is None
    # The same visitor without the header is nobody.
    with browser(base_url) as client:
        assert client.get("/queue").status_code == 303
    # Another token, of the restricted group, reads the restricted page.
    with browser(base_url, **bearer(token(OLGA, "owner", ["secret-team"]))) as client:
        assert sorted(queue_ids(client.get("/queue").text)) == sorted([PUBLIC, SECRET])


def test_a_bearer_visitor_acts_with_the_forms_token_and_is_audited_by_the_tokens_name(
    base_url: str, kb: Runtime
) -> None:
    with browser(base_url, **bearer(token(OLGA, "owner", ["staff"]))) as client:
        page = client.get("/queue").text
        # The proxy adds the header to a forged cross-site post too: the form's token still
        # decides.
        assert client.post(f"/queue/{PUBLIC}/verify", data={}).status_code == 403
        answer = client.post(f"/queue/{PUBLIC}/verify", data={"csrf": csrf_of(page)})
        assert answer.status_code == 303, answer.text
    entry = HygieneRecords(kb.database).audit(1)[0]
    assert (entry["actor"], entry["action"], entry["subject"]) == (OLGA, "verify", PUBLIC)
    # A reader's token may look, not act.
    with browser(base_url, **bearer(token("rita@example.com", groups=["staff"]))) as client:
        page = client.get(f"/document/{PUBLIC}").text
        answer = client.post(f"/queue/{PUBLIC}/deprecate", data={"csrf": csrf_of(page)})
        assert answer.status_code == 403


def test_a_refused_bearer_token_gets_the_sign_in_page_with_the_reason_never_the_token(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    cases = {
        token(OLGA, "owner", expires_in=-60): "has expired",
        token(OLGA, "owner", key=FORGER): "signature does not verify",
        token(OLGA, "owner", aud="another-service"): "not meant for this service",
        "not-a-token": "invalid bearer token",
    }
    caplog.set_level(logging.DEBUG)
    for presented, reason in cases.items():
        with browser(base_url, **bearer(presented)) as client:
            for path in ["/queue", f"/document/{PUBLIC}", "/sign-in"]:
                answer = client.get(path)
                assert answer.status_code == 401, (reason, path, answer.text)
                assert reason in answer.text and 'type="password"' in answer.text
                assert presented not in answer.text
                assert presented not in str(answer.headers)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused the Authorization header" in logged
    assert all(presented not in logged for presented in cases)


def test_the_sign_in_form_takes_a_token_for_a_session_that_ends_with_it(base_url: str) -> None:
    jwt = token(OLGA, "owner", ["secret-team"], expires_in=4)
    with browser(base_url) as client:
        answer = sign_in(client, jwt)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/queue"
        cookie = answer.headers["set-cookie"]
        # Not the configured hours: the token's remaining life.
        max_age = re.search(r"max-age=(\d+)", cookie, re.IGNORECASE)
        assert max_age is not None and 1 <= int(max_age.group(1)) <= 4
        assert jwt not in cookie
        body = json.loads(_unb64(client.cookies[COOKIE].split(".")[0]))
        assert body["k"] is None and body["p"]["n"] == OLGA
        assert body["e"] <= int(time.time()) + 4
        page = client.get("/queue")
        assert page.status_code == 200 and OLGA in page.text
        assert SECRET in queue_ids(page.text)
        # The session is over when the token is, even for a client that keeps the cookie.
        time.sleep(max(0.0, body["e"] - time.time()) + 1.1)
        client.cookies.set(COOKIE, client.cookies[COOKIE])
        assert client.get("/queue").status_code == 303


def test_the_sign_in_form_refuses_a_bad_token_with_the_reason(
    base_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cases = {
        token(OLGA, "owner", expires_in=-5): "has expired",
        token(OLGA, "owner", iss="https://elsewhere.example.com"): "issuer is not accepted",
        token(OLGA, "owner", kid="unknown-kid"): "signed by a key this service lacks",
    }
    with browser(base_url) as client:
        for presented, reason in cases.items():
            answer = sign_in(client, presented)
            assert answer.status_code == 401, answer.text
            assert reason in answer.text and presented not in answer.text
        assert json.loads(_unb64(client.cookies[COOKIE].split(".")[0])).get("p") is None
        assert client.get("/queue").status_code == 303
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert all(presented not in logged for presented in cases)


def test_a_token_too_large_for_a_cookie_is_refused_at_sign_in_not_half_kept(
    base_url: str,
) -> None:
    # Browsers drop a cookie over 4 KB without a word: the visitor would seem signed in, then
    # not. Through the proxy's header the same token works.
    groups = [f"team-{n:04d}" for n in range(400)]
    jwt = token(OLGA, "owner", groups)
    with browser(base_url) as client:
        answer = sign_in(client, jwt)
        assert answer.status_code == 401
        assert "too many groups to keep in a session cookie" in answer.text
        assert client.get("/queue").status_code == 303
    with browser(base_url, **bearer(jwt)) as client:
        assert client.get("/queue").status_code == 200
