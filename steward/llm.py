"""The one LLM client: openai's SDK against an OpenAI-compatible endpoint (`LlmSettings`).

The conflict judge (hygiene/judge.py) asks one short question at a time through `LlmClient`;
the judge of context precision (evaluation/context.py) hands the client `async_openai` builds to
ragas, which takes an openai client and calls the endpoint through it. Both are built from one
settings group the same way. openai is imported on first use: it takes about two seconds.

The endpoint is checked against the outbound policy (steward/outbound.py) before a client is
built, and again by the client's transport on every request, which connects to the address it
checked; the client follows no redirects: a redirect would be a request nobody checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.errors import ConfigError, LlmError
from steward.outbound import AsyncPinnedTransport, OutboundPolicy, PinnedTransport
from steward.settings import LlmSettings

if TYPE_CHECKING:
    from openai import AsyncOpenAI

# openai's client refuses to start without a key; an endpoint that needs none ignores it.
NO_KEY = "not-needed"


def _options(
    settings: LlmSettings, max_retries: int, outbound: OutboundPolicy | None
) -> dict[str, Any]:
    if not settings.url:
        raise ConfigError("no LLM endpoint is set")
    (outbound or OutboundPolicy()).check(settings.url)
    return {
        "base_url": settings.url,
        "api_key": settings.api_key.get_secret_value() if settings.api_key else NO_KEY,
        "timeout": settings.timeout_s,
        "max_retries": max_retries,
    }


def async_openai(
    settings: LlmSettings, max_retries: int = 1, outbound: OutboundPolicy | None = None
) -> AsyncOpenAI:
    """openai's async client for the endpoint, for a library that takes one (ragas).

    `OutboundError` when the endpoint is not an address requests may go to.
    """
    from openai import AsyncOpenAI, DefaultAsyncHttpxClient

    policy = outbound or OutboundPolicy()
    options = _options(settings, max_retries, policy)
    client = DefaultAsyncHttpxClient(follow_redirects=False, transport=AsyncPinnedTransport(policy))
    return AsyncOpenAI(**options, http_client=client)


class LlmClient:
    """Asks the endpoint one question at a time; no retries unless asked for.

    `OutboundError` when the endpoint is not an address requests may go to.
    """

    def __init__(
        self, settings: LlmSettings, max_retries: int = 0, outbound: OutboundPolicy | None = None
    ) -> None:
        from openai import DefaultHttpxClient, OpenAI

        self.settings = settings
        policy = outbound or OutboundPolicy()
        options = _options(settings, max_retries, policy)
        client = DefaultHttpxClient(follow_redirects=False, transport=PinnedTransport(policy))
        self._client = OpenAI(**options, http_client=client)

    def ask(self, prompt: str, max_tokens: int) -> str:
        """The answer's text (temperature 0); LlmError when there is none."""
        from openai import OpenAIError

        try:
            completion = self._client.chat.completions.create(
                model=self.settings.model,
                temperature=0,
                max_tokens=max_tokens,
                messages=[{"role": "user", "content": prompt}],
            )
            # Built without validation: a missing field is an AttributeError, a null one None.
            return str(completion.choices[0].message.content)
        except (OpenAIError, AttributeError, IndexError, TypeError, ValueError) as error:
            raise LlmError(str(self.settings.url), f"{type(error).__name__}: {error}") from error

    def close(self) -> None:
        self._client.close()
