"""Guards built on word relations rather than word lists: opposite predicates
(WordNet antonyms), swapped arguments around the same verb, and the same object asked
about under another constraint (superlative, attribute, or a sibling item).

Each compares only what differs between the two texts (words whose stem is on one side
only), so a lookup costs a few set operations plus a dictionary probe per differing word.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, lru_cache
from itertools import filterfalse
from operator import itemgetter, methodcaller

from ._features import (
    _POSSESSIVE,
    _UNIT_NAMES,
    _WORD,
    NOT_NEGATORS,
    Features,
    Memo,
    features,
    pair,
    per_text,
    similar,
    stem,
)
from ._instructions import one_job
from ._lexicon import (
    FUNCTION_WORDS,
    NEGATORS,
    NUMBER_WORDS,
    OPPOSITE_PARTICLES,
    SCALE_WORDS,
    TEMPERATURE_SCALES,
    UNITS,
)
from ._wordnet import ancestors, base, kinship, lemmas, noun, senses_of, wordnet

__all__ = [
    "AntonymGuard",
    "ArgumentGuard",
    "SubstitutionGuard",
    "added_kind",
    "comparatives",
    "keys",
    "mirrored",
    "narrowing",
    "opposites",
    "prevention_shift",
]

# Prepositions that order their two sides ("convert miles to km", "X better than Y").
_ORDERING = frozenset({"to", "into", "than", "over", "before", "after", "per", "in", "of"})
# Between two arguments, these make the relation symmetric ("mix A with B", "A or B").
_SYMMETRIC = frozenset(
    """with and or vs versus between & near beside alongside similar same equal
    equivalent compatible related""".split()
)
# A word after these is used as a verb ("to water", "can you cup"); otherwise a word that
# is both ("wine", "sugar") is read as the noun.
_VERB_CUES = frozenset(
    """to i you we they he she it can could will would shall should must may might do does
    did don't doesn't didn't not never please let""".split()
)
# A word after these is used as a noun ("the boiling point of water"), not as a verb.
_NOUN_CUES = frozenset(
    """the a an of my your our their his her its this that for in on at with some any much
    many more less few little enough""".split()
)
# More differing words than this on a side is a rewording, not a swapped item.
_MAX_SWAPS = 6
_BE = frozenset(
    {"is", "are", "was", "were", "be", "been", "being", "get", "got", "gets", "getting"}
)


def _diff(one: Features, other: Features) -> list[tuple[str, str, int]]:
    """(word, stem, position) of the content words of ``one`` whose stem ``other`` lacks,
    in text order: a set difference, then a look-up per differing word."""
    lacking = one.content.keys() - other.stems
    if not lacking:
        # every content stem shared (a side of most pairs): the list below would be
        # empty, so its look-ups, sort and comprehension (≈ 1 µs) are not made
        return []
    # (a content stem's position holds that stem: positions sort in C, no key function)
    words, seq = one.words, one.seq
    return [
        (w, seq[i], i)
        for i in sorted(map(one.content.__getitem__, lacking))
        if not (w := words[i])[0].isdigit()
        and w not in FUNCTION_WORDS
        and not (w in _UNIT_WORDS and _measure(words, i))
        and not ("-" in w and _spelt_measure(w))
    ]


# a temperature's scale and "m" (metres, written apart from digits): letters that name
# nothing after a number. (Other units stay words: "2 GB" / "2GB" kept "max" / "maximum"
# from reading as one item swapped.)
_UNIT_WORDS = TEMPERATURE_SCALES | {"m"}
_MEASURE_WORDS = _UNIT_WORDS | _UNIT_NAMES  # the number guard's unit names, "m" too


def _spelt_measure(word: str) -> bool:
    """Whether ``word`` is a number in words and a unit ("nine-metre", "two-kilogram"):
    the number guard reads it as "9 metres"."""
    count, _, unit = word.partition("-")
    return count in NUMBER_WORDS and unit in _MEASURE_WORDS


def _measure(words: Sequence[str], i: int) -> bool:
    """Whether ``words[i]`` ("c", "m") is the unit or scale of a number before it
    ("20 C", "68 degrees Fahrenheit", "a 9 m yacht"): the number guard compares those."""
    if i and words[i - 1] in ("degrees", "degree", "deg"):
        i -= 1
    return i > 0 and words[i - 1][-1:].isdigit()


Diff = list[tuple[str, str, int]]
_WORD_OF = itemgetter(0)  # a differing word as written (C-level, for maps over a Diff)
_STEM_OF = itemgetter(1)  # its stem
_last: list = [None, None, [], []]  # the last pair asked about: two guards ask in turn


def _diffs(q: Features, c: Features) -> tuple[Diff, Diff]:
    """``_diff`` both ways, remembered for the last pair (the antonym and substitution
    guards run one after the other on the same pair; Features objects are immutable)."""
    last = _last
    if last[0] is q and last[1] is c:
        return last[2], last[3]
    only_q, only_c = _diff(q, c), _diff(c, q)
    if only_q and only_c:
        # one noun inflected two ways the stemmer parts ("viruses" / "virus")
        same = set(map(noun, map(_WORD_OF, only_q))).intersection(
            map(noun, map(_WORD_OF, only_c))
        )  # (C-level maps: no comprehension made per pair)
        same.discard(None)
        if same:
            only_q = [d for d in only_q if noun(d[0]) not in same]
            only_c = [d for d in only_c if noun(d[0]) not in same]
    _last[:] = [q, c, only_q, only_c]
    return only_q, only_c


_KEYS: Memo[str, frozenset[str]] = Memo()
_OPPOSITES: Memo[str, frozenset[str]] = Memo()


def keys(text: str) -> frozenset[str]:
    """The text's content stems and the adjectives behind its comparatives."""
    found = _KEYS.get(text)
    if found is None:
        f = features(text)
        # (the first word of each content stem that ends as a comparative does; C-level
        # maps and a filter, no Python step per word)
        written = map(f.words.__getitem__, f.content.values())
        found = frozenset(f.content).union(map(base, filter(_ENDS_GRADED, written)))
        adverbs = [w for w in map(f.words.__getitem__, f.content.values()) if w.endswith("ly")]
        if adverbs:  # "vertically": its adjective's antonyms too ("horizontal")
            found |= {a for a in map(_adverb_base, adverbs) if a is not None}
        if not _IRREGULAR.isdisjoint(f.vocab):  # "sold", "lent": their verbs' stems too
            found |= {stem(_PARTICIPLES[w]) for w in _IRREGULAR.intersection(f.vocab)}
        found = _KEYS.put(text, found)
    return found


@lru_cache(maxsize=4096)
def _adverb_base(word: str) -> str | None:
    """The stem of the adjective an "-ly" adverb is made of, when the adverb has no
    WordNet antonyms of its own and the adjective has ("vertically" -> "vertical",
    "manually" -> "manual", "automatically" -> "automatic", "happily" -> "happy")."""
    wn = wordnet()
    if not word.endswith("ly") or stem(word) in wn.antonyms:
        return None
    root = word[:-2]
    for adjective in (root, root[:-1] + "y" if root.endswith("i") else "", root[:-2]):
        if adjective in wn.adjective_senses and stem(adjective) in wn.antonyms:
            return stem(adjective)
    return None


def opposites(text: str) -> frozenset[str]:
    """All WordNet antonyms of the text's keys: computed once per new prompt, so a pair
    is first compared with two set operations (a candidate needs only its keys)."""
    found = _OPPOSITES.get(text)
    if found is None:
        antonyms = wordnet().antonyms
        found = frozenset().union(*(antonyms[k] for k in keys(text) if k in antonyms))
        _OPPOSITES.put(text, found)
    return found


_GRADED = ("er", "est", "st")  # comparative and superlative forms ("best", "worst")
_ENDS_GRADED = methodcaller("endswith", _GRADED)

# "stop / prevent / keep / block X (from) Y-ing": the negation belongs to Y, the event.
# "keep" and "ban" need "from" ("keep the dog running" is to go on running).
_PREVENTING = frozenset(stem(w) for w in "stop prevent block bar".split())
_PREVENTING_FROM = _PREVENTING | frozenset(stem(w) for w in "keep ban discourage".split())
# Nouns in "-ing" that are no event ("stop the ceiling leaking").
_ING_NOUNS = frozenset(
    """thing nothing something anything everything morning evening ceiling building
    during clothing wedding string spring bring sibling pudding icing frosting stuffing
    ring king wing sing""".split()
)
_STOP_NEGATORS = _PREVENTING & NEGATORS
_PREVENTIONS: Memo[str, tuple[tuple[str, str], ...]] = Memo()


def _preventions(f: Features) -> tuple[tuple[str, str], ...]:
    """(preventing verb's stem, stem of the prevented event) of each "stop X (from)
    Y-ing" in ``f`` (the first "-ing" word within five words after the verb), once per
    text."""
    found = _PREVENTIONS.get(f.lower)
    if found is None:
        words, seq, out = f.words, f.seq, []
        if not _PREVENTING_FROM.isdisjoint(seq):
            for i, s in enumerate(seq):
                if s not in _PREVENTING_FROM:
                    continue
                for j in range(i + 1, min(i + 7, len(words))):
                    w = words[j]
                    if w.endswith("ing") and w not in _ING_NOUNS and seq[j] != w:
                        if s in _PREVENTING or words[j - 1] == "from":
                            out.append((s, seq[j]))
                        break
        found = _PREVENTIONS.put(f.lower, tuple(out))
    return found


def prevention_shift(one: Features, other: Features) -> int:
    """What to add to ``one``'s count of negators for its "stop X from Y-ing" phrases
    against ``other``. Such a phrase negates Y: opposed to a text naming Y it is one
    negation ("make my phone dim the screen" / "stop my phone from dimming the screen"),
    whatever its verb ("keep ... from", no negator alone, too); against a text that also
    prevents something it is one too ("stop my cat scratching" / "make it stop"); against
    a text that neither names Y nor prevents anything it negates nothing the two share,
    and counts none ("block a number" / "stop a number from calling")."""
    if _PREVENTING_FROM.isdisjoint(one.stems):
        return 0  # no preventing verb (most texts): nothing to look up or remember
    shift = 0
    preventions = _preventions(one)
    if not preventions:
        return 0
    other_prevents = bool(_preventions(other)) or not _STOP_NEGATORS.isdisjoint(other.stems)
    for verb, event in preventions:
        counted = verb in NEGATORS
        if event in other.stems or other_prevents:
            shift += 0 if counted else 1
        else:
            shift -= 1 if counted else 0
    return shift


# Negators that only negate (not "stop", "avoid": verbs with antonyms of their own)
_PLAIN_NEGATORS = NEGATORS & frozenset("never no none nothing nobody neither nor not".split())


def _without_form(word: str, other: str, f: Features, g: Features) -> bool:
    """Whether ``word`` (of ``f``) is ``other`` (of ``g``, which negates something) with
    "-less" or "-free" ("seedless" / "no seeds") or a negating prefix the negation guard
    counts ("unsafe" / "not safe"; not "unzip" / "zip": too short a root to count)."""
    if not g.negations:
        return False  # "charge" / "discharge": nothing on the other side turns it round
    for end in ("less", "-free"):
        if word.endswith(end) and stem(word[: -len(end)]) == stem(other):
            return True
    # ("unable to" is counted as a negator of its own, not as a prefixed word)
    return (word, other) in f.prefixed or (word, other) == ("unable", "able")


class _PairGuard:
    """A guard that judges a pair by both texts' :class:`Features`: ``judge(q, c, query,
    candidate)``. ``check(query, candidate)`` (the :class:`Guard` protocol) fetches them;
    the verifier fetches them once per pair and calls ``judge`` of each default guard
    itself (each fetch was a memo probe and a call: about a tenth of the guards' work)."""

    name: str

    def check(self, query: str, candidate: str) -> str | None:
        q, c = pair(query, candidate)
        return self.judge(q, c, query, candidate)

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        raise NotImplementedError


@cache
def _worsening() -> tuple[frozenset[str], frozenset[str]]:
    """(stems of the verbs that make something worse, of those that make it better), by
    WordNet: the verbs of few senses, one of them "worsen"'s ("aggravate", "exacerbate"), and
    their antonyms and those of "worse" that are verbs ("help", "aid", "alleviate",
    "improve", "heal", "ease", "relieve", "fix")."""
    wn = wordnet()
    worsen = set(senses_of(wn.verb_senses["worsen"])[0])
    worse = {  # (of few senses: "decline" is first to refuse)
        stem(v)
        for v, entry in wn.verb_senses.items()
        if " " not in v
        and len(senses := senses_of(entry)[0]) <= 2
        and not worsen.isdisjoint(senses)
    }
    better = set().union(*(wn.antonyms.get(s, ()) for s in (*worse, stem("worse"))))
    better &= {stem(v) for v in wn.verb_senses if " " not in v}
    return frozenset(worse - better), frozenset(better - worse)


# "make my back pain worse", "made it better": a change for the worse or the better said
# with "make" (read as "worsen" / "improve")
_MADE = re.compile(r"\bma(?:ke|kes|de|king) (?:[\w'-]+ ){0,4}?(worse|better)\b")


