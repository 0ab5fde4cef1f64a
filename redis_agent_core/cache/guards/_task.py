"""The task a prompt asks for: another task on the same text is another answer.

"Summarise this email: <text>" and "Translate this email into French: <text>" share
nearly every word; a long pasted text dilutes the one differing instruction verb, so
they embed a few hundredths apart and the word-level guards read the verb as a
rewording. This guard reads each prompt's *instructions*: a verb in its base form
where a request starts (the start of the text, of a line or sentence, after "please",
"can you", "as a nurse," ...), with what it produces ("write a *reply*", "give me three
*titles*") or where it sends the text ("turn these notes into a *table*", "put this in
*French*"). Instructions found on both sides (a pasted recipe's "Mix 200 g flour")
cancel; what is left is compared with WordNet: two verbs are one task if they share
a sense ("paraphrase" / "rephrase", "summarise" / "sum up") or one is a kind of the
other ("rewrite" / "write"); two outputs if their nouns share a sense or one is a
kind of the other. A verb that makes something ("write", "give me", "create") is
judged by what it makes: "give me a summary" is "summarise", "write a reply" is
"reply". A side with no instruction (a question: "What does this code do?") is never
refused for it: questions and instructions are compared by the other guards.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

from . import _wordnet as wn
from ._features import Features, pair
from ._instructions import _JOB, _MAKING, _TOKENS, Instruction, instructions, one_job
from ._stem import stem
from .relations import opening_task_differs

__all__ = ["TaskGuard", "asked_of_text_differs", "instructions", "task_differs"]


# Finding faults in a text is reviewing it for them: "find the bugs in" / "review",
# "check this code for errors" / "identify the errors in it". (What counts as a fault: a
# small closed set, as WordNet's "bug", "typo" and "issue" sit under different parents.)
_REVIEWING = frozenset({"review", "check", "inspect", "audit"})
_FAULTS = frozenset(
    "bug bugs error errors mistake mistakes issue issues problem problems typo typos "
    "flaw flaws".split()
)
# What a made noun names as a task, where it is no form of the verb ("give me the *gist*"
# / "summarise", "give *feedback* on" / "critique"), and nouns that name one made thing
# WordNet keeps apart ("a *note*" / "a *message*" to someone: its main sense of "note" is
# a written record).
_TASK_NOUNS = {"gist": "summarise", "rundown": "summarise", "feedback": "critique"}
_SAME_THINGS = (frozenset({"note", "message"}),)


def _prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@lru_cache(maxsize=4096)
def _verbs_agree(a: str, b: str) -> bool:
    """One task: the same verb, spelt otherwise ("optimise" / "optimize"), sharing a
    WordNet sense ("paraphrase" / "rephrase", "sum" / "summarise") or one a kind of the
    other ("rewrite" / "write"); a compound ending in the other ("fact-check" / "check")."""
    if a == b or a.endswith("-" + b) or b.endswith("-" + a):
        return True
    if one_job(a, b):
        return True
    a, b = a.split(" ", 1)[0], b.split(" ", 1)[0]  # a phrasal verb in no job: its verb
    senses = wn.wordnet().verb_senses
    if a not in senses or b not in senses:  # a word WordNet lacks: a misspelling?
        return SequenceMatcher(None, a, b).ratio() >= 0.8
    sa, pa = wn.senses_of(senses[a])
    sb, pb = wn.senses_of(senses[b])
    return bool(sa & sb or sa & pb or sb & pa)


@lru_cache(maxsize=4096)
def _nouns_agree(a: str, b: str) -> bool:
    """One thing: the same noun or its plural, nouns sharing a WordNet sense, or one a
    kind of the other ("a poem" / "a haiku"; "a haiku" / "a limerick" are two kinds). A
    word WordNet lacks is told apart only from another it lacks ("regex" / "expression"
    may be one thing; "json" / "yaml" are two)."""
    if a == b or any(a in same and b in same for same in _SAME_THINGS):
        return True
    na, nb = wn.noun(a), wn.noun(b)
    if na is None or nb is None:
        return (na is None) != (nb is None) or SequenceMatcher(None, a, b).ratio() >= 0.8
    if na == nb:
        return True
    sa, _ = wn.kinship(na)
    sb, _ = wn.kinship(nb)
    return bool(sa & sb or sa & wn.ancestors(nb) or sb & wn.ancestors(na))


def _outputs_agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Two outputs agree if their heads do, or they share a word ("a more formal tone" /
    "more formal")."""
    return _nouns_agree(a[-1], b[-1]) or any(
        _prefix(x, y) >= min(5, len(x), len(y)) for x in a for y in b
    )


