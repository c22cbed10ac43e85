"""Steward's kernel: settings, domain types, errors, the catalog (database, migrations), audit.

It imports nothing of ours; every other package may import it (see Architecture in README).
"""

__version__ = "0.1.0"
