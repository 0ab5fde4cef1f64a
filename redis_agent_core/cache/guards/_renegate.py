"""A pair's negations and wholes written one way: a negation, a count of none or a whole
that one side says in other words than the other, rewritten into the other side's words.

The guards count negators and the pair scorer reads word pieces: "Are pets prohibited on
the train?" / "are pets not allowed on the train" held one negator against none, and the
scorer gave "List customers with no orders" / "List the customers with zero orders" 0.00.
The verifier asks the guards, and then the scorer, again about the pair :func:`renegated`
rewrites (only about a pair refused as written), so the rest of the pair is still judged;
a pair that becomes the same words but for its articles is served.

A side is rewritten only into words the other side has, in these readings:

- "not X" (contractions read as "not") into the other side's one word for it: ``X`` with a
  negating prefix ("not safe" / "unsafe", "not vegan" / "non-vegan", "not allowed" /
  "disallowed") or one of the few words of a ban against one of permission ("not
  permitted" / "prohibited", "illegal": contradictories, unlike most antonyms: "not hot"
  is not "cold");
- "no X" / "without X" into the other side's "X-free" / "X free" / "no-X";
- "zero X" / "0 X" / "none of (the) X" into the other side's "no X", "all (of the) X" /
  "each (of the) X" into its "every X", an auxiliary beside a plural made singular
  agreeing ("do all employees" / "does every employee");
- an ISO date ("2024-01-05") as the other side writes that day ("January 5, 2024").
- "against the law" into the other side's one word of a ban ("illegal", "unlawful"); "has
  no value" / "have no items" (what a container holds) into its "is empty" / "are empty";
  "not be enforced" / "never be recovered" into its "be unenforceable" / "be
  unrecoverable" (a participle's "-able" word with a negating prefix).

Where the other side offers two words for one place, nothing is rewritten there.
"""

from __future__ import annotations

import re

from . import _lexicon as lex
from ._features import ISO_DATE
from ._stem import stem
from ._wordnet import wordnet

__all__ = ["renegated"]

_TOKEN = re.compile(r"[^\W_]+(?:['\u2019-][^\W_]+)*")
_CONTRACTED = re.compile(r"\b(\w+?)(n['\u2019]t)\b", re.IGNORECASE)
_IRREGULAR = {"ca": "can", "wo": "will", "sha": "shall", "ai": "is"}
_PREFIXES = ("non-", "non", "un", "dis", "in", "im", "il", "ir")
# a ban, and the permission "not" takes back: contradictories ("not allowed" is
# "forbidden"; most antonyms are contraries: "not hot" is not "cold")
_BANNED = frozenset(
    stem(w)
    for w in """forbidden forbid prohibited prohibit banned ban disallowed disallow illegal
    unlawful""".split()
)
_PERMITTED = frozenset(stem(w) for w in "allowed allow permitted permit legal lawful".split())
_QUANTIFIED = frozenset({"no", "every"})
_NONE = frozenset({"zero", "0", "none of the", "none of"})
_QUANTIFIER = re.compile(
    r"\b(zero|0|none of the|none of|all of the|all the|all|each of the|each)\s+([^\W_]+)",
    re.IGNORECASE,
)
_SINGULAR = {"do": "does", "are": "is", "have": "has", "were": "was"}
_AUX_BEFORE = re.compile(r"\b(\w+)\s+$")
_AUX_AFTER = re.compile(r"\s+(\w+)\b")
_FREE = re.compile(r"([^\W_]+)(?:-| )free\b|\bno-([^\W_]+)", re.IGNORECASE)


def _thing(word: str) -> str:
    """A noun's singular as WordNet lists it ("employees" -> "employee"), else its stem."""
    lower = word.lower()
    nouns = wordnet().nouns
    for cut, add in (("ies", "y"), ("es", ""), ("s", "")):
        if lower.endswith(cut) and lower[: -len(cut)] + add in nouns:
            return lower[: -len(cut)] + add  # ("rooms" is a noun of its own too)
    return lower if lower in nouns else stem(lower)


