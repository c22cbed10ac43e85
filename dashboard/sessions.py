"""Dashboard sessions: a signed cookie naming the API key signed in with, and a CSRF token.

The cookie holds `{"k": key digest or null, "c": csrf token, "e": expiry}` in base64, then an
HMAC-SHA256 of that text under the server's secret. It never holds the key itself; the key's
principal is looked up again on every request, so a revoked key ends its sessions at once.
A visitor who has not signed in (or a server without access control) gets a session without
a key, which carries the CSRF token of its forms.
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

COOKIE = "steward_session"
SECRET_FILE = "dashboard-secret"


@dataclass(frozen=True, slots=True)
class Session:
    key_digest: str | None  # the SHA-256 of the API key signed in with; None before sign-in
    csrf: str
    expires: int  # seconds since the epoch

    @classmethod
    def fresh(cls, key_digest: str | None, lifetime_s: int) -> Session:
        """A new session with a new CSRF token (after sign-in, so no token outlives it)."""
        return cls(key_digest, secrets.token_urlsafe(32), int(time.time()) + lifetime_s)

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
        body = _b64(
            json.dumps(
                {"k": session.key_digest, "c": session.csrf, "e": session.expires},
                separators=(",", ":"),
            ).encode()
        )
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
            session = Session(data["k"], str(data["c"]), int(data["e"]))
        except (ValueError, KeyError, TypeError):
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
