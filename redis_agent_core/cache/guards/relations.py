"""Guards built on word relations rather than word lists: opposite predicates
(WordNet antonyms), swapped arguments around the same verb, and the same object asked
about under another constraint (superlative, attribute, or a sibling item).

Each compares only what differs between the two texts (words whose stem is on one side
only), so a lookup costs a few set operations plus a dictionary probe per differing word.
"""

from __future__ import annotations

from ._features import Features, features
from ._lexicon import STOPWORDS, UNITS
from ._wordnet import wordnet

__all__ = ["AntonymGuard", "ArgumentGuard", "SubstitutionGuard"]

# Function words never count as opposites or arguments (WordNet has in/out, up/down...).
_FUNCTION = STOPWORDS | frozenset(
    "in out up down on off over under more less much many few all some no yes".split()
)
# Prepositions that order their two sides ("convert miles to km", "X better than Y").
_ORDERING = frozenset({"to", "into", "than", "over", "before", "after", "per"})
# Between two arguments, these make the relation symmetric ("mix A with B", "A or B").
_SYMMETRIC = frozenset({"with", "and", "or", "vs", "versus", "between", "&"})
# A word after these is used as a noun ("the boiling point of water"), not as a verb.
_NOUN_CUES = frozenset(
    """the a an of my your our their his her its this that for in on at with some any much
    many more less few little enough""".split()
)
_BE = frozenset({"is", "are", "was", "were", "be", "been", "being", "get", "got", "gets"})


def _diff(one: Features, other: Features) -> list[tuple[str, str, int]]:
    """(word, stem, position) of the content words of ``one`` whose stem ``other`` lacks."""
    stems = other.stems
    return [
        (w, s, i)
        for i, (w, s) in enumerate(zip(one.words, one.seq, strict=True))
        if s not in stems and w not in _FUNCTION and not w[0].isdigit()
    ]


class AntonymGuard:
    """Predicates must not be opposites: a word on one side whose WordNet antonym is on
    the other side only ("include"/"exclude", "maximum"/"minimum", "accept"/"reject",
    "heavier"/"lighter"). Comparatives and superlatives are reduced to their adjective."""

    name = "antonym"

    def check(self, query: str, candidate: str) -> str | None:
        q, c = features(query), features(candidate)
        only_q, only_c = _diff(q, c), _diff(c, q)
        if not (only_q and only_c):
            return None
        wn = wordnet()
        keys_c = {wn.base(w): w for w, _, _ in only_c} | {s: w for w, s, _ in only_c}
        for w, s, _ in only_q:
            for key in {s, wn.base(w)}:
                for opposite in wn.antonyms.get(key, ()):
                    if opposite in keys_c:
                        return f"opposite words {w!r} / {keys_c[opposite]!r} (WordNet antonyms)"
        return None