def _uncontracted(text: str) -> str:
    """``text`` with "n't" written "not" ("aren't" -> "are not", "can't" -> "can not")."""
    return _CONTRACTED.sub(lambda m: _IRREGULAR.get(m.group(1).lower(), m.group(1)) + " not", text)


def _negated(word: str, bare: str) -> bool:
    """Whether ``word`` says "not ``bare``" in one word."""
    if stem(word) in _BANNED and stem(bare) in _PERMITTED:
        return True
    for p in _PREFIXES:
        if word.startswith(p) and len(word) - len(p) >= 3:
            rest = word[len(p) :]
            if rest == bare or stem(rest) == stem(bare):
                # a prefix that does not negate: "inflammable" is flammable, "invaluable"
                # very valuable. A word WordNet knows negates only where it lists the two
                # as antonyms ("unsafe", "invalid", "illegal"); one it does not know
                # ("non-vegan") is read by its prefix.
                wn = wordnet()
                if stem(bare) in wn.antonyms.get(stem(word), ()):
                    return True
                return word not in wn.adjective_senses
    return False


def _rewrite(text: str, other: str) -> str:
    """``text`` with each "not X" / "no X" / "without X" written as ``other`` says it in
    one word, where it does."""
    tokens = list(_TOKEN.finditer(text))
    words = [m.group(0).lower() for m in tokens]
    theirs = list(_TOKEN.finditer(other))
    their_words = {m.group(0).lower() for m in theirs}
    mine = set(words)
    edits: list[tuple[int, int, str]] = []
    for i in range(len(tokens) - 1):
        neg, bare = words[i], words[i + 1]
        if neg == "not":
            if bare in their_words:
                continue
            found = {
                m.group(0)
                for m in theirs
                if m.group(0).lower() not in mine and _negated(m.group(0).lower(), bare)
            }
        elif neg in ("no", "without"):
            # "no X" / "without X" against "X-free" / "X free" / "no-X"
            found = {
                m.group(0)
                for m in _FREE.finditer(other)
                if stem((m.group(1) or m.group(2)).lower()) == stem(bare)
            }
        else:
            continue
        if len(found) == 1:
            edits.append((tokens[i].start(), tokens[i + 1].end(), found.pop()))
    # a count of none or a whole said another way ("zero orders", "none of the
    # containers" / "no container"; "all of the employees" / "every employee") as the
    # other side's "no X" / "every X"
    said: dict[tuple[str, str], str] = {}
    for k in range(len(theirs) - 1):
        head = theirs[k].group(0).lower()
        if head in _QUANTIFIED:
            said.setdefault((head, _thing(theirs[k + 1].group(0))), theirs[k + 1].group(0))
    if said:
        for m in _QUANTIFIER.finditer(text):
            head = "no" if m.group(1).lower() in _NONE else "every"
            thing = said.get((head, _thing(m.group(2))))
            if thing is None or m.group(1).lower() == head:
                continue
            edits.append((m.start(), m.end(), f"{head} {thing}"))
            if thing.lower() == m.group(2).lower():
                continue  # ("zero orders" / "no orders": the verb agrees already)
            # the auxiliary before or after a plural made singular agrees with it ("do all
            # employees" / "does every employee", "none of the buckets are" / "no bucket
            # is")
            for aux in (
                _AUX_BEFORE.search(text, 0, m.start()),
                _AUX_AFTER.match(text, m.end()),
            ):
                if aux is not None and aux.group(1).lower() in _SINGULAR:
                    edits.append((aux.start(1), aux.end(1), _SINGULAR[aux.group(1).lower()]))
    edits += _phrased(text, mine, theirs)
    out = text
    for start, end, written in sorted(edits, reverse=True):
        out = out[:start] + written + out[end:]
    return out


