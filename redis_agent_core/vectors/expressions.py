"""Filters compiled to RediSearch clauses: :func:`compile_filter` takes the pack's
filters (:mod:`.filters`), dicts and redisvl ``FilterExpression``s, read back here into
the pack's escaped filter form (filters.py builds the nodes and leaf clauses and imports
nothing from here, so the two modules form no import cycle).

A redisvl expression renders tag values raw (backslash-escaped), but the index stores
them escaped (:func:`~redis_agent_core.tags.tag_value`): passed through as is,
``Tag("city") == "New York"`` matched nothing and ``Tag("city") == ["New York",
"Boston"]`` only Boston. Expressions only keep their rendered text, so each leaf is
parsed (``Tag ==/!=/%`` with one value or a list, ``Num`` comparisons and
``between``, ``Text ==/!=/%``, ``Geo ==/!=``, ``is_missing()``, ``Timestamp``) and
compiled like the equivalent :class:`~redis_agent_core.vectors.F` filter, with the
same field checks; ``&`` and ``|`` combine as usual. A leaf that cannot be read (a
hand-written ``FilterExpression("...")``) raises :class:`FilterError` showing the
dict form to use instead: never a silently empty result. Nor a silently unfiltered one:
a leaf redisvl rendered as ``"*"`` (its value was empty, None or ``[]``) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from redisvl.query.filter import FilterExpression
from redisvl.query.filter import FilterOperator as _Op

from .filters import (
    ALL,
    And,
    Condition,
    Filter,
    FilterError,
    Not,
    Or,
    any_of,
    check_field,
    compile_condition,
    every,
    from_dict,
    stopwords_of,
    tag_text,
)

__all__ = ["compile_expression", "compile_filter"]

Fields = Mapping[str, tuple[str, bool]]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_TAG = re.compile(rf"^(\(-)?@({_NAME}):\{{(.*)\}}(\))?$", re.S)
_RANGE = re.compile(rf"^(\(-)?@({_NAME}):\[([^\]]*)\](\))?$")
_TEXT = re.compile(rf'^(\(-)?@({_NAME}):(\("(.*)"\)|"(.*)"|\((.*)\))(\))?$', re.S)
_MISSING = re.compile(rf"^ismissing\(@({_NAME})\)$")
_UNITS = ("m", "km", "mi", "ft")
_INT = re.compile(r"[-+]?\d+")
# Characters redisvl always backslash-escapes in a tag value: unescaped in a tag body,
# they are query syntax, so the leaf is not one redisvl rendered (e.g. a hand-written
# "@a:{x} @b:{y}"); its values would be read wrong, so it is refused.
_TAG_SYNTAX = frozenset(",.<>{}[]\"':;!@#$%^&()-+=~/ ")
# One term of a Text % pattern: a word (a letter or digit in it: a lone "_" is a
# syntax error) with an optional '*' at either end, or a word in %...% (fuzzy).
_LIKE_WORD = r"\w*[^\W_]\w*"
_LIKE_TERM = re.compile(rf"\*?{_LIKE_WORD}\*?|(%{{1,3}}){_LIKE_WORD}\1")


def compile_filter(
    filter: Filter | Mapping[str, Any] | FilterExpression | None,
    fields: Mapping[str, tuple[str, bool]],
) -> str | None:
    """Render ``filter`` as a RediSearch query clause.

    ``fields`` maps each filterable field to ``(type, case_sensitive)``. Returns
    ``"*"`` for "everything" and ``None`` for "nothing can match" (e.g. ``in []``), in
    which case callers skip the round trip. A redisvl ``FilterExpression`` is read back
    into the same form (:mod:`.expressions`: its tag values escaped, its fields
    checked); a plain string is refused (it would be unescaped user input).
    """
    if filter is None:
        return ALL
    if isinstance(filter, FilterExpression):
        return compile_expression(filter, fields)
    if isinstance(filter, str):
        raise FilterError(
            "raw query strings are not accepted as filters (they are not escaped); use "
            "F('field') == value, a dict like {'field': value}, or a redisvl FilterExpression"
        )
    if isinstance(filter, Mapping):
        filter = from_dict(filter)
    return _compile(filter, fields)


def _compile(node: Filter, fields: Mapping[str, tuple[str, bool]]) -> str | None:
    if isinstance(node, Condition):
        return compile_condition(node, fields)
    if isinstance(node, And):
        return every([_compile(n, fields) for n in node.filters])
    if isinstance(node, Or):
        return any_of([_compile(n, fields) for n in node.filters])
    if isinstance(node, (FilterExpression, Mapping)):  # nested in And/Or/Not
        return compile_filter(node, fields)
    if isinstance(node, Not):
        inner = _compile(node.filter, fields)
        if inner is None:
            return ALL
        if inner == ALL:
            return None
        return f"(-{inner})"
    raise FilterError(f"not a filter: {node!r}; use F(...), Condition/And/Or/Not, or a dict filter")


def compile_expression(expr: FilterExpression, fields: Fields) -> str | None:
    """The RediSearch clause of a redisvl expression over the pack's indexed form
    (``"*"``: everything, ``None``: nothing can match)."""
    operator = getattr(expr, "_operator", None)
    if operator in (_Op.AND, _Op.OR):
        # redisvl keeps no public tree; `Tag(...) & F(...)` puts a pack filter in it
        sides = (expr._left, expr._right)
        if any(side is None for side in sides):
            raise FilterError(f"malformed redisvl filter expression {expr!r}")
        parts = [compile_filter(side, fields) for side in sides]
        return every(parts) if operator == _Op.AND else any_of(parts)
    leaf = getattr(expr, "_filter", None)
    if not isinstance(leaf, str) or not leaf:
        raise FilterError("an empty redisvl FilterExpression is not a filter; pass None")
    return _leaf(leaf.strip(), fields)


def _leaf(text: str, fields: Fields) -> str | None:
    if text == ALL:
        # redisvl renders a leaf whose value is "", None or [] (Tag == "", Num == None,
        # Text % "", ...) as "*": served, an empty tenant id would match every tenant,
        # even ANDed with other clauses (and delete them). The dict form refuses it too.
        raise FilterError(
            "a redisvl filter clause rendered as '*' (match everything): redisvl does "
            "this when the value is empty, None or [] (e.g. Tag('tenant') == ''), or for "
            "FilterExpression('*'). Check the value; for no filter at all pass filter=None"
        )
    for pattern, reader in _READERS:
        match = pattern.match(text)
        if match:
            return reader(match, text, fields)
    _unreadable(text)


def _unreadable(text: str) -> NoReturn:
    raise FilterError(
        f"cannot read the redisvl filter {text!r}: only expressions built with Tag, Num, "
        "Text, Geo and Timestamp (combined with & and |) are understood. Use the dict form "
        "instead, e.g. {'city': 'New York', 'year': {'$gte': 2020}}, or F('city') == 'New "
        "York'."
    )


def _field(name: str, text: str, fields: Fields, kinds: tuple[str, ...]) -> str:
    """The type of field ``name`` (one of ``kinds``), or the error naming the fix."""
    kind = check_field(name, fields)
    if kind not in kinds:
        raise FilterError(
            f"the redisvl filter {text!r} treats {name!r} as {' or '.join(kinds)}, but it "
            f"is a {kind} field of this index; build it with the matching redisvl class, "
            f"or use the dict form, e.g. {{{name!r}: ...}}"
        )
    return kind


def _negate(clause: str | None, negated: bool) -> str | None:
    if not negated:
        return clause
    if clause is None:
        return ALL
    return None if clause == ALL else f"(-{clause})"


def _split(body: str, sep: str) -> list[str]:
    """Split a backslash-escaped body on unescaped ``sep``; pieces stay escaped."""
    parts, current, i = [], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            current.append(body[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value, flags=re.S)


def _tag(match: re.Match[str], text: str, fields: Fields) -> str | None:
    negated, name, body = bool(match.group(1)), match.group(2), match.group(3)
    if negated != bool(match.group(4)):
        return _unreadable(text)
    _field(name, text, fields, ("tag",))
    if _TAG_SYNTAX.intersection(re.sub(r"\\.", "", body, flags=re.S)):
        return _unreadable(text)
    pieces = _split(body, "|")
    if any(_split(p, "*")[1:] for p in pieces):  # an unescaped '*': Tag % pattern
        return _negate(_patterns(name, pieces, fields), negated)
    values = [_unescape(p) for p in pieces]
    cond = Condition(name, "in", values) if len(values) > 1 else Condition(name, "eq", values[0])
    return _negate(compile_condition(cond, fields), negated)


def _patterns(name: str, pieces: list[str], fields: Fields) -> str:
    """``Tag % "New Y*"``: each literal run of a wildcard pattern in its escaped form
    (escaping is per character, so a prefix/infix/suffix of the value is one of its
    escaped form)."""
    case_sensitive = fields[name][1]
    out = []
    for piece in pieces:
        runs = [_unescape(r) for r in _split(piece, "*")]
        if not "".join(runs):
            raise FilterError(
                f"the wildcard pattern {piece!r} on {name!r} has no literal text; drop the "
                "filter to match everything"
            )
        out.append("*".join(tag_text(r, case_sensitive) if r else "" for r in runs))
    return f"@{name}:{{{'|'.join(out)}}}"


def _number(token: str, text: str) -> tuple[float | int, bool]:
    """A range bound: its value and whether it is exclusive (``(5``)."""
    exclusive = token.startswith("(")
    raw = token[1:] if exclusive else token
    if _INT.fullmatch(raw):
        return int(raw), exclusive
    try:
        return float(raw), exclusive
    except ValueError:
        _unreadable(text)


def _range(match: re.Match[str], text: str, fields: Fields) -> str | None:
    negated, name, body = bool(match.group(1)), match.group(2), match.group(3)
    if negated != bool(match.group(4)):
        return _unreadable(text)
    tokens = body.split()
    kind = _field(name, text, fields, ("numeric", "geo"))
    if kind == "geo":
        if len(tokens) != 4 or tokens[3] not in _UNITS:
            return _unreadable(text)
        lon, lat, radius = (_number(t, text)[0] for t in tokens[:3])
        clause = compile_condition(Condition(name, "geo_radius", (lon, lat, radius, tokens[3])),
                                   fields)  # fmt: skip
        return _negate(clause, negated)
    if len(tokens) != 2:
        return _unreadable(text)
    (low, low_open), (high, high_open) = _number(tokens[0], text), _number(tokens[1], text)
    if low == high and not (low_open or high_open):
        return compile_condition(Condition(name, "ne" if negated else "eq", low), fields)
    parts = []
    if low != float("-inf"):
        parts.append(compile_condition(Condition(name, "gt" if low_open else "gte", low), fields))
    if high != float("inf"):
        op = "lt" if high_open else "lte"
        parts.append(compile_condition(Condition(name, op, high), fields))
    return _negate(every(parts) if parts else ALL, negated)


def _text(match: re.Match[str], text: str, fields: Fields) -> str | None:
    negated, name = bool(match.group(1)), match.group(2)
    if negated != bool(match.group(7)):
        return _unreadable(text)
    _field(name, text, fields, ("text",))
    phrase = match.group(4) if match.group(4) is not None else match.group(5)
    if phrase is not None:
        if '"' in phrase:  # redisvl turns quotes into spaces: this is several clauses
            return _unreadable(text)
        return compile_condition(Condition(name, "ne" if negated else "eq", phrase), fields)
    # Text % pattern: redisvl interpolates it raw on purpose (wildcards, fuzzy, '|'),
    # so a value holding ')' closed the clause and its rest widened the filter around
    # it ("zzz)|(secret" escaped a tenant filter). Only the grammar redisvl documents
    # is sent; a field reference inside means clauses were written by hand.
    if negated:
        return _unreadable(text)
    pattern = match.group(6)
    if "@" in pattern:
        return _unreadable(text)
    if not _like_pattern(pattern):
        raise FilterError(
            f"the redisvl pattern {pattern!r} on {name!r} is not one Text % accepts: "
            "words (letters, digits, '_'), each with an optional leading or trailing '*' "
            "(wildcard) or wrapped in 1 to 3 '%' (fuzzy), separated by spaces (all of "
            f"them) or '|' (any of them). To match a user's text as it is, use "
            f"Text({name!r}) == value or the dict form {{{name!r}: value}}"
        )
    words = {t.lower() for t in re.split(r"[ |]+", pattern) if t}
    if words <= stopwords_of(fields):  # the server drops them: the clause matches nothing
        raise FilterError(
            f"the redisvl pattern {pattern!r} on {name!r} holds only stop words, which "
            "the index does not hold (RediSearch leaves them out of text fields), so it "
            "cannot be matched; use other words, or declare the field as a tag for exact "
            "values"
        )
    return text


def _like_pattern(pattern: str) -> bool:
    """Whether ``pattern`` is terms separated by spaces or ``|`` (nothing that is
    query syntax besides them: no parentheses, ``-``, quotes, ``$`` or ``~``)."""
    for alternative in pattern.split("|"):
        terms = [t for t in alternative.split(" ") if t]
        if not terms or not all(_LIKE_TERM.fullmatch(t) for t in terms):
            return False
    return True


def _missing(match: re.Match[str], text: str, fields: Fields) -> str | None:
    name = match.group(1)
    _field(name, text, fields, ("tag", "numeric", "text", "geo"))
    return compile_condition(Condition(name, "is_empty", True), fields)


_READERS: tuple[tuple[re.Pattern[str], Callable[..., str | None]], ...] = (
    (_MISSING, _missing),
    (_TAG, _tag),
    (_RANGE, _range),
    (_TEXT, _text),
)
