"""Misspelt words: what a listed word is, and the slips people make typing one (shared by
the misspelt-repeat test of :mod:`._spelling` and the rewriting of :mod:`._respell`)."""

from __future__ import annotations

import re
from functools import lru_cache

from . import _lexicon as lex
from ._wordnet import lemmas, wordnet

__all__ = ["known"]

# words with their positions in the text: letters, digits, an inner apostrophe or hyphen
# (what :func:`._respell.respelt` rewrites)
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
_VOWELS = frozenset("aeiou")


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