# "against the law" is the other side's one word of a ban ("illegal", "unlawful")
_AGAINST_LAW = re.compile(r"\bagainst the law\b", re.IGNORECASE)
# "has no value" / "have no items" is the other side's "is empty" / "are empty": what a
# container holds, said as nothing held
_HAS_NONE = re.compile(
    r"\b(has|have|had)\s+no\s+(?:values?|elements?|items?|entries|entry|contents?|data|rows?"
    r"|records?|text|characters?)\b",
    re.IGNORECASE,
)
_EMPTY_VERB = {"has": "is", "have": "are", "had": "was"}
# "not be enforced" / "never be recovered" is the other side's "unenforceable" /
# "irrecoverable": a passive's negation as its verb's "-able" word with a negating prefix
_NOT_BE = re.compile(r"\b(?:not|never)\s+be\s+([^\W_]+(?:ed|en))\b", re.IGNORECASE)


def _unable(word: str, verb: str) -> bool:
    """Whether ``word`` is ``verb`` (a participle) made "-able" and negated by a prefix
    ("unenforceable" / "enforced", "irreversible" / "reversed")."""
    for p in ("un", "in", "im", "ir", "il", "non-", "non"):
        rest = word[len(p) :]
        if word.startswith(p) and rest.endswith(("able", "ible")) and len(rest) > 6:
            root = rest[:-4]
            if stem(root) == stem(verb) or stem(root + "e") == stem(verb):
                # as for one word ("invaluable" is very valuable, not "not valued")
                return _negated(word, rest)
    return False


def _phrased(text: str, mine: set[str], theirs: list[re.Match[str]]) -> list[tuple[int, int, str]]:
    """Edits that write a negation ``text`` says in a phrase as the other side's one word
    ("against the law" / "illegal", "has no values" / "is empty", "can not be enforced"
    / "unenforceable"), where the other side has exactly one such word and ``text`` none."""
    edits: list[tuple[int, int, str]] = []
    their_words = {m.group(0).lower() for m in theirs} - mine
    if "law" in mine:
        bans = {w for w in their_words if stem(w) in _BANNED}
        if len(bans) == 1:
            ban = bans.pop()
            edits += [(m.start(), m.end(), ban) for m in _AGAINST_LAW.finditer(text)]
    if "no" in mine and "empty" in their_words:
        edits += [
            (m.start(), m.end(), f"{_EMPTY_VERB[m.group(1).lower()]} empty")
            for m in _HAS_NONE.finditer(text)
        ]
    if "be" in mine and ("not" in mine or "never" in mine):
        for m in _NOT_BE.finditer(text):
            found = {w for w in their_words if _unable(w, m.group(1).lower())}
            if len(found) == 1:
                edits.append((m.start(), m.end(), f"be {found.pop()}"))
    return edits


def _dated(text: str, other: str) -> str:
    """``text`` with each ISO date ("2024-01-05") written as ``other`` writes that day
    ("January 5, 2024", "5 January 2024")."""
    if ISO_DATE.search(text) is None:
        return text

    def written(m: re.Match[str]) -> str:
        year, month, day = m.group(1), lex.MONTHS[int(m.group(2)) - 1], str(int(m.group(3)))
        said = re.search(
            rf"\b(?:{month}\s+{day}(?:st|nd|rd|th)?,?\s+{year}|{day}(?:st|nd|rd|th)?\s+"
            rf"(?:of\s+)?{month},?\s+{year})\b",
            other,
            re.IGNORECASE,
        )
        return m.group(0) if said is None else said.group(0)

    return ISO_DATE.sub(written, text)


def renegated(a: str, b: str) -> tuple[str, str]:
    """``a`` and ``b`` with a negation one side says in one word written as the other
    side says it (see the module's docstring); the texts themselves when there is none."""
    da, db = _dated(a, b), _dated(b, a)
    ua, ub = _uncontracted(da), _uncontracted(db)
    ra, rb = _rewrite(ua, ub), _rewrite(ub, ua)
    if ra == ua and rb == ub:
        return da, db  # (the texts themselves but for a date written as the other side does)
    return ra, rb
