"""The one LLM client: openai's SDK against an OpenAI-compatible endpoint (`LlmSettings`).

The conflict judge (hygiene/judge.py) asks one short question at a time through `LlmClient`;
the judge of context precision (evaluation/context.py) hands the client `async_openai` builds to
ragas, which takes an openai client and calls the endpoint through it. Both are built from one
settings group the same way. openai is imported on first use: it takes about two seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from steward.errors import ConfigError, LlmError
from steward.settings import LlmSettings

if TYPE_CHECKING:
    from openai import AsyncOpenAI

# openai's client refuses to start without a key; an endpoint that needs none ignores it.
NO_KEY = "not-needed"


def _options(settings: LlmSettings, max_retries: int) -> dict[str, Any]:
    if not settings.url:
        raise ConfigError("no LLM endpoint is set")
    return {
        "base_url": settings.url,
        "api_key": settings.api_key.get_secret_value() if settings.api_key else NO_KEY,
        "timeout": settings.timeout_s,
        "max_retries": max_retries,
    }


def async_openai(settings: LlmSettings, max_retries: int = 1) -> AsyncOpenAI:
    """openai's async client for the endpoint, for a library that takes one (ragas)."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(**_options(settings, max_retries))


class LlmClient:
    """Asks the endpoint one question at a time; no retries unless asked for."""

    def __init__(self, settings: LlmSettings, max_retries: int = 0) -> None:
        from openai import OpenAI

        self.settings = settings
        self._client = OpenAI(**_options(settings, max_retries))

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
