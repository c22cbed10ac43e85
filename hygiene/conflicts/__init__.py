"""Value conflicts: statements of two similar texts about the same thing that give different values.

Each text is split into statements (sentences, list items, table rows). A statement's values
(money, percentages, durations, dates, versions, plain numbers) are masked, so two statements
"talk about the same thing" when their masked words are very similar, and they conflict when an
aligned value differs once normalized ("$5,000" equals "$5000", "1 hour" equals "60 minutes").
Two further rules need no value: a polarity flip of the same statement, or of a permission,
obligation or expiry claim about a shared subject (``negation``), and the same statement naming
a different product or tool (``named_value``).

Everything is rules and regular expressions: no model, no network. `analyze` does the per-text
work once, so a caller comparing one chunk against many can cache it; `compare` then costs
well under a millisecond for two chunks of about 200 words.

The subpackage follows those steps, one module each: `statements` (splitting), `values`,
`words`, `claims`, `analysis` (a statement analysed once) and `comparison` (the thresholds and
`compare`).
"""

from __future__ import annotations

from hygiene.conflicts.analysis import Analysed, Slot, Statement, analyze
from hygiene.conflicts.claims import Claim
from hygiene.conflicts.comparison import KINDS, ValueConflict, compare, compare_texts
from hygiene.conflicts.statements import split_statements
from hygiene.conflicts.values import Value

__all__ = [
    "KINDS",
    "Analysed",
    "Claim",
    "Slot",
    "Statement",
    "Value",
    "ValueConflict",
    "analyze",
    "compare",
    "compare_texts",
    "split_statements",
]
