"""Near repeats that differ only by misspelt words ("how do I reset my ruoter" / "...router").

The pair scorer reads word pieces: a misspelt word becomes pieces it never saw together and
it judged such repeats different (0.00-0.01 on "Sumarize this artcle" / "Summarize this
article"). When the guards have passed a pair and every word that differs is a plain
misspelling of the word in its place, the scorer is not asked. A misspelling here is a word
neither WordNet nor the function words list, one slip of a common kind away from a word they
list in the same place (:func:`_slip`): two real words ("form" / "from", "bake" / "make"), two
unlisted terms ("mysql" / "mssql") or a product name against a word ("scala" / "scale") are
left to the scorer.
"""

from __future__ import annotations

import re
from functools import lru_cache

from . import _lexicon as lex
from ._wordnet import lemmas, wordnet

__all__ = ["same_but_spelling"]

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
# Anything but letters, blanks and sentence punctuation: a digit, an operator or a name's
# part (``created_at`` / ``created.at``) that the word comparison below would drop; such
# texts go to the scorer.
_OTHER_MARK = re.compile(r"[^A-Za-z\s.,;:!?'\"-]|[A-Za-z][.:][A-Za-z]")
# At most this many misspelt words, and at most one word in three.
_MAX_TYPOS = 3
_VOWELS = frozenset("aeiou")
# Courtesy and hesitation words a repeat adds or drops ("... membership pls"): they ask
# for nothing.
_COURTESY = frozenset("please pls plz thanks thx ty hi hello hey um uh kindly".split())


@lru_cache(maxsize=16384)
def known(word: str) -> bool:
    """Whether ``word`` or a form it inflects from is a WordNet lemma or a function word."""
    if word in lex.FUNCTION_WORDS:
        return True
    wn = wordnet()
    return any(
        form in wn.nouns or form in wn.verb_senses or form in wn.adjective_senses
        for form in lemmas(word)
    )


def _slip(typed: str, word: str) -> bool:
    """Whether ``typed`` is ``word`` with one slip of the kinds people make and product
    names rarely are: two neighbouring letters swapped ("ruoter"), a doubled letter
    undone or a letter doubled ("adress", "cancell"), an inner letter left out of a longer
    word ("artcle"), or an inner vowel for another ("allowence"). A slip at the last
    letter or an extra letter that is no doubling is a name as often as a typo ("scala" /
    "scale", "redis" / "reds", "golang" / "golan"), and a consonant for another makes
    another word ("subnet" / "subset")."""
    if len(typed) == len(word):
        diff = [i for i, (x, y) in enumerate(zip(typed, word, strict=True)) if x != y]
        if len(diff) == 2:
            i, j = diff
            return j == i + 1 and typed[i] == word[j] and typed[j] == word[i] and len(word) >= 4
        return (
            len(diff) == 1
            and 0 < diff[0] < len(word) - 1
            and typed[diff[0]] in _VOWELS
            and word[diff[0]] in _VOWELS
            and len(word) >= 6
        )
    if len(typed) == len(word) + 1:  # a letter too many: only a doubling
        return len(word) >= 5 and any(
            typed[:i] + typed[i + 1 :] == word and typed[i] == typed[i - 1]
            for i in range(1, len(typed))
        )
    if len(typed) == len(word) - 1:  # a letter left out
        return any(
            word[:i] + word[i + 1 :] == typed
            and (
                (len(word) >= 5 and (word[i] == word[i - 1] or word[i] == word[i + 1]))
                or len(word) >= 6
            )
            for i in range(1, len(word) - 1)
        )
    return False


def _misspelling(a: str, b: str) -> bool:
    """Whether one of two differing words is a slip (:func:`_slip`) on the other, a word
    WordNet or the function words list, while the slip itself is no word listed."""
    if not (a.isalpha() and b.isalpha()) or a[0] != b[0] or known(a) == known(b):
        return False  # two real words ("form" / "from"), or two unlisted terms
    return _slip(b, a) if known(a) else _slip(a, b)


def same_but_spelling(a: str, b: str) -> bool:
    """Whether two texts are word for word the same but for misspelt words (and case, the
    punctuation between words and words of courtesy): see the module's docstring."""
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
