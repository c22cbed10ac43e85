"""How an integration reaches Steward: the HTTP clients it builds, or the ones handed to it.

A framework object (a retriever) may be used from plain threads and from several event loops
(each `asyncio.run` makes a new one). httpx's async connection pool belongs to the loop that
opened it, so the async client is kept per loop, not per object.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

import httpx

from client.http import DEFAULT_TIMEOUT, DEFAULT_URL, AsyncHttpClient, HttpClient
from client.retry import Retry

# What one /retrieve call takes beside the query; a retriever holds a value for each.
RETRIEVE_OPTIONS = ("mode", "source", "source_uri_prefix", "top_k", "updated_after")


def retrieve_options(holder: object, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The options of one call: each one `given` sets, else the holder's own."""
    given = given or {}
    return {name: given.get(name, getattr(holder, name)) for name in RETRIEVE_OPTIONS}


class Connection:
    """Where Steward answers and how to ask it: URL, API key, timeout and retries.

    `client` / `async_client`, when given, are used as they are (and left open by `close`).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retry: Retry | None = None,
        client: HttpClient | None = None,
        async_client: AsyncHttpClient | None = None,
    ) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self.retry = retry
        self.client = client
        self.async_client = async_client
        self._sync: HttpClient | None = None
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncHttpClient] = (
            weakref.WeakKeyDictionary()
        )

    def sync(self) -> HttpClient:
        """The sync client: the one handed in, or one built on first use."""
        if self.client is not None:
            return self.client
        if self._sync is None:
            self._sync = HttpClient(
                self.url, api_key=self.api_key, timeout=self.timeout, retry=self.retry
            )
        return self._sync

    def async_(self) -> AsyncHttpClient:
        """The async client for the running loop: the one handed in, or one per loop."""
        if self.async_client is not None:
            return self.async_client
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None:
            found = AsyncHttpClient(
                self.url, api_key=self.api_key, timeout=self.timeout, retry=self.retry
            )
            self._by_loop[loop] = found
        return found

    def close(self) -> None:
        """Close the sync client this connection built (not one handed in)."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        """Close the running loop's async client this connection built, and the sync one."""
        self.close()
        found = self._by_loop.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found.aclose()