def _sides(
    f: Features, pivot: int, shared: frozenset[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Shared content words before and after ``f.seq[pivot]`` (stem -> position), as
    (subject side, object side): a passive "was Y <verb>ed by X" swaps them back."""
    seq, words = f.seq, f.words
    left = {seq[i]: i for i in range(pivot) if seq[i] in shared and words[i] not in _FUNCTION}
    right = {
        seq[i]: i
        for i in range(pivot + 1, len(seq))
        if seq[i] in shared and words[i] not in _FUNCTION
    }
    if not _BE.isdisjoint(words[max(0, pivot - 3) : pivot]) and "by" in words[pivot + 1 :]:
        return right, left
    return left, right


def _symmetric(f: Features, pivot: int, end: int) -> bool:
    """Whether "with/and/or/between" joins the pivot to the argument at ``end``."""
    return not _SYMMETRIC.isdisjoint(f.words[min(pivot, end) + 1 : max(pivot, end)])


class ArgumentGuard:
    """Who does what to whom must agree: the same verb (or ordering word: to, than,
    over, before, after) with its two nearest arguments swapped is another question
    ("did Anna email Ben" / "did Ben email Anna", "convert miles to km" / "km to miles").
    Passives are undone ("was Ben emailed by Anna"); "with/and/or" between the arguments
    make the relation symmetric ("mix A with B" = "mix B with A")."""

    name = "argument"

    def check(self, query: str, candidate: str) -> str | None:
        q, c = features(query), features(candidate)
        shared = q.stems & c.stems
        if len(shared) < 3:
            return None
        verbs = wordnet().verbs
        for pivot in shared:
            if q.seq.count(pivot) != 1 or c.seq.count(pivot) != 1:
                continue  # a repeated word has no single position to compare
            i = q.seq.index(pivot)
            word = q.words[i]
            j = c.seq.index(pivot)
            if word not in _ORDERING and (
                word in _FUNCTION
                or pivot not in verbs
                or (i and q.words[i - 1] in _NOUN_CUES)
                or (j and c.words[j - 1] in _NOUN_CUES)
            ):
                continue  # only verbs and ordering words relate a subject to an object
            (left_q, right_q), (left_c, right_c) = _sides(q, i, shared), _sides(c, j, shared)
            # a word that moved from the subject side to the object side, and one that
            # moved the other way: "A beat B" / "B beat A"
            for a in left_q.keys() & right_c.keys():
                for b in right_q.keys() & left_c.keys():
                    if not (_symmetric(q, i, right_q[b]) or _symmetric(c, j, right_c[a])):
                        return f"arguments swapped around {word!r} ({a} ... {b} vs {b} ... {a})"
        return None


class SubstitutionGuard:
    """The same object under another constraint is another question: a different
    superlative or comparative ("tallest" / "oldest"), a different attribute ("height" /
    "weight", "how tall" / "how heavy") or a sibling item of one kind ("laptop" /
    "tablet", "salmon" / "trout": two common nouns that share a WordNet parent and no
    sense). Synonyms, a word and its hypernym, and one-sided additions pass."""

    name = "substitution"

    def check(self, query: str, candidate: str) -> str | None:
        q, c = features(query), features(candidate)
        only_q, only_c = _diff(q, c), _diff(c, q)
        if not (only_q and only_c):
            return None
        wn = wordnet()
        graded_q = {
            k: w for w, _, _ in only_q if (b := wn.base(w)) != w for k in wn.clusters.get(b, (b,))
        }
        graded_c = {
            k: w for w, _, _ in only_c if (b := wn.base(w)) != w for k in wn.clusters.get(b, (b,))
        }
        if graded_q and graded_c and graded_q.keys().isdisjoint(graded_c.keys()):
            return (
                f"different comparison ({', '.join(sorted(graded_q.values()))} vs "
                f"{', '.join(sorted(graded_c.values()))})"
            )
        # an attribute asked about: "the height of" / "the weight of" (attribute nouns),
        # "how tall" / "how heavy" (adjectives after "how")
        for table, cue in ((wn.attributes, None), (wn.adjective_attributes, "how")):
            attrs_q = _attributes(q, only_q, table, cue)
            attrs_c = _attributes(c, only_c, table, cue)
            if attrs_q and attrs_c and attrs_q.keys().isdisjoint(attrs_c.keys()):
                return (
                    f"different attribute ({', '.join(sorted(set(attrs_q.values())))} vs "
                    f"{', '.join(sorted(set(attrs_c.values())))})"
                )
        nouns_q, nouns_c = _nouns(q, only_q), _nouns(c, only_c)
        for w, n in nouns_q:
            senses, parents = wn.senses[n], wn.parents[n]
            for w2, n2 in nouns_c:
                senses2, parents2 = wn.senses[n2], wn.parents[n2]
                if senses & senses2 or senses & parents2 or senses2 & parents or _kin(w, w2):
                    continue  # synonyms, one names the other's kind, or "agent" / "agency"
                if parents & parents2:
                    return f"different item of one kind ({w!r} vs {w2!r})"
                if len(only_q) == len(only_c) == 1:
                    # the one word changed, noun for noun: "carpet" / "sofa"
                    return f"different item ({w!r} vs {w2!r})"
        return None


def _kin(a: str, b: str) -> bool:
    """Words built on one stem ("agent" / "agency", "photo" / "photograph")."""
    n = min(len(a), len(b))
    return n >= 4 and a[: max(4, n - 2)] == b[: max(4, n - 2)]


def _attributes(
    f: Features, diff: list[tuple[str, str, int]], table: dict[str, frozenset[str]], cue: str | None
) -> dict[str, str]:
    return {
        a: w
        for w, s, i in diff
        if cue is None or (i and f.words[i - 1] == cue)
        for a in table.get(s, ())
    }


def _nouns(f: Features, diff: list[tuple[str, str, int]]) -> list[tuple[str, str]]:
    """(word, WordNet noun) of the differing words used as nouns: not a unit (the number
    guard's: "14 days" = "two weeks"), and a word that is also a verb only after a
    determiner or preposition ("check my score" is a verb, "the check" a noun)."""
    wn = wordnet()
    return [
        (w, n)
        for w, s, i in diff
        if w not in UNITS
        and (s not in wn.verbs or (i and f.words[i - 1] in _NOUN_CUES))
        and (n := wn.noun(w))
    ]
