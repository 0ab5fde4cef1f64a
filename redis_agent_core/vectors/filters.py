"""One small filter representation, shared by both adapters, compiled to RediSearch.

Build filters with :class:`F` (``(F("tenant") == "acme") & (F("year") >= 2020)``), the
node classes, or :func:`from_dict` (``{"tenant": "acme", "year": {"$gte": 2020}}``).
:func:`~.expressions.compile_filter` checks every field against the index schema (a
filter on a field that is not indexed raises instead of silently matching nothing) and
renders values through redisvl filter expressions, which escape them: a value can never
widen a query.

Tag values are indexed and queried in the escaped form of :func:`tag_value`, so a tag
filter matches exactly the documents whose value is the same string.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from redisvl.query.filter import Geo, GeoRadius, Num, Tag, Text

from ..errors import ConfigError, SchemaMismatchError
from ..tags import TAG_HEAD, TAG_LIMIT, tag_value
from .checks import (
    DEFAULT_STOPWORDS,
    WORD_SYNTAX,
    check_exact_number,
    check_text,
    text_words,
)

__all__ = [
    "OPERATORS",
    "And",
    "Condition",
    "F",
    "Filter",
    "FilterError",
    "IndexFields",
    "Not",
    "Or",
    "from_dict",
    "tag_value",
]

OPERATORS = (
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "any", "all", "contains",
    "text_match", "text_match_insensitive", "is_empty", "geo_radius",
)  # fmt: skip


# -- tag values (escaped: see redis_agent_core.tags) --


def tag_text(value: str, case_sensitive: bool) -> str:
    """:func:`tag_value` of ``value`` for a tag field (lower-cased first when the field
    is case-insensitive, so ``"É"`` and ``"é"`` fold as ``"A"`` and ``"a"`` do)."""
    if value.isascii() and value.isalnum() and len(value) <= TAG_LIMIT:
        return value  # the server folds ASCII letters itself
    return tag_value(value if case_sensitive else value.lower())


class FilterError(ConfigError):
    """A filter names a field the index does not have, or an operator/value that does
    not fit the field's type."""

    #: the field a filter named that the store does not index (else ``None``)
    unknown_field: str | None = None


class FilterFieldMismatchError(SchemaMismatchError, FilterError):
    """A filter names a field the live index has but the store was opened without."""


class IndexFields(dict[str, tuple[str, bool]]):
    """The filterable fields of an index (name -> ``(type, case_sensitive)``) and its
    stop words: RediSearch does not index them, so text filters leave them out too (a
    plain mapping of fields: the server's default list)."""

    def __init__(
        self,
        fields: Mapping[str, tuple[str, bool]],
        stopwords: Collection[str] = DEFAULT_STOPWORDS,
    ) -> None:
        super().__init__(fields)
        self.stopwords = frozenset(w.lower() for w in stopwords)


def stopwords_of(fields: Mapping[str, tuple[str, bool]]) -> frozenset[str]:
    """The stop words of the index ``fields`` describe (see :class:`IndexFields`)."""
    return fields.stopwords if isinstance(fields, IndexFields) else DEFAULT_STOPWORDS


class _Node:
    def __and__(self, other: Filter) -> And:
        left = self.filters if isinstance(self, And) else (self,)
        right = other.filters if isinstance(other, And) else (other,)
        return And((*left, *right))

    def __or__(self, other: Filter) -> Or:
        left = self.filters if isinstance(self, Or) else (self,)
        right = other.filters if isinstance(other, Or) else (other,)
        return Or((*left, *right))

    def __invert__(self) -> Not:
        return Not(self)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Condition(_Node):
    """``field <op> value``; ``op`` is one of :data:`OPERATORS`."""

    field: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise FilterError(f"unknown filter operator {self.op!r}; use one of {OPERATORS}")


@dataclass(frozen=True)
class And(_Node):
    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class Or(_Node):
    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class Not(_Node):
    filter: Filter


