"""An optional judge that confirms candidate conflicts: an OpenAI-compatible chat endpoint.

Off unless `STEWARD_HYGIENE_JUDGE_URL` is set. The rules in hygiene/conflicts/ propose; the
judge may only veto. A judge that cannot be reached or answers nonsense vetoes nothing, so a
finding is never lost to an outage.
"""

from __future__ import annotations

import logging
from typing import Protocol

from steward.errors import LlmError
from steward.llm import LlmClient
from steward.outbound import OutboundPolicy
from steward.settings import LlmSettings

log = logging.getLogger("steward.hygiene.judge")

PROMPT = (
    "Two statements come from two documents of one company's knowledge base.\n"
    "A: {a}\nB: {b}\n"
    "Do A and B give different values or answers for the same thing, so that both cannot be "
    "true at once? Answer with one word: yes or no."
)


class Judge(Protocol):
    """What the scan asks of a judge: it may only veto a conflict the rules found."""

    @property
    def model(self) -> str: ...  # named in a vetoed conflict's `resolved_by`

    @property
    def failures(self) -> int: ...  # questions that failed (and kept their conflicts) so far

    def confirms(self, a_span: str, b_span: str) -> bool: ...


class LlmJudge:
    """Asks `{url}/chat/completions` whether two statements contradict each other.

    `OutboundError` when `url` is not an address `outbound` lets requests go to (public
    addresses only without it): a scan with a judge it may not ask fails, naming why.
    """

    def __init__(
        self,
        url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        settings = LlmSettings(url=url, model=model, api_key=api_key, timeout_s=timeout_s)
        self.model = model
        # No retries: a failed question keeps its finding, and a scan asks many.
        self._client = LlmClient(settings, max_retries=0, outbound=outbound)
        self.failures = 0

    def confirms(self, a_span: str, b_span: str) -> bool:
        """False only when the judge answered "no"; True on "yes" and on any failure."""
        try:
            answer = self._client.ask(PROMPT.format(a=a_span, b=b_span), max_tokens=3)
        except LlmError as error:
            self.failures += 1
            log.warning("conflict judge failed (%s); keeping the finding", error)
            return True
        return not answer.strip().lower().startswith("no")

    def close(self) -> None:
        self._client.close()
