"""Words of a statement: stopwords, negations, tokens, light stems and name-like words."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from into onto up down out
    over under about above below after before within without between through during until than
    as is are was were be been being am do does did done have has had having will would shall
    should can could may might must it its this that these those there here their they them we
    our us you your yours he she his her i me my who whom which what when where why how all any
    each every some such only also not no nor never so too very just more most less least other
    others same own per via etc both either neither yes once off again further while because
    since whether whose one ones it's let lets get gets got use""".split()
)
NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor"})
# "no later than 2 days", "no more than", "no less than" are bounds, not negations.
NOT_NEGATION_AFTER_NO = frozenset({"later", "earlier", "more", "less", "fewer", "sooner"})
# A word ("on-call", "BW-350", "can't", "Care+") or a mark that ends a clause.
TOKEN = re.compile(r"(\w+(?:['’\-./+&]\w+)*\+?)|([,;:()|])")
CONTRACTIONS = {"ca": "can", "wo": "will", "sha": "shall"}


def stem(word: str) -> str:
    """A light plural stem so that "codes" meets "code" and "passwords" meets "password"."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def lemma(word: str) -> str:
    """A crude verb lemma: changed, changes and change all give "chang"."""
    for ending in ("ing", "ed", "es", "s"):
        if len(word) > len(ending) + 2 and word.endswith(ending):
            word = word[: -len(ending)]
            break
    return word.rstrip("e")


def name_like(raw: str, initial: bool, bold: bool) -> bool:
    """Concur, LastPass, 1Password, **Navan**; not "The" at the start of a sentence."""
    if raw.islower() or not any(c.isalpha() for c in raw):
        return bold and raw.isalnum() and not raw.isdigit()
    if bold:
        return True
    if not any(c.isupper() for c in raw):
        return False
    inner_capital = any(c.isupper() for c in raw[1:]) and any(c.islower() for c in raw)
    if inner_capital or (raw[0].isdigit() and any(c.isupper() for c in raw)):
        return True
    if raw.isupper():
        return len(raw) > 1 and not initial
    return not initial and raw.lower() not in STOPWORDS
