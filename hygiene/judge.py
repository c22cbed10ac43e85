"""An optional judge that confirms candidate conflicts: an OpenAI-compatible chat endpoint.

Off unless `STEWARD_HYGIENE_JUDGE_URL` is set. The rules in hygiene/conflicts.py propose; the
judge may only veto. A judge that cannot be reached or answers nonsense vetoes nothing, so a
finding is never lost to an outage.
"""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("steward.hygiene.judge")

PROMPT = (
    "Two statements come from two documents of one company's knowledge base.\n"
    "A: {a}\nB: {b}\n"
    "Do A and B give different values or answers for the same thing, so that both cannot be "
    "true at once? Answer with one word: yes or no."
)


class LlmJudge:
    """Asks `{url}/chat/completions` whether two statements contradict each other."""

    def __init__(
        self, url: str, model: str, api_key: str | None = None, timeout_s: float = 30.0
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)
        self._model = model
        self.failures = 0

    def confirms(self, a_span: str, b_span: str) -> bool:
        """False only when the judge answered "no"; True on "yes" and on any failure."""
        body = {
            "model": self._model,
            "temperature": 0,
            "max_tokens": 3,
            "messages": [{"role": "user", "content": PROMPT.format(a=a_span, b=b_span)}],
        }
        try:
            response = self._client.post("/chat/completions", json=body)
            response.raise_for_status()
            answer = str(response.json()["choices"][0]["message"]["content"]).strip().lower()
        except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as error:
            self.failures += 1
            log.warning("conflict judge failed (%s); keeping the finding", error)
            return True
        return not answer.startswith("no")

    def close(self) -> None:
        self._client.close()