def _made_by(output: tuple[str, ...], verb: str) -> bool:
    """A made thing that names the other side's task: "a summary" / "summarise", "a
    reply" / "reply", "a description" / "describe", "an outline" / "outline", "shorter"
    / "shorten"."""
    head = output[-1]
    if any(_prefix(w, verb) >= min(5, len(w), len(verb)) for w in output):
        return True
    if head in _TASK_NOUNS:
        return _verbs_agree(_TASK_NOUNS[head], verb)
    return head in wn.wordnet().verb_senses and _verbs_agree(head, verb)


def _reviews_for_faults(a: Instruction, b: Instruction) -> bool:
    """``a`` reviews the text and ``b`` finds its faults ("review" / "find the bugs in")."""
    return (
        a.verb in _REVIEWING
        and _JOB.get(b.verb) == _JOB["find"]
        and b.obj is not None
        and b.obj[-1] in _FAULTS
    )


def _agree(a: Instruction, b: Instruction) -> bool:
    if a.output is not None and b.output is not None:
        return _outputs_agree(a.output, b.output)
    if a.output is None and b.output is None:
        if a.verb in _MAKING or b.verb in _MAKING:
            return True  # "make this shorter": what it makes is not named
        # "leave comments on" / "comment on": what one does is the other's verb
        return (
            _verbs_agree(a.verb, b.verb)
            or _reviews_for_faults(a, b)
            or _reviews_for_faults(b, a)
            or (a.obj is not None and _made_by(a.obj, b.verb))
            or (b.obj is not None and _made_by(b.obj, a.verb))
        )
    made, other = (a, b) if a.output is not None else (b, a)
    if other.verb in _MAKING:
        return True  # "make this more formal" names no output to compare
    assert made.output is not None
    # a verb sending the text on may be the other's verb ("translate" / "translate into
    # French"); a verb making something is judged by what it makes alone ("make" shares
    # a WordNet sense with "fix": "fix dinner")
    return _made_by(made.output, other.verb) or (
        made.verb not in _MAKING and _verbs_agree(made.verb, other.verb)
    )


def _said(ins: Instruction) -> str:
    return ins.verb if ins.output is None else f"{ins.verb} {' '.join(ins.output)}"


def _has(text: str, verb: str) -> bool:
    """Whether ``verb`` is a word of ``text`` as the instruction reader splits it: most
    verbs are no part of the other text at all, said by a search in C, and the text is
    split only if they are."""
    lowered = text.lower()
    return verb in lowered and verb in _TOKENS.findall(lowered)


def task_differs(q: Features, c: Features, query: str, candidate: str) -> str | None:
    """Why the two texts ask for different tasks, or None (the same, or not told): their
    instructions, read with their features (``Features.tasks``)."""
    if not q.tasks or not c.tasks:
        return None  # most prompts: a question, no instruction
    q_ins, c_ins = q.tasks, c.tasks
    if q_ins == c_ins:
        return None  # the same instructions (a pasted text's own read on both sides)
    # an instruction whose verb the other side has too is no other task: the same
    # pasted text read at another place ("What does this query do? SELECT ..." /
    # "Explain this query: SELECT ...")
    q_verbs = {i.verb for i in q_ins}
    c_verbs = {i.verb for i in c_ins}
    only_q = [
        i for i in q_ins if i not in c_ins and (i.verb in c_verbs or not _has(candidate, i.verb))
    ]
    only_c = [i for i in c_ins if i not in q_ins and (i.verb in q_verbs or not _has(query, i.verb))]
    if not only_q and not only_c:
        return None
    if not only_q or not only_c:
        # one side asks for one more thing: refused only when it is joined to a task
        # both ask for ("translate it" / "translate it and explain the grammar")
        extra = only_q or only_c
        if all(i.joined and i.given for i in extra):
            shared = [i for i in q_ins if i in c_ins]
            return "task differs: " + (
                f"{' and '.join(_said(i) for i in [*shared, *extra])} vs "
                f"{' and '.join(_said(i) for i in shared)}"
            )
        return None
    for a, b in zip(only_q, only_c, strict=False):
        # two requests acting on no given text ("set a reminder" / "remind me", "email
        # Sarah the invoice" / "send ...") are commands WordNet often fails to relate,
        # and another object there is the other guards' to judge
        if a.given and b.given and not _agree(a, b):
            return f"task differs: {_said(a)} vs {_said(b)}"
        if a.given and b.given and _one_more_thing(a, b):
            return f"task differs: {a.verb} {_show_obj(a)} vs {b.verb} {_show_obj(b)}"
    return None


