"""Connectors: list a source's documents and fetch their content."""
