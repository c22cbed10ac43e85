"""Who is asking: principals, their roles and groups, and the API keys that name them.

A key is kept only as its SHA-256 digest and compared in constant time. With no key declared,
access control is off and every caller is `LOCAL_ADMIN` (the embedded, loopback-only default).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum

from steward.errors import ForbiddenError, UnauthenticatedError


class Role(IntEnum):
    """What a principal may do; each role may do everything of the roles below it.

    The one exception is the app's own power: only an `APP` names an end user's groups.
    """

    READER = 1  # retrieve, read documents, hygiene and evaluation listings, send feedback
    APP = 2  # a reader on behalf of end users: names their groups per request (for_end_user)
    OWNER = 3  # act on hygiene findings, run scans and evaluations
    ADMIN = 4  # accept baselines, manage golden sets and sources; reads every document

    @classmethod
    def named(cls, name: str) -> Role:
        return cls[name.upper()]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request."""

    name: str
    role: Role
    groups: frozenset[str] = frozenset()
    # False for the local admin of a server without access control: nobody proved a name.
    authenticated: bool = True

    def actor(self, claimed: str | None) -> str:
        """The name an action is recorded under: the key's, or what an unchecked caller says."""
        if self.authenticated:
            return self.name
        return claimed or self.name

    def require(self, role: Role) -> None:
        """Refuse (ForbiddenError) unless this principal holds `role` or a higher one."""
        if self.role < role:
            raise ForbiddenError(self.name, role.name.lower())

    def can_read(self, acl: Sequence[str]) -> bool:
        """A document without groups is public; one with groups needs a shared group."""
        return self.role >= Role.ADMIN or not acl or not self.groups.isdisjoint(acl)

    def for_end_user(self, groups: Iterable[str] | None) -> Principal:
        """The principal a request acts as when it names an end user's groups (None: names none).

        Only an app may name them; its own groups are the ceiling (`ANY_GROUP` lifts it), so the
        answer is never wider than the app's key. An app that names none acts for an anonymous
        end user and reads public documents only: a forgotten header must not open the ceiling.
        """
        if self.role is not Role.APP:
            if groups is None:
                return self
            raise ForbiddenError(self.name, Role.APP.name.lower())
        asked = frozenset(groups or ()) - {ANY_GROUP}
        allowed = asked if ANY_GROUP in self.groups else asked & self.groups
        return replace(self, groups=allowed)

    @property
    def search_groups(self) -> tuple[str, ...] | None:
        """The groups a search is restricted to (None: no restriction, an admin sees all)."""
        return None if self.role >= Role.ADMIN else tuple(sorted(self.groups))


LOCAL_ADMIN = Principal("local", Role.ADMIN, authenticated=False)

# In an app's groups: it may name any group for its end users (no ceiling).
ANY_GROUP = "*"


def digest(key: str) -> str:
    """The SHA-256 hex digest a key is stored and compared as."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One declared key: its digest, the principal it names, whether it was revoked, and when
    it expires (seconds since the epoch; None: never)."""

    sha256: str
    principal: Principal
    revoked: bool = False
    expires: float | None = None

    def expired(self, now: float | None = None) -> bool:
        return self.expires is not None and (time.time() if now is None else now) >= self.expires

    @property
    def in_force(self) -> bool:
        return not self.revoked and not self.expired()


class KeyRing:
    """The declared keys, and the stored ones (`stored`, read again on each use, so a key made
    or revoked in the catalog counts at once); resolves a presented key to its principal."""

    def __init__(
        self, keys: Iterable[ApiKey], stored: Callable[[], Sequence[ApiKey]] | None = None
    ) -> None:
        self._keys = list(keys)
        self._stored = stored

    def _all(self) -> Sequence[ApiKey]:
        return [*self._keys, *self._stored()] if self._stored is not None else self._keys

    @property
    def enabled(self) -> bool:
        """Access control is on as soon as one key is declared or stored."""
        return bool(self._all())

    def declared_names(self) -> frozenset[str]:
        return frozenset(key.principal.name for key in self._keys)

    def resolve(self, presented: str | None) -> Principal:
        """The principal of a presented key; UnauthenticatedError for none, unknown or revoked."""
        keys = self._all()
        if not keys:
            return LOCAL_ADMIN
        if not presented:
            raise UnauthenticatedError("an API key is required (Authorization: Bearer <key>)")
        return self._match(
            keys, digest(presented), "invalid or revoked API key", "the API key has expired"
        )

    def resolve_digest(self, sha256: str) -> Principal:
        """The principal of a key known by its digest (a signed dashboard session holds the
        digest, never the key); UnauthenticatedError once the key is revoked or gone."""
        return self._match(
            self._all(),
            sha256,
            "the session's API key is revoked or no longer declared",
            "the session's API key has expired",
        )

    @staticmethod
    def _match(keys: Sequence[ApiKey], sha256: str, refusal: str, expired: str) -> Principal:
        match: ApiKey | None = None
        # Compare against every key, so the time taken does not tell how far a guess got.
        for key in keys:
            if hmac.compare_digest(key.sha256, sha256):
                match = key
        if match is None or match.revoked:
            raise UnauthenticatedError(refusal)
        # Said only to whoever holds the key: it names no key, nor which others exist.
        if match.expired():
            raise UnauthenticatedError(expired)
        return match.principal


# The group of a document whose own groups and its source's share none: nobody holds it, so
# only an admin reads the document (no readers is not an empty list: that would be public).
NO_READER = "steward:no-reader"


def within(ceiling: Sequence[str], asked: Sequence[str] | None) -> list[str]:
    """A document's groups when its source allows only `ceiling`: narrowed, never widened.

    Without a ceiling the document's own groups stand. With one, the document keeps the groups
    it shares with the ceiling; asking for none (public) leaves the ceiling. Asking only for
    groups outside the ceiling leaves nobody who is surely in both (group names say nothing of
    who holds two of them), so the document gets `NO_READER`: giving it the ceiling instead
    would open it to members of the source's groups its own groups leave out.
    """
    if not ceiling:
        return list(asked or [])
    if not asked:
        return list(ceiling)
    shared = [group for group in asked if group in ceiling]
    return shared or [NO_READER]