def _one_more_thing(a: Instruction, b: Instruction) -> bool:
    """One verb on one text, one side acting on one more thing joined to what both act
    on ("detect the language and sentiment of" / "detect the language of")."""
    if a.verb != b.verb or a.obj is None or b.obj is None:
        return False
    more, fewer = (a.obj, b.obj) if len(a.obj) > len(b.obj) else (b.obj, a.obj)
    return "and" in more and "and" not in fewer and set(fewer) < set(more)


def _show_obj(ins: Instruction) -> str:
    return " ".join(ins.obj or ())


class TaskGuard:
    """Another task on the same text ("summarise" / "translate this email", "give me
    three titles" / "a summary for this post") is another answer: the instructions
    each side gives (:func:`task_differs`), then the verb opening both sides when it is
    the first word that differs (``relations.opening_task_differs``: "List" / "Count
    the countries in: ...", which reads no pasted text's marker)."""

    name = "task"

    def check(self, query: str, candidate: str) -> str | None:
        return self.judge(*pair(query, candidate), query, candidate)

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        """:meth:`check` on both texts' features (the verifier's, fetched once a pair)."""
        return (
            task_differs(q, c, query, candidate)
            or opening_task_differs(q, c)
            or asked_of_text_differs(q, c, query, candidate)
        )


# --- what is asked of one given text -------------------------------------------------
# "List the names in this paragraph: <text>" / "Where did the meeting in this paragraph
# take place: <text>?": the same text after a colon, and a request before it that the
# instruction reader sees on one side only (the other is a question about the text).
# Each request is read on its own: its content words, without the words every request
# has ("what", "give me", "please"), the pointer at the text and the text's kind ("this
# *paragraph*", "these *meeting notes*"). Two requests on one text that share no content
# word, by its stem or by WordNet (a sense, a kind, a sibling two levels up), ask two
# things of it; a question "what does this mean / do / say" asks for an explanation.
_WORDS = re.compile(r"[a-z0-9][a-z0-9'\-]*|[:.!?\n]")
_SENTENCE_ENDS = frozenset(".!?\n")
_REQUEST_WORDS = (
    frozenset(
        """a an the of in on at to for from by with about into as and or but so than then
    what which who whom whose when where why how whether if is are was were be been am
    do does did done have has had can could would will shall should may might must
    i me my we us our you your it its they them their he she his her one ones
    please kindly just also really very quite some any all each every this these that
    those following above below there here not no yes tell let know want need like
    what's it's that's there's""".split()
    )
    | _MAKING
)
_POINTED = frozenset("this these that those following above below".split())
_TEXT_KIND_ENDS = frozenset(
    "a an the of in on at to for from by with about into as and or but is are was were "
    "does do did has have could would can will should".split()
)
_MEANING_VERBS = frozenset("mean means say says do does".split())
_DOES = frozenset("do does did".split())
_EXPLAINING = ("explain", "describe", "mean")


def _marks(words: list[str]) -> list[int]:
    """Where a given text may start: after a colon, or after a line break that ends a
    request pointing at it ("Summarise the following email.\n<text>")."""
    found = []
    for i, w in enumerate(words):
        if w == ":":
            found.append(i)
        elif w == "\n" and i and words[i - 1] == ".":
            start = max((k + 1 for k in range(i - 1) if words[k] in _SENTENCE_ENDS), default=0)
            if not _POINTED.isdisjoint(words[start : i - 1]):
                found.append(i)
    return found


def _given_split(q_words: list[str], c_words: list[str]) -> tuple[list[str], list[str]] | None:
    """The two requests before a text both sides give after a colon or a request's line
    (at least three words alike, punctuation aside), or None."""
    c_marks = _marks(c_words)
    if not c_marks:
        return None
    for i in _marks(q_words):  # the first mark that agrees: the longest text given
        tail = [w for w in q_words[i + 1 :] if w not in _SENTENCE_ENDS]
        if len(tail) < 3:
            break
        for j in c_marks:
            if [w for w in c_words[j + 1 :] if w not in _SENTENCE_ENDS] == tail:
                return q_words[:i], c_words[:j]
    return None


