"""Markdown to elements without unstructured: the same elements its `partition_md` gives.

`partition_md` renders Markdown to HTML with Python-Markdown (tables, fenced code) and walks
the tree with unstructured's HTML parser, which is structural: headings are titles, list items
list items, tables tables, and a paragraph is text unless it opens with a bullet. Its cost is
the wrapping around that walk (language detection, element ids, metadata, its imports). This
module renders the same HTML and walks it the same way, for the tags Python-Markdown writes and
the plain HTML a page commonly carries; a page with anything else (`Unsupported`) is left to
unstructured, so the result never differs from it. tests/test_fast_parse.py compares the two.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterator

from lxml import etree

from ingest.normalize import normalize_text
from steward.domain import Element, ElementKind

_MARKDOWN_EXTENSIONS = ["tables", "fenced_code"]  # partition_md's defaults

_FLOW = {"address", "article", "aside", "blockquote", "body", "center", "div", "footer"}
_FLOW |= {"header", "hgroup", "main", "section"}
_HEADINGS = {f"h{level}": level - 1 for level in range(1, 7)}
_LISTS = {"ol", "ul", "dl"}
_LIST_ITEMS = {"li", "dd"}
_BLOCK_ITEMS = {"p", "dt"}
_REMOVED_BLOCKS = {"hr", "figure", "nav", "template", "form", "input", "summary", "details"}
_PHRASING = {"a", "b", "em", "i", "strong", "abbr", "bdi", "bdo", "big", "cite", "code", "data"}
_PHRASING |= {"dfn", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "sub", "sup"}
_PHRASING |= {"time", "tt", "u", "var", "wbr"}
_STRIPPED = ["del", "link", "meta", "noscript", "script", "style"]

_parser = etree.HTMLParser(remove_comments=True, remove_pis=True)
_converters = threading.local()  # one Markdown converter per thread (they keep state)
_bullet_re: re.Pattern[str] | None = None


class Unsupported(Exception):
    """HTML this module does not walk as unstructured would; use unstructured."""


def _bullet() -> re.Pattern[str]:
    global _bullet_re
    if _bullet_re is None:
        from unstructured.nlp.patterns import UNICODE_BULLETS_RE

        _bullet_re = UNICODE_BULLETS_RE
    return _bullet_re


def _tag(node: etree._Element) -> str:
    if not isinstance(node.tag, str):
        raise Unsupported("an entity or other special node")
    return node.tag


def _is_phrasing(node: etree._Element) -> bool:
    tag = _tag(node)
    if tag in _PHRASING or tag == "br":
        return True
    if tag in _FLOW or tag in _HEADINGS or tag in _LISTS or tag in _LIST_ITEMS:
        return False
    if tag in _BLOCK_ITEMS or tag in _REMOVED_BLOCKS or tag in ("pre", "img", "table"):
        return False
    raise Unsupported(tag)


def _segments(node: etree._Element) -> Iterator[str]:
    """The text of a phrasing element and its tail; a block inside one is unsupported."""
    if _tag(node) == "br":
        yield "\n"
    else:
        if node.get("class") and "katex" in node.get("class", ""):
            raise Unsupported("KaTeX")
        yield node.text or ""
        for child in node:
            if not _is_phrasing(child):
                raise Unsupported("a block inside phrasing")
            yield from _segments(child)
    yield node.tail or ""


class _Walk:
    """unstructured's v1 HTML parser (partition/html/parser.py), for the supported tags; yields
    (category, text, depth)."""

    def elements(self, node: etree._Element) -> Iterator[tuple[str, str, int]]:
        tag = _tag(node)
        if tag in _REMOVED_BLOCKS or tag == "img":
            return  # an image's alt text is an Image element, which parse drops
        if tag == "table":
            yield from self._table(node)
            return
        if tag in _LIST_ITEMS and self._unwrap(node):
            child = node[0]
            yield from self._text(node, child.text or "", deque(child), "ListItem")
            return
        own = "Title" if tag in _HEADINGS else "ListItem" if tag in _LIST_ITEMS else None
        if tag == "pre":
            own = "CodeSnippet"
        queue: deque[etree._Element] = deque(node)
        yield from self._text(node, node.text or "", queue, own)
        while queue:
            block = queue.popleft()
            yield from self.elements(block)
            yield from self._text(node, block.tail or "", queue, None)

    def _unwrap(self, item: etree._Element) -> bool:
        """A list item holding one paragraph (a loose list): the paragraph is the item."""
        if len(item) != 1 or (item.text or "").strip():
            return False
        child = item[0]
        tag = _tag(child)
        return (
            (tag in _FLOW or tag in _BLOCK_ITEMS)
            and not (child.tail or "").strip()
            and all(_is_phrasing(d) for d in child.iterdescendants())
        )

    def _text(
        self, node: etree._Element, text: str, queue: deque[etree._Element], own: str | None
    ) -> Iterator[tuple[str, str, int]]:
        parts = [text]
        while queue and _is_phrasing(queue[0]):
            parts.extend(_segments(queue.popleft()))
        joined = "".join(parts)
        if _tag(node) == "pre":
            start = 1 if joined.startswith("\n") else 0
            end = -1 if joined.endswith("\n") else len(joined)
            normalized = joined[start:end]
        else:
            normalized = " ".join(joined.split())
        if not normalized:
            return
        category = own
        if category is None:
            if _bullet().match(normalized.strip()):
                category = "ListItem"
                normalized = _bullet().sub("", normalized, 1).strip()
                if not normalized:
                    return
            elif len(normalized) < 2:
                return  # unstructured drops a lone character
            else:
                category = "Text"
        yield category, normalized, _HEADINGS.get(_tag(node), 0) if category == "Title" else 0

    def _table(self, table: etree._Element) -> Iterator[tuple[str, str, int]]:
        rows: list[list[str]] = []
        texts: list[str] = []

        def row(tr: etree._Element) -> None:
            cells = [c for c in tr if c.tag in ("th", "td")]
            cell_texts = [" ".join(t.strip() for t in c.itertext() if t.strip()) for c in cells]
            texts.append(" ".join(t for t in cell_texts if t))
            if cells:
                rows.append([normalize_text(" ".join(t.split())) for t in cell_texts])

        for child in table:
            if child.tag == "caption":
                raise Unsupported("a table caption")
            if child.tag == "tr":
                row(child)
            elif child.tag in ("thead", "tbody", "tfoot"):
                for tr in child:
                    if tr.tag == "tr":
                        row(tr)
        if not " ".join(texts).strip():
            return
        # As parse's _table_rows reads unstructured's table HTML: one line per row, not normalized.
        lines = "\n".join("| " + " | ".join(r) + " |" for r in rows if any(r))
        yield "Table", lines or normalize_text(" ".join(texts)), 0


def _to_html(body: str) -> str:
    """`markdown.markdown(body, extensions=...)`, by a converter this thread keeps: building
    one (its extensions' processors and patterns) cost more than converting a page did (0.45
    of 0.81 ms a page on the messy msmarco KB, profiled). Reset before each page, so nothing
    of the last one (reference links, stashed HTML, footnotes) reaches the next."""
    converter = getattr(_converters, "markdown", None)
    if converter is None:
        import markdown

        converter = _converters.markdown = markdown.Markdown(extensions=_MARKDOWN_EXTENSIONS)
    html: str = converter.reset().convert(body)
    return html


def markdown_elements(body: str) -> list[Element]:
    """The elements unstructured's `partition_md(text=body)` gives, as parse keeps them;
    `Unsupported` when the page holds HTML this module does not walk."""
    html = _to_html(body)
    if not html.strip():
        return []
    try:
        root = etree.fromstring(html, _parser)
    except ValueError:
        root = etree.fromstring(html.encode("utf-8"), _parser)
    if root is None:
        return []
    etree.strip_elements(root, _STRIPPED, with_tail=False)
    main = root.find(".//main")
    if main is None:
        main = root.find(".//body")
    if main is None or _tag(root) != "html":
        raise Unsupported("no body")
    elements: list[Element] = []
    for category, text, depth in _Walk().elements(main):
        clean = text if category == "Table" else normalize_text(text)
        if not clean:
            continue
        if category == "Title":
            elements.append(Element(ElementKind.TITLE, clean, depth=depth))
        elif category == "ListItem":
            elements.append(Element(ElementKind.LIST_ITEM, clean))
        elif category == "Table":
            elements.append(Element(ElementKind.TABLE, clean))
        else:
            elements.append(Element(ElementKind.TEXT, clean))
    return elements
