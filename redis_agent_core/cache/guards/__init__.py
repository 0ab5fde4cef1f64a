"""Verification of semantic-cache candidates: never serve an answer to a different question.

A semantic cache finds stored prompts *near* the new one; near is not the same
question ("Cancel my subscription" / "Don't cancel my subscription", "Convert 5 miles" /
"Convert 50 miles"). Before a candidate is served, the cache calls
``verifier.verify(new_prompt, stored_prompt)``; a :class:`Rejection` makes it try the
next candidate, and a lookup whose candidates are all rejected is a miss.

CONTRACT (shared by the cache and the guards):

- ``Rejection(guard, reason)``: ``guard`` is a short category used as a stats counter
  (``negation``, ``number``, ``entity``, ``order``, ``scope``, ``constraint``, ``asks``, ``custom``;
  ``error`` when a guard raised: the candidate is refused and the error logged; the cache
  adds ``span`` for long prompts whose differing parts are not near).
- ``Guard`` protocol: ``name`` and ``check(query, candidate) -> str | None``
  (``None`` = passes; else a human-readable reason).
- ``Verifier(guards=None, *, extra=None)``: ``guards=None`` means :func:`default_guards`;
  ``extra`` is a user verifier ``(query, candidate) -> bool`` (sync or async), e.g. a
  cross-encoder or an LLM judge, run only on candidates the guards let through.

Texts may be conversations ("system: ...", "human: ..." lines): the guards drop the role
prefixes and compare the content. The guards are pure Python + ``re`` (no model);
each text is parsed once into cached features, so checking one query against several
candidates costs a few microseconds per candidate.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import cache, lru_cache
from itertools import compress, count, filterfalse, islice
from operator import ne
from typing import NamedTuple, Protocol, runtime_checkable

import orjson

from . import _lexicon as lex
from ._asks import AskGuard
from ._code import arguments_reordered, code_changed, indentation_changed, relaid
from ._features import (
    _DIRECTION_CUES,
    _PARSED,
    Features,
    _format_value,
    _number_words_to_digits,
    encode,
    features,
    pair,
    per_text,
    remember_stored,
    same_but_numerals,
    similar,
    stem,
)
from ._readings import (
    and_against_or,
    change_said_otherwise,
    exception_added,
    frames_differ,
    maker_against_subject,
    one_against_all,
    which_against_all,
)
from ._renegate import renegated
from ._respell import respelt
from ._spans import MIN_SHARED, narrowed
from ._spelling import same_but_spelling
from ._task import TaskGuard
from ._wordnet import ancestors, base, lemmas, noun, wordnet
from .relations import (
    _FRAMING,
    _MEANING_NOT,
    _MEANING_NOT_ROOT,
    _NOT_PHRASES,
    _PREVENTING_FROM,
    _SAYING_NO,
    _UNRESTRICTIVE,
    _WH_WORDS,
    _WORD_OF,
    AntonymGuard,
    ArgumentGuard,
    Diff,
    SubstitutionGuard,
    _added_kind,
    _added_qualifier,
    _applies_to,
    _diffs,
    _kind,
    _narrowing,
    _no_for_not,
    _PairGuard,
    _targets,
    comparatives,
    mirrored,
    prevention_shift,
)
from .scorer import PairScorer

_log = logging.getLogger(__name__)
_WORD = re.compile(r"[^\W_]+")
_ARTICLES = frozenset({"a", "an", "the"})


def _plain(text: str) -> list[str]:
    """The words of ``text`` in lower case, without articles: a pair the scorer refused
    whose negations, written one way, leave it these same words ("List customers with
    no orders" / "List the customers with zero orders") says the same (the scorer gave
    such pairs 0.00 for the "the" alone)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _ARTICLES]


# an article before a word (not "a" in "print(a)" or "a - b": a name there), and the
# words and marks one by one ("a - b" / "a + b" keep their operators, "X?" / "X." their stop)
_ARTICLE = re.compile(r"\b(?:a|an|the)\s+(?=[^\W\d_])")
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")


def _but_articles(one: str, other: str) -> bool:
    """Whether ``one`` and ``other`` differ by articles alone ("the population of the
    Netherlands" / "of Netherlands"): the guards passed the rest, and the scorer gave such
    pairs 0.00-0.01 ("List customers with orders" / "List the customers with orders").
    Lines must start as indented on both sides (a line moved into a block is other code)."""

    def words(text: str) -> list[str]:
        return _TOKEN.findall(_ARTICLE.sub("", text.lower()))

    def indents(text: str) -> list[int]:
        return [len(line) - len(line.lstrip()) for line in text.splitlines()]

    return one != other and words(one) == words(other) and indents(one) == indents(other)


# the guards whose refusal is judged again with the pair's negations written one way
_RENEGATED = frozenset({"negation", "antonym"})

__all__ = [
    "DEFAULT_DISTANCE_THRESHOLD",
    "GUARDS_DISTANCE_THRESHOLD",
    "AntonymGuard",
    "ArgumentGuard",
    "AskGuard",
    "ConstraintGuard",
    "EntityGuard",
    "Features",
    "Guard",
    "NegationGuard",
    "NumberGuard",
    "OrderGuard",
    "PairScorer",
    "Rejection",
    "ScopeGuard",
    "SubstitutionGuard",
    "TaskGuard",
    "Verifier",
    "default_guards",
    "default_verifier",
    "features",
    "narrowed",
    "respelt",
]

#: Cosine distance (0 = identical, 2 = opposite) the semantic cache uses by default with the
#: default verifier (the guards, then the pair scorer), for all-MiniLM-L6-v2. Chosen on
#: pairs the scorer was not trained on (fow-cache with a scorer trained without it; three
#: of our sets with one trained without them): the widest threshold before a wrong answer
#: is added; the held-out sets were scored once at it. See docs/cache-guards.md.
DEFAULT_DISTANCE_THRESHOLD = 0.26
#: The same for the guards alone (``Verifier()``, no scorer): calibrated on our own pair
#: sets (benchmarks/data/guards_heldout.jsonl, precision >= 0.95) and checked on the others.
GUARDS_DISTANCE_THRESHOLD = 0.22


class Rejection(NamedTuple):
    """Why a candidate was refused: ``guard`` is the stats category, ``reason`` for humans."""

    guard: str
    reason: str


@runtime_checkable
class Guard(Protocol):
    """One check: ``None`` if ``candidate``'s answer also answers ``query``, else why not."""

    name: str

    def check(self, query: str, candidate: str) -> str | None: ...


ExtraVerifier = Callable[[str, str], bool | Awaitable[bool]]
# a default guard's check on both texts' features: (q, c, query, candidate) -> reason
Judge = Callable[[Features, Features, str, str], str | None]


def _show(items: Iterable[str]) -> str:
    return ", ".join(sorted(items)) or "nothing"


def _key(word: str) -> str:
    return "_".join(stem(part) for part in word.split("_"))


@per_text
@lru_cache(maxsize=4096)
def _by_initial(words: tuple[str, ...]) -> tuple[str, ...]:
    """The distinct words sorted, so those with one initial are one slice (bisect)."""
    return tuple(sorted(set(words)))


def _digits(word: str) -> str:
    return "".join(ch for ch in word if ch.isdigit())


def _misspelt(word: str, other: Features, *, name: bool = False) -> bool:
    """Whether ``other`` has a near spelling of ``word`` ("Mondys" for "Mondays"): only
    asked before a one-sided rule fires, so typos in near repeats don't cost hits.
    Names are held to a tighter standard: "Maria"/"Marta" and "Austria"/"Australia" are
    different places and people, so only a swapped pair of letters ("Oxfrod") or a
    one-letter slip in a long name counts."""
    words = _by_initial(other.words)
    start = bisect_left(words, word[:1])
    for w in words[start : bisect_left(words, word[:1] + "\uffff", start)]:
        if abs(len(w) - len(word)) > 2:
            continue
        if name:
            if _digits(w) != _digits(word):
                continue  # "WH-1000XM4" / "WH-1000XM5": another model, not a typo
            if len(w) == len(word) and sorted(w) == sorted(word):
                diff = [i for i, (x, y) in enumerate(zip(w, word, strict=True)) if x != y]
                if len(diff) == 2 and diff[1] == diff[0] + 1:
                    return True
            if len(word) >= 7 and similar(w, word, 0.9):
                return True
        elif similar(w, word, 0.8):
            return True
    return False


# Capitalised words in a row, with the small words inside names ("Bank of England"); a
# word may be accented ("Fédération"), go on after a hyphen in lower case ("Co-operation")
# or be possessive ("Her Majesty's Revenue and Customs", "People's Republic of China").
_NAME_WORD = r"[A-Z\u00c0-\u00de][^\W_]*(?:-[a-z]+)*(?:['\u2019]s(?![^\W_]))?"
_NAME_RUN = re.compile(
    rf"{_NAME_WORD}(?:(?:[ -]+(?:of|and|for|the|de))*[ -]+(?:[0-9][^\W_]*|{_NAME_WORD}))*"
)
# a hyphen before lower case joins one word ("Co-operation"); another parts two
# ("Hewlett-Packard", "Guinea-Bissau")
_IN_WORD_HYPHEN = re.compile(r"-(?=[a-z])")


_RUN_POSSESSIVE = re.compile(r"['\u2019]s\b")


def _run_words(run: str) -> list[str]:
    return _RUN_POSSESSIVE.sub("", _IN_WORD_HYPHEN.sub("", run)).replace("-", " ").split()


_NAME_JOINERS = frozenset({"of", "and", "for", "the", "de"})


def _spells(short: str, words: Sequence[str], blend: bool = False) -> bool:
    """Whether ``short`` is ``words`` abbreviated word by word, each word giving its
    initial, its capitals ("MacBook" -> "mb") or itself ("VSCode" = Visual Studio Code);
    with ``blend``, also its first two letters or more ("FedEx" = Federal Express)."""
    if not short:
        return not words
    if not words:
        return False
    word = words[0]
    if word in _NAME_JOINERS and _spells(short, words[1:], blend):
        return True  # "Bank of England" -> "BoE" or "BE"
    parts = _spellings(word)
    if blend:
        # each word its first two letters or more: "carb" is no blend of "car battery"
        lower = word.lower()
        parts = tuple(lower[:k] for k in range(2, len(lower) + 1) if short.startswith(lower[:k]))
    return any(
        short.startswith(part) and _spells(short[len(part) :], words[1:], blend) for part in parts
    )


def _blend(short: str) -> bool:
    """Whether ``short`` may blend the starts of a name's words ("FedEx", "AmEx",
    "Texaco"): a word of 4 letters or more (shorter ones are initials)."""
    return len(short) >= 4 and short.isalpha()


@lru_cache(maxsize=16384)
def _spellings(word: str) -> tuple[str, ...]:
    """What ``word`` may give an abbreviation of a name: its initial, its capitals
    ("MacBook" -> "mb"), itself (memoised by word: :func:`_unabbreviated` asks about
    each word of each run of capitalised words once per start and end it tries)."""
    capitals = "".join(ch for ch in word if ch.isupper() or ch.isdigit()).lower()
    # an acronym inside a name stays whole: "US Postal Service" is "USPS", not "UPS"
    initial = "" if len(word) > 1 and word.isupper() else word[:1].lower()
    return tuple(part for part in dict.fromkeys((initial, capitals, word.lower())) if part)


# Endings that name a product's flavour, not another product: "Postgres" / "PostgreSQL",
# "Mongo" / "MongoDB", "Node" / "Node.js", "Mac" / "macOS".
_PRODUCT_SUFFIXES = ("sql", "ql", "db", "js", ".js", "os")


_NUMERONYM = re.compile(r"([a-z])(\d{1,2})([a-z])")


def _numeronym(short: str, others: Iterable[str]) -> bool:
    """Whether ``short`` is a numeronym of one of ``others``: its first and last letters
    around the count of letters between ("k8s" / "Kubernetes", "i18n", "a11y")."""
    m = _NUMERONYM.fullmatch(short)
    if m is None:
        return False
    first, count, last = m.group(1), int(m.group(2)), m.group(3)
    return any(len(o) == count + 2 and o[0] == first and o[-1] == last for o in others)


