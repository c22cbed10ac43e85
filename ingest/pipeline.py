"""One ingest run of one source: list, parse, normalize, chunk, embed, index, prune.

Crash safety: a document's chunks are upserted (deterministic ids), its stale chunks deleted,
and only then is its catalog row written. A run killed anywhere leaves the catalog behind the
index, never ahead of it, so the next run redoes the unfinished documents (their embeddings come
from the cache) and ends with the same index as an uninterrupted run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import partial
from hashlib import sha256
from typing import Any

import numpy as np

from connectors.base import Connector
from ingest.ahead import EmbedAhead, short_switch_interval
from ingest.chunk import ChunkBudget, chunk_document
from ingest.normalize import (
    RunningBoilerplate,
    boilerplate_keys,
    edge_line_keys,
    strip_boilerplate,
)
from ingest.parse import parse
from retrieval.embed import Embedder
from retrieval.sparse import Bm25Encoder
from retrieval.store import VectorStore
from steward.catalog import Catalog, DocumentRow, EdgeLines
from steward.domain import (
    Chunk,
    ChunkPayload,
    DocumentMeta,
    DocumentRef,
    Element,
    IndexedChunk,
    Partition,
    RawDocument,
    rfc3339,
    utc_now,
)
from steward.errors import DocumentError, SourceError
from steward.settings import IngestSettings
from steward.tracing import span

# Bump when parsing or chunking changes what a document turns into: documents re-process.
PIPELINE_REVISION = "7"  # 6: <details> text kept; 7: a source's acl caps front matter's

Progress = Callable[[str, int, int], None]


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    return None


def _sizes(size: int, limit: int) -> tuple[str, str]:
    """Both sizes in the limit's unit, so they compare at a glance."""
    unit, scale = next(
        ((u, s) for u, s in (("MB", 1 << 20), ("KB", 1 << 10)) if limit >= s), ("bytes", 1)
    )
    return f"{size / scale:.3g} {unit}", f"{limit / scale:.3g} {unit}"


def content_hash(raw: RawDocument) -> str:
    """What a document is at its source: its bytes, plus the metadata and time a connector
    reports beside them (a SQL row's owner, a commit's author), so a change to any is seen."""
    beside = json.dumps(
        [raw.title, raw.metadata, rfc3339(raw.ref.updated_at)], sort_keys=True, default=str
    )
    return sha256(raw.content + b"\0" + beside.encode()).hexdigest()


def document_id(source: str, key: str) -> str:
    """Stable document key: the same source and key give the same id on any machine."""
    return sha256(f"{source}\x00{key}".encode()).hexdigest()[:32]


@dataclass(slots=True)
class IngestSummary:
    source: str
    status: str = "ok"
    error: str | None = None
    incremental: bool = False  # only documents changed since a time were listed; no pruning
    listed: int = 0
    new: int = 0
    changed: int = 0
    metadata_only: int = 0  # front matter changed: payloads updated, nothing re-embedded
    moved: int = 0  # the same text under a new path: re-keyed, nothing re-embedded
    unchanged: int = 0
    deleted: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    chunks_embedded: int = 0
    chunks_cached: int = 0
    boilerplate_lines_removed: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    partition: str | None = None  # "2/8" for one bucket of a partitioned source
    # The boilerplate set a bucket's full run applied, for its next run (one bucket's documents
    # cannot say what set they were chunked under; the whole source's rows can).
    boilerplate: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _wrote(summary: IngestSummary) -> bool:
    """Whether the run changed the index (an unchanged resync leaves it as it was)."""
    return bool(
        summary.new or summary.changed or summary.moved or summary.metadata_only or summary.deleted
    )


@dataclass(slots=True)
class _Pending:
    doc_id: str
    ref: DocumentRef
    meta: DocumentMeta
    updated_at: datetime
    elements: list[Element]
    content_hash: str
    first_seen: datetime
    line_keys: list[str]
    is_new: bool
    body_hash: str = ""
    unchanged: bool = False  # same content, re-chunked because the boilerplate set moved
    moved_from: str | None = None  # the doc id this text had under its previous path


