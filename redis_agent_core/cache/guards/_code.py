"""Code inside a prompt: operators and identifiers, which the word parser does not see.

Agent prompts carry code, SQL and JSON (a diff to review, a query to explain, a filter to
write). The guards' words are letters and digits, so ``>=`` / ``<``, ``/`` / ``//``,
``+=`` / ``-=``, ``u.active`` / ``!u.active`` read as the same text, and ``created_at`` /
``signup_date`` as two plain phrases; the embedding puts such pairs 0.01 apart. Here a
text is read as tokens (words, code identifiers, operators) and the two texts' tokens are
aligned: a place where only code tokens differ, or where an operator stands on one side
alone, is another program or query, whatever the prose around it says.

Operators count only where they are code: not at the start of a line (a bullet, a diff's
``+`` / ``-`` marker, a quote's ``>``), not an HTML-like tag (``<context>``), not a dash
(``-``, ``--``: prose uses them), not ``*`` / ``**`` / ``/`` / ``+`` touching a word
(markdown emphasis, "and/or", "C++" is a word's part), not ``!`` ending a sentence.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher
from functools import lru_cache

from ._features import per_text
from ._spans import _common_prefix, _common_suffix

__all__ = ["arguments_reordered", "code_changed", "indentation_changed", "relaid"]

# an e-mail address (an identifier), a word (hyphens, dots and slashes inside it keep it
# one word: "fourth-largest", "u.active", "app/auth.py"), a number (with its separators:
# "14:00", "2025-04-18"), or a run of operator characters
_TOKEN = re.compile(
    r"(?P<mail>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?P<word>[A-Za-z_][\w']*(?:[-./][A-Za-z_]\w*)*)"
    r"|(?P<num>\d+(?:[.,:/-]\d+)*)"
    r"|(?P<op>[<>=!+\-*/%&|^~]+)"
)
_TAG = re.compile(r"</?[A-Za-z][\w-]*>")  # <context>, </passage>: template markup
# what a text holding an operator or a code identifier we count has somewhere: one of
# these characters, a spaced operator, or a dotted name (prose, "Thanks!", "and/or", "U.S.",
# has none): substring tests in C, no tokenizing
_CODE_MARKS = ("<", ">", "=", "&", "|", "@", "_", "!", " + ", " / ", " // ", " * ", " ** ")
_DOT = re.compile(r"\.[A-Za-z_]")
# operators that count only with blanks on both sides ("total / len", "a * b"): touching a
# word they are part of it or markup ("and/or", "**bold**", "C++")
_SPACED = frozenset({"+", "/", "//", "*", "**"})


# the one-character marks of _CODE_MARKS: one scan led by a class (the engine skips to
# them); the spaced operators are looked for only in a text with "+", "/" or "*"
_MARK_CHARACTER = re.compile(r"[<>=&|@_!]")


@per_text
@lru_cache(maxsize=4096)  # a query is checked once for all its candidates
def _hinted(text: str) -> bool:
    # (any of _CODE_MARKS in the text: a test per mark in a generator cost ≈ 3 µs a text)
    if _MARK_CHARACTER.search(text) is not None:
        return True
    if ("+" in text or "/" in text or "*" in text) and (
        " + " in text or " / " in text or " // " in text or " * " in text or " ** " in text
    ):
        return True
    return "." in text and any(
        text[m.start() - 1 : m.start()].isalpha() for m in _DOT.finditer(text)
    )


def _is_identifier(word: str) -> bool:
    """A code name: snake_case ("created_at") or a dotted name ("user.password_hash")."""
    inner = word.strip("_")
    return "_" in inner or ("." in word and not word.endswith("."))


def _counts(text: str, start: int, end: int, op: str) -> bool:
    """Whether the operator ``op`` at ``text[start:end]`` is code (see the module doc)."""
    line = text.rfind("\n", 0, start) + 1
    if not text[line:start].strip():
        return False  # first on its line: a bullet, a diff marker, a quote marker
    if "<" in op or ">" in op or "=" in op or op in ("&&", "||"):
        return True
    if op == "!":  # prefix not ("!u.active", "!(a && b)"), not an exclamation mark
        return end < len(text) and (text[end].isalnum() or text[end] in "_(")
    if op in _SPACED:
        return text[start - 1 : start].isspace() and text[end : end + 1].isspace()
    return False


@per_text
@lru_cache(maxsize=1024)  # a query is read once for all its candidates
def _tokens(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``text``'s tokens (words lower-cased) and their kinds: "op" (an operator that
    counts), "id" (a code identifier), "w" (a word or number)."""
    text = _TAG.sub(" ", text)
    tokens: list[str] = []
    kinds: list[str] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        token = m.group()
        if kind == "op":
            if not _counts(text, m.start(), m.end(), token):
                continue
        elif kind == "mail" or (kind == "word" and _is_identifier(token)):
            kind = "id"
        else:
            kind = "w"
            token = token.lower().rstrip(".")
        tokens.append(token)
        kinds.append(kind)
    return tuple(tokens), tuple(kinds)


