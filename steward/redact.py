"""Secrets masked: in URLs for logs and error messages, in configurations before they are stored."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"


def redact_url(url: str) -> str:
    """`url` with a password and every query value masked; the host and path stay readable."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
        query = urlencode(
            [(key, MASK) for key, _ in parse_qsl(parts.query, keep_blank_values=True)]
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return MASK  # not a URL we can take apart: show none of it


# A mapping key whose value is a secret; a key ending in _env or _file names where one is kept,
# which is what configurations should hold, and stays readable.
_SECRET_KEY = re.compile(
    r"(^|[_-])(password|passwd|pwd|secret|token|api[_-]?key|apikey|credentials?|"
    r"private[_-]?key|access[_-]?key)([_-]|$)",
    re.IGNORECASE,
)
_REFERENCE_KEY = re.compile(r"[_-](env|file)$", re.IGNORECASE)
# A whole value that is a URL; a URL inside other text (an SQL query) is left as written.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S*$")


def secret_key(key: str) -> bool:
    """Whether a configuration key names a secret value (not a reference to one)."""
    return bool(_SECRET_KEY.search(key)) and not _REFERENCE_KEY.search(key)


def redact_dsn(url: str) -> str:
    """`url` with its password and secret-looking query values masked; user and host stay."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user, has_password, _ = userinfo.partition(":")
            netloc = f"{user}:{MASK}@{host}" if has_password else netloc
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = urlencode([(key, MASK if secret_key(key) else value) for key, value in pairs])
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return MASK


def redact_secrets(value: Any) -> Any:
    """A copy of a JSON-like configuration with every secret-looking value masked.

    Values under a secret key (password, token, api_key, ...) and the passwords inside URLs;
    references to secrets (`password_env`, `url_file`) stay, so the stored copy still says
    where the secret comes from.
    """
    if isinstance(value, dict):
        return {
            key: MASK
            if isinstance(key, str) and secret_key(key) and value[key] not in (None, "")
            else redact_secrets(value[key])
            for key in value
        }
    if isinstance(value, list | tuple):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str) and _URL.match(value):
        return redact_dsn(value)
    return value