class IngestPipeline:
    """Runs ingests against one catalog and one store."""

    def __init__(
        self,
        catalog: Catalog,
        store: VectorStore,
        embedder: Embedder,
        sparse: Bm25Encoder,
        settings: IngestSettings,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.settings = settings
        self.batch_documents = settings.batch_documents
        self._ahead: set[str] = set()  # texts embedded ahead in this run, not yet counted
        self.version = sha256(
            "|".join(
                [
                    PIPELINE_REVISION,
                    embedder.name,
                    str(settings.chunk_tokens),
                    str(settings.chunk_overlap_tokens),
                    str(settings.boilerplate_min_share),
                    str(settings.boilerplate_min_docs),
                ]
            ).encode()
        ).hexdigest()[:16]

    def run(
        self,
        connector: Connector,
        progress: Progress = _no_progress,
        since: datetime | None = None,
        partition: Partition | None = None,
    ) -> IngestSummary:
        """Ingest the source; with `since`, only what the connector says changed after it.

        An incremental run needs a connector with `list_changed` (filesystem, SQL). It prunes
        nothing and keeps the boilerplate set as the last full run left it.

        With `partition`, only the documents of that bucket are read, written and pruned (the
        delete-share guard counts the bucket's). The boilerplate set is computed from the
        bucket's documents as read now and the other buckets' as the catalog has them, so
        once every bucket has run, the index is the one a whole run gives.
        """
        started = time.perf_counter()
        summary = IngestSummary(
            source=connector.source,
            incremental=since is not None,
            partition=str(partition) if partition is not None else None,
        )
        run_id = self.catalog.start_run(connector.source)
        try:
            with span("ingest", source=connector.source, run_id=run_id):
                self._run(connector, summary, progress, run_id, since, partition)
                if summary.status == "ok" and _wrote(summary):
                    with span("optimize"):
                        self.store.optimize()
            # A changes feed's position moves on only with a run that succeeded: after a
            # failure the next run must be shown the same changes (connectors.base).
            keep_position = getattr(connector, "keep_position", None)
            if summary.status == "ok" and keep_position is not None:
                keep_position()
        except SourceError as error:
            summary.status, summary.error = "failed", error.reason
        except BaseException as error:
            summary.status, summary.error = "failed", f"{type(error).__name__}: {error}"
            summary.seconds = time.perf_counter() - started
            self.catalog.finish_run(run_id, summary.status, summary.seconds, summary.as_dict())
            raise
        summary.seconds = time.perf_counter() - started
        self.catalog.finish_run(run_id, summary.status, summary.seconds, summary.as_dict())
        return summary

    def _run(
        self,
        connector: Connector,
        summary: IngestSummary,
        progress: Progress,
        run_id: int,
        since: datetime | None,
        partition: Partition | None = None,
    ) -> None:
        self.store.ensure_collection(self.embedder.dimension, self.embedder.name)
        with span("list", incremental=since is not None):
            refs = self._list(connector, since)
        known = self.catalog.documents_of(connector.source, partition)
        if partition is None:
            everything = [
                EdgeLines(r.doc_id, r.content_hash, r.line_hashes, r.body_hash, r.pipeline_version)
                for r in known.values()
            ]
        else:
            refs = [r for r in refs if partition.holds(document_id(r.source, r.key))]
            everything = self.catalog.edge_lines_of(connector.source)  # the other buckets' too
        others = [e for e in everything if e.doc_id not in known]
        summary.listed = len(refs)
        # Texts indexed under this pipeline already: a document with one of them is a move or a
        # metadata change, which embeds nothing, so it is not embedded ahead either.
        known_bodies = {e.body_hash for e in everything if e.pipeline_version == self.version}
        guess = RunningBoilerplate(
            self.settings.boilerplate_min_share, self.settings.boilerplate_min_docs
        )
        for edges in everything:
            guess.add(edges.content_hash, edges.line_hashes)
        ahead = EmbedAhead(self.catalog, self.embedder)

        def parsed(doc: _Pending) -> None:
            guess.add(doc.content_hash, doc.line_keys)
            if doc.body_hash not in known_bodies:
                boilerplate = guess.among(doc.line_keys)
                ahead.submit(partial(self._embed_texts, doc, boilerplate))

        # The parser and the model's thread hand the GIL to each other often (ingest.ahead).
        with short_switch_interval():
            try:
                with span("read", listed=len(refs)):
                    pending, kept, listed_ids = self._read(
                        connector, refs, known, summary, progress, parsed
                    )
            finally:
                self._ahead = ahead.close()

        # In an incremental run an unlisted document is not gone, so it is no move's origin.
        origins_out = listed_ids if since is None else listed_ids | set(known)
        pending, metadata_only = self._classify(pending, known, origins_out)
        previous = self._applied(connector.source, partition)
        if previous is None:
            previous = self._boilerplate([(e.content_hash, e.line_hashes) for e in everything])
        if since is None:
            boilerplate = self._boilerplate(
                [(p.content_hash, p.line_keys) for p in pending + metadata_only]
                + [(known[i].content_hash, known[i].line_hashes) for i in kept if i in known]
                + [(e.content_hash, e.line_hashes) for e in others]
            )
            if partition is not None:
                summary.boilerplate = sorted(boilerplate)
        else:
            boilerplate = previous  # a full sync recomputes it
        # Documents left as they were must be re-chunked when a line of theirs entered or left
        # the boilerplate set, or the index would differ from a fresh ingest of the same files.
        moved = previous ^ boilerplate
        for doc_id, ref in kept.items():
            row = known.get(doc_id)
            if row is None or not moved.intersection(row.line_hashes):
                continue
            try:
                pending.append(self._prepare(doc_id, connector.fetch(ref), row, unchanged=True))
            except DocumentError:
                continue  # already reported as skipped, or gone since: it keeps its chunks
        for doc in metadata_only:
            if moved.intersection(doc.line_keys):
                pending.append(doc)  # its text is re-chunked after all
            else:
                self._update_metadata(doc, known[doc.doc_id])
                summary.metadata_only += 1

        for start in range(0, len(pending), self.batch_documents):
            batch = pending[start : start + self.batch_documents]
            with span("index", documents=len(batch)):
                self._index_batch(batch, boilerplate, summary)
            progress("index", min(start + len(batch), len(pending)), len(pending))
        progress("index", len(pending), len(pending))

        if since is not None:
            self.catalog.mark_seen(listed_ids, run_id)
            return  # an incremental listing is not complete: nothing is pruned
        # Prune only after a complete listing; ids from the store too, so points written by a
        # run that died before its catalog write are not orphaned.
        indexed = set(known) | {
            i
            for i in self.store.document_ids(connector.source)
            if partition is None or partition.holds(i)
        }
        gone = sorted(indexed - listed_ids)
        moved_away = {p.moved_from for p in pending if p.moved_from}
        removed = len(set(known) - listed_ids - moved_away)
        share = self.settings.max_delete_share
        if known and removed > share * len(known):
            summary.status = "failed"
            summary.error = (
                f"the listing would delete {removed} of {len(known)} documents "
                f"({removed / len(known):.0%}), more than STEWARD_INGEST_MAX_DELETE_SHARE="
                f"{share:g}; nothing was deleted (if the removal is intended, re-run with "
                "--allow-deletes)"
            )
            return
        if gone:
            self.store.delete_documents(gone)
            self.catalog.delete_documents(gone, run_id)
        self.catalog.mark_seen(listed_ids, run_id)
        summary.deleted = removed

    def _applied(self, source: str, partition: Partition | None) -> set[str] | None:
        """The boilerplate set the bucket's last good full run chunked its documents under
        (None for a whole run, or a bucket's first: the rows' set is then the applied one)."""
        if partition is None:
            return None
        last = self.catalog.last_good_run(source, str(partition))
        found = (last.summary or {}).get("boilerplate") if last is not None else None
        return set(found) if isinstance(found, list) else None

    @staticmethod
    def _list(connector: Connector, since: datetime | None) -> list[DocumentRef]:
        """The whole listing, or with `since` what the connector says changed after it."""
        if since is None:
            return list(connector.list())  # a SourceError here prunes nothing
        changed = getattr(connector, "list_changed", None)
        if changed is None:
            raise SourceError(connector.source, "this connector cannot list changes since a time")
        return list(changed(since))

    def _read(
        self,
        connector: Connector,
        refs: list[DocumentRef],
        known: dict[str, DocumentRow],
        summary: IngestSummary,
        progress: Progress,
        parsed: Callable[[_Pending], None],
    ) -> tuple[list[_Pending], dict[str, DocumentRef], set[str]]:
        """Fetch and parse what changed; the parsed documents, the documents kept as they are,
        and every listed id. `parsed` hears of each document as it is parsed."""
        max_bytes = int(self.settings.max_file_mb * 1024 * 1024)
        pending: list[_Pending] = []
        kept: dict[str, DocumentRef] = {}  # documents whose indexed state stays as it is
        listed_ids: set[str] = set()
        for number, ref in enumerate(refs, start=1):
            progress("read", number, len(refs))
            doc_id = document_id(ref.source, ref.key)
            if doc_id in listed_ids:
                reason = f"key {ref.key!r} listed twice"
                summary.skipped.append({"source_uri": ref.source_uri, "reason": reason})
                continue
            listed_ids.add(doc_id)
            if ref.size > max_bytes:
                size, limit = _sizes(ref.size, max_bytes)
                reason = f"file of {size} is above the {limit} limit (STEWARD_INGEST_MAX_FILE_MB)"
                summary.skipped.append({"source_uri": ref.source_uri, "reason": reason})
                kept[doc_id] = ref
                continue
            try:
                raw = connector.fetch(ref)
                row = known.get(doc_id)
                if row is not None and self._unchanged(row, raw):
                    summary.unchanged += 1
                    kept[doc_id] = ref
                    continue
                doc = self._prepare(doc_id, raw, row)
                pending.append(doc)
                parsed(doc)
            except DocumentError as error:
                summary.skipped.append({"source_uri": ref.source_uri, "reason": error.reason})
                kept[doc_id] = ref
        return pending, kept, listed_ids

    def _classify(
        self, pending: list[_Pending], known: dict[str, DocumentRow], listed: set[str]
    ) -> tuple[list[_Pending], list[_Pending]]:
        """Split off metadata-only changes, and mark new paths whose text left an old path."""
        by_body = {
            row.body_hash: row
            for row in known.values()
            if row.doc_id not in listed and row.body_hash and row.pipeline_version == self.version
        }
        full: list[_Pending] = []
        metadata_only: list[_Pending] = []
        for doc in pending:
            row = known.get(doc.doc_id)
            if row is None:
                origin = by_body.pop(doc.body_hash, None)
                if origin is not None:
                    doc.moved_from, doc.first_seen = origin.doc_id, origin.first_seen
                full.append(doc)
            elif (
                row.body_hash == doc.body_hash
                and row.pipeline_version == self.version
                and row.title == doc.meta.title  # the title is embedded as context
            ):
                metadata_only.append(doc)
            else:
                full.append(doc)
        return full, metadata_only

    def _update_metadata(self, doc: _Pending, row: DocumentRow) -> None:
        """Payload and catalog follow the new metadata; chunks and vectors stay."""
        # The address too: a wiki page keyed by its id keeps its text when it moves.
        self.store.set_payload(
            doc.doc_id,
            {
                "owner": doc.meta.owner,
                "acl": doc.meta.acl,
                "updated_at": rfc3339(doc.updated_at),
                "source_uri": doc.ref.source_uri,
            },
        )
        self.catalog.save_documents(
            [
                replace(
                    row,
                    source_uri=doc.ref.source_uri,
                    content_hash=doc.content_hash,
                    owner=doc.meta.owner,
                    review_by=doc.meta.review_by,
                    review_interval_days=doc.meta.review_interval_days,
                    tags=doc.meta.tags,
                    acl=doc.meta.acl,
                    updated_at=doc.updated_at,
                    size=doc.ref.size,
                    last_ingested=utc_now(),
                )
            ]
        )

    def _unchanged(self, row: DocumentRow, raw: RawDocument) -> bool:
        return row.content_hash == content_hash(raw) and row.pipeline_version == self.version

    def _boilerplate(self, documents: list[tuple[str, list[str]]]) -> set[str]:
        return boilerplate_keys(
            documents, self.settings.boilerplate_min_share, self.settings.boilerplate_min_docs
        )

    def _prepare(
        self, doc_id: str, raw: RawDocument, row: DocumentRow | None, unchanged: bool = False
    ) -> _Pending:
        elements, meta, front_updated = parse(raw)
        return _Pending(
            doc_id=doc_id,
            ref=raw.ref,
            meta=meta,
            updated_at=front_updated or raw.ref.updated_at,
            elements=elements,
            content_hash=content_hash(raw),
            first_seen=row.first_seen if row else utc_now(),
            line_keys=edge_line_keys([e.text for e in elements]),
            is_new=row is None,
            body_hash=sha256(
                "\n".join(f"{e.kind}:{e.depth}:{e.text}" for e in elements).encode()
            ).hexdigest(),
            unchanged=unchanged,
        )

    def _index_batch(
        self, batch: Sequence[_Pending], boilerplate: set[str], summary: IngestSummary
    ) -> None:
        chunked: list[tuple[_Pending, list[Chunk]]] = []
        for doc in batch:
            chunks, removed = self._chunk(doc, boilerplate)
            summary.boilerplate_lines_removed += removed
            chunked.append((doc, chunks))

        vectors = self._embed([c for _, chunks in chunked for c in chunks], summary)
        now = rfc3339(utc_now())
        points: list[IndexedChunk] = []
        rows: list[DocumentRow] = []
        for doc, chunks in chunked:
            points.extend(
                IndexedChunk(
                    chunk_id=c.chunk_id,
                    dense=vectors[c.embed_text].tolist(),
                    sparse=self.sparse.encode_document(c.embed_text),
                    payload=ChunkPayload(
                        doc_id=doc.doc_id,
                        source=doc.ref.source,
                        source_uri=doc.ref.source_uri,
                        title=doc.meta.title,
                        section=c.section,
                        text=c.text,
                        updated_at=rfc3339(doc.updated_at),
                        ingested_at=now,
                        content_hash=c.content_hash,
                        owner=doc.meta.owner,
                        acl=doc.meta.acl,
                        ordinal=c.ordinal,
                    ),
                )
                for c in chunks
            )
            rows.append(
                DocumentRow(
                    doc_id=doc.doc_id,
                    source=doc.ref.source,
                    key=doc.ref.key,
                    source_uri=doc.ref.source_uri,
                    content_hash=doc.content_hash,
                    pipeline_version=self.version,
                    title=doc.meta.title,
                    owner=doc.meta.owner,
                    review_by=doc.meta.review_by,
                    review_interval_days=doc.meta.review_interval_days,
                    tags=doc.meta.tags,
                    acl=doc.meta.acl,
                    updated_at=doc.updated_at,
                    size=doc.ref.size,
                    first_seen=doc.first_seen,
                    last_ingested=utc_now(),
                    chunk_ids=[c.chunk_id for c in chunks],
                    line_hashes=doc.line_keys,
                    body_hash=doc.body_hash,
                )
            )
            summary.chunks += len(chunks)
            if doc.moved_from:
                summary.moved += 1
            elif doc.is_new:
                summary.new += 1
            elif not doc.unchanged:
                summary.changed += 1
        self.store.upsert(points)
        for doc, chunks in chunked:
            self.store.delete_stale_chunks(doc.doc_id, [c.chunk_id for c in chunks])
        self.catalog.save_documents(rows)  # last: the catalog never runs ahead of the index

    def _chunk(self, doc: _Pending, boilerplate: set[str]) -> tuple[list[Chunk], int]:
        """The document's chunks without the boilerplate lines, and how many lines went."""
        budget = ChunkBudget(
            max_tokens=min(self.settings.chunk_tokens, self.embedder.max_tokens),
            overlap_tokens=self.settings.chunk_overlap_tokens,
        )
        kept, removed = strip_boilerplate(doc.elements, boilerplate)
        chunks = chunk_document(
            doc.doc_id,
            doc.meta.title,
            kept,
            budget,
            self.embedder.count_tokens,
            self.embedder.encode_tokens,
        )
        return chunks, removed

    def _embed_texts(self, doc: _Pending, boilerplate: set[str]) -> list[str]:
        return [c.embed_text for c in self._chunk(doc, boilerplate)[0]]

    def _embed(self, chunks: Sequence[Chunk], summary: IngestSummary) -> dict[str, np.ndarray]:
        """Vectors by embed text; identical texts are embedded once, cached ones not at all.

        Texts embedded ahead during this run (ingest.ahead) count as embedded, once.
        """
        by_hash = {sha256(c.embed_text.encode()).hexdigest(): c.embed_text for c in chunks}
        cached = self.catalog.cached_embeddings(self.embedder.name, list(by_hash))
        missing = [h for h in by_hash if h not in cached]
        started = time.perf_counter()
        fresh = self.embedder.embed_documents([by_hash[h] for h in missing])
        summary.embed_seconds += time.perf_counter() - started
        new_vectors = dict(zip(missing, fresh, strict=True))
        self.catalog.cache_embeddings(self.embedder.name, new_vectors)
        ahead = self._ahead.intersection(cached)
        self._ahead -= ahead
        summary.chunks_embedded += len(missing) + len(ahead)
        summary.chunks_cached += len(by_hash) - len(missing) - len(ahead)
        every = {**cached, **new_vectors}
        return {text: every[h] for h, text in by_hash.items()}
