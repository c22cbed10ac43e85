"""Structure-aware chunking bounded in word pieces, so the model never truncates a chunk."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from hashlib import sha256

from steward.domain import Chunk, Element, ElementKind

# Chunk ids are uuid5 under this namespace: stable across runs and machines (see chunk_id).
CHUNK_NAMESPACE = uuid.UUID("6d1c3b0e-8a57-4c55-9a5e-1f3f4c2b7a10")


def text_hash(text: str) -> str:
    """The content hash of a chunk or document text: sha256 hex, stable forever."""
    return sha256(text.encode("utf-8")).hexdigest()


def chunk_id(doc_id: str, content_hash: str, occurrence: int) -> str:
    """Deterministic point id: re-ingesting upserts; an unchanged chunk keeps its id."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_id}:{content_hash}:{occurrence}"))


@dataclass(frozen=True, slots=True)
class ChunkBudget:
    max_tokens: int  # the whole embedded text, context included
    overlap_tokens: int


def _sections(title: str, elements: Sequence[Element]) -> list[tuple[str, list[Element]]]:
    """Group body elements under their heading path; the document title is not repeated."""
    stack: list[tuple[int, str]] = []
    blocks: list[tuple[str, list[Element]]] = []
    for element in elements:
        if element.kind is ElementKind.TITLE:
            while stack and stack[-1][0] >= element.depth:
                stack.pop()
            stack.append((element.depth, element.text))
            continue
        path = " > ".join(text for _, text in stack if text.casefold() != title.casefold())
        if blocks and blocks[-1][0] == path:
            blocks[-1][1].append(element)
        else:
            blocks.append((path, [element]))
    return blocks


def _context(title: str, section: str) -> str:
    return "\n".join(part for part in (title, section) if part)


def _fit_title(title: str, limit: int, count_tokens: Callable[[Sequence[str]], list[int]]) -> str:
    """The title cut at a word boundary to at most `limit` word pieces."""
    words = title.split()
    size = count_tokens([title])[0]
    while size > limit and len(words) > 1:
        words = words[: max(1, len(words) * limit // size - 1)]
        size = count_tokens([" ".join(words)])[0]
    return " ".join(words) if size <= limit else ""


def chunk_document(
    doc_id: str,
    title: str,
    elements: Sequence[Element],
    budget: ChunkBudget,
    count_tokens: Callable[[Sequence[str]], list[int]],
    encode_tokens: Callable[[str], list[int]],
) -> list[Chunk]:
    """Chunks by section, each embedded with its title and section path as context.

    A short section whose text fits whole into the open chunk (while that chunk is under half
    the budget) joins it, its heading carried into the text as a line; otherwise a section
    starts a new chunk under its own path. Paragraphs are packed whole while they fit; one
    longer than the budget is split at sentence boundaries by LlamaIndex's SentenceSplitter,
    measured in the model's word pieces.
    """
    # The context (title + section) may take at most half of the budget.
    title = _fit_title(title, budget.max_tokens // 2, count_tokens)
    blocks = _sections(title, elements)
    sizes = count_tokens([e.text for _, block in blocks for e in block])
    headings = [section.rsplit(" > ", 1)[-1] for section, _ in blocks]
    heading_sizes = count_tokens(headings)
    context_sizes = count_tokens([_context(title, section) for section, _ in blocks])

    pieces: list[tuple[str, str]] = []  # (section, text)
    section, room, used = "", 0, 0
    current: list[str] = []

    def flush() -> None:
        nonlocal current, used
        if current:
            pieces.append((section, "\n".join(current)))
        current, used = [], 0

    position = 0
    for (block_section, block), heading, heading_size, context_size in zip(
        blocks, headings, heading_sizes, context_sizes, strict=True
    ):
        block_sizes = sizes[position : position + len(block)]
        position += len(block)
        whole = heading_size + 1 + sum(size + 1 for size in block_sizes)
        if current and heading and used < room // 2 and used + whole <= room:
            current.append(heading)  # a short section joins the open chunk whole
            used += heading_size + 1
        else:
            flush()
            section = block_section
            if context_size > budget.max_tokens // 2:
                section, context_size = "", count_tokens([title])[0]
            room = max(16, budget.max_tokens - context_size - 2)
        for element, size in zip(block, block_sizes, strict=True):
            if size > room:
                flush()
                # Imported here: llama_index.core takes about a second to import, and only a
                # paragraph longer than a chunk needs it.
                from llama_index.core.node_parser import SentenceSplitter

                splitter = SentenceSplitter(
                    chunk_size=room,
                    chunk_overlap=min(budget.overlap_tokens, room // 4),
                    tokenizer=encode_tokens,
                )
                pieces.extend((section, part) for part in splitter.split_text(element.text))
                continue
            if used + size > room and current:
                flush()
            current.append(element.text)
            used += size + 1
    flush()

    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for ordinal, (section, text) in enumerate(pieces):
        digest = text_hash(text)
        occurrence = seen.get(digest, 0)
        seen[digest] = occurrence + 1
        context = _context(title, section)
        embed_text = f"{context}\n\n{text}" if context else text
        chunks.append(
            Chunk(
                chunk_id=chunk_id(doc_id, digest, occurrence),
                doc_id=doc_id,
                ordinal=ordinal,
                section=section,
                text=text,
                embed_text=embed_text,
                content_hash=digest,
                token_count=0,
            )
        )
    final_counts = count_tokens([c.embed_text for c in chunks])
    return [replace(c, token_count=n) for c, n in zip(chunks, final_counts, strict=True)]
