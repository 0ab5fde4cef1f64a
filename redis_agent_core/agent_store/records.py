"""Pure parts of the agent store: index members, item fields, filters, namespace matching.

An item of namespace ``("a", "b")`` and key ``k`` has the index member
``a\\x1eb\\x1e\\x1fk``: every label is followed by ``\\x1e`` and the key by ``\\x1f``,
so a lexicographic range of the member index is a namespace prefix (``("a",)`` never
matches ``("ab",)``), the items of one namespace sit together and the key may hold
any character. Labels may not contain ``\\x1e`` or ``\\x1f``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import ConfigError, DataCorruptionError
from ..jsonvalues import dumps_json
from ..keys import check_text

__all__ = [
    "StoredItem",
    "check_filter",
    "decode_member",
    "item_fields",
    "matches_filter",
    "member",
    "namespace_matches",
    "namespace_prefix",
    "parse_item",
    "prefix_range",
]

LABEL_END = "\x1e"
KEY_START = "\x1f"
F_VALUE, F_CREATED, F_UPDATED, F_TTL, F_VECTORS = b"v", b"c", b"u", b"t", b"n"
FIELDS = (F_VALUE, F_CREATED, F_UPDATED, F_TTL, F_VECTORS)
_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


@dataclass(frozen=True)
class StoredItem:
    """One item as read back: ``created_at``/``updated_at`` in epoch seconds."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: float
    updated_at: float
    score: float | None = None


def check_namespace(namespace: Sequence[str], *, allow_empty: bool = False) -> tuple[str, ...]:
    """``namespace`` as a tuple of labels, or :class:`ConfigError` naming the bad label."""
    if isinstance(namespace, str) or not isinstance(namespace, Sequence):
        raise ConfigError(
            f"a namespace is a tuple of str labels, got {type(namespace).__name__}: "
            f"{namespace!r}; write ('users', 'u1') rather than 'users/u1'"
        )
    labels = tuple(namespace)
    if not labels and not allow_empty:
        raise ConfigError("the namespace is empty: give at least one label, e.g. ('memories',)")
    for label in labels:
        if not isinstance(label, str) or not label:
            raise ConfigError(f"namespace labels must be non-empty str, got {label!r}")
        if LABEL_END in label or KEY_START in label:
            raise ConfigError(
                f"namespace label {label!r} holds a \\x1e or \\x1f control character, "
                "which the store uses as a separator; remove it"
            )
        check_text(label, "a namespace label")
    return labels


def namespace_prefix(labels: Sequence[str]) -> str:
    """The member prefix shared by every item under the namespace ``labels``."""
    return "".join(label + LABEL_END for label in labels)


def member(namespace: Sequence[str], key: str) -> bytes:
    """The index member (and item key suffix) of one item."""
    if not isinstance(key, str):
        raise ConfigError(f"an item key must be str, got {type(key).__name__}: {key!r}")
    check_text(key, "the item key")
    return (namespace_prefix(namespace) + KEY_START + key).encode()


def decode_member(raw: bytes | str) -> tuple[tuple[str, ...], str]:
    """``(namespace, key)`` of an index member."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    head, sep, key = text.partition(KEY_START)
    if not sep or (head and not head.endswith(LABEL_END)):
        raise DataCorruptionError(f"agent store index member {text!r} is malformed")
    return tuple(head.split(LABEL_END)[:-1]), key


def prefix_range(labels: Sequence[str]) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds of every member under the namespace prefix ``labels``."""
    if not labels:
        return b"-", b"+"
    prefix = namespace_prefix(labels).encode()
    # labels end with \x1e: every member under them is < the same text ending in \x1f
    return b"[" + prefix, b"(" + prefix[:-1] + KEY_START.encode()


def item_fields(value: Mapping[str, Any], now_ms: int, ttl_ms: int | None) -> dict[bytes, bytes]:
    """Hash fields of a put (``created`` is set apart, only when the item is new)."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"an item value must be a dict with str keys, got {type(value).__name__}")
    payload = dumps_json(value, "the item value")  # NaN / inf would read back as null
    fields = {F_VALUE: payload, F_UPDATED: b"%d" % now_ms}
    if ttl_ms is not None:
        fields[F_TTL] = b"%d" % ttl_ms
    return fields


def parse_item(
    namespace: tuple[str, ...], key: str, reply: Sequence[bytes | None]
) -> tuple[StoredItem, int | None, int] | None:
    """An HMGET of :data:`FIELDS` as ``(item, ttl_ms, vector count)``, or ``None`` when
    the item is gone."""
    raw, created, updated, ttl, vectors = reply
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
        made = int(created) if created is not None else int(updated or 0)
        item = StoredItem(namespace, key, value, made / 1000, int(updated or made) / 1000)
        count = int(vectors or 0)
    except (ValueError, TypeError) as exc:
        raise DataCorruptionError(
            f"agent store item {namespace!r}/{key!r} is malformed ({exc}); delete it"
        ) from None
    return item, int(ttl) if ttl is not None else None, count


_RANGE = frozenset({"$gt", "$gte", "$lt", "$lte"})


def _number(value: Any) -> float | None:
    """``float(value)`` as LangGraph's InMemoryStore compares ranges, or ``None``."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_MAX_DEPTH = 32  # nested field dicts of a filter (a user's, thousands deep: RecursionError)


