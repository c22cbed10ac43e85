"""Each document's review state (verified, unverified, expired, deprecated) and its due date."""

from __future__ import annotations

from hygiene.corpus import Corpus
from hygiene.findings import Findings
from hygiene.review import review_state


class ReviewStates:
    """Writes `states` and `expires`: the source's review interval, else `review_interval_days`."""

    phase = "documents"

    def __init__(self, review_interval_days: int) -> None:
        self.review_interval_days = review_interval_days

    def run(self, corpus: Corpus, found: Findings) -> None:
        for doc_id, row in corpus.rows.items():
            interval = (
                corpus.configs[row.source].get("review_interval_days") or self.review_interval_days
            )
            found.states[doc_id], found.expires[doc_id] = review_state(
                row, corpus.reviews.get(doc_id), interval, corpus.now
            )
