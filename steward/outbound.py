"""Outbound requests: which URLs Steward may ask, checked before every request it sends.

A URL given by configuration or by a remote server (a crawled link, a redirect) could point
Steward at this machine or its private network: a page redirecting to `127.0.0.1:<port>/admin`
would get that page indexed, a judge URL could reach a cloud metadata endpoint. `OutboundPolicy`
resolves the host and refuses every address that is not public (loopback, private, link-local,
shared, multicast, reserved, unspecified; IPv4 and IPv6, including IPv4 carried inside IPv6) and
every port beyond the allowed ones, unless the operator allowed that host (or host:port) by name,
or private addresses as a whole (`OutboundSettings` in steward/settings.py).

Every hop of a redirect is a request of its own: callers turn automatic redirects off and check
each `Location` here before following it (`WebConnector._get`).

A name checked here could resolve to another address when the client connects (DNS rebinding:
a short-lived record answering a public address, then 127.0.0.1). `PinnedTransport` checks every
request it sends and connects to the address it checked, keeping the name for the `Host` header
and TLS (SNI and certificate), so the address checked is the address asked.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from steward.errors import OutboundError
from steward.redact import redact_url

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_DEFAULT_PORTS = {"http": 80, "https": 443}
# NAT64's well-known prefix: 64:ff9b::7f00:1 reaches 127.0.0.1 through a translator, and
# Python calls it global.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Private in the sense an operator allows with STEWARD_OUTBOUND_ALLOW_PRIVATE: RFC 1918, unique
# local and the deprecated site-local. Python's `is_private` also covers documentation,
# benchmarking and reserved ranges, which are never a deployment's own network.
_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")
)


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: IpAddress) -> str | None:
    """Why `address` is not a public unicast address ("loopback", "private", ...); None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _carried_ipv4(address)
        if inner is not None:
            return address_kind(inner)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if any(address in net for net in _PRIVATE if net.version == address.version):
        return "private"
    if address.is_reserved or address.is_private or not address.is_global:
        # 100.64.0.0/10 (carrier-grade NAT), 240.0.0.0/4, documentation ranges and the like.
        return "reserved"
    return None


def _resolve(host: str, port: int) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # An IPv6 answer may carry a zone ("fe80::1%eth0"): the address is what comes before it.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass(frozen=True)
class OutboundPolicy:
    """Where requests may go: public addresses on `ports`, plus what the operator allowed.

    `allow_hosts` holds host names or addresses, each alone (any port) or as host:port
    ("[::1]:8080" for IPv6); a URL whose host is listed is allowed whatever it resolves to.
    `allow_private` admits loopback and private addresses on any port (not link-local: that is
    where cloud metadata answers; name such a host in `allow_hosts` instead).
    """

    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    allow_private: bool = False
    ports: frozenset[int] = frozenset({80, 443})
    schemes: frozenset[str] = frozenset({"http", "https"})
    # How a host name becomes addresses (the system's resolver; tests hand in their own).
    resolve: Callable[[str, int], list[IpAddress]] = field(default=_resolve, compare=False)

    @classmethod
    def of(
        cls,
        allow_hosts: Iterable[str] = (),
        allow_private: bool = False,
        ports: Iterable[int] = (80, 443),
    ) -> OutboundPolicy:
        """A policy from plain values (settings, tests), host names compared in lower case."""
        return cls(
            frozenset(entry.strip().lower() for entry in allow_hosts if entry.strip()),
            allow_private,
            frozenset(ports),
        )

    def _named(self, host: str, port: int) -> bool:
        shown = f"[{host}]" if ":" in host else host
        return bool({host, shown, f"{shown}:{port}"} & self.allow_hosts)

    def check(self, url: str) -> list[IpAddress]:
        """The addresses a request to `url` may go to; `OutboundError` naming why not.

        Empty for a host the operator allowed by name: it goes wherever it resolves.
        """
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = (parts.hostname or "").lower()
            port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
        except ValueError as error:  # a port out of range or not a number
            raise OutboundError(redact_url(url), f"not a valid URL ({error})") from None
        if scheme not in self.schemes:
            allowed = ", ".join(sorted(self.schemes))
            shown = scheme or "(none)"
            raise OutboundError(redact_url(url), f"scheme {shown!r} is not allowed ({allowed})")
        if not host:
            raise OutboundError(redact_url(url), "it names no host")
        if self._named(host, port):
            return []
        try:
            addresses = self.resolve(host, port)
        except (OSError, UnicodeError) as error:
            raise OutboundError(
                redact_url(url), f"{host} does not resolve ({error})", unresolved=True
            ) from None
        for address in addresses:
            kind = address_kind(address)
            if kind is None:
                if port in self.ports:
                    continue
                allowed = ", ".join(map(str, sorted(self.ports)))
                raise OutboundError(
                    redact_url(url),
                    f"port {port} is not allowed (allowed: {allowed}; add {host}:{port} to "
                    "STEWARD_OUTBOUND_ALLOW_HOSTS to allow it)",
                )
            if self.allow_private and kind in ("loopback", "private"):
                continue  # the operator's own network, on any port
            hint = " or STEWARD_OUTBOUND_ALLOW_PRIVATE" if kind in ("loopback", "private") else ""
            raise OutboundError(
                redact_url(url),
                f"{host} resolves to {address}, a {kind} address (allow it with "
                f"STEWARD_OUTBOUND_ALLOW_HOSTS{hint})",
            )
        return addresses


def _pinned(policy: OutboundPolicy, request: httpx.Request) -> httpx.Request:
    """The request checked, aimed at the address checked (the name kept for Host and TLS)."""
    addresses = policy.check(str(request.url))
    if not addresses:
        return request
    name = request.url.host
    request.url = request.url.copy_with(host=str(addresses[0]))
    request.extensions = {**request.extensions, "sni_hostname": name}
    return request


class PinnedTransport(httpx.BaseTransport):
    """Sends each request only after the policy allows it, to the address the policy checked."""

    def __init__(self, policy: OutboundPolicy, inner: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(_pinned(self.policy, request))

    def close(self) -> None:
        self.inner.close()


class AsyncPinnedTransport(httpx.AsyncBaseTransport):
    """`PinnedTransport` for async clients (the resolution itself blocks, as httpx's does)."""

    def __init__(
        self, policy: OutboundPolicy, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.policy = policy
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(_pinned(self.policy, request))

    async def aclose(self) -> None:
        await self.inner.aclose()
