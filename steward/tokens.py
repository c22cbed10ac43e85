"""Bearer JWTs from single sign-on, verified against a JWKS (a file, or a URL fetched and cached).

Only asymmetric signatures are accepted, and only with a key of the matching type from the
JWKS: `none`, HS* (a public key used as an HMAC secret) and a token's own embedded key never
verify. A refusal says which check failed, never the expected values or the token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt

from steward.access import Principal, Role
from steward.errors import KeySetError, UnauthenticatedError

log = logging.getLogger(__name__)

# Signature algorithm family → the JWK key type it needs.
ALGORITHMS: dict[str, str] = {
    "RS256": "RSA",
    "RS384": "RSA",
    "RS512": "RSA",
    "PS256": "RSA",
    "PS384": "RSA",
    "PS512": "RSA",
    "ES256": "EC",
    "ES384": "EC",
    "ES512": "EC",
    "EdDSA": "OKP",
}
# A JWKS is a few keys; a larger answer is not one (and is not read into memory whole).
MAX_JWKS_BYTES = 1024 * 1024
# A group list in a token longer than this is cut: groups only narrow what is read.
MAX_GROUPS = 1000


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One usable key of a JWKS: its id, type, declared algorithm, and the key itself."""

    kid: str | None
    kty: str
    alg: str | None
    key: Any


def parse_jwks(data: object, where: str) -> list[SigningKey]:
    """The signature keys of a JWKS document; ValueError naming `where` when it is not one.

    Keys for encryption (`use: enc`) and symmetric ones (`kty: oct`) are left out: a shared
    secret in a published key set is a configuration mistake, never a way to verify.
    """
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{where}: not a JWKS (expected an object with a `keys` list)")
    keys: list[SigningKey] = []
    for entry in data["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kty = entry.get("kty")
        if kty not in set(ALGORITHMS.values()):
            continue
        try:
            parsed = jwt.PyJWK(entry)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, KeyError) as error:
            raise ValueError(f"{where}: key {entry.get('kid')!r}: {error}") from None
        alg = entry.get("alg")
        keys.append(
            SigningKey(entry.get("kid"), kty, alg if isinstance(alg, str) else None, parsed.key)
        )
    if not keys:
        raise ValueError(f"{where}: no asymmetric signature key (RSA, EC or OKP)")
    return keys


class KeySet(Protocol):
    """Where the signing keys come from."""

    def key_for(self, kid: str | None) -> SigningKey | None:
        """The key a token names by `kid` (None: the only key, when there is one)."""
        ...


def _select(keys: Sequence[SigningKey], kid: str | None) -> SigningKey | None:
    if kid is None:
        return keys[0] if len(keys) == 1 else None
    return next((key for key in keys if key.kid == kid), None)