def _better_or_worse(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """A change for the better on one side and for the worse on the other, of what else
    the two share ("does ginger help nausea" / "can ginger make nausea worse", "does
    exercise relieve back pain" / "does exercise aggravate back pain"): the answers are
    opposite."""
    worse, better = _worsening()

    def said(f: Features, diff: Diff) -> tuple[str | None, str | None]:
        down = next((w for w, s, _ in diff if s in worse), None)
        up = next((w for w, s, _ in diff if s in better), None)
        if ("worse" in f.vocab or "better" in f.vocab) and (made := _MADE.search(f.lower)):
            if made.group(1) == "worse":
                down = down or made.group()
            else:
                up = up or made.group()
        return up, down

    up_q, down_q = said(q, only_q)
    up_c, down_c = said(c, only_c)
    for up, down, other_up, other_down in (
        (up_q, down_c, up_c, down_q),
        (up_c, down_q, up_q, down_c),
    ):
        if up and down and not (other_up or other_down):
            return f"better vs worse ({up!r} / {down!r})"
    return None


class AntonymGuard(_PairGuard):
    """Predicates must not be opposites: a word on one side whose WordNet antonym is on
    the other side only ("include"/"exclude", "maximum"/"minimum", "accept"/"reject",
    "heavier"/"lighter"). Comparatives and superlatives are reduced to their adjective."""

    name = "antonym"

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        # (the pair's differing content words: already found by the scope guard's turn)
        only_q, only_c = _diffs(q, c)
        # an undoing verb on neither side, or no differing word on each side, and
        # _undone / _prefix_turned return None: they are not called (most pairs)
        turned = (
            # (a particle turned needs as many words a side: most pairs stop at the count)
            (_particle_turned(q, c) if len(q.words) == len(c.words) else None)
            or (
                None
                if q.stems.isdisjoint(_UNDOING) and c.stems.isdisjoint(_UNDOING)
                else _undone(q, c)
            )
            or (_prefix_turned(q, c, only_q, only_c) if only_q and only_c else None)
        )
        if turned is not None:
            return turned
        if (only_q or only_c) and not (
            _CONVERSE_CUES.isdisjoint(q.stems) or _CONVERSE_CUES.isdisjoint(c.stems)
        ):
            turned = _converse_turned(q, c, only_q, only_c)
            if turned is not None:
                return turned
        if " than " in query and " than " in candidate:
            inverted, opposed, swapped = _comparison(q, c)
            if inverted and not (opposed or swapped):
                return "comparison inverted ('less ...' on one side only)"
        if only_q and only_c and (turned := _better_or_worse(q, c, only_q, only_c)):
            return turned
        # a pair of antonyms needs a differing content word on each side: without one
        # (most pairs) the answer is None whatever the keys hold, so they are not built
        if not (only_q and only_c):
            # (a bound word on each side, or no bound turned: tested here, no call made)
            return (
                None
                if q.vocab.isdisjoint(_BOUND_CUES) or c.vocab.isdisjoint(_BOUND_CUES)
                else _bound_turned(q, c)
            )
        keys_q, keys_c = keys(query), keys(candidate)
        # a word of the candidate alone that is an antonym of one of the query's (WordNet's
        # antonymy is symmetric: asked of the few words that differ, not of all the query's)
        antonyms = wordnet().antonyms
        for k in keys_c - keys_q:
            if k in antonyms and not keys_q.isdisjoint(antonyms[k]):
                break
        else:
            return _turned_few(q, c, only_q, only_c) or (
                None
                if q.vocab.isdisjoint(_BOUND_CUES) or c.vocab.isdisjoint(_BOUND_CUES)
                else _bound_turned(q, c)
            )
        wn = wordnet()
        word_of_c = {base(w): w for w, _, _ in only_c} | {s: w for w, s, _ in only_c}
        word_of_c |= {a: w for w, _, _ in only_c if (a := _adverb_base(w)) is not None}
        word_of_c |= {stem(_PARTICIPLES[w]): w for w, _, _ in only_c if w in _PARTICIPLES}
        # "heavier than" / "lighter than" with the two sides swapped: the same question
        at = comparatives(q, c) if mirrored(q, c) else None
        inverse = {at[0]} if at else set()
        for w, s, i in only_q:
            if i in inverse:
                continue
            irregular = {stem(_PARTICIPLES[w])} if w in _PARTICIPLES else set()
            adverb = _adverb_base(w)
            for key in {s, base(w), *irregular, *([adverb] if adverb else [])}:
                for opposite in wn.antonyms.get(key, ()):
                    # "never" / "not ... ever": the negation guard found as many negators
                    # on each side, so the other side negates its "ever" elsewhere
                    if opposite in word_of_c and _PLAIN_NEGATORS.isdisjoint((key, opposite)):
                        w2 = word_of_c[opposite]
                        if _without_form(w, w2, q, c) or _without_form(w2, w, c, q):
                            continue  # "seedless" / "no seeds", "unsafe" / "not safe":
                            # the negation guard counted these
                        if _synonyms(w, w2):
                            continue  # "hire" / "employ": one sense (the antonyms were
                            # extended to the synonyms of both senses)
                        if _lessened(q, i) != _lessened(c, c.words.index(w2)):
                            continue  # "least expensive" / "cheapest": the same degree
                        if _no_for_not(q, c, key, opposite):
                            continue  # "can't accept" / "decline": one no, said twice
                        if _not_for_opposite(q, c, key, opposite):
                            continue  # "do not change its meaning" / "the same meaning"
                        if _verb_forms(w) and _verb_forms(w2):
                            if _roles_exchanged(q, i, c, c.words.index(w2)):
                                continue  # "A lent B" / "B borrowed from A": one event
                        if _introduces(q, w) or _introduces(c, w2):
                            continue
                        if _compared_apart(q, w, c, w2):
                            continue
                        if _apart_in_long(q, i, c, c.words.index(w2)):
                            continue  # two long prompts said otherwise: other places
                        return f"opposite words {w!r} / {w2!r} (WordNet antonyms)"
        return _turned_few(q, c, only_q, only_c) or (
            None
            if q.vocab.isdisjoint(_BOUND_CUES) or c.vocab.isdisjoint(_BOUND_CUES)
            else _bound_turned(q, c)
        )


# words a prompt needs on each side before its opposite words must share a neighbour
# (:func:`_neighbours`, defined below with the substitution guard's helpers)
_LONG_PROMPT = 20


def _apart_in_long(q: Features, i: int, c: Features, j: int) -> bool:
    """Whether two long prompts (20 words or more each) put a pair of opposite words in
    other places: neither the word right before them nor the one right after is the same
    (:func:`_neighbours`: "the recruiter wants a short summary" / "give it to the
    recruiter", "the last day to enroll" / "replies need to be short"). A long prompt said
    again in other words shares its predicates, not its wording; an opposite swapped in
    ("increase the limit" / "decrease the limit", "list the strengths" / "list the
    weaknesses") keeps a neighbour."""
    if len(q.words) < _LONG_PROMPT or len(c.words) < _LONG_PROMPT:
        return False
    (b, a), (b2, a2) = _neighbours(q, i), _neighbours(c, j)
    return (not b or b != b2) and (not a or a != a2)


def _introduces(f: Features, word: str) -> bool:
    """Whether ``word`` only introduces what follows it in ``f`` ("The customer asks:
    ...", "Answer: ..."): a label, whose opposite on the other side ("Answer the
    customer's question") turns nothing."""
    return f"{word}:" in f.lower and re.search(rf"\b{re.escape(word)}:", f.lower) is not None


def _compared_apart(q: Features, w: str, c: Features, w2: str) -> bool:
    """Whether two opposite comparatives compare with different numbers, each of which
    the other side bounds too ("results older than 2022 ... kids under 2" / "results
    from before 2022 ... kids younger than 2"): two comparisons of different things."""
    a, b = _than_number(q, w), _than_number(c, w2)
    return (
        a is not None
        and b is not None
        and a != b
        and re.search(rf"(?<![\d.]){re.escape(a)}(?![\d])", c.lower) is not None
        and re.search(rf"(?<![\d.]){re.escape(b)}(?![\d])", q.lower) is not None
    )


def _than_number(f: Features, word: str) -> str | None:
    """The number right after "``word`` than" in ``f``, or None."""
    m = re.search(rf"\b{re.escape(word)} than (\d[\d,.]*)", f.lower)
    return m.group(1).rstrip(",.") if m else None


# Words that bound a number from below (True) or above (False): a closed class of
# prepositions and fixed phrases, so a list ("no more than" is an upper bound, "no less
# than" a lower one: the "no" turns it).
_BOUNDS = {
    **dict.fromkeys(
        "over above exceed exceeds exceeding beyond past upwards min minimum".split(), True
    ),
    **dict.fromkeys("under below beneath within max maximum".split(), False),
    "more than": True,
    "greater than": True,
    "higher than": True,
    "larger than": True,
    "bigger than": True,
    "longer than": True,
    "at least": True,
    "less than": False,
    "fewer than": False,
    "lower than": False,
    "smaller than": False,
    "shorter than": False,
    "at most": False,
    "up to": False,
}
# A bound word on each side, or no bound can have turned (one set operation in C).
_BOUND_CUES = frozenset(w for phrase in _BOUNDS for w in phrase.split() if w not in ("at", "to"))
_NUMBER_AT = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _bound_of(before: list[str]) -> bool | None:
    """The direction a number is bounded in by the words right before it ("no more
    than" -> False, "over" -> True), or None."""
    if before and before[-1] == "of":
        before = before[:-1]  # "upwards of 50"
    if not before:
        return None
    way, size = None, 1
    if len(before) > 1 and (phrase := " ".join(before[-2:])) in _BOUNDS:
        way, size = _BOUNDS[phrase], 2
    elif before[-1] in _BOUNDS:
        way = _BOUNDS[before[-1]]
    if way is None:
        return None
    # "no more than 5": at most 5; "(no more than 5", "must not bend it past 90" (a
    # negator up to five words before the bound, within its clause): at most 90 too
    for word in reversed(before[max(0, len(before) - size - 5) : len(before) - size]):
        if word.lstrip("(\"'[") in _BOUND_NEGATORS or word.endswith("n't"):
            return not way
        if word[-1:] in ",.;:!?)":
            break
    return way


_BOUND_NEGATORS = frozenset({"no", "not", "never", "cannot"})


@per_text
@lru_cache(maxsize=1024)
def _bounded_digits(lower: str) -> dict[str, frozenset[bool]]:
    """number in digits -> the directions it is bounded in ("over 120": {"120": {True}}).
    Each number looks at the words right before it: the numbers are few, the text long
    (a pattern of the bounds tried along a 100-word prompt cost ≈ 50 µs)."""
    found: dict[str, set[bool]] = {}
    for m in _NUMBER_AT.finditer(lower):
        at = m.start()
        if at and lower[at - 1].isalnum():
            continue  # inside a word ("mp3")
        before = lower[max(0, at - 40) : at].rstrip("$€£ ").split()
        if at > 40 and lower[at - 41].isalnum():
            before = before[1:]  # a word cut by the window
        way = _bound_of(before)
        if way is not None:
            found.setdefault(m.group().replace(",", ""), set()).add(way)
    return {n: frozenset(d) for n, d in found.items()}


def _bounded(f: Features) -> dict[str, frozenset[bool]]:
    """number -> the directions it is bounded in, digits and number words ("over ten")."""
    digits = _bounded_digits(f.lower)
    spelt = f.vocab & NUMBER_WORDS.keys()
    if not spelt:
        return digits
    found = {n: set(d) for n, d in digits.items()}
    words = f.words
    for w in spelt:
        at = -1
        while True:
            try:
                at = words.index(w, at + 1)
            except ValueError:
                break
            way = _bound_of(list(words[max(0, at - 3) : at]))
            if way is not None:
                found.setdefault(str(NUMBER_WORDS[w]), set()).add(way)
    return {n: frozenset(d) for n, d in found.items()}


def _bound_turned(q: Features, c: Features) -> str | None:
    """The same number bounded the other way: "keep my heart rate over 120" / "below
    120", "exceed 5 GB" / "stay within 5 GB", "no more than 5 items" / "no fewer than 5".
    Only pairs whose bound words are not WordNet or listed antonyms ("over" / "under")
    reach it, and only when both sides hold a number."""
    # the same number on both sides (quantities normalised: "over $300" / "below 300
    # dollars"), and a bound word on each: two set operations in C before any scan
    if q.quantities.keys().isdisjoint(c.quantities) or q.vocab.isdisjoint(_BOUND_CUES):
        return None
    if c.vocab.isdisjoint(_BOUND_CUES):
        return None
    mine, theirs = _bounded(q), _bounded(c)
    for number, ways in mine.items():
        other = theirs.get(number)
        if other is not None and len(ways) == 1 and len(other) == 1 and ways != other:
            way = "below" if True in ways else "above"
            return f"bound turned ({number} bounded from {way} on one side only)"
    return None


def _turned_few(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """The turns WordNet lists no antonym for, asked only of a pair differing by at most
    two content words a side (a few look-ups each): a refusal against a yes, and a verb
    against a synonym of its undoing."""
    if len(only_q) > 2 or len(only_c) > 2:
        return None
    # (a refusal needs a refusing verb among a side's differing words, a verb undone one
    # whose undoing WordNet lists: asked in C, most pairs have neither)
    if _REFUSING.isdisjoint(map(_STEM_OF, only_q)) and _REFUSING.isdisjoint(map(_STEM_OF, only_c)):
        return (
            _undone_by_synonym(only_q, only_c)
            if q.negations == c.negations
            and any(map(_undoings, map(_WORD_OF, itertools.chain(only_q, only_c))))
            else None
        )
    return _refusal_turned(q, c, only_q, only_c) or (
        # (with negators on one side more, a turn may be one no said twice: "won't approve"
        # / "reject", the negation guard's)
        _undone_by_synonym(only_q, only_c) if q.negations == c.negations else None
    )


_UNDOING_PREFIXES = ("un", "de", "dis")


def _undone_by_synonym(only_q: Diff, only_c: Diff) -> str | None:
    """A verb on one side and, on the other, a verb sharing a WordNet sense with its
    undoing ("un-", "de-", "dis-"): "freeze" / "thaw" (thaw = unfreeze), "tie" / "undo"
    (untie), "plug in" / "disconnect" (unplug). WordNet lists the undoing beside its
    synonyms, not as the verb's antonym."""
    for one, other in ((only_q, only_c), (only_c, only_q)):
        for w, _, _ in one:
            for undoing, mine in _undoings(w):
                for w2, _, _ in other:
                    for theirs in _verb_sense_sets(w2):
                        if not mine.isdisjoint(theirs):
                            return f"{w2!r} undoes {w!r} (a WordNet sense of {undoing!r})"
    return None


def _senses(entry: str) -> frozenset[str]:
    """The sense ids of a verb's entry ("its senses;...")."""
    return frozenset(entry.split(";", 1)[0].split())


@lru_cache(maxsize=4096)
def _undoings(word: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """(undoing verb, its senses) for each form of ``word`` (:func:`lemmas`, in order)
    under each undoing prefix that WordNet lists as a verb: per word, memoised (the
    pair's differing words are asked about again by each candidate)."""
    senses = wordnet().verb_senses
    return tuple(
        (prefix + form, _senses(entry))
        for form in lemmas(word)
        for prefix in _UNDOING_PREFIXES
        if (entry := senses.get(prefix + form)) is not None
    )


@lru_cache(maxsize=4096)
def _verb_sense_sets(word: str) -> tuple[frozenset[str], ...]:
    """The senses of each form of ``word`` (:func:`lemmas`, in order) WordNet lists as a
    verb, memoised per word."""
    senses = wordnet().verb_senses
    return tuple(_senses(entry) for form in lemmas(word) if (entry := senses.get(form)) is not None)


# Saying no to, or calling off, what is offered or booked: "decline the invitation",
# "cancel my appointment". Against any other verb done to the same thing ("confirm my
# appointment", "renew my subscription") the other side says yes.
_REFUSING_VERBS = ("decline", "refuse", "reject", "cancel")
_REFUSING = frozenset(stem(w) for w in _REFUSING_VERBS) | {"turn_down"}
# Other ways to end or drop a thing: no yes against a refusal ("cancel" / "end my plan").
_ENDING = frozenset(
    stem(w) for w in "end stop terminate quit cease discontinue halt drop scrap withdraw".split()
) | {"call_off", "give_up"}


_NO_PARTICLES = frozenset({("off",), ("down",)})


@cache
def _said_no() -> frozenset[str]:
    """Stems of every other way to say no to a thing: the refusing verbs, the verbs sharing
    a WordNet sense with one ("deny", "spurn", "scrub") and the verbs of ending; built once."""
    entries = wordnet().verb_senses
    seeds = {s for w in _REFUSING_VERBS for s in entries[w].split(";")[0].split()}
    senses = {stem(v) for v, e in entries.items() if not seeds.isdisjoint(e.split(";")[0].split())}
    return frozenset(senses) | _REFUSING | _ENDING


def _refusal_turned(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """One side refuses or calls off a thing ("reply declining the dinner", "cancel my
    appointment") where the other does another verb to it ("confirming I'll attend the
    dinner", "confirm my appointment"): yes on one side, no on the other. The refusal
    takes an object ("decline in sales" is a fall); the other verb is neither another no
    ("turn down", "call off", "end"), nor negated (the negation guard's), nor a synonym."""
    for f, one, g, other in ((q, only_q, c, only_c), (c, only_c, q, only_q)):
        no = [d for d in one if d[1] in _REFUSING]
        if len(no) != 1 or not _takes_object(f, no[0][2]):
            continue
        said_no = _said_no()
        if any(d[1] in said_no for d in other) or not (said_no | _SAYING_NO).isdisjoint(g.keys):
            continue
        negated = _targets(g)
        for w, s, i in other:
            if (
                w not in NEGATORS
                and not w.endswith("n't")
                and s in wordnet().verbs
                and s not in negated
                and not (i and g.words[i - 1] in _NOUN_CUES)
                and g.words[i + 1 : i + 2] not in _NO_PARTICLES  # "call off", "turn down"
                and not _synonyms(w, no[0][0])
            ):
                return f"one side says no ({no[0][0]!r}) where the other does {w!r}"
    return None


def _takes_object(f: Features, i: int) -> bool:
    """Whether the word at ``i`` has an object after it ("decline the", "cancel my")."""
    after = f.words[i + 1 : i + 2]
    return bool(after) and (after[0] not in FUNCTION_WORDS or after[0] in _TAKEN)


# Words that say no without a negator: refusing ("decline the invitation", "reject the
# offer", "turn it down"), leaving out ("except Ben", "excluding returns", "omit the
# intro") and lacking ("rows missing an email", "lacks a phone"); the stems and the particle
# verb as the keys hold them.
_SAYING_NO = frozenset(
    {stem(w) for w in "decline refusing reject except excluding omit lacking missing".split()}
    | {"turn_down"}
)


# Words that are a "not" with its verb or adjective in one ("forgot" = "did not remember",
# "forbids" = "does not allow", "broken" / "offline" = "not working" / "not online",
# "closed" = "not open"): as written (the past participle; "close the tab" is no "not"),
# counted as a negator on the side without one only when the other side negates ("I forgot
# my PIN" / "I don't remember my PIN"; "forgot" / "didn't forget" still differ).
_MEANING_NOT_ROOTS = {
    "forget": "forget forgets forgot forgotten",
    "forbid": "forbid forbids forbade forbidden",
    "prohibit": "prohibit prohibits prohibited",
    "ban": "ban bans banned",
    "broken": "broken",
    "closed": "closed",
    "offline": "offline",
    "absent": "absent",
}
#: each form -> its root ("forgot" -> "forget")
_MEANING_NOT_ROOT = {w: r for r, forms in _MEANING_NOT_ROOTS.items() for w in forms.split()}
_MEANING_NOT = frozenset(_MEANING_NOT_ROOT)
_MEANING_NOT_STEMS = frozenset(stem(w) for w in _MEANING_NOT)
# ... and the phrases that put a "not" before what follows ("estimated rather than
# actual" = "an estimate, not an actual reading")
_NOT_PHRASES = ("rather than", "instead of")


def _applies_to(f: Features, k: int) -> str | None:
    """The stem the negator at word ``k`` of ``f`` applies to: the first content word
    within the 3 words after it, or None; past "longer" after "no" ("no longer opens":
    "opens", as "doesn't open anymore" has it)."""
    words = f.words
    if words[k] == "no" and words[k + 1 : k + 2] == ("longer",):
        k += 1
    for later in range(k + 1, min(k + 4, len(words))):
        if words[later] not in FUNCTION_WORDS:
            return f.seq[later]
    return None


def _targets(f: Features) -> list[str]:
    """The stem each negator of ``f`` applies to: the first content word after it."""
    seq, found = f.seq, []
    for k, w in enumerate(f.words):
        if (seq[k] in NEGATORS and w not in NOT_NEGATORS) or w.endswith("n't"):
            target = _applies_to(f, k)
            if target is not None:
                found.append(target)
    return found


_WH_WORDS = frozenset("why how when where what who which".split())


def _asked_not(f: Features, word: str) -> bool:
    """Whether ``f`` asks a question turned round on an auxiliary's "n't" ("why doesn't
    the pharmacy open", "won't it start") with the stem ``word`` in its next 6 words: the
    verb the "n't" negates, past the subject."""
    words, seq = f.words, f.seq
    return any(
        w.endswith("n't") and (k == 0 or words[k - 1] in _WH_WORDS) and word in seq[k + 1 : k + 7]
        for k, w in enumerate(words)
    )


def _no_for_not(q: Features, c: Features, mine: str, theirs: str) -> bool:
    """Whether one side negates its word of an opposite pair where the other side, with
    fewer negators, says the opposite with a word of saying no that nothing negates ("I
    can't accept the invitation" / "decline the invitation", "don't approve it" / "reject
    it"): counted as that side's negator, it says the same no ("can't accept" / "can't
    decline" still differ)."""
    for one, other, word, no in ((q, c, mine, theirs), (c, q, theirs, mine)):
        if (
            (
                no in _SAYING_NO
                or (no in _MEANING_NOT_STEMS and not _MEANING_NOT.isdisjoint(other.vocab))
            )
            and other.negations < one.negations
            and (word in _targets(one) or _asked_not(one, word))
            and no not in _targets(other)
        ):
            return True
    return False


def _not_for_opposite(q: Features, c: Features, mine: str, theirs: str) -> bool:
    """Whether one side negates its word of an antonym pair and the other side, with
    fewer negators, says the opposite that nothing negates: "do not change its meaning" /
    "keep the same meaning" (the negation guard found the negator said otherwise; "do not
    change" / "do not keep the same" still differ)."""
    for one, other, word, opposite in ((q, c, mine, theirs), (c, q, theirs, mine)):
        if (
            other.negations < one.negations
            and word in _targets(one)
            and word not in other.stems
            and opposite not in _targets(other)
            and opposite not in one.stems
        ):
            return True
    return False


# Verbs that undo what was done to a thing: "restore a deleted branch" asks the reverse of
# "delete a branch".
_UNDOING = frozenset(
    stem(w)
    for w in """restore recover undo undelete reopen unarchive retrieve revert reinstate unblock
    unban unlock reactivate unsuspend unhide unmute""".split()
)


def _undone(q: Features, c: Features) -> str | None:
    """One side undoes, on a thing in the state the other side's verb leaves it in
    ("restore an archived project"), what the other side does ("archive a project")."""
    for one, other in ((q, c), (c, q)):
        if one.stems.isdisjoint(_UNDOING) or not other.stems.isdisjoint(_UNDOING):
            continue
        undo = next(i for i, s in enumerate(one.seq) if s in _UNDOING)
        for i in range(undo + 1, min(len(one.words), undo + 4)):
            w, s = one.words[i], one.seq[i]
            if not w.endswith("ed"):
                continue
            for w2, s2 in zip(other.words, other.seq, strict=True):
                if s2 == s and not w2.endswith("ed"):
                    return f"one side undoes what the other does ({one.words[undo]} {w} vs {w2})"
    return None


# Prefixes that set a root's direction or degree: two of them on one root make another
# word ("outperform" / "underperform", "dehydration" / "overhydration", "upload" / "download").
_DIRECTION_PREFIXES = frozenset(
    """over under out hyper hypo pre post up down de in ex im sub super inter intra
    micro macro""".split()
)
_PREFIX_LENGTHS = sorted({len(p) for p in _DIRECTION_PREFIXES})
_PREFIX_HEADS = frozenset(p[:2] for p in _DIRECTION_PREFIXES)
_HEAD = itemgetter(slice(None, 2))  # a word's first two letters
_ROOT = 4  # shortest shared root ("port" of "import" / "export")


def _prefixed_roots(diff: Diff) -> dict[str, tuple[str, str]]:
    """root -> (prefix, word) for each differing word that starts with a prefix above."""
    found = {}
    for w, _, _ in diff:
        for n in _PREFIX_LENGTHS:
            if len(w) - n < _ROOT:
                break
            if w[:n] in _DIRECTION_PREFIXES:
                found[w[n:]] = (w[:n], w)
    return found


def _prefix_turned(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """A differing word on each side (``only_q``, ``only_c``: the pair's) made of one root
    under two different prefixes of direction or degree: opposites or another process,
    never a rewording."""
    if q.words == c.words:
        return None
    if not (only_q and only_c):
        return None
    # (a word of a side opens with a prefix only if its first two letters open one: asked
    # of the candidate's words in C first, as the query's roots are read only against its)
    roots_c = (
        {}
        if _PREFIX_HEADS.isdisjoint(map(_HEAD, map(_WORD_OF, only_c)))
        else (_prefixed_roots(only_c))
    )
    if roots_c:
        for root, (p, w) in _prefixed_roots(only_q).items():
            found = roots_c.get(root)
            if found is not None and found[0] != p:
                return f"one root under opposite prefixes ({w!r} / {found[1]!r})"
    return _heads_turned(only_q, only_c)


_LAST_LETTERS = itemgetter(slice(-_ROOT, None))  # a word's last _ROOT letters (all, if fewer)


def _heads_turned(only_q: Diff, only_c: Diff) -> str | None:
    """A differing word on each side made of one root after two heads that WordNet calls
    antonyms ("whitelist" / "blacklist", "onboard" / "offboard", "hardcover" / "softcover"):
    the compound takes its opposite from its head, which WordNet opposes as a word of its
    own but lists under neither compound."""
    # (no word of one side ending as one of the other's: no pair of them to walk, asked in C)
    if set(map(_LAST_LETTERS, map(_WORD_OF, only_q))).isdisjoint(
        map(_LAST_LETTERS, map(_WORD_OF, only_c))
    ):
        return None
    antonyms = wordnet().antonyms
    for w, _, _ in only_q:
        for w2, _, _ in only_c:
            if w[-_ROOT:] != w2[-_ROOT:]:
                continue  # (most pairs of words: no root of 4 letters in common)
            n = 0  # the shared ending, letter by letter from the end
            while n < len(w) and n < len(w2) and w[-1 - n] == w2[-1 - n]:
                n += 1
            head, head2 = w[:-n].rstrip("-"), w2[:-n].rstrip("-")
            if (
                n >= _ROOT
                and len(head) >= 2
                and len(head2) >= 2
                and stem(head2) in antonyms.get(stem(head), ())
            ):
                return f"one root after opposite heads ({w!r} / {w2!r})"
    return None


_OPPOSITE_PARTICLES = frozenset(OPPOSITE_PARTICLES) | {(b, a) for a, b in OPPOSITE_PARTICLES}
_PARTICLE_WORDS = frozenset(w for pair in OPPOSITE_PARTICLES for w in pair)


def _particle_turned(q: Features, c: Features) -> str | None:
    """The same verb with the opposite particle, all else the same ("zoom in" / "zoom
    out", "scale up" / "scale down"): any verb, not only the listed ones."""
    words, words2 = q.words, c.words
    if len(words) != len(words2) or _PARTICLE_WORDS & q.vocab == _PARTICLE_WORDS & c.vocab:
        return None  # most pairs: no particle on one side only, no walk along the words
    i = 0
    for k, (a, b) in enumerate(zip(words, words2, strict=True)):
        if a != b:
            if i:
                return None  # a second difference (stops at once on long prompts)
            i = k
    if not i:
        return None
    verb = words[i - 1]
    if (words[i], words2[i]) in _OPPOSITE_PARTICLES and (
        stem(verb) in wordnet().verbs or any(stem(f) in wordnet().verbs for f in lemmas(verb))
    ):
        return f"opposite particles '{verb} {words[i]}' / '{verb} {words2[i]}'"
    return None


def _lessened(f: Features, i: int) -> bool:
    """Whether the word at ``i`` follows "less" or "least" (the other way up)."""
    return i > 0 and f.words[i - 1] in ("less", "least")


# After "by", a measure, not a doer: "delayed by three hours", "cut by half".
_MEASURES = frozenset(
    """one two three four five six seven eight nine ten twenty fifty hundred half
    double twice much far more less about around almost nearly over up""".split()
)


def _sides(f: Features, pivot: int, shared: set[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Shared content words before and after position ``pivot`` (stem -> position), as
    (subject side, object side): a passive "was Y <verb>ed by X" swaps them back."""
    content = f.content
    left = {s: i for s in shared if (i := content[s]) < pivot}
    right = {s: i for s in shared if (i := content[s]) > pivot}
    words = f.words
    ordering = words[pivot] in _ORDERING
    reach = 5 if ordering else 3  # "was the parcel sent to": the pivot after the verb
    if "by" not in words[pivot + 1 :] or (
        _BE.isdisjoint(words[max(0, pivot - reach) : pivot]) and not _asked_passive(f, pivot)
    ):
        return left, right
    # a passive: the one after "by" does it ("the invoice was sent to the client by the
    # accountant" = "the accountant sent the invoice to the client"); "by 3 hours", "by
    # half" measure, no one does it
    by = words.index("by", pivot + 1)
    if words[by + 1 : by + 2] and (words[by + 1][0].isdigit() or words[by + 1] in _MEASURES):
        return left, right
    # the doer is the phrase after "by" ("by the head of sales"); what follows it ("about
    # the drill") stays on the object side, as in the active form
    end, named = by + 1, False
    while end < len(words):
        if words[end] not in FUNCTION_WORDS:
            named = True
        elif named and words[end] not in _DETERMINERS and words[end] != "of":
            break  # "by all the staff about": past the first content word, a preposition
        end += 1
    agent = {s: i for s, i in right.items() if by < i < end}
    rest = {s: i for s, i in right.items() if i < by or i >= end}
    if ordering:
        return left | agent, rest
    return agent, left | rest  # "was Y <verb>ed (to Z) by X": X does it, to Y (and Z)


def _asked_passive(f: Features, pivot: int) -> bool:
    """Whether a question opens with "is/was" and a subject of a few words right before
    the participle at ``pivot`` ("was the light bulb invented by", "are the new rules
    enforced by")."""
    words, k = f.words, pivot - 1
    while (
        k >= 0
        and pivot - k <= _MAX_SPAN
        and words[k] not in _BE
        and (words[k] in _DETERMINERS or words[k] not in FUNCTION_WORDS)
    ):
        k -= 1
    return k >= 0 and words[k] in _BE and k < pivot - 1


def _symmetric(f: Features, pivot: int, end: int) -> bool:
    """Whether "with/and/or/between" joins the pivot to the argument at ``end``."""
    if f.words[pivot] in _DIRECTED:
        return False  # "replace A with B": the pivot itself
    if f.words[pivot] in _SYMMETRIC or (pivot and f.words[pivot - 1] in _SYMMETRIC):
        return True  # "is the hotel near the station", "is A similar to B"
    between = f.words[min(pivot, end) + 1 : max(pivot, end)]
    # "X earns more compared with Y" keeps X as the one asked about, as "than" does
    # ("compare A with B", the verb, stays symmetric)
    return any(
        w in _SYMMETRIC and between[k - 1 : k] != ("compared",) for k, w in enumerate(between)
    )


_COMPARE = frozenset({stem("compare"), stem("comparing")})


def _compared(f: Features, first: int) -> bool:
    """Whether "compare" stands just before the first argument: "compare A to B" asks
    the same as "compare B to A" (unlike "A earns more compared to B")."""
    return not _COMPARE.isdisjoint(f.seq[max(0, first - 3) : first])


# Verbs of replacement give "with" and "for" a direction: "replace butter with oil" is
# not "replace oil with butter", "swap tea for coffee" not "swap coffee for tea".
_REPLACING = frozenset(stem(w) for w in "replace substitute swap exchange switch trade".split())
# Verbs whose "with" names the means give it a direction: "pay my credit card with my
# debit card" ("pay for the repairs, the tenant or the owner" keeps its "or").
_BY_MEANS = frozenset(stem(w) for w in "pay buy purchase fund charge feed fill top".split())
# Verbs whose two sides do the same to each other: "does a US citizen marry a green card
# holder" asks what "does a green card holder marry a US citizen" asks.
_RECIPROCAL = frozenset(
    stem(w)
    for w in "marry marries married wed meet met border borders resemble rhyme collide".split()
)
_DIRECTED = frozenset({"with", "for"})
_WITH = frozenset({"with"})


_INVERTING = frozenset({"less", "fewer", "lower"})


def _inverted(f: Features, at: int) -> bool:
    """Whether the comparative at ``at`` is inverted by a word before it ("less healthy");
    "less" / "more" themselves are opposite comparatives, not inverted ones."""
    return not _INVERTING.isdisjoint(f.words[max(0, at - 3) : at])


def _opposed(a: str, b: str) -> bool:
    """Whether two comparatives are WordNet antonyms ("heavier" / "lighter")."""
    antonyms = wordnet().antonyms
    keys_b = {stem(b), stem(base(b))}
    return any(not keys_b.isdisjoint(antonyms.get(k, ())) for k in {stem(a), stem(base(a))})


# Words between a comparative and its "than" ("better for the teeth than").
_COMPARED_WITHIN = 4


def comparatives(q: Features, c: Features) -> tuple[int, int] | None:
    """Where the comparatives of two comparisons stand (one "than" each): the words
    right before "than", or where those are one word on both sides ("better for the teeth
    than" / "worse for teeth than"), the nearest pair before it that are opposites; None
    without one "than" a side."""
    if q.words.count("than") != 1 or c.words.count("than") != 1:
        return None
    i, j = q.words.index("than"), c.words.index("than")
    if not (i and j):
        return None
    if q.seq[i - 1] == c.seq[j - 1]:
        for k in range(i - 2, max(-1, i - 1 - _COMPARED_WITHIN), -1):
            for m in range(j - 2, max(-1, j - 1 - _COMPARED_WITHIN), -1):
                if q.seq[k] != c.seq[m] and _opposed(q.words[k], c.words[m]):
                    return k, m
    return i - 1, j - 1


def _comparison(q: Features, c: Features) -> tuple[bool, bool, bool]:
    """For two comparisons ("... than ..."): (inverted one way only: "healthier" / "less
    healthy", comparatives opposed: "heavier" / "lighter", sides swapped around "than")."""
    at = comparatives(q, c)
    if at is None:
        return False, False, False
    k, m = at
    i, j = q.words.index("than"), c.words.index("than")
    inverted = _inverted(q, k) != _inverted(c, m)
    opposed = _opposed(q.words[k], c.words[m])
    shared = (q.content.keys() & c.content.keys()) - {q.seq[k], c.seq[m]}
    (left_q, right_q), (left_c, right_c) = _sides(q, i, shared), _sides(c, j, shared)
    swapped = bool(left_q.keys() & right_c.keys()) and bool(right_q.keys() & left_c.keys())
    return inverted, opposed, swapped


def mirrored(q: Features, c: Features) -> bool:
    """Whether ``c`` states ``q``'s comparison the other way round: its two sides swapped
    around "than" and the comparison inverted ("Is gold heavier than silver?" / "Is silver
    lighter than gold?", "Is Rust safer than C?" / "Is C less safe than Rust?")."""
    if "than" not in q.vocab or "than" not in c.vocab:
        return False
    inverted, opposed, swapped = _comparison(q, c)
    return swapped and inverted != opposed


# How far (in words) a verb's arguments stand from it: a word further off belongs to
# another phrase ("call the search tool to find the orders placed by customer 7": the tool
# is no argument of "placed").
_ARGUMENT_REACH = 6
_COMPARED_REACH = 10
# A word, or punctuation that ends a clause ("1,000" and "e.g" keep theirs: no space after).
_WORD_OR_STOP = re.compile(rf"{_WORD.pattern}|[.?!;:,](?=\s|$)")


@per_text
@lru_cache(maxsize=256)
def _clauses(lower: str, count: int) -> tuple[int, ...] | None:
    """The clause number of each of a text's ``count`` words (clauses split at , . ? ! ;
    :), or None where the words cannot be matched to the text. Asked only of a pair about
    to be refused for swapped arguments, so no lookup that serves pays for it."""
    bare = _POSSESSIVE.sub("", lower) if "'s" in lower else lower
    numbers, clause = [], 0
    for m in _WORD_OR_STOP.finditer(bare):
        if m.group()[0].isalnum():
            numbers.append(clause)
        else:
            clause += 1
    return tuple(numbers) if len(numbers) == count else None


# Pronouns that stand for a phrase further back ("pull the figures and compare them to").
_BACK_REFERENCES = frozenset({"it", "them", "they", "these", "those"})


def _in_clause(f: Features, pivot: int, at: int) -> bool:
    """Whether the word at ``at`` can be an argument of the word at ``pivot``: near it
    (or named by a pronoun between them) and in its clause ("if they do not contain the
    answer, say you don't know": "answer" is none of "know"'s; "is Redis, the in-memory
    database, good")."""
    # the subject of a comparison stands further off than a verb's object ("do women on
    # dating apps get more matches than men"): "than" reaches its clause's subject
    reach = _COMPARED_REACH if f.words[pivot] == "than" else _ARGUMENT_REACH
    if abs(at - pivot) > reach and _BACK_REFERENCES.isdisjoint(
        f.words[min(at, pivot) + 1 : max(at, pivot)]
    ):
        return False
    clauses = _clauses(f.lower, len(f.words))
    return clauses is None or clauses[at] == clauses[pivot]


def _adjective_before(f: Features, i: int) -> bool:
    """Whether the word at ``i`` follows a number ("one party", "3 runs") or a determiner
    and an adjective that is no noun or verb ("the overdue invoices", "my new laptop"): it
    is then a noun, not a verb."""
    if i and (f.words[i - 1][0].isdigit() or f.words[i - 1] in NUMBER_WORDS):
        return True
    if i < 2 or f.words[i - 2] not in _NOUN_CUES:
        return False
    wn, w = wordnet(), f.words[i - 1]
    return w in wn.adjective_senses and w not in wn.nouns and f.seq[i - 1] not in wn.verbs


# Words after which "to" before a verb starts an infinitive ("have to return"), no
# destination: the verb after it is the pivot that orders the roles.
_TO_INFINITIVE = frozenset(
    "have has had need needs want wants going able how ought allowed supposed required".split()
)


def _infinitive(f: Features, i: int) -> bool:
    """Whether "to" at ``i`` starts an infinitive: "to be paid", "have to return it"."""
    after = f.seq[i + 1 : i + 2]
    return bool(after) and (
        after[0] == "be" or (f.words[i - 1] in _TO_INFINITIVE and after[0] in wordnet().verbs)
    )


def _across_than(f: Features, a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` stand on the two sides of the one "than" of ``f``."""
    if f.words.count("than") != 1:
        return False
    than = f.words.index("than")
    return (f.content[a] < than) != (f.content[b] < than)


def _before_infinitive(f: Features, i: int) -> bool:
    """Whether the word at ``i`` is followed by an infinitive ("need to be told")."""
    return f.words[i + 1 : i + 2] == ("to",) and _infinitive(f, i + 1)


def _before_passive(f: Features, i: int) -> bool:
    """Whether the word at ``i`` is followed by a passive with its doer ("keeps getting
    criticized by", "was being watched by")."""
    return f.words[i + 1 : i + 2] != () and f.words[i + 1] in _BE and "by" in f.words[i + 2 :]


# Irregular past participles not in "-en", and the irregular past tenses of verbs whose
# participle is in "-en" (a closed class of English; the frequent ones that take a doer
# with "by"): the form -> its verb.
_PARTICIPLES = {
    "ate": "eat",
    "broke": "break",
    "chose": "choose",
    "drove": "drive",
    "fell": "fall",
    "forgot": "forget",
    "gave": "give",
    "hid": "hide",
    "rode": "ride",
    "shook": "shake",
    "spoke": "speak",
    "stole": "steal",
    "took": "take",
    "wrote": "write",
    "bought": "buy",
    "brought": "bring",
    "built": "build",
    "caught": "catch",
    "fed": "feed",
    "found": "find",
    "held": "hold",
    "hit": "hit",
    "hurt": "hurt",
    "kept": "keep",
    "led": "lead",
    "left": "leave",
    "lent": "lend",
    "made": "make",
    "met": "meet",
    "paid": "pay",
    "read": "read",
    "sent": "send",
    "shot": "shoot",
    "sold": "sell",
    "struck": "strike",
    "stung": "sting",
    "taught": "teach",
    "told": "tell",
    "won": "win",
    "lost": "lose",
    "fought": "fight",
    "heard": "hear",
    "sought": "seek",
    "spent": "spend",
    "thought": "think",
}


@lru_cache(maxsize=4096)
def _verb_forms(word: str) -> frozenset[str]:
    """Stems of the WordNet verbs ``word`` may be a form of: the regular ones of
    :func:`lemmas` ("sued" / "suing" -> "sue"), the past participles in "-en" ("bitten"
    -> "bite", "eaten" -> "eat", "taken" -> "take") and the irregular ones ("bought"), so
    a passive's participle meets the active verb."""
    forms = list(lemmas(word))
    if word in _PARTICIPLES:
        forms.append(_PARTICIPLES[word])
    elif word.endswith("en") and len(word) > 4:
        root = word[:-2]
        forms += [root, root + "e"]
        if root[-1] == root[-2]:
            forms += [root[:-1], root[:-1] + "e"]
    verbs = wordnet().verbs
    return frozenset(s for s in map(stem, forms) if s in verbs)


_IRREGULAR = frozenset(_PARTICIPLES)
_SPEAKER = {"i": "@me", "we": "@me", "me": "@me", "us": "@me"}
# Words that open another clause or a question's frame: a verb's subject lies after them.
_CLAUSE_OPENERS = frozenset(
    """did does do who what which when why how if that and but so because whether""".split()
)
_ROLE_REACH = 6
_ASKING_WHO = frozenset({"who", "which", "what"})
_WHO = "@who"


def _role_words(f: Features, at: int) -> tuple[set[str], set[str]]:
    """The content stems (and the speaker, as "@me") before the verb at ``at`` in its
    clause (its doer), and after it (what it is done to, and to whom)."""
    words, seq = f.words, f.seq
    clauses = _clauses(f.lower, len(words))
    before, after = set(), set()
    for k in range(at - 1, max(-1, at - 1 - _ROLE_REACH), -1):
        if k == at - 1 and words[k] in _ASKING_WHO:
            before.add(_WHO)  # "who bought": the question asks for the doer
        if words[k] in _CLAUSE_OPENERS or (clauses is not None and clauses[k] != clauses[at]):
            break
        if words[k] in _SPEAKER or words[k] not in FUNCTION_WORDS:
            before.add(_SPEAKER.get(words[k], seq[k]))
    for k in range(at + 1, min(len(words), at + 1 + _ROLE_REACH)):
        if words[k] in _CLAUSE_OPENERS or (clauses is not None and clauses[k] != clauses[at]):
            break
        if words[k] in _SPEAKER or words[k] not in FUNCTION_WORDS:
            after.add(_SPEAKER.get(words[k], seq[k]))
    return before, after


def _roles_exchanged(q: Features, i: int, c: Features, j: int) -> bool:
    """Whether the doer of the verb at ``i`` of ``q`` is what the verb at ``j`` of ``c``
    is done to, or the other way round: two opposite verbs stating one event ("my brother
    lent me $300" / "I borrowed $300 from my brother", "does A precede B" / "does B
    follow A"); the same doer on both sides ("my brother borrowed $300 from me") is the
    opposite event."""
    before_q, after_q = _role_words(q, i)
    before_c, after_c = _role_words(c, j)
    moved_q, moved_c = (before_q - before_c) & after_c, (before_c - before_q) & after_q
    # both doers moved; or one did where the other side asks who does it ("who bought the
    # Post from the Grahams" / "who did the Grahams sell the Post to")
    if moved_q and moved_c:
        return True
    return bool(moved_q or moved_c) and _WHO in (before_q | before_c)


# The two ends of one handing over, which WordNet does not give as antonyms (it has
# "lend" / "borrow" and "buy" / "sell", caught with them): the giver's verb and the
# receiver's. "get" is a receiver's verb only with "from" after it ("get money from
# Mexico"; "what should I get my mom" is what to give her).
_CONVERSES = {
    stem(giver): frozenset(map(stem, receivers))
    for giver, receivers in (
        ("give", ("receive", "get")),
        ("gift", ("receive", "get")),
        ("send", ("receive", "get")),
        ("teach", ("learn",)),
    )
}
_RECEIVING = frozenset().union(*_CONVERSES.values())
_GET = stem("get")
_GETS = frozenset("get gets got getting gotten".split())
# their stems as written, irregular forms too: a pair without one a side skips the test
_CONVERSE_CUES = frozenset(
    map(stem, "give gave given gift send sent teach taught receive get got learn learnt".split())
)


def _from_after(f: Features, at: int) -> bool:
    """Whether "from" follows the verb at ``at`` in its clause, within a few words."""
    for w in f.words[at + 1 : at + 1 + _ROLE_REACH]:
        if w == "from":
            return True
        if w in _CLAUSE_OPENERS:
            return False
    return False


def _converse_turned(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """A giver's verb on one side where the other has the receiver's, with the same doer:
    "give shares to my daughter" / "receive shares from my daughter", "teach Spanish to
    adults" / "learn Spanish from adults" ask about opposite events. With the doers
    exchanged ("my dad gave me a car" / "I received a car from my dad") it is one event."""
    for one, other, mine, theirs in ((q, c, only_q, only_c), (c, q, only_c, only_q)):
        for w, _s, i in mine:
            forms = _verb_forms(w)
            receivers = frozenset().union(*(_CONVERSES.get(v, ()) for v in forms))
            if not receivers or _undergone(one, i):
                continue  # "must never be given it" / "shouldn't receive it": one event
            # ("get" is a function word, in no diff: found in the words, when one side
            # alone has it)
            gets = (
                []
                if not _GETS.isdisjoint(one.words)
                else [(w2, _GET, j) for j, w2 in enumerate(other.words) if w2 in _GETS]
            )
            for w2, s2, j in [*theirs, *gets]:
                got = receivers & (_verb_forms(w2) | {s2})
                if not got or (got == {_GET} and not _from_after(other, j)):
                    continue
                before, after = _role_words(one, i)
                before2, after2 = _role_words(other, j)
                if (before - before2) & after2 or (before2 - before) & after:
                    continue  # a doer moved to the other end: one event told both ways
                return f"converse verbs {w!r} / {w2!r} with the same doer"
    return None


def _undergone(f: Features, i: int) -> bool:
    """Whether word ``i`` of ``f`` is a participle after "be" or "get" one or two words
    before it ("must never be given it", "was taught Spanish"): its subject undergoes it."""
    w = f.words[i]
    return (w in _PARTICIPLES or w.endswith(("ed", "en", "ght"))) and not _BE.isdisjoint(
        f.words[max(0, i - 2) : i]
    )


# "X's Y": X owns Y. ("Y of X" is left out: "one day of notice" is "one day's notice".)
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


@per_text
@lru_cache(maxsize=1024)
def _ownership(lower: str) -> frozenset[tuple[str, str]]:
    """(owner stem, owned stem) of each "X's Y" of a text, function words left out
    ("it's", "what's"). Found with str.find: a pattern tried at every letter of a long
    prompt cost ≈ 20 µs."""
    found = set()
    at = lower.find("'s ")
    while at > 0:
        start, end = at, at + 3
        while start and lower[start - 1] in _WORD_CHARS:
            start -= 1
        while end < len(lower) and lower[end] in _WORD_CHARS:
            end += 1
        x, y = lower[start:at], lower[at + 3 : end]
        if x and y and x not in FUNCTION_WORDS and y not in FUNCTION_WORDS and stem(x) != stem(y):
            found.add((stem(x), stem(y)))
        at = lower.find("'s ", at + 3)
    return frozenset(found)


def _owner_swapped(q: Features, c: Features) -> str | None:
    """Owner and owned trade places: "my sister's husband" / "my husband's sister", "my
    dog's vet" / "my vet's dog". The words stay neighbours, so the swap rules (which leave
    two neighbours that trade places alone: "london weather") never see it; "'s" says
    which one owns the other."""
    if "'s " not in q.lower or "'s " not in c.lower:
        return None
    mine, theirs = _ownership(q.lower), _ownership(c.lower)
    for x, y in mine:
        if (y, x) in theirs and (x, y) not in theirs and (y, x) not in mine:
            return f"owner and owned swapped ({x} owns {y} on one side, {y} owns {x} on the other)"
    return None


# From a form of "be" / "get" to the "by" of its passive: "was the quarterly report written by".
_PASSIVE_REACH = 5
# Particles of phrasal verbs that stand between a participle and "by" ("taken over by").
_PARTICLES_BEFORE_BY = frozenset({"over", "up", "down", "out", "off", "away", "in"})


@lru_cache(maxsize=4096)
def _one_act(participle: str, word: str) -> bool:
    """Whether a passive's participle and a word of the other side name one act by
    WordNet ("bought" / "acquire": "buy" is a kind of "acquire"), not by their forms."""
    senses = wordnet().verb_senses
    mine = [f for f in (*lemmas(participle), _PARTICIPLES.get(participle, "")) if f in senses]
    theirs = [f for f in lemmas(word) if f in senses]
    for a in mine:
        sa, pa = senses_of(senses[a])
        for b in theirs:
            sb, pb = senses_of(senses[b])
            if sa & sb or sa & pb or sb & pa:
                return True
    return False


def _passive_turned(q: Features, c: Features) -> str | None:
    """A passive with its doer on one side, the active verb on the other with the same
    words in the same places: the roles are the other way round ("my rabbit keeps
    getting bitten by my guinea pig" / "my rabbit keeps biting my guinea pig", "our
    startup was acquired by Oracle" / "our startup acquired Oracle"). What stands before
    the passive undergoes it and the doer follows "by"; on the active side the same
    word before the verb does it, to the doer after it. The word order alone never shows
    this, so the pivot rules, which start from words that moved, miss it. "Oracle
    acquired our startup" keeps the roles (the doer before the verb) and passes."""
    by_q, by_c = "by" in q.vocab, "by" in c.vocab
    if by_q == by_c:
        return None
    passive, active = (q, c) if by_q else (c, q)
    words = passive.words
    if _BE.isdisjoint(words):
        return None
    # ("the small one": a number word names no role, it stands for the noun)
    shared = {s for s in passive.content.keys() & active.content.keys() if s not in NUMBER_WORDS}
    for k in [k for k, w in enumerate(words) if w == "by"]:
        # the participle: right before "by", or before its particle ("taken over by")
        p = k - 2 if k > 2 and words[k - 1] in _PARTICLES_BEFORE_BY else k - 1
        if (
            p < 1
            or _BE.isdisjoint(words[max(0, p - _PASSIVE_REACH + 1) : p])
            or words[p].endswith("ing")
            or words[p] in _BE
        ):
            continue  # "was <participle> by", "was the report written by"
        after = words[k + 1 : k + 2]
        forms = _verb_forms(words[p])
        if not forms or not after or after[0][0].isdigit() or after[0] in _MEASURES:
            continue  # "was delayed by 3 hours": a measure, no doer
        # the active verb: a content word of that side alone, or the participle's own stem
        # ("scolded" on both sides); only those few are looked up
        own = passive.seq[p]
        verbs = [
            v
            for s, v in active.content.items()
            if (s == own or s not in passive.content)
            and not forms.isdisjoint(_verb_forms(active.words[v]))
        ]
        if not verbs:
            # the act said with another verb ("was bought by" / "acquired"): one WordNet
            # sense, or one verb a kind of the other's act
            verbs = [
                v
                for s, v in active.content.items()
                if s not in passive.content and _one_act(words[p], active.words[v])
            ]
        if len(verbs) != 1:
            continue
        v = verbs[0]
        if v and active.words[v - 1] in _BE and not active.words[v].endswith("ing"):
            continue  # a passive without its doer on the other side: no active roles
        end, named = k + 1, False  # the doer: the phrase after "by" ("by my guinea pig")
        while end < len(words):
            if words[end] not in FUNCTION_WORDS:
                named = True
            elif named and words[end] not in _DETERMINERS and words[end] != "of":
                break
            end += 1
        undergoes = [
            s
            for s in shared
            if passive.content[s] < p and _in_clause(passive, k, passive.content[s])
        ]
        does = [s for s in shared if k < passive.content[s] < end]
        for a in undergoes:
            for b in does:
                at_a, at_b = active.content[a], active.content[b]
                if at_a < v < at_b and _in_clause(active, v, at_a) and _in_clause(active, v, at_b):
                    return (
                        f"roles turned by the passive around {active.words[v]!r} ({a} "
                        f"undergoes it on one side, does it on the other)"
                    )
    return None


class ArgumentGuard(_PairGuard):
    """Who does what to whom must agree: the same verb (or ordering word: to, than,
    over, before, after) with its two nearest arguments swapped is another question
    ("did Anna email Ben" / "did Ben email Anna", "convert miles to km" / "km to miles").
    Passives are undone ("was Ben emailed by Anna"); "with/and/or" between the arguments
    make the relation symmetric ("mix A with B" = "mix B with A"), and an inverted
    comparison swaps them on purpose ("A is less risky than B" = "B is riskier than A").
    One argument moved from before the verb of a question with an auxiliary to right
    after it changes roles ("who did Brutus betray" / "who betrayed Brutus"); in "is X a
    Y" questions subject and predicate count as the two sides; "from" orders its sides
    unless the question is how far or how different. Without such a pivot: two arguments
    that trade places around the same words, everything else equal ("how many yen is 30
    francs" / "how many francs is 30 yen"), and the speaker doing the verb on one side and
    undergoing it on the other ("I owe my friend" / "my friend owes me"); an owner alone
    crossing the verb ("my sister's dog bit my cat" / "my dog bit my sister's cat")."""

    name = "argument"

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        reason = self._around_a_pivot(q, c)
        if reason is None:
            # (a side without "I" or "we" has no speaker doing a verb: _doer_changed
            # finds none of those forms in its vocabulary and returns None uncalled)
            # (each asked only where its first test passes, in C here: the same stems for
            # an exchange, a speaker's form on a side, "by" on one side alone for a
            # passive, an owner's "'s" on both: most pairs call none of them)
            q_vocab, c_vocab = q.vocab, c.vocab
            reason = (
                (None if q.stems != c.stems else _exchanged(q, c))
                or (
                    None
                    if _SPEAKER_FORMS.isdisjoint(q_vocab) and _SPEAKER_FORMS.isdisjoint(c_vocab)
                    else _speaker_swapped(q, c, query, candidate)
                )
                or (None if _SPEAKER_SUBJECT.isdisjoint(q_vocab) else _doer_changed(q, c))
                or (None if _SPEAKER_SUBJECT.isdisjoint(c_vocab) else _doer_changed(c, q))
                or (None if _SPEAKER_SUBJECT.isdisjoint(q_vocab) else _asked_doer_changed(q, c))
                or (None if _SPEAKER_SUBJECT.isdisjoint(c_vocab) else _asked_doer_changed(c, q))
                or (None if ("by" in q_vocab) == ("by" in c_vocab) else _passive_turned(q, c))
                or (_owner_swapped(q, c) if "'s " in q.lower and "'s " in c.lower else None)
                or (
                    None
                    if _INFLUENCE_WORDS.isdisjoint(q_vocab) or _INFLUENCE_WORDS.isdisjoint(c_vocab)
                    else _influence_turned(q, c)
                )
                # (a relative pronoun on a side and the same content words on both: tested
                # in C first, most pairs call nothing)
                or (
                    None
                    if (_RELATIVES.isdisjoint(q_vocab) and _RELATIVES.isdisjoint(c_vocab))
                    or q.content.keys() != c.content.keys()
                    else _relative_turned(q, c)
                )
            )
        return reason

    def _around_a_pivot(self, q: Features, c: Features) -> str | None:
        shared = q.content.keys() & c.content.keys()
        if not shared:
            return None
        # a verb whose forms have other stems on the two sides ("which company bought GM"
        # / "which company did GM buy", "who succeeded X" / "who did X succeed"): its
        # lemma is a pivot too, and one shared word can then have moved across it
        forms = _lemma_pivot(q, c)
        if forms is None and len(shared) < 2:
            return None
        # no two shared words in another order: nothing can have been swapped (the
        # common case, decided by two sorts in C)
        if forms is None and sorted(shared, key=q.content.__getitem__) == sorted(
            shared, key=c.content.__getitem__
        ):
            return None
        wn_verbs = wordnet().verbs
        verbs = [(p, q.seq, c.seq) for p in shared & wn_verbs]
        # a participle both sides share whose stem is no verb's ("has Leeds beaten")
        verbs += [
            (p, q.seq, c.seq)
            for p in shared - wn_verbs
            if _participle(w := q.words[q.content[p]]) and not w.endswith("ed") and _verb_forms(w)
        ]
        if forms is not None:
            verbs.append(forms)
        pivots = _ORDERING
        if not _REPLACING.isdisjoint(shared):
            pivots = _ORDERING | _DIRECTED
        elif not _BY_MEANS.isdisjoint(shared):
            pivots = _ORDERING | _WITH
        if _APART.isdisjoint(shared):
            pivots = pivots | _SOURCE  # "what do bees get from flowers" / "flowers ... bees"
        ordering = [(w, q.words, c.words) for w in pivots & q.vocab & c.vocab]
        for pivot, in_q, in_c in verbs + ordering:
            if in_q.count(pivot) != 1 or in_c.count(pivot) != 1 or pivot in _RECIPROCAL:
                continue  # a repeated word has no single position to compare
            i, j = in_q.index(pivot), in_c.index(pivot)
            word = q.words[i]
            if word == "than" and mirrored(q, c):
                continue  # "A is less X than B" = "B is X-er than A": swapped on purpose
            if word == "to" and i and j and (_infinitive(q, i) or _infinitive(c, j)):
                continue  # "have to return", "to be returned by": the verb's roles count
            if _before_infinitive(q, i) or _before_infinitive(c, j):
                continue  # "does the school need to inform parents" / "do parents need to
                # be informed by the school": the roles are the infinitive's
            if _before_passive(q, i) or _before_passive(c, j):
                continue  # "my dad keeps getting criticized by my wife": the roles are the
                # passive verb's, undone there
            if word not in _ORDERING and (
                (i and q.words[i - 1] in _NOUN_CUES)
                or (j and c.words[j - 1] in _NOUN_CUES)
                or _adjective_before(q, i)
                or _adjective_before(c, j)
            ):
                continue  # used as a noun: "the boiling point of water"
            args = shared - {pivot}
            (left_q, right_q), (left_c, right_c) = _sides(q, i, args), _sides(c, j, args)
            # a word that moved from the subject side to the object side, and one that
            # moved the other way: "A beat B" / "B beat A"
            # ("the larger one": "one" stands for a noun said elsewhere, no argument)
            for a in left_q.keys() & right_c.keys() - _PRO_FORMS:
                for b in right_q.keys() & left_c.keys() - _PRO_FORMS:
                    if not (
                        _symmetric(q, i, right_q[b])
                        or _symmetric(c, j, right_c[a])
                        or _compared(q, left_q[a])
                        or not _in_clause(q, i, left_q[a])
                        or not _in_clause(q, i, right_q[b])
                        or not _in_clause(c, j, left_c[b])
                        or not _in_clause(c, j, right_c[a])
                        or _before_infinitive(q, left_q[a])
                        or _before_infinitive(c, left_c[b])
                        # the two sides of a comparison turned round: "does A pay more than
                        # B" / "does B pay less than A" (so "pay" has the other subject)
                        or (_across_than(q, a, b) and _across_than(c, a, b) and mirrored(q, c))
                    ):
                        return f"arguments swapped around {word!r} ({a} ... {b} vs {b} ... {a})"
            if word not in _ORDERING and word not in _SOURCE:
                for one, other, at, at2, moved in (
                    (q, c, i, j, left_q.keys() & right_c.keys()),
                    (c, q, j, i, left_c.keys() & right_q.keys()),
                ):
                    for a in moved:
                        stranded = _stranded(one, at)
                        if (
                            _inverted_subject(one, at, a, stranded)
                            and _object(other, at2, a, stranded)
                            and _in_clause(one, at, one.content[a])
                            and _in_clause(other, at2, other.content[a])
                        ):
                            return (
                                f"roles differ around {word!r} ({a} does it on one side, "
                                "undergoes it on the other)"
                            )
                moved = (left_q.keys() & right_c.keys()) | (right_q.keys() & left_c.keys())
                if len(moved) == 1 and ("'s" in q.lower or "'s" in c.lower):
                    reason = _owner_moved(q, c, i, j, moved.pop())
                    if reason is not None:
                        return reason
        return _copular_swap(q, c, shared)


_PRO_FORMS = frozenset({"one", "ones"})

# what affects what, said with a verb ("how does A affect B") or a noun ("the effect of A
# on B", "what impact does A have on B", "A's impact on B"): A acts on B
_INFLUENCE_WORDS = frozenset(
    "affect affects affected affecting impact impacts influence influences effect effects".split()
)
_INFLUENCES = (
    re.compile(
        r"\b(?:how|why|does|do|did|can|could|will|would|whether)\b(?: (?:does|do|did|can|"
        r"could|will|would|much))? ([\w' -]{2,40}?) (?:affect|affects|impact|impacts|"
        r"influence|influences)\b(?: on)? ([\w' -]{2,40}?)(?=[?.!,;:]|$| in | when | if )"
    ),
    re.compile(
        r"\b(?:effects?|impacts?|influences?) (?:of|from) ([\w' -]{2,40}?) on "
        r"([\w' -]{2,40}?)(?=[?.!,;:]|$| in | when | if )"
    ),
    re.compile(
        r"\b(?:effects?|impacts?|influences?) (?:do|does|did|can|could|will|would) "
        r"([\w' -]{2,40}?) ha(?:ve|s) on ([\w' -]{2,40}?)(?=[?.!,;:]|$| in | when | if )"
    ),
    re.compile(
        r"\b([\w-]+(?: [\w-]+)?)'s (?:effects?|impacts?|influences?) on "
        r"([\w' -]{2,40}?)(?=[?.!,;:]|$| in | when | if )"
    ),
)


def _influences(lower: str) -> list[tuple[frozenset[str], frozenset[str]]]:
    """(what acts, what it acts on) of each influence ``lower`` asks about, as content
    stems."""

    def stems(phrase: str) -> frozenset[str]:
        return frozenset(stem(w) for w in _WORD.findall(phrase) if w not in FUNCTION_WORDS)

    found = []
    for pattern in _INFLUENCES:
        for m in pattern.finditer(lower):
            agent, patient = stems(m.group(1)), stems(m.group(2))
            if agent and patient and agent.isdisjoint(patient):
                found.append((agent, patient))
    return found


def _influence_turned(q: Features, c: Features) -> str | None:
    """What acts and what is acted on exchanged ("how does inflation affect interest
    rates" / "what impact do interest rates have on inflation"): the other direction of
    an influence is another question."""
    for agent, patient in _influences(q.lower):
        for agent2, patient2 in _influences(c.lower):
            if agent & patient2 and patient & agent2 and agent.isdisjoint(agent2):
                return (
                    f"which acts on which differs ({' '.join(sorted(agent))} on "
                    f"{' '.join(sorted(patient))} vs the other way)"
                )
    return None


def _lemma_pivot(q: Features, c: Features) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
    """One verb said in a past form on a side and another form on the other ("bought" /
    "buy", "won" / "win", "succeeded" / "succeed"), its stems apart: the verb's stem, and
    each side's stems with that form's replaced by it (so it pivots as a shared verb
    would)."""
    for f, other, flip in ((q, c, False), (c, q, True)):
        for i, w in enumerate(f.words):
            if (w not in _IRREGULAR and w[-2:] != "ed") or f.seq[i] in other.content:
                continue
            lemmas_ = _verb_forms(w)
            for j, s in enumerate(other.seq):
                if s in f.content or other.words[j] in FUNCTION_WORDS:
                    continue
                if s in lemmas_ or not lemmas_.isdisjoint(_verb_forms(other.words[j])):
                    lemma = min(lemmas_ & ({s} | _verb_forms(other.words[j])))  # not by hash order
                    mine = (*f.seq[:i], lemma, *f.seq[i + 1 :])
                    theirs = (*other.seq[:j], lemma, *other.seq[j + 1 :])
                    return (lemma, theirs, mine) if flip else (lemma, mine, theirs)
    return None


_OWNER = re.compile(r"([a-z][\w-]*)'s\b")
# Words that start a verb's object ("damage my house", "use her car", "tell me").
_TAKEN = frozenset(
    "the a an my your our their his her its this that these those me us him them it".split()
)


def _owner_moved(q: Features, c: Features, i: int, j: int, a: str) -> str | None:
    """The one shared word that crossed the verb (at ``i`` / ``j``) is an owner ("'s") on
    a side: it names whose thing does the verb on one side and whose thing undergoes it on
    the other ("can my neighbor's tree damage my house" / "can my tree damage my
    neighbor's house", "can my sister use my car" / "can I use my sister's car"). Every
    other shared word kept its side, so no passive or reordering moved it. The verb takes
    an object on both sides ("damage my"): "Priya's vacation request" / "the vacation
    request from Priya" name a request, no one requesting."""
    for f, at in ((q, i), (c, j)):
        after = f.words[at + 1 : at + 2]
        if not after or (after[0] in FUNCTION_WORDS and after[0] not in _TAKEN):
            return None
        if not _in_clause(f, at, f.content[a]):
            return None
    if not any(f.words[f.content[a]] in _OWNER.findall(f.lower) for f in (q, c)):
        return None
    return f"{q.words[q.content[a]]!r} owns the doer on one side, what undergoes it on the other"


# Before two exchanged spans, these make the exchange harmless ("the difference between
# A and B", "compare A to B", "how far is A from B").
_ALIKE_BEFORE = frozenset(
    stem(w) for w in "between compare comparison difference differ versus similar".split()
)
_MAX_SPAN = 4  # words of one exchanged argument ("my feature branch", "British pounds")
_MAX_MIDDLE = 6  # words between them ("driving licence valid in the")


_CONJUNCTIONS = frozenset({"and", "or", "&"})


def _joined(between: tuple[str, ...], before: tuple[str, ...]) -> bool:
    """Whether the words between two exchanged arguments join them as equals: a
    symmetric word ("with", "vs", "similar"), but "and" / "or" only with nothing but
    function words ("A and B", "A or the B") or the words before the first argument
    again ("a litre of oil or a litre of water"); with more ("the seller shipped the
    wrong item and now the buyer", "email it to the manager and cc the finance team")
    they join clauses, whose roles still differ. ``before``: the words before the first
    argument, as many as follow the conjunction."""
    if not (_SYMMETRIC - _CONJUNCTIONS).isdisjoint(between):
        return True
    if _CONJUNCTIONS.isdisjoint(between):
        return False
    return all(w in FUNCTION_WORDS or w in _CONJUNCTIONS for w in between) or (
        between[0] in _CONJUNCTIONS and between[1:] == before
    )


def _exchanged(q: Features, c: Features) -> str | None:
    """Two arguments trading places around the same words, everything else equal:
    ``P A M B S`` / ``P B M A S`` ("convert celsius to fahrenheit", "is a UK licence valid
    in the US", "what percent of 80 is 20", "my laptop charges but won't turn on"). The
    words between them (``M``) carry the relation, so the other order is another question
    unless they join the two as equals ("A and B", "A vs B", "mix A with B") or the
    question is about how the two compare. Two neighbours swapped ("weather london" /
    "london weather") are left alone: nothing orders them."""
    a, b = q.seq, c.seq
    # the same words in another order: the same stems (one set compare in C) first
    if len(a) != len(b) or q.stems != c.stems or a == b:
        return None
    n = len(a)
    start = 0
    while a[start] == b[start]:
        start += 1
    end = n
    while a[end - 1] == b[end - 1]:
        end -= 1
    mid_a, mid_b = a[start:end], b[start:end]
    size = len(mid_a)
    if size < 3 or size > 2 * _MAX_SPAN + _MAX_MIDDLE:
        return None
    for i in range(1, min(_MAX_SPAN, size - 2) + 1):  # A = mid_a[:i], at the end of mid_b
        if mid_a[:i] != mid_b[size - i :]:
            continue
        for j in range(1, min(_MAX_SPAN, size - i - 1) + 1):  # B = mid_a[size-j:]
            middle = mid_a[i : size - j]
            if mid_a[size - j :] != mid_b[:j] or middle != mid_b[j : size - i]:
                continue
            if len(middle) > _MAX_MIDDLE:
                continue
            first, second = q.words[start : start + i], q.words[start + size - j : start + size]
            if not (_argument_like(first) and _argument_like(second)) and not _labels(
                q.words, start, start + size - j, first, second
            ):
                continue
            words = q.words[start + i : start + size - j]
            if (
                _joined(words, q.words[max(0, start - len(words) + 1) : start])
                or not _RECIPROCAL.isdisjoint(middle)
                or not _ALIKE_BEFORE.isdisjoint(a[max(0, start - 3) : start] + middle)
                or not _APART.isdisjoint(a[:start] + middle)
            ):
                continue
            return (
                f"arguments swapped around {' '.join(words)!r} "
                f"({' '.join(first)} ... {' '.join(second)} vs "
                f"{' '.join(second)} ... {' '.join(first)})"
            )
    return None


_SPEAKER_SUBJECT = frozenset({"i", "we"})
_SPEAKER_OBJECT = frozenset({"me", "us"})
_SPEAKER_FORMS = _SPEAKER_SUBJECT | _SPEAKER_OBJECT
_ME = frozenset({"me"})
_LOWER_US = re.compile(r"\bus\b")  # not "US", the country


def _positions(words: tuple[str, ...], forms: frozenset[str], vocab: frozenset[str]) -> list[int]:
    """Where the words of ``forms`` stand in ``words`` (C-level searches, one per form
    present). ``vocab`` also holds the parts of hyphenated words ("i" of "I-9"), which
    ``words`` may not."""
    found = []
    for form in forms & vocab:
        k = -1
        for _ in range(words.count(form)):  # (counted first: no ValueError raised per form)
            k = words.index(form, k + 1)
            found.append(k)
    return found


def _speaker_roles(f: Features, verbs: frozenset[str], text: str) -> dict[str, tuple[bool, bool]]:
    """Per verb stem: whether the speaker is its subject ("I paid", "can we sue", not "I
    was paid") and whether its object ("paid me", "lent money to us"; "US" in capitals
    is the country)."""
    words, seq = f.words, f.seq
    objects = _SPEAKER_OBJECT if _LOWER_US.search(text) else _ME
    roles: dict[str, tuple[bool, bool]] = {}
    for k in _positions(words, _SPEAKER_SUBJECT, f.vocab):
        for at in (k + 1, k + 2):  # "I paid", "I now report"; not "I was paid"
            if at >= len(words) or words[at] in _BE:
                break
            if seq[at] in verbs:
                roles[seq[at]] = (True, roles.get(seq[at], (False, False))[1])
    for k in _positions(words, objects, f.vocab):
        if k and words[k - 1] == "by":
            continue  # "charged for shipping by me": the doer of a passive, no object
        for at in range(max(0, k - 4), k):  # "paid me", "lent money to me", "a drill from me"
            if seq[at] in verbs:
                roles[seq[at]] = (roles.get(seq[at], (False, False))[0], True)
    return roles


def _speaker_swapped(q: Features, c: Features, query: str, candidate: str) -> str | None:
    """The speaker doing something to someone on one side and having it done to them on
    the other: "I owe my friend $500" / "my friend owes me $500", "can I sue my
    employer" / "can my employer sue me"."""
    # the speaker's forms differ ("I" on one side, "me" on the other), or nothing to do
    in_q, in_c = _SPEAKER_FORMS & q.vocab, _SPEAKER_FORMS & c.vocab
    if in_q == in_c or not (
        (in_q & _SPEAKER_SUBJECT and in_c & _SPEAKER_OBJECT)
        or (in_c & _SPEAKER_SUBJECT and in_q & _SPEAKER_OBJECT)
    ):
        return None
    verbs = frozenset((q.content.keys() & c.content.keys()) - FUNCTION_WORDS - _BE)
    if not verbs:
        return None
    roles_q, roles_c = _speaker_roles(q, verbs, query), _speaker_roles(c, verbs, candidate)
    for verb, (q_subject, q_object) in roles_q.items():
        c_subject, c_object = roles_c.get(verb, (False, False))
        if (q_subject and not q_object and c_object and not c_subject) or (
            c_subject and not c_object and q_object and not q_subject
        ):
            word = q.words[q.content[verb]]
            return f"the speaker does {word!r} on one side and undergoes it on the other"
    return None


def _doer_changed(q: Features, c: Features) -> str | None:
    """The speaker doing a verb on one side ("I keep taking credit for my manager's
    work") and someone named on both sides doing it on the other ("my manager keeps
    taking credit for my work"): the verb agrees with each ("keep" / "keeps"; a word
    without that "-s" may be a noun: "an oil change"). Not when that one follows the verb
    with "to" ("I need my manager to approve it": the manager still does the approving)."""
    words = q.words
    for k in _positions(words, _SPEAKER_SUBJECT, q.vocab):
        at = k + 1
        if at >= len(words) or words[at] in _BE:
            continue
        if words[at] + "s" not in c.vocab and words[at] + "es" not in c.vocab:
            continue  # (most pairs: the other side has no "keeps" for "I keep")
        verb = q.seq[at]
        if verb not in wordnet().verbs or q.seq.count(verb) != 1 or c.seq.count(verb) != 1:
            continue
        j = c.seq.index(verb)
        if c.words[j] != words[at] + "s" and c.words[j] != words[at] + "es":
            continue
        subject = _skip_back(c.words, j)  # its subject, past determiners
        if subject < 0 or c.words[subject] in _SPEAKER_FORMS:
            continue
        who = c.seq[subject]
        if who not in q.content or who in FUNCTION_WORDS or q.content[who] <= at:
            continue
        after = q.content[who]
        if _skip_back(words, after) == at and after + 1 < len(words) and words[after + 1] == "to":
            continue
        return f"the speaker does {words[at]!r} on one side, {c.words[subject]!r} on the other"
    return None


_DOERS = frozenset({"person", "group"})


def _asked_doer_changed(q: Features, c: Features) -> str | None:
    """The speaker as the subject of a question with an auxiliary ("how should I respond
    to my client's letter") and someone said after the verb there as the subject of the
    same verb, after an auxiliary, on the other side ("how should my client respond to
    the letter"): another doer, so another question (the question's form of
    :func:`_doer_changed`, whose verb agreement an auxiliary hides)."""
    words = q.words
    for k in _positions(words, _SPEAKER_SUBJECT, q.vocab):
        at = k + 1
        if not k or words[k - 1] not in _AUXILIARIES or at >= len(words) or words[at] in _BE:
            continue
        verb = q.seq[at]
        if verb not in wordnet().verbs or q.seq.count(verb) != 1 or c.seq.count(verb) != 1:
            continue
        j = c.seq.index(verb)
        if c.words[j] != words[at]:
            continue  # "should I call" / "should my client have called": not one form
        after = words[at + 2 : at + 3] if words[at + 1 : at + 2] == ("to",) else ()
        if after and after[0] in _BE:
            continue  # "do I have to be paid by my employer": the employer pays, still
        # the other side's subject: up to three words before the verb, past determiners,
        # with an auxiliary before them ("should my business partner respond")
        start = j
        while start > 0 and j - start < 3 and c.words[start - 1] not in FUNCTION_WORDS:
            start -= 1
        before = _skip_back(c.words, start)
        if start == j or before < 0 or c.words[before] not in _AUXILIARIES:
            continue
        for n in range(start, j):
            # a person or a group (not "should I rest a steak" / "should a steak rest":
            # one event, said of the thing it happens to)
            who = c.seq[n]
            if who in q.content and q.content[who] > at and _kind(c.words[n]) in _DOERS:
                # "have to pay": the verb the speaker does is the infinitive's
                infinitive = after and stem(after[0]) in wordnet().verbs
                said = " ".join(words[at : at + 3]) if infinitive else words[at]
                return f"the speaker does {said!r} on one side, {c.words[n]!r} on the other"
    return None


def _labels(
    words: tuple[str, ...], at: int, at2: int, first: tuple[str, ...], second: tuple[str, ...]
) -> bool:
    """Whether two exchanged single letters label things after the same noun ("list a" /
    "list b", "set A" / "set B"): names, though "a" is an article elsewhere."""
    return (
        len(first) == len(second) == 1
        and len(first[0]) == len(second[0]) == 1
        and at > 0
        and words[at - 1] == words[at2 - 1]
        and words[at - 1] not in FUNCTION_WORDS
    )


def _argument_like(words: tuple[str, ...]) -> bool:
    """Whether a span can be an argument: it has a word that is not a function word
    (a number counts: "of 80 is 20")."""
    return any(w not in FUNCTION_WORDS for w in words)


# "from" orders its sides ("get nectar from flowers") except after these ("how far is A
# from B", "how is A different from B": the same question both ways).
_SOURCE = frozenset({"from"})
_APART = frozenset(stem(w) for w in "far distance differ different distinguish apart tell".split())
_BE_FIRST = frozenset({"is", "are", "was", "were"})
_AUXILIARIES = frozenset(
    "do does did can could will would should shall may might must has have had".split()
)
_DETERMINERS = frozenset("the a an my your our their his her its this that these those".split())
_HAVE = frozenset({"has", "have", "had"})


def _participle(word: str) -> bool:
    """Whether ``word`` may be a past participle ("beaten", "sued", "bought")."""
    return word.endswith(("ed", "en")) or word in _IRREGULAR


def _skip_back(words: tuple[str, ...], i: int) -> int:
    """The position before ``i``, past determiners."""
    i -= 1
    while i >= 0 and words[i] in _DETERMINERS:
        i -= 1
    return i


def _inverted_subject(f: Features, verb: int, stem_: str, stranded: str = "") -> bool:
    """Whether ``stem_`` is the subject of a question with an auxiliary before it and the
    verb right after it ("who did Brutus betray", "which team can Leeds beat"), or, where
    the question leaves a preposition at its end, the first word of such a subject ("who
    does the prime minister report to": the verb's words are all before it)."""
    at, words = f.content[stem_], f.words
    if _skip_back(words, verb) != at and not (
        0 < verb - at <= 3
        and (
            # the first word of a subject with "of", where a preposition is stranded
            # ("who does the head of sales report to")
            all(w == "of" or w not in FUNCTION_WORDS for w in words[at + 1 : verb])
            if stranded
            # or of a name ("which team did Manchester United beat"): a common noun
            # before the verb may be a verb of its own ("does a cactus need watering")
            else set(words[at:verb]).issubset(f.entities)
        )
    ):
        return False
    before = _skip_back(words, at)
    if before < 0 or words[before] not in _AUXILIARIES:
        return False
    # "have" asks with a participle ("has Leeds beaten"); before a bare word it is the verb
    # and what follows its object ("which protein has the best taste")
    return words[before] not in _HAVE or _participle(words[verb])


def _stranded(f: Features, verb: int) -> str:
    """The preposition left after the verb, at the end or before another phrase ("who does
    she report to", "who did Federer lose to in 2008"), or ""."""
    after = f.words[verb + 1 : verb + 3]
    if len(after) == 1:
        return after[0] if after[0] in FUNCTION_WORDS else ""
    if len(after) == 2 and after[0] in _PREPOSITIONS and after[1] in _PREPOSITIONS:
        return after[0]
    return ""


def _object(f: Features, verb: int, stem_: str, stranded: str = "") -> bool:
    """Whether ``stem_`` follows the verb at once, past determiners and particles
    ("betrayed Brutus", "knocked out Leeds"), and past the preposition the other side
    leaves at its end ("reports to the prime minister" for "... report to")."""
    k = verb + 1
    if stranded and f.words[k : k + 1] == (stranded,):
        k += 1
    while k < len(f.words) and (f.words[k] in _DETERMINERS or f.words[k] in _PARTICLES):
        k += 1
    return k < len(f.words) and f.seq[k] == stem_


# Prepositions a question may leave after its verb ("who did she open for in 2007").
_PREPOSITIONS = frozenset(
    "to for with against from about at on in into of by over after before during".split()
)
_RELATIVES = frozenset({"that", "who", "which", "whom"})
_RELATIVE_REACH = 3  # words of the doer in an object clause ("figma's rival", "my son")


def _relative_turned(q: Features, c: Features) -> str | None:
    """A relative clause whose noun does the verb on one side ("the company that acquired
    Slack", "the users who follow @nasa") and undergoes it on the other, where the other
    argument stands before the verb ("the company Slack acquired", "the users that @nasa
    follows"): the same words, the roles exchanged. A passive ("the company that was
    acquired by Slack") and another verb ("which bought Slack") are left to the others."""
    for f, g in ((q, c), (c, q)):
        words, seq = f.words, f.seq
        for k in range(1, len(words) - 2):
            if words[k] not in _RELATIVES or words[k - 1] in FUNCTION_WORDS:
                continue
            verb, head = seq[k + 1], seq[k - 1]
            if not _verb_forms(words[k + 1]) or seq.count(verb) != 1 or g.seq.count(verb) != 1:
                continue
            x = k + 2  # the object: the first word after the verb past determiners
            while x < len(words) and words[x] in _DETERMINERS:
                x += 1
            if x >= len(words) or words[x] in FUNCTION_WORDS:
                continue
            j, p, r = g.seq.index(verb), g.content.get(head, -1), g.content.get(seq[x], -1)
            if not (
                0 <= p < r < j
                and _RELATIVES.union(_DETERMINERS).issuperset(g.words[p + 1 : r])
                and j - r <= _RELATIVE_REACH
                and not any(
                    w in FUNCTION_WORDS or w in _BE or w in _AUXILIARIES for w in g.words[r + 1 : j]
                )
            ):
                continue
            return (
                f"roles turned in a relative clause ({words[k - 1]} {words[k]} {words[k + 1]} "
                f"{words[x]} vs {g.words[p]} ... {g.words[r]} {g.words[j]})"
            )
    return None


def _copular_swap(q: Features, c: Features, shared: set[str]) -> str | None:
    """ "Is a whale a mammal?" / "Is a mammal a whale?": in a question opening with "is",
    the first content word is the subject and the rest the predicate; two shared words
    trading those places are another question (unless "with/and/or/near..." joins them).
    The same first word on both sides is the same subject: nothing was swapped ("is a
    contract signed by one party valid" / "is a contract valid if one party signed it")."""
    if q.words[0] not in _BE_FIRST or c.words[0] not in _BE_FIRST or "than" in q.vocab:
        return None  # a comparison is the "than" pivot's (turned round on purpose or not)
    if q.words[1:2] == ("it",) or c.words[1:2] == ("it",):
        return None  # "is it bad to charge X" = "is charging X bad": "it" stands for it
    sides = []
    for f in (q, c):
        first = min((f.content[s] for s in f.content), default=0)
        sides.append((_sides(f, first + 1, shared), first + 1))
    ((left_q, right_q), i), ((left_c, right_c), j) = sides
    for a in left_q.keys() & right_c.keys():
        for b in right_q.keys() & left_c.keys():
            if not (
                q.seq[i - 1] == c.seq[j - 1]
                or _symmetric(q, i, right_q[b])
                or _symmetric(c, j, right_c[a])
                or not _in_clause(q, i - 1, right_q[b])
                or not _in_clause(c, j - 1, right_c[a])
            ):
                return f"subject and predicate swapped ({a} ... {b} vs {b} ... {a})"
    return None


# Words that make the next adjective a comparison ("the most humid month").
_COMPARING = frozenset({"most", "more"})  # "least X" is the antonym guard's ("least expensive")


def _graded(f: Features, diff: Diff) -> dict[str, str]:
    """The comparisons among ``f``'s differing words, by the adjective clusters they
    compare on: "hottest", "most humid" (an adjective after a degree word) and
    "highest-paying" (a graded first part); cluster -> the word as written."""
    wn, words, found = wordnet(), f.words, {}
    for w, _, i in diff:
        b = base(w)
        if b == w and "-" in w and base(head := w.split("-", 1)[0]) != head:
            b = w  # "highest-paying", "best-selling": compared on the whole compound
        elif b == w and not (
            i
            and words[i - 1] in _COMPARING
            and noun(w) is None
            and (w in wn.adjective_senses or "-" in w or not _parts(w))
        ):  # an adjective WordNet lacks ("more breathable") compares as well
            continue  # not a comparison ("more inhabitants": a noun)
        for k in wn.clusters.get(b, (b,)):
            found[k] = w
    return found


_LESS = frozenset({"less", "least"})
# Kinds that everyday use sets against their WordNet parent, as two of one kind: WordNet
# puts the freezer under the fridge ("electric refrigerator"), so "a freezer" reads as a
# narrower "fridge" and a question about one would be served for the other ("how long
# does chicken keep in the fridge" / "in the freezer"). A short list where WordNet lacks
# the contrast; each group's words name one thing.
_CONTRASTED_KINDS = {
    word: k
    for k, group in enumerate(
        (("fridge", "refrigerator", "icebox"), ("freezer", "deepfreeze", "deep-freeze"))
    )
    for word in group
}


def _turned_degree(q: Features, c: Features, only_q: Diff, only_c: Diff) -> bool:
    """Whether all the two sides differ by is one graded word against "less" or "least"
    and its antonym: one degree said the other way up ("the cheapest" / "the least
    expensive", "quieter" / "less noisy")."""
    for f, one, other in ((q, only_q, only_c), (c, only_c, only_q)):
        words = [d for d in one if d[0] not in ("less", "least")]
        if len(words) != 1 or len(other) != 1 or not _lessened(f, words[0][2]):
            continue
        graded = other[0][0]
        if (b := base(graded)) != graded and b in wordnet().antonyms.get(words[0][1], ()):
            return True
    return False


# Adjectives that say a measure is low or high: "the cheapest" is "the lowest price".
_MEASURED = {
    "cheap": ("low", ("price", "priced", "cost", "costing")),
    "expensive": ("high", ("price", "priced", "cost", "costing")),
    "light": ("low", ("weight",)),
    "heavy": ("high", ("weight",)),
    "quiet": ("low", ("noise",)),
    "noisy": ("high", ("noise",)),
    "loud": ("high", ("noise", "volume")),
    "fast": ("high", ("speed",)),
    "quick": ("high", ("speed",)),
    "slow": ("low", ("speed",)),
}


def _measured_degree(only_q: Diff, only_c: Diff) -> bool:
    """Whether the sides differ only by a graded adjective against "low" or "high"
    graded the same way and the measure it grades: "the cheapest" / "the lowest price",
    "the quietest" / "the lowest noise"."""
    for one, other in ((only_q, only_c), (only_c, only_q)):
        if len(one) != 1 or len(other) != 2:
            continue
        graded, (level, _, _), (measure, _, _) = one[0][0], *other
        wanted = _MEASURED.get(base(graded))
        if (
            wanted is not None
            and graded != base(graded)
            and base(level) == wanted[0]
            and graded.endswith("est") == level.endswith("est")
            and measure.removesuffix("s") in wanted[1]
        ):
            return True
    return False


# Size adjectives, by the end of a scale of numbers they pick: on an amount ("the highest
# total", "the largest total", "the biggest total") each picks the greatest number.
_MAGNITUDE = {"high": 1, "large": 1, "big": 1, "great": 1, "low": -1, "small": -1}
# Nouns that name a number read off data: the size adjectives above grade them alike.
_AMOUNTS = frozenset(
    stem(w)
    for w in """total sum amount number count value score price cost sales revenue income
    profit balance figure quantity""".split()
)


def _same_magnitude(q: Features, c: Features, one: Iterable[str], other: Iterable[str]) -> bool:
    """Whether the differing superlatives or comparatives all pick the same end of a scale
    and both sides grade a number ("which row has the highest total" / "which line's
    total is largest"); "the largest city" / "the highest city" grade no amount."""
    ends = {_MAGNITUDE.get(base(w)) for w in (*one, *other)}
    return len(ends) == 1 and None not in ends and not _AMOUNTS.isdisjoint(q.stems & c.stems)


# Verbs that make a text into another form: with the same target on both sides ("into
# Spanish", "to JSON", "for PostgreSQL") they ask for one thing.
_CONVERTING = frozenset(
    stem(w) for w in "convert turn put translate rewrite change transform reformat".split()
)
_TARGET = re.compile(r"\b(?:into|to|as|for|in)\s+(?:an? |the )?([a-z][\w+#.-]*)")


def _same_target(q: Features, c: Features) -> bool:
    """Whether both sides send their object into one same form ("into JSON" / "to JSON")."""
    targets = set(_TARGET.findall(q.lower)) - FUNCTION_WORDS
    return bool(targets) and not targets.isdisjoint(_TARGET.findall(c.lower))


# Verbs that head an instruction without naming its task ("give me a summary of",
# "make this shorter", "help me debug", "write tests for", "turn this into"): a closed
# class, so two of these, or one against a task verb, say nothing of the task.
_LIGHT = frozenset(
    stem(w)
    for w in """give make get put do have take help let tell show write provide create
    generate produce use try turn keep go send see find bring come""".split()
)
# Words an instruction may open with before its verb ("please summarise", "can you
# translate"), and those that open the thing the verb is done to ("this email", "the
# following text", "it").
_POLITE = frozenset("please pls kindly now just can could would will you quickly".split())
_OPENS_OBJECT = frozenset(
    """this that these those the my our your his her their its it them all each every
    following below above a an""".split()
)
_HEAD_REACH = 3  # words before the verb at most ("can you please translate")


def _head(f: Features, diff: Diff) -> tuple[str, str, int] | None:
    """The differing word that opens ``f`` as an instruction's verb ("Summarise this
    paragraph: ...", "please fix the following"), or None."""
    _, s, i = diff[0]
    words = f.words
    if (
        i > _HEAD_REACH
        or not _POLITE.issuperset(words[:i])
        or words[i + 1 : i + 2] == ()
        or words[i + 1] not in _OPENS_OBJECT
        or s in _LIGHT
    ):
        return None
    return diff[0]


def _task_verb(word: str) -> tuple[frozenset[int], frozenset[int]] | None:
    """(senses, parents) of ``word`` as a WordNet verb; empty sets for a word WordNet
    knows in no part of speech ("refactor", "fact-check"); None for a word it knows
    only otherwise (a noun or adjective: no verb heads the instruction)."""
    parts = _parts(word)
    if "v" in parts:
        return parts["v"]
    return None if parts else (frozenset(), frozenset())


def _task_turned(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """Another instruction on the same pasted text: each side opens with a verb done to
    it ("Summarise this paragraph: X" / "Translate this paragraph: X", "Explain this
    error" / "Fix this error", "List" / "Count the countries in: X") and WordNet relates
    the two verbs in no sense (neither a synonym nor one a kind of the other: "critique"
    / "review", "summarise" / "summarize" agree). A verb that names no task ("give me a
    summary of", "help me debug"), a question ("what does this code do"), a typo and two
    verbs that change a text into one same form ("rewrite for PostgreSQL" / "port to
    PostgreSQL") pass. (Short prompts too: "explain this error" / "fix this error" ask
    two things; a long pasted text is narrowed to a few words around the verb anyway.)"""
    hq = _head(q, only_q)
    hc = _head(c, only_c) if hq is not None else None
    if hq is None or hc is None:
        return None
    (w, s, _), (w2, s2, _) = hq, hc
    if one_job(w, w2):
        return None  # "fix" / "correct": one job WordNet does not relate (_instructions)
    one, other = _task_verb(w), _task_verb(w2)
    if one is None or other is None or not (one[0] or other[0]):
        return None  # not a verb, or two words WordNet lacks: nothing to compare
    (senses, parents), (senses2, parents2) = one, other
    if senses & senses2 or senses & parents2 or senses2 & parents:
        return None
    if not (one[0] and other[0]) and similar(w, w2, 0.8):
        return None  # a typo of the other ("recomend")
    if _changes_form(s, parents) and _changes_form(s2, parents2) and _same_target(q, c):
        return None  # "rewrite for PostgreSQL" / "port to PostgreSQL": one conversion
    return f"another task on the same text ({w!r} vs {w2!r})"


def opening_task_differs(q: Features, c: Features) -> str | None:
    """Another instruction opening both sides, on the same text (:func:`_task_turned`),
    asked only when the first differing word of each side is near its start: most pairs
    stop at the two positions compared here. :class:`~._task.TaskGuard` asks it."""
    only_q, only_c = _diffs(q, c)
    if not (only_q and only_c) or only_q[0][2] > _HEAD_REACH or only_c[0][2] > _HEAD_REACH:
        return None
    return _task_turned(q, c, only_q, only_c)


@cache
def _change_senses() -> frozenset[int]:
    return _parts("change")["v"][0]


def _changes_form(stem_: str, parents: frozenset[int]) -> bool:
    """Whether a verb makes a text into another form: one of :data:`_CONVERTING`, or a
    kind of change in WordNet ("port", "transform")."""
    return stem_ in _CONVERTING or not parents.isdisjoint(_change_senses())


class SubstitutionGuard(_PairGuard):
    """The same object under another constraint is another question: a different
    superlative or comparative ("tallest" / "oldest"), a different attribute ("height" /
    "weight", "how tall" / "how heavy") or a sibling item of one kind ("laptop" /
    "tablet", "salmon" / "trout": two common nouns that share a WordNet parent and no
    sense). Synonyms, a word and its hypernym, and one-sided additions pass."""

    name = "substitution"

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        only_q, only_c = _diffs(q, c)
        if only_q and only_c and "than" in q.vocab and mirrored(q, c):
            # "is tea better for the teeth than coffee" / "is coffee worse for teeth than
            # tea": the opposite comparatives state one comparison, not two items
            at_q, at_c = comparatives(q, c) or (-1, -1)
            only_q = [d for d in only_q if d[2] != at_q]
            only_c = [d for d in only_c if d[2] != at_c]
        if not (only_q and only_c):
            return None
        # (an instruction's verb differs only near the start of both: most pairs stop at
        # the two positions, compared here)
        # (each asked only where it can hold: a degree turned needs "less" or "least" on a
        # side, a measured degree three differing words; most pairs have neither)
        if not (_LESS.isdisjoint(q.vocab) and _LESS.isdisjoint(c.vocab)) and _turned_degree(
            q, c, only_q, only_c
        ):
            return None
        if len(only_q) + len(only_c) == 3 and _measured_degree(only_q, only_c):
            return None
        measure = asks_differ(q, c)
        if measure is not None:
            return measure
        wn = wordnet()
        if "-" in q.lower and "-" in c.lower and (turned := _compound_turned(only_q, only_c)):
            return turned
        # (the candidate's comparisons matter only if the query has one: not asked otherwise)
        graded_q = _graded(q, only_q)
        graded_c = _graded(c, only_c) if graded_q else {}
        if (
            graded_q
            and graded_c
            and graded_q.keys().isdisjoint(graded_c.keys())
            and not mirrored(q, c)
            and not _same_measure(graded_q.values(), graded_c.values())
            and not _same_magnitude(q, c, graded_q.values(), graded_c.values())
            # "older than 2022" / "younger than 2" beside "before 2022" / "under 2": two
            # comparisons of different things, each said on both sides
            and not any(
                _compared_apart(q, a, c, b) for a in graded_q.values() for b in graded_c.values()
            )
            # one word WordNet puts in no cluster, similar to the other ("the most
            # dependable" / "the most reliable"): one comparison
            and not any(
                _alike(base(a), base(b))
                for a in graded_q.values()
                for b in graded_c.values()
                if base(a) not in wn.clusters or base(b) not in wn.clusters
            )
            # two words of one WordNet adjective sense ("the safest" / "the most secure"
            # way): one comparison, clustered or not
            and not any(
                _one_adjective(base(a), base(b))
                for a in graded_q.values()
                for b in graded_c.values()
            )
        ):
            return (
                f"different comparison ({', '.join(sorted(graded_q.values()))} vs "
                f"{', '.join(sorted(graded_c.values()))})"
            )
        # an attribute asked about: "the height of" / "the weight of" (attribute nouns),
        # "how tall" / "how heavy" (adjectives after "how")
        for table, cue in ((wn.attributes, None), (wn.adjective_attributes, "how")):
            # (no differing stem of the query's side in the table, or no "how" there: its
            # attributes are none, and the candidate's are not asked; tested in C here)
            if (cue is not None and cue not in q.vocab) or table.keys().isdisjoint(
                map(_STEM_OF, only_q)
            ):
                continue
            attrs_q = _attributes(q, only_q, table, cue)
            attrs_c = _attributes(c, only_c, table, cue) if attrs_q else {}
            if attrs_q and attrs_c and attrs_q.keys().isdisjoint(attrs_c.keys()):
                return (
                    f"different attribute ({', '.join(sorted(set(attrs_q.values())))} vs "
                    f"{', '.join(sorted(set(attrs_c.values())))})"
                )
        if len(only_q) > _MAX_SWAPS or len(only_c) > _MAX_SWAPS:
            return None  # a rewording, not an item swapped in the same question
        if len(only_q) + len(only_c) > 2 and (
            # (whether a side's differing words hold a name or quantity: asked once for both)
            swap := _modifiers_swapped(q, c, only_q, only_c, named := _named(q, c, only_q, only_c))
            or _phrase_swapped(q, c, only_q, only_c, named)
        ):
            return swap
        nouns_q = _nouns(q, only_q)
        nouns_c = _nouns(c, only_c) if nouns_q else []  # (only read against nouns_q)
        one_each = len(only_q) == len(only_c) == 1
        for w, n, only_noun in nouns_q:
            senses, parents = kinship(n)
            for w2, n2, only_noun2 in nouns_c:
                if _CONTRASTED_KINDS.get(n, -1) != _CONTRASTED_KINDS.get(n2, -1) and (
                    n in _CONTRASTED_KINDS and n2 in _CONTRASTED_KINDS
                ):
                    return f"different item of one kind ({w!r} vs {w2!r})"
                senses2, parents2 = kinship(n2)
                if (
                    senses & senses2
                    or senses & parents2
                    or senses2 & parents
                    or _kin(w, w2)
                    or _kind_of(n, n2)
                    or _alike(w, w2)  # "a brief" / "a short note": adjectives
                ):
                    continue  # synonyms, one names the other's kind, or "agent" / "agency"
                if parents & parents2 and not _kind_by_any_sense(n, n2):
                    # (one a kind of the other in a sense not their main one: "a bag" is
                    # luggage as a suitcase, "a carry-on bag" / "hand luggage")
                    return f"different item of one kind ({w!r} vs {w2!r})"
                if one_each and only_noun and only_noun2:
                    # the one word changed, noun for noun: "a carpet" / "a sofa" (a word that
                    # is also a verb, with no article, may be a rewording: "grade" / "result")
                    return f"different item ({w!r} vs {w2!r})"
        if one_each:
            return _slot_swap(q, c, only_q[0], only_c[0])
        return self._each_swap(q, c) or _asked_for(q, c, only_q, only_c)

    def _each_swap(self, q: Features, c: Features) -> str | None:
        """Two or three words swapped in place, all else equal word for word ("an egg
        allergy, which egg replacer" / "a dairy allergy, which milk replacer"): each swap
        is judged alone, as the one change between two texts, by :meth:`check`."""
        if len(q.words) != len(c.words):
            return None
        at = [
            k
            for k, (w, w2) in enumerate(zip(q.words, c.words, strict=True))
            if w != w2 and _SAME_NEIGHBOUR.get(w, w) != _SAME_NEIGHBOUR.get(w2, w2)
        ]
        if q.quantities and q.quantities == c.quantities:
            # one quantity said two ways ("every 15 minutes" / "every quarter hour",
            # "20 million" / "20m"): the number guard read them equal, no swap
            at = [k for k in at if not (_quantity_word(q.words[k]) and _quantity_word(c.words[k]))]
        if not 2 <= len(at) <= 3 or any(
            q.words[k] in FUNCTION_WORDS
            or c.words[k] in FUNCTION_WORDS
            or q.seq[k] in c.stems  # a word moved, not swapped: "signs of low iron" /
            or c.seq[k] in q.stems  # "symptoms of iron deficiency"
            for k in at
        ):
            return None
        for k in at:
            # the swap in the words around it, the other swaps left out (a word swapped
            # twice, "egg ... egg" / "dairy ... milk", would otherwise be on both sides)
            around = [
                i for i in range(max(0, k - 3), min(len(q.words), k + 4)) if i == k or i not in at
            ]
            reason = self.check(
                " ".join(q.words[i] for i in around), " ".join(c.words[i] for i in around)
            )
            if reason is not None:
                return reason
        return None


_FRACTION_WORDS = frozenset({"half", "quarter", "quarters"})


def _quantity_word(w: str) -> bool:
    """Whether ``w`` is part of a quantity: digits, a number, scale or fraction word, a
    unit."""
    return (
        w[:1].isdigit()
        or w in NUMBER_WORDS
        or w in SCALE_WORDS
        or w in UNITS
        or (w in _FRACTION_WORDS)
    )


def _compound_turned(only_q: Diff, only_c: Diff) -> str | None:
    """Two hyphenated words, one each side, alike but for one part that is the other's
    WordNet antonym ("short-haul" / "long-haul", "low-fat" / "high-fat"): the opposite
    kind, however many other words differ."""
    antonyms = wordnet().antonyms
    for w, _, _ in only_q:
        if "-" not in w:
            continue
        parts = w.split("-")
        for w2, _, _ in only_c:
            parts2 = w2.split("-")
            if len(parts2) != len(parts):
                continue
            apart = [(a, b) for a, b in zip(parts, parts2, strict=True) if a != b]
            if len(apart) == 1 and stem(apart[0][1]) in antonyms.get(stem(apart[0][0]), ()):
                return f"opposite kinds ({w!r} vs {w2!r})"
    return None


# Words that ask for the one thing they rank ("the best time", "the right size", "the
# ideal age"): the noun after them is what the answer names.
_RANKING = frozenset("best worst ideal right optimal top safest cheapest quickest easiest".split())


def _ranked(f: Features, diff: Diff) -> dict[str, tuple[str, str]]:
    """ranking word -> the differing noun right after it and its WordNet noun ("best" ->
    ("time", "time"))."""
    found = {}
    for w, _, i in diff:
        if i and f.words[i - 1] in _RANKING and (n := noun(w)) is not None:
            found[f.words[i - 1]] = (w, n)
    return found


# What a question asks for, by its question words: "how long does it take to renew a
# passport" and "how much does it cost to renew a passport" share every other word.
_ASKS = (
    (
        "cost",
        re.compile(
            r"\bhow (?:much|many)\b[^?.!]{0,40}?\b(?:cost|costs|charge|charges|pay|spend)\b"
            r"|\bhow expensive\b|\bwhat(?:'s| is| are)? (?:the )?(?:price|cost|fee)s?\b"
        ),
    ),
    (
        "time",
        # ("how often should strings be replaced?" asks what "how long do strings last?" asks)
        re.compile(
            r"\bhow long (?!is |are |was |were )|\bwhen\b|\bwhat time\b"
            r"|\bhow (?:much time|many (?:days|hours|weeks|months|years|minutes))\b"
            r"|\bhow (?:often|frequently)\b"
        ),
    ),
    ("distance", re.compile(r"\bhow far\b")),
)
_ASKING = frozenset({"how", "when", "what"})


_ASKED: Memo[str, frozenset[str]] = Memo()


def _matches_at(pattern: re.Pattern[str], text: str, starts: tuple[str, ...]) -> bool:
    """``pattern.search(text) is not None`` for a pattern each of whose matches starts
    with one of ``starts``: tried only where those stand (``match`` at a position reads
    the character before it for ``\\b``, as ``search`` does)."""
    for start in starts:
        at = text.find(start)
        while at >= 0:
            if pattern.match(text, at) is not None:
                return True
            at = text.find(start, at + 1)
    return False


def _asks(f: Features) -> frozenset[str]:
    """What ``f`` asks for among :data:`_ASKS` (cost, time, distance; how often counts as
    time); remembered per text (a lookup asks it of the same query per candidate)."""
    found = _ASKED.get(f.lower)
    if found is None:
        # each pattern tried only where one of its branches can start (each opens with
        # "how ", "what" or "when", after a word boundary): a search tried it at every
        # character (≈ 2-5 µs a text), most texts have none of those words or one
        lower, names = f.lower, []
        (cost, cost_pattern), (time, time_pattern), (distance, distance_pattern) = _ASKS
        if (
            "cost" in lower
            or "charge" in lower
            or "pay" in lower
            or "spend" in lower
            or "expensive" in lower
            or "price" in lower
            or "fee" in lower
        ) and _matches_at(cost_pattern, lower, ("how ", "what")):
            names.append(cost)
        if _matches_at(time_pattern, lower, ("how ", "when", "what time")):
            names.append(time)
        if _matches_at(distance_pattern, lower, ("how far",)):
            names.append(distance)
        found = _ASKED.put(lower, frozenset(names))
    return found


def asks_differ(q: Features, c: Features) -> str | None:
    """Each side asks for another measure of the same thing: "how long" / "how much does it
    cost", "how far" / "how long". Only where both ask for one of these and none alike."""
    if _ASKING.isdisjoint(q.vocab) or _ASKING.isdisjoint(c.vocab):
        return None
    asks_q, asks_c = _asks(q), _asks(c)
    if asks_q and asks_c and asks_q.isdisjoint(asks_c):
        return (
            f"asks for another measure ({', '.join(sorted(asks_q))} vs {', '.join(sorted(asks_c))})"
        )
    return None


def _asked_for(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """The same ranking word asks for another kind of thing on each side ("the best time
    of year to see the aurora" / "the best place to see the aurora"): nouns WordNet
    relates in no sense, each absent from the other side."""
    ranked_q, ranked_c = _ranked(q, only_q), _ranked(c, only_c)
    for rank in ranked_q.keys() & ranked_c.keys():
        (w, n), (w2, n2) = ranked_q[rank], ranked_c[rank]
        if n in _FRAMING or n2 in _FRAMING or _kin(w, w2):
            continue  # "the best way" / "the best method": how, said two ways
        if _kind_by_any_sense(n, n2) or _kind_of(n, n2):
            continue  # "the best time" / "the best season": one a kind of the other
        return f"asks for another thing ({rank} {w} vs {rank} {w2})"
    return None


# Adjectives that rate or describe what is asked about without narrowing it to a part
# ("a good way", "a quick dinner", "my new phone"); superlatives reduce to these.
_UNRESTRICTIVE = frozenset(
    """good bad easy simple quick fast right proper correct typical average normal usual
    common general main basic whole entire actual real own new recommended""".split()
)


def narrowing(q: Features, c: Features) -> str | None:
    """One side alone puts an adjective or participle before a noun both share, all
    else the same: a part of the other's subject ("London" / "central London", "a
    wedding" / "a small wedding", "emails" / "archived emails"). Names ("Google
    Chrome"), numbers, verbs and rating words ("a good way") narrow nothing."""
    if abs(len(q.content) - len(c.content)) != 1:
        return None  # not one content word more on one side (most pairs: no diff made)
    return _narrowing(q, c, *_diffs(q, c))


def _narrowing(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """:func:`narrowing` on the pair's differing words (``only_q`` and ``only_c``), once
    its content lengths differ by one."""
    if bool(only_q) == bool(only_c) or len(only_q) + len(only_c) != 1:
        return None
    f, other = (q, c) if only_q else (c, q)
    w, s, i = (only_q or only_c)[0]
    words = f.words
    after = words[i + 1] if i + 1 < len(words) else ""
    before = words[i - 1] if i else ""
    if not after or after not in other.words or noun(after) is None:
        return None
    if (
        w in f.entities
        or w in NUMBER_WORDS
        or w in SCALE_WORDS  # "20 million rows" / "20M rows": the number guard's
        or (before in _VERB_CUES and s in wordnet().verbs)
    ):
        return None  # the entity and number guards' business, a verb ("to water plants")
    if w in UNITS and before and (before[0].isdigit() or before in NUMBER_WORDS):
        return None  # a number's unit ("a 25 percent tip" / "a 25% tip"): the number guard's
    if base(w) in _UNRESTRICTIVE and not (w == "new" and _kind(after) == "person"):
        return None  # a rating word ("a good way", "my new phone"; "new staff" are some staff)
    if "-" in w and any(
        stem(part) in other.stems for part in w.split("-") if part not in FUNCTION_WORDS
    ):
        return None  # "a soft-boiled egg" / "boil an egg": the same said around it
    wn = wordnet()
    verb = "v" in _parts(w)  # by its forms, not its stem: "car" is no "care"
    participle = w.endswith("ed") and verb
    if (
        verb
        and not participle
        and not (before in _NOUN_CUES and noun(w) and w[-3:] != "ing")
        and not _adjective_slot(f, i)
    ):
        return None  # "what removes candle wax"; "my work email" names a kind of email
    if not participle and w not in wn.adjective_senses and base(w) not in wn.adjective_senses:
        if "-" in w:
            return f"{w!r} narrows {after!r} on one side only"  # "an off-peak ticket"
        if noun(w) is None:
            if after in f.entities or after in other.entities:
                # a word WordNet lacks before a name is its maker's ("Samsung Galaxy",
                # "Xbox Game Pass"; a sentence's first word is no entity), not a kind of it
                return None
            if len(w) > 3 and w.isalpha() and not _parts(w) and not _slip(w, other):
                # a word WordNet lacks, and no slip of one on the other side ("a combi
                # boiler"): a kind of the shared noun
                return f"{w!r} narrows {after!r} on one side only (a kind of it)"
            return None
        # a noun before the shared noun names a kind of it ("a clearance item", "a
        # holiday rental"); a word that is also a verb may be the action ("swimming pool")
        return f"{w!r} narrows {after!r} on one side only (a kind of it)"
    return f"{w!r} narrows {after!r} on one side only"


# Before these an adjective that is also a verb is the adjective of what follows
# ("is there free parking", "show me quiet cafes").
_BEFORE_OBJECT = frozenset({"there", "me", "us", "him", "them"})


def _adjective_slot(f: Features, i: int) -> bool:
    """Whether the word at ``i``, an adjective as well as a verb ("direct", "clean",
    "free"), stands as the adjective before the next word, in one clause with it and the
    word before: after a determiner ("the direct route"), "there" or an object pronoun
    ("is there free parking", "show me quiet cafes") or a word ("find direct flights"),
    not after a subject pronoun, "to" or a modal (the verb's cues), nor after a number
    ("750.00 total food")."""
    word = f.words[i]
    if not i or "a" not in _parts(word) or word[-3:] == "ing":
        return False
    before = f.words[i - 1]
    if not (
        before in _NOUN_CUES
        or before in _BEFORE_OBJECT
        or (before.isalpha() and before not in FUNCTION_WORDS and before not in _VERB_CUES)
    ):
        return False
    clauses = _clauses(f.lower, len(f.words))
    return clauses is not None and clauses[i - 1] == clauses[i] == clauses[i + 1]


def _slip(word: str, other: Features) -> bool:
    """Whether ``other`` has a word ``word`` may misspell ("chlid" / "child")."""
    return any(abs(len(o) - len(word)) <= 2 and similar(o, word, 0.8) for o in other.words)


def _in_order(f: Features, other: Features, own: str) -> list[str]:
    """``f``'s content stems that ``other`` shares, plus ``own``, in text order."""
    content = f.content
    # (a list, not a generator, handed to sorted: no generator resumed per word)
    return sorted([s for s in content if s == own or s in other.content], key=content.__getitem__)


# Neighbours that agree though spelt apart ("how many carbs are" / "how much protein is").
_SAME_NEIGHBOUR = {"much": "many", "an": "a", "are": "is", "was": "is", "were": "is"}


def _neighbours(f: Features, i: int) -> tuple[str, str]:
    words = f.words
    before = words[i - 1] if i else ""
    after = words[i + 1] if i + 1 < len(words) else ""
    return _SAME_NEIGHBOUR.get(before, before), _SAME_NEIGHBOUR.get(after, after)


def _concrete_class(word: str) -> str | None:
    n = noun(word)
    return None if n is None else wordnet().noun_classes.get(n)


@lru_cache(maxsize=16384)
def _parts(word: str) -> dict[str, tuple[frozenset[int], frozenset[int]]]:
    """The word's WordNet senses and parents per part of speech ("n", "v", "a")."""
    wn = wordnet()
    found = {}
    if (n := noun(word)) is not None:
        found["n"] = kinship(n)
    for tag, table in (("v", wn.verb_senses), ("a", wn.adjective_senses)):
        for form in dict.fromkeys((word, base(word), *lemmas(word))):
            entry = table.get(form)
            if entry is not None:
                found[tag] = senses_of(entry)
                break
    return found


def _alike(a: str, b: str) -> bool:
    """Whether WordNet relates ``a`` and ``b`` as adjectives, one similar to the other
    ("brief" / "short"): nouns too, but before a noun they are its quality. Not graded
    words, which rank ("best" / "first book")."""
    if a.endswith(_GRADED) or b.endswith(_GRADED):
        return False
    parts_a, parts_b = _parts(a), _parts(b)
    if "a" not in parts_a or "a" not in parts_b:
        return False
    (senses, parents), (senses2, parents2) = parts_a["a"], parts_b["a"]
    return bool(senses & senses2 or senses & parents2 or senses2 & parents)


def _one_adjective(a: str, b: str) -> bool:
    """Whether WordNet puts ``a`` and ``b`` in one adjective sense ("safe" / "secure")."""
    parts_a, parts_b = _parts(a), _parts(b)
    return "a" in parts_a and "a" in parts_b and bool(parts_a["a"][0] & parts_b["a"][0])


def _synonyms(a: str, b: str) -> bool:
    """Whether WordNet puts ``a`` and ``b`` in one sense as the same part of speech."""
    parts_a, parts_b = _parts(a), _parts(b)
    return any(parts_a[t][0] & parts_b[t][0] for t in parts_a.keys() & parts_b.keys())


def _slot_swap(
    q: Features, c: Features, one: tuple[str, str, int], other: tuple[str, str, int]
) -> str | None:
    """One content word swapped for another in the same place (same neighbours, all else
    shared) is another question when WordNet relates them only as two of one kind:
    verbs under one hypernym ("bake" / "boil", "import" / "export"), adjectives of
    different clusters ("red" / "white"), or a word WordNet lacks for a noun ("carbs" /
    "protein"). Synonyms, a kind and its kind, forms of one word, typos and words of
    different parts of speech ("height" / "tall": a rewording) pass."""
    (w, s, i), (w2, s2, j) = one, other
    if (
        UNITS.get(w, ("",))[0] == UNITS.get(w2, ("-",))[0] == "duration"
        and UNITS[w] != UNITS[w2]
        and q.words[i - 1 : i] == c.words[j - 1 : j]
        and i > 0
        and q.words[i - 1] not in _COUNTED
    ):
        return f"another time frame ({q.words[i - 1]} {w!r} vs {w2!r})"
    if (
        w in UNITS
        or w2 in UNITS
        or (w in q.entities and w2 in c.entities)
        or "'" in w + w2
        or s in NEGATORS
        or s2 in NEGATORS
    ):
        return None  # the number, entity and negation guards' business
    order_q, order_c = _in_order(q, c, s), _in_order(c, q, s2)
    at = order_q.index(s)
    if (
        at != order_c.index(s2)
        or order_q[:at] + order_q[at + 1 :] != order_c[:at] + order_c[at + 1 :]
    ):
        return None  # moved as well as changed: a rewording
    before, after = _neighbours(q, i)
    before2, after2 = _neighbours(c, j)
    if before != before2 and after != after2:
        return None  # another construction around it: "pay with" / "accept"
    short, long = sorted((w, w2), key=len)
    if long.startswith(short[: max(3, len(short) - 1)]) or _kin(w, w2):
        return None  # "app" / "application", "carbs" / "carbohydrates"
    if similar(w, w2, 0.8):
        return None  # a typo ("recieve" / "receive")
    if _same_magnitude(q, c, (w,), (w2,)):
        return None  # "the highest total" / "the biggest total"
    if s in _CONVERTING and s2 in _CONVERTING and _same_target(q, c):
        return None  # "convert this CSV to JSON" / "turn this CSV into JSON"
    if one_job(w, w2):
        return None  # two task verbs naming one job ("fix" / "correct"): the task guard's
    parts, parts2 = _parts(w), _parts(w2)
    nominal = _nominal(q, i, parts) and _nominal(c, j, parts2)
    if not nominal and (after in _PARTICLES or after2 in _PARTICLES):
        return None  # a phrasal verb ("turn off" / "disable"): the negation guard's
    named = (w in q.entities) != (w2 in c.entities)
    if named and before == before2 and after == after2:
        # a name in the very slot (both neighbours kept) of a plain noun: the filler is
        # what the request is about ("a bash" / "a PowerShell script", "set CPU" / "memory
        # limits", "a blog" / "a LinkedIn post"), unless the name may abbreviate the word
        # ("K8s" / "Kubernetes", "AWS" / "Amazon"), ends in it ("my iPhone" / "my
        # phone") or WordNet relates them
        if (
            long.endswith(short)
            or _abbreviates(short, long)
            or (parts and parts2 and _related(w, w2))
        ):
            return None
        k, f, p = (j, c, parts2) if w in q.entities else (i, q, parts)
        if not p or ("n" in p and _nominal(f, k, p)):
            return f"another thing in the same place ({w!r} vs {w2!r})"
    if named:
        return None  # the entity guard's
    if (not parts) != (not parts2) and before == before2 and after == after2:
        # a term WordNet lacks against a noun, between the same two words that open no
        # noun phrase ("use asyncio" / "use threads for", "the weekend barista" / "cleaner
        # shifts", "low carb" / "low fat meals"): after an article or a preposition, or at
        # an end, a word WordNet lacks is as often a form it misses ("for children",
        # "my deposit back" / "refundable")
        k, f, p, x = (i, q, parts, w) if not parts else (j, c, parts2, w2)
        k2, f2, p2 = (j, c, parts2) if not parts else (i, q, parts)
        if (
            before
            and after
            and before not in _NOUN_CUES
            and x.isalpha()
            and _term(f, k, p)
            and "n" in p2
            and _nominal(f2, k2, p2)
        ):
            return f"another thing in the same place ({w!r} vs {w2!r}; a term WordNet lacks)"
    if not parts or not parts2:
        if (parts or parts2).keys() <= {"n"}:
            return f"another thing in the same place ({w!r} vs {w2!r}; not in WordNet)"
        lacking = w if not parts else w2
        if (
            before == before2
            and after == after2
            and noun(after)
            and "a" in (parts or parts2)
            and lacking.replace("-", "").isalpha()
            and lacking.split("-", 1)[0] not in wordnet().adjective_senses
        ):
            # a modifier WordNet lacks against an adjective, before one shared noun: two
            # kinds of it ("dry" / "acne-prone skin", "an advanced" / "a beginer board");
            # not a compound opening with an adjective, a measure that may say the same
            # ("low-cost" / "cheap flights")
            return f"another kind of {after} ({w!r} vs {w2!r}; {lacking!r} not in WordNet)"
        return None
    shared = parts.keys() & parts2.keys()
    for tag in shared:
        (senses, parents), (senses2, parents2) = parts[tag], parts2[tag]
        if senses & senses2 or senses & parents2 or senses2 & parents:
            return None  # synonyms, or one a kind of the other
    n, n2 = noun(w), noun(w2)
    if n and n2 and _kind_of(n, n2):
        return None  # one a kind of the other, however far up ("car" / "vehicle")
    if (
        "n" in shared
        and _concrete_class(w) is not None
        and _concrete_class(w) == _concrete_class(w2)
        and not (n and n2 and _kind_by_any_sense(n, n2))
    ):
        return f"another {_concrete_class(w)} in the same place ({w!r} vs {w2!r})"
    if nominal and n and n2 and not _kind_by_any_sense(n, n2):
        # two nouns in one slot that WordNet relates in no sense: "brake pads" / "brake
        # cables", "a duck egg" / "a quail egg"
        return f"another thing in the same place ({w!r} vs {w2!r})"
    if (n is None) != (n2 is None):
        lacking, its_parts, f, k = (w, parts, q, i) if n is None else (w2, parts2, c, j)
        noun_side = (c, j, parts2) if n is None else (q, i, parts)
        if (
            "v" in its_parts
            and its_parts.keys() <= {"v", "a"}
            and not lacking.endswith(("ing", "ed"))
            and f.words[k - 1] in _NOUN_CUES
            and f.words[k - 1] != "that"
            and _nominal(*noun_side)
        ):
            # a noun WordNet's table lacks (it knows the word as a verb) after an article
            # or preposition, against a noun: "fertilizer for tomatoes" / "for peppers",
            # "in python" / "in rust" ("foods that relieve": a verb after a relative "that")
            return f"another thing in the same place ({w!r} vs {w2!r})"
    if "v" in shared and parts["v"][1] & parts2["v"][1]:
        return f"another action of one kind in the same place ({w!r} vs {w2!r})"
    if "v" in shared and _ranks(q, i) and _ranks(c, j):
        # unrelated verbs before "the most": what is ranked differs ("which country drinks
        # the most coffee" / "grows the most coffee")
        return f"another thing ranked ({w!r} vs {w2!r})"
    if "a" in shared and not parts["a"][1] & parts2["a"][1]:
        return f"another quality in the same place ({w!r} vs {w2!r})"
    if "a" in shared and (_period(w) or _period(w2)):
        # adjectives of one cluster, no synonyms (those passed above), one built on a unit
        # of time: another period, as "per month" / "per year" ("a monthly" / "an annual
        # plan", "weekly" / "daily"; "yearly" / "annual" are synonyms)
        return f"another period ({w!r} vs {w2!r})"
    if (
        after == after2
        and noun(after)
        # (a noun too: "cabin" / "checked luggage", a kind named against a state)
        and all(
            x.endswith(("ed", "ing")) or x in wordnet().adjective_senses or "n" in p
            for x, p in ((w, parts), (w2, parts2))
        )
        and (w.endswith(("ed", "ing")) or w2.endswith(("ed", "ing")))  # "earlier" / "previous"
        and not _related(w, w2)
    ):
        # two states or qualities of one shared thing, unrelated: "a cancelled" / "a
        # postponed concert", "the resting" / "the maximum heart rate"
        return f"another kind of {after} ({w!r} vs {w2!r})"
    return None


def _period(word: str) -> str | None:
    """The unit of time an adjective of frequency is built on ("monthly" -> "month",
    "daily" -> "day"), else None."""
    for form in lemmas(word)[1:]:
        if UNITS.get(form, ("",))[0] == "duration":
            return form
    return None


# Before a unit of time these count it, which the number guard compares ("a week" is seven
# days); after any other word both share it is a time frame ("last month", "the longest day").
_COUNTED = frozenset(NUMBER_WORDS) | {"a", "an", "one"}


def _ranks(f: Features, i: int) -> bool:
    """Whether the word at ``i`` is followed by "the most", "the least" or "the Xest"."""
    after = f.words[i + 1 : i + 3]
    return (
        len(after) == 2
        and after[0] == "the"
        and (after[1] in ("most", "least") or base(after[1]) != after[1])
    )


def _kind_of(n: str, n2: str) -> bool:
    """Whether a sense of one noun is a hypernym of the other's main sense, however far
    up ("car" / "vehicle")."""
    return bool(kinship(n)[0] & ancestors(n2) or kinship(n2)[0] & ancestors(n))


def _kind_by_any_sense(n: str, n2: str) -> bool:
    """Whether a sense of one noun is directly a kind of a sense of the other ("tap" in
    its "water tap" sense is a "faucet"): the main-sense checks miss such senses."""
    graph = wordnet().hypernyms
    senses, senses2 = kinship(n)[0], kinship(n2)[0]
    return any(
        parent in other
        for own, other in ((senses, senses2), (senses2, senses))
        for sense in own
        for parent in graph.get(str(sense), ())
    )


def _nominal(f: Features, i: int, parts: Mapping[str, object]) -> bool:
    """Whether the word at ``i`` is used as a noun: a WordNet noun, or a word WordNet
    knows only as a verb after an article or preposition ("for motorcycles"), not after
    a verb cue or a degree word (where it would be a verb or an adjective)."""
    before = f.words[i - 1] if i else ""
    if before in _VERB_CUES or before in _DEGREE:
        return False
    return "n" in parts or (before in _NOUN_CUES and "a" not in parts)


_DEGREE = frozenset({"more", "most", "less", "least", "how", "too", "very", "so", "as"})


_PARTICLES = frozenset({"on", "off", "up", "down", "out", "in", "over", "away", "back"})


def _same_measure(one: Iterable[str], other: Iterable[str]) -> bool:
    """Whether two graded words measure one attribute the same way: "tallest" / "highest"
    (both height; "hottest" / "coldest" share temperature but are antonyms)."""
    wn = wordnet()
    for a in one:
        for b in other:
            ka, kb = stem(base(a)), stem(base(b))
            measures = wn.adjective_attributes.get(ka, frozenset())
            if measures & wn.adjective_attributes.get(
                kb, frozenset()
            ) and kb not in wn.antonyms.get(ka, ()):
                return True
    return False


def _kin(a: str, b: str) -> bool:
    """Words built on one stem ("agent" / "agency", "photo" / "photograph")."""
    n = min(len(a), len(b))
    return n >= 4 and a[: max(4, n - 2)] == b[: max(4, n - 2)]


def _attributes(
    f: Features, diff: list[tuple[str, str, int]], table: dict[str, frozenset[str]], cue: str | None
) -> dict[str, str]:
    if cue is not None and cue not in f.vocab:
        return {}  # no word after the cue (most texts have no "how"): the same, empty
    if table.keys().isdisjoint(map(_STEM_OF, diff)):
        return {}  # no differing stem in the table (most pairs): asked in C, the same
    return {
        a: w
        for w, s, i in diff
        if cue is None or (i and f.words[i - 1] == cue)
        for a in table.get(s, ())
    }


def _nouns(f: Features, diff: list[tuple[str, str, int]]) -> list[tuple[str, str, bool]]:
    """(word, WordNet noun, surely a noun) of the differing words used as nouns: not a
    unit (the number guard's: "14 days" = "two weeks"), and a word that is also a verb
    not after "to", a modal or a pronoun ("to check my score" is a verb)."""
    wn = wordnet()
    return [
        (w, n, s not in wn.verbs or (i > 0 and f.words[i - 1] in _NOUN_CUES))
        for w, s, i in diff
        if w not in UNITS
        and w not in NEGATORS  # "nothing else", "none of them": no item of a kind
        # a number ("two batteries" / "a pair of batteries"): the number guard's
        and w not in NUMBER_WORDS
        and not (w == "pair" and i + 1 < len(f.words) and f.words[i + 1] == "of")
        and (s not in wn.verbs or (i and f.words[i - 1] not in _VERB_CUES))
        and (n := noun(w))
        and not (i and f"{f.words[i - 1]} {w}" in wn.phrases)  # "on time" names no item
        and w not in f.entities  # "Amazon" is a name: the entity guard's
    ]


# Words that open a qualifying phrase: a place, platform, time, audience or condition
# ("in Texas", "on Android", "in winter", "for part-time staff", "after it has shipped"),
# a measure or a feature ("GDP per capita", "pubs with live music", "a mortgage with bad
# credit"), or restricts it ("counting only refunded orders", "excluding weekends").
_QUALIFYING = frozenset(
    """in on for during after before when while if at under only per with without except
    excluding besides""".split()
)


def _opens_phrase(words: list[str] | tuple[str, ...], i: int) -> bool:
    """Whether ``words[i]`` opens a qualifying phrase: a word of :data:`_QUALIFYING`, or
    "than" after "other" ("languages *other than* English": "except English")."""
    return words[i] in _QUALIFYING or (words[i] == "than" and i > 0 and words[i - 1] == "other")


# After "only" these say what the asker needs or has, not what the question is restricted to.
_ONLY_WANTS = frozenset("need needs want wants have has had know care mean wish ask got".split())
# Fixed phrases that qualify nothing ("thanks in advance", "in general", "at all").
_IDIOMS = frozenset("advance general particular short practice fact all least most first".split())


def _phrases(f: Features, other: Features, extra: set[int]) -> list[tuple[str, list[str]]]:
    """``f``'s qualifying phrases whose content words are all in ``extra`` (positions of
    words ``other`` does not have, not even inflected): (opening word, words)."""
    words, found = f.words, []
    opens = [i for i in range(len(words)) if _opens_phrase(words, i)]
    slots = set(zip(other.words, other.words[1:], strict=False))
    for n, i in enumerate(opens):
        end = opens[n + 1] if n + 1 < len(opens) else len(words)
        if i and (words[i - 1], words[i]) in slots:
            continue  # "age in the UK" / "age in the US": a swap in one slot, not an addition
        content = [k for k in range(i + 1, end) if words[k] not in FUNCTION_WORDS]
        if words[i] == "only":  # "only X" is the words it restricts to: up to a shared one
            if words[i + 1 : i + 2] and words[i + 1] in _ONLY_WANTS:
                continue  # "I only need the name": what the asker wants, not a restriction
            content = list(itertools.takewhile(extra.__contains__, content))
        elif words[i] == "than":  # "other than English, are taught": the words it leaves out
            content = list(itertools.takewhile(extra.__contains__, content))
        if any(words[k][0].isdigit() or words[k] in NUMBER_WORDS for k in content):
            continue  # "at seven this evening" / "at 7pm": the number guard compares those
        if words[i] != "per" and content and all(words[k] in _MEASURE_WORDS for k in content):
            # "for a week", "within an hour": a quantity, the number guard's too ("per
            # year" is a rate: "how much more per year" / "does it cost less" differ)
            continue
        new = [k for k in content if k in extra]
        if new and len(new) == len(content) and not any(words[k] in _IDIOMS for k in new):
            opener = "other than" if words[i] == "than" else words[i]
            found.append((opener, [words[k] for k in new]))
    return found


def added_qualifier(q: Features, c: Features) -> str | None:
    """One side alone adds a phrase of new content words qualifying the question ("in
    Texas", "on Android", "for married couples filing jointly", "after it has shipped"),
    while what the other side has on its own is at most a rating word ("a good
    breakfast"): an answer to the broader question is not one to the narrower."""
    return _added_qualifier(q, c, *_diffs(q, c))


def _added_qualifier(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """:func:`added_qualifier` on the pair's differing words."""
    if not (only_q or only_c):
        return None
    for f, mine, theirs in ((q, only_q, only_c), (c, only_c, only_q)):
        if not mine or not _UNRESTRICTIVE.issuperset(map(base, map(_WORD_OF, theirs))):
            continue
        extra = {i for _, _, i in mine}
        if _QUALIFYING.isdisjoint(f.words[: max(extra)]) and "than" not in f.words:
            # a phrase's new words follow its opening word: with none before the last
            # differing word, _phrases finds no phrase (and its walk is not made)
            continue
        for opener, phrase in _phrases(f, c if f is q else q, extra):
            return f"{opener} {' '.join(phrase)!r} qualifies one side only"
    return None


# Words that frame, soften or greet rather than say what is asked about ("some tips for",
# "the best way to", "sorry to bother you", "just wondering"): added, they narrow nothing.
_FRAMING = frozenset(
    """way ways tip tips advice step steps process procedure method idea ideas guide help
    info information option options sorry bother silly wondering wonder know tell explain
    really actually usually generally typically normally basically exactly possible
    morning afternoon evening everyone folks guys""".split()
)
# After these a noun names what the answer is ("which city", "whose car") or whom the
# text greets ("hi team"), not a part of the question.
_ANSWER_CUES = frozenset("which what whose hi hello hey hiya morning dear".split())
# Adverbs that put the question in another place or manner ("reset it remotely", "renew
# it from abroad"); hedges and intensifiers are framing.
_SCOPE_ADVERBS = frozenset(
    """remotely abroad overseas online offline locally internationally domestically
    manually automatically permanently temporarily wirelessly offshore outdoors indoors""".split()
)


@lru_cache(maxsize=1)
def _kinds() -> tuple[tuple[str, int], ...]:
    """The main WordNet senses whose kinds narrow a question when added: who (a person,
    a group), where (a place, a building or other artefact) and when (a period)."""
    nouns = wordnet().nouns
    return tuple(
        (label, int(nouns[word].split(";", 1)[0].split(" ", 1)[0]))
        for label, word in (
            ("person", "person"),
            ("group", "group"),
            ("place", "location"),
            ("thing", "artifact"),
            ("period", "period"),
        )
    )


def _kind(word: str) -> str | None:
    n = noun(word)
    if n is None or word in UNITS:
        return None  # "a year" is the number guard's
    found = ancestors(n)
    return next((label for label, sense in _kinds() if sense in found), None)


def _explains(other: Features, word: str) -> bool:
    """Whether a noun of ``other`` is a kind of ``word``'s ("capital" explains "city",
    "basil" explains "plant"): then ``word`` names what the other side already says."""
    n = noun(word)
    senses = kinship(n)[0] if n else frozenset()
    for s in other.content:
        n2 = noun(other.words[other.content[s]])
        if n2 is not None and senses & (ancestors(n2) | kinship(n2)[0]):
            return True
    return False


def added_kind(q: Features, c: Features) -> str | None:
    """One side alone names who, where or when ("a pregnant woman", "my company's
    contacts", "a camper van", "in winter", "remotely"), with nothing on the other side
    that the addition could reword: the answer to the broader question does not serve
    the narrower one. Framing ("the best way", "some tips"), names (the entity guard's),
    the kind the answer is ("which city") and a word the other side names a kind of
    ("a basil plant" / "basil") pass."""
    return _added_kind(q, c, *_diffs(q, c))


def _added_kind(q: Features, c: Features, only_q: Diff, only_c: Diff) -> str | None:
    """:func:`added_kind` on the pair's differing words."""
    if not (only_q or only_c):
        return None
    wn = wordnet()
    for f, other, mine, theirs in ((q, c, only_q, only_c), (c, q, only_c, only_q)):
        if not mine or not _UNRESTRICTIVE.issuperset(
            map(base, filterfalse(_FRAMING.__contains__, map(_WORD_OF, theirs)))
        ):
            continue  # the other side has words of its own: a rewording, not an addition
        for w, _s, i in mine:
            if w in f.entities or w in _FRAMING or w in NUMBER_WORDS:
                continue
            before = f.words[i - 1] if i else ""
            if before in _ANSWER_CUES or before in _VERB_CUES:
                continue
            if before in f.entities and i + 1 < len(f.words) and f.words[i + 1] in f.entities:
                continue  # a particle inside a name ("Ludwig van Beethoven"): the entity guard's
            if w in _SCOPE_ADVERBS:
                return f"{w!r} on one side only (how or where)"
            kind = _kind(w)
            if (
                kind != "person"
                and before
                and before not in FUNCTION_WORDS
                and stem(before) in other.stems
            ):
                continue  # the head of what the other side names by one word ("capital city";
                # people after it are some of them: "Navy officers")
            if w in wn.adjective_senses and before not in _NOUN_CUES:
                continue  # an adjective here ("is tap water safe to drink")
            if kind is not None and not _explains(other, w):
                return f"{w!r} on one side only (names a {kind})"
    return None


def _run_before_head(f: Features, other: Features, diff: Diff) -> str | None:
    """The shared content word right after ``diff``'s words when they stand together
    before it ("the [maximum safe] dose"), after a function word or the start."""
    positions = [i for _, _, i in diff]
    first, last = positions[0], positions[-1]
    words = f.words
    if last - first != len(positions) - 1 or last + 1 >= len(words):
        return None  # not one run of words
    head = words[last + 1]
    if head in FUNCTION_WORDS or stem(head) not in other.stems:
        return None
    if first and words[first - 1] not in FUNCTION_WORDS:
        return None  # a run inside a longer phrase: a rewording
    return stem(head)


def _related(w: str, w2: str) -> bool:
    """Whether WordNet or the spelling says two words may say the same ("cold-brew" /
    "brew", "quickest" / "fastest", "lively" / "active", "papers" / "documents")."""
    if _kin(w, w2) or similar(w, w2, 0.8):
        return True
    if stem(w) in {stem(x) for x in w2.split("-")} or stem(w2) in {stem(x) for x in w.split("-")}:
        return True
    parts, parts2 = _parts(w), _parts(w2)
    for tag in parts.keys() & parts2.keys():
        (senses, parents), (senses2, parents2) = parts[tag], parts2[tag]
        if senses & senses2 or senses & parents2 or senses2 & parents:
            return True
    clusters = wordnet().clusters
    return bool(clusters.get(base(w), {base(w)}) & clusters.get(base(w2), {base(w2)}))


def _names_or_quantities(f: Features, diff: Diff) -> bool:
    # (a loop, not any() over a generator: no generator made per call, ≈ 2 a pair)
    entities = f.entities
    for w, _, _ in diff:
        if w in entities or w in UNITS or w[0].isdigit():
            return True
    return False


def _abbreviates(short: str, long: str) -> bool:
    """Whether ``short`` (at most 4 characters) may abbreviate ``long`` or a name that
    starts with it: the same first letter ("js" / "javascript", "k8s" / "kubernetes",
    "aws" / "amazon" web services)."""
    return len(short) <= 4 and short[:1] == long[:1]


def _term(f: Features, i: int, parts: Mapping[str, object]) -> bool:
    """Whether the word at ``i``, unknown to WordNet, reads as a term of art used as a
    noun ("add docstrings to", "use asyncio"): plain letters, and no determiner or name
    right after it (where it would be a preposition: "win against Italy", "during the
    day", "without a receipt")."""
    after = f.words[i + 1] if i + 1 < len(f.words) else ""
    return (
        not parts and f.words[i].isalpha() and after not in _DETERMINERS and after not in f.entities
    )


def _initials(only_q: Diff, only_c: Diff) -> bool:
    """Whether one side's one word starts with the initials of the other's two or more
    ("regex" / "regular expression"): a short form, not another thing."""
    for one, other in ((only_q, only_c), (only_c, only_q)):
        if len(one) == 1 and len(other) > 1:
            return one[0][0].startswith("".join(w[0] for w, _, _ in other))
    return False


def _one_name(q: Features, c: Features, only_q: Diff, only_c: Diff) -> bool:
    """Whether only one side's differing run holds names, no quantity on either, and the
    other side's plain words do not spell them out: a named thing against another thing
    ("a README" / "a blog post", "in pandas" / "in plain Python"; "the EU" / "the
    european union" spells it out)."""
    if any(w in UNITS or not w.isalpha() for w, _, _ in (*only_q, *only_c)):
        return False
    names_q = [w for w, _, _ in only_q if w in q.entities]
    names_c = [w for w, _, _ in only_c if w in c.entities]
    if bool(names_q) == bool(names_c):
        return False
    names, other = (names_q, only_c) if names_q else (names_c, only_q)
    initials = "".join(w[0] for w, _, _ in other) if len(other) > 1 else "-"
    spelt = "".join(w for w, _, _ in other)
    return not any(
        initials.startswith(n) or n.startswith(initials) or _abbreviates(n, spelt) for n in names
    )


def _named(q: Features, c: Features, only_q: Diff, only_c: Diff) -> bool:
    """Whether either side's differing words hold a name or a quantity."""
    return _names_or_quantities(q, only_q) or _names_or_quantities(c, only_c)


def _modifiers_swapped(
    q: Features, c: Features, only_q: Diff, only_c: Diff, named: bool | None = None
) -> str | None:
    """Each side alone puts its own words before the same shared noun, two or more on
    one side, and no word of one relates to a word of the other: the same thing under
    another constraint ("the [recommended] dose" / "the [maximum safe] dose", "the
    [official] language" / "the [most widely spoken] language")."""
    if _named(q, c, only_q, only_c) if named is None else named:
        return None  # the entity and number guards'
    head = _run_before_head(q, c, only_q)
    if head is None or head != _run_before_head(c, q, only_c):
        return None
    if any(_related(w, w2) for w, _, _ in only_q for w2, _, _ in only_c):
        return None
    run_q, run_c = (" ".join(w for w, _, _ in d) for d in (only_q, only_c))
    return f"another constraint on the same thing ({run_q!r} vs {run_c!r})"


# Prepositions that join a noun phrase's words into one ("retries with backoff", "number of
# orders"); not degree words or articles ("the largest number": a rewording of "the most").
_LINKING = frozenset("with of for by to on in at from".split())


def _slot(f: Features, diff: Diff) -> tuple[str, str] | None:
    """The content stems just before and after ``diff``'s words when they stand together
    ("" at an end), or None when they are apart."""
    positions = [i for _, _, i in diff]
    first, last = positions[0], positions[-1]
    words = f.words
    if last - first != len(positions) - 1 and any(
        words[k] not in _LINKING for k in range(first, last) if k not in positions
    ):
        return None  # apart, unless a preposition links them ("retries with backoff")
    before = next(
        (words[k] for k in range(first - 1, -1, -1) if words[k] not in FUNCTION_WORDS), ""
    )
    after = next(
        (words[k] for k in range(last + 1, len(words)) if words[k] not in FUNCTION_WORDS), ""
    )
    return stem(before) if before else "", stem(after) if after else ""


def _attribute_of(f: Features, diff: Diff) -> bool:
    """Whether ``diff``'s words stand as "the ... of" (an attribute of what follows)."""
    first, last = diff[0][2], diff[-1][2]
    words = f.words
    return 0 < first and words[first - 1] in _THE_OF and words[last + 1 : last + 2] in _OF


# Before "X of": "the height of", "its weight of" (a second _DETERMINERS here once
# replaced the one above for every function of the module: "my" was no determiner)
_THE_OF = frozenset({"the", "a", "an", "its", "their"})
# "the fee for a renewal" asks for an attribute of the renewal as "the fee of" would
_OF = frozenset({("of",), ("for",)})


def _phrase_swapped(
    q: Features, c: Features, only_q: Diff, only_c: Diff, named: bool | None = None
) -> str | None:
    """Each side alone has a phrase of nouns and adjectives in the same place after a
    shared word, two or more words on one side, none related to the other's: another
    thing asked about ("the lowest [interest rate]" / "the lowest [annual fee]", "better
    for [weight loss]" / "for [knee health]"). Phrases at the start (question framing:
    "what's the procedure to end" / "how do I cancel") and participles ("go live" /
    "activated") are rewordings, unless both stand as "the ... of" ("the construction
    cost of" / "the seating capacity of" a stadium)."""
    if (_named(q, c, only_q, only_c) if named is None else named) and not _one_name(
        q, c, only_q, only_c
    ):
        return None  # the entity and number guards'
    slot = _slot(q, only_q)
    if slot is None or slot != _slot(c, only_c):
        return None
    if not slot[0] and not (_attribute_of(q, only_q) and _attribute_of(c, only_c)):
        return None  # at the start: question framing, unless "the X of" on both sides
    for f, diff in ((q, only_q), (c, only_c)):
        for w, _, i in diff:
            parts = _parts(w)
            if (
                not ("n" in parts or "a" in parts or w in f.entities or _term(f, i, parts))
                or w.endswith("ed")
                or f.words[i - 1] in _VERB_CUES
            ):
                return None
    if any(_related(w, w2) for w, _, _ in only_q for w2, _, _ in only_c) or _initials(
        only_q, only_c
    ):
        return None
    run_q, run_c = (" ".join(w for w, _, _ in d) for d in (only_q, only_c))
    return f"another thing asked about ({run_q!r} vs {run_c!r})"
