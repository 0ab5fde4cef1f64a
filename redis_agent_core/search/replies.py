"""Pure parsers of RediSearch replies, RESP2 (flat lists) and RESP3 (maps) alike,
bytes or str: FT.SEARCH rows, FT.AGGREGATE rows, FT.INFO descriptions. Shared by every
caller of the search layer and by both modes.

A RESP3 search reply that carries RediSearch's timeout warning (``ON_TIMEOUT RETURN``:
partial results) raises :class:`~redis_agent_core.errors.SearchTimeoutError` instead of
being parsed: partial results are never passed on as complete. RESP2 replies carry no
warning, so a RESP2 connection to a server on RETURN cannot tell (docs/operations.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..redis_errors import is_search_timeout, search_timeout_error

__all__ = [
    "KEY_ONLY",
    "aggregate_rows",
    "check_complete",
    "describe_info",
    "fields",
    "indexing_done",
    "info_name",
    "pairs",
    "search_keys",
    "search_rows",
    "text",
]

# Row: (key, score or None, {field name: raw value})
Row = tuple[str, Any, dict[str, Any]]

_FLAGS = ("CASESENSITIVE", "INDEXMISSING", "INDEXEMPTY", "SORTABLE", "NOSTEM")


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def fields(raw: Any) -> dict[str, Any]:
    """``{name: value}`` of a field list (RESP2 ``[f, v, ...]``) or map (RESP3)."""
    if isinstance(raw, Mapping):
        return {text(k): v for k, v in raw.items()}
    items = list(raw or [])
    return {text(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def check_complete(reply: Any, action: str = "a search") -> None:
    """Raise :class:`~redis_agent_core.errors.SearchTimeoutError` if a search reply (a
    RESP3 map, or redis-py's ``Result`` / ``AggregateResult``) says the server stopped
    at its TIMEOUT and returned partial results."""
    if isinstance(reply, Mapping):
        warnings = next((v for k, v in reply.items() if text(k) == "warning"), None)
    else:
        warnings = getattr(reply, "warnings", None)
    if warnings and any(is_search_timeout(text(w)) for w in warnings):
        raise search_timeout_error(action)


def _results(reply: Any) -> tuple[int, list[tuple[str, Any, dict[str, Any] | None]]]:
    """``(total, (key, score, fields))`` of an FT.SEARCH reply, fields ``None`` for a
    document that came back without them though some were asked for: its key expired
    after it was indexed (its TTL passed; Redis removes such keys lazily, and the index
    drops them only then). RESP3 gives it ``extra_attributes`` null, RESP2 a nil. Under
    NOCONTENT nothing is loaded, so such a document cannot be told apart."""
    if isinstance(reply, Mapping):
        check_complete(reply)
        data = {text(k): v for k, v in reply.items()}
        rows: list[tuple[str, Any, dict[str, Any] | None]] = []
        for raw in data.get("results", []):
            row = {text(k): v for k, v in raw.items()}
            attributes = row.get("extra_attributes", {})
            found = None if attributes is None else fields(attributes)
            rows.append((text(row["id"]), row.get("score"), found))
        return int(data.get("total_results", 0)), rows
    items = list(reply)
    rows = []
    i = 1
    while i < len(items):
        key = text(items[i])
        i += 1
        score = None
        if (
            i < len(items)
            and isinstance(items[i], (bytes, str, float))
            and not isinstance(items[i], list)
        ):
            # WITHSCORES (RESP2): the score follows the id; NOCONTENT: the next id does.
            try:
                score = float(items[i])
                i += 1
            except ValueError:
                score = None
        row_fields: dict[str, Any] | None = {}
        if i < len(items) and items[i] is None:
            i += 1
            row_fields = None
        elif i < len(items) and isinstance(items[i], list):
            row_fields = fields(items[i])
            i += 1
        rows.append((key, score, row_fields))
    return int(items[0]), rows


def search_rows(reply: Any) -> tuple[int, list[Row]]:
    """``(total, rows)`` of an FT.SEARCH reply (with or without WITHSCORES/NOCONTENT),
    in the server's order.

    A document whose key expired after it was indexed (:func:`_results`) is left out:
    it was a hit of empty text, no metadata and no score (on RESP2 a second hit too, of
    id ``None``). ``total`` still counts it (the server's)."""
    total, rows = _results(reply)
    return total, [(key, score, found) for key, score, found in rows if found is not None]


#: RETURN of a keys-only search in place of NOCONTENT: RediSearch loads the document to
#: answer it, so one whose TTL has passed (not removed by Redis yet) comes back without
#: fields and is told apart, in the same trip; nothing is copied but the key.
KEY_ONLY = ("__key",)


def search_keys(reply: Any) -> tuple[int, list[str], list[str]]:
    """``(total, keys, expired)`` of a keys-only search (``RETURN`` :data:`KEY_ONLY`):
    the keys of the documents found, and apart those of documents whose TTL has passed
    that Redis has not removed yet (still indexed: deleting them drops them)."""
    total, rows = _results(reply)
    keys = [key for key, _, found in rows if found is not None]
    return total, keys, [key for key, _, found in rows if found is None]


def aggregate_rows(reply: Any) -> list[dict[str, Any]]:
    """The rows (``{field: value}``) of an FT.AGGREGATE reply."""
    if isinstance(reply, Mapping):
        check_complete(reply)
        data = {text(k): v for k, v in reply.items()}
        return [fields({text(k): v for k, v in r.items()}.get("extra_attributes", {}))
                for r in data.get("results", [])]  # fmt: skip
    return [fields(r) for r in list(reply)[1:]]


def pairs(items: Any) -> dict[str, Any]:
    """An FT.INFO list or map as a dict (valueless flags such as ``SORTABLE`` map to
    ``True``)."""
    if isinstance(items, Mapping):
        return {text(k): v for k, v in items.items()}
    out: dict[str, Any] = {}
    items = list(items)
    i = 0
    while i < len(items):
        key = text(items[i])
        if i + 1 < len(items) and key.upper() not in _FLAGS:
            out[key] = items[i + 1]
            i += 2
        else:
            out[key] = True
            i += 1
    return out


def _flags(attrs: Mapping[str, Any]) -> set[str]:
    """The lower-cased valueless flags of one FT.INFO attribute: bare words over RESP2
    (keys here), a ``flags`` array over RESP3."""
    listed = attrs.get("flags")
    found = {text(f).lower() for f in listed} if isinstance(listed, (list, tuple)) else set()
    return found | {k for k in attrs if k.upper() in _FLAGS}


def info_name(info: Any) -> str:
    """The index an ``FT.INFO`` reply describes (the target when asked by an alias)."""
    return text(pairs(info).get("index_name", ""))


def indexing_done(info: Any) -> bool:
    """Whether an ``FT.INFO`` reply says the index has finished scanning existing keys."""
    data = pairs(info)
    return (
        not int(float(text(data.get("indexing", 0))))
        and float(text(data.get("percent_indexed", 1))) >= 1.0
    )


def indexing_failures(info: Any) -> tuple[int, str, str]:
    """(keys under the prefix the index could not index, the last error, its key) from
    an ``FT.INFO`` reply: documents of another schema (vectors of another size, a field
    of another type) that no search can find."""
    data = pairs(info)
    errors = pairs(data.get("Index Errors") or ())
    count = int(float(text(data.get("hash_indexing_failures", 0))))
    return (
        count,
        text(errors.get("last indexing error", "")),
        text(errors.get("last indexing error key", "")),
    )


def describe_info(info: Any) -> dict[str, Any]:
    """Storage, prefixes, fields (type, identifier or JSON path, vector params), the
    number of documents and the stop-word list (``None``: the server's default) from an
    ``FT.INFO`` reply (RESP2 or RESP3, bytes or str)."""
    data = pairs(info)
    definition = pairs(data.get("index_definition", {}))
    prefixes = [text(p) for p in definition.get("prefixes", [])]
    found: dict[str, dict[str, Any]] = {}
    for raw in data.get("attributes", []):
        attrs = {k.lower(): v for k, v in pairs(raw).items()}
        name = text(attrs.get("attribute", attrs.get("identifier", "")))
        kind = text(attrs.get("type", "")).lower()
        entry: dict[str, Any] = {"type": kind, "path": text(attrs.get("identifier", name))}
        if kind == "tag":
            entry["case_sensitive"] = "casesensitive" in _flags(attrs)
        if kind == "vector":
            entry.update(
                algorithm=text(attrs.get("algorithm", "")).lower(),
                dims=int(attrs.get("dim", 0)),
                metric=text(attrs.get("distance_metric", "")).lower(),
                dtype=text(attrs.get("data_type", "")).lower(),
            )
        found[name] = entry
    stopwords = data.get("stopwords_list")  # only listed when FT.CREATE gave STOPWORDS
    return {
        "storage": text(definition.get("key_type", "")).lower(),
        "prefixes": prefixes,
        "fields": found,
        "num_docs": int(float(text(data.get("num_docs", 0)))),
        "stopwords": None if stopwords is None else [text(w) for w in stopwords],
    }