def _initialism(short: str, others: Iterable[str], text: str) -> bool:
    """Whether ``short``, written in capitals in ``text``, abbreviates one long word of
    ``others`` by its initial and later consonants ("FB" / "Facebook", "IG" / "Instagram",
    "MS" / "Microsoft"; "AI" / "Airbnb" does not: a vowel)."""
    if not (2 <= len(short) <= 3 and short.isalpha() and short.upper() in text):
        return False
    if any(ch in "aeiou" for ch in short[1:]):
        return False
    for word in others:
        if len(word) < 6 or not word.isalpha() or word[0] != short[0]:
            continue
        rest = iter(word[1:])
        if all(ch in rest for ch in short[1:]):  # a subsequence, in order
            return True
    return False


def _model_suffix(short: str, others: Iterable[str]) -> bool:
    """Whether ``short`` (with a digit) ends a longer model name of ``others``: "XM5" /
    "WH-1000XM5"."""
    return (
        len(short) >= 3
        and any(ch.isdigit() for ch in short)
        and any(len(o) > len(short) and o.endswith(short) for o in others)
    )


def _same_product(entity: str, others: Iterable[str]) -> bool:
    """Whether ``entity`` and one of ``others`` differ only by a product suffix (the
    shorter at least 3 letters, so "Java" / "JavaScript" still differ)."""
    for other in others:
        short, long = sorted((entity, other), key=len)
        if len(short) >= 3 and long.startswith(short) and long[len(short) :] in _PRODUCT_SUFFIXES:
            return True
    return False


# what a people's name adds to its country's root ("Indian", "Italian", "Japanese", "Pakistani")
# ("" only where a country's "y" goes: "Germany" / "German", not "Indiana" / "Indian")
_DEMONYM_ENDINGS = ("n", "an", "ian", "ese", "i")


def _demonym(entity: str, others: Iterable[str]) -> bool:
    """Whether ``entity`` and one of ``others`` are a place and its people ("India" /
    "Indian", "Germany" / "German", "China" / "Chinese"): "Indian citizens" are the
    "citizens of India". (A root of at least 4 letters: "Indiana" is not "Indian".)"""
    for other in others:
        for place, people in ((entity, other), (other, entity)):
            root = place[:-1] if place[-1:] in ("a", "e", "o", "y") else place
            if (
                len(root) >= 4
                and people.startswith(root)
                and (
                    people[len(root) :] in _DEMONYM_ENDINGS or (people == root and place[-1] == "y")
                )
            ):
                return True
    return False


def _peoples(
    in_q: tuple[str, ...], in_c: tuple[str, ...], only_q: set[str], only_c: set[str]
) -> tuple[set[str], set[str]]:
    """``only_q`` and ``only_c`` less the places and peoples that name one country, each
    among the names both sides share in the same place ("UK visa for Indian citizens" /
    "UK visa for citizens of India"; not "Canadian citizen working in the US" / "US
    citizen working in Canada": the roles are swapped)."""
    shared = set(in_q) & set(in_c)
    for a in list(only_q):
        for b in only_c:
            if _demonym(a, (b,)) and {e for e in in_q[: in_q.index(a)] if e in shared} == {
                e for e in in_c[: in_c.index(b)] if e in shared
            }:
                only_q, only_c = only_q - {a}, only_c - {b}
                break
    return only_q, only_c


def _contraction(short: str, others: Iterable[str], text: str, other_text: str) -> bool:
    """Whether ``short``, written capitalised in ``text``, shortens one word of ``others``
    (in ``other_text``) as a title or a street is shortened: its first letter and later
    consonants down to its last ("Mt" / "Mount", "St" / "Saint", "Ft" / "Fort", "Blvd" /
    "Boulevard"), or its first three letters or more ("Ave" / "Avenue", "Met" /
    "Metropolitan"; not a name that goes on with another: "Java" / "JavaScript")."""
    if not (2 <= len(short) <= 4 and short.isalpha() and short.capitalize() in text):
        return False
    for word in others:
        if len(word) < len(short) + 2 or not word.isalpha() or word[0] != short[0]:
            continue
        if len(short) >= 3 and word.startswith(short):
            if short.capitalize() + word[len(short)].upper() not in other_text:
                return True
            continue
        rest = iter(word[1:])
        if (
            word[-1] == short[-1]
            and not any(ch in "aeiou" for ch in short[1:])
            and all(ch in rest for ch in short[1:])
        ):
            return True
    return False


_VERSIONED = re.compile(r"([a-z]{2,})([0-9]{1,3})")


def _versioned(short: str, others: Iterable[str], other_text: str) -> bool:
    """Whether ``short`` is a name and its version run together, the name cut to its
    start or its capitals, as ``other_text`` writes them apart: "py3" / "Python 3",
    "Win11" / "Windows 11", "TF2" / "TensorFlow 2" (the same number: "py3" is not
    "Python 3.12")."""
    m = _VERSIONED.fullmatch(short)
    if m is None:
        return False
    letters, number = m.groups()
    for name in others:
        if name.startswith(letters) or (
            len(letters) >= 2 and _spells(letters, [w for w in _name_cased(name, other_text)])
        ):
            if re.search(rf"(?i)\b{re.escape(name)} {number}(?![0-9]|[.,][0-9])", other_text):
                return True
    return False


def _name_cased(name: str, text: str) -> list[str]:
    """``name`` as ``text`` writes it (its capitals tell its parts: "TensorFlow")."""
    at = text.lower().find(name)
    return [text[at : at + len(name)]] if at >= 0 else [name]


def _shortened(short: str, others: set[str], text: str, other_text: str) -> bool:
    """Whether ``short`` (in ``text``) shortens one of ``others`` (in ``other_text``): a
    short form, a contraction, a name and its version run together ("py3" / "Python
    3"), or initials the other side writes with dots ("DC" / "D.C.")."""
    return (
        _short_form(short, others, text)
        or _contraction(short, others, text, other_text)
        or _versioned(short, others, other_text)
        or (
            2 <= len(short) <= 4 and short.isalpha() and ".".join(short.upper()) + "." in other_text
        )
    )


def _short_form(entity: str, others: set[str], text: str) -> bool:
    """Whether ``entity`` (as written in ``text``) is a short form of one of ``others``."""
    return (
        _same_product(entity, others)
        or _numeronym(entity, others)
        or _initialism(entity, others, text)
        or _model_suffix(entity, others)
    )


# a name's lower-case last word that its short form spells too ("Social Security number"
# / "SSN", "Annual Percentage rate" / "APR")
_NEXT_WORD = re.compile(r"[ -]+([a-z]+)")


_INITIAL_DOT = re.compile(r"(?<= )([A-Z])\.(?= [A-Z])")


# a letter and the number of times it stands: "S3" (Simple Storage Service), "W3C"
_REPEATED = re.compile(r"(?<![a-z])([a-z])([23])(?![0-9])")


def _written_as(entity: str) -> set[str]:
    """``entity``, the forms the alias table read as it ("usa": "us", "america") and its
    letters written out where a digit counts one ("s3": "sss")."""
    forms = {entity} | {k for k, v in lex.ALIASES.items() if v == entity and k.isalpha()}
    if any(ch.isdigit() for ch in entity):
        forms.add(_REPEATED.sub(lambda m: m.group(1) * int(m.group(2)), entity))
    return forms


def _unabbreviated(unmatched: set[str], other: str) -> set[str]:
    """``unmatched`` less the short names of a multi-word name in ``other``."""
    if not unmatched:
        return unmatched
    # "University of California, Los Angeles" / "UCLA": a comma inside a name joins it;
    # so does a middle initial ("John F. Kennedy" / "JFK")
    text = _INITIAL_DOT.sub(r"\1", other.replace(", ", " "))
    runs = []
    for m in _NAME_RUN.finditer(text):
        run = _run_words(m.group(0))
        runs.append(run)
        if (after := _NEXT_WORD.match(text, m.end())) is not None:
            runs.append([*run, after.group(1)])
    return {
        e
        for e in unmatched
        if not any(
            _spells(short, run[i:j]) or (blend and _spells(short, run[i:j], True))
            for short in {form.replace("-", "") for form in _written_as(e)}
            for blend in (_blend(short),)
            for run in runs
            for i in range(len(run))
            # (a word that is no joiner and gives no start of ``short`` starts no
            # spelling of it, however far the run goes: its ends are not tried)
            if run[i] in _NAME_JOINERS
            or any(map(short.startswith, _spellings(run[i])))
            or (blend and short[:2] == run[i][:2].lower())
            for j in range(i + 2, len(run) + 1)
        )
    }


def _spelled_words(shorts: set[str], text: str, own_text: str) -> set[str]:
    """The words of the multi-word names in ``text`` that one of ``shorts`` abbreviates
    (:func:`_unabbreviated` found them), each short a whole name in ``own_text`` (in "VS
    Code" the "VS" names part of another name than "Visual Studio")."""
    if shorts:
        alone = {
            run[0].lower()
            for m in _NAME_RUN.finditer(own_text)
            if len(run := _run_words(m.group(0))) == 1
        }
        shorts = {e for e in shorts if e in alone}
    if not shorts:
        return set()
    forms = {form.replace("-", "") for e in shorts for form in _written_as(e)}
    words: set[str] = set()
    for m in _NAME_RUN.finditer(text):
        run = _run_words(m.group(0))
        for i in range(len(run)):
            for j in range(i + 2, len(run) + 1):
                if any(
                    _spells(form, run[i:j]) or (_blend(form) and _spells(form, run[i:j], True))
                    for form in forms
                ):
                    words.update(w.lower() for w in run[i:j])
    return words


def _inside_names(groups: frozenset[tuple[bool, str]], text: str, other: Features) -> set:
    """Those of ``groups`` named only inside a multi-word name of ``text`` that one of
    ``other``'s entities abbreviates ("Linux" in "Windows Subsystem for Linux" / "WSL")."""
    if not groups or not other.entities:
        return set()
    inside: set[str] = set()
    for m in _NAME_RUN.finditer(text):
        run = _run_words(m.group(0))
        if len(run) > 1 and any(_spells(e.replace("-", ""), run) for e in other.entities):
            inside.update(w.lower() for w in run)
    if not inside:
        return set()
    inside |= {stem(w) for w in inside}
    # a group is named by its first word: "child" for "Children's Health Insurance Program"
    return {g for g in groups if g[1] in inside or not _group_words(g[1]).isdisjoint(inside)}


@lru_cache(maxsize=256)
def _group_words(group: str) -> frozenset[str]:
    """The words that name a scope group (the first of them names it): "child",
    "children", "kid"..."""
    for classes in lex.SCOPE_CLASSES.values():
        for _, words in classes:
            if words[0] == group:
                return frozenset(words)
    return frozenset()


def _negators_in_names(f: Features, other: Features) -> int:
    """How many "non-" words of ``f`` are in a term that one of ``other``'s names
    abbreviates ("non-governmental organisation" / "NGO", "non-steroidal
    anti-inflammatory drugs" / "NSAIDs"): part of a name, no negator."""
    if "non-" not in f.lower:
        return 0
    words = f.words
    found: set[int] = set()
    for entity in other.entities:
        short = entity[:-1] if entity.endswith("s") and len(entity) > 3 else entity
        if not (3 <= len(short) <= 8 and short.isalpha()):
            continue
        for i, word in enumerate(words):
            if word[:1] != short[0]:
                continue
            parts: list[str] = []
            for j in range(i, min(i + len(short), len(words))):
                parts += words[j].split("-")
                if len(parts) >= 2 and _spells(short, parts):
                    found.update(k for k in range(i, j + 1) if words[k].startswith("non-"))
                    break
    return len(found)


# After "isn't" / "doesn't" these mean a question turned round ("why isn't my starter
# rising"): the negated verb comes later, past a subject of any length.
_INVERTED = frozenset(
    "my your our their his her its the a an this that these those it he she they you i we".split()
)