Filter = Union[Condition, And, Or, Not]  # noqa: UP007 (runtime alias on py3.10)


class F:
    """Condition builder: ``F("year") >= 2020``, ``F("tag").is_in([...])``."""

    def __init__(self, field: str) -> None:
        self.field = field

    def __eq__(self, value: Any) -> Condition:  # type: ignore[override]
        return Condition(self.field, "eq", value)

    def __ne__(self, value: Any) -> Condition:  # type: ignore[override]
        return Condition(self.field, "ne", value)

    def __gt__(self, value: Any) -> Condition:
        return Condition(self.field, "gt", value)

    def __ge__(self, value: Any) -> Condition:
        return Condition(self.field, "gte", value)

    def __lt__(self, value: Any) -> Condition:
        return Condition(self.field, "lt", value)

    def __le__(self, value: Any) -> Condition:
        return Condition(self.field, "lte", value)

    __hash__ = None  # type: ignore[assignment]

    def is_in(self, values: Iterable[Any]) -> Condition:
        return Condition(self.field, "in", list(values))

    def not_in(self, values: Iterable[Any]) -> Condition:
        return Condition(self.field, "nin", list(values))

    def any(self, values: Iterable[Any]) -> Condition:
        return Condition(self.field, "any", list(values))

    def all(self, values: Iterable[Any]) -> Condition:
        return Condition(self.field, "all", list(values))

    def contains(self, value: Any) -> Condition:
        return Condition(self.field, "contains", value)

    def text_match(self, value: str, *, case_sensitive: bool = True) -> Condition:
        op = "text_match" if case_sensitive else "text_match_insensitive"
        return Condition(self.field, op, value)

    def is_empty(self, empty: bool = True) -> Condition:
        return Condition(self.field, "is_empty", empty)

    def within(self, lon: float, lat: float, radius: float, unit: str = "km") -> Condition:
        return Condition(self.field, "geo_radius", (lon, lat, radius, unit))


# -- dict form --
_DICT_OPS = {
    "$eq": "eq", "$ne": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte",
    "$in": "in", "$nin": "nin", "$any": "any", "$all": "all", "$contains": "contains",
    "$like": "text_match", "$text_match": "text_match",
    "$text_match_insensitive": "text_match_insensitive", "$ilike": "text_match_insensitive",
    "$is_empty": "is_empty", "$geo_radius": "geo_radius",
}  # fmt: skip


#: How deep ``$and`` / ``$or`` / ``$not`` may nest in the dict form: a filter from a
#: user nested thousands deep raised RecursionError rather than a FilterError.
MAX_DEPTH = 32


