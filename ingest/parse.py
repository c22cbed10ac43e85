"""Turn raw bytes into structured elements with unstructured, offline.

Markdown and plain text take fast paths (ingest/markdown.py, ingest/plain_text.py) that give
the elements unstructured's partitioners give at a fraction of the cost; a Markdown page with
HTML they do not walk goes to unstructured. HTML and DOCX go to unstructured.

PDFs: unstructured's `partition_pdf` imports unstructured-inference (and a CUDA torch) even for
its text strategy, so pdfminer reads the text lines with their type sizes and positions, and
headings and paragraphs are recovered from those. Text PDFs only; there is no OCR.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any

# unstructured phones home and prints a notice unless told not to; set before importing it.
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler

from ingest.markdown import Unsupported, markdown_elements
from ingest.normalize import normalize_text
from ingest.plain_text import text_elements
from ingest.spacy_model import use_bundled_spacy_model
from steward.access import within
from steward.domain import DocumentMeta, Element, ElementKind, RawDocument
from steward.errors import DocumentError

# unstructured's HTML partitioner drops a <details> element whole, summary and body: on the 18F
# handbook that hid 40 % of some pages (compliance notes, alternatives, FAQs) from the index.
_DETAILS_TAG = re.compile(r"<(/?)(?:details|summary)\b[^>]*>", re.IGNORECASE)


def _unfold_markdown(body: str) -> str:
    """Collapsible blocks as ordinary paragraphs, their Markdown parsed like the rest."""
    return _DETAILS_TAG.sub("\n\n", body)


def _unfold_html(html: str) -> str:
    """Collapsible blocks as ordinary blocks, so their text is kept."""
    return _DETAILS_TAG.sub(r"<\1div>", html)


def decode_text(raw: RawDocument) -> str:
    """UTF-8 (with or without BOM), else the legacy Windows code page; binary is refused."""
    data = raw.content
    if not data.strip():
        raise DocumentError(raw.ref.source_uri, "empty file")
    if b"\x00" in data[:8192]:
        raise DocumentError(raw.ref.source_uri, "binary content in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # A few stray bytes in otherwise valid UTF-8 (a bad paste) are replaced, not a reason to
    # misread every accented letter as Windows-1252.
    lenient = data.decode("utf-8-sig", errors="replace")
    if lenient.count("\ufffd") <= max(1, len(lenient) // 2000):
        return lenient
    text = data.decode("cp1252", errors="replace")
    # Too many undecodable bytes means this is not text in any legacy encoding either.
    if text.count("\ufffd") > max(4, len(text) // 100):
        raise DocumentError(raw.ref.source_uri, "not valid text in UTF-8 or Windows-1252")
    return text


class _Cells(HTMLParser):
    """Rows of cells from a table's HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(normalize_text(" ".join(self._cell)))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _table_rows(html: str) -> str:
    """A table as one line per row, cells joined by " | ", so each row reads as one statement
    (a flattened table runs every row's values together)."""
    if not html:
        return ""
    cells = _Cells()
    cells.feed(html)
    # Markdown's row syntax: a row reads as one statement wherever the text goes next.
    lines = ["| " + " | ".join(row) + " |" for row in cells.rows if any(row)]
    return "\n".join(lines)


def _elements_from_unstructured(items: list[Any], page: int | None = None) -> list[Element]:
    elements: list[Element] = []
    for item in items:
        category = getattr(item, "category", "")
        text = normalize_text(item.text or "")
        if not text or category in {"Header", "Footer", "PageBreak", "Image", "PageNumber"}:
            continue
        if category == "Title":
            depth = item.metadata.category_depth or 0
            elements.append(Element(ElementKind.TITLE, text, depth=depth, page=page))
        elif category == "ListItem":
            elements.append(Element(ElementKind.LIST_ITEM, text, page=page))
        elif category == "Table":
            rows = _table_rows(getattr(item.metadata, "text_as_html", None) or "")
            elements.append(Element(ElementKind.TABLE, rows or text, page=page))
        else:
            elements.append(Element(ElementKind.TEXT, text, page=page))
    return elements


def _partition_text(text: str, page: int | None = None) -> list[Element]:
    use_bundled_spacy_model()
    from unstructured.partition.text import partition_text

    return _elements_from_unstructured(partition_text(text=text), page)


# YAML aliases in one front matter. SafeLoader shares an aliased node instead of copying it,
# but everything that walks the metadata afterwards (list coercion, the catalog's JSON) expands
# it: nine anchors of nine aliases each ("billion laughs") is 81 aliases and 9**9 values.
# Hand-written front matter uses a few at most.
MAX_FRONT_MATTER_ALIASES = 16
# A .docx is a zip: its parts' total unpacked size, refused above this before unzipping
# (a few MB of zip can declare gigabytes of XML).
MAX_DOCX_UNPACKED_BYTES = 256 * 1024 * 1024