def check_filter(where: Mapping[str, Any] | None, _path: str = "", _depth: int = 0) -> None:
    """Raise :class:`ConfigError` for an operator LangGraph's filters do not know, a
    range bound that is not a number, or field dicts nested over 32 deep."""
    if where is None:
        return
    if not isinstance(where, Mapping):
        raise ConfigError(f"filter must be a dict, got {type(where).__name__}")
    if _depth > _MAX_DEPTH:
        raise ConfigError(
            f"filter {_path[:200]}... nests field dicts more than {_MAX_DEPTH} deep; "
            "match a shallower field"
        )
    for field, wanted in where.items():
        if not isinstance(field, str):
            # values are JSON, whose keys are str: {1: "x"} matched nothing, an empty page
            raise ConfigError(
                f"filter {_path}{field!r}: field names are str (the item's JSON keys), got "
                f"{type(field).__name__}; write {str(field)!r}"
            )
        if isinstance(wanted, Mapping):
            ops = [k for k in wanted if isinstance(k, str) and k.startswith("$")]
            bad = [k for k in ops if k not in _OPERATORS]
            if bad:
                raise ConfigError(
                    f"unsupported filter operator {bad[0]!r}; use one of {', '.join(_OPERATORS)}"
                )
            if ops and len(ops) < len(wanted):
                # the other keys were applied as operators (one read as $lte): LangGraph's
                # InMemoryStore raises on them too
                other = next(k for k in wanted if k not in ops)
                raise ConfigError(
                    f"filter {_path}{field!r} mixes operators ({', '.join(ops)}) with the "
                    f"field {other!r}: a dict of operators holds operators only; match "
                    f"nested fields in a dict of their own, e.g. {{{field!r}: {{{other!r}: ...}}}}"
                )
            for op in _RANGE.intersection(ops):
                bound = _number(wanted[op])
                if bound is None:
                    raise ConfigError(
                        f"filter {_path}{field!r}: {op} needs a number, got {wanted[op]!r}; "
                        "use $eq / $ne to match other values"
                    )
                if bound != bound:
                    # NaN (or "nan", which float() reads): no number orders against it, so
                    # the page came back empty, as if nothing matched
                    raise ConfigError(
                        f"filter {_path}{field!r}: {op} got {wanted[op]!r}, which is NaN: no "
                        "number is above or below it; give a number (or leave it out)"
                    )
            if not ops:
                check_filter(wanted, f"{_path}{field!r}.", _depth + 1)


def _compare(actual: Any, wanted: Any, field: str) -> bool:
    if isinstance(wanted, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in wanted):
            return all(_apply(actual, op, operand, field) for op, operand in wanted.items())
        if not isinstance(actual, Mapping):
            return False
        return all(_compare(actual.get(k), v, f"{field}.{k!r}") for k, v in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return (
            isinstance(actual, list)
            and len(actual) == len(wanted)
            and all(_compare(a, w, field) for a, w in zip(actual, wanted, strict=True))
        )
    return bool(actual == wanted)


def _apply(actual: Any, op: str, operand: Any, field: str) -> bool:
    if op == "$eq":
        return bool(actual == operand)
    if op == "$ne":
        return bool(actual != operand)
    if actual is None:
        return False  # a missing field is not in any range (documented difference)
    a, b = _number(actual), float(operand)  # check_filter made sure the operand is one
    if a is None:
        # InMemoryStore raises here too: an empty page would read as "no match"
        raise ConfigError(
            f"filter {field}: {op} compares numbers, but an item holds "
            f"{type(actual).__name__} {actual!r:.60} there; filter such fields with $eq / $ne"
        )
    if op == "$gt":
        return a > b
    if op == "$gte":
        return a >= b
    if op == "$lt":
        return a < b
    return a <= b  # $lte (check_filter refused anything else)


def matches_filter(value: Mapping[str, Any], where: Mapping[str, Any] | None) -> bool:
    """LangGraph's filter semantics: exact (nested dicts, lists) or ``$`` operators."""
    if not where:
        return True
    return all(_compare(value.get(k), v, repr(k)) for k, v in where.items())


def _path_matches(labels: Sequence[str], path: Sequence[str]) -> bool:
    return len(labels) >= len(path) and all(
        p == "*" or p == label for label, p in zip(labels, path, strict=False)
    )


def namespace_matches(
    namespace: Sequence[str], conditions: Sequence[tuple[str, Sequence[str]]]
) -> bool:
    """Whether ``namespace`` meets every ``(match_type, path)`` ("prefix"/"suffix", "*" any)."""
    for kind, path in conditions:
        if kind == "prefix":
            ok = _path_matches(namespace, path)
        elif kind == "suffix":
            ok = _path_matches(tuple(reversed(namespace)), tuple(reversed(path)))
        else:
            raise ConfigError(f"unsupported match type {kind!r}; use 'prefix' or 'suffix'")
        if not ok:
            return False
    return True


def literal_prefix(conditions: Sequence[tuple[str, Sequence[str]]]) -> tuple[str, ...]:
    """The longest wildcard-free label prefix every match must start with (index range)."""
    best: tuple[str, ...] = ()
    for kind, path in conditions:
        if kind != "prefix":
            continue
        lead: list[str] = []
        for p in path:
            if p == "*":
                break
            lead.append(p)
        if len(lead) > len(best):
            best = tuple(lead)
    return best
