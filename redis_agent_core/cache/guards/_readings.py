"""What each prompt says of its question's frame, read on its own: the guards that narrow a
pair to its differing words see nothing to compare when the whole prompt is reworded
("How many hours per week does a full-time nurse work?" / "What's the yearly number of
hours worked by a full-time nurse?" share few words, and no word pair of them differs
cleanly). Each reading here is a small set of labels found in one prompt by syntactic
cues (no word of a pair is compared with the other side's): the pair is refused when both
sides read a frame and the readings share no label.

- ``quantifier``: all / every / each (universal) vs any / some / one of / are there
  (existential) vs most / the majority of;
- ``period``: the period a rate is given per (per day, daily, a year, annual, hourly...);
- ``bound``: a minimum (at least, minimum, no less than) vs a maximum (at most, maximum,
  limit, up to);
- ``whole``: the whole or total (total, overall, entire, whole, altogether, combined) vs
  one part or each item (each, a single, per item, alone);
- ``time``: the time a question is about: past (did, was, last, ago, yesterday),
  present (currently, right now, today, these days), future (will, going to, next,
  upcoming, planned, tomorrow);
- ``step``: before / the start (before, prior to, ahead of, the first step, begin) vs
  after / the end (after, once it has, follows, the last step, how it ends).

And :func:`exception_added`: an exception ("apart from the annual fee", "excluding
hydrogen", "other than noodles") on one side only, its words not said on the other side:
what is left out changes the answer. And :func:`condition_stated`: a condition asked on
one side ("if my flight is cancelled, ...") that the other side states as a fact ("my
flight was cancelled, ..."): the hypothetical and the actual case have other answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from ._features import per_text
from ._lexicon import FUNCTION_WORDS
from ._stem import stem
from .relations import _PARTICIPLES

__all__ = [
    "Readings",
    "and_against_or",
    "change_said_otherwise",
    "condition_stated",
    "exception_added",
    "frames_differ",
    "maker_against_subject",
    "one_against_all",
    "readings",
    "readings_differ",
    "which_against_all",
]


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_QUANTIFIER = (
    (
        "all",
        ("all", "every", "each"),
        _any(
            r"\b(?:all|every)\b(?! (?:the )?(?:time|way|right|along|day|week|month|year|night)s?\b)"
            r"(?<!\bat all)",
            r"\beach\b(?! other\b)",
        ),
    ),
    (
        "some",
        ("any", "some", "one", "single", "least", "there"),
        _any(
            r"\b(?:any|anyone|anybody|anything|some|someone|somebody)\b"
            r"(?! (?:time|way|more|longer|help|idea|tips?|advice)\b)",
            r"\b(?:name|pick|give me|list) (?:one|a single)\b",
            r"\bat least (?:one|once|a few|some)\b",
            # "show the logs of one of the failing pods", "are there flights that ..."
            r"(?<!\bevery )(?<!\beach )\bone of (?:the|my|our|your|these|those|its|their)\b",
            r"\bare there\b(?! (?:any )?(?:ways?|tips|options|alternatives)\b)",
        ),
    ),
    (
        "most",
        ("most", "majority", "bulk"),
        _any(
            r"(?<!\bthe )(?<!\bat )\bmost (?:of\b|people\b|\w+s\b)",
            r"\b(?:the )?(?:majority|bulk) of\b",
        ),
    ),
)
_UNITS = "day|week|month|year|hour|minute|second|night"
_UNIT_SAID = {
    "daily": "day",
    "weekly": "week",
    "monthly": "month",
    "yearly": "year",
    "annual": "year",
    "annually": "year",
    "hourly": "hour",
    "nightly": "night",
    "annum": "year",
}
_PERIOD = re.compile(
    rf"\b(?:per|a|an|each|every|/) ?({_UNITS})s?\b"
    r"(?! ?(?:ago|or|and|later|earlier|before|after|off|old|trip|pass|ticket)\b)(?!-)"
    r"|\b(daily|weekly|monthly|yearly|annual|annually|hourly|nightly)\b|\bper (annum)\b"
    r"|\b-second\b"
)
_BOUND = (
    (
        "minimum",
        ("least", "min", "no less", "no fewer", "or more"),
        _any(
            r"\bat least\b(?! (?:one|a few|some)\b)",
            r"\b(?:minimum|minimal|min)\b",
            r"\bno (?:less|fewer) than\b",
            r"\bor more\b",
        ),
    ),
    (
        "maximum",
        ("at most", "max", "limit", "cap", "ceiling", "no more", "or less", "or fewer", "up to"),
        _any(
            r"\bat most\b",
            r"\b(?:maximum|max|limit|cap|ceiling)\b",
            r"\bno more than\b",
            r"\bor (?:less|fewer)\b",
            r"\bup to\b",
        ),
    ),
)
_WHOLE = (
    (
        "whole",
        (
            "total",
            "overall",
            "entire",
            "altogether",
            "combined",
            "summed",
            "sum of",
            "whole",
            "full",
            "in all",
        ),
        _any(
            r"\b(?:total|totals|overall|entire|entirety|altogether|combined|summed)\b",
            r"\b(?:the )?sum of\b",
            r"\b(?:the|a|this|my|our) (?:whole|full)\b(?! (?:stop|time)\b)",
            r"\bin (?:total|all)\b",
        ),
    ),
    (
        "part",
        ("each", "single", "alone", "apiece", "much of", "per "),
        _any(
            r"\beach\b(?! other\b)",
            # "the total per country": a total of each group (both readings)
            rf"\bper (?!(?:{_UNITS}|cent|annum|se)s?\b)\w",
            r"\b(?:a|one|per) single\b|\bsingle (?!\w+ (?:of|in) (?:the|all)\b)",
            r"\balone\b",
            r"\bapiece\b",
            r"\bhow much of\b",
        ),
    ),
)
_TIME = (
    (
        "past",
        (
            "did",
            "was",
            "were",
            "had",
            "ago",
            "yesterday",
            "previously",
            "formerly",
            "used to",
            "in the past",
            "back then",
            "last ",
            "when it ",
        ),
        _any(
            # (not the polite past: "I was wondering", "did you mean")
            r"\b(?:did|was|were|had)\b(?! (?:you|it) (?:mean|say)\b)"
            r"(?! (?:wondering|hoping|thinking|curious|told|asked)\b)",
            r"\b(?:ago|yesterday|previously|formerly|used to|in the past|back then)\b",
            r"\blast (?:night|week|month|year|quarter|season|time|meeting|summer|winter|"
            r"spring|autumn|fall|weekend)\b",
            r"\bwhen it (?:launched|started|opened|began|came out)\b",
        ),
    ),
    (
        "present",
        (
            "current",
            "nowadays",
            "present",
            "right now",
            "at the moment",
            "these days",
            "now",
            "today",
            "this ",
        ),
        _any(
            r"\b(?:currently|nowadays|presently)\b",
            r"\bright now\b|\bat the moment\b|\bthese days\b|\bat present\b",
            r"\b(?:is|are|does|do)\b[^.?!,;]*\b(?:now|today)\b(?! that\b)",
            # "which teams are in the playoffs this year" / "... made them last year"
            r"\b(?:is|are|does|do)\b[^.?!,;]*\bthis (?:year|season|month|week|quarter)\b",
            r"\bcurrent\b",
        ),
    ),
    (
        "future",
        (
            "will",
            "won't",
            "shall",
            "going to",
            "next",
            "upcoming",
            "tomorrow",
            "tonight",
            "planned",
            "forthcoming",
            "coming",
            "expected to",
            "in the future",
        ),
        _any(
            r"\b(?:will|won't|shall)\b(?! you\b)",
            r"\b(?:is|are|am)(?: \w+)? going to\b",
            r"\b(?:next|upcoming|tomorrow|tonight|planned|forthcoming|coming)\b"
            r"(?! (?:to|from|up|out|back|in|with)\b)",
            r"\bexpected to\b|\bin the future\b",
        ),
    ),
)
_STEP = (
    (
        "before",
        (
            "before",
            "prior to",
            "ahead of",
            "preced",
            "first",
            "initial",
            "opening",
            "start",
            "begin",
        ),
        _any(
            r"\b(?:before|beforehand|prior to|ahead of|precedes?|preceding)\b",
            r"\b(?:first|initial|opening) (?:step|stage|phase|thing|move)s?\b",
            r"\b(?:do|does|start|begin|begins)\b[^.?!,;]*\bfirst\b",
            r"\b(?:start|beginning) of\b",
            r"^(?:how do (?:i|you|we) )?(?:begin|start)\b",
            r"\bhow (?:do|does|did|to) (?:i |you |we )?(?:begin|start)\b",
        ),
    ),
    (
        "after",
        ("after", "follow", "once ", "last ", "final ", "next ", "end", "finish", "over", "done"),
        _any(
            r"\b(?:after|afterwards|afterward|following|follows|followed)\b(?<!the following)",
            r"\bonce (?:it|it's|the|my|you|i|we|they|this|that|he|she)\b(?! a\b)",
            r"\b(?:last|final|next) (?:step|stage|phase|thing|move)s?\b",
            r"\b(?:ends?|finish|finishes|finished|over|done)\?",
            r"\bhow [\w' ]*\b(?:ends|end)\b",
            r"\bend of\b",
        ),
    ),
)


class Readings(NamedTuple):
    quantifier: frozenset[str]
    period: frozenset[str]
    bound: frozenset[str]
    whole: frozenset[str]
    time: frozenset[str]
    step: frozenset[str]


# Each label: its name, words one of which its pattern cannot match without (C-level
# substring tests first: most prompts have none, and the patterns' scans cost ≈ 100 µs a
# prompt), and its pattern.
_Table = tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...]


def _labels(text: str, table: _Table) -> frozenset[str]:
    return frozenset(
        label
        for label, gates, pattern in table
        if any(g in text for g in gates) and pattern.search(text)
    )


_PERIOD_GATES = (
    "day",
    "daily",
    "week",
    "month",
    "year",
    "hour",
    "minute",
    "second",
    "night",
    "annu",
)


def _periods(text: str) -> frozenset[str]:
    found: set[str] = set()
    if not any(g in text for g in _PERIOD_GATES):
        return frozenset()
    for m in _PERIOD.finditer(text):
        unit = m.group(1) or m.group(2) or m.group(3)
        found.add(_UNIT_SAID.get(unit, unit) if unit else "second")
    return frozenset(found)


# A negator up to six words before a quantifier, in its clause ("do not drop any of the
# conditions", "without any links", "don't delete all of them").
_NEGATED_BEFORE = re.compile(
    r"\b(?:not|no|never|without|cannot|\w+n't)\b(?:[ ]+[\w'-]+){0,5}?[ ]+$"
)


def _quantifiers(text: str) -> frozenset[str]:
    """The quantifier labels of ``text``, each read under the negator before it in its
    clause: "not ... any" is a universal ("do not drop any of the conditions" / "keep
    every condition"), "not ... all" an existential ("don't remove all the tests" /
    "remove some of the tests")."""
    found = _labels(text, _QUANTIFIER)
    if not found or not any(n in text for n in ("not", "no", "never", "without", "n't")):
        return found
    labels = set()
    for label, _, pattern in _QUANTIFIER:
        for m in pattern.finditer(text):
            turnable = label == "all" or m.group().startswith("any")
            if turnable and _NEGATED_BEFORE.search(text, 0, m.start()):
                labels.add("some" if label == "all" else "all")
            else:
                labels.add(label)
    return frozenset(labels)


#: How each frame of :class:`Readings` is read, in its order: the one place
#: :func:`readings` and :func:`frames_differ` (frame by frame) both read from.
_READERS: tuple[Callable[[str], frozenset[str]], ...] = (
    _quantifiers,
    _periods,
    lambda text: _labels(text, _BOUND),
    lambda text: _labels(text, _WHOLE),
    lambda text: _labels(text, _TIME),
    lambda text: _labels(text, _STEP),
)


@per_text
@lru_cache(maxsize=4096)
def readings(lower: str) -> Readings:
    """The frames ``lower`` (a prompt's lower-cased content) reads."""
    text = lower.replace("\u2019", "'")
    return Readings(*(read(text) for read in _READERS))


_NAMES = ("quantifier", "period", "bound", "whole or part", "time", "step")


def _differs(i: int, x: frozenset[str], y: frozenset[str]) -> str:
    """The reason for frame ``i`` read as ``x`` on one side and ``y`` on the other (one
    wording for :func:`readings_differ` and :func:`frames_differ`, which tests compare)."""
    return f"{_NAMES[i]} differs ({'/'.join(sorted(x))} vs {'/'.join(sorted(y))})"


def readings_differ(a: Readings, b: Readings, which: tuple[int, ...]) -> str | None:
    """The first frame of ``which`` (indexes of :class:`Readings`) both prompts read with
    no label in common, named with both readings; None if there is none."""
    for i in which:
        x, y = a[i], b[i]
        if x and y and x.isdisjoint(y):
            return _differs(i, x, y)
    return None


# by frame (None: the period); a frame's reader reads nothing where its table's labels
# read nothing (_quantifiers turns the labels it finds), so the table's gates hold for it
_TABLES = (_QUANTIFIER, None, _BOUND, _WHOLE, _TIME, _STEP)


def _frame_gates() -> tuple[tuple[str, ...] | None, ...]:
    """Per frame of :class:`Readings`, every substring one of its labels needs (their
    gates; the period's are :data:`_PERIOD_GATES`): a text holding none reads nothing
    there. None for a frame with a label that needs none (always read)."""
    out: list[tuple[str, ...] | None] = []
    for table in _TABLES:
        if table is None:
            out.append(_PERIOD_GATES)
        elif all(gates for _, gates, _ in table):
            out.append(tuple(dict.fromkeys(g for _, gates, _ in table for g in gates)))
        else:
            out.append(None)
    return tuple(out)


_FRAME_GATES = _frame_gates()


@per_text
@lru_cache(maxsize=8192)
def _frame(text: str, i: int) -> frozenset[str]:
    """Frame ``i`` of :func:`readings` alone (``text`` with its apostrophes folded as
    there): a pair compares a few frames, most texts hold the gates of one or none."""
    return _READERS[i](text)


def _reads(text: str, i: int) -> frozenset[str]:
    """What ``text`` reads in frame ``i``; nothing read (no pattern tried) where it
    holds none of the frame's gates (substring tests in C, a fraction of a reading)."""
    gates = _FRAME_GATES[i]
    if gates is not None and not any(map(text.__contains__, gates)):
        return _NO_LABEL
    return _frame(text, i)


_NO_LABEL: frozenset[str] = frozenset()


def frames_differ(a: str, b: str, which: tuple[int, ...]) -> str | None:
    """``readings_differ(readings(a), readings(b), which)``, frame by frame: a frame
    differs only when both sides read it, so ``b`` is read in a frame only where ``a``
    reads one (most prompts read none: where ``b`` is a new span, a lookup read it for
    nothing), and each side only in the frames whose gates it holds. ``a`` is the
    query's side, read whole once for all its candidates."""
    a = a.replace("\u2019", "'") if "\u2019" in a else a
    b = b.replace("\u2019", "'") if "\u2019" in b else b
    for i in which:
        x = _reads(a, i)
        if x:
            y = _reads(b, i)
            if y and x.isdisjoint(y):
                return _differs(i, x, y)
    return None


# A condition asked: "if", "in case", "suppose", "assuming", "in the event of", "should
# X happen"; its words run to the next comma, stop or question word
_IF = re.compile(
    r"(?:^|[^\w])(?:(?:what )?if|in case|suppose|supposing|assuming(?: that)?|"
    r"in the event (?:of|that)|provided(?: that)?)\b"
    # (not "if you could / want / don't mind", politeness, nor "if possible", "if so")
    r"(?! (?:you (?:could|can|would|will|don't|do not|have time|want|wish|like|need|"
    r"please|prefer)|possible|so|not|any|ever)\b)"
    # "When the primary node goes down, which replica ...": a when-clause opening a sentence
    r"|(?:^|[.?!:\n] *)when(?= (?:the|my|a|an|i|we|you|it|our|your|they)\b[^.?!]*,)"
)
_IF_END = re.compile(
    r"[,.?!;:\n]|\b(?:what|will|would|how|then|can|could|should|do|does|which|who)\b"
)
_ASKING_IF = re.compile(r"\b(?:know|check|see|ask|wonder|wondering|sure|tell|as|even|me) $")
# a clause stating something: a finite verb (a form of be / have / do, or a past tense)
# (the irregular past tenses: relations' closed class, and a few frequent others)
_FINITE = re.compile(
    r"\b(?:is|are|was|were|has|have|had|did|got|went|came|lost|ran|sent|paid|made|said|"
    rf"told|{'|'.join(_PARTICIPLES)})\b|\b\w{{3,}}ed\b|n't\b"
)
_CLAUSE = re.compile(r"[.;!?\n]+|,\s*(?:so|and|but)?\s*")
_QUESTION_START = re.compile(
    r"^(?:how|what|why|when|where|who|which|is|are|can|could|should|would|will|do|does|"
    r"did|am)\b"
)
_SMALL = frozenset(
    """that this these those there their them they with from into have been were will
    would should could about than then some what when while your just also more much""".split()
)


def _content(words: list[str]) -> set[str]:
    return {stem(w)[:4] for w in words if len(w) > 3 and w not in _SMALL}


@per_text
@lru_cache(maxsize=4096)
def _conditions(lower: str) -> tuple[frozenset[str], ...]:
    """The content of each condition ``lower`` asks (word stems, cut to 4 letters)."""
    if not (
        "if" in lower
        or "case" in lower
        or "suppos" in lower
        or "assum" in lower
        or "event" in lower
        or "provided" in lower
        or "when" in lower
    ):
        return ()
    out = []
    for m in _IF.finditer(lower):
        if _ASKING_IF.search(lower[: m.start() + 1]):
            continue  # "check if", "tell me if": whether, no condition
        rest = lower[m.end() :]
        end = _IF_END.search(rest)
        words = re.findall(r"[\w'-]+", rest[: end.start() if end else len(rest)])
        if found := _content(words[:8]):
            out.append(frozenset(found))
    return tuple(out)


@per_text
@lru_cache(maxsize=4096)
def _stated(lower: str) -> tuple[frozenset[str], ...]:
    """The content of each clause ``lower`` states (a finite verb, no question, no "if")."""
    out = []
    for clause in _CLAUSE.split(lower):
        clause = clause.strip(" \"'()")
        if (
            not clause
            or _QUESTION_START.match(clause)
            or _IF.search(clause)
            or not _FINITE.search(clause)
        ):
            continue
        if found := _content(re.findall(r"[\w'-]+", clause)):
            out.append(frozenset(found))
    return tuple(out)


def _asked_in_the_past(fact: str, condition: str) -> bool:
    """Whether the questions of ``fact`` (its clauses opening with a question word, not
    the clauses stating the fact) ask of the past, and ``condition`` does not."""
    questions = " . ".join(
        c for c in map(str.strip, _CLAUSE.split(fact)) if _QUESTION_START.match(c)
    )
    return "past" in readings(questions).time and "past" not in readings(condition).time


def _matches(a: str, b: frozenset[str]) -> bool:
    # "lose" / "lost", "rises" / "risen": the same first three letters of a stem
    return a in b or any(a[:3] == w[:3] and len(a) > 2 and len(w) > 2 for w in b)


# any condition or "when" clause: a side with one states no fact for the other's condition
_ANY_CONDITION = re.compile(r"\b(?:if|when|whenever|unless|in case|suppose|assuming)\b")
# a consequence asked hypothetically ("how much would it cost", "will it go up")
_HYPOTHETICAL = re.compile(r"\b(?:would|could|might|will)\b|'d\b")


def condition_stated(q_lower: str, c_lower: str) -> str | None:
    """A condition one side asks that the other, asking none, states as a fact, where the
    consequence is asked otherwise too: hypothetically on the condition's side ("would",
    "will"), or in the past on the fact's ("if the tests pass, can it merge?" / "the tests
    passed; did it merge?"). "What should I do if my flight is cancelled?" / "My flight was
    cancelled, what should I do?" asks the same."""
    for one, other in ((q_lower, c_lower), (c_lower, q_lower)):
        asked = _conditions(one)
        if not asked or _ANY_CONDITION.search(other):
            continue
        if not (_HYPOTHETICAL.search(one) or _asked_in_the_past(other, one)):
            continue
        for condition in asked:
            for clause in _stated(other):
                found = [w for w in condition if _matches(w, clause)]
                if len(condition) >= 2 and 2 * len(found) > len(condition):
                    said = " ".join(sorted(found))
                    return f"a condition on one side, a fact on the other ({said})"
    return None


# An exception clause: what the question leaves out ("except for Ben", "excluding
# hydrogen", "other than noodles and eggs", "apart from the annual fee", "leaving out the
# Dallas outlet"); its words run to the next comma, stop or question word. Not "besides,"
# (an adverb) nor "other than that" (nothing left out).
_EXCEPT = re.compile(
    r"(?:\b(?:except(?: for)?|excluding|other than|apart from|aside from|besides|but not|"
    r"leaving out|not counting|not including|with the exception of)\b"
    # an exclusion said by a verb, as a request after the main one: "steps to harden the
    # server, skipping the SSH ones", "list the achievements - leave out the ending ones",
    # "and omit the appendix" (not "how do I skip a song": no clause before it)
    r"|(?:[,;(\u2013\u2014]| -|\b(?:and|but|please|just))[ ]*(?:please[ ]+|just[ ]+)?"
    r"(?P<verb>skip|skipping|omit|omitting|ignore|ignoring|disregard|disregarding|exclude|"
    r"leave (?:out|off|aside))\b"
    # or an imperative opening a sentence ("Ignore any result older than 2022.")
    r"|(?:^|[.!?:\n][ ]*)(?P<order>skip|omit|ignore|disregard|exclude|leave (?:out|off|aside))"
    r"\b)"
    r"(?!,| that\b| this\b| those\b| these\b)"
)
_EXCEPT_GATES = (
    "except",
    "exclud",
    "other than",
    "apart",
    "aside",
    "besides",
    "but not",
    "leaving out",
    "not count",
    "not includ",
    "skip",
    "omit",
    "ignor",
    "disregard",
    "leave o",
    "leave aside",
)
_EXCEPT_END = re.compile(
    r"[,.?!;:\n]|\b(?:what|which|who|how|when|where|why|is|are|was|were|do|does|did|can|"
    r"could|should|would|will|have|has)\b"
)


# words standing for what the other side names ("excluding cancelled and pending *ones*")
_PRO_FORMS = frozenset({"one", "item"})
# politeness after an exception ("skipping the SSH ones please"): nothing left out
_POLITE = frozenset({"please", "pls", "plz", "thanks", "thx"})
# something left out said as a negated request: the other side's exception may be it ("and
# leave out links to outside sites" / "and do not include any links to external websites")
_NOT_INCLUDED = re.compile(
    r"\b(?:do not|don't|dont|never|no need to) (?:include|mention|list|cover|count|add|cite)\b"
)


@per_text
@lru_cache(maxsize=4096)
def _exceptions(lower: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """(the clause as said, the content of what it leaves out) of each exception in
    ``lower``; none (no pattern tried) where it holds no opener's gate."""
    if not any(g in lower for g in _EXCEPT_GATES):
        return ()
    out = []
    for m in _EXCEPT.finditer(lower):
        rest = lower[m.end() :]
        end = _EXCEPT_END.search(rest)
        words = re.findall(r"[\w'=-]+", rest[: end.start() if end else len(rest)])
        words = [w for w in words if w not in _POLITE][:6]
        if found := _content(words) - _PRO_FORMS:
            verb = "verb" if m.group("verb") else "order" if m.group("order") else 0
            said = lower[m.start(verb) : m.end()]  # (from the verb: not ", and skip")
            out.append((f"{said} {' '.join(words)}", frozenset(found)))
    return tuple(out)


def exception_added(q_lower: str, c_lower: str) -> str | None:
    """An exception one side makes ("apart from Arsenal, which clubs ...") where the other
    makes none and does not say every word it leaves out ("the northern region" / "all
    regions"): the answer to the whole question is not the answer to the question less a
    part. "Name the group 1 elements, excluding hydrogen" / "the group 1 elements but not
    hydrogen" make one each; "other than rice" / "instead of rice" says rice on both."""
    for one, other in ((q_lower, c_lower), (c_lower, q_lower)):
        found = _exceptions(one)
        if not found or _exceptions(other) or _NOT_INCLUDED.search(other):
            continue
        said = frozenset(_content(re.findall(r"[\w'=-]+", other)))
        for clause, left_out in found:
            if any(not _matches(w, said) for w in left_out):
                return f"an exception on one side only ({clause})"
    return None


# where what a quantifier ranges over ends: a preposition, a relative or a verb of being
_RANGE_END = (
    r"in|on|of|at|to|for|from|with|by|that|which|who|and|or|is|are|was|were|have|has|had|"
    r"will|can|do|does|did"
)
# "all nodes", "every user account", "all of my friends": what a universal quantifier
# ranges over (its next words, up to a preposition); not "each", which goes item by item
# ("the price of a single ticket" / "how much does each ticket cost")
_ALL_OF = re.compile(
    r"\b(?:all|every)(?: of)?(?: (?:the|my|our|your|these|those|its|their))?"
    rf"((?: (?!(?:{_RANGE_END})\b)[\w'-]+){{1,3}})"
)
# "a node", "a single account", "one student", "the single AD account": one of a kind
_ONE_OF = re.compile(
    # (not "not one manager got it", "not a single one": none of them)
    r"(?<!\bnot )(?<!\bnever )\b(?:a|an|one|(?:a|the|one) single|just one|only one)"
    rf"((?: (?!(?:{_RANGE_END}|few|lot|bit|couple|number|little)\b)[\w'-]+){{1,2}})"
)
# a generic "a": "is a prime number always odd?" says all prime numbers
_GENERIC = re.compile(r"\b(?:always|ever|generally|usually|typically|in general|any)\b")
_NOT_KINDS = frozenset({"time", "way", "day", "week", "month", "year", "right", "night"})


def _ranges(pattern: re.Pattern[str], lower: str) -> frozenset[str]:
    """The stems of the words ``pattern``'s quantifier ranges over in ``lower``."""
    return frozenset(
        stem(w)
        for m in pattern.finditer(lower)
        for w in m.group(1).split()
        if len(w) > 2 and w not in _SMALL and w not in _NOT_KINDS
    )


@per_text
@lru_cache(maxsize=4096)
def _all_of(lower: str) -> frozenset[str]:
    """What ``lower`` says all of, as word stems (no pattern tried without "all" or
    "every")."""
    if "all" not in lower and "every" not in lower:
        return _NO_LABEL
    return _ranges(_ALL_OF, lower)


@per_text
@lru_cache(maxsize=4096)
def _one_of(lower: str) -> frozenset[str]:
    """What ``lower`` says one of, as word stems."""
    return _ranges(_ONE_OF, lower)


def one_against_all(q_lower: str, c_lower: str) -> str | None:
    """A kind one side says one of ("does the upgrade restart *a node*") that the other
    says all of ("will the update reboot *all nodes*"), neither side saying it the other
    way too: the answer for one is not the answer for all. Not a generic "a" ("is a
    prime number always odd?" / "is every prime number odd?")."""
    q_all, c_all = _all_of(q_lower), _all_of(c_lower)
    if not q_all and not c_all:
        return None  # (most pairs: no "one of" is read)
    for one_text, every, own_all, other_text in (
        (q_lower, c_all, q_all, c_lower),
        (c_lower, q_all, c_all, q_lower),
    ):
        if not every:
            continue
        kinds = (_one_of(one_text) & every) - own_all - _one_of(other_text)
        if kinds and not _GENERIC.search(one_text):
            said = dict.fromkeys(w for w in re.findall(r"[\w'-]+", one_text) if stem(w) in kinds)
            return f"one vs all ({'/'.join(said)})"
    return None


# a yes/no question over all of a kind: "does every state require ...", "are all snakes
# venomous", "do all my apps use ..."
_YES_NO_ALL = re.compile(
    r"(?:^|[.?!:;\n] *)(?:do|does|did|are|is|was|were|can|could|will|would|has|have|must)\b"
    r"[^.?!:;\n]*?\b(?:all|every)\b"
)
# which of a kind, or how many: "which states", "which of the drugs", "how many snakes"
_WHICH_OF = re.compile(
    r"\b(?:which|how many)(?: of)?(?: (?:the|my|our|your|these|those|its|their))?"
    rf"((?: (?!(?:{_RANGE_END})\b)[\w'-]+){{1,2}})"
)


@per_text
@lru_cache(maxsize=4096)
def _which_of(lower: str) -> frozenset[str]:
    """What ``lower`` asks which or how many of, as word stems."""
    if "which" not in lower and "how many" not in lower:
        return _NO_LABEL
    return _ranges(_WHICH_OF, lower)


def which_against_all(q_lower: str, c_lower: str) -> str | None:
    """Whether all of a kind do something (a yes or a no: "does every state require car
    insurance?") against which of them or how many do ("which states require car
    insurance?"): a list or a count is no yes/no answer, nor is "not all" a list. "List
    all the states that require it" / "which states require it" ask for one list."""
    for one, other in ((q_lower, c_lower), (c_lower, q_lower)):
        every = _all_of(one)
        if every and _YES_NO_ALL.search(one) and not _all_of(other):
            if kinds := every & _which_of(other):
                said = dict.fromkeys(w for w in re.findall(r"[\w'-]+", other) if stem(w) in kinds)
                return f"all vs which ({'/'.join(said)})"
    return None


# "a permit and a survey", "both the web and db groups", "free or open on Mondays": the two
# words a conjunction joins, past determiners ("both" / "either" say the same conjunction)
_JOINED = re.compile(
    r"([\w'-]+)(?:,)? (and|or) (?:(?:both|either|the|a|an|my|our|your|their|its) )*([\w'-]+)"
)
# "between 9 and 5" is one range, "with or without", "whether or not", "more or less",
# "sooner or later", "a day or two", "or so", "or more": no choice between two things
_NO_CHOICE = frozenset(
    """between with whether more less sooner rather and or so not more fewer later less else
    two three other""".split()
)
# a negation before the conjunction in its clause: "no sugar or milk" is "no sugar and no
# milk", "I don't eat meat or dairy" = "... meat and dairy" in everyday English
_NEGATED_CLAUSE = re.compile(r"\b(?:not|no|never|without|nor|neither|none)\b|n't\b")
_CLAUSE_BREAK = re.compile(r"[.;!?:,\n]")


@per_text
@lru_cache(maxsize=4096)
def _conjoined(lower: str) -> dict[tuple[str, str, str], str]:
    """(stem before, "and" / "or", stem after) of each conjunction joining two content
    words in ``lower``, not under a negation in its clause, with the words as said (no
    pattern tried without " and " or " or "; the caller does not change it)."""
    found: dict[tuple[str, str, str], str] = {}
    if " and " not in lower and " or " not in lower:
        return found
    for m in _JOINED.finditer(lower):
        left, kind, right = m.group(1), m.group(2), m.group(3)
        if {left, right} & _NO_CHOICE or left in FUNCTION_WORDS or right in FUNCTION_WORDS:
            continue
        clause = _CLAUSE_BREAK.split(lower[: m.start(2)])[-1]
        if _NEGATED_CLAUSE.search(clause) or "between " in clause:
            continue
        found.setdefault((stem(left), kind, stem(right)), f"{left} {kind} {right}")
    return found


def and_against_or(q_lower: str, c_lower: str) -> str | None:
    """The same two things joined by "and" on one side and by "or" on the other ("a permit
    and a survey" / "a permit or a survey", "unpaid and overdue" / "unpaid or overdue"):
    both of them is not either of them, in a requirement, a filter or a question. Not
    under a negation ("no sugar or milk"), nor in a range ("between 9 and 5") or a fixed
    phrase ("with or without", "or more"), nor where a side joins them both ways."""
    q_joined, c_joined = _conjoined(q_lower), _conjoined(c_lower)
    if not q_joined or not c_joined:
        return None  # (most pairs)
    flip = {"and": "or", "or": "and"}
    for (left, kind, right), said in q_joined.items():
        turned = (left, flip[kind], right)
        if turned in c_joined and turned not in q_joined and (left, kind, right) not in c_joined:
            return f"and vs or ({said!r} / {c_joined[turned]!r})"
    return None


@lru_cache(maxsize=1)
def _change_stems() -> frozenset[str]:
    """Stems of the verbs of a change in amount: "increase", "decrease" and their WordNet
    antonyms ("raise", "cut", "lower", "reduce", "grow", "drop", "boost", ...)."""
    from ._wordnet import wordnet

    antonyms = wordnet().antonyms
    ends = {stem("increase"), stem("decrease")}
    return frozenset(ends.union(*(antonyms.get(s, ()) for s in ends)))


# "raise prices by 10%" / "raise prices to 10%": the number after a change verb, within a
# few words, with the preposition before it (an amount the change adds, or where it ends)
_CHANGED_BY = re.compile(
    r"\b(by|to) (?:about |around |roughly |another )?"
    r"[$£€]?(\d[\d,]*(?:\.\d+)?)"
)
_WORD_BEFORE = re.compile(r"[a-z]+")


@per_text
@lru_cache(maxsize=4096)
def _changes(lower: str) -> dict[str, frozenset[str]]:
    """Each amount ``lower`` says a change is "by" or "to" ("cut the rate by 2 points"),
    with the prepositions said before it: a change verb within five words before."""
    if " by " not in lower and " to " not in lower:
        return {}
    verbs = _change_stems()
    found: dict[str, set[str]] = {}
    for m in _CHANGED_BY.finditer(lower):
        before = _WORD_BEFORE.findall(lower[max(0, m.start() - 60) : m.start()])[-5:]
        if any(stem(w) in verbs for w in before):
            found.setdefault(m.group(2).replace(",", ""), set()).add(m.group(1))
    return {amount: frozenset(how) for amount, how in found.items()}


# a change that multiplies ("doubled", "triple it") or divides ("halved", "cut in half"):
# WordNet relates neither to the other, nor to "increase" / "decrease"
_MULTIPLIED = re.compile(
    r"\b(?:doubl(?:ed|es|ing)|tripl(?:ed|es|ing)|quadrupl(?:ed|es|ing)|"
    r"(?:twice|two times|three times) as)\b"
)
_DIVIDED = re.compile(
    r"\b(?:halv(?:e|ed|es|ing)|cut (?:\w+ )?in half|by half|half (?:as|the|my|its|their))\b"
)
_DOUBLE_VERB = re.compile(
    r"(?:^|[.?!:;,\n] *|\b(?:to|will|would|can|could|should|i|we|you|please) )"
    r"((?:doubl|tripl|quadrupl)e)\b"
)


def _direction(lower: str) -> tuple[str | None, str | None]:
    """The multiplying and the dividing change ``lower`` says, if any."""
    up = _MULTIPLIED.search(lower)
    said = up.group() if up else (m.group(1) if (m := _DOUBLE_VERB.search(lower)) else None)
    down = _DIVIDED.search(lower)
    return said, (down.group() if down else None)


def change_said_otherwise(q_lower: str, c_lower: str) -> str | None:
    """The same amount of a change said "by" on one side and "to" on the other ("raise
    the price by 20%" / "raise the price to 20%": an amount added vs where it ends), or
    a change that multiplies on one side and divides on the other ("my rent doubled" /
    "my rent was halved")."""
    q, c = _changes(q_lower), _changes(c_lower)
    for amount in q.keys() & c.keys():
        if len(q[amount]) == 1 and len(c[amount]) == 1 and q[amount] != c[amount]:
            (one,), (other,) = q[amount], c[amount]
            return f"a change {one} {amount} vs {other} {amount}"
    if any(
        w in t
        for w in ("doubl", "tripl", "quadrupl", "twice", "times as")
        for t in (q_lower, c_lower)
    ):
        (up_q, down_q), (up_c, down_c) = _direction(q_lower), _direction(c_lower)
        # one side multiplies and the other divides, and neither says both
        if up_q and down_c and not (down_q or up_c):
            return f"a change the other way ({up_q!r} / {down_c!r})"
        if up_c and down_q and not (down_c or up_q):
            return f"a change the other way ({down_q!r} / {up_c!r})"
    return None


# a work named with its maker ("books by Toni Morrison") or its subject ("books about
# Toni Morrison", "a film on Gandhi")
_WORKS = (
    r"books?|novels?|articles?|papers?|songs?|poems?|poetry|films?|movies?|documentar(?:y|ies)|"
    r"paintings?|works?|essays?|plays?|albums?|biograph(?:y|ies)|quotes?|speeche?s?|"
    r"letters?|stories|story|podcasts?|posts?|videos?|talks?|lectures?"
)
_WORK_OF = re.compile(
    rf"\b({_WORKS})(?: (?:written|directed|painted|sung|made|recorded|given|published))? "
    r"(by|about|on) ([\w'.-]+(?: [\w'.-]+)?)"
)


@per_text
@lru_cache(maxsize=4096)
def _works(lower: str) -> dict[str, frozenset[str]]:
    """Whom each work ``lower`` names is by or about: {name: {"by" / "about"}}."""
    if " by " not in lower and " about " not in lower and " on " not in lower:
        return {}
    found: dict[str, set[str]] = {}
    for m in _WORK_OF.finditer(lower):
        name = m.group(3)
        if " " in name and name.split(" ", 1)[1] in FUNCTION_WORDS:
            name = name.split(" ", 1)[0]  # "films by Kubrick from the 1960s"
        found.setdefault(name, set()).add("by" if m.group(2) == "by" else "about")
    return {name: frozenset(how) for name, how in found.items()}


def maker_against_subject(q_lower: str, c_lower: str) -> str | None:
    """Works by someone on one side and about the same someone on the other ("books by
    Toni Morrison" / "books about Toni Morrison"): the maker is not the subject."""
    q, c = _works(q_lower), _works(c_lower)
    for name in q.keys() & c.keys():
        if len(q[name]) == 1 and len(c[name]) == 1 and q[name] != c[name]:
            (one,), (other,) = q[name], c[name]
            return f"works {one} {name} vs {other} {name}"
    return None
