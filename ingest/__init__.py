"""Ingestion: parse, normalize, chunk, deduplicate, embed (retrieval.embed) and index documents."""
