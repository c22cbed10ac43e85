"""Who presented what: an API key or a bearer JWT, resolved to the principal it names."""

from __future__ import annotations

import jwt

from steward.access import LOCAL_ADMIN, KeyRing, Principal
from steward.errors import UnauthenticatedError
from steward.tokens import TokenVerifier


class Authenticator:
    """The declared API keys and, behind single sign-on, the JWT verifier.

    Access control is on as soon as either is configured; off, every caller is `LOCAL_ADMIN`.
    """

    def __init__(self, keys: KeyRing, tokens: TokenVerifier | None = None) -> None:
        self.keys = keys
        self.tokens = tokens

    @property
    def enabled(self) -> bool:
        return self.keys.enabled or self.tokens is not None

    def resolve(self, presented: str | None) -> Principal:
        """The principal of `Authorization: Bearer <presented>`; UnauthenticatedError if none."""
        if not self.enabled:
            return LOCAL_ADMIN
        if not presented:
            raise UnauthenticatedError(
                "credentials are required (Authorization: Bearer <API key or token>)"
            )
        if self.tokens is not None and _is_jwt(presented):
            return self.tokens.verify(presented)
        if not self.keys.enabled:
            # KeyRing.resolve would answer LOCAL_ADMIN for a ring without keys.
            raise UnauthenticatedError("invalid bearer token")
        return self.keys.resolve(presented)


def _is_jwt(presented: str) -> bool:
    """A JWS in compact form (three dotted parts, a JSON header); an API key is not one."""
    if presented.count(".") != 2:
        return False
    try:
        jwt.get_unverified_header(presented)
    except jwt.DecodeError:
        return False
    return True
