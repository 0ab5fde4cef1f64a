"""Full-text search within one session, client-side: a session's messages are read in
one round trip and ranked here, so no search index is needed for it (the layout stays
one list per session). Ranking is BM25 over the session's messages, with the terms
lower-cased and reduced by a light English stemmer, as RediSearch's default text
search treats them (``learning`` finds ``learn`` and ``learned``)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["rank_texts", "terms"]

_WORD = re.compile(r"\w+", re.UNICODE)
_SUFFIXES = ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s")
_K1, _B = 1.2, 0.75  # RediSearch's BM25 defaults


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            return stem + "y" if suffix in ("ies", "ied") else stem
    return word


def terms(text: str) -> list[str]:
    """The searchable terms of ``text``: words, lower-cased and stemmed."""
    return [_stem(w) for w in _WORD.findall(text.casefold())]


def rank_texts(query: str, texts: Sequence[str], limit: int) -> list[int]:
    """Indexes of the ``texts`` holding any term of ``query``, best BM25 score first
    (ties: oldest first), at most ``limit``. An empty query matches nothing."""
    wanted = set(terms(query))
    if not wanted or limit <= 0:
        return []
    docs = [Counter(terms(t)) for t in texts]
    if not docs:
        return []
    average = sum(sum(d.values()) for d in docs) / len(docs) or 1.0
    frequency = {t: sum(1 for d in docs if t in d) for t in wanted}
    scored = []
    for i, counts in enumerate(docs):
        length = sum(counts.values())
        score = 0.0
        for term in wanted:
            tf = counts.get(term, 0)
            if tf:
                idf = math.log(1 + (len(docs) - frequency[term] + 0.5) / (frequency[term] + 0.5))
                score += idf * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * length / average))
        if score > 0:
            scored.append((-score, i))
    scored.sort()
    return [i for _, i in scored[:limit]]