def _says_of_it(word: str) -> bool:
    """An adjective or adverb after the text's kind says what is asked of it ("this review
    *positive*", "this sentence *grammatically* correct")."""
    return word in wn.wordnet().adjective_senses or word.endswith("ly")


def _request_words(head: list[str]) -> frozenset[str]:
    """The content words of the last sentence of a request (see above)."""
    end = len(head)
    while end and head[end - 1] in _SENTENCE_ENDS:
        end -= 1  # "Summarise the following email.\n<text>": the request ends at its stop
    start = max((i + 1 for i, w in enumerate(head[:end]) if w in _SENTENCE_ENDS), default=0)
    words = head[start:end]
    kept: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word in _POINTED:  # "this paragraph", "these meeting notes": the text itself,
            # not what is said of it ("this review *positive*", "this headline *true*")
            first = i
            while (
                i < len(words)
                and words[i] not in _TEXT_KIND_ENDS
                and words[i] != ":"
                and (i == first or not _says_of_it(words[i]))
            ):
                i += 1
            if i == len(words) and i - first > 1 and _DOES.intersection(words[: first - 1]):
                # "what does this python code *print*": after "does", the pointed
                # phrase ends in the verb asked about, not in the text's kind
                kept.add(words[i - 1])
            continue
        if word not in _REQUEST_WORDS and not word[0].isdigit() and len(word) > 1:
            kept.add(word)
    if words and words[0] in ("what", "which") and _MEANING_VERBS & set(words[-2:]):
        kept.update(_EXPLAINING)  # "what does this error mean", "what does this command do"
    return frozenset(kept)


def _up(senses: frozenset[int], levels: int = 2) -> frozenset[int]:
    """The hypernyms of any of ``senses``, up to ``levels`` up."""
    graph = wn.wordnet().hypernyms
    found: set[int] = set()
    for _ in range(levels):
        senses = frozenset(p for s in senses for p in graph.get(str(s), ()))
        found |= senses
    return frozenset(found)


@lru_cache(maxsize=4096)
def _related(a: str, b: str) -> bool:
    """Two content words of requests that may name one thing: one stem (or five letters
    alike: "grammar" / "grammatically"), one job (:data:`_JOBS`), a WordNet verb sense
    shared by any of their forms, or a noun sense shared, one a kind of the other, two
    levels up ("abstract" / "summary"), or two kinds of one thing ("title" / "headline")."""
    if stem(a) == stem(b) or _prefix(a, b) >= min(5, len(a), len(b)):
        return True
    if {a, b} <= set(_EXPLAINING):
        return True
    lexicon = wn.wordnet()
    for x in wn.lemmas(a):
        for y in wn.lemmas(b):
            if one_job(x, y) or _TASK_NOUNS.get(x) == y or _TASK_NOUNS.get(y) == x:
                return True
            vx, vy = lexicon.verb_senses.get(x), lexicon.verb_senses.get(y)
            if vx is not None and vy is not None and wn.senses_of(vx)[0] & wn.senses_of(vy)[0]:
                return True
            nx, ny = wn.noun(x), wn.noun(y)
            if nx is not None and ny is not None:
                sx, sy = wn.kinship(nx)[0], wn.kinship(ny)[0]
                if sx & sy or sx & _up(sy) or sy & _up(sx) or _up(sx, 1) & _up(sy, 1):
                    return True
    return False


def asked_of_text_differs(q: Features, c: Features, query: str, candidate: str) -> str | None:
    """Why two requests about one given text ask two things of it, where one side (or
    neither) gives an instruction the instruction reader finds; None if not told."""
    if not (":" in query or ".\n" in query) or not (":" in candidate or ".\n" in candidate):
        return None
    if any(i.given for i in q.tasks) and any(i.given for i in c.tasks):
        return None  # two instructions: compared by :func:`task_differs`
    split = _given_split(_WORDS.findall(query.lower()), _WORDS.findall(candidate.lower()))
    if split is None:
        return None
    q_words, c_words = map(_request_words, split)
    if not q_words or not c_words or q_words & c_words:
        return None
    if any(_related(a, b) for a in q_words for b in c_words):
        return None
    return f"task differs: {_show(q_words)} vs {_show(c_words)} of the same text"


def _show(words: frozenset[str]) -> str:
    return " ".join(sorted(words))
