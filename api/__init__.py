"""The HTTP API (FastAPI): retrieval for applications, documents and health."""
