"""Plain text to elements: the same elements unstructured's `partition_text` gives, cheaper.

`partition_text` groups lines into paragraphs with regular expressions and then classifies each
paragraph; only the title test needs spaCy (sentence and verb counts), and a paragraph of more
than twelve words is never a title (`is_possible_title`'s first cut). So paragraphs are split
and the long ones classified here with unstructured's own patterns; a short one goes to
unstructured's `element_from_text`, which loads spaCy the first time it is asked.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ingest.normalize import normalize_text
from ingest.spacy_model import use_bundled_spacy_model
from steward.domain import Element, ElementKind

# unstructured's is_possible_title refuses text of more words than this (split on spaces).
_TITLE_MAX_WORDS = 12


def _title_max_words() -> int:
    return int(os.environ.get("UNSTRUCTURED_TITLE_MAX_WORD_LENGTH", _TITLE_MAX_WORDS))


def _category(text: str) -> tuple[str, str]:
    """unstructured's element_from_text for one paragraph: (category, text)."""
    from unstructured.cleaners.core import clean_bullets
    from unstructured.nlp.patterns import (
        EMAIL_ADDRESS_PATTERN_RE,
        NUMBERED_LIST_RE,
        UNICODE_BULLETS_RE,
        US_CITY_STATE_ZIP_RE,
    )

    if len(text.split(" ")) <= _title_max_words():
        use_bundled_spacy_model()
        from unstructured.partition.text import element_from_text

        # Here the title test decides, and it needs spaCy: unstructured's own function.
        element: Any = element_from_text(text)
        return str(element.category), str(element.text)
    # The order of element_from_text; a title is ruled out by length.
    if UNICODE_BULLETS_RE.match(text.strip()):
        return "ListItem", clean_bullets(text)
    if EMAIL_ADDRESS_PATTERN_RE.fullmatch(text.strip()) or US_CITY_STATE_ZIP_RE.match(text.strip()):
        return "Text", text
    if NUMBERED_LIST_RE.match(text.strip()):
        return "ListItem", text
    return "Text", text


def text_elements(text: str) -> list[Element]:
    """The elements `partition_text(text=text)` gives, as parse keeps them."""
    from unstructured.cleaners.core import auto_paragraph_grouper
    from unstructured.nlp.patterns import PARAGRAPH_PATTERN, UNICODE_BULLETS_RE

    if not text.strip():
        return []
    elements: list[Element] = []
    for part in re.split(PARAGRAPH_PATTERN, auto_paragraph_grouper(text).strip()):
        part = part.strip()
        if not part or (UNICODE_BULLETS_RE.match(part) and len(part) == 1):
            continue
        category, found = _category(part)
        clean = normalize_text(found)
        if not clean:
            continue
        if category == "Title":
            elements.append(Element(ElementKind.TITLE, clean, depth=0))
        elif category == "ListItem":
            elements.append(Element(ElementKind.LIST_ITEM, clean))
        else:
            elements.append(Element(ElementKind.TEXT, clean))
    return elements
