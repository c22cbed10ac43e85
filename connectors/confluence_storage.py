"""Confluence storage format (XHTML with `ac:` and `ri:` elements) as plain HTML.

The page then goes through the HTML parser like any web page, so headings, lists and tables
come out as the same elements (ingest/parse.py). Macros are reduced to what a reader sees:
a code block's code, a panel's or an expand's body, a link's text, a task list's tasks; macros
that only render other pages (table of contents, children, Jira queries) and images are dropped.
"""

from __future__ import annotations

import re
from html import escape
from html.entities import name2codepoint

from lxml import etree

_NS = {
    "ac": "http://atlassian.com/content",
    "ri": "http://atlassian.com/resource/identifier",
    "at": "http://atlassian.com/template",
}
_AC = "{" + _NS["ac"] + "}"
_RI = "{" + _NS["ri"] + "}"
# HTML tags kept as they are; anything else is unwrapped (its text kept).
_KEEP = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "table", "thead", "tbody",
    "tfoot", "tr", "th", "td", "pre", "code", "blockquote", "strong", "em", "b", "i", "u",
    "s", "sub", "sup", "div", "span", "br", "hr", "dl", "dt", "dd", "a", "caption",
}  # fmt: skip
_VOID = {"br", "hr"}
# Macros whose body is prose the reader sees.
_CODE_MACROS = {"code", "noformat"}
# Macros that render something else (other pages, a query, navigation): nothing of their own.
_DROPPED_MACROS = {
    "toc", "children", "pagetree", "attachments", "jira", "recently-updated", "contentbylabel",
    "livesearch", "include", "excerpt-include", "gallery", "roadmap", "anchor", "status",
}  # fmt: skip
_DROPPED = {f"{_AC}image", f"{_AC}emoticon", f"{_AC}placeholder", f"{_AC}parameter"}
_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = {"amp", "lt", "gt", "quot", "apos"}
_PARAGRAPH = re.compile(r"</?p>")


def _numeric_entities(text: str) -> str:
    """HTML's named entities (&nbsp;, &mdash;) as numeric ones, which XML reads without a DTD."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in _XML_ENTITIES or name not in name2codepoint:
            return match.group(0)
        return f"&#{name2codepoint[name]};"

    return _ENTITY.sub(replace, text)


def _parse(storage: str) -> etree._Element:
    declarations = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in _NS.items())
    document = f"<root {declarations}>{_numeric_entities(storage)}</root>"
    # No DTD, no entities resolved, no network: a page's body is untrusted input.
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    root = etree.fromstring(document.encode("utf-8"), parser)
    if root is None:
        return etree.Element("root")
    return root


def _text(element: etree._Element) -> str:
    return "".join(element.itertext())


def _children(element: etree._Element) -> str:
    head = escape(element.text or "")
    return head + "".join(_render(child) for child in element)


def _macro(element: etree._Element) -> str:
    name = element.get(f"{_AC}name", "")
    if name in _DROPPED_MACROS:
        return ""
    if name in _CODE_MACROS:
        body = element.find(f"{_AC}plain-text-body")
        return f"<pre>{escape(_text(body))}</pre>" if body is not None else ""
    parts = []
    title = next(
        (p for p in element.findall(f"{_AC}parameter") if p.get(f"{_AC}name") == "title"), None
    )
    if title is not None and _text(title).strip():
        parts.append(f"<p><strong>{escape(_text(title).strip())}</strong></p>")
    for body in element:
        if body.tag == f"{_AC}rich-text-body":
            parts.append(_children(body))
        elif body.tag == f"{_AC}plain-text-body":
            parts.append(f"<p>{escape(_text(body))}</p>")
    return f"<div>{''.join(parts)}</div>" if parts else ""


def _link(element: etree._Element) -> str:
    for part in element:
        if part.tag in (f"{_AC}link-body", f"{_AC}plain-text-link-body"):
            return escape(_text(part))
    target = next(iter(element), None)
    if target is not None and target.tag == f"{_RI}page":
        return escape(target.get(f"{_RI}content-title", ""))
    if target is not None and target.tag == f"{_RI}attachment":
        return escape(target.get(f"{_RI}filename", ""))
    return ""  # a user mention or a link with no text


def _render(element: etree._Element) -> str:
    tail = escape(element.tail or "")
    tag = element.tag
    if not isinstance(tag, str) or tag in _DROPPED:  # comments, processing instructions
        return tail
    if tag in (f"{_AC}structured-macro", f"{_AC}macro"):
        return _macro(element) + tail
    if tag == f"{_AC}link":
        return _link(element) + tail
    if tag == f"{_AC}task-list":
        items = "".join(_render(task) for task in element if task.tag == f"{_AC}task")
        return f"<ul>{items}</ul>" + tail
    if tag == f"{_AC}task":
        body = element.find(f"{_AC}task-body")
        return (f"<li>{_children(body)}</li>" if body is not None else "") + tail
    if tag in (f"{_AC}task-id", f"{_AC}task-status", f"{_AC}task-uuid"):
        return tail
    if tag in (f"{_AC}layout", f"{_AC}layout-section", f"{_AC}layout-cell"):
        return f"<div>{_children(element)}</div>" + tail
    if tag == "time":
        return escape(element.get("datetime", "")) + tail
    if tag.startswith("{"):
        return _children(element) + tail  # another ac:/ri: element: its text, unwrapped
    if tag not in _KEEP:
        return _children(element) + tail
    if tag in _VOID:
        return f"<{tag}>" + tail
    if tag == "li":
        # The editor wraps a list item's text in <p>: one item reads as one line.
        inner = _PARAGRAPH.sub(" ", _children(element)).strip()
        return f"<li>{inner}</li>" + tail
    attributes = ""
    if tag in ("td", "th"):
        for name in ("colspan", "rowspan"):
            if element.get(name):
                attributes += f' {name}="{escape(element.get(name, ""))}"'
    return f"<{tag}{attributes}>{_children(element)}</{tag}>" + tail


def storage_to_html(storage: str, title: str) -> str:
    """A page's storage-format body as an HTML document titled `title`."""
    body = _children(_parse(storage))
    return (
        f"<html><head><title>{escape(title)}</title></head><body><main>{body}</main></body></html>"
    )