def code_changed(query: str, candidate: str) -> str | None:
    """Why two texts are other code: an operator or a code identifier replaced by another
    in the same place (only code tokens differ there), or an operator on one side alone
    (``!u.active`` / ``u.active``). None when no such place exists (words differ, or
    nothing does)."""
    if not (_hinted(query) or _hinted(candidate)):
        return None
    a, kinds_a = _tokens(query)
    b, kinds_b = _tokens(candidate)
    if a == b or not ({"op", "id"} & (set(kinds_a) | set(kinds_b))):
        return None
    # the shared ends aligned at once (most pairs differ in one place): only the middle
    # goes to the matcher
    head = _common_prefix(a, b)
    tail = _common_suffix(a, b, min(len(a), len(b)) - head)
    a, kinds_a = a[head : len(a) - tail], kinds_a[head : len(kinds_a) - tail]
    b, kinds_b = b[head : len(b) - tail], kinds_b[head : len(kinds_b) - tail]
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        mine, theirs = kinds_a[i1:i2], kinds_b[j1:j2]
        if mine and theirs:
            if "w" not in mine and "w" not in theirs:
                return f"code differs ({' '.join(a[i1:i2])!r} vs {' '.join(b[j1:j2])!r})"
        elif all(k == "op" for k in mine + theirs):
            alone = " ".join(a[i1:i2] or b[j1:j2])
            return f"an operator on one side only ({alone!r})"
    return None


# a call written in a prompt: a name (dotted or not) and its arguments, none nested
_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\(([^()\n]{1,200})\)")


def _calls(text: str) -> dict[str, list[tuple[str, ...]]]:
    calls: dict[str, list[tuple[str, ...]]] = {}
    for m in _CALL.finditer(text):
        args = tuple(a.strip() for a in m.group(2).split(","))
        if len(args) > 1 and all(args):
            calls.setdefault(m.group(1), []).append(args)
    return calls


def arguments_reordered(query: str, candidate: str) -> str | None:
    """Why two texts call one function on the same arguments in another order
    ("diff(old, new)" / "diff(new, old)", "pow(2, 10)" / "pow(10, 2)"): arguments are
    bound by their place, so another call, whatever the words around it say."""
    if "(" not in query or "(" not in candidate or "," not in query or "," not in candidate:
        return None
    theirs = _calls(candidate)
    if not theirs:
        return None
    for name, calls in _calls(query).items():
        for args in calls:
            for other in theirs.get(name, ()):
                if args != other and sorted(args) == sorted(other):
                    return (
                        f"arguments in another order ({name}({', '.join(args)}) vs "
                        f"{name}({', '.join(other)}))"
                    )
    return None


def _layout(text: str) -> tuple[list[str], list[int]]:
    """``text``'s non-blank lines (their words joined by one space) and each one's
    indentation (tabs as 4 columns)."""
    lines, widths = [], []
    for line in text.expandtabs(4).splitlines():
        if words := line.split():
            lines.append(" ".join(words))
            widths.append(len(line) - len(line.lstrip()))
    return lines, widths


def _ranks(widths: list[int]) -> list[int]:
    """Each indentation's rank among the text's own: a re-indent by 2 instead of 4 keeps them."""
    order = {w: i for i, w in enumerate(sorted(set(widths)))}
    return [order[w] for w in widths]


def indentation_changed(query: str, candidate: str) -> str | None:
    """Why two texts with the same words are other code: the same lines indented otherwise
    (a line moved into or out of a block: in Python or YAML another program). A uniform
    re-indent (2 spaces for 4) keeps each line's rank and is no change."""
    lines_q, widths_q = _layout(query)
    lines_c, widths_c = _layout(candidate)
    if lines_q != lines_c:
        return None
    for line, x, y in zip(lines_q, _ranks(widths_q), _ranks(widths_c), strict=True):
        if x != y:
            return f"the same lines indented otherwise ({line[:40]!r}): another block structure"
    return None


def relaid(query: str, candidate: str) -> bool:
    """Whether two texts with the same words are one text laid out otherwise: the same
    lines indented alike (up to a uniform re-indent), or text with no indented line
    wrapped at other places (prose, extra spaces, blank lines). Code re-wrapped is not."""
    lines_q, widths_q = _layout(query)
    lines_c, widths_c = _layout(candidate)
    if lines_q == lines_c:
        return _ranks(widths_q) == _ranks(widths_c)
    return not (any(widths_q) or any(widths_c))
