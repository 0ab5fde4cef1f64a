"""Narrow two long prompts to the words they differ by, before the guards analyse them.

Near candidates of a long prompt mostly share its text (a system prompt, a pasted
context, earlier turns) and differ in a question or a few words. What the guards compare
can differ only where the texts do: the shared words count the same on both sides (the
same negators, numbers, names, order). So a lookup compares the differing span of each
side, with a few words of context around it (enough for "from ... to", "not", a number
and its unit), and its cost depends on how much differs, not on the prompt's length.

A word of the shared text that also occurs in the differing span no longer hides a swap
there ("in Java" / "in Python" after a context that names Python): narrowing can only
add rejections, never serve a pair the whole texts would refuse on a shared word.
"""

from __future__ import annotations

from itertools import compress, count, islice
from operator import ne

__all__ = ["MIN_SHARED", "narrowed"]

#: Words both texts share at their ends before a lookup narrows them: shorter prompts
#: (most single questions) are compared whole.
MIN_SHARED = 12
#: Shared words kept on each side of the differing span.
CONTEXT = 4


def _common_prefix(a: list[str], b: list[str]) -> int:
    """Length of the common prefix: the index of the first unequal pair of words, found
    by C-level iterators (no Python step per shared word: a long shared context costs
    ≈ 20 ns a word, not ≈ 60)."""
    return next(compress(count(), map(ne, a, b)), min(len(a), len(b)))


def _common_suffix(a: list[str], b: list[str], limit: int) -> int:
    """Length of the common suffix, at most ``limit``."""
    pairs = map(ne, islice(reversed(a), limit), reversed(b))
    return next(compress(count(), pairs), min(len(a), len(b), limit))


# the last query and its words (a lookup narrows it per candidate), one tuple replaced
# whole: threads verifying at once never see one query with another's words
_last: list[tuple[str, list[str]]] = [("", [])]


def _words(text: str) -> list[str]:
    """``text``'s words split at spaces only (runs of them, e.g. indentation, count as
    one): a line break stays inside its word, so a span that starts in pasted code keeps
    the break before the request ("return out\n\nPort this to Go"). Joined at a space,
    "Port" would read as a name in mid-sentence."""
    return list(filter(None, text.split(" ")))


def narrowed(query: str, candidate: str) -> tuple[str, str]:
    """The differing spans of ``query`` and ``candidate`` with their context, or the
    texts themselves when they share fewer than :data:`MIN_SHARED` words at their ends."""
    last, q = _last[0]
    if last is not query:
        q = _words(query)
        _last[0] = (query, q)
    if len(q) <= MIN_SHARED:
        return query, candidate  # (a short prompt: its candidates need no split)
    c = _words(candidate)
    shortest = min(len(q), len(c))
    if shortest <= MIN_SHARED:
        return query, candidate
    prefix = _common_prefix(q, c)
    suffix = _common_suffix(q, c, shortest - prefix)
    if prefix + suffix < MIN_SHARED:
        return query, candidate
    start = max(0, prefix - CONTEXT)
    keep = max(0, suffix - CONTEXT)  # shared words dropped at the end
    return " ".join(q[start : len(q) - keep]), " ".join(c[start : len(c) - keep])
