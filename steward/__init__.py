"""Steward: the shared home of settings, domain types, errors and the catalog."""

__version__ = "0.1.0"
