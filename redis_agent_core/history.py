"""Conversation state: one Redis list of JSON messages per session, with metadata,
an archive, sliding expiry, a session index and optional semantic recall.

Layout (``KeySpace``): a session's messages, metadata hash and archive share one hash
tag, so every per-session write is one atomic Lua script even on Redis Cluster. The
namespace's session index (a sorted set scored by last activity) is updated by the
same script on a single node; on a cluster it lives in another slot, so its command is
pipelined next to the script (still one round trip). Messages
are opaque JSON payloads: the LangChain and LlamaIndex adapters own the format.

Expiry: with a TTL, every append, replace, metadata update and archive/drop of the
oldest refreshes it on all of a session's keys and the session's index entry (sliding
expiry); reads and single deletes (``delete_at``, ``pop_last``) do not. Listing drops
sessions idle for longer than the TTL from the index, so all stores of one namespace
should use the same TTL.

Redis down: every call raises :class:`RedisUnavailableError` after the config's
timeouts and retries; a write either ran whole (one script) or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
import redis

from .config import AsyncClient, RedisAgentConfig, SyncClient, get_default_config, unavailable
from .errors import ConfigError, DataCorruptionError
from .keys import KeySpace

if TYPE_CHECKING:
    from .embeddings import Embedder

__all__ = [
    "ACTIVE",
    "ARCHIVED",
    "RecalledMessage",
    "SessionInfo",
    "SessionStore",
    "Status",
    "corrupt_message_error",
]

Status = Literal["active", "archived"]
ACTIVE: Status = "active"
ARCHIVED: Status = "archived"

_UNSET: Any = object()
_META_PREFIX = "m:"  # user metadata fields; reserved ones have no prefix
_UNPACK_CHUNK = 4000  # Lua's unpack() has a stack limit: push in chunks


class _Script:
    """Lua source with its SHA1, computed locally (no SCRIPT LOAD round trip)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def evalsha(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def eval(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        return ("EVAL", self.source, len(keys), *keys, *args)


_EXPIRE_LUA = f"""
local function expire_all(ttl)
  if ttl > 0 then
    for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end  -- the session's own keys
  end
end
local function push(key, from, to)
  local len = 0
  for i = from, to, {_UNPACK_CHUNK} do
    len = redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + {_UNPACK_CHUNK - 1}, to)))
  end
  return len
end
"""

# KEYS: msgs, meta, archive[, sessions index]. ARGV: now_ms, ttl_s (0 none),
# max_len (0 none), mode (append|replace), target (active|archived), n_meta, n_del,
# session id, meta pairs..., deleted meta fields..., payloads...
# The index is only passed on a single node: on a cluster it lives in another slot
# and the caller pipelines its ZADD next to the script instead.
# Returns {length of the target list, first sequence number of the payloads}.
_WRITE = _Script(
    _EXPIRE_LUA
    + """
local now, ttl, maxlen = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local mode, target = ARGV[4], ARGV[5]
local nmeta, ndel = tonumber(ARGV[6]), tonumber(ARGV[7])
local key = KEYS[1]
if target == 'archived' then key = KEYS[3] end
if mode == 'replace' then redis.call('DEL', key) end
local first = 9 + 2 * nmeta + ndel
local count = #ARGV - first + 1
local len
if count > 0 then len = push(key, first, #ARGV) else len = redis.call('LLEN', key) end
if maxlen > 0 and target == 'active' and len > maxlen then
  redis.call('LTRIM', key, -maxlen, -1)
  len = maxlen
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count) - count
if seq == 0 then redis.call('HSETNX', KEYS[2], 'created_at', now) end  -- first write
redis.call('HSET', KEYS[2], 'updated_at', now)
for i = 9, 8 + 2 * nmeta, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = 9 + 2 * nmeta, 8 + 2 * nmeta + ndel do redis.call('HDEL', KEYS[2], ARGV[i]) end
if #KEYS == 4 then
  redis.call('ZADD', KEYS[4], now, ARGV[8])
end
expire_all(ttl)
return {len, seq}
"""
)

# The common write, kept short (it runs on every message): append active payloads,
# no metadata change. Same effects as _WRITE in mode append / target active.
# KEYS: msgs, meta, archive[, sessions index]. ARGV: session id, ttl_s (0 none),
# max_len (0 none), now_ms, payloads... (at most _UNPACK_CHUNK of them).
_APPEND = _Script(
    """
local count = #ARGV - 4
local len = redis.call('RPUSH', KEYS[1], unpack(ARGV, 5))
local maxlen = tonumber(ARGV[3])
if maxlen > 0 and len > maxlen then
  redis.call('LTRIM', KEYS[1], -maxlen, -1)
  len = maxlen
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count) - count
if seq == 0 then redis.call('HSETNX', KEYS[2], 'created_at', ARGV[4]) end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[4])
if #KEYS == 4 then redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1]) end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
return {len, seq}
"""
)

# KEYS: msgs. ARGV: index, tombstone. Replace the item by a unique tombstone, then
# remove that: deletes one item in place and keeps the order of the others.
_DELETE_AT = _Script(
    """
local v = redis.call('LINDEX', KEYS[1], ARGV[1])
if not v then return false end
redis.call('LSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[2])
return v
"""
)

# KEYS: msgs, meta, archive[, sessions index]. ARGV: n, move_to_archive (0/1), now_ms,
# ttl_s, session id. Like every write that refreshes the TTL, it refreshes the
# session's index entry (ZADD XX: never re-adds a deleted session); on a cluster the
# caller pipelines that ZADD instead.
_TAKE_OLDEST = _Script(
    _EXPIRE_LUA
    + """
local n = tonumber(ARGV[1])
local items = redis.call('LRANGE', KEYS[1], 0, n - 1)
if #items == 0 then return items end
redis.call('LTRIM', KEYS[1], n, -1)
if ARGV[2] == '1' then
  for i = 1, #items, 4000 do
    redis.call('RPUSH', KEYS[3], unpack(items, i, math.min(i + 3999, #items)))
  end
end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[3])
if #KEYS == 4 then redis.call('ZADD', KEYS[4], 'XX', ARGV[3], ARGV[5]) end
expire_all(tonumber(ARGV[4]))
return items
"""
)

# KEYS: msgs, meta, archive[, sessions index]. ARGV: which (active|archived|all),
# return_items (0/1), session id.
# Returns {archived items, active items} deleted (empty unless asked).
_CLEAR = _Script(
    """
local which, give = ARGV[1], ARGV[2] == '1'
local archived, active = {}, {}
if which ~= 'active' then
  if give then archived = redis.call('LRANGE', KEYS[3], 0, -1) end
  redis.call('DEL', KEYS[3])
end
if which ~= 'archived' then
  if give then active = redis.call('LRANGE', KEYS[1], 0, -1) end
  redis.call('DEL', KEYS[1])
end
if which == 'all' then
  redis.call('DEL', KEYS[2])
  if #KEYS == 4 then redis.call('ZREM', KEYS[4], ARGV[3]) end
end
return {archived, active}
"""
)

# KEYS: msgs, meta, archive. Returns {meta pairs, len active, len archived, pttl}.
_INFO = _Script(
    """
return {redis.call('HGETALL', KEYS[2]), redis.call('LLEN', KEYS[1]),
        redis.call('LLEN', KEYS[3]), redis.call('PTTL', KEYS[2])}
"""
)

# KEYS: msgs, archive. Returns {archived items, active items} in one snapshot.
_READ_BOTH = _Script(
    """
return {redis.call('LRANGE', KEYS[2], 0, -1), redis.call('LRANGE', KEYS[1], 0, -1)}
"""
)


@dataclass(frozen=True)
class SessionInfo:
    """What is known about one session: times are seconds since the epoch."""

    session_id: str
    created_at: float
    updated_at: float
    message_count: int
    archived_count: int
    ttl: float | None  # seconds left before expiry, None when it never expires
    metadata: dict[str, Any]


@dataclass(frozen=True)
class RecalledMessage:
    """A stored message returned by semantic recall, with its cosine distance."""

    payload: bytes
    distance: float
    seq: int


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _check_session(session_id: object) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise ConfigError(f"session_id must be a non-empty str, got {session_id!r}")
    return session_id


def corrupt_message_error(
    session_id: str, index: int, exc: BaseException, status: Status = ACTIVE
) -> DataCorruptionError:
    """The error raised when a stored message cannot be decoded (adapters use it)."""
    where = "archived message" if status == ARCHIVED else "message"
    return DataCorruptionError(
        f"session {session_id!r}: stored {where} at index {index} cannot be decoded "
        f"({type(exc).__name__}: {exc}). The other messages are intact: read them with "
        f"on_corrupt='skip', or remove this one with delete_message(session, {index})."
    )


def parse_info(session_id: str, reply: Sequence[Any]) -> SessionInfo | None:
    """Turn the ``_INFO`` script's reply into a :class:`SessionInfo` (None: no session)."""
    pairs, active, archived, pttl = reply
    if isinstance(pairs, dict):  # RESP3 may hand back a map
        items = list(pairs.items())
    else:
        items = list(zip(pairs[::2], pairs[1::2], strict=True))
    if not items and not active and not archived:
        return None
    reserved: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    for raw_field, raw_value in items:
        name = _text(raw_field)
        if name.startswith(_META_PREFIX):
            try:
                metadata[name[len(_META_PREFIX) :]] = orjson.loads(raw_value)
            except orjson.JSONDecodeError as exc:
                raise DataCorruptionError(
                    f"session {session_id!r}: metadata field {name[2:]!r} is not JSON ({exc})"
                ) from exc
        else:
            reserved[name] = _text(raw_value)
    return SessionInfo(
        session_id=session_id,
        created_at=int(reserved.get("created_at", 0)) / 1000,
        updated_at=int(reserved.get("updated_at", 0)) / 1000,
        message_count=int(active),
        archived_count=int(archived),
        ttl=None if int(pttl) < 0 else int(pttl) / 1000,
        metadata=metadata,
    )


def _encode_metadata(metadata: Mapping[str, Any] | None) -> list[bytes | str]:
    if not metadata:
        return []
    out: list[bytes | str] = []
    for name, value in metadata.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"metadata keys must be non-empty str, got {name!r}")
        try:
            encoded = orjson.dumps(value)
        except TypeError as exc:
            raise ConfigError(
                f"metadata value of {name!r} is not JSON-serialisable ({exc}); "
                "store str, numbers, bools, None, lists or dicts"
            ) from exc
        out += [_META_PREFIX + name, encoded]
    return out


def slice_both(
    archived: list[bytes], active: list[bytes], offset: int | None, limit: int | None
) -> list[bytes]:
    """Archived then active messages, sliced like SQL ``OFFSET``/``LIMIT``."""
    items = archived + active
    start = offset or 0
    return items[start:] if limit is None else items[start : start + limit]


class SessionStore:
    """Sessions of JSON messages in Redis, sync and asyncio.

    Args:
        config: connection and namespace (``None``: the process default).
        ttl: seconds of inactivity before a session expires (sliding: appends and
            other writes refresh it). Default: ``config.default_ttl``; ``None``: never.
        max_messages: keep at most this many active messages (oldest dropped on append).
        embedder: turns on semantic recall: each appended message with a text is
            embedded and indexed (one embedding per message). Needs the Query Engine
            on a single node.

    Construction does no I/O; clients come from the config's shared pools.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        ttl: int | None = _UNSET,
        max_messages: int | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.config = config or get_default_config()
        # Pre-encoded head of the append call per session (sha, keys, settings): an
        # append is the hot path, and redis-py packs bytes faster than str and int.
        # Setting ttl or max_messages clears it.
        self._append_heads: dict[str, tuple[Any, ...]] = {}
        self._recall: _Recall | None = None
        self.ttl = self.config.default_ttl if ttl is _UNSET else ttl
        self.max_messages = max_messages
        self.keys: KeySpace = self.config.keys
        if embedder is not None:
            self._recall = _Recall(self.config, embedder, self.ttl)
        # One node: the session index is updated inside the write script (atomic, no
        # pipeline). Cluster: it lives in another slot, so its command is pipelined.
        self._inline_index = not self.config.is_cluster()

    @property
    def ttl(self) -> int | None:
        """Seconds of inactivity before a session expires (None: never)."""
        return self._ttl

    @ttl.setter
    def ttl(self, ttl: int | None) -> None:
        if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0):
            raise ConfigError(f"ttl must be a positive int of seconds or None, got {ttl!r}")
        self._ttl = ttl
        self._append_heads.clear()
        if self._recall is not None:
            self._recall.ttl = ttl

    @property
    def max_messages(self) -> int | None:
        """Most active messages kept per session (None: no limit)."""
        return self._max_messages

    @max_messages.setter
    def max_messages(self, max_messages: int | None) -> None:
        if max_messages is not None and (
            not isinstance(max_messages, int) or isinstance(max_messages, bool) or max_messages < 1
        ):
            raise ConfigError(f"max_messages must be an int >= 1 or None, got {max_messages!r}")
        self._max_messages = max_messages
        self._append_heads.clear()

    def __repr__(self) -> str:
        return (
            f"SessionStore(namespace={self.keys.namespace!r}, ttl={self.ttl!r}, "
            f"max_messages={self.max_messages!r}, recall={self._recall is not None})"
        )

    @property
    def recall_enabled(self) -> bool:
        """Whether appended messages are embedded for :meth:`relevant`."""
        return self._recall is not None

    # -- pure command builders (shared by sync and async paths) --
    def _session_keys(self, session_id: str) -> tuple[str, str, str]:
        _check_session(session_id)
        k = self.keys
        return (
            k.history_messages(session_id),
            k.history_meta(session_id),
            k.history_archive(session_id),
        )

    def _write_call(
        self,
        session_id: str,
        payloads: Sequence[bytes | str],
        *,
        mode: str,
        status: Status,
        metadata: Mapping[str, Any] | None,
        delete_metadata: Sequence[str] = (),
        now_ms: int,
    ) -> list[tuple[Any, ...]]:
        """The write script call, plus the index ZADD on a cluster (other slot)."""
        if status not in (ACTIVE, ARCHIVED):
            raise ConfigError(f"status must be 'active' or 'archived', got {status!r}")
        for i, payload in enumerate(payloads):
            if not isinstance(payload, (bytes, str)):
                raise ConfigError(
                    f"session {session_id!r}: payload {i} must be bytes or str (JSON), "
                    f"got {type(payload).__name__}"
                )
        meta = _encode_metadata(metadata)
        dels = [_META_PREFIX + name for name in delete_metadata]
        args: list[Any] = [
            now_ms,
            self.ttl or 0,
            self.max_messages or 0,
            mode,
            status,
            len(meta) // 2,
            len(dels),
            session_id,
            *meta,
            *dels,
            *payloads,
        ]
        keys = self._session_keys(session_id)
        if self._inline_index:
            return [_WRITE.evalsha((*keys, self.keys.history_sessions()), args)]
        index_add = ("ZADD", self.keys.history_sessions(), now_ms, session_id)
        return [_WRITE.evalsha(keys, args), index_add]

    def _append_head(self, session_id: str) -> tuple[Any, ...]:
        """``EVALSHA`` of :data:`_APPEND` up to its per-call arguments, pre-encoded."""
        head = self._append_heads.get(session_id)
        if head is None:
            keys = [k.encode() for k in self._session_keys(session_id)]
            if self._inline_index:
                keys.append(self.keys.history_sessions().encode())
            settings = (
                session_id.encode(),
                b"%d" % (self.ttl or 0),
                b"%d" % (self.max_messages or 0),
            )
            head = ("EVALSHA", _APPEND.sha.encode(), b"%d" % len(keys), *keys, *settings)
            if len(self._append_heads) >= 1024:  # bounded: many sessions, one store
                self._append_heads.clear()
            self._append_heads[session_id] = head
        return head

    def _append_calls(
        self, session_id: str, payloads: Sequence[bytes | str], now_ms: int
    ) -> list[tuple[Any, ...]]:
        """The write call of a plain append (active, no metadata) via :data:`_APPEND`;
        other writes go through :meth:`_write_call`."""
        if len(payloads) > _UNPACK_CHUNK or not all(isinstance(p, (bytes, str)) for p in payloads):
            return self._write_call(
                session_id, payloads, mode="append", status=ACTIVE, metadata=None, now_ms=now_ms
            )
        call = (*self._append_head(session_id), b"%d" % now_ms, *payloads)
        if self._inline_index:
            return [call]
        return [call, ("ZADD", self.keys.history_sessions(), now_ms, session_id)]

    def _list_calls(
        self, offset: int, limit: int | None, newest_first: bool, now_ms: int
    ) -> list[tuple[Any, ...]]:
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ConfigError(f"offset must be an int >= 0, got {offset!r}")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ConfigError(f"limit must be an int >= 0 or None, got {limit!r}")
        key = self.keys.history_sessions()
        calls: list[tuple[Any, ...]] = []
        if self.ttl is not None:
            # Sessions idle for longer than the TTL have expired: prune them.
            calls.append(("ZREMRANGEBYSCORE", key, "-inf", f"({now_ms - self.ttl * 1000}"))
        stop = -1 if limit is None else offset + limit - 1
        calls.append(("ZRANGE", key, offset, stop, *(("REV",) if newest_first else ())))
        return calls

    # -- execution helpers --
    def _client(self) -> SyncClient:
        return self.config.get_client()

    def _aclient(self) -> AsyncClient:
        return self.config.get_async_client()

    def _call(self, action: str, cmd: tuple[Any, ...], *extra: tuple[Any, ...]) -> Any:
        """Run one command (EVALSHA falls back to EVAL) plus pipelined ``extra`` ones,
        in one round trip; return the first reply."""
        client = self._client()
        try:
            if not extra:
                try:
                    return client.execute_command(*cmd)
                except redis.exceptions.NoScriptError:
                    return client.execute_command(*_as_eval(cmd))
            for attempt in (cmd, _as_eval(cmd)):
                pipe = client.pipeline(transaction=False)
                for c in (attempt, *extra):
                    pipe.execute_command(*c)
                replies = pipe.execute(raise_on_error=False)
                if isinstance(replies[0], redis.exceptions.NoScriptError):
                    continue
                _raise_first(replies)
                return replies[0]
            raise AssertionError("unreachable")  # pragma: no cover
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, action, exc) from exc

    async def _acall(self, action: str, cmd: tuple[Any, ...], *extra: tuple[Any, ...]) -> Any:
        client = self._aclient()
        try:
            if not extra:
                try:
                    return await client.execute_command(*cmd)
                except redis.exceptions.NoScriptError:
                    return await client.execute_command(*_as_eval(cmd))
            for attempt in (cmd, _as_eval(cmd)):
                pipe = client.pipeline(transaction=False)
                for c in (attempt, *extra):
                    pipe.execute_command(*c)
                replies = await pipe.execute(raise_on_error=False)
                if isinstance(replies[0], redis.exceptions.NoScriptError):
                    continue
                _raise_first(replies)
                return replies[0]
            raise AssertionError("unreachable")  # pragma: no cover
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, action, exc) from exc

    def _pipeline(self, action: str, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        try:
            pipe = self._client().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            return list(pipe.execute())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, action, exc) from exc

    async def _apipeline(self, action: str, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        try:
            pipe = self._aclient().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            return list(await pipe.execute())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, action, exc) from exc

    # -- writes --
    def append(
        self,
        session_id: str,
        payloads: Sequence[bytes | str],
        *,
        texts: Sequence[str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        status: Status = ACTIVE,
    ) -> int:
        """Append JSON payloads atomically; refresh the TTL, trim, update the index.

        ``texts`` (one per payload, ``None`` to skip) feed semantic recall when it is
        on. Returns the length of the list written to. One round trip (plus one for
        recall documents).
        """
        vectors = self._recall.embed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        if status == ACTIVE and not metadata and payloads:
            calls = self._append_calls(session_id, payloads, now)
        else:
            calls = self._write_call(
                session_id, payloads, mode="append", status=status, metadata=metadata, now_ms=now
            )
        length, seq = self._call("append to history", *calls)
        if self._recall and vectors is not None:
            self._recall.write(session_id, seq, payloads, vectors)
        return int(length)

    async def aappend(
        self,
        session_id: str,
        payloads: Sequence[bytes | str],
        *,
        texts: Sequence[str | None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        status: Status = ACTIVE,
    ) -> int:
        """Async :meth:`append`."""
        vectors = await self._recall.aembed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        if status == ACTIVE and not metadata and payloads:
            calls = self._append_calls(session_id, payloads, now)
        else:
            calls = self._write_call(
                session_id, payloads, mode="append", status=status, metadata=metadata, now_ms=now
            )
        length, seq = await self._acall("append to history", *calls)
        if self._recall and vectors is not None:
            await self._recall.awrite(session_id, seq, payloads, vectors)
        return int(length)

    def replace(
        self,
        session_id: str,
        payloads: Sequence[bytes | str],
        *,
        texts: Sequence[str | None] | None = None,
        status: Status = ACTIVE,
    ) -> int:
        """Replace a session's active (or archived) messages atomically."""
        vectors = self._recall.embed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        calls = self._write_call(
            session_id, payloads, mode="replace", status=status, metadata=None, now_ms=now
        )
        length, seq = self._call("replace history", *calls)
        if self._recall and vectors is not None:
            self._recall.write(session_id, seq, payloads, vectors)
        return int(length)

    async def areplace(
        self,
        session_id: str,
        payloads: Sequence[bytes | str],
        *,
        texts: Sequence[str | None] | None = None,
        status: Status = ACTIVE,
    ) -> int:
        """Async :meth:`replace`."""
        vectors = await self._recall.aembed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        calls = self._write_call(
            session_id, payloads, mode="replace", status=status, metadata=None, now_ms=now
        )
        length, seq = await self._acall("replace history", *calls)
        if self._recall and vectors is not None:
            await self._recall.awrite(session_id, seq, payloads, vectors)
        return int(length)

    def update_metadata(
        self,
        session_id: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        remove: Sequence[str] = (),
    ) -> None:
        """Merge JSON-serialisable ``metadata`` into the session's (and drop ``remove``);
        creates the session if needed and refreshes its TTL."""
        now = _now_ms()
        calls = self._write_call(
            session_id,
            (),
            mode="append",
            status=ACTIVE,
            metadata=metadata,
            delete_metadata=remove,
            now_ms=now,
        )
        self._call("update session metadata", *calls)

    async def aupdate_metadata(
        self,
        session_id: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        remove: Sequence[str] = (),
    ) -> None:
        """Async :meth:`update_metadata`."""
        now = _now_ms()
        calls = self._write_call(
            session_id,
            (),
            mode="append",
            status=ACTIVE,
            metadata=metadata,
            delete_metadata=remove,
            now_ms=now,
        )
        await self._acall("update session metadata", *calls)

    # -- reads --
    def _range_call(self, session_id: str, start: int, stop: int, status: Status) -> tuple:
        msgs, _, archive = self._session_keys(session_id)
        return ("LRANGE", archive if status == ARCHIVED else msgs, start, stop)

    def read(
        self, session_id: str, start: int = 0, stop: int = -1, *, status: Status = ACTIVE
    ) -> list[bytes]:
        """Payloads ``start..stop`` (inclusive, negative from the end), one round trip."""
        return self._call("read history", self._range_call(session_id, start, stop, status))

    async def aread(
        self, session_id: str, start: int = 0, stop: int = -1, *, status: Status = ACTIVE
    ) -> list[bytes]:
        """Async :meth:`read`."""
        return await self._acall("read history", self._range_call(session_id, start, stop, status))

    def last(self, session_id: str, n: int) -> list[bytes]:
        """The last ``n`` active payloads, oldest first."""
        return [] if n <= 0 else self.read(session_id, -n, -1)

    async def alast(self, session_id: str, n: int) -> list[bytes]:
        """Async :meth:`last`."""
        return [] if n <= 0 else await self.aread(session_id, -n, -1)

    def read_all_statuses(self, session_id: str) -> tuple[list[bytes], list[bytes]]:
        """(archived, active) payloads, read in one atomic snapshot."""
        msgs, _, archive = self._session_keys(session_id)
        archived, active = self._call("read history", _READ_BOTH.evalsha((msgs, archive), ()))
        return list(archived), list(active)

    async def aread_all_statuses(self, session_id: str) -> tuple[list[bytes], list[bytes]]:
        """Async :meth:`read_all_statuses`."""
        msgs, _, archive = self._session_keys(session_id)
        archived, active = await self._acall(
            "read history", _READ_BOTH.evalsha((msgs, archive), ())
        )
        return list(archived), list(active)

    def count(self, session_id: str, *, status: Status = ACTIVE) -> int:
        """Number of active (or archived) messages."""
        return int(
            self._call("count messages", ("LLEN", self._range_call(session_id, 0, 0, status)[1]))
        )

    async def acount(self, session_id: str, *, status: Status = ACTIVE) -> int:
        """Async :meth:`count`."""
        key = self._range_call(session_id, 0, 0, status)[1]
        return int(await self._acall("count messages", ("LLEN", key)))

    def info(self, session_id: str) -> SessionInfo | None:
        """Metadata, times, counts and TTL of a session (None if it does not exist)."""
        reply = self._call("read session info", _INFO.evalsha(self._session_keys(session_id), ()))
        return parse_info(session_id, reply)

    async def ainfo(self, session_id: str) -> SessionInfo | None:
        """Async :meth:`info`."""
        call = _INFO.evalsha(self._session_keys(session_id), ())
        return parse_info(session_id, await self._acall("read session info", call))

    # -- deletes --
    def delete_at(self, session_id: str, index: int) -> bytes | None:
        """Remove the active message at ``index`` (negative from the end), keeping the
        order of the others; return it, or None if there is none."""
        return self._call("delete a message", self._delete_at_call(session_id, index))

    async def adelete_at(self, session_id: str, index: int) -> bytes | None:
        """Async :meth:`delete_at`."""
        return await self._acall("delete a message", self._delete_at_call(session_id, index))

    def _delete_at_call(self, session_id: str, index: int) -> tuple[Any, ...]:
        if not isinstance(index, int) or isinstance(index, bool):
            raise ConfigError(f"index must be an int, got {index!r}")
        tombstone = "\x00rap-deleted:" + uuid.uuid4().hex  # never equal to a JSON message
        return _DELETE_AT.evalsha(self._session_keys(session_id)[:1], (index, tombstone))

    def pop_last(self, session_id: str) -> bytes | None:
        """Remove and return the newest active message (None if empty)."""
        return self._call("delete the last message", ("RPOP", self._session_keys(session_id)[0]))

    async def apop_last(self, session_id: str) -> bytes | None:
        """Async :meth:`pop_last`."""
        key = self._session_keys(session_id)[0]
        return await self._acall("delete the last message", ("RPOP", key))

    def _take_calls(self, session_id: str, n: int, archive: bool) -> list[tuple[Any, ...]]:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ConfigError(f"n must be an int >= 0, got {n!r}")
        now = _now_ms()
        args = (n, 1 if archive else 0, now, self.ttl or 0, session_id)
        keys = self._session_keys(session_id)
        index = self.keys.history_sessions()
        if self._inline_index:
            return [_TAKE_OLDEST.evalsha((*keys, index), args)]
        return [_TAKE_OLDEST.evalsha(keys, args), ("ZADD", index, "XX", now, session_id)]

    def take_oldest(self, session_id: str, n: int, *, archive: bool = False) -> list[bytes]:
        """Remove the ``n`` oldest active messages and return them; with ``archive``
        move them to the session's archive instead of dropping them."""
        calls = self._take_calls(session_id, n, archive)
        if n == 0:
            return []
        return list(self._call("remove oldest messages", *calls))

    async def atake_oldest(self, session_id: str, n: int, *, archive: bool = False) -> list[bytes]:
        """Async :meth:`take_oldest`."""
        calls = self._take_calls(session_id, n, archive)
        if n == 0:
            return []
        return list(await self._acall("remove oldest messages", *calls))

    def _clear_calls(
        self, session_id: str, which: str, give: bool
    ) -> tuple[tuple[Any, ...], tuple[tuple[Any, ...], ...]]:
        keys = self._session_keys(session_id)
        args = (which, 1 if give else 0, session_id)
        if self._inline_index:
            return _CLEAR.evalsha((*keys, self.keys.history_sessions()), args), ()
        extra = (("ZREM", self.keys.history_sessions(), session_id),) if which == "all" else ()
        return _CLEAR.evalsha(keys, args), extra

    def clear(
        self,
        session_id: str,
        *,
        which: Literal["all", "active", "archived"] = "all",
        return_messages: bool = False,
    ) -> tuple[list[bytes], list[bytes]]:
        """Delete a session (``which='all'``: messages, archive, metadata, index entry,
        recall documents) or only its active or archived messages. Returns the deleted
        (archived, active) payloads when ``return_messages``."""
        call, extra = self._clear_calls(session_id, which, return_messages)
        archived, active = self._call("delete session", call, *extra)
        if which == "all" and self._recall is not None:
            self._recall.forget(session_id)
        return list(archived), list(active)

    async def aclear(
        self,
        session_id: str,
        *,
        which: Literal["all", "active", "archived"] = "all",
        return_messages: bool = False,
    ) -> tuple[list[bytes], list[bytes]]:
        """Async :meth:`clear`."""
        call, extra = self._clear_calls(session_id, which, return_messages)
        archived, active = await self._acall("delete session", call, *extra)
        if which == "all" and self._recall is not None:
            await self._recall.aforget(session_id)
        return list(archived), list(active)

    # -- the session index --
    def sessions(
        self, *, offset: int = 0, limit: int | None = None, newest_first: bool = True
    ) -> list[str]:
        """Session ids by last activity, from the index (no SCAN); expired ones are
        pruned from the index on the way."""
        calls = self._list_calls(offset, limit, newest_first, _now_ms())
        if limit == 0:
            return []
        return [_text(m) for m in self._pipeline("list sessions", calls)[-1]]

    async def asessions(
        self, *, offset: int = 0, limit: int | None = None, newest_first: bool = True
    ) -> list[str]:
        """Async :meth:`sessions`."""
        calls = self._list_calls(offset, limit, newest_first, _now_ms())
        if limit == 0:
            return []
        return [_text(m) for m in (await self._apipeline("list sessions", calls))[-1]]

    # -- semantic recall --
    def relevant(
        self, session_id: str, query: str, k: int = 4, *, max_distance: float | None = None
    ) -> list[RecalledMessage]:
        """Past messages of the session most similar to ``query`` (closest first)."""
        return self._require_recall().relevant(_check_session(session_id), query, k, max_distance)

    async def arelevant(
        self, session_id: str, query: str, k: int = 4, *, max_distance: float | None = None
    ) -> list[RecalledMessage]:
        """Async :meth:`relevant`."""
        recall = self._require_recall()
        return await recall.arelevant(_check_session(session_id), query, k, max_distance)

    def _require_recall(self) -> _Recall:
        if self._recall is None:
            raise ConfigError(
                "semantic recall is off for this history: pass embedder= (e.g. "
                "redis_agent_core.embeddings.default_embedder()) when building it"
            )
        return self._recall


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _as_eval(cmd: tuple[Any, ...]) -> tuple[Any, ...]:
    """The EVAL form of an EVALSHA call of one of this module's scripts."""
    if cmd[0] != "EVALSHA":
        return cmd
    sha = cmd[1]
    script = _BY_SHA[sha.decode() if isinstance(sha, bytes) else sha]
    return ("EVAL", script.source, *cmd[2:])


def _raise_first(replies: Sequence[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply


_BY_SHA = {s.sha: s for s in (_WRITE, _APPEND, _DELETE_AT, _TAKE_OLDEST, _CLEAR, _INFO, _READ_BOTH)}


def _session_tag(session_id: str) -> str:
    """The recall documents' tag of a session: a hex digest, because tag values are
    case-insensitive and split on ``,`` (raw ids would mix sessions)."""
    return hashlib.sha1(session_id.encode("utf-8"), usedforsecurity=False).hexdigest()


class _Recall:
    """Vector index of a namespace's messages for semantic recall (redisvl, FLAT, cosine).

    One hash document per recalled message: session tag (:func:`_session_tag`),
    sequence number, payload and vector. Documents get the store's TTL when written
    (not sliding). The index is created on first use.
    """

    def __init__(self, config: RedisAgentConfig, embedder: Embedder, ttl: int | None) -> None:
        self.config = config
        self.embedder = embedder
        self.ttl = ttl
        self._ready = False
        self._aready = False
        self._schema: Any = None

    def schema(self) -> Any:
        if self._schema is None:
            from redisvl.schema import IndexSchema

            keys = self.config.keys
            self._schema = IndexSchema.from_dict(
                {
                    "index": {
                        "name": keys.history_recall_index(),
                        "prefix": keys.history_recall_prefix(),
                        "key_separator": ":",
                        "storage_type": "hash",
                    },
                    "fields": [
                        {"name": "session", "type": "tag"},
                        {"name": "seq", "type": "numeric"},
                        {
                            "name": "vector",
                            "type": "vector",
                            "attrs": {
                                "dims": self.embedder.dims,
                                "distance_metric": "cosine",
                                "algorithm": "flat",
                                "datatype": "float32",
                            },
                        },
                    ],
                }
            )
        return self._schema

    def _index(self) -> Any:
        from redisvl.index import SearchIndex

        from .capabilities import require_search

        index = SearchIndex(self.schema(), redis_client=self.config.get_client())
        if not self._ready:
            require_search(self.config, "semantic recall over chat history")
            try:
                index.create(overwrite=False)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                raise unavailable(self.config, "create the recall index", exc) from exc
            self._ready = True
        return index

    async def _aindex(self) -> Any:
        from redisvl.index import AsyncSearchIndex

        from .capabilities import require_search

        index = AsyncSearchIndex(self.schema(), redis_client=self.config.get_async_client())
        if not self._aready:
            # the probe is sync (cached per server after the first): keep it off the loop
            await asyncio.to_thread(
                require_search, self.config, "semantic recall over chat history"
            )
            try:
                await index.create(overwrite=False)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                raise unavailable(self.config, "create the recall index", exc) from exc
            self._aready = True
        return index

    @staticmethod
    def _texts(texts: Sequence[str | None] | None, count: int) -> list[tuple[int, str]]:
        if texts is None:
            return []
        if len(texts) != count:
            raise ConfigError(f"texts must have one entry per payload ({count}), got {len(texts)}")
        return [(i, t) for i, t in enumerate(texts) if t]

    def embed(self, texts: Sequence[str | None] | None, count: int) -> list[tuple[int, bytes]]:
        wanted = self._texts(texts, count)
        if not wanted:
            return []
        self._index()  # fail (no search, Redis down) before anything is written
        matrix = self.embedder.embed([t for _, t in wanted])
        return [
            (i, row.astype("float32").tobytes()) for (i, _), row in zip(wanted, matrix, strict=True)
        ]

    async def aembed(
        self, texts: Sequence[str | None] | None, count: int
    ) -> list[tuple[int, bytes]]:
        wanted = self._texts(texts, count)
        if not wanted:
            return []
        await self._aindex()  # fail (no search, Redis down) before anything is written
        matrix = await self.embedder.aembed([t for _, t in wanted])
        return [
            (i, row.astype("float32").tobytes()) for (i, _), row in zip(wanted, matrix, strict=True)
        ]

    def _doc_calls(
        self, session_id: str, seq: int, payloads: Sequence[bytes | str], vectors: list
    ) -> list[tuple[Any, ...]]:
        from .keys import escape_part

        prefix = self.config.keys.history_recall_prefix() + escape_part(session_id) + ":"
        calls: list[tuple[Any, ...]] = []
        for i, vector in vectors:
            key = f"{prefix}{int(seq) + i}"
            calls.append(
                (
                    "HSET",
                    key,
                    "session",
                    _session_tag(session_id),
                    "seq",
                    int(seq) + i,
                    "msg",
                    payloads[i],
                    "vector",
                    vector,
                )
            )
            if self.ttl:
                calls.append(("EXPIRE", key, self.ttl))
        return calls

    def write(
        self, session_id: str, seq: int, payloads: Sequence[bytes | str], vectors: list
    ) -> None:
        if not vectors:
            return
        self._index()
        calls = self._doc_calls(session_id, seq, payloads, vectors)
        try:
            pipe = self.config.get_client().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, "index messages for recall", exc) from exc

    async def awrite(
        self, session_id: str, seq: int, payloads: Sequence[bytes | str], vectors: list
    ) -> None:
        if not vectors:
            return
        await self._aindex()
        calls = self._doc_calls(session_id, seq, payloads, vectors)
        try:
            pipe = self.config.get_async_client().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            await pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, "index messages for recall", exc) from exc

    def _query(self, session_id: str, vector: Any, k: int, max_distance: float | None) -> Any:
        from redisvl.query import VectorQuery, VectorRangeQuery
        from redisvl.query.filter import Tag

        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"k must be an int >= 1, got {k!r}")
        where = Tag("session") == _session_tag(session_id)
        fields = ["msg", "seq"]
        if max_distance is not None:
            return VectorRangeQuery(
                vector=vector,
                vector_field_name="vector",
                return_fields=fields,
                filter_expression=where,
                distance_threshold=max_distance,
                num_results=k,
            )
        return VectorQuery(
            vector=vector,
            vector_field_name="vector",
            return_fields=fields,
            filter_expression=where,
            num_results=k,
        )

    @staticmethod
    def _parse(rows: list[dict[str, Any]]) -> list[RecalledMessage]:
        out = [
            RecalledMessage(
                payload=_as_bytes(row["msg"]),
                distance=float(row.get("vector_distance", 0.0)),
                seq=int(row["seq"]),
            )
            for row in rows
        ]
        return sorted(out, key=lambda r: (r.distance, r.seq))

    def relevant(
        self, session_id: str, query: str, k: int, max_distance: float | None
    ) -> list[RecalledMessage]:
        index = self._index()
        vector = self.embedder.embed([query])[0].astype("float32").tolist()
        try:
            rows = index.query(self._query(session_id, vector, k, max_distance))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, "recall messages", exc) from exc
        return self._parse(rows)

    async def arelevant(
        self, session_id: str, query: str, k: int, max_distance: float | None
    ) -> list[RecalledMessage]:
        index = await self._aindex()
        vector = (await self.embedder.aembed([query]))[0].astype("float32").tolist()
        try:
            rows = await index.query(self._query(session_id, vector, k, max_distance))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise unavailable(self.config, "recall messages", exc) from exc
        return self._parse(rows)

    def _forget_query(self, session_id: str) -> Any:
        from redisvl.query import FilterQuery
        from redisvl.query.filter import Tag

        return FilterQuery(
            filter_expression=Tag("session") == _session_tag(session_id),
            return_fields=["seq"],
            num_results=10_000,
        )

    def forget(self, session_id: str) -> None:
        index = self._index()
        while True:
            rows = index.query(self._forget_query(session_id))
            if not rows:
                return
            self.config.get_client().delete(*[row["id"] for row in rows])

    async def aforget(self, session_id: str) -> None:
        index = await self._aindex()
        while True:
            rows = await index.query(self._forget_query(session_id))
            if not rows:
                return
            await self.config.get_async_client().delete(*[row["id"] for row in rows])
