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

from collections.abc import Sequence
from itertools import compress, count, islice
from operator import ne

__all__ = ["MIN_SHARED", "narrowed"]

#: Words both texts share at their ends before a lookup narrows them: shorter prompts
#: (most single questions) are compared whole.
MIN_SHARED = 12
#: Shared words kept on each side of the differing span.
CONTEXT = 4


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the common prefix: the index of the first unequal pair of words, found
    by C-level iterators (no Python step per shared word: a long shared context costs
    ≈ 20 ns a word, not ≈ 60)."""
    return next(compress(count(), map(ne, a, b)), min(len(a), len(b)))


def _common_suffix(a: Sequence[str], b: Sequence[str], limit: int) -> int:
    """Length of the common suffix, at most ``limit``."""
    pairs = map(ne, islice(reversed(a), limit), reversed(b))
    return next(compress(count(), pairs), min(len(a), len(b), limit))


# the last query and its words (a lookup narrows it per candidate), one tuple replaced
# whole: threads verifying at once never see one query with another's words
_last: list[tuple[str, list[str]]] = [("", [])]
# and its word count if it is its words joined by single spaces (0 if not) and, if it is
# long and ASCII, its bytes as an integer (see _narrowed_clean), alike
_last_count: list[tuple[str, int, int | None]] = [("", 0, None)]


def _words(text: str) -> list[str]:
    """``text``'s words split at spaces only (runs of them, e.g. indentation, count as
    one): a line break stays inside its word, so a span that starts in pasted code keeps
    the break before the request ("return out\n\nPort this to Go"). Joined at a space,
    "Port" would read as a name in mid-sentence."""
    return list(filter(None, text.split(" ")))


def _clean(text: str) -> bool:
    """Whether ``text`` is its words joined by single spaces (no run of spaces, none at
    an end): then a word's place follows from the spaces before it, with no split."""
    return bool(text) and "  " not in text and text[0] != " " and text[-1] != " "


def _same_head(a: str, b: str) -> int:
    """Length of the common prefix of two strings, in characters: a binary search that
    compares only the slices not yet known equal (for texts that are not ASCII)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _same_tail(a: str, b: str) -> int:
    """Length of the common suffix of two strings, in characters (as :func:`_same_head`)."""
    la, lb = len(a), len(b)
    lo, hi = 0, min(la, lb)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _narrowed_clean(q: str, nq: int, bits: int | None, c: str) -> tuple[str, str] | None:
    """:func:`narrowed` of two texts that are their words joined by single spaces, found
    from the characters they share at their ends (word counts are counts of spaces; the
    shared words are the same characters in both), so a 100-word prompt is never split
    into word objects (``nq``: the words of ``q``, more than :data:`MIN_SHARED`; ``bits``:
    its bytes as an integer if it is ASCII, else None). ``None``
    when the shared ends overlap in the shorter text (a word repeated at the edit): the
    word lists then decide."""
    nc = c.count(" ") + 1
    shortest = nq if nq < nc else nc  # (no call of min: a lookup narrows three pairs)
    if shortest <= MIN_SHARED:
        return q, c
    lq, lc = len(q), len(c)
    # shared words at the start: those ended by a space inside the shared characters,
    # and the next one if both texts end it (a space or their end) where they part
    if bits is not None and c.isascii():
        # the characters both share at their start (head) and end (tail), from their bytes
        # as big-endian integers (the query's made once for all its candidates): XORed, the
        # highest bit set falls in the first byte that differs, the lowest in the last one
        # (C-level passes over the bytes, no Python step per character or word; written
        # out here, not called: a call and its tuple cost as much as these steps)
        n = lq if lq < lc else lc
        ci = int.from_bytes(c.encode(), "big")
        last = bits ^ ci
        first = last if lq == lc else (bits >> 8 * (lq - n)) ^ (ci >> 8 * (lc - n))
        # (its lowest bit set, -1 if none: at or above bit 8n, the last n bytes are all
        # shared; no mask of 8n bits is built to cut them out: a big int apiece)
        low = (last & -last).bit_length() - 1
        head = n - (first.bit_length() + 7) // 8
        tail = low // 8 if 0 <= low < 8 * n else n
    else:
        head, tail = _same_head(q, c), _same_tail(q, c)
    spaces = q.count(" ", 0, head)
    prefix = spaces + ((head == lq or q[head] == " ") and (head == lc or c[head] == " "))
    # shared words at the end, alike
    at = lq - tail  # where the shared characters start in ``q``
    whole = (tail == lq or q[at - 1] == " ") and (tail == lc or c[lc - tail - 1] == " ")
    suffix = q.count(" ", at) + whole
    if suffix > shortest - prefix:
        return None
    if prefix + suffix < MIN_SHARED:
        return q, c
    # the span starts CONTEXT words before the first differing one: the same characters
    # in both texts (every word before it is shared), found back from where they part
    # (one C-level split each way, not a find per word: after the space that many spaces
    # back from where they part; there are as many, as more than CONTEXT words are shared)
    start = (
        len(q[:head].rsplit(" ", spaces - (prefix - CONTEXT) + 1)[0]) + 1 if prefix > CONTEXT else 0
    )
    if suffix <= CONTEXT:
        return q[start:], c[start:]
    # and ends CONTEXT words into the shared end: the same characters from there on (what
    # follows the CONTEXT-th space after the first shared word at the end is dropped)
    end = lq - len(q[at if whole else q.find(" ", at) + 1 :].split(" ", CONTEXT)[CONTEXT])
    cut = lq - end + 1  # the shared words dropped, with the space before them
    return q[start : lq - cut], c[start : lc - cut]


def narrowed(query: str, candidate: str) -> tuple[str, str]:
    """The differing spans of ``query`` and ``candidate`` with their context, or the
    texts themselves when they share fewer than :data:`MIN_SHARED` words at their ends."""
    last_text, nq, bits = _last_count[0]
    if last_text is not query:
        nq = query.count(" ") + 1 if _clean(query) else 0
        long_ascii = nq > MIN_SHARED and query.isascii()
        bits = int.from_bytes(query.encode(), "big") if long_ascii else None
        _last_count[0] = (query, nq, bits)
    if nq:
        if nq <= MIN_SHARED:
            return query, candidate
        # (_clean(candidate), written out)
        if candidate and "  " not in candidate and candidate[0] != " " and candidate[-1] != " ":
            found = _narrowed_clean(query, nq, bits, candidate)
            if found is not None:
                return found
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
