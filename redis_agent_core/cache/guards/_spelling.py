"""Near repeats that differ only by misspelt words ("how do I reset my ruoter" / "...router").

The pair scorer reads word pieces: a misspelt word becomes pieces it never saw together and
it judged such repeats different (0.00-0.01 on "Sumarize this artcle" / "Summarize this
article"). When the guards have passed a pair and every word that differs is a plain
misspelling of the word in its place, the scorer is not asked; nor when the pair is the
same words once :func:`._respell.respelt` writes its misspelt words and short names as the
other side does ("Is an SSD faster?" / "Is a solid state drive faster?"). A misspelling
here is a word neither WordNet nor the function words list, one slip of a common kind away
from a word they list in the same place (:func:`._slips._slip`): two real words ("form" / "from",
"bake" / "make"), two unlisted terms ("mysql" / "mssql") or a product name against a word
("scala" / "scale") are left to the scorer.
"""

from __future__ import annotations

import re

from ._respell import respelt
from ._slips import _TOKEN, _slip, known

__all__ = ["same_but_spelling"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
# Anything but letters, blanks and sentence punctuation: a digit, an operator or a name's
# part (``created_at`` / ``created.at``) that the word comparison below would drop; such
# texts go to the scorer.
_OTHER_MARK = re.compile(r"[^A-Za-z\s.,;:!?'\"-]|[A-Za-z][.:][A-Za-z]")
# At most this many misspelt words, and at most one word in three.
_MAX_TYPOS = 3
# three capitals in a row: maybe a short name that respelt writes out in words
_CAPITALS = re.compile(r"[A-Z]{3}")
# Courtesy and hesitation words a repeat adds or drops ("... membership pls"): they ask
# for nothing.
_COURTESY = frozenset("please pls plz thanks thx ty hi hello hey um uh kindly".split())


def _misspelling(a: str, b: str) -> bool:
    """Whether one of two differing words is a slip (:func:`._slips._slip`) on the other, a word
    WordNet or the function words list, while the slip itself is no word listed."""
    if not (a.isalpha() and b.isalpha()) or a[0] != b[0] or known(a) == known(b):
        return False  # two real words ("form" / "from"), or two unlisted terms
    return _slip(b, a) if known(a) else _slip(a, b)


def same_but_spelling(a: str, b: str) -> bool:
    """Whether two texts are word for word the same but for misspelt words (and case, the
    punctuation between words and words of courtesy), or once respelt: see the module's
    docstring."""
    return _same_but_slips(a, b) or (_may_respell_alike(a, b) and _respelt_alike(a, b))


def _same_but_slips(a: str, b: str) -> bool:
    if _OTHER_MARK.search(a) or _OTHER_MARK.search(b):
        return False  # digits, code, markup: the guards' and the scorer's to judge
    wa = [w for w in _WORD.findall(a.lower()) if w not in _COURTESY]
    wb = [w for w in _WORD.findall(b.lower()) if w not in _COURTESY]
    if len(wa) != len(wb):
        return False
    typos = [(x, y) for x, y in zip(wa, wb, strict=True) if x != y]
    if not typos or len(typos) > _MAX_TYPOS or 3 * len(typos) > len(wa):
        return False
    return all(_misspelling(x, y) for x, y in typos)


def _may_respell_alike(a: str, b: str) -> bool:
    """False for two texts that :func:`._respell.respelt` cannot make the same words: a
    test of a few µs that most pairs the scorer reads fail (respelt costs 15-30 µs a pair;
    it runs on the others, and after the scorer refused a pair). Without a short name
    to write out (three capitals in a row), respelt rewrites one word for one word in
    its place, so the texts must have as many words, and each pair of words that differ
    must be a misspelling and its word (one listed, the other not, alike at the start)
    or one verb spelt with one "l" and with two ("canceled" / "cancelled")."""
    if _CAPITALS.search(a) or _CAPITALS.search(b):
        return True
    if len(a.split()) != len(b.split()):
        return False
    wa, wb = _TOKEN.findall(a.lower()), _TOKEN.findall(b.lower())
    if len(wa) != len(wb):
        return False
    for x, y in zip(wa, wb, strict=True):
        if x != y and not (
            x[0] == y[0]
            and x.isalpha()
            and y.isalpha()
            and ("ll" in x or "ll" in y or (min(len(x), len(y)) >= 4 and known(x) != known(y)))
            and x not in wb
            and y not in wa
        ):
            return False
    return True


def _respelt_alike(a: str, b: str) -> bool:
    """Whether :func:`._respell.respelt` makes ``a`` and ``b`` the same words."""
    x, y = respelt(a, b)
    return (x, y) != (a, b) and x.lower().split() == y.lower().split()