def from_dict(spec: Mapping[str, Any], _depth: int = 0) -> Filter:
    """Read the dict form: ``{"field": value}`` (equality; a list means ``$in``),
    ``{"field": {"$gte": 1, "$lt": 5}}``, ``{"$and": [...]}``, ``{"$or": [...]}``,
    ``{"$not": {...}}``, ``{"field": {"$exists": False}}``. Several keys are ANDed;
    ``$and`` / ``$or`` / ``$not`` nest at most :data:`MAX_DEPTH` deep."""
    if not isinstance(spec, Mapping) or not spec:
        raise FilterError(f"a dict filter must be a non-empty mapping, got {spec!r:.200}")
    if _depth > MAX_DEPTH:
        raise FilterError(
            f"the filter nests $and / $or / $not more than {MAX_DEPTH} deep; "
            "write it flatter (several keys of one dict are ANDed)"
        )
    parts: list[Filter] = []
    for key, value in spec.items():
        if key in ("$and", "$or"):
            if not isinstance(value, Sequence) or isinstance(value, str):
                raise FilterError(f"{key} takes a list of filters, got {value!r}")
            if not value:
                # an empty $and matched every document (a tenant's conditions built at
                # run time and left empty: every tenant's); refused as MongoDB does, and
                # as an empty dict is here
                raise FilterError(
                    f"{key} takes a non-empty list of filters, got []: an empty $and would "
                    "match every document and an empty $or none; pass filter=None for no "
                    "filter, or {'field': {'$in': []}} to match nothing"
                )
            items = tuple(from_dict(v, _depth + 1) for v in value)
            parts.append(And(items) if key == "$and" else Or(items))
        elif key == "$not":
            parts.append(Not(from_dict(value, _depth + 1)))
        elif key.startswith("$"):
            raise FilterError(f"unknown filter key {key!r}; fields cannot start with '$'")
        elif isinstance(value, Mapping):
            if not value:
                raise FilterError(f"empty operator mapping for field {key!r}")
            for op, operand in value.items():
                if op == "$exists":
                    if not isinstance(operand, bool):
                        # "false" is truthy: {"$exists": "false"} found the documents
                        # that have the field, the opposite of what it says
                        raise FilterError(
                            f"$exists for field {key!r} takes True or False, got {operand!r:.80}"
                        )
                    parts.append(Condition(key, "is_empty", not operand))
                elif op in ("$like", "$ilike") and isinstance(operand, str) and "%" in operand:
                    # SQL's wildcard (PGVector's $like) is an ordinary character here:
                    # {"$like": "%smith%"} looked for the text "%smith%" and found nothing
                    raise FilterError(
                        f"{op} for field {key!r} got {operand!r:.80}: {op} is text_match "
                        "here (a substring of a tag, words of a text field), where '%' is "
                        "not a wildcard but a character; write the text alone, e.g. "
                        f"{operand.strip('%')!r:.80}, or use $text_match to match a '%'"
                    )
                elif op in _DICT_OPS:
                    parts.append(Condition(key, _DICT_OPS[op], operand))
                else:
                    raise FilterError(
                        f"unknown operator {op!r} for field {key!r}; use one of "
                        f"{sorted([*_DICT_OPS, '$exists'])}"
                    )
        elif isinstance(value, (list, tuple, set)):
            parts.append(Condition(key, "in", list(value)))
        else:
            parts.append(Condition(key, "eq", value))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


# -- compiling --
ALL = "*"  # matches every document


def every(parts: Sequence[str | None]) -> str | None:
    """The clause matching what all ``parts`` match (``None`` part: nothing)."""
    if any(p is None for p in parts):
        return None
    kept = [p for p in parts if p != ALL]
    if not kept:
        return ALL
    return kept[0] if len(kept) == 1 else "(" + " ".join(kept) + ")"  # type: ignore[arg-type]


def any_of(parts: Sequence[str | None]) -> str | None:
    """The clause matching what any of ``parts`` matches (``"*"`` part: everything)."""
    if any(p == ALL for p in parts):
        return ALL
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(" + " | ".join(kept) + ")"


def _scalar(cond: Condition, value: Any, kind: str) -> Any:
    if kind == "numeric":
        if isinstance(value, bool):
            return int(value)
        if not isinstance(value, (int, float)):
            raise FilterError(
                f"field {cond.field!r} is numeric: {cond.op} needs a number, got {value!r}"
            )
        if value != value:  # NaN: redisvl raised a bare ValueError; it equals nothing
            raise FilterError(
                f"field {cond.field!r} is numeric: {cond.op} got NaN, which no number "
                "equals or orders against; give a number (or leave the condition out)"
            )
        check_exact_number(value, cond.field, FilterError)
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FilterError(
            f"field {cond.field!r} is {kind}: {cond.op} needs a str or number, got {value!r}"
        )
    text = check_text(str(value), f"the filter value for {cond.field!r}")
    if not (text if kind == "tag" else text.strip()):
        # redisvl renders an empty tag/text value as "*" (match all): refuse it.
        # (A tag value of spaces is a value: it is escaped, see tag_value.)
        raise FilterError(
            f"field {cond.field!r}: empty value for {cond.op}; to find documents without "
            "the field use is_empty"
        )
    return text


