"""What a knowledge owner works through: duplicate clusters, stale documents, conflicts.

Plain functions over one database's hygiene tables, shared by the HTTP API and the CLI. Each
takes optional `source` and `owner` filters; a cluster or a conflict matches when any of its
documents does. With a `reader`, nothing of a document it may not read is listed: such a
document leaves its cluster (a cluster whose canonical document it is goes), and a stale item
or a conflict that names it is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hygiene.records import Conflict, HygieneRecords
from hygiene.view import HygieneView, read_view
from steward.access import Principal
from steward.catalog import Catalog, DocumentRow
from steward.database import Database
from steward.domain import rfc3339
from steward.errors import NotFoundError


@dataclass(frozen=True, slots=True)
class Filters:
    source: str | None = None
    owner: str | None = None
    # Who the listing is for; None lists every document (the CLI, an admin).
    reader: Principal | None = None

    def readable(self, row: DocumentRow | None) -> bool:
        """A document the reader may see (one gone from the catalog shows nothing of itself)."""
        return row is None or self.reader is None or self.reader.can_read(row.acl)

    def admits(self, row: DocumentRow | None) -> bool:
        if row is None:
            return False
        if self.source is not None and row.source != self.source:
            return False
        return self.owner is None or row.owner == self.owner


def documents(database: Database) -> dict[str, DocumentRow]:
    """Every catalog row, with the owner it was handed over to (a decision kept across syncs);
    without line hashes (listings do not need them)."""
    rows = Catalog(database).all_documents(line_hashes=False)
    for doc_id, owner in HygieneRecords(database).handed_over().items():
        if doc_id in rows:
            rows[doc_id] = replace(rows[doc_id], owner=owner)
    return rows


def sources(
    database: Database, reader: Principal | None = None, rows: dict[str, DocumentRow] | None = None
) -> list[str]:
    """The sources holding a document the reader may read."""
    see = Filters(reader=reader)
    rows = documents(database) if rows is None else rows
    return sorted({row.source for row in rows.values() if see.readable(row)})


def _when(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


def _doc(row: DocumentRow | None, doc_id: str) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "source_uri": row.source_uri if row else None,
        "title": row.title if row else None,
        "owner": row.owner if row else None,
    }


def duplicates(
    database: Database, filters: Filters, view: HygieneView | None = None
) -> list[dict[str, Any]]:
    """Clusters of copies, largest first: the canonical document and its members (`view`:
    the catalog and records as `hygiene.view` holds them; read afresh without one)."""
    view = read_view(database) if view is None else view
    rows = view.rows
    clusters: list[dict[str, Any]] = []
    for canonical, every_copy in view.copies.items():
        copies = [(d, s) for d, s in every_copy if filters.readable(rows.get(d))]
        if not copies or not filters.readable(rows.get(canonical)):
            continue
        involved = [canonical, *(d for d, _ in copies)]
        if not any(filters.admits(rows.get(d)) for d in involved):
            continue
        clusters.append(
            {
                "canonical": _doc(rows.get(canonical), canonical),
                "members": [
                    {**_doc(rows.get(d), d), "similarity": round(s, 4)}
                    for d, s in sorted(copies, key=lambda m: (-m[1], m[0]))
                ],
            }
        )
    clusters.sort(key=lambda c: (-len(c["members"]), c["canonical"]["source_uri"] or ""))
    return clusters


def stale(
    database: Database, filters: Filters, view: HygieneView | None = None
) -> list[dict[str, Any]]:
    """Documents that should not answer questions as they are: deprecated, superseded, expired."""
    view = read_view(database) if view is None else view
    rows = view.rows
    reviews = view.reviews
    items = []
    for doc_id, state in view.states.items():
        row = rows.get(doc_id)
        if not filters.admits(row) or not filters.readable(row):
            continue
        review = reviews.get(doc_id)
        if state["state"] == "deprecated" and review is not None:
            items.append(
                {
                    **_doc(row, doc_id),
                    "reason": "deprecated",
                    "since": _when(review.deprecated_at),
                    "by": review.deprecated_by,
                }
            )
        if state["superseded_by"] and filters.readable(rows.get(state["superseded_by"])):
            newer = rows.get(state["superseded_by"])
            items.append(
                {
                    **_doc(row, doc_id),
                    "reason": "superseded",
                    "superseded_by": {
                        "doc_id": state["superseded_by"],
                        "source_uri": newer.source_uri if newer else None,
                    },
                    "since": _when(state["superseded_since"]),
                }
            )
        if state["state"] == "expired":
            items.append(
                {**_doc(row, doc_id), "reason": "expired", "since": _when(state["expires_at"])}
            )
    for disliked in view.disliked:
        row = rows.get(disliked["doc_id"])
        if filters.admits(row) and filters.readable(row):
            items.append(
                {
                    **_doc(row, disliked["doc_id"]),
                    "reason": "negative_feedback",
                    "since": None,
                    "not_relevant": disliked["not_relevant"],
                }
            )
    order = {"deprecated": 0, "superseded": 1, "expired": 2, "negative_feedback": 3}
    items.sort(key=lambda i: (order[i["reason"]], i["since"] or "", i["source_uri"] or ""))
    return items


def suggestion(conflict: Conflict) -> str:
    """What the owner is likely to want: keep the newer side when one side is newer."""
    if conflict.newer == "b":
        return "keep_b"
    if conflict.newer == "a":
        return "keep_a"
    return "review"


def conflicts(
    database: Database,
    filters: Filters,
    kind: str | None = None,
    include_resolved: bool = False,
    doc_id: str | None = None,
    view: HygieneView | None = None,
) -> list[dict[str, Any]]:
    view = read_view(database) if view is None else view
    rows = view.rows
    found = []
    for c in view.conflicts_of(doc_id, include_resolved):
        if kind is not None and c.kind != kind:
            continue
        if not (filters.admits(rows.get(c.a_doc)) or filters.admits(rows.get(c.b_doc))):
            continue
        if not (filters.readable(rows.get(c.a_doc)) and filters.readable(rows.get(c.b_doc))):
            continue
        found.append(
            {
                "id": c.conflict_id,
                "a": {**_doc(rows.get(c.a_doc), c.a_doc), "span": c.a_span, "value": c.a_value},
                "b": {**_doc(rows.get(c.b_doc), c.b_doc), "span": c.b_span, "value": c.b_value},
                "kind": c.kind,
                "confidence": c.confidence,
                "newer": c.newer,
                "suggested": suggestion(c),
                "resolution": c.resolution,
                "resolved_by": c.resolved_by,
                "resolved_at": _when(c.resolved_at),
            }
        )
    return found


def require_readable(
    catalog: Catalog, reader: Principal, *doc_ids: str, missing_ok: bool = False
) -> None:
    """NotFoundError for a document the reader may not read, as for one that does not exist: a
    403 would confirm that it exists. `missing_ok`: one the catalog lacks passes (the action
    that follows reports it). One catalog read."""
    acls = catalog.acls(doc_ids)
    for doc_id in doc_ids:
        acl = acls.get(doc_id)
        if (acl is None and not missing_ok) or (acl is not None and not reader.can_read(acl)):
            raise NotFoundError("document", doc_id)


def unreadable_ids(database: Database, reader: Principal) -> frozenset[str]:
    """Every document the reader may not read (none for an admin); one catalog read."""
    if reader.search_groups is None:
        return frozenset()
    rows = documents(database)
    return frozenset(d for d, row in rows.items() if not reader.can_read(row.acl))


def names_any(entry: Any, doc_ids: frozenset[str]) -> bool:
    """Whether a listed entry (an audit line, a feedback row) names one of these documents."""
    return bool(doc_ids) and any(d in str(entry) for d in doc_ids)


_DOC_ID = re.compile(r"\b[0-9a-f]{32}\b")


def visible_entries(
    database: Database, reader: Principal | None, found: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The entries (audit lines) that name no document the reader may not read.

    Ids are picked out of each entry's text and their groups read in one query, so the cost
    follows the entries shown, not the size of the catalog.
    """
    if reader is None or reader.search_groups is None or not found:
        return found
    named = [set(_DOC_ID.findall(str(entry))) for entry in found]
    acls = Catalog(database).acls(sorted(set().union(*named)))
    hidden = {d for d, acl in acls.items() if not reader.can_read(acl)}
    return [entry for entry, ids in zip(found, named, strict=True) if not ids & hidden]


