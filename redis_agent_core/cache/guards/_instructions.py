"""The instructions a prompt gives ("summarise this email:", "give me three titles for
the post below"), read once per text as part of its guard features (``Features.tasks``,
stored with a cache entry): what :mod:`._task` compares. A verb in its base form where a
request starts (the start of the text, of a line or sentence, after "please", "can you",
"as a nurse," ...), with what it produces ("write a *reply*") or where it sends the text
("turn these notes into a *table*"), whether a second task is joined to it ("... and
explain the grammar") and whether it acts on a text given with it ("this email:"). Pure
Python + WordNet (no import of the features module: it imports this one).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from . import _wordnet as wn

__all__ = ["Instruction", "instructions", "one_job"]

# Task verbs that name one job on a given text where WordNet does not relate them: it
# puts "fix" (repair) and "correct" (rectify) in senses joined only through a third verb,
# "sort" (classify) and "order" / "arrange" (put in order) apart, has no "refactor", nor
# the phrasal verbs ("walk me through", "speed up", "point out": read as one verb, see
# _PHRASAL). Each set is one job; a verb in none is compared by WordNet
# (by the task guard and ``relations.opening_task_differs``).
_JOBS = (
    frozenset({"fix", "correct", "repair", "rectify", "mend", "debug"}),
    frozenset({"explain", "walk through", "talk through", "break down"}),
    frozenset({"sort", "order", "arrange", "alphabetize", "alphabetise"}),
    frozenset({"optimise", "optimize", "speed up"}),
    frozenset({"shorten", "condense", "abridge"}),
    frozenset({"refactor", "restructure"}),
    frozenset({"find", "identify", "spot", "point out", "detect", "locate"}),
    frozenset({"rate", "score", "grade"}),  # WordNet: two senses under "evaluate"
    frozenset({"throw", "raise"}),  # an error or an exception: one verb in two languages
)
_JOB = {verb: n for n, job in enumerate(_JOBS) for verb in job}


def one_job(a: str, b: str) -> bool:
    """Whether two task verbs name one job by :data:`_JOBS` ("fix" / "correct")."""
    job = _JOB.get(a)
    return job is not None and job == _JOB.get(b)


# Words before a request that do not change it ("please", "can you", "I'd like you to").
_LEAD = frozenset(
    """please pls plz kindly can could would will you just now also then so ok okay hey
    hi hello quickly i i'd id like want need to help me let's lets""".split()
)
# Verbs that are no task where a request starts: auxiliaries, greetings, thanks.
_NOT_TASKS = frozenset(
    """be is are was were am been do does did have has had can could will would should
    shall may might must let thank thanks hope sorry welcome hi hello dear need want
    like what which who whom whose when where why how and but or if because though
    although while since unless whether than there here they we he she it this that
    these those his her our their also even still yet not nor""".split()
)
# Verbs that make something: the task is what they make ("write a reply", "give me
# three titles", "come up with names"), compared by its noun.
_MAKING = frozenset(
    """give make write create generate produce provide draft compose prepare suggest
    propose brainstorm list come get offer build design craft""".split()
)
# Verbs that send a text into another form: the task is the target ("turn these notes
# into a table", "put this in French", "translate to Spanish").
_SENDING = frozenset("convert turn put translate rewrite change transform reformat render".split())
_TARGET = {"into", "to", "in", "as", "for"}
_DEICTIC = frozenset("this these that those it the following them above below".split())
_PRONOUNS = frozenset("me us him her them myself".split())
# What ends the words a verb makes or sends to.
_STOP = frozenset(
    """for of to about on in from with into as at by that which who and or but so
    this these than using based per like please pls plz thanks no yes not without
    who where when if because instead rather under over within up down out back off""".split()
)
# What may follow an instruction verb (its object, target or a colon); a verb followed
# by "of", "is" or an end is a noun ("Review of the hotel", "Note is").
_NOT_AFTER = frozenset("of is are was were 's".split())
_BREAKS = frozenset({"\n", ".", "!", "?", ",", ";"})
# A request's label ("Task: draft the reply", "Instruction: ..."): before a colon it
# is no instruction (WordNet reads "task" as a verb), and after it the request itself
# follows, not a given text.
_REQUEST_LABELS = frozenset("task tasks instruction instructions request job goal".split())
_ENDS = _BREAKS | {":", "and", "to", "for", "please"}
_TOKENS = re.compile(r"[a-z0-9][a-z0-9'\-]*|[\n.!?,;:]")
# A word WordNet lacks may still be an instruction ("refactor this", "dedupe the list"),
# if a determiner or pronoun follows it.
_DETERMINERS = frozenset("this these that the a an my our your its their me us it them".split())
_QUANTIFIERS = frozenset(
    "some any few several many more most all every each one two three four five six seven "
    "eight nine ten twelve twenty dozen couple single quick short brief new".split()
)
# Words saying an instruction acts on a text given with it ("this email", "the
# following", "the above"); a colon or line break after it does too.
_POINTERS = frozenset("this these those following above below".split())
# Verbs whose task is named with a particle ("walk me *through* this", "break *down* this
# query", "speed *up*", "point *out* the errors"): the shipped WordNet holds single words
# only, and the bare verb names another act ("walk", "break"). Read as one verb ("walk
# through"), compared by :mod:`._task`'s table of jobs.
_PHRASAL = {"walk": "through", "talk": "through", "break": "down", "speed": "up", "point": "out"}


class Instruction(NamedTuple):
    verb: str
    output: tuple[str, ...] | None  # what a making or sending verb produces, its head last
    joined: bool  # a second task after "and" ("translate it and explain the grammar")
    given: bool = False  # it acts on a text given with it ("this email:", "the above")
    obj: tuple[str, ...] | None = None  # what another verb acts on ("leave *comments*")


def _is_verb(word: str, after: str) -> bool:
    if word in _NOT_TASKS or after in _NOT_AFTER or after in _BREAKS:
        return False
    if word in wn.wordnet().verb_senses:
        return True
    # a word WordNet lacks: not a contraction ("what's"), nor a plural or third person
    return (
        "'" not in word
        and word not in _STOP  # "from the ticket text": a preposition
        and not word.endswith("s")
        and len(word) > 3
        and after in _DETERMINERS
        and word not in wn.wordnet().nouns
        and word not in wn.wordnet().adjective_senses
        and not word.isdigit()
    )


def _noun_like(word: str, first: bool) -> bool:
    """A word that may name a thing made: a WordNet noun, or a word WordNet lacks
    ("regex", "sql"); an -ing or -ed form only before the noun ("a *shopping* list", "a
    *bulleted* summary", not "a query *listing* ...")."""
    if word in _STOP or word in _BREAKS or word in _DETERMINERS or word in _QUANTIFIERS:
        return False
    if word == ":" or (word[0].isdigit() and first):
        return False
    if word.endswith(("ing", "ed")):
        return first
    lexicon = wn.wordnet()
    return wn.noun(word) is not None or (
        word not in lexicon.verb_senses and word not in lexicon.adjective_senses
    )


def _run_head(tokens: list[str], i: int) -> tuple[tuple[str, ...] | None, int]:
    """The head of the noun phrase at ``i`` ("a polite *reply*", "three *titles*", "a SQL
    *query* listing ..."), and where it ends; None if it points at the given text ("this
    email") or names no thing."""
    n = len(tokens)
    while i < n and tokens[i] in _PRONOUNS:
        i += 1
    if i < n and tokens[i] in _DEICTIC and tokens[i] != "the":
        return None, i
    adjectives = wn.wordnet().adjective_senses
    adjective = None
    while i < n and (
        tokens[i] in _DETERMINERS
        or tokens[i] in _QUANTIFIERS
        or tokens[i][0].isdigit()
        or (tokens[i] in adjectives and wn.noun(tokens[i]) is None)
    ):
        adjective = tokens[i] if tokens[i] in adjectives else None
        i += 1
    words: list[str] = []
    if (
        i + 1 < n
        and tokens[i] in wn.wordnet().verb_senses
        and tokens[i] not in _STOP
        and wn.noun(tokens[i + 1]) is not None
        and tokens[i + 1] not in _STOP
        and not _noun_like(tokens[i], True)
    ):
        # a verb before a noun is its modifier: "a *commit* message", not "a" that
        # names nothing (what is made, then, would be unnamed: "write" agreed with all)
        words.append(tokens[i])
        i += 1
    while i < n and _noun_like(tokens[i], not words):
        words.append(tokens[i].removesuffix("'s"))
        i += 1
    if not words and adjective is not None and (i == n or tokens[i] in _ENDS):
        words.append(adjective)  # "into Dutch", "more formal": no noun after it
    if words and i < n and tokens[i] in ("a", "an", "the"):
        return _run_head(tokens, i)  # "write my landlord a note": what is made comes second
    return (tuple(words) or None), i


def _instruction(tokens: list[str], i: int, joined: bool) -> tuple[Instruction, int]:
    verb = tokens[i]
    i += 1
    if verb == "come" and tokens[i : i + 2] == ["up", "with"]:
        i += 2
    particle = _PHRASAL.get(verb)
    if particle is not None:
        j = i + (i < len(tokens) and tokens[i] in _PRONOUNS)  # "walk *me* through"
        if j < len(tokens) and tokens[j] == particle:
            verb, i = f"{verb} {particle}", j + 1
    if verb in _MAKING:
        output, end = _run_head(tokens, i)
        if output is None and verb != "make":
            # "give this essay a grade": what is made follows the text it is made for
            j = end
            while j < len(tokens) and tokens[j] in _DEICTIC:
                j += 1
            while j < len(tokens) and tokens[j] not in _STOP and tokens[j] not in _BREAKS:
                if tokens[j] in ("a", "an"):
                    output, end = _run_head(tokens, j)
                    break
                j += 1
        if output is None and verb == "make":
            # "make this (letter) more formal": what it makes is the state it names
            output, end = _complement(tokens, end)
        return Instruction(verb, output, joined), end
    # a verb sending the text somewhere: "turn X into Y", "put this in French"; any verb
    # "into" something ("parse this log line into JSON") sends it there too
    j = i
    while j < len(tokens) and tokens[j] not in _BREAKS and tokens[j] != ":" and tokens[j] != "and":
        if (
            tokens[j] == "into"
            or (verb in _SENDING and tokens[j] in _TARGET)
            or (tokens[j] == "to" and "from" in tokens[i:j])
        ):
            output, end = _run_head(tokens, j + 1)
            if output is not None:
                return Instruction(verb, output, joined), end
        j += 1
    if verb in _SENDING:
        # "rewrite this more formally": the manner it names is its target
        output, end = _complement(tokens, i)
        if output is not None:
            return Instruction(verb, output, joined), end
    obj, end = _run_head(tokens, i)
    if (
        obj is not None
        and end + 2 < len(tokens)
        and tokens[end] == "and"
        and tokens[end + 1] not in wn.wordnet().verb_senses
        and _noun_like(tokens[end + 1], True)
        and (tokens[end + 2] in _STOP or tokens[end + 2] in _BREAKS or tokens[end + 2] == ":")
    ):
        # a second thing it acts on: "detect the language *and sentiment* of this"
        obj = (*obj, "and", tokens[end + 1])
    return Instruction(verb, None, joined, obj=obj), i


def _complement(tokens: list[str], i: int) -> tuple[tuple[str, ...] | None, int]:
    """After a pointer at the given text ("this letter"), the word saying what to make
    of it ("more *formal*", "*shorter*", "*vegan*"); None if nothing follows."""
    while i < len(tokens) and tokens[i] in _DEICTIC:
        i += 1
    start = i
    lexicon = wn.wordnet()
    while (
        i + 1 < len(tokens)
        and tokens[i] not in _DETERMINERS
        and tokens[i] in lexicon.nouns
        and (i == start or tokens[i] not in lexicon.adjective_senses)
        and tokens[i + 1] not in _STOP
        and tokens[i + 1] not in _BREAKS
        and tokens[i + 1] != ":"
    ):
        # the text's kind, not the last word: "this *letter* more polite", "this *bash
        # command* safer", "this *recipe* vegan"
        i += 1
    words: list[str] = []
    while i < len(tokens) and tokens[i] not in _STOP and tokens[i] not in _BREAKS:
        if tokens[i] == ":":
            break
        words.append(tokens[i])
        i += 1
    # a state or manner: "more formal", "shorter", "vegan", "formally"; not a noun
    # phrase ("these notes into ...": a target, found before)
    first = words[0] if words else ""
    if (
        first in ("more", "less")
        or first in wn.wordnet().adjective_senses
        or first.endswith(("ly", "er"))
    ):
        return tuple(w for w in words if w not in ("more", "less")) or None, i
    return None, i


# The first word of the text, of a line, or after a sentence's end or a comma.
_STARTS = re.compile(r"[\n.!?,;:][ \t\"'(*#>-]*([a-z][a-z'\-]*)")
_FIRST = re.compile(r"[ \t\n\"'(*#>-]*([a-z][a-z'\-]*)")


def _may_start(word: str) -> bool:
    """Whether a request may start at ``word`` (a lead word or a task verb), as
    :func:`instructions` reads it: else the text has no instruction."""
    return word in _LEAD or _is_verb(word, "this")


def _given(tokens: list[str], i: int, end: int) -> bool:
    """Whether the request at ``i`` acts on a text given with it: a pointer at it in its
    sentence ("this email", "the following", "the above"), or a colon or line break
    after it with more words to come."""
    n = len(tokens)
    while i < n:
        word = tokens[i]
        if word in _POINTERS:
            return True
        if word == ":" or word == "\n":
            return n - i > 3
        if word in _BREAKS and i >= end:
            return False
        i += 1
    return False


def _after_label(tokens: list[str], i: int) -> bool:
    """Whether the request at ``i`` follows a request's label after other words ("Ticket:
    '...' Task: draft the reply"): it acts on what comes before it."""
    return i > 2 and tokens[i - 1] == ":" and tokens[i - 2] in _REQUEST_LABELS


def instructions(text: str) -> tuple[Instruction, ...]:
    """The instructions ``text`` gives, in order (read once per text, with its features:
    ``Features.tasks``)."""
    lowered = text.lower()
    # most prompts are questions: no word where a request starts may be one, and one
    # regex pass over the text (≈ 2-4 µs) says so without the word-by-word reading
    opening = _FIRST.match(lowered)
    if not (opening and _may_start(opening[1])) and not any(
        map(_may_start, _STARTS.findall(lowered))
    ):
        return ()
    tokens = _TOKENS.findall(lowered)
    found: list[Instruction] = []
    start = True  # at a place where a request may start
    i = 0
    n = len(tokens)
    while i < n:
        word = tokens[i]
        if word in _BREAKS:
            start = True
            i += 1
            continue
        if word == ":":
            # what follows a colon is the given text, but after a request's label
            # ("Task: categorise this ticket") the request itself
            start = i > 0 and tokens[i - 1] in _REQUEST_LABELS
            i += 1
            continue
        if start and i + 1 < n and tokens[i + 1] == ":" and word in _REQUEST_LABELS:
            i += 1  # "Task: ...": a request's label, no instruction
            continue
        if start and word in _LEAD:
            i += 1
            continue
        if start and _is_verb(word, tokens[i + 1] if i + 1 < n else "."):
            first, begin_of_request = len(found), i
            ins, i = _instruction(tokens, i, False)
            found.append(ins)
            # "... and explain the grammar", "explain and then translate": a second task
            # in the same request
            while i + 2 < n and tokens[i] == "and":
                j = i + 1 + (tokens[i + 1] == "then")
                if not (
                    j + 1 < n
                    and tokens[j + 1] in _DETERMINERS | _TARGET
                    and tokens[j] not in _NOT_TASKS
                    and tokens[j] in wn.wordnet().verb_senses
                ):
                    break
                ins, i = _instruction(tokens, j, True)
                found.append(ins)
            if _given(tokens, begin_of_request, i) or _after_label(tokens, begin_of_request):
                found[first:] = [x._replace(given=True) for x in found[first:]]
            start = False
            continue
        start = False
        i += 1
    return tuple(found)
