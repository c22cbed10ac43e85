"""The whole catalog schema: every package's tables, on the kernel's shared metadata.

Each package defines its own tables (`steward.catalog`, `steward.audit`, `hygiene.tables`,
`evaluation.tables`); importing them here registers them all on `metadata`, so the migrations
(`steward/migrations`, one history for every package) can be checked against what the code
uses (tests/test_catalog.py). A package that adds a table module adds it here.
"""

from __future__ import annotations

from evaluation import tables as evaluation_tables
from hygiene import tables as hygiene_tables
from steward import audit, catalog, stored_keys
from steward.database import metadata

# The modules that define the schema's tables, the kernel's first.
TABLE_MODULES = (catalog, audit, stored_keys, hygiene_tables, evaluation_tables)

__all__ = ["TABLE_MODULES", "metadata"]