# Verbs that say a thing is not done when "to" and a verb follow them ("refuses to eat",
# "neglected to file", "declined to comment", "forgot to chart"): the verbs sharing a
# WordNet sense with "refuse" or "neglect", and "forget"; "fail to" is counted by the
# parse already, as is the bare word "refuse" (a negator of its own).
_DECLINING_SEEDS = ("refuse", "neglect")
_LACK = stem("lack")


@cache
def _declining() -> frozenset[str]:
    """Stems of the verbs of :data:`_DECLINING_SEEDS`' WordNet senses, and "forget"."""
    entries = wordnet().verb_senses
    seeds = {s for w in _DECLINING_SEEDS for s in entries[w].split(";", 1)[0].split()}
    found = {
        stem(v) for v, e in entries.items() if not seeds.isdisjoint(e.split(";", 1)[0].split())
    }
    return frozenset(found | {stem(w) for w in ("forget", "forgot", "forgotten")}) - {stem("fail")}


@cache
def _implying() -> frozenset[str]:
    """The stems that may open an implied negation: tested against a text's stems in C
    before anything else is asked."""
    return _declining() | {_LACK}


# "a lack of", "the lack": a noun, whose "no" the other side says as "no" or "without"
_LACK_NOUN = frozenset({"a", "the", "any", "no", "total", "general"})


def _implied_negations(f: Features, other: Features) -> list[str]:
    """The words of ``f`` that say no without a negator: a verb of refusing or neglecting
    before "to" and a verb ("refuses to return", "neglecting to file"), and "lack" as a
    verb ("lacks a fan"; not "a lack of sleep"); not one whose stem the other side has
    anywhere, even inside a code ("refused to connect" / "ERR_CONNECTION_REFUSED")."""
    declining = _declining()
    verbs = wordnet().verbs
    words, seq = f.words, f.seq
    found = []
    for k, s in enumerate(seq):
        if (s != _LACK and s not in declining) or s in other.lower:
            continue
        if s == _LACK:
            if words[k + 1 : k + 2] != ("of",) and (k == 0 or words[k - 1] not in _LACK_NOUN):
                found.append(words[k])
        elif (
            words[k] != "refuse"  # a negator already
            and words[k + 1 : k + 2] == ("to",)
            and k + 2 < len(words)
            and any(stem(form) in verbs for form in lemmas(words[k + 2]))
        ):
            found.append(f"{words[k]} to")
    return found


# "empty" ("blank") said of what a container holds ("the array is empty", "returns an
# empty result"): "no" said without a negator ("has no elements", "returns no rows"); "not
# empty" is something held ("has a value"). Not "an empty stomach", "empty promises".
_EMPTY = re.compile(
    r"\b(?:is|are|was|were|be|been|being|stays?|stayed|remains?|remained|left|returns?"
    r"|returned|comes? back|came back|gives?|gave|gets?|got)(n't|\s+not|\s+never)?\s+"
    r"(?:an?\s+|completely\s+|entirely\s+)?(?:empty|blank)\b(?![\s-]+(?:stomach|nest|promise"
    r"|threat|calorie|word|hand))"
)


_EMPTY_WORDS = frozenset({"empty", "blank"})


def _emptied(f: Features, other: Features) -> int:
    """How many negators ``f``'s "empty" adds ("is empty": one, as "has no value"; "is not
    empty": minus one, its "not" taken back: "has a value"), where ``other`` says no "empty"
    (both sides' "empty" or "blank" are compared as words: "is empty" / "is not empty"
    differ, "are empty" / "blank amounts" agree)."""
    if "empt" in other.lower or "blank" in other.lower:
        return 0
    return sum(-1 if m.group(1) else 1 for m in _EMPTY.finditer(f.lower))


_NOT = frozenset({"not", "never"})


def _negated(f: Features) -> set[str] | None:
    """The stems of the words "not", "never" and "n't" apply to: the first content word
    after each ("did not arrive", "won't charge", "says not delivered"); None when one
    cannot tell (a question turned round)."""
    words = f.words
    at = [k for form in _NOT & f.vocab for k, w in enumerate(words) if w == form]
    if "n't" in f.lower:
        at += [k for k, w in enumerate(words) if w.endswith("n't")]
    found = set()
    for k in at:
        if k + 1 < len(words) and (
            words[k + 1] in _INVERTED
            # "why won't bluetooth turn on": an auxiliary's "n't" opening a question, its
            # subject a bare noun
            or (words[k].endswith("n't") and (k == 0 or words[k - 1] in _WH_WORDS))
        ):
            return None
        target = _applies_to(f, k)
        if target is not None:
            found.add(target)
    return found


def _negation_moved(q: Features, c: Features) -> str | None:
    """The same negators on another predicate, both predicates on both sides: "my order
    did not arrive but tracking says delivered" / "my order arrived but tracking says
    not delivered"."""
    in_q, in_c = _negated(q), _negated(c)
    if in_q is None or in_c is None or in_q == in_c:
        return None
    shared = q.stems & c.stems
    only_q, only_c = in_q - in_c, in_c - in_q
    if only_q and only_c and only_q <= shared and only_c <= shared:
        return f"negation moved ({_show(only_q)} vs {_show(only_c)})"
    return None


_FREE_OF = re.compile(r"\b([a-z]+)-free\b|\bfree (?:of|from) ([a-z]+)|\b([a-z]{3,})less\b")


def _freed(one: Features, other: Features) -> int:
    """How many things ``one`` says are absent ("gluten-free", "free of gluten",
    "eggless") that ``other`` names without saying so: each is a "without"
    ("gluten-free" / "without gluten" agree, "gluten-free" / "with gluten" differ)."""
    found = {
        m.group(1) or m.group(2) or m.group(3) for m in _FREE_OF.finditer(one.lower)
    } - lex.FUNCTION_WORDS  # "for free" is no "without"
    things = [
        thing
        for thing in found
        if (thing in other.vocab or stem(thing) in other.stems)
        and f"{thing}less" not in other.lower
        and f"{thing}-free" not in other.lower
        and f"{thing} free" not in other.lower
        and f"free of {thing}" not in other.lower
        and f"free from {thing}" not in other.lower
    ]
    if len(things) < 2:
        return len(things)
    # things the other side lists after one negator are one "without" ("meat-free,
    # fish-free" / "without meat or fish"): counted once, as that side's negator is
    return len({_listed_after_negator(other, thing) or thing for thing in things})


def _listed_after_negator(f: Features, thing: str) -> int | None:
    """Where the negator stands (plus one) that ``thing`` follows by at most four words
    ("without meat or fish", "no nuts, eggs or dairy"), or None."""
    words = f.words
    for k, w in enumerate(words):
        if w != thing and stem(w) != stem(thing):
            continue
        for j in range(k - 1, max(-1, k - 5), -1):
            if words[j] in lex.NEGATORS or words[j].endswith("n't"):
                return j + 1
    return None


# Verbs that end an activity as "stop" does ("quit smoking" / "stop smoking", "get rid of
# hiccups" / "stop hiccups"); not negators of their own ("quit vim" / "exit vim").
_CEASING = frozenset(stem(w) for w in "quit quits quitting cease discontinue halt".split())
_CEASING_PHRASES = ("give up", "gave up", "giving up", "get rid of", "getting rid of")


def _ceases(f: Features) -> int:
    """How many verbs or phrases of ending ("quit", "give up") ``f`` has."""
    found = len(_CEASING.intersection(f.seq))
    if "up" in f.vocab or "rid" in f.vocab:
        found += sum(phrase in f.lower for phrase in _CEASING_PHRASES)
    return found


def _stop_said_otherwise(q: Features, c: Features, q_neg: int, c_neg: int) -> tuple[int, int]:
    """The counts with a verb of ending on the side without "stop" counted as its
    negator, when the other side alone stops something."""
    more, fewer = (q, c) if q_neg > c_neg else (c, q)
    if "stop" not in more.stems or "stop" in fewer.stems or _ceases(more):
        return q_neg, c_neg
    add = min(abs(q_neg - c_neg), _ceases(fewer))
    return (q_neg, c_neg + add) if more is q else (q_neg + add, c_neg)


def _phrased_not(fewer: Features, more: Features) -> int:
    """How many of ``fewer``'s "rather than X" / "instead of X" put their "not" on what
    the other side negates ("estimated rather than actual" / "an estimate, not an actual
    reading"; not "actual rather than estimated", nor "once instead of configuring each"
    / "not the old ones")."""
    negated = set(_targets(more))
    words, seq, n = fewer.words, fewer.seq, 0
    for k in range(len(words) - 2):
        if f"{words[k]} {words[k + 1]}" in _NOT_PHRASES:
            after = next(
                (
                    seq[j]
                    for j in range(k + 2, min(k + 5, len(words)))
                    if words[j] not in lex.FUNCTION_WORDS
                ),
                None,
            )
            n += after in negated
    return n


# Leaving a thing out is "without" it ("leave out the links" / "do not include links",
# "leave rent out of it" / "but not rent"): the verb, up to three words, then "out".
_LEFT_OUT = re.compile(r"\b(?:leave|leaves|leaving|left)\s+(?:[a-z0-9'-]+\s+){0,3}?out\b")


def _no_said_otherwise(q: Features, c: Features, q_neg: int, c_neg: int) -> tuple[int, int]:
    """The counts with each word of :data:`_SAYING_NO` on the side with fewer negators
    counted as a negator when the other side does not use it: refusing is saying no
    ("reply declining" / "write a polite no"), leaving out is "without" ("excluding
    returns" / "without returns"), lacking is having none ("missing an email" / "no
    email"); "my card was declined" / "was not declined" still differ."""
    more, fewer = (q, c) if q_neg > c_neg else (c, q)
    said = _SAYING_NO & fewer.keys - more.keys
    if "refuse" in fewer.words:
        said -= {stem("refuse")}  # a negator already
    found = len(said)
    if not _MEANING_NOT.isdisjoint(fewer.vocab):
        # (by root: "forgot" / "didn't forget" still differ)
        roots = {_MEANING_NOT_ROOT[w] for w in _MEANING_NOT & fewer.vocab}
        found += len(roots - {_MEANING_NOT_ROOT[w] for w in _MEANING_NOT & more.vocab})
    if "than" in fewer.vocab or "instead" in fewer.vocab:
        found += _phrased_not(fewer, more)
    if "out" in fewer.vocab and "out" not in more.vocab:
        found += len(_LEFT_OUT.findall(fewer.lower))
    add = min(abs(q_neg - c_neg), found)
    return (q_neg, c_neg + add) if more is q else (q_neg + add, c_neg)


# A bound said with a negator: "no more than 100 words" is "at most 100 words", "no later
# than Friday" is "by Friday at the latest", "can't weigh more than 23 kg" is "23 kg at
# most"; group 1 the comparative (an upper bound for "more", a lower one for "less").
_NEGATED_BOUND = re.compile(
    r"\b(?:no|not|never|cannot|[a-z]+n't)\s+(?:[a-z]+\s+){0,2}?"  # "can't weigh more than"
    r"(more|longer|later|greater|higher|bigger|larger|fewer|less|earlier"
    r"|shorter|lower|smaller)\s+than\b"
)
_COMPARED = re.compile(
    r"(?<!\bno )(?<!\bnot )\b(more|longer|later|greater|higher|bigger|larger|fewer|less|earlier"
    r"|shorter|lower|smaller)\s+than\b"
)
_UPPER = frozenset("more longer later greater higher bigger larger".split())
# bounds that include their end, as the negated ones do ("under 100" excludes 100)
_AT_MOST = re.compile(
    r"\b(?:at (?:the )?(?:most|latest)|max(?:imum)?|up to (?=\d)|or (?:less|fewer|under|earlier"
    r"|sooner))\b"
)
_AT_LEAST = re.compile(
    r"\b(?:at (?:the )?(?:least|earliest)|min(?:imum)?|or (?:more|over|above|later))\b"
)


