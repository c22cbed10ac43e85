"""New conflicts put to the judge; a veto resolves one as "both_valid", by the judge.

Vetoed conflicts stay on record (with include_resolved) so a rescan does not ask again and an
owner can see, and overturn, what the judge decided.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from hygiene.corpus import Corpus
from hygiene.findings import Findings
from hygiene.judge import Judge
from hygiene.records import Conflict
from steward.domain import utc_now

log = logging.getLogger("steward.hygiene")


class JudgeVeto:
    """Rewrites `conflicts`: on their final ids, so a veto on a conflict that moved onto a
    canonical copy stays known."""

    phase = "classify"

    def __init__(self, judge: Judge) -> None:
        self.judge = judge

    def run(self, corpus: Corpus, found: Findings) -> None:
        if not found.conflicts:
            return
        judge = self.judge
        known = corpus.resolutions
        failures = judge.failures
        vetoed = 0
        judged: dict[str, Conflict] = {}
        for ident, conflict in found.conflicts.items():
            if ident in known or judge.confirms(conflict.a_span, conflict.b_span):
                judged[ident] = conflict
                continue
            vetoed += 1
            judged[ident] = replace(
                conflict,
                resolution="both_valid",
                resolved_by=f"judge {judge.model}",
                resolved_at=utc_now(),
            )
        found.conflicts = judged
        log.info(
            "the judge vetoed %d of %d conflicts (%d questions failed and kept the conflict)",
            vetoed,
            len(judged),
            judge.failures - failures,
        )
