"""The pair scorer's input with misspelt words and short names written as the other side
writes them ("how do I reset my ruoter" / "...router", "signs of ADHD" / "signs of
attention deficit hyperactivity disorder").

The scorer reads word pieces: a misspelt word or a set of initials becomes pieces it never
saw beside the other side's, and it refused such pairs (0.00-0.05) whatever else they
said. :func:`respelt` rewrites only those words, in the place where the other side has its
own, and the scorer still judges the rest of the pair: a pair that also asks something
else is refused as before. The verifier asks the guards about the rewritten pair too
before it asks the scorer again (only about a pair the scorer refused as written).

A word is taken for a misspelling of the other side's word in its place when it is no
word WordNet or the function words list, the other is one, both start alike, and one slip
of the kinds :func:`._slips._slip` allows sets them apart, or (words of 7 letters or
more) at most two edits ("pharmasist", "excercises"). A verb's form with its "l" doubled
on one side only is the other's spelling ("cancelled" / "canceled"). A short name is a
word in capitals of 3 letters or more whose letters are the initials of the other side's
words in its place, small words of a name ("of", "and", "for", "the") allowed in
between; two letters name too many things ("a PM": a project or a product manager; "AA":
which airline?) and are left as written.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from ._slips import _TOKEN, _slip, known
from ._wordnet import wordnet

__all__ = ["respelt"]

# a short name in capitals, maybe plural or possessive ("IRAs", "the WHO's")
_SHORT = re.compile(r"([A-Z][A-Z0-9]{1,5})(?:s|['\u2019]s)?")
_ARTICLES = frozenset({"a", "an", "the"})
_JOINERS = frozenset({"of", "and", "for", "the", "de", "&"})
_MIN_TYPO = 4  # shorter words are other words as often as slips ("tie" / "tei")
_LONG = 7  # from this length, two edits apart may be one word misspelt


def _edits(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (a swap of neighbours is one edit), capped at 3."""
    if abs(len(a) - len(b)) > 2:
        return 3
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return min(prev[-1], 3)


def _misspelt_as(typed: str, word: str) -> bool:
    """Whether ``typed`` (no listed word) is ``word`` (a listed one) misspelt."""
    if typed[0] != word[0] or min(len(typed), len(word)) < _MIN_TYPO:
        return False
    if not typed.isalpha() or not word.isalpha() or known(typed) or not known(word):
        return False
    if len(word) >= _LONG:
        # not a word with more or fewer letters at its end: another term built on it
        # ("angularjs" / "angular")
        return not (typed.startswith(word) or word.startswith(typed)) and _edits(typed, word) <= 2
    return _slip(typed, word) or (
        # a consonant for another inside a word of 5-6 letters ("pasport" is the slip
        # kind; "wether"-like real words were refused above by known())
        len(typed) == len(word) >= 5
        and sum(x != y for x, y in zip(typed, word, strict=True)) == 1
        and typed[-1] == word[-1]
    )


# an "l" doubled or not before an ending: British and American spellings of one verb
# ("cancelled" / "canceled", "travelling" / "traveling"); both are listed words
_DOUBLED_L = re.compile(r"([a-z]{3,}[aeiou])ll?(ed|ing|er|ers)")


def _spelt_alike(x: str, y: str) -> bool:
    """Whether ``x`` and ``y`` are one verb's form with its "l" doubled on one side only,
    a verb WordNet lists ("cancel"; "filing" / "filling" are two verbs)."""
    mx, my = _DOUBLED_L.fullmatch(x), _DOUBLED_L.fullmatch(y)
    return (
        mx is not None
        and my is not None
        and len(x) != len(y)
        and mx.groups() == my.groups()
        and mx.group(1) + "l" in wordnet().verb_senses
    )


def _initials(short: str, words: list[str]) -> bool:
    """Whether ``short`` (lower case) is the initials of ``words`` (hyphenated parts
    count as words), a name's small words giving their initial or none."""
    if not short:
        return not words
    if not words:
        return False
    word = words[0]
    if word in _JOINERS and _initials(short, words[1:]):
        return True
    return short[0] == word[0] and _initials(short[1:], words[1:])


