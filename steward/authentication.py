"""Who presented what: an API key or a bearer JWT, resolved to the principal it names."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from steward.access import LOCAL_ADMIN, KeyRing, Principal, Role, digest
from steward.auth_failures import FailureThrottle
from steward.errors import ForbiddenError, QueryError, UnauthenticatedError
from steward.tokens import TokenVerifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Proof:
    """What a presented credential proved: its principal and, for a session built on it, how
    to find it again (an API key's digest) or when it ends (a token's `exp`)."""

    principal: Principal
    key_digest: str | None = None  # an API key's SHA-256; None for a bearer token
    expires: int | None = None  # a bearer token's `exp` (seconds since the epoch)


class Authenticator:
    """The declared API keys and, behind single sign-on, the JWT verifier; and the end users
    an app may act for by id, with their groups.

    Access control is on as soon as keys or a verifier are configured; off, every caller is
    `LOCAL_ADMIN`.
    """

    def __init__(
        self,
        keys: KeyRing,
        tokens: TokenVerifier | None = None,
        users: Mapping[str, frozenset[str]] | None = None,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self.keys = keys
        self.tokens = tokens
        self.users = dict(users or {})
        # Failed authentications per client address (None: not counted).
        self.throttle = throttle

    @property
    def enabled(self) -> bool:
        return self.keys.enabled or self.tokens is not None

    def resolve(self, presented: str | None, client: str | None = None) -> Principal:
        """The principal of `Authorization: Bearer <presented>` sent from the address `client`;
        UnauthenticatedError if none, TooManyFailuresError if that address failed too often."""
        if not self.enabled:
            return LOCAL_ADMIN
        return self.prove(presented, client).principal

    def prove(self, presented: str | None, client: str | None = None) -> Proof:
        """What an API key or a bearer JWT proves (access control on); UnauthenticatedError
        when it proves nothing. A refused credential counts against its client's address, and
        an address over the limit is refused (TooManyFailuresError) before anything is read.
        """
        throttle = self.throttle if client is not None else None
        if throttle is not None and client is not None:
            throttle.check(client)
        try:
            return self._prove(presented)
        except UnauthenticatedError as error:
            # Sending nothing is not a guess: only a credential that was refused counts.
            if throttle is not None and client is not None and presented:
                failures = throttle.failed(client)
                # The address and the check that failed; never the credential.
                log.warning(
                    "failed authentication from %s (%d of %d in %.0f s): %s",
                    client,
                    failures,
                    throttle.max_failures,
                    throttle.window_s,
                    error,
                )
            raise

    def _prove(self, presented: str | None) -> Proof:
        if not presented:
            raise UnauthenticatedError(
                "credentials are required (Authorization: Bearer <API key or token>)"
            )
        if self.tokens is not None and _is_jwt(presented):
            principal, expires = self.tokens.verify_expiring(presented)
            return Proof(principal, expires=expires)
        if not self.keys.enabled:
            # KeyRing.resolve would answer LOCAL_ADMIN for a ring without keys.
            raise UnauthenticatedError("invalid bearer token")
        return Proof(self.keys.resolve(presented), key_digest=digest(presented))

    def end_user(
        self, principal: Principal, groups: list[str] | None, user: str | None, field: str
    ) -> Principal:
        """The principal a request acts as: an app names its end user's groups, or the end
        user (`field` is where: a header), whose groups this directory knows.

        An unknown user is an error, not an anonymous one: a typo must not quietly answer with
        public pages alone.
        """
        if user is None:
            return principal.for_end_user(groups)
        if groups is not None:
            raise QueryError(field, "name the end user or their groups, not both")
        if principal.role is not Role.APP:
            raise ForbiddenError(principal.name, Role.APP.name.lower())
        known = self.users.get(user)
        if known is None:
            raise QueryError(field, "names a user with no groups declared (STEWARD_AUTH_USERS)")
        return principal.for_end_user(sorted(known))


def _is_jwt(presented: str) -> bool:
    """A JWS in compact form (three dotted parts, a JSON header); an API key is not one."""
    if presented.count(".") != 2:
        return False
    try:
        jwt.get_unverified_header(presented)
    except jwt.DecodeError:
        return False
    return True
