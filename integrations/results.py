"""A Steward result as the frameworks carry it: flat metadata, and its hygiene caveats in words.

Both retrievers and the MCP server read results through here, so a LangChain `Document`, a
LlamaIndex node and an agent's tool answer name the same fields and say the same thing about a
stale, superseded or conflicting result.
"""

from __future__ import annotations

from typing import Any

from client.models import RetrievedChunk

# What each flag of a result means for whoever reads its text (a model, usually).
_FLAG_WORDS = {
    "stale": "its review date has passed, so it may be out of date",
    "deprecated": "its owner deprecated it; do not rely on it",
    "superseded": "a newer edition replaces it",
    "conflict": "it disagrees with another document on a value (an amount, a date, a number)",
    "duplicate_of": "it is a copy of another document",
}


def caveats(hit: RetrievedChunk) -> list[str]:
    """One sentence per flag of `hit`, naming the document that replaces or holds the original."""
    said: list[str] = []
    for flag in hit.flags:
        words = _FLAG_WORDS.get(flag)
        if words is None:  # a flag a newer server added: still worth a mention
            said.append(f"Steward flags this result as {flag}.")
            continue
        if flag == "superseded" and hit.superseded_by:
            words += f" (document {hit.superseded_by}); prefer that one"
        elif flag == "duplicate_of" and hit.duplicate_of:
            words += f" (document {hit.duplicate_of})"
        said.append(f"Caution: {words}.")
    return said


def metadata(hit: RetrievedChunk, query_id: str) -> dict[str, Any]:
    """The result's fields but its text, with the answer's `query_id` (for feedback) and the
    caveats in words; plain JSON values, as the frameworks' metadata expects."""
    return {
        "query_id": query_id,
        "chunk_id": hit.chunk_id,
        "doc_id": hit.doc_id,
        "source": hit.source,
        "source_uri": hit.source_uri,
        "title": hit.title,
        "section": hit.section,
        "score": hit.score,
        "updated_at": hit.updated_at,
        "flags": list(hit.flags),
        "superseded_by": hit.superseded_by,
        "duplicate_of": hit.duplicate_of,
        "duplicates": list(hit.duplicates),
        "caveats": caveats(hit),
    }


def feedback_key(metadata: Any) -> tuple[str, str]:
    """The (query_id, chunk_id) that name a result for feedback, from a framework's metadata."""
    try:
        query_id, chunk_id = metadata["query_id"], metadata["chunk_id"]
    except (KeyError, TypeError):
        raise ValueError(
            "not a Steward result: its metadata has no query_id and chunk_id "
            "(only results of a Steward retriever can be judged)"
        ) from None
    return str(query_id), str(chunk_id)
