"""Dashboard sessions: a signed cookie naming who signed in, and a CSRF token.

The cookie holds `{"k": key digest or null, "c": csrf token, "e": expiry, "p": principal or
null}` in base64, then an HMAC-SHA256 of that text under the server's secret. It never holds
an API key or a token. A key's principal is looked up again on every request, so a revoked key
ends its sessions at once. A single-sign-on token cannot be looked up again (nothing keeps it),
so the cookie holds the principal the token proved, `{"n": name, "r": role, "g": groups}`, and
expires no later than the token did. A visitor who has not signed in (or a server without
access control) gets a session with neither, which carries the CSRF token of its forms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steward.access import Principal, Role

COOKIE = "steward_session"
SECRET_FILE = "dashboard-secret"
# Browsers drop a cookie larger than 4096 bytes, name and attributes included.
MAX_COOKIE_BYTES = 3800


@dataclass(frozen=True, slots=True)
class Session:
    key_digest: str | None  # the SHA-256 of the API key signed in with; None before sign-in
    csrf: str
    expires: int  # seconds since the epoch
    # The principal a single-sign-on token proved at sign-in; None for a key or nobody.
    principal: Principal | None = None

    @classmethod
    def fresh(cls, key_digest: str | None, lifetime_s: int) -> Session:
        """A new session with a new CSRF token (after sign-in, so no token outlives it)."""
        return cls(key_digest, secrets.token_urlsafe(32), int(time.time()) + lifetime_s)

    @classmethod
    def for_token(cls, principal: Principal, expires: int) -> Session:
        """A new session for the principal of a bearer token, ending at `expires`."""
        return cls(None, secrets.token_urlsafe(32), expires, principal)

    def accepts(self, token: str | None) -> bool:
        """Whether a form's token is this session's, compared in constant time."""
        return bool(token) and hmac.compare_digest(self.csrf.encode(), (token or "").encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Writes and reads session cookies under one secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("a session secret needs at least 32 bytes")
        self._secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest())

    def dump(self, session: Session) -> str:
        data: dict[str, Any] = {"k": session.key_digest, "c": session.csrf, "e": session.expires}
        if session.principal is not None:
            principal = session.principal
            data["p"] = {
                "n": principal.name,
                "r": principal.role.name.lower(),
                "g": sorted(principal.groups),
            }
        body = _b64(json.dumps(data, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def load(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie; None when it is missing, altered, malformed or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            data = json.loads(_unb64(body))
            named = data.get("p")
            principal = (
                None
                if named is None
                else Principal(str(named["n"]), Role.named(named["r"]), frozenset(named["g"]))
            )
            session = Session(data["k"], str(data["c"]), int(data["e"]), principal)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if session.expires <= (time.time() if now is None else now):
            return None
        return session


def home_secret(home: Path) -> bytes:
    """The secret kept in the home (readable by its owner only), made on first use."""
    path = home / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        # O_EXCL: two processes starting at once keep whichever secret was written first.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secret.hex())
    return secret
