"""What both caches share: scopes, entry digests, hits, stats and the Redis-down policy.

An entry is one Redis hash: ``prompt``, ``payload`` (JSON written by an adapter),
``scope`` (hash of the model identity, a TAG in the semantic index), ``created``
(epoch seconds), ``usage`` (JSON of the original call's token usage), ``tokens``
(its total, summed into ``tokens_saved`` on hits), the optional filter fields and,
in the semantic cache, ``vec``. Per-entry hit counts live in a separate hash per
bucket: writing an indexed hash makes RediSearch re-index its vector (~0.5 ms).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ..config import RedisAgentConfig
from ..errors import ConfigError, RedisUnavailableError, RedisWriteRefusedError
from ..keys import check_text
from ..redis_errors import map_redis_error

__all__ = [
    "BUCKETS",
    "CacheHit",
    "CacheStats",
    "OnError",
    "RedisFaults",
    "block_text",
    "conversation_text",
    "entry_digest",
    "make_scope",
    "tool_call_text",
    "total_tokens",
]

logger = logging.getLogger("redis_agent_core.cache")

OnError = Literal["degrade", "raise"]

# 16 buckets (first hex digit of the digest): entries spread over 16 hash tags, so a
# cluster shares the load, while each bucket's entries, members and counters share a
# slot and one script can update them together.
BUCKETS = "0123456789abcdef"

#: Longest pause between probes of a Redis that keeps failing (seconds).
MAX_RECHECK = 30.0

_FILTER_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
RESERVED_FIELDS = frozenset({"prompt", "payload", "scope", "created", "usage", "tokens", "vec"})


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
    return hashlib.sha256(data).hexdigest()[:32]


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


def entry_digest(scope: str, prompt: str, filters: tuple[tuple[str, str], ...] = ()) -> str:
    """128-bit id of an entry: same scope, filters and prompt give the same entry."""
    h = hashlib.sha256(scope.encode())
    h.update(b"\0")
    for name, value in filters:
        h.update(name.encode() + b"\x1f" + value.encode() + b"\x1e")
    h.update(b"\0")
    h.update(prompt.encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:32]


def check_args(prompt: object, scope: object) -> None:
    if not isinstance(prompt, str):
        raise ConfigError(f"prompt must be str, got {type(prompt).__name__}")
    check_text(prompt, "the prompt")
    if not isinstance(scope, str) or not scope:
        raise ConfigError(
            "scope must be a non-empty str: build it with make_scope({...model identity...})"
        )


def check_ttl(ttl: object, what: str = "ttl") -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ConfigError(f"{what} must be a positive number of seconds or None, got {ttl!r}")
    return max(1, round(float(ttl) * 1000))  # ms


def total_tokens(usage: Mapping[str, Any] | None) -> int:
    """Total tokens of a usage mapping (OpenAI-, LangChain- or LlamaIndex-style keys)."""
    if not usage:
        return 0
    for key in ("total_tokens", "total"):
        value = usage.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    total = 0
    for key in ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens"):
        value = usage.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total += int(value)
    return total


def conversation_text(messages: Sequence[tuple[str, str]]) -> str:
    """The text a semantic cache embeds for a conversation.

    One user message is its content alone (so a chat prompt and a plain prompt with
    the same question match); otherwise one ``role: content`` line per message.
    """
    if len(messages) == 1 and messages[0][0] in ("human", "user"):
        return messages[0][1]
    return "\n".join(f"{role}: {content}" for role, content in messages)


def _jsonable(value: object) -> object:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else repr(value)


def block_text(kind: str, data: object) -> str:
    """A stable stand-in for a non-text content block (an image, a file...) in the text a
    semantic cache embeds: ``[image `<hash>`]``. The same question about another image
    gets another text, which the guards refuse (a quoted string differs)."""
    raw = orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=_jsonable)
    return f"[{kind} `{hashlib.sha256(raw).hexdigest()[:16]}`]"


def tool_call_text(call: object) -> str:
    """``[tool call name {args}]`` for a tool-call dict or object (LangChain's ``name`` /
    ``args``, OpenAI's ``function.name`` / ``function.arguments``); ids are left out,
    they change with every run."""
    data = _jsonable(call) if not isinstance(call, Mapping) else call
    if not isinstance(data, Mapping):
        return f"[tool call {data}]"
    inner = data.get("function")
    fn: Mapping[Any, Any] = inner if isinstance(inner, Mapping) else data
    name = fn.get("name") or fn.get("tool_name") or "?"
    args = fn.get("args", fn.get("arguments", fn.get("tool_kwargs", "")))
    if not isinstance(args, str):
        args = orjson.dumps(args, option=orjson.OPT_SORT_KEYS, default=_jsonable).decode()
    return f"[tool call {name} {args}]"


def text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


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


@dataclass(frozen=True)
class CacheStats:
    """Counters shared by every process using the cache (kept in Redis)."""

    hits: int = 0
    misses: int = 0
    tokens_saved: int = 0
    entries: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits / lookups (0.0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hit_rate,
            "tokens_saved": self.tokens_saved,
            "entries": self.entries,
            "rejections": dict(self.rejections),
        }


def merge_stats(replies: Sequence[Mapping[Any, Any]], entries: int) -> CacheStats:
    """Sum the per-bucket counter hashes into one :class:`CacheStats`."""
    totals: dict[str, int] = {}
    for reply in replies:
        for k, v in (reply or {}).items():
            name = text(k)
            totals[name] = totals.get(name, 0) + int(v)
    rejections = {
        name.removeprefix("rejected:"): count
        for name, count in totals.items()
        if name.startswith("rejected:")
    }
    return CacheStats(
        hits=totals.get("hits", 0),
        misses=totals.get("misses", 0),
        tokens_saved=totals.get("tokens_saved", 0),
        entries=entries,
        rejections=rejections,
    )


class RedisFaults:
    """What a cache does when Redis is unreachable.

    ``degrade`` (default): the failing call acts as a miss / skipped write, a warning
    is logged at most once per ``log_interval`` seconds, and Redis is not tried again
    for ``recheck_after`` seconds, doubled after each further failure up to 30 s and
    reset by a success (so a dead or hung server costs nothing per LLM call, instead of
    a timeout each time). ``raise``: :class:`RedisUnavailableError`.
    """

    def __init__(
        self,
        config: RedisAgentConfig,
        what: str,
        on_error: OnError | None = None,
        *,
        log_interval: float = 60.0,
        recheck_after: float = 1.0,
    ) -> None:
        if on_error is None:  # the pack-wide policy, else the caches' default
            on_error = config.on_error or "degrade"
        if on_error not in ("degrade", "raise"):
            raise ConfigError(f"on_error must be 'degrade' or 'raise', got {on_error!r}")
        self.config = config
        self.what = what
        self.on_error = on_error
        self.log_interval = log_interval
        self.recheck_after = recheck_after
        self._down_until = 0.0
        self._refused_until = 0.0  # writes skipped until then; reads go on
        self._streak = 0  # failures since the last success: the pause doubles with each
        self._last_log = float("-inf")
        self.failures = 0  # calls degraded since creation (for tests and metrics)

    def available(self) -> bool:
        """False while a recent failure says Redis is down (degrade mode only)."""
        return self.on_error == "raise" or time.monotonic() >= self._down_until

    def writable(self) -> bool:
        """False while Redis is down or recently refused a write (degrade mode only)."""
        return self.available() and (
            self.on_error == "raise" or time.monotonic() >= self._refused_until
        )

    def ok(self) -> None:
        """Record a successful call: the next failure pauses ``recheck_after`` again."""
        if self._streak:
            self._streak = 0

    def _error(self, action: str, exc: BaseException) -> RedisUnavailableError:
        return map_redis_error(exc, f"{self.what}: {action}", self.config)

    def failed(self, action: str, exc: BaseException) -> None:
        """Handle a connection failure: raise, or record it and log (throttled)."""
        error = self._error(action, exc)
        if self.on_error == "raise":
            raise error from exc
        now = time.monotonic()
        self.failures += 1
        pause = min(self.recheck_after * 2**self._streak, max(MAX_RECHECK, self.recheck_after))
        self._streak = min(self._streak + 1, 32)
        if isinstance(error, RedisWriteRefusedError):
            # the server answers: keep reading it (hits are served uncounted), skip writes
            self._refused_until = now + pause
            if now - self._last_log >= self.log_interval:
                self._last_log = now
                logger.warning(
                    "%s; serving stored entries and skipping writes (on_error='degrade'); "
                    "this warning repeats at most every %.0fs",
                    error,
                    self.log_interval,
                )
            return
        self._down_until = now + pause
        if now - self._last_log >= self.log_interval:
            self._last_log = now
            logger.warning(
                "%s; serving misses and skipping writes (on_error='degrade'), retrying in "
                "%.1fs; this warning repeats at most every %.0fs",
                error,
                pause,
                self.log_interval,
            )