def _items(cond: Condition) -> list[Any]:
    """The values of a list operator as given (a single value: a list of it)."""
    value = cond.value
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def _values(cond: Condition, kind: str) -> list[Any]:
    return [_scalar(cond, v, kind) for v in _items(cond)]


def _phrase(cond: Condition, value: Any, stopwords: frozenset[str]) -> str:
    """A text value as the words RediSearch indexed it, joined by spaces. Sent raw, a
    phrase holding '$' (a parameter to the server) or '\\' (an escape) never matched
    its own document ("costs $5 each", "C:\\path"), so its ne / NOT excluded nothing.
    Stop words are left out: the index does not hold them (the words around one are
    adjacent), and a phrase holding one ("The Godfather") matched nothing."""
    text = _scalar(cond, value, "text")
    words = text_words(text)
    if not words:
        raise FilterError(
            f"field {cond.field!r}: the text {text!r} has no words (RediSearch indexes "
            "words, and punctuation only separates them), so it cannot be matched; "
            "to find documents without the field use is_empty"
        )
    for word in words:
        if WORD_SYNTAX.search(word):
            # an escaped separator or backslash is kept in the indexed word, but a
            # phrase query cannot ask for it: escapes are not read inside quotes
            raise FilterError(
                f"field {cond.field!r}: the text {text!r} holds a backslash before "
                f"punctuation or a backslash ({word!r}), which a text filter cannot "
                "match; remove the backslashes, or declare the field as a tag for "
                "exact values"
            )
    kept = [w for w in words if w.lower() not in stopwords]
    if not kept:
        raise FilterError(
            f"field {cond.field!r}: the text {text!r} holds only stop words, which the "
            "index does not hold (RediSearch leaves them out of text fields), so it "
            "cannot be matched; filter on other words, or declare the field as a tag "
            "for exact values"
        )
    return " ".join(kept)


def _tag(cond: Condition, value: Any, case_sensitive: bool) -> str:
    return tag_text(_scalar(cond, value, "tag"), case_sensitive)


