"""Paginated lists: every list page shows PAGE_SIZE items and links to its neighbours."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

PAGE_SIZE = 50
Offset = Annotated[int, Query(ge=0, le=10**9)]


def pages(total: int, offset: int, size: int = PAGE_SIZE) -> dict[str, Any]:
    """Where a paginated list is, for the template's previous / next links."""
    return {
        "offset": offset,
        "total": total,
        "previous": max(0, offset - size) if offset > 0 else None,
        "next": offset + size if offset + size < total else None,
        "shown_to": min(total, offset + size),
    }