def _bounds_said_otherwise(q: Features, c: Features, q_neg: int, c_neg: int) -> tuple[int, int]:
    """The counts less the more negating side's "no more than" / "no later than" (and
    "no less than"...) that the other side says as a bound including its end ("at most",
    "max", "up to", "or less"; "at least", "or more"); "no more than 100 words" / "more
    than 100 words" still differ."""
    more, fewer = (q, c) if q_neg > c_neg else (c, q)
    if "than" not in more.vocab:
        return q_neg, c_neg
    bounds = [m.group(1) in _UPPER for m in _NEGATED_BOUND.finditer(more.lower)]
    # a plain comparison the other way on the other side: "more than 8" is no "at most 8"
    plain = {m.group(1) in _UPPER for m in _COMPARED.finditer(fewer.lower)} if bounds else set()
    said = 0
    for upper in (True, False):
        if upper in bounds and upper not in plain:
            found = (_AT_MOST if upper else _AT_LEAST).findall(fewer.lower)
            said += min(bounds.count(upper), len(found))
    drop = min(abs(q_neg - c_neg), said)
    return (q_neg - drop, c_neg) if more is q else (q_neg, c_neg - drop)


_ZERO = frozenset({"0", "zero"})


def _none_as_zero(one: Features, other: Features) -> int:
    """How many "no X" or "without (any) X" of ``one`` the other side says as "zero X" or
    "0 X" ("customers with no orders" / "with 0 orders", "without any downtime" / "with
    zero downtime"): a count of none, not a negation of anything."""
    words, seq = one.words, one.seq
    counted = {other.seq[j + 1] for j, w in enumerate(other.words[:-1]) if w in _ZERO}
    found = 0
    for k, w in enumerate(words[:-1]):
        if w == "no" or w == "without":
            at = k + 2 if w == "without" and words[k + 1] == "any" else k + 1
            found += at < len(seq) and seq[at] in counted
        elif w == "never" and words[k + 1] in _HAVING and words[k + 2 : k + 3] in _ONE_OF:
            # "never placed an order" / "zero orders": a count of none, with a verb of
            # having (not "never cancelled an order")
            found += k + 3 < len(seq) and seq[k + 3] in counted
    return found


# the verbs of having or getting a thing, and the article before it, that "never" turns
# into a count of none ("never had a refund", "has never placed an order")
_HAVING = frozenset(
    "had has have placed made received got gotten bought ordered filed submitted sent".split()
)
_ONE_OF = frozenset({("a",), ("an",), ("any",), ("one",)})


def _zero_said_otherwise(q: Features, c: Features, q_neg: int, c_neg: int) -> tuple[int, int]:
    """The counts less the more negating side's "no X" that the other side says as
    "zero X" or "0 X"."""
    more, fewer = (q, c) if q_neg > c_neg else (c, q)
    if _ZERO.isdisjoint(fewer.vocab):
        return q_neg, c_neg
    drop = min(abs(q_neg - c_neg), _none_as_zero(more, fewer))
    return (q_neg - drop, c_neg) if more is q else (q_neg, c_neg - drop)


_NONE = frozenset({"no", "without", "never"})
# "nothing but X", "X and nothing else", "nothing more than X": an "only X", whose
# "nothing" negates no predicate ("using nothing but the CV" / "using only the CV")
_NOTHING_BUT = re.compile(r"\bnothing (?:but|else|more than)\b")
_ONLY = re.compile(r"\b(?:only|solely|exclusively)\b")


def _nothing_but(q: Features, c: Features) -> tuple[int, int, str | None]:
    """How many "nothing but X" / "X and nothing else" / "nothing more than X" each side
    has: an "only X", no negator ("using nothing but the CV" / "using only the CV"); and
    a refusal when one side alone says it and the other has no "only" ("nothing but the
    CV" / "the CV", as its "nothing" counted as a negator refused it before)."""
    nq, nc = len(_NOTHING_BUT.findall(q.lower)), len(_NOTHING_BUT.findall(c.lower))
    other = c if nq and not nc else q if nc and not nq else None
    if other is not None and _ONLY.search(other.lower) is None:
        return nq, nc, "'nothing but' (only) on one side only"
    return nq, nc, None


#: Words each side of a pair has at least before a negator whose predicate the other side
#: rewords is not counted (a long prompt said again in other words).
_LONG = 20


def _reworded_negations(q: Features, c: Features, q_neg: int, c_neg: int) -> tuple[int, int]:
    """The counts less the more negating side's negators on words the other side never
    uses, in two long prompts that say the same in other words ("the battery isn't
    low" / "the battery is fine"); a negator on a word both use still counts ("she isn't
    eating" / "she is eating")."""
    more, fewer = (q, c) if q_neg > c_neg else (c, q)
    unshared = sum(1 for t in _targets(more) if t not in fewer.stems)
    unshared -= sum(1 for t in _targets(fewer) if t not in more.stems)
    drop = max(0, min(abs(q_neg - c_neg), unshared))
    return (q_neg - drop, c_neg) if more is q else (q_neg, c_neg - drop)


class NegationGuard(_PairGuard):
    """Polarity must agree: negators (not, never, no, n't, without, stop, avoid...),
    negating prefixes (unsafe, non-refundable, unsubscribe), opposite words
    (enable/disable, add/remove, open/close, before/after...) and particles
    (turn on/off, opt in/out)."""

    name = "negation"

    def __init__(self, opposites: Sequence[tuple[str, str]] = lex.OPPOSITES) -> None:
        self._pairs = tuple(opposites)
        # key (stem or "verb_particle") -> [(pair index, side)], so a check looks up the
        # query's few words instead of scanning every pair
        self._index: dict[str, list[tuple[int, int]]] = {}
        for i, opposite in enumerate(self._pairs):
            for side, word in enumerate(opposite):
                self._index.setdefault(_key(word), []).append((i, side))
        self._keys = frozenset(self._index)

    @staticmethod
    def _prefixed(one: Features, other: Features) -> int:
        if not one.prefixed:
            return 0
        return sum(
            1
            for word, base in one.prefixed
            if word not in other.vocab and (base in other.vocab or stem(base) in other.stems)
        )

    def _polar(self, keys: frozenset[str]) -> set[tuple[int, int]]:
        index = self._index
        return {hit for key in keys if key in index for hit in index[key]}

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        # A prefix-negated word counts as a negator when its bare form is on the other
        # side: "unsafe" vs "safe" differ, "unsafe" vs "not safe" agree.
        # (most texts have no prefixed word: no call made for them)
        # (prevention_shift is 0 without a preventing verb, most texts: not called then)
        q_neg, q_stems, q_vocab = q.negations, q.stems, q.vocab
        c_neg, c_stems, c_vocab = c.negations, c.stems, c.vocab
        if not _PREVENTING_FROM.isdisjoint(q_stems):
            q_neg += prevention_shift(q, c)
        if not _PREVENTING_FROM.isdisjoint(c_stems):
            c_neg += prevention_shift(c, q)
        if "nothing" in q_vocab or "nothing" in c_vocab:
            q_only, c_only, narrowing = _nothing_but(q, c)
            if narrowing is not None:
                return narrowing
            q_neg, c_neg = q_neg - q_only, c_neg - c_only
        if q.prefixed:
            q_neg += self._prefixed(q, c)
        if c.prefixed:
            c_neg += self._prefixed(c, q)
        if "free" in q_vocab or "free" in c_vocab or "less" in q.lower or "less" in c.lower:
            q_neg += _freed(q, c)
            c_neg += _freed(c, q)
        # a verb that says no ("refuses to eat", "lacks a fan") counts as a negator: "won't
        # eat" / "has no fan" agree with it, "eats" / "has a fan" do not (most texts have
        # none of its words: tested in C, nothing called)
        implied: list[str] = []
        implying = _implying()
        if not implying.isdisjoint(q_stems):
            implied += (found := _implied_negations(q, c))
            q_neg += len(found)
        if not implying.isdisjoint(c_stems):
            implied += (found := _implied_negations(c, q))
            c_neg += len(found)
        if q_neg != c_neg:  # (most pairs count alike: none of the rewordings is asked)
            if "stop" in q_stems or "stop" in c_stems:
                q_neg, c_neg = _stop_said_otherwise(q, c, q_neg, c_neg)
            if q_neg != c_neg and not (
                _SAYING_NO.isdisjoint(q.keys)
                and _SAYING_NO.isdisjoint(c.keys)
                and _MEANING_NOT.isdisjoint(q_vocab if q_neg < c_neg else c_vocab)
                and not any(p in (q.lower if q_neg < c_neg else c.lower) for p in _NOT_PHRASES)
                and "out" not in (q_vocab if q_neg < c_neg else c_vocab)
            ):
                q_neg, c_neg = _no_said_otherwise(q, c, q_neg, c_neg)
            if q_neg != c_neg and "than" in (q_vocab if q_neg > c_neg else c_vocab):
                q_neg, c_neg = _bounds_said_otherwise(q, c, q_neg, c_neg)
            if q_neg != c_neg and not _NONE.isdisjoint(q_vocab if q_neg > c_neg else c_vocab):
                q_neg, c_neg = _zero_said_otherwise(q, c, q_neg, c_neg)
            if q_neg != c_neg and len(q.words) >= _LONG and len(c.words) >= _LONG:
                q_neg, c_neg = _reworded_negations(q, c, q_neg, c_neg)
            if q_neg != c_neg and (q.entities or c.entities):
                q_neg -= _negators_in_names(q, c)
                c_neg -= _negators_in_names(c, q)
            if q_neg != c_neg:
                said = f"; {_show(implied)} says no" if implied else ""
                return f"negation differs ({q_neg} negator(s) vs {c_neg}{said})"
        if not (_EMPTY_WORDS.isdisjoint(q_vocab) and _EMPTY_WORDS.isdisjoint(c_vocab)):
            # (only ever a refusal: a pair its "empty" would even out, "is empty" / "has
            # no value", is refused above and judged again written one way, so the rest of
            # it is read: "the discount field is empty" / "the shipping field has no value")
            q_empty, c_empty = _emptied(q, c), _emptied(c, q)
            if q_empty != c_empty:
                return f"negation differs ('empty' says no: {q_empty} vs {c_empty})"
        if q.negations and q.negations == c.negations:
            moved = _negation_moved(q, c)
            if moved is not None:
                return moved
        q_keys, c_keys = q.keys, c.keys
        if "than" in q_vocab and mirrored(q, c):  # "faster than" / "slower than", swapped
            k, m = comparatives(q, c) or (0, 0)
            q_keys, c_keys = q_keys - {q.seq[k]}, c_keys - {c.seq[m]}
        # a pair of opposites needs a listed word among the keys of each side alone (what
        # both share gives both sides the same hits): mostly none, and nothing to collect
        if not (self._keys.isdisjoint(q_keys - c_keys) or self._keys.isdisjoint(c_keys - q_keys)):
            q_polar, c_polar = self._polar(q_keys), self._polar(c_keys)
        else:
            q_polar = c_polar = set()
        for i, side in q_polar - c_polar:
            if (i, 1 - side) in c_polar and (i, 1 - side) not in q_polar:
                a, b = self._pairs[i]
                if _no_for_not(q, c, _key((a, b)[side]), _key((a, b)[1 - side])):
                    continue  # "can't accept" / "decline": the refusal was its negator
                return f"opposite words {a!r} / {b!r}"
        for particle in q.particles ^ c.particles:
            verb, part = particle.split("_")
            for x, y in lex.OPPOSITE_PARTICLES:
                if part in (x, y) and f"{verb}_{y if part == x else x}" in (
                    q.particles ^ c.particles
                ):
                    return f"opposite particles '{verb} {x}' / '{verb} {y}'"
        return None


def _minus(counts: dict[str, int], other: dict[str, int]) -> dict[str, int]:
    """``Counter(counts) - Counter(other)`` as a plain dict, in the same order (what
    occurs more often in ``counts``), without Counter's Python-level construction,
    subtraction and sign filters: ≈ 10 of them a differing pair cost more than the
    guard's own work. Counter's rule kept whole, for any stored counts: a count left
    above 0, then ``other``'s negative counts of keys ``counts`` lacks, negated."""
    out = {k: d for k, n in counts.items() if (d := n - other.get(k, 0)) > 0}
    for k, n in other.items():
        if n < 0 and k not in counts:
            out[k] = -n
    return out