# libyaml's loader where PyYAML was built with it: the pure-Python one took 0.34 ms for a
# three-key front matter, a tenth of a Markdown page's whole parse.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _BoundedYAMLHandler(YAMLHandler):
    """YAML front matter, refused when it uses more aliases than MAX_FRONT_MATTER_ALIASES."""

    def load(self, fm: str, **kwargs: object) -> Any:
        # Counted on the event stream, which never expands an alias.
        events = yaml.parse(fm, Loader=_SAFE_LOADER)
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in events)
        if aliases > MAX_FRONT_MATTER_ALIASES:
            raise yaml.YAMLError(
                f"{aliases} YAML aliases, more than the {MAX_FRONT_MATTER_ALIASES} allowed"
            )
        kwargs.setdefault("Loader", _SAFE_LOADER)
        return super().load(fm, **kwargs)


def partition_markdown(body: str) -> list[Element]:
    """unstructured's partition_md, as parse keeps its elements (the fast path's reference)."""
    use_bundled_spacy_model()
    from unstructured.partition.md import partition_md

    return _elements_from_unstructured(partition_md(text=body))


def partition_plain_text(text: str) -> list[Element]:
    """unstructured's partition_text, as parse keeps its elements (the fast path's reference)."""
    return _partition_text(text)


def _parse_markdown(raw: RawDocument) -> tuple[list[Element], dict[str, Any]]:
    text = decode_text(raw)
    try:
        handler = frontmatter.detect_format(text, frontmatter.handlers)
        if isinstance(handler, YAMLHandler):
            handler = _BoundedYAMLHandler()
        post = frontmatter.loads(text, handler=handler)
        body, meta = post.content, dict(post.metadata)
    except (yaml.YAMLError, ValueError) as error:
        raise DocumentError(raw.ref.source_uri, f"invalid front matter: {error}") from None
    if not body.strip():
        return [], meta
    body = _unfold_markdown(body)
    try:
        return markdown_elements(body), meta
    except Unsupported:  # HTML in the page that only unstructured walks right
        return partition_markdown(body), meta


def _parse_plain(raw: RawDocument) -> tuple[list[Element], dict[str, Any]]:
    return text_elements(decode_text(raw)), {}


def _parse_html(raw: RawDocument) -> tuple[list[Element], dict[str, Any]]:
    use_bundled_spacy_model()
    from unstructured.partition.html import partition_html

    return _elements_from_unstructured(partition_html(text=_unfold_html(decode_text(raw)))), {}


def _parse_docx(raw: RawDocument) -> tuple[list[Element], dict[str, Any]]:
    use_bundled_spacy_model()
    from unstructured.partition.docx import partition_docx

    if not raw.content:
        raise DocumentError(raw.ref.source_uri, "empty file")
    unpacked = _zip_unpacked_size(raw.content)
    if unpacked is not None and unpacked > MAX_DOCX_UNPACKED_BYTES:
        raise DocumentError(
            raw.ref.source_uri,
            f"DOCX unpacks to {unpacked / 2**20:.1f} MB, above the limit of "
            f"{MAX_DOCX_UNPACKED_BYTES / 2**20:.1f} MB",
        )
    try:
        items = partition_docx(file=io.BytesIO(raw.content))
    except Exception as error:  # python-docx raises many types on a damaged package
        raise DocumentError(
            raw.ref.source_uri, f"unreadable DOCX ({type(error).__name__})"
        ) from None
    return _elements_from_unstructured(items), {}