def _tag_forms(cond: Condition, value: Any, case_sensitive: bool) -> list[str]:
    """The indexed forms equal to a tag filter value. A number is indexed as its
    ``str()``, so a float 1.0 is the tag "1.0" and an int 1 the tag "1": a number
    matches both forms, as ``1 == 1.0`` in Python (and SimpleVectorStore)."""
    forms = [value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value == 0:
            forms += [0, 0.0, -0.0]
        elif isinstance(value, float) and value.is_integer():
            forms.append(int(value))
        elif isinstance(value, int) and float(value) == value:  # exact: 2**60 + 1 is not
            forms.append(float(value))
    return list(dict.fromkeys(_tag(cond, v, case_sensitive) for v in forms))


def _join(parts: list[str], sep: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + sep.join(parts) + ")"


def check_field(name: str, fields: Mapping[str, tuple[str, bool]]) -> str:
    """The type of indexed field ``name``; raises the error naming the fix if it is not
    indexed (a filter on it would silently match nothing)."""
    if name not in fields:
        error = FilterError(
            f"cannot filter on {name!r}: it is not an indexed field of this index "
            f"(indexed: {sorted(fields)}). Declare it with metadata_fields="
            f"{{{name!r}: 'tag'}} (or numeric/text/geo) when creating the index."
        )
        error.unknown_field = name
        raise error
    return fields[name][0]


def compile_condition(cond: Condition, fields: Mapping[str, tuple[str, bool]]) -> str | None:
    """The clause of one condition (``None``: nothing can match)."""
    kind = check_field(cond.field, fields)
    case_sensitive = fields[cond.field][1]
    stopwords = stopwords_of(fields)
    op, name = cond.op, cond.field
    if op == "is_empty":
        if cond.value is not None and not isinstance(cond.value, bool):
            # is_empty("no") is truthy-looking but was read as False: the opposite
            raise FilterError(
                f"is_empty for field {name!r} takes True or False, got {cond.value!r:.80}"
            )
        missing = f"ismissing(@{name})"
        return missing if cond.value in (True, None) else f"(-{missing})"
    if op in ("in", "any", "nin", "all"):
        values = _values(cond, kind)
        if not values:
            return ALL if op in ("nin", "all") else None
    if kind == "tag":
        # Values are compared in their indexed form (tag_value): exact strings.
        if op in ("in", "any", "nin", "all"):
            groups = [_tag_forms(cond, v, case_sensitive) for v in _items(cond)]
            values = [form for group in groups for form in group]
        if op in ("eq", "contains"):
            return str(Tag(name) == _tag_forms(cond, cond.value, case_sensitive))
        if op == "ne":
            return str(Tag(name) != _tag_forms(cond, cond.value, case_sensitive))
        if op in ("in", "any"):
            return str(Tag(name) == values)
        if op == "nin":
            return str(Tag(name) != values)
        if op == "all":
            return _join([str(Tag(name) == group) for group in groups], " ")
        if op in ("text_match", "text_match_insensitive"):
            if op == "text_match_insensitive" and case_sensitive:
                raise FilterError(
                    f"field {name!r} is a case-sensitive tag: text_match_insensitive cannot "
                    "be served; declare it MetadataField(..., case_sensitive=False) or as "
                    "a text field, or use text_match"
                )
            # A substring of the value is a substring of its escaped form ('*' is
            # escaped too, so it is an ordinary character here).
            infix = _tag(cond, cond.value, case_sensitive)
            if len(infix) > TAG_HEAD:
                raise FilterError(
                    f"text_match on tag {name!r}: the text is longer than the "
                    f"{TAG_HEAD:,} bytes of a tag that can be searched by substring "
                    "(once escaped); use an equality filter for long values"
                )
            return str(Tag(name) % f"*{infix}*")
    elif kind == "numeric":
        num = Num(name)
        ops = {"eq": num.__eq__, "ne": num.__ne__, "gt": num.__gt__, "gte": num.__ge__,
               "lt": num.__lt__, "lte": num.__le__}  # fmt: skip
        if op in ops:
            return str(ops[op](_scalar(cond, cond.value, kind)))
        if op == "in":
            return _join([str(Num(name) == v) for v in values], " | ")
        if op == "nin":
            return _join([str(Num(name) != v) for v in values], " ")
    elif kind == "text":
        # RediSearch full-text matching is word based and case-insensitive.
        if op in ("eq", "contains", "text_match", "text_match_insensitive"):
            return str(Text(name) == _phrase(cond, cond.value, stopwords))
        if op == "ne":
            return str(Text(name) != _phrase(cond, cond.value, stopwords))
        if op in ("in", "any", "nin", "all"):  # a range op falls through to the refusal
            phrases = [_phrase(cond, v, stopwords) for v in values]
            if op in ("in", "any"):
                return _join([str(Text(name) == v) for v in phrases], " | ")
            if op == "nin":
                return _join([str(Text(name) != v) for v in phrases], " ")
            return _join([str(Text(name) == v) for v in phrases], " ")
    elif kind == "geo" and op in ("geo_radius", "eq"):
        try:
            lon, lat, radius, *unit = cond.value
            return str(Geo(name) == GeoRadius(lon, lat, radius, *(unit or ["km"])))
        except (TypeError, ValueError) as exc:
            raise FilterError(
                f"field {name!r} is geo: use (lon, lat, radius[, unit]) ({exc})"
            ) from exc
    hint = ""
    if op in ("gt", "gte", "lt", "lte") and kind in ("text", "tag"):
        # a range compares values: only a numeric field orders them
        hint = (
            f"; to compare by value, declare it numeric (metadata_fields={{{name!r}: "
            "'numeric'}) and store numbers"
        )
    raise FilterError(f"operator {op!r} is not supported on {kind} field {name!r}{hint}")