def _in_identifier(extra: dict[str, int], other: Features) -> bool:
    """Whether each bare number in ``extra`` ends an identifier of ``other`` ("5" in
    "ps5"); other quantities never are."""
    for key in extra:
        kind, _, value = key.partition(":")
        if kind != "num" or not (
            any(e.endswith(value) and e[: -len(value)].isalpha() for e in other.entities)
            # a decimal version glued to letters, which the names keep up to the dot
            # ("v4.2", "ios17.4")
            or (
                "." in value
                and re.search(rf"(?<![\w.])[a-z]+{re.escape(value)}(?![\w]|\.\d)", other.lower)
            )
        ):
            return False
    return True


def _spelt_ordinal(key: str, mine: Features, other: Features) -> bool:
    """Whether ``key`` is an ordinal written in digits on this side ("the 3rd row") and
    in words on ``other`` ("the third row")."""
    kind, _, value = key.partition(":")
    if kind != "num" or not value.isdigit() or lex.ORDINAL_WORDS.keys().isdisjoint(other.vocab):
        return False
    suffix = {2: "nd", 3: "rd"}.get(int(value), "th")
    return any(lex.ORDINAL_WORDS.get(w) == int(value) for w in other.vocab) and (
        re.search(rf"(?<![\w.,]){value}{suffix}\b", mine.lower) is not None
    )


