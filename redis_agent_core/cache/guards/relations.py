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
    "the a an of my your our their his her its this that for in on at with some any".split()
)
_BE = frozenset({"is", "are", "was", "were", "be", "been", "being", "get", "got", "gets"})


def _diff(one: Features, other: Features) -> list[tuple[str, str]]:
    """(word, stem) of the content words of ``one`` whose stem ``other`` lacks."""
    stems = other.stems
    return [
        (w, s)
        for w, s in zip(one.words, one.seq, strict=True)
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
        keys_c = {wn.base(w): w for w, _ in only_c} | {s: w for w, s in only_c}
        for w, s in only_q:
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
            k: w for w, _ in only_q if (b := wn.base(w)) != w for k in wn.clusters.get(b, (b,))
        }
        graded_c = {
            k: w for w, _ in only_c if (b := wn.base(w)) != w for k in wn.clusters.get(b, (b,))
        }
        if graded_q and graded_c and graded_q.keys().isdisjoint(graded_c.keys()):
            return (
                f"different comparison ({', '.join(sorted(graded_q.values()))} vs "
                f"{', '.join(sorted(graded_c.values()))})"
            )
        # attributes named the same way on both sides: "height" / "weight" (nouns),
        # "how tall" / "how heavy" (adjectives); "how long" / "what time" is not compared
        for table in (wn.attributes, wn.adjective_attributes):
            attrs_q = {a: w for w, s in only_q for a in table.get(s, ())}
            attrs_c = {a: w for w, s in only_c for a in table.get(s, ())}
            if attrs_q and attrs_c and attrs_q.keys().isdisjoint(attrs_c.keys()):
                return (
                    f"different attribute ({', '.join(sorted(set(attrs_q.values())))} vs "
                    f"{', '.join(sorted(set(attrs_c.values())))})"
                )
        # a word that is also a common verb may be used as one ("check my score"); units
        # are the number guard's ("14 days" = "two weeks")
        nouns_c = [
            (w, n) for w, s in only_c if s not in wn.verbs and w not in UNITS and (n := wn.noun(w))
        ]
        if not nouns_c:
            return None
        for w, s in only_q:
            n = wn.noun(w) if s not in wn.verbs and w not in UNITS else None
            if n is None:
                continue
            senses, parents = wn.senses[n], wn.parents[n]
            for w2, n2 in nouns_c:
                senses2, parents2 = wn.senses[n2], wn.parents[n2]
                related = senses & senses2 or senses & parents2 or senses2 & parents
                if not related and parents & parents2:
                    return f"different item of one kind ({w!r} vs {w2!r})"
        return None
