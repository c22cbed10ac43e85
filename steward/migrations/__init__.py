"""Alembic migrations of the catalog; `Catalog` upgrades to head when it opens."""