def _zip_unpacked_size(content: bytes) -> int | None:
    """The total size a zip declares for its members; None when it is not a readable zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None  # partition_docx then names it an unreadable DOCX


@dataclass(frozen=True, slots=True)
class _PdfLine:
    page: int
    size: float  # median glyph size
    top: float
    bottom: float
    text: str


def _pdf_lines(content: bytes) -> list[_PdfLine]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTChar, LTTextContainer, LTTextLine

    lines: list[_PdfLine] = []
    for number, page in enumerate(extract_pages(io.BytesIO(content)), start=1):
        for box in page:
            if not isinstance(box, LTTextContainer):
                continue
            for line in box:
                if not isinstance(line, LTTextLine):
                    continue
                text = " ".join(line.get_text().split())
                sizes = sorted(c.size for c in line if isinstance(c, LTChar))
                if text and sizes:
                    lines.append(_PdfLine(number, sizes[len(sizes) // 2], line.y1, line.y0, text))
    return lines


def _pdf_elements(lines: list[_PdfLine]) -> list[Element]:
    """Headings by type size, paragraphs by vertical gaps: the layout a text PDF does keep."""
    weight: Counter[float] = Counter()
    for line in lines:
        weight[round(line.size, 1)] += len(line.text)
    body = weight.most_common(1)[0][0]
    heading_sizes = sorted({round(x.size, 1) for x in lines if x.size > body * 1.15}, reverse=True)
    elements: list[Element] = []
    paragraph: list[_PdfLine] = []

    def close() -> None:
        if paragraph:
            text = normalize_text(" ".join(x.text for x in paragraph))
            elements.append(Element(ElementKind.TEXT, text, page=paragraph[0].page))
            paragraph.clear()

    for line in lines:
        size = round(line.size, 1)
        if size in heading_sizes and len(line.text) <= 200:
            close()
            depth = heading_sizes.index(size)
            elements.append(Element(ElementKind.TITLE, line.text, depth=depth, page=line.page))
            continue
        if paragraph:
            previous = paragraph[-1]
            gap = previous.bottom - line.top
            if previous.page != line.page or gap > 0.6 * body or gap < -body:
                close()  # a blank line's worth of space, a new page or a new column
        paragraph.append(line)
    close()
    return elements


def _parse_pdf(raw: RawDocument) -> tuple[list[Element], dict[str, Any]]:
    # Text PDFs only: headings are told by type size, paragraphs by vertical gaps. unstructured's
    # partition_pdf cannot be used (see the module docstring), and its text heuristics take
    # every short wrapped line of a PDF for a heading.
    if not raw.content:
        raise DocumentError(raw.ref.source_uri, "empty file")
    try:
        lines = _pdf_lines(raw.content)
    except Exception as error:  # pdfminer raises a zoo of types on a damaged file
        raise DocumentError(
            raw.ref.source_uri, f"unreadable PDF ({type(error).__name__})"
        ) from None
    if not lines:
        raise DocumentError(raw.ref.source_uri, "PDF has no extractable text (scanned? no OCR)")
    return _pdf_elements(lines), {}


def _parse_record(raw: RawDocument) -> tuple[list[Element], dict[str, Any]]:
    # Records are already plain text: paragraphs become elements without a partitioner pass.
    text = normalize_text(raw.content.decode("utf-8"))
    return [Element(ElementKind.TEXT, part) for part in text.split("\n\n") if part.strip()], {}


PARSERS: dict[str, Callable[[RawDocument], tuple[list[Element], dict[str, Any]]]] = {
    "text/markdown": _parse_markdown,
    "text/plain": _parse_plain,
    "text/html": _parse_html,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _parse_docx,
    "application/pdf": _parse_pdf,
    "text/x-record": _parse_record,
}


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(part).strip() for part in value if str(part).strip()]
    return [str(value)]


def _as_date(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    try:
        return date.fromisoformat(str(value)).isoformat()
    except ValueError:
        return None


def _as_days(value: object) -> int | None:
    """A positive whole number of days from front matter; anything else is ignored."""
    if isinstance(value, bool):
        return None
    try:
        days = int(str(value).strip())
    except ValueError:
        return None
    return days if days > 0 else None


def parse(raw: RawDocument) -> tuple[list[Element], DocumentMeta, datetime | None]:
    """Elements, metadata, and the front matter's `updated` date when it has one."""
    parser = PARSERS.get(raw.media_type)
    if parser is None:
        raise DocumentError(raw.ref.source_uri, f"no parser for {raw.media_type}")
    elements, parsed_front = parser(raw)
    front = {**raw.metadata, **parsed_front}  # front matter wins over the connector's metadata
    if not elements:
        raise DocumentError(raw.ref.source_uri, "no text content")
    if all(e.kind is ElementKind.TITLE for e in elements):
        # unstructured takes a lone short line for a heading; a note of one line is still text.
        elements = [Element(ElementKind.TEXT, e.text, page=e.page) for e in elements]
    first_title = next((e.text for e in elements if e.kind is ElementKind.TITLE), None)
    stem = raw.ref.key.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("-", " ").replace("_", " ")
    title = str(front.get("title") or raw.title or first_title or stem).strip()
    meta = DocumentMeta(
        title=normalize_text(title),
        owner=str(front["owner"]) if front.get("owner") else None,
        review_by=_as_date(front.get("review_by")),
        review_interval_days=_as_days(front.get("review_interval_days")),
        tags=_as_list(front.get("tags")),
        # The connector's groups (the source's) are a ceiling the front matter may only narrow.
        acl=within(
            _as_list(raw.metadata.get("acl")),
            _as_list(parsed_front["acl"]) if "acl" in parsed_front else None,
        ),
    )
    updated = _as_date(front.get("updated"))
    updated_at = datetime.fromisoformat(updated + "T00:00:00+00:00") if updated else None
    return elements, meta, updated_at