class FileKeySet:
    """A JWKS read once from a file, at start."""

    def __init__(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ValueError(f"cannot read {path}: {error.strerror}") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not JSON: {error.msg}") from None
        self._keys = parse_jwks(data, str(path))

    def key_for(self, kid: str | None) -> SigningKey | None:
        return _select(self._keys, kid)


class UrlKeySet:
    """A JWKS fetched from the identity provider, kept `cache_s` seconds.

    A token naming a key not in the cached set (the provider rotated its keys) fetches it again,
    at most once every `refetch_s` seconds, so made-up `kid`s cannot turn callers into a flood.
    """

    def __init__(
        self, url: str, cache_s: float = 300, refetch_s: float = 30, timeout_s: float = 5
    ) -> None:
        self._url = url
        self._cache_s = cache_s
        self._refetch_s = refetch_s
        self._timeout_s = timeout_s
        self._keys: list[SigningKey] = []
        self._fetched = -float("inf")  # the last fetch that worked
        self._attempted = -float("inf")  # the last try, which may have failed
        self._failure: KeySetError | None = None
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        try:
            with httpx.stream("GET", self._url, timeout=self._timeout_s) as answer:
                answer.raise_for_status()
                body = b""
                for chunk in answer.iter_bytes():
                    body += chunk
                    if len(body) > MAX_JWKS_BYTES:
                        raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
            keys = parse_jwks(json.loads(body), "the JWKS")
        except (httpx.HTTPError, ValueError) as error:
            # The URL is the operator's; the reason is kept short and says no more than that.
            reason = type(error).__name__ if isinstance(error, httpx.HTTPError) else str(error)
            raise KeySetError(
                f"the signing keys (STEWARD_AUTH_JWKS_URL) cannot be fetched: {reason}"
            ) from None
        self._keys = keys
        self._fetched = time.monotonic()

    def key_for(self, kid: str | None) -> SigningKey | None:
        with self._lock:
            if time.monotonic() - self._fetched > self._cache_s:
                self._refresh()
            found = _select(self._keys, kid)
            if found is None:
                self._refresh()
                found = _select(self._keys, kid)
            return found

    def _refresh(self) -> None:
        """Fetch the set again, at most once every `refetch_s` seconds.

        While the provider is down, the keys already held still serve, so its outage does not
        log everyone out at once; with none held, the caller is told to retry (KeySetError).
        """
        now = time.monotonic()
        if now - self._attempted <= self._refetch_s:
            if not self._keys and self._failure is not None:
                raise KeySetError(str(self._failure))
            return
        self._attempted = now
        try:
            self._fetch()
        except KeySetError as error:
            self._failure = error
            if not self._keys:
                raise
            log.warning("keeping the JWKS fetched before: %s", error)


@dataclass(frozen=True, slots=True)
class TokenRules:
    """What a token must carry and how its claims become a principal."""

    issuer: str
    audience: str
    name_claim: str = "sub"
    groups_claim: str = "groups"
    # Unset: every token holder is a reader. Set: the claim's value(s), through `roles`.
    role_claim: str | None = None
    # A claim value → a role name; empty: the values `reader`, `app`, `owner`, `admin` count.
    roles: Mapping[str, str] = field(default_factory=dict)
    leeway_s: float = 30


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by its dotted path (`realm_access.roles`); None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _strings(value: Any) -> list[str]:
    """A claim as a list of strings: a list keeps its strings, a string splits on spaces."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


# Each refusal names the failed check, not what was expected (an issuer, an audience).
_REFUSALS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the bearer token has expired"),
    (jwt.ImmatureSignatureError, "the bearer token is not valid yet"),
    (jwt.InvalidAudienceError, "the bearer token is not meant for this service (audience)"),
    (jwt.InvalidIssuerError, "the bearer token's issuer is not accepted"),
    (jwt.InvalidSignatureError, "the bearer token's signature does not verify"),
]


class TokenVerifier:
    """Turns a bearer JWT into a principal, or refuses it with UnauthenticatedError."""

    def __init__(self, keys: KeySet, rules: TokenRules) -> None:
        self._keys = keys
        self._rules = rules

    def verify(self, token: str) -> Principal:
        return self.verify_expiring(token)[0]

    def verify_expiring(self, token: str) -> tuple[Principal, int]:
        """The principal of a token and its `exp` (seconds since the epoch), for a session that
        must end no later than the token does."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise UnauthenticatedError("the bearer token is not a well-formed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALGORITHMS:
            raise UnauthenticatedError(
                "the bearer token's algorithm is not accepted (an asymmetric one is required)"
            )
        kid = header.get("kid")
        key = self._keys.key_for(kid if isinstance(kid, str) else None)
        if key is None:
            raise UnauthenticatedError("the bearer token is signed by a key this service lacks")
        if key.kty != ALGORITHMS[alg] or (key.alg is not None and key.alg != alg):
            raise UnauthenticatedError("the bearer token's algorithm does not match its key")
        rules = self._rules
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=rules.audience,
                issuer=rules.issuer,
                leeway=rules.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.MissingRequiredClaimError as error:
            raise UnauthenticatedError(
                f"the bearer token lacks the {error.claim!r} claim"
            ) from None
        except jwt.InvalidTokenError as error:
            message = next(
                (text for kind, text in _REFUSALS if isinstance(error, kind)),
                "the bearer token is invalid",
            )
            raise UnauthenticatedError(message) from None
        # PyJWT has checked `exp` is a number (a DecodeError above otherwise).
        return self.principal(claims), int(claims["exp"])

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        """The principal of verified claims: its name, its groups, and its role (reader unless
        the role claim names a higher one)."""
        rules = self._rules
        name = _claim(claims, rules.name_claim)
        if not isinstance(name, str) or not name:
            raise UnauthenticatedError(f"the bearer token lacks the {rules.name_claim!r} claim")
        groups = frozenset(_strings(_claim(claims, rules.groups_claim))[:MAX_GROUPS])
        role = Role.READER
        if rules.role_claim is not None:
            for value in _strings(_claim(claims, rules.role_claim)):
                named = rules.roles.get(value) if rules.roles else value
                if named is not None and named.upper() in Role.__members__:
                    role = max(role, Role.named(named))
        return Principal(name[:200], role, groups)