def _expands(short: str, long: list[str]) -> bool:
    """Whether ``short`` is initials in capitals of the words ``long``."""
    m = _SHORT.fullmatch(short)
    if m is None or len(long) < 2:
        return False
    letters = m.group(1)
    if not letters.isalpha():
        return False
    parts = [p for w in long for p in re.split(r"['\u2019]s$|-", w) if p]
    if len(letters) < 3:
        return False  # "a PM" (a project or a product manager?), "AA" (which airline?)
    return _initials(letters.lower(), [p.lower() for p in parts])


def respelt(a: str, b: str) -> tuple[str, str]:
    """``a`` and ``b`` with each misspelt word and short name written as the other text
    writes it in the same place (see the module's docstring); the texts themselves when
    there is none."""
    ta, tb = list(_TOKEN.finditer(a)), list(_TOKEN.finditer(b))
    wa, wb = [m.group(0) for m in ta], [m.group(0) for m in tb]
    la, lb = [w.lower() for w in wa], [w.lower() for w in wb]
    # most pairs have neither an unlisted word nor capitals among the words one side
    # alone has: nothing to align (a set operation and a memo look-up a word)
    alone = set(la).symmetric_difference(lb)
    caps = {w.lower() for w in wa + wb if w[:2].isupper()}
    if not any((len(w) >= _MIN_TYPO and not known(w)) or w in caps or "ll" in w for w in alone):
        return a, b
    edits: list[tuple[int, int, int, str]] = []  # (side, start, end, text)
    for op, i1, i2, j1, j2 in SequenceMatcher(None, la, lb, autojunk=False).get_opcodes():
        if op != "replace":
            continue
        if i2 - i1 == j2 - j1:
            for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                x, y = la[i], lb[j]
                if x in lb or y in la or not (wa[i][1:].islower() and wb[j][1:].islower()):
                    continue  # a word moved, or a name in mixed case ("AngularJS")
                if _spelt_alike(x, y):
                    edits.append((0, ta[i].start(), ta[i].end(), wb[j]))
                elif _misspelt_as(x, y):
                    edits.append((0, ta[i].start(), ta[i].end(), wb[j]))
                elif _misspelt_as(y, x):
                    edits.append((1, tb[j].start(), tb[j].end(), wa[i]))
        # a short name against the words it abbreviates, at the start of the place (with
        # the article before either: "an SSD" / "a solid state drive") or at its end;
        # what else differs there is left ("ADHD medications" / "attention deficit
        # hyperactivity disorder assessments")
        for side, (s1, s2, toks, t1, t2, other, text) in enumerate(
            ((i1, i2, ta, j1, j2, tb, b), (j1, j2, tb, i1, i2, ta, a))
        ):
            if s1 == s2 or t1 == t2:
                continue
            n = int(s2 - s1 > 1 and toks[s1].group(0).lower() in _ARTICLES)
            m = int(t2 - t1 > 1 and other[t1].group(0).lower() in _ARTICLES)
            long = [w.group(0) for w in other[t1 + m : t2]]
            for k in range(2, len(long) + 1):
                if _expands(toks[s1 + n].group(0), long[:k]):
                    written = text[other[t1].start() : other[t1 + m + k - 1].end()]
                    edits.append((side, toks[s1].start(), toks[s1 + n].end(), written))
                    break
                if s2 - s1 > n + 1 and _expands(toks[s2 - 1].group(0), long[-k:]):
                    written = text[other[t2 - k].start() : other[t2 - 1].end()]
                    edits.append((side, toks[s2 - 1].start(), toks[s2 - 1].end(), written))
                    break
    if not edits:
        return a, b
    texts, ends = [a, b], [len(a) + 1, len(b) + 1]
    for side, start, end, text in sorted(edits, key=lambda e: -e[1]):
        if end <= ends[side]:  # (a place rewritten once)
            texts[side] = texts[side][:start] + text + texts[side][end:]
            ends[side] = start
    return texts[0], texts[1]