def document_state(
    database: Database,
    doc_id: str,
    reader: Principal | None = None,
    view: HygieneView | None = None,
) -> dict[str, Any] | None:
    """The hygiene section of GET /documents/{doc_id}; None before the first scan.

    With a `reader`, documents it may not read are left out: their ids, and the conflicts
    that name them. With a `view` (`hygiene.view`), everything is read from it.
    """
    catalog = Catalog(database)
    see = Filters(reader=reader)

    def visible(other: str | None) -> bool:
        if other is None or reader is None:
            return other is not None
        return see.readable(view.rows.get(other) if view else catalog.document(other))

    records = HygieneRecords(database)
    if view is not None:
        state = view.states.get(doc_id)
        review = view.reviews.get(doc_id)
        members = sorted(d for d, _ in view.copies.get(doc_id, ()))
        open_conflicts = view.conflicts_of(doc_id, include_resolved=False)
    else:
        state = records.states([doc_id]).get(doc_id)
        review = records.reviews().get(doc_id)
        members = records.copies_of(doc_id)
        open_conflicts = records.conflicts(doc_id, include_resolved=False)
    if state is None and review is None:
        return None
    return {
        "state": state["state"] if state else "unverified",
        "expires_at": _when(state["expires_at"]) if state else None,
        "last_verified_at": _when(review.verified_at) if review else None,
        "verified_by": review.verified_by if review else None,
        "deprecated_at": _when(review.deprecated_at) if review else None,
        "duplicate_of": state["duplicate_of"] if state and visible(state["duplicate_of"]) else None,
        "duplicates": sorted(m for m in members if visible(m)),
        "superseded_by": (
            state["superseded_by"] if state and visible(state["superseded_by"]) else None
        ),
        "conflicts": [
            c.conflict_id for c in open_conflicts if visible(c.a_doc) and visible(c.b_doc)
        ],
        "scanned_at": _when(state["scanned_at"]) if state else None,
    }


def page(items: list[dict[str, Any]], limit: int, offset: int) -> dict[str, Any]:
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }
