"""A crude English stemmer, shared by the guards' features and WordNet look-ups (a
module of its own: the features read instructions through WordNet, whose module keys
its words by this stem)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["stem"]


# Words whose final "s" is no plural: "https" is not "http", "css" not "cs".
_NOT_PLURALS = frozenset("https ftps sftps wss dns gps aws ios macos css sass sms mms".split())


def _stem(word: str) -> str:
    """A crude English stemmer: enough to match "closed"/"closing"/"close"."""
    if word in _NOT_PLURALS:
        return word
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    # stopping -> stop, banned -> ban; and kill, kills, killing -> kil alike (a doubled
    # last letter is undone whether or not a suffix went: "kills" was "kil", "kill" "kill")
    if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


class _Stems(dict[str, str]):
    """Stems by word, computed on a miss: a hit is one C-level dict look-up (``map(stem,
    words)`` runs per parse; ``lru_cache`` costs several times that per word)."""

    def __missing__(self, word: str) -> str:
        if len(self) >= 65536:  # bounded: a flood of new words starts it afresh
            self.clear()
        value = self[word] = _stem(word)
        return value


#: A crude English stemmer (cached): enough to match "closed"/"closing"/"close".
stem: Callable[[str], str] = _Stems().__getitem__
