"""What a cache entry is: its scope, filters and digest, argument checks, and the hit.

An entry is one Redis hash. The exact cache's: ``payload`` (JSON written by an
adapter), ``usage`` (JSON of the original call's token usage) and ``tokens`` (its total,
summed into ``tokens_saved`` on hits). The semantic cache's: ``scope`` (hash of the
model identity, a TAG in the index), the optional partition tags, ``vec`` and, packed
into the one field :data:`PACKED` (a hash field costs ≈ 70 B an entry beside its
value), the payload, usage, tokens, the guards' features of the prompt and the prompt
(:func:`pack`). Semantic entries written before 2026-12-04 hold ``payload``,
``usage``, ``tokens`` and ``prompt`` or ``gf`` (the features, a newline, the prompt)
each in a field; they are read as they are. Per-entry hit counts live in a separate
hash per bucket: writing an indexed hash makes RediSearch re-index its vector (~0.5 ms).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..config import MAX_TOKENS, MAX_TTL, check_seconds
from ..errors import ConfigError
from ..jsonvalues import has_non_finite
from ..keys import check_text

__all__ = [
    "BUCKETS",
    "MEMBER_PARTS",
    "PACKED",
    "CacheHit",
    "compact_digest",
    "entry_digest",
    "make_scope",
    "pack",
    "total_tokens",
    "unpack",
]

logger = logging.getLogger("redis_agent_core.cache")

# 16 buckets (first hex digit of the digest, of either form): entries spread over 16 hash tags, so a
# cluster shares the load, while each bucket's entries, members and counters share a
# slot and one script can update them together.
BUCKETS = "0123456789abcdef"

# \Z, not $: $ also matches before a final newline, so 'name\n' passed
_FILTER_NAME_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
RESERVED_FIELDS = frozenset(
    {"prompt", "payload", "scope", "created", "usage", "tokens", "vec", "gf"}
)


def make_scope(model_identity: Mapping[str, Any]) -> str:
    """A stable scope id for a model identity (class, model name, generation params).

    Two identities that differ in any value (``temperature``, ``model``...) get
    different scopes, so a cache never serves one model's answer to another. Values
    should be JSON-like; key order does not matter.
    """
    if not isinstance(model_identity, Mapping) or not model_identity:
        raise ConfigError(
            "make_scope() needs a non-empty mapping describing the model, e.g. "
            "{'class': 'ChatOpenAI', 'model': 'gpt-4o', 'temperature': 0}"
        )
    data = orjson.dumps(
        model_identity, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=repr
    )
    if b"null" in data and has_non_finite(model_identity):
        data = _non_finite_json(model_identity)
    return hashlib.sha256(data).hexdigest()[:32]


def _non_finite_json(identity: Mapping[str, Any]) -> bytes:
    """The identity's JSON for an identity holding a NaN or an infinity, which orjson
    writes as null (temperature=NaN shared temperature=None's answers): Python's json
    keeps them as the bare tokens NaN / Infinity / -Infinity, which no str or None
    writes, and a leading NUL byte keeps these scopes apart from every orjson one (a
    JSON text starts with ``{``). Keyed distinctly rather than refused: an infinity
    can be a real setting (a logit bias of -inf bans a token)."""
    try:
        text = json.dumps(identity, sort_keys=True, default=repr, separators=(",", ":"))
    except TypeError:  # keys of several types cannot be sorted: the order as given
        text = json.dumps(identity, default=repr, separators=(",", ":"))
    return b"\x00" + text.encode("utf-8", "surrogatepass")


def canonical_filters(filters: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """Validated, sorted ``(field, value)`` pairs of a filter mapping."""
    if not filters:
        return ()
    if not isinstance(filters, Mapping):
        raise ConfigError(f"filters must be a mapping of field -> str, got {filters!r}")
    pairs = []
    for name, value in filters.items():
        if not isinstance(name, str) or not _FILTER_NAME_RE.match(name):
            raise ConfigError(
                f"invalid filter field {name!r}: use a letter or '_' then letters, digits, '_'"
            )
        if name in RESERVED_FIELDS:
            raise ConfigError(
                f"filter field {name!r} clashes with a field of the cache entry; rename it"
            )
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"filter {name!r} must be a non-empty str (e.g. a tenant id), got {value!r}"
            )
        pairs.append((name, check_text(value, f"filter {name!r}")))
    return tuple(sorted(pairs))


# The separators of _entry_hash's filter pairs, and the mark of a value written in hex
_SEPARATORS = re.compile("[\x00\x1d\x1e\x1f]")


def _filter_value(value: str) -> bytes:
    """``value`` as hashed: itself, or when it holds a separator, ``\\x1d`` and its UTF-8
    in hex (org ``"acme\\x1euser\\x1fbob"`` and user ``"mallory"`` shared the entry of
    org ``"acme"`` and user ``"bob\\x1euser\\x1fmallory"``); other values hash as before."""
    if _SEPARATORS.search(value) is None:
        return value.encode()
    return b"\x1d" + value.encode().hex().encode()


def _entry_hash(scope: str, prompt: str, filters: tuple[tuple[str, str], ...]) -> bytes:
    h = hashlib.sha256(scope.encode())
    h.update(b"\0")
    for name, value in filters:  # names are identifiers (_FILTER_NAME_RE)
        h.update(name.encode() + b"\x1f" + _filter_value(value) + b"\x1e")
    h.update(b"\0")
    h.update(prompt.encode("utf-8", "surrogatepass"))
    return h.digest()


def entry_digest(scope: str, prompt: str, filters: tuple[tuple[str, str], ...] = ()) -> str:
    """128-bit id of an entry (32 hex digits): same scope, filters and prompt give the
    same entry. The exact cache's (a lookup finds an entry by nothing else)."""
    return _entry_hash(scope, prompt, filters).hex()[:32]


def compact_digest(scope: str, prompt: str, filters: tuple[tuple[str, str], ...] = ()) -> str:
    """The semantic cache's id of an entry: the first hex digit of :func:`entry_digest`
    (the bucket), then the hash's next 15 bytes in base64url: 124 bits in 21 characters.

    The id is in the entry's key (kept twice: keyspace and the search index's document
    table) and in its bucket's member set: 11 characters fewer than 32 hex digits save
    ≈ 70 B an entry (cache_floor). Entries written with a hex id (before 2026-12-04)
    are still found by the search, counted, cleared and expired.
    """
    h = _entry_hash(scope, prompt, filters)
    return BUCKETS[h[0] >> 4] + base64.urlsafe_b64encode(h[1:16]).decode()


# The characters of a compact digest after its first (base64url's alphabet)
MEMBER_PARTS = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"

# The field of a semantic entry's packed values: no partition field can take this name
# (theirs start with a letter or "_"), so it needs no place among RESERVED_FIELDS.
PACKED = "0"


def pack(prompt: bytes, payload: bytes, usage: bytes, tokens: int, features: bytes) -> bytes:
    """A semantic entry's values in one field: ``<payload size> <tokens>\\n<usage
    JSON>\\n<features>\\n<prompt><payload>``. The payload's size comes first, so the
    exact tier's script cuts it off the end; usage JSON and the features (empty
    without guards) hold no newline, the prompt and the payload may."""
    return b"%d %d\n%s\n%s\n%s%s" % (len(payload), tokens, usage, features, prompt, payload)


def unpack(raw: bytes | str) -> tuple[bytes, bytes, bytes, int, bytes]:
    """``(prompt, payload, usage, tokens, features)`` of a :func:`pack` value."""
    if isinstance(raw, str):  # a client built with decode_responses=True
        raw = raw.encode("utf-8", "surrogateescape")
    head, usage, features, rest = raw.split(b"\n", 3)
    size, tokens = head.split(b" ")
    cut = len(rest) - int(size)
    return rest[:cut], rest[cut:], usage, int(tokens), features


def check_args(prompt: object, scope: object) -> None:
    if not isinstance(prompt, str):
        raise ConfigError(f"prompt must be str, got {type(prompt).__name__}")
    check_text(prompt, "the prompt")
    if not isinstance(scope, str) or not scope:
        raise ConfigError(
            "scope must be a non-empty str: build it with make_scope({...model identity...})"
        )


def check_ttl(ttl: object, what: str = "ttl") -> int | None:
    """``ttl`` seconds as milliseconds (at least 1), None for none, else
    :class:`ConfigError` naming ``what`` (:func:`check_seconds`' rule and message)."""
    if ttl is None:
        return None
    seconds = check_seconds(ttl, f"{what} (None: never expires)", most=MAX_TTL)
    return max(1, round(seconds * 1000))  # ms


def usage_tokens(usage: Mapping[str, Any] | None) -> int | None:
    """Total tokens of a usage mapping (OpenAI-, LangChain- or LlamaIndex-style keys),
    or None (unknown) when it names no token count or one no call has: a negative count
    (a model's bug: stored, it made the tokens-saved counter fall), NaN, or past
    ``MAX_TOKENS`` (Redis integers would overflow). The one check of a model's reported
    usage: the caches and the batch jobs' limiter settlement both use it."""
    if not usage:
        return None
    counts = []
    for key in _TOTAL_KEYS:
        value = usage.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            counts = [value]
            break
    else:
        for key in _PART_KEYS:
            value = usage.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                counts.append(value)
    if not counts or not all(0 <= c <= MAX_TOKENS for c in counts):  # NaN fails both
        return None
    total = sum(int(c) for c in counts)
    return total if total <= MAX_TOKENS else None


def total_tokens(usage: Mapping[str, Any] | None) -> int:
    """:func:`usage_tokens`, 0 when unknown."""
    return usage_tokens(usage) or 0


def refused_usage(usage: Mapping[str, Any] | None) -> bool:
    """Whether ``usage`` names a token count that :func:`usage_tokens` refuses (usage
    naming none, e.g. only a cost, is unknown tokens but nothing to warn about)."""
    return (
        bool(usage)
        and usage_tokens(usage) is None
        and any(k in usage for k in (*_TOTAL_KEYS, *_PART_KEYS))  # type: ignore[operator]
    )


def trusted_usage(usage: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """``usage`` as a cache entry keeps it: None (logged) when it names a token count
    :func:`usage_tokens` refuses, so a hit never replays, nor counts, a negative one."""
    if refused_usage(usage):
        logger.warning("a model reported usage %r: stored as unknown (None)", usage)
        return None
    return usage


_TOTAL_KEYS = ("total_tokens", "total")
_PART_KEYS = ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens")


def text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def usage_json(usage: Mapping[str, Any] | None) -> bytes:
    """An entry's stored usage: compact JSON (no raw newline, as :func:`pack` and the
    lookup script's reply need), ``b""`` for none; :func:`parse_usage` reads it."""
    return orjson.dumps(dict(usage), default=str) if usage else b""


def parse_usage(raw: object) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        usage = orjson.loads(raw)  # type: ignore[arg-type]
    except orjson.JSONDecodeError:
        return None
    return usage if isinstance(usage, dict) else None


@dataclass(frozen=True)
class CacheHit:
    """A served entry: the stored payload and where it came from."""

    payload: str
    prompt: str  # the stored prompt (differs from the query on a semantic hit)
    distance: float  # cosine distance to the query; 0.0 on an exact hit
    usage: dict[str, Any] | None  # token usage of the original call
    hits: int  # times this entry has been served, this one included
    key: str
