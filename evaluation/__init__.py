"""Evaluation: datasets, relevance judgements and retrieval metrics."""
