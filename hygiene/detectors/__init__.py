"""The scan's detectors: small stages that each read the corpus view and write their findings.

A detector satisfies `Detector`: a `phase` (the progress stage and the `timings` entry it counts
toward) and `run(corpus, found)`, which reads the `Corpus` and what earlier stages wrote into
`Findings`, and writes its own fields there. `hygiene.scan.detectors` lists them in order;
adding one is a module here and a line there.
"""

from __future__ import annotations

from typing import Protocol

from hygiene.corpus import Corpus
from hygiene.findings import Findings


class Detector(Protocol):
    @property
    def phase(self) -> str: ...

    def run(self, corpus: Corpus, found: Findings) -> None: ...
