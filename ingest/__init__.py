"""Ingestion: parse, normalize, chunk, deduplicate, embed and index documents."""