_ROMAN = re.compile(r"m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_ROMAN_VALUES = {"m": 1000, "d": 500, "c": 100, "l": 50, "x": 10, "v": 5, "i": 1}


def _roman(key: str, other: Features) -> bool:
    """Whether the bare number ``key`` is one of ``other``'s names read as a Roman
    numeral ("num:58" / "Super Bowl LVIII")."""
    kind, _, value = key.partition(":")
    if kind != "num" or not value.isdigit():
        return False
    for e in other.entities:
        if e and _ROMAN.fullmatch(e):
            total = 0
            for ch, nxt in zip(e, e[1:] + " ", strict=True):
                v = _ROMAN_VALUES[ch]
                total += -v if nxt != " " and _ROMAN_VALUES[nxt] > v else v
            if total == int(value):
                return True
    return False


def _one_digit_thousands(key: str, other: Features) -> bool:
    """Whether the bare number ``key`` is a thousands count that ``other`` writes as one
    digit glued to "k" ("num:1000" / "the first 1k followers"): the parse leaves "4k" out
    as mostly a name ("4k video"), but beside the same count in full it says the same."""
    kind, _, value = key.partition(":")
    if kind != "num" or len(value) != 4 or not value.endswith("000") or value[0] == "0":
        return False
    return re.search(rf"(?<![\w.,]){value[0]}k\b", other.lower) is not None


# digits texted for a word that sounds like them
_TEXTED = {"num:2": ("2", frozenset({"to", "too"})), "num:4": ("4", frozenset({"for"}))}


def _for_word(key: str, mine: Features, other: Features) -> bool:
    """Whether each "2" (or "4") of ``mine``, which never writes the word, stands for
    "to" ("for") of ``other``, after or before the same word ("get 2 heathrow" / "get to
    Heathrow", "thx 4 the help" / "thanks for the help"; not "a trip to 2 cities")."""
    if key not in _TEXTED:
        return False
    digit, meant = _TEXTED[key]
    words, theirs = mine.words, other.words
    if not meant.isdisjoint(words):
        return False
    befores = {theirs[j - 1] for j in range(1, len(theirs)) if theirs[j] in meant}
    afters = {theirs[j + 1] for j in range(len(theirs) - 1) if theirs[j] in meant}
    at = [i for i, w in enumerate(words) if w == digit]  # not "two", nor "2-bed"
    return bool(at and befores) and all(
        0 < i < len(words) - 1 and (words[i - 1] in befores or words[i + 1] in afters) for i in at
    )


_WEEK = 604_800.0


def _one_span(a: float, b: float) -> bool:
    """Whether two periods are one span counted in other units: equal, or both a week or
    more and within 2% ("30 days" / "a month", a month being 30.44 days on average; "365
    days" / "a year"). Nearer spans differ by a day at most in a month ("30 days" / "31
    days" differ by 3%)."""
    return a == b or (min(a, b) >= _WEEK and abs(a - b) <= 0.02 * max(a, b))


# one period said as its unit without a digit: "every fortnight" = "every 2 weeks" (an
# interval given as a count of units on the other side), "held over a year" = "more than
# a year", "one month notice" = "1 month notice"; not after a count of times or an amount
# ("twice a week", "£10 a day" are rates, of no length)
_ONE_UNIT_WORDS = "|".join(
    sorted(
        (
            u
            for u, (dim, _f) in lex.UNITS.items()
            if dim == "duration" and len(u) > 2 and u.isalpha() and not u.endswith("s")
        ),
        key=len,
        reverse=True,
    )
)
_EVERY_UNIT = re.compile(rf"\b(?:every|each|per)\s+({_ONE_UNIT_WORDS})\b")
_EVERY_N = re.compile(r"\b(?:every|each|per)\s+\d")
_A_UNIT = re.compile(
    r"(?<!\bonce )(?<!\btwice )(?<!\bthrice )(?<!\btimes )(?<![\d%] )"
    r"(?<!\bdays )(?<!\bhours )(?<!\bnights )(?<!\bweeks )(?<!\bmonths )(?<!\bminutes )"
    rf"\b(?:a|an|one)\s+({_ONE_UNIT_WORDS})(?:'s)?\b"
)
_ONE_WORDS = frozenset({"every", "each", "per", "a", "an", "one"})


def _one_unit(key: str, mine: Features, other: Features) -> bool:
    """Whether ``key`` is one period that ``other`` says as its unit without a digit: after
    "every" / "each" / "per" where ``mine`` counts the units of an interval ("every 2
    weeks" / "every fortnight"; not "every week"), or after "a" / "one" but for a rate
    ("one month notice" / "1 month notice"; not "twice a week" / "for 7 days")."""
    kind, _, value = key.partition(":")
    if kind != "duration":
        return False
    length = float(value)
    if _EVERY_N.search(_number_words_to_digits(mine.lower)) is not None and any(
        _one_span(lex.UNITS[m.group(1)][1], length) for m in _EVERY_UNIT.finditer(other.lower)
    ):
        return True
    return any(_one_span(lex.UNITS[m.group(1)][1], length) for m in _A_UNIT.finditer(other.lower))


_CLOCK_WORDS = {"time:720": "noon", "time:0": "midnight"}
_TIMES_WORDS = {"num:2": "twice", "num:3": "thrice"}


def _times_word(key: str, mine: Features, other: Features) -> bool:
    """Whether ``key`` counts times ("2 times", "two times") that ``other`` says in one
    word ("twice", "thrice"), which it does not write as digits."""
    word = _TIMES_WORDS.get(key)
    if word is None or word not in other.vocab or word in mine.vocab:
        return False
    value = key.partition(":")[2]
    return (
        re.search(rf"(?<![\w.,]){value}\s+times\b", _number_words_to_digits(mine.lower)) is not None
    )


def _unexplained(extra: dict[str, int], mine: Features, other: Features) -> dict[str, int]:
    """The numbers of ``mine`` that ``other`` lacks (``extra``, counted) and does not say
    another way: a model number spelt apart in a full name ("PlayStation 5" / "PS5"), an
    ordinal in words ("3rd" / "third"), Roman numerals ("GTA 5" / "Grand Theft Auto V"), a
    texted "2" for "to", a "no" or "without" for zero ("0 orders" / "no orders"). Each
    test runs only where it can hold: without an ordinal word on the other side
    _spelt_ordinal is False for every key, without a name there _roman is, without a "2" /
    "4" here _for_word is."""
    if not lex.ORDINAL_WORDS.keys().isdisjoint(other.vocab):
        extra = {k: n for k, n in extra.items() if not _spelt_ordinal(k, mine, other)}
    if other.entities or not _TEXTED.keys().isdisjoint(extra):
        extra = {
            k: n for k, n in extra.items() if not (_roman(k, other) or _for_word(k, mine, other))
        }
    if "k" in other.lower:
        extra = {k: n for k, n in extra.items() if not _one_digit_thousands(k, other)}
    if extra.get("num:0") and not _NONE.isdisjoint(other.vocab):
        extra["num:0"] -= _none_as_zero(other, mine)
    if "twice" in other.vocab or "thrice" in other.vocab:
        extra = {k: n for k, n in extra.items() if not _times_word(k, mine, other)}
    if not _ONE_WORDS.isdisjoint(other.vocab):
        extra = {k: n for k, n in extra.items() if not _one_unit(k, mine, other)}
    if not _CLOCK_WORDS.keys().isdisjoint(extra):
        extra = {k: n for k, n in extra.items() if _CLOCK_WORDS.get(k, "") not in other.vocab}
    return {k: n for k, n in extra.items() if n > 0}


def _strike(mine: dict[str, int], key: str, theirs: dict[str, int], other: str) -> None:
    """Take one ``key`` off ``mine`` and one ``other`` off ``theirs`` (two unexplained
    quantities found to be one said two ways), dropping counts that reach 0."""
    for side, k in ((mine, key), (theirs, other)):
        side[k] -= 1
        if not side[k]:
            del side[k]


def _unit_after(value: str, f: Features) -> list[str]:
    """The words of ``f`` among the two after each ``value`` written as a number ("25
    paid days", "3-year-old": ["paid", "days"], ["year", "old"])."""
    found: list[str] = []
    text = _number_words_to_digits(f.lower)
    for m in re.finditer(
        rf"(?<![\w.,]){re.escape(value)}(?![\d.,]\d)((?:[\s-]+[a-z]+){{1,2}})", text
    ):
        found += re.findall(r"[a-z]+", m.group(1))
    return found


def _units_apart(
    extra_q: dict[str, int], extra_c: dict[str, int], q: Features, c: Features
) -> None:
    """Strike, from both sides' unexplained numbers, a bare number on one side that the
    other side gives in a unit named on this side too, a word apart or hyphenated
    ("25 paid days off" / "25 days of paid leave", "three-year-old" / "3 year old"):
    the same count of the same unit, the parse read one of them bare."""
    for mine, theirs, f in ((extra_q, extra_c, q), (extra_c, extra_q, c)):
        for key in [k for k in mine if k.startswith("num:")]:
            value = key[4:]
            for unit in _unit_after(value, f):
                dim, factor = lex.UNITS.get(unit, ("num", 1.0))
                if dim == "num":
                    continue
                typed = f"{dim}:{_format_value(round(float(value) * factor, 6))}"
                if theirs.get(typed):
                    _strike(mine, key, theirs, typed)
                    break


_MONTH_SHORT = {v: k for k, v in lex.MONTH_ABBREVIATIONS.items()}


def _initials_not_month(month: str, text: str, other: Features) -> bool:
    """Whether ``month`` was read from initials in capitals that the other side spells out
    word by word ("the APR" / "the annual percentage rate"), not a month."""
    short = _MONTH_SHORT.get(month)
    if (
        short is None
        or re.search(rf"\b{short.upper()}\b", text) is None
        or re.search(rf"(?i)\b(?:{month}|(?-i:{short.capitalize()}|{short}))\b", text)
    ):
        return False  # not in capitals, or the month is named too ("in April")
    words = other.words
    return any(
        "".join(w[0] for w in words[i : i + len(short)]) == short
        for i in range(len(words) - len(short) + 1)
    )


def _clock_halves(
    extra_q: dict[str, int], extra_c: dict[str, int], q: Features, c: Features
) -> None:
    """Strike a clock time written without "am" / "pm" on one side ("back by 3:30") and the
    same time twelve hours on that the other side marks ("3.30 pm", "15:30"): a 12-hour
    clock read as the morning's (not "3:30" / "4:30 pm", nor "3:30 am" / "3:30 pm")."""
    for mine, theirs, f in ((extra_q, extra_c, q), (extra_c, extra_q, c)):
        for key in [k for k in mine if k.startswith("time:")]:
            minutes = int(key[5:])
            later = f"time:{minutes + 720}"
            if not (60 <= minutes < 720 and theirs.get(later) and mine.get(key)):
                continue
            clock = f"{minutes // 60}:{minutes % 60:02d}"
            bare = rf"(?<![\w.,:]){clock}(?!\d)(?!\s*(?:a\.?m|p\.?m|o'clock))"
            if re.search(bare, f.lower) is None:
                continue
            _strike(mine, key, theirs, later)


def _calendar_periods(extra_q: dict[str, int], extra_c: dict[str, int]) -> None:
    """Strike a period on one side and :func:`_one_span` with it on the other ("a 30-day
    supply" / "a month's supply")."""
    for key in [k for k in extra_q if k[:9] == "duration:"]:
        for other in [k for k in extra_c if k[:9] == "duration:"]:
            if _one_span(float(key[9:]), float(other[9:])):
                _strike(extra_q, key, extra_c, other)
                break


# units of the imperial system, by dimension: a quantity converted from them to metric
# units (or back) is rounded ("10 miles" / "16 km", "1 inch" / "2.5 cm")
_IMPERIAL = {
    "length": frozenset({"inch", "inches", "ft", "foot", "feet", "mile", "miles"}),
    "mass": frozenset({"lb", "lbs", "oz", "ounce", "ounces"}),
}
_METRIC = {
    dim: frozenset(u for u, (d, _f) in lex.UNITS.items() if d == dim and u.isalpha()) - words
    for dim, words in _IMPERIAL.items()
}


def _converted(extra_q: dict[str, int], extra_c: dict[str, int], q: Features, c: Features) -> None:
    """Strike a length or mass said in imperial units on one side only and in metric units
    on the other only, within 2% (a conversion rounded: "10 miles" / "16 km", "1 inch" /
    "2.5 cm"; not "1/2 inch" / "12 mm", 5.5% apart: a bit, a bolt or a pipe of another
    size, as the periods' 2% rule keeps "30 days" / "31 days" apart)."""
    for key in [k for k in extra_q if k.partition(":")[0] in _IMPERIAL]:
        dim, _, value = key.partition(":")
        imperial, metric = _IMPERIAL[dim], _METRIC[dim]
        q_imperial, c_imperial = not imperial.isdisjoint(q.vocab), not imperial.isdisjoint(c.vocab)
        q_metric, c_metric = not metric.isdisjoint(q.vocab), not metric.isdisjoint(c.vocab)
        if not (
            (q_imperial and not q_metric and c_metric and not c_imperial)
            or (q_metric and not q_imperial and c_imperial and not c_metric)
        ):
            continue
        a = float(value)
        for other in [k for k in extra_c if k.partition(":")[0] == dim]:
            b = float(other.partition(":")[2])
            if a > 0 and b > 0 and abs(a - b) <= 0.02 * max(a, b):
                _strike(extra_q, key, extra_c, other)
                break


def _decades(extra_q: dict[str, int], extra_c: dict[str, int]) -> None:
    """Strike a decade on one side ("the 1990s") and its first and last years on the other
    ("between 1990 and 1999", "from 1990 to 1999")."""
    for mine, theirs in ((extra_q, extra_c), (extra_c, extra_q)):
        for key in [k for k in mine if k[:7] == "decade:"]:
            first, last = f"num:{key[7:]}", f"num:{int(key[7:]) + 9}"
            if theirs.get(first) and theirs.get(last):
                _strike(mine, key, theirs, first)
                theirs[last] -= 1
                if not theirs[last]:
                    del theirs[last]


class NumberGuard(_PairGuard):
    """Numbers, amounts, units, times and dates must agree after normalisation
    ("five" = "5", "$5" = "5 dollars", "two weeks" = "14 days", "7pm" = "seven this
    evening"). A bare "one" is ignored ("one egg" = "a single egg")."""

    name = "number"

    _RELATIVE = frozenset({"today", "tonight", "tomorrow", "yesterday", "same-day", "next-day"})

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        # (dict's comparison, in C: Counter's own is a Python loop, and no count is 0)
        if dict.__ne__(q.quantities, c.quantities):
            extra_q, extra_c = (
                _minus(q.quantities, c.quantities),
                _minus(c.quantities, q.quantities),
            )
            if extra_q and extra_c:
                # one span each side first ("within 30 days" / "in a month"): _unexplained
                # reads one side's "a month" as a period, leaving the other's "30 days"
                _calendar_periods(extra_q, extra_c)
            extra_q = _unexplained(extra_q, q, c)
            extra_c = _unexplained(extra_c, c, q)
            if extra_q and extra_c:
                _units_apart(extra_q, extra_c, q, c)
                _clock_halves(extra_q, extra_c, q, c)
                _calendar_periods(extra_q, extra_c)
                _decades(extra_q, extra_c)
                _converted(extra_q, extra_c, q, c)
            if len(q.words) >= _LONG and len(c.words) >= _LONG:
                # two long prompts: a time, amount or length one of them says again
                # ("before 2 pm ... after 2 pm" / "by 14:00") is no other one; a bare
                # number said again may be a new condition on a table's column ("over 25")
                extra_q = {
                    k: n for k, n in extra_q.items() if k[:4] == "num:" or k not in c.quantities
                }
                extra_c = {
                    k: n for k, n in extra_c.items() if k[:4] == "num:" or k not in q.quantities
                }
            if not (_in_identifier(extra_q, c) and _in_identifier(extra_c, q)):
                return f"numbers differ ({_show(extra_q.keys())} vs {_show(extra_c.keys())})"
        if q.dates != c.dates:
            absolute_q, absolute_c = q.dates - self._RELATIVE, c.dates - self._RELATIVE
            relative_q, relative_c = q.dates & self._RELATIVE, c.dates & self._RELATIVE
            one_sided = [
                (d, c if d in q.dates else q)
                for d in absolute_q ^ absolute_c
                if not _initials_not_month(d, *((query, c) if d in q.dates else (candidate, q)))
            ]
            if any(not _misspelt(d, other) for d, other in one_sided) or (
                relative_q and relative_c and relative_q != relative_c
            ):
                return f"dates differ ({_show(q.dates)} vs {_show(c.dates)})"
        # the same numbers, changed another way ("by 20%" / "to 20%", doubled / halved)
        return change_said_otherwise(q.lower, c.lower)


def _quote_blanks(q: frozenset[str], c: frozenset[str]) -> str | None:
    """Why a text quoted on both sides differs in its blanks ("'a  b'" vs "'a b'"): in
    code and literals they change the answer; the embeddings ignore them."""
    spellings: dict[str, tuple[set[str], set[str]]] = {}
    for side, quotes in enumerate((q, c)):
        for quote in quotes:
            spellings.setdefault(" ".join(quote.split()), (set(), set()))[side].add(quote)
    for mine, theirs in spellings.values():
        if mine and theirs and mine != theirs:
            one, other = min(mine - theirs or mine), min(theirs - mine or theirs)
            return f"quoted text {one!r} vs {other!r}: the blanks differ"
    return None


def _said_plainly(flat: str, other: Features) -> bool:
    """Whether a quote of a few plain words (a message on a screen: "'Printer offline'",
    "'No SIM'"; no code, no number) has each of its content words on the other side,
    which reports it without quoting it ("the printer shows offline")."""
    words = flat.split()
    return (
        len(words) <= 6
        and all(w.isalpha() or (w.count("'") == 1 and w.replace("'", "").isalpha()) for w in words)
        and all(stem(w) in other.stems for w in words if w not in lex.FUNCTION_WORDS)
    )


_EXCEPTION_ENDINGS = ("error", "exception", "warning")


def _exceptions(entities: set[str]) -> set[str]:
    """Those of ``entities`` that name an exception class ("TypeError", "IOException")."""
    return {
        e
        for e in entities
        if e.endswith(_EXCEPTION_ENDINGS) and e not in _EXCEPTION_ENDINGS and e.isalnum()
    }


def _cell_swap(query: str, candidate: str) -> str | None:
    """Why one word cell of a pasted table differs ("Ben,31,Leeds,free" / "Ben,31,Leeds,pro",
    "| Desk | oak |" / "| Desk | pine |"): other data, another answer, however common the
    words. (Numbers are the number guard's; a whole row or more changed is not a cell.)"""
    a, b = query.split(), candidate.split()
    if len(a) != len(b):
        return None
    changed = list(islice(compress(count(), map(ne, a, b)), 3))  # (in C: no step a word)
    if not 0 < len(changed) <= 2:
        return None
    for k in changed:
        x, y = a[k], b[k]
        if x.count(",") >= 2 and x.count(",") == y.count(","):
            pairs = zip(x.lower().split(","), y.lower().split(","), strict=True)
            cells = [(u, v) for u, v in pairs if u != v]
        elif 0 < k < len(a) - 1 and a[k - 1] == "|" == a[k + 1]:
            cells = [(x.lower(), y.lower())]
        else:
            continue
        for u, v in cells:
            if u != v and u.isalpha() and v.isalpha():
                return f"a cell of the pasted table differs ({u!r} vs {v!r})"
    return None


# a name with a mark the word parse drops: "Disney+", "C#", "C++", "Notepad++"
_MARKED_NAME = re.compile(r"(?<![\w+#])([A-Za-z][\w.]*?)(\+\+|\+|#)(?![\w+#])")


def _marks(text: str) -> dict[str, set[str]]:
    marks: dict[str, set[str]] = {}
    for m in _MARKED_NAME.finditer(text):
        marks.setdefault(m.group(1).lower(), set()).add(m.group(2))
    return marks


def _mark_differs(query: str, candidate: str) -> str | None:
    """Why one name differs by a mark the word parse drops ("Disney+" / "Disney", "C#"
    / "C++"): another product, which the entities alone cannot tell ("Disney Plus" says
    the mark)."""
    q_marks, c_marks = _marks(query), _marks(candidate)
    for one, other, other_text in ((q_marks, c_marks, candidate), (c_marks, q_marks, query)):
        for name, marks in one.items():
            if name in other:
                if other[name] != marks:
                    return f"{name}{min(marks)} vs {name}{min(other[name])} (another product)"
            elif re.search(rf"(?i)(?<![\w.]){re.escape(name)}(?![\w+#]| plus| sharp)", other_text):
                return f"{name}{min(marks)} vs {name} (another product)"
    return None


def _cells_or_code(query: str, candidate: str) -> str | None:
    """A pasted table's cell, code or a name's mark that differs (what the entity guard
    reads of the texts themselves, before their features)."""
    if ("," in query or "|" in query) and (reason := _cell_swap(query, candidate)):
        return reason
    if reason := code_changed(query, candidate) or arguments_reordered(query, candidate):
        return reason
    if "+" in query or "#" in query or "+" in candidate or "#" in candidate:
        return _mark_differs(query, candidate)
    return None


class EntityGuard:
    """Named entities (capitalised or mixed-case words, identifiers like "Jet2") and
    quoted strings (with the blanks inside them) must agree. One side naming an entity
    the other lacks is fine (a paraphrase may add "Microsoft" to "who runs it"); each
    side naming one the other lacks is a swap ("Salesforce" vs "HubSpot"). Matching is
    case-insensitive."""

    name = "entity"

    def check(self, query: str, candidate: str) -> str | None:
        if reason := _cells_or_code(query, candidate):
            return reason
        q, c = pair(query, candidate)  # (parsed after the texts' cells and code are read)
        return self._names(q, c, query, candidate)

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        """:meth:`check` with both texts' features at hand: the verifier's, once a guard
        before this one has fetched them (then no parse can fail here first)."""
        return _cells_or_code(query, candidate) or self._names(q, c, query, candidate)

    @staticmethod
    def _names(q: Features, c: Features, query: str, candidate: str) -> str | None:
        if not (q.entities or c.entities or q.quotes or c.quotes):
            return None
        for one, other in ((q, c), (c, q)):
            for quote in one.quotes:
                flat = " ".join(quote.split())
                if flat not in other.lower and not _said_plainly(flat, other):
                    return f"quoted text {flat!r} is missing from the other prompt"
        if q.quotes != c.quotes and (reason := _quote_blanks(q.quotes, c.quotes)):
            return reason
        # "PDFs" / "PDF": an entity also matches by its stem (asked only of the names the
        # other side's words lack, found in C: most pairs name the same, and stop here)
        only_q = set(q.entities).difference(c.vocab)
        if only_q:
            only_q = {e for e in only_q if stem(e) not in c.stems}
        only_c = set(c.entities).difference(q.vocab)
        if only_c:
            only_c = {e for e in only_c if stem(e) not in q.stems}
        if not (only_q and only_c):  # one side alone names more: a maker, or an edition?
            if not (only_q or only_c):
                return None  # the same names (_edition finds nothing to say)
            return _edition(only_q, q, c) if only_q else _edition(only_c, c, q)
        if only_q and only_c:  # a swap, unless it is a typo ("Mondys")
            only_q = {e for e in only_q if not _misspelt(e, c, name=True)}
            only_c = {e for e in only_c if not _misspelt(e, q, name=True)}
        if only_q and only_c:  # "Indian citizens" / "citizens of India"
            only_q, only_c = _peoples(q.entities, c.entities, only_q, only_c)
        if only_q and only_c:  # "Postgres" / "PostgreSQL", "Mac" / "macOS", "k8s", "DC" / "D.C."
            only_q, only_c = (
                {e for e in only_q if not _shortened(e, only_c, query, candidate)},
                {e for e in only_c if not _shortened(e, only_q, candidate, query)},
            )
        if only_q and only_c:  # "VS Code" / "Visual Studio Code", "AWS" / "Amazon Web Services"
            short_q, short_c = _unabbreviated(only_q, candidate), _unabbreviated(only_c, query)
            # the words of a name the other side abbreviates are that name, whatever else
            # either side names ("an LLM on AWS" / "a large language model on Amazon Web
            # Services")
            only_q, only_c = (
                short_q - _spelled_words(only_c - short_c, query, candidate),
                short_c - _spelled_words(only_q - short_q, candidate, query),
            )
        if only_q and only_c:
            # a pasted error's class ("TypeError: ...") on one side, the other paraphrasing
            # its message ("... in Python"): a swap names two of one kind ("TypeError" /
            # "ValueError"), an exception and a language are not two answers
            errors_q, errors_c = _exceptions(only_q), _exceptions(only_c)
            if not (errors_q and errors_c):
                only_q, only_c = only_q - errors_q, only_c - errors_c
        if only_q and only_c:
            return f"entities differ ({_show(only_q)} vs {_show(only_c)})"
        return None


@lru_cache(maxsize=1)
def _nature() -> frozenset[int]:
    """WordNet's main sense of "object" and what a lake is (a body of water): the kinds
    that "River", "Mountains" or "Islands" after a name say ("the Mississippi River")."""
    wn = wordnet()

    def main(word: str) -> int:
        return int(wn.nouns[word].split(";", 1)[0].split(" ", 1)[0])

    return frozenset({main("object"), *wn.hypernyms[str(main("lake"))]})


def _natural(word: str) -> bool:
    n = noun(word)
    return n is not None and not ancestors(n).isdisjoint(_nature())


# A company's legal form after its name ("Siemens AG", "Tesco PLC"): the kind of thing it
# is, as "Airport" is; WordNet lists none of them.
_LEGAL_FORMS = frozenset("inc ltd llc llp lp plc corp co ag gmbh sa nv bv spa pty".split())


def _edition(extra: set[str], f: Features, other: Features) -> str | None:
    """Why a name ``f`` alone extends names another model or edition: a word after its
    model number ("iPhone 14 Plus", "PS4 Pro"), a place after a comma ("Kansas City,
    Missouri") or one that names no kind of thing after a name both share ("Nintendo
    Switch Lite", "Apple Watch SE"). A maker before a name ("Microsoft Excel" /
    "Excel"), a kind after it ("Heathrow Airport") or a surname ("Napoleon Bonaparte")
    say the same thing."""
    if not extra:
        return None  # the same names (most pairs)
    words = f.words
    for i in range(1, len(words)):
        w = words[i]
        if w not in extra:
            continue
        anchor = words[i - 1]
        numbered = any(ch.isdigit() for ch in anchor)
        if anchor.isdigit() and i >= 2:
            anchor = words[i - 2]  # "iPhone 14 Plus": the name before its number
        if anchor in extra or anchor not in f.entities or anchor not in other.entities:
            continue  # not after a name both sides give
        if any(_roman(k, f) for k in other.quantities):
            continue  # "Super Bowl LVIII" / "Super Bowl 58": the number guard's
        if w in _LEGAL_FORMS:
            continue
        if numbered or f"{anchor}, {w}" in f.lower or not (_kind(w) or _natural(w)):
            return f"{w!r} follows {anchor!r} on one side only (another model or edition)"
    return None


_PASSIVE_BE = frozenset({"is", "are", "was", "were", "be", "been", "being"})


def _agent_first(f: Features, order: list[str]) -> list[str]:
    """``order`` with the doer of a passive first: "was the parcel sent to Anna by Ben"
    orders Ben before Anna, as "did Ben send the parcel to Anna" does."""
    words = f.words
    if "by" not in words:
        return order
    at = words.index("by")
    if _PASSIVE_BE.isdisjoint(words[:at]):
        return order
    at += 1
    if words[at : at + 1] == ("the",):
        at += 1
    for name in order:
        if words[at : at + 1] == (name.split()[0],):
            return [name, *(e for e in order if e != name)]
    return order


# Words between a direction word and the entity it orders ("than in Spain", "to the US").
_GOVERNED_WITHIN = 3


def _governed(f: Features, entity: str) -> bool:
    """Whether ``entity`` stands within a few words after a direction word ("than
    Spain", "from the US", "to EUR"): only such an entity's place is a role. One not
    found among the words as written (an alias: "the US" is "usa") counts."""
    words, first = f.words, entity.split()[0]
    if first not in words:
        return True
    k = -1
    for _ in range(words.count(first)):  # (its places found in C, not a step a word)
        k = words.index(first, k + 1)
        if not _DIRECTION_CUES.isdisjoint(words[max(0, k - _GOVERNED_WITHIN) : k]):
            return True
    return False


_FLOW_WORDS = frozenset({"from", "to", "into", "onto"})


def _trailing(f: Features, word: str) -> bool:
    """Whether ``word`` follows another word of its phrase rather than a flow word ("to
    Lisbon next Friday": "next", "Friday"): the end of whichever flow comes last, the
    same in "from A to B next Friday" and "to B from A next Friday"."""
    words, lower = f.words, f.lower
    if word not in words or ".." in lower or ">" in lower or "\u2192" in lower:
        return False  # an alias, or a range's end ("mysql -> postgres"): not placed here
    k = words.index(word) - 1
    while k >= 0 and words[k] in lex.STOPWORDS and words[k] not in _FLOW_WORDS:
        k -= 1
    return k >= 0 and words[k] not in _FLOW_WORDS


def _flow_side(f: Features, entity: str) -> int:
    """1 if ``entity`` is among the words after "from", 2 if after "to", else 0."""
    sources, targets = f.flow
    return (entity in sources) | (entity in targets) << 1


class OrderGuard(_PairGuard):
    """Direction must agree: "from A to B" is not "from B to A" (common nouns as well as
    named entities: "from savings to current account"). Entities are ordered only where a
    direction word governs one of them on either side ("is Portugal bigger than Spain"):
    a moved clause ("in Python, how do I read a CSV into a list" / "... in Python") or
    "to B from A" for "from A to B" (the same sides of the flow) orders nothing."""

    name = "order"

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        (q_from, q_to), (c_from, c_to) = q.flow, c.flow
        if (q_from or q_to) and (c_from or c_to):  # (most prompts have no "from ... to")
            swapped = ((q_from - q_to) & (c_to - c_from)) | ((q_to - q_from) & (c_from - c_to))
            if swapped:
                swapped = frozenset(w for w in swapped if not (_trailing(q, w) and _trailing(c, w)))
            if swapped:
                return f"direction differs for {_show(swapped)}"
        if len(q.entities) < 2 or len(c.entities) < 2 or not (q.directional or c.directional):
            return None
        common = set(q.entities) & set(c.entities)
        if len(common) >= 2:
            common = {
                e
                for e in common
                if (_governed(q, e) or _governed(c, e))
                and not (_flow_side(q, e) and _flow_side(q, e) == _flow_side(c, e))
            }
        if len(common) >= 2 and not mirrored(q, c):
            order_q = _agent_first(q, list(dict.fromkeys(e for e in q.entities if e in common)))
            order_c = _agent_first(c, list(dict.fromkeys(e for e in c.entities if e in common)))
            if order_q != order_c:
                return f"order differs ({' > '.join(order_q)} vs {' > '.join(order_c)})"
        return None


# the frames of :func:`readings` the scope guard compares: quantifier, period, bound, whole
_SCOPE_FRAMES = (0, 1, 2, 3)


class ScopeGuard(_PairGuard):
    """Who or what the question is about must agree: mutually exclusive terms of one
    class (adults/children, full-time/part-time, iPhone/Android, home/car insurance,
    red/blue...) and whose thing it is ("my password" vs "my colleague's password").
    Audience terms also reject when only one side names them ("flu" vs "flu in babies")."""

    name = "scope"

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        # each prompt's quantifier, period, bound and whole / part, read on its own
        if reason := frames_differ(q.lower, c.lower, _SCOPE_FRAMES):
            return reason
        if reason := exception_added(q.lower, c.lower):
            return reason
        if reason := (
            one_against_all(q.lower, c.lower)
            or which_against_all(q.lower, c.lower)
            or and_against_or(q.lower, c.lower)
            or maker_against_subject(q.lower, c.lower)
        ):
            return reason
        if not (q.scopes or c.scopes or q.persons or c.persons or q.qualifiers or c.qualifiers):
            # nothing listed to compare (most pairs)
            return _added(q, c)
        for name in q.scopes.keys() | c.scopes.keys():
            in_q, in_c = q.scopes.get(name, frozenset()), c.scopes.get(name, frozenset())
            if in_q and in_c and in_q != in_c:
                # "Windows Subsystem for Linux" / "WSL": a word inside a name the other
                # side abbreviates scopes nothing
                in_q = in_q - _inside_names(in_q - in_c, query, c)
                in_c = in_c - _inside_names(in_c - in_q, candidate, q)
            if in_q and in_c and in_q != in_c:
                return (
                    f"{name} differs ({_show(g for _, g in in_q)} vs {_show(g for _, g in in_c)})"
                )
            other = c if in_q else q
            strict = [g for s, g in (in_q or in_c) if s]
            if strict and not (in_q and in_c):
                # "Federal Student Aid" / "FAFSA": a word of a name the other side
                # abbreviates names no audience
                one = in_q or in_c
                inside = _inside_names(one, query if in_q else candidate, other)
                strict = [g for s, g in one - inside if s]
            if not (in_q and in_c) and strict and not _misspelt(strict[0], other):
                return f"{name} named on one side only ({_show(strict)})"
        for person in q.persons ^ c.persons:
            other = c if person in q.persons else q
            if stem(person) not in other.stems and not _misspelt(person, other):
                return f"whose: {person}'s on one side only"
        for word in q.qualifiers ^ c.qualifiers:
            return f"{word!r} on one side only"
        return _added(q, c)


def _added(q: Features, c: Features) -> str | None:
    """What one side alone adds to the other's question (a narrowing word, a qualifying
    phrase, who / where / when). Each of the three reads the pair's differing content
    words and returns None without one (narrowing needs one side to have one, the others
    some side): no call is made for a pair that differs by none (a third of them)."""
    only_q, only_c = _diffs(q, c)
    if not (only_q or only_c):
        return None
    if only_q and only_c:
        # each side has words of its own: narrowing needs one side alone to differ (None),
        # and the other two need the words of the side that adds nothing to be rating
        # words (framing aside: their test, in C), on one side at least
        if not (_rating_only(only_c) or _rating_only(only_q)):
            return None
        return _added_qualifier(q, c, only_q, only_c) or _added_kind(q, c, only_q, only_c)
    return (
        (None if abs(len(q.content) - len(c.content)) != 1 else _narrowing(q, c, only_q, only_c))
        or _added_qualifier(q, c, only_q, only_c)
        or _added_kind(q, c, only_q, only_c)
    )


def _rating_only(words: Diff) -> bool:
    """Whether the differing ``words`` are rating words or framing alone: what
    :func:`added_kind` (and, without the framing, :func:`added_qualifier`) asks of the side
    that adds nothing before looking at the other's."""
    return _UNRESTRICTIVE.issuperset(
        map(base, filterfalse(_FRAMING.__contains__, map(_WORD_OF, words)))
    )


_BRIEF = frozenset({"len:brief"})


def _short_for_brief(q: Features, c: Features) -> bool:
    """Whether the only constraint apart is brevity, said on one side as "brief" and on
    the other as "short", which only the other uses ("a brief email" / "a short email":
    "short" reads as a length only in a few set phrases, since "a short story" names a
    kind of thing, but against "brief" in the same request it is that length)."""
    if q.constraints ^ c.constraints != _BRIEF:
        return False
    lacking, other = (c, q) if "len:brief" in q.constraints else (q, c)
    return "short" in lacking.vocab and "short" not in other.vocab


class ConstraintGuard(_PairGuard):
    """Explicit output constraints must agree: language ("in French"), length ("in 3
    sentences", "briefly", "in detail") and format (JSON, table, bullet list...)."""

    name = "constraint"

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        if q.constraints != c.constraints and not _short_for_brief(q, c):
            return (
                f"output constraints differ ({_show(q.constraints - c.constraints)} vs "
                f"{_show(c.constraints - q.constraints)})"
            )
        return None


# How the guards skip work (one rule, for each guard and each of its checks): a check
# opens with a test in C on what both sides' features already hold, and reads anything
# more of a text (a per-text analysis: the readings, the questions asked, the keys)
# only where the answer can depend on it, the query's side first. A check refuses only
# when both sides have something to compare, so the candidate's side (at 30 words and
# more a new span each time) is read only if the query's has it: ``frames_differ`` for
# the scope and question guards' frames (a side holding none of a frame's gates is not
# read at all; tests/guards/test_gates.py holds it to the ungated readings), AskGuard
# for the kinds of answer asked. A gate that changes a decision is a bug: any new check
# gates itself the same way, or runs ungated. (No trigger per guard in the verifier: each
# judge's first test is one already, and the cheapest guards, order, constraint, number,
# took 2-9 µs a lookup warm at 10 words, the most a trigger could save.)
def default_guards() -> list[Guard]:
    """The default guards, in the order they run: the most specific reason is reported
    ("from A to B" reversed is an order rejection, not an entity one)."""
    return [
        OrderGuard(),
        ArgumentGuard(),
        ConstraintGuard(),
        NegationGuard(),
        NumberGuard(),
        ScopeGuard(),
        AntonymGuard(),
        EntityGuard(),
        SubstitutionGuard(),
        TaskGuard(),
        AskGuard(),
    ]


# The default guards whose ``check`` is ``judge`` on both texts' features (EntityGuard
# apart: it reads the texts' cells and code before their features, so it is judged only
# after a guard that fetched them).
_JUDGED = frozenset(
    {
        OrderGuard,
        ArgumentGuard,
        ConstraintGuard,
        NegationGuard,
        NumberGuard,
        ScopeGuard,
        AntonymGuard,
        SubstitutionGuard,
        AskGuard,
        TaskGuard,
    }
)


# Prompts of up to this many words are parsed while a lookup's search runs: at most
# twice the shared words that narrowing needs, so most of their candidates are compared
# whole. Longer ones are not: in the end-to-end benchmark (three interleaved runs, load
# 3-5) skipping their parse took the time a lookup adds from 505-571 to 341-498 µs at 30
# words and from 721-2,370 to 338-381 µs at 100 (sync).
_PREPARED_WORDS = 2 * MIN_SHARED


class Verifier:
    """Runs guards, then the optional pair ``scorer``, then the optional ``extra``
    verifier, on a (query, candidate) pair.

    ``guards=None`` uses :func:`default_guards`; pass ``[]`` for none or your own list
    (any object with ``name`` and ``check``). ``scorer``: a :class:`PairScorer` (the
    learned cross-encoder; :func:`default_verifier` has one, ``Verifier()`` has none),
    asked about the differing spans the guards compared; a low score is a ``scorer``
    rejection. ``extra(query, candidate) -> bool`` (or an async function) runs only when
    everything else passes; ``False`` is a ``custom`` rejection. ``verify`` needs a sync
    ``extra``; ``averify`` takes either.
    """

    def __init__(
        self,
        guards: Sequence[Guard] | None = None,
        *,
        scorer: PairScorer | None = None,
        extra: ExtraVerifier | None = None,
    ) -> None:
        self.guards = list(default_guards() if guards is None else guards)
        self._planned: tuple[list[Guard], list[tuple[Guard, Judge | None]]] = ([], [])
        self.scorer = scorer
        self.extra = extra

    @staticmethod
    def features_of(text: str) -> bytes:
        """What the guards need of ``text``, as JSON bytes to store with a cache entry
        (computed once, at write time): a lookup then parses only the new prompt."""
        return orjson.dumps(encode(features(text)))

    @staticmethod
    def prepare(text: str) -> None:
        """Parse ``text`` into the per-process memo now (e.g. while a lookup waits for
        Redis) if the checks will read it whole, so a later :meth:`verify` of it costs
        nothing. A longer text is left to whatever needs it: its near candidates share
        most of it (a template, a pasted context, earlier turns), the checks then read
        only the spans it differs by, and its whole parse (≈ 300 µs at 100 words)
        would be spent on every hit for a write that only a miss makes."""
        if len(text.split(None, _PREPARED_WORDS)) <= _PREPARED_WORDS:
            features(text)

    @staticmethod
    def remember(text: str, stored: bytes | str | None) -> bool:
        """Seed the per-process cache with :meth:`features_of`'s output for ``text``
        (read back with an entry), loaded only if a guard needs it. Returns ``False``
        (the text will be parsed when needed) if ``stored`` is missing or not in the
        current format; data damaged past its start is parsed instead when needed."""
        if not stored or text in _PARSED:  # parsed here already
            return bool(stored)
        try:
            remember_stored(text, stored)
        except ValueError:  # another format
            return False
        return True

    def _plan(self) -> list[tuple[Guard, Judge | None]]:
        """Each guard with its ``judge`` if it is a default guard (of its own class: a
        subclass may override ``check``), which is then handed both texts' features,
        fetched once per pair (each guard's own fetch cost a call and a memo probe, nine
        times a pair). Rebuilt when :attr:`guards` is changed or replaced."""
        guards, plan = self._planned
        if guards != self.guards:  # (a C-level comparison of a few references)
            guards = list(self.guards)
            plan, fetched = [], False
            for g in guards:
                judged = g.__class__ in _JUDGED or (g.__class__ is EntityGuard and fetched)
                plan.append((g, g.judge if judged else None))  # type: ignore[attr-defined]
                fetched = fetched or judged
            self._planned = guards, plan
        return plan

    def _run_guards(
        self, query: str, candidate: str, *, renegate: bool = True
    ) -> tuple[Rejection | None, tuple[str, str] | None]:
        """A guard's rejection, or the spans the scorer should read (both None: serve).
        A pair the negation or antonym guard refuses is judged again with its negations
        written one way (:func:`._renegate.renegated`: "prohibited" / "not allowed"),
        each guard then reading the rewritten pair, and the scorer its spans."""
        if query == candidate:
            return None, None  # an exact repeat cannot disagree with itself
        query, candidate = narrowed(query, candidate)
        q: Features | None = None  # both texts' features, fetched by the first default guard
        c: Features | None = None
        for guard, judge in self._plan():
            try:
                if judge is None:
                    reason = guard.check(query, candidate)
                else:
                    # fetched inside the try, as the guard's check would: a text that
                    # cannot be parsed is this guard's error, as before
                    if q is None:
                        q, c = pair(query, candidate)
                    reason = judge(q, c, query, candidate)  # type: ignore[arg-type]
            except Exception as exc:
                # a guard that cannot judge a pair must not fail the caller's model call,
                # nor pass the pair: refused (a miss), logged with its traceback
                _log.warning("cache guard %r raised; candidate refused", guard.name, exc_info=True)
                return Rejection("error", f"guard {guard.name!r} raised {type(exc).__name__}"), None
            if reason is not None:
                if renegate and guard.name in _RENEGATED:
                    fixed = renegated(query, candidate)
                    if fixed != (query, candidate):
                        again = self._run_guards(*fixed, renegate=False)
                        if again[0] is None:
                            return again
                return Rejection(guard.name, reason), None
        return None, None if self.scorer is None else (candidate, query)

    def _score(self, spans: tuple[str, str] | None, query: str, candidate: str) -> Rejection | None:
        if (
            spans is None
            or self.scorer is None
            or same_but_numerals(*spans)
            or same_but_spelling(*spans)
            or _but_articles(*spans)
        ):
            return None
        if spans[0].split() == spans[1].split():
            # blanks alone differ, and the scorer's tokenizer drops them: it would read one
            # text twice and guess (it refused "Translate into French:   X" / "...: X").
            # Judged here instead: a line moved into or out of a block is other code, a
            # text laid out otherwise is the same; code re-wrapped is left to the scorer.
            if reason := indentation_changed(query, candidate):
                return Rejection(self.scorer.name, reason)
            if relaid(query, candidate):
                return None
        reason = self.scorer.rejects(*spans)
        if reason is None:
            return None
        # misspelt words and short names as the other side writes them: the scorer
        # refused such pairs as written (0.00-0.05). Asked again on them only when it
        # refused the pair as written (respelt, 15-30 µs, runs on no pair it serves), and
        # only if the guards pass them rewritten too: the rest of the pair is still judged
        # by both ("an SSD worth it" / "a solid state drive bad for": another question).
        # A pair that becomes the same words was served above (same_but_spelling); the
        # test stays here too, so that its cheap filter can only cost a scorer run.
        fixed = respelt(*spans)
        if fixed != spans and (
            fixed[0].lower().split() == fixed[1].lower().split()
            or (
                self._run_guards(fixed[1], fixed[0])[0] is None
                and self.scorer.rejects(*fixed) is None
            )
        ):
            return None
        # a negation said in one word on one side and in two on the other ("unsafe" /
        # "not safe", "prohibited" / "not allowed"): the scorer refused such pairs
        # (0.00-0.01) whatever else they said; asked again on them written one way
        fixed = renegated(*spans)
        if fixed != spans and (
            _plain(fixed[0]) == _plain(fixed[1])
            or (
                self._run_guards(fixed[1], fixed[0], renegate=False)[0] is None
                and self.scorer.rejects(*fixed) is None
            )
        ):
            return None
        return Rejection(self.scorer.name, reason)

    @staticmethod
    def _custom(result: object) -> Rejection | None:
        return None if result else Rejection("custom", "rejected by the extra verifier")

    def verify(self, query: str, candidate: str) -> Rejection | None:
        """The first rejection for serving ``candidate``'s answer to ``query``, or None."""
        rejection, spans = self._run_guards(query, candidate)
        if spans is not None:
            rejection = self._score(spans, query, candidate)
        if rejection is not None or self.extra is None:
            return rejection
        result = self.extra(query, candidate)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # don't leak a never-awaited coroutine warning
            raise TypeError(
                "the extra verifier is async: call averify() (the async cache paths "
                "do), or pass a sync function"
            )
        return self._custom(result)

    async def averify(self, query: str, candidate: str) -> Rejection | None:
        """Async form of :meth:`verify`; awaits an async ``extra`` verifier. The pair
        scorer (a few ms of CPU) runs in a worker thread, off the event loop."""
        rejection, spans = self._run_guards(query, candidate)
        if spans is not None:
            rejection = await asyncio.to_thread(self._score, spans, query, candidate)
        if rejection is not None or self.extra is None:
            return rejection
        result = self.extra(query, candidate)
        if inspect.isawaitable(result):
            result = await result
        return self._custom(result)


_SCORER: list[PairScorer] = []  # one model per process, loaded on first use


def default_verifier() -> Verifier:
    """A :class:`Verifier` with the default guards and the pair scorer (one per
    process), no extra verifier: what :class:`SemanticCache` uses."""
    if not _SCORER:
        _SCORER.append(PairScorer())
    return Verifier(scorer=_SCORER[0])
