"""The chat history's :class:`SessionStore` (sync and asyncio): builds the script
calls of :mod:`.scripts`, runs them (EVALSHA, falling back to EVAL), and hands
recall work to :mod:`.recall`."""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from .. import telemetry
from ..config import (
    AsyncClient,
    RedisAgentConfig,
    SyncClient,
    check_size,
    check_ttl_seconds,
    get_default_config,
)
from ..errors import ConfigError, DataCorruptionError
from ..fastpath import FALLBACK, AsyncFastPath, FastPath, arg_bytes, bulk, packed_call
from ..keys import KeySpace, surrogate_error
from ..redis_errors import FAULTS, map_redis_error
from ..scripts import arun_command, run_command
from . import reindex
from .model import (
    ACTIVE,
    ARCHIVED,
    RecalledMessage,
    SessionInfo,
    Status,
    _check_session,
    _encode_metadata,
    _encode_removed,
    _text,
    parse_info,
)
from .recall import _Recall
from .scripts import (
    _APPEND,
    _CLEAR,
    _DELETE_AT,
    _INDEX,
    _INFO,
    _LIST,
    _READ_BOTH,
    _TAKE_OLDEST,
    _UNPACK_CHUNK,
    _WRITE,
)

if TYPE_CHECKING:
    from ..embeddings import Embedder

_UNSET: Any = object()
_P = TypeVar("_P", FastPath, AsyncFastPath)


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
        # Pre-encoded head of the append call per session (sha, keys, settings), as a
        # command tuple and packed in RESP: an append is the hot path. Setting ttl or
        # max_messages clears it.
        self._append_heads: dict[str, _AppendHead] = {}
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
        self._ttl = check_ttl_seconds(ttl)
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
        dels = _encode_removed(delete_metadata)
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
            return [_WRITE.evalsha((*keys, *self._index_keys()), args)]
        return [_WRITE.evalsha(keys, args), *self._index_calls(session_id)]

    def _index_calls(
        self, session_id: str, *, only_existing: bool = False
    ) -> list[tuple[Any, ...]]:
        """On a cluster, the index update the write scripts do inline on one node: ZADD
        on the server's clock, then the bounded prune (EVAL, not EVALSHA: only the first
        command of a call falls back on NOSCRIPT)."""
        args = (session_id, self.ttl or 0, "XX" if only_existing else "")
        return [_INDEX.eval(self._index_keys(), args)]

    def _index_keys(self) -> tuple[str, str]:
        """The session index and its marker (one slot: the marker's hash tag is the
        index's name)."""
        return self.keys.history_sessions(), self.keys.history_sessions_marker()

    def _append_head(self, session_id: str) -> _AppendHead:
        """``EVALSHA`` of :data:`_APPEND` up to its per-call arguments (keys and settings
        pre-encoded, kept per session)."""
        head = self._append_heads.get(session_id)
        if head is None:
            keys = [k.encode() for k in self._session_keys(session_id)]
            if self._inline_index:
                keys += [k.encode() for k in self._index_keys()]
            settings = (
                session_id.encode(),
                b"%d" % (self.ttl or 0),
                b"%d" % (self.max_messages or 0),
            )
            call = _APPEND.evalsha(keys, settings)
            # The packed form leaves out the leading argument count (it depends on
            # the number of payloads): packed_call adds it per call.
            packed = b"".join(bulk(arg_bytes(c)) for c in call)
            head = _AppendHead(call, packed, len(call) + 1)  # + now_ms
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
        call = (*self._append_head(session_id).call, b"%d" % now_ms, *payloads)
        if self._inline_index:
            return [call]
        return [call, *self._index_calls(session_id)]

    def _packed_append(
        self, session_id: str, payloads: Sequence[bytes | str], now_ms: int
    ) -> bytes | None:
        """A plain append's script call in RESP, for a leased connection
        (:mod:`..fastpath`), or None for the generic path: a cluster, a payload that is
        not bytes, or more than one script call's worth of payloads."""
        if not self._inline_index or len(payloads) > _UNPACK_CHUNK:
            return None
        for payload in payloads:
            if type(payload) is not bytes:
                return None
        head = self._append_head(session_id)
        values: list[bytes] = [b"%d" % now_ms]
        values += payloads  # type: ignore[arg-type]  # all bytes: checked above
        return packed_call(head.packed, head.nargs + len(payloads), values)

    def _fast_append(self, session_id: str, payloads: Sequence[bytes | str], now_ms: int) -> Any:
        """The reply of a plain append sent pre-packed on a leased connection, or
        ``FALLBACK`` for the generic path: no packed call (:meth:`_packed_append`), no
        lease (another client type, every leased connection busy), NOSCRIPT, or
        connection trouble before sending. A reply lost after sending (a timeout) raises
        :class:`RedisUnavailableError`: the append may have run, so it is never re-sent."""
        packed = self._packed_append(session_id, payloads, now_ms)
        lease = None if packed is None else _fast_path(self.config).lease(self._client())
        if lease is None or packed is None:
            return FALLBACK
        try:
            return lease.call(packed)
        except FAULTS as exc:
            raise map_redis_error(exc, "append to history", self.config) from exc

    async def _afast_append(
        self, session_id: str, payloads: Sequence[bytes | str], now_ms: int
    ) -> Any:
        """Async :meth:`_fast_append`, on a connection leased for the running event
        loop. Cancelled while its reply is unread, it drops that connection and
        re-raises: the append is never re-sent, so it was written once (its command had
        left the client) or not at all."""
        packed = self._packed_append(session_id, payloads, now_ms)
        lease = None if packed is None else _afast_path(self.config).lease(self._aclient())
        if lease is None or packed is None:
            return FALLBACK
        try:
            return await lease.call(packed)
        except FAULTS as exc:
            raise map_redis_error(exc, "append to history", self.config) from exc

    def close(self) -> None:
        """Return the connections plain appends of this config's stores leased to the
        client's pool (also done when the config is garbage-collected); the next append
        leases again."""
        _fast_path(self.config).close()

    async def aclose(self) -> None:
        """Async :meth:`close`: return the connections that plain async appends of this
        config's stores leased on the running event loop (closing the config's asyncio
        pool, ``config.aclose()``, disconnects them too)."""
        await _afast_path(self.config).aclose()

    def _list_call(self, offset: int, limit: int | None, newest_first: bool) -> tuple[Any, ...]:
        """One script: prune the sessions idle longer than the TTL (on the server's
        clock, the index's), check the index is whole, read a page (list.lua)."""
        check_size(offset, "offset")
        if limit is not None:
            check_size(limit, "limit (None: every session)")
        stop = -1 if limit is None else offset + limit - 1
        args = (self.ttl or 0, offset, stop, "1" if newest_first else "")
        return _LIST.evalsha(self._index_keys(), args)

    def _listed(self, reply: Any) -> list[str]:
        if int(reply[0]) == 1:
            raise DataCorruptionError(
                f"the session index {self.keys.history_sessions()!r} was lost (evicted by "
                "a maxmemory-policy that evicts keys) while sessions stayed: it would list "
                "only the sessions written since. Run SessionStore(config).rebuild_sessions() "
                "once (it SCANs the namespace's history keys) to put the others back, and "
                "give the history a Redis with maxmemory-policy noeviction"
            )
        return [_text(m) for m in reply[1:]]

    def _complete_calls(self) -> list[tuple[Any, ...]]:
        """After a rebuild: the index is whole again (its '' member, the marker)."""
        index, marker = self._index_keys()
        return [("ZADD", index, "+inf", ""), ("SET", marker, "1")]

    # -- execution helpers --
    def _client(self) -> SyncClient:
        return self.config.get_client()

    def _aclient(self) -> AsyncClient:
        return self.config.get_async_client()

    def _call(self, action: str, cmd: tuple[Any, ...], *extra: tuple[Any, ...]) -> Any:
        """Run one command (EVALSHA falls back to EVAL) and return its reply, after the
        ``extra`` ones (the session index on a cluster, another node).

        The index goes first, on its own: sent beside the write (the async cluster
        client sends to both nodes at once), a write that ran while the index node was
        down raised anyway, and every retry stored the message again. Now a failed index
        update means nothing was written; a failed write leaves at most an index entry.
        """
        client = self._client()
        try:
            if extra:
                pipe = client.pipeline(transaction=False)
                for c in extra:
                    pipe.execute_command(*c)
                pipe.execute()
            return run_command(client, cmd, wait=self.config.backoff)
        except FAULTS as exc:
            raise map_redis_error(exc, action, self.config) from exc
        except UnicodeEncodeError as exc:  # raised while packing: nothing was sent
            raise surrogate_error(exc.object, f"{action}: a message or value", exc) from None

    async def _acall(self, action: str, cmd: tuple[Any, ...], *extra: tuple[Any, ...]) -> Any:
        """Async :meth:`_call`."""
        client = self._aclient()
        try:
            if extra:
                pipe = client.pipeline(transaction=False)
                for c in extra:
                    pipe.execute_command(*c)
                await pipe.execute()
            return await arun_command(client, cmd, wait=self.config.backoff)
        except FAULTS as exc:
            raise map_redis_error(exc, action, self.config) from exc
        except UnicodeEncodeError as exc:  # raised while packing: nothing was sent
            raise surrogate_error(exc.object, f"{action}: a message or value", exc) from None

    def _pipeline(self, action: str, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        try:
            pipe = self._client().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            return list(pipe.execute())
        except FAULTS as exc:
            raise map_redis_error(exc, action, self.config) from exc
        except UnicodeEncodeError as exc:  # raised while packing: nothing was sent
            raise surrogate_error(exc.object, f"{action}: a message or value", exc) from None

    async def _apipeline(self, action: str, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        try:
            pipe = self._aclient().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            return list(await pipe.execute())
        except FAULTS as exc:
            raise map_redis_error(exc, action, self.config) from exc
        except UnicodeEncodeError as exc:  # raised while packing: nothing was sent
            raise surrogate_error(exc.object, f"{action}: a message or value", exc) from None

    # -- writes --
    @telemetry.traced("history", "append")
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
        on. Returns the length of the list written to. One round trip (two on a cluster:
        the session index first; plus one for recall documents).
        """
        self._check_sizes(payloads)
        vectors = self._recall.embed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        if status == ACTIVE and not metadata and payloads:
            reply = self._fast_append(session_id, payloads, now)
            if reply is FALLBACK:
                reply = self._call(
                    "append to history", *self._append_calls(session_id, payloads, now)
                )
        else:
            calls = self._write_call(
                session_id, payloads, mode="append", status=status, metadata=metadata, now_ms=now
            )
            reply = self._call("append to history", *calls)
        length, seq = reply
        if self._recall and vectors is not None:
            self._recall.write(session_id, seq, payloads, vectors)
        telemetry.history_operation("append", len(payloads))
        return int(length)

    @telemetry.traced("history", "append")
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
        self._check_sizes(payloads)
        vectors = await self._recall.aembed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        if status == ACTIVE and not metadata and payloads:
            reply = await self._afast_append(session_id, payloads, now)
            if reply is FALLBACK:
                reply = await self._acall(
                    "append to history", *self._append_calls(session_id, payloads, now)
                )
        else:
            calls = self._write_call(
                session_id, payloads, mode="append", status=status, metadata=metadata, now_ms=now
            )
            reply = await self._acall("append to history", *calls)
        length, seq = reply
        if self._recall and vectors is not None:
            await self._recall.awrite(session_id, seq, payloads, vectors)
        telemetry.history_operation("append", len(payloads))
        return int(length)

    def _check_sizes(self, payloads: Sequence[bytes | str]) -> None:
        self.config.check_value_sizes(payloads, "a message")

    def append_commands(
        self, session_id: str, payloads: Sequence[bytes | str]
    ) -> list[tuple[Any, ...]]:
        """The commands of a plain :meth:`append` (active, no metadata), for a caller
        that sends them in one round trip with its own (:func:`..scripts.asend_commands`);
        the first one's reply is ``[length, seq]``. Raises :class:`ConfigError` when
        semantic recall is on (its documents need the messages embedded first: use
        :meth:`aappend`)."""
        if self._recall is not None:
            raise ConfigError(
                "append_commands() cannot embed messages for semantic recall: use aappend()"
            )
        if not payloads:
            raise ConfigError("append_commands() needs at least one payload")
        self._check_sizes(payloads)
        telemetry.history_operation("append", len(payloads))
        return self._append_calls(session_id, payloads, _now_ms())

    def replace(
        self,
        session_id: str,
        payloads: Sequence[bytes | str],
        *,
        texts: Sequence[str | None] | None = None,
        status: Status = ACTIVE,
        extending: bool = False,
    ) -> int:
        """Replace a session's active (or archived) messages atomically.

        ``extending=True``: only when the session holds the start of ``payloads`` (none,
        or an older copy of the same conversation), checked with the write; otherwise
        nothing is written and ``-1`` is returned (a message appended since the caller
        read the session would have been replaced away)."""
        self._check_sizes(payloads)
        vectors = self._recall.embed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        mode = "extend" if extending else "replace"
        calls = self._write_call(
            session_id, payloads, mode=mode, status=status, metadata=None, now_ms=now
        )
        length, seq = self._call("replace history", *calls)
        if length == -1:
            return -1
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
        extending: bool = False,
    ) -> int:
        """Async :meth:`replace`."""
        self._check_sizes(payloads)
        vectors = await self._recall.aembed(texts, len(payloads)) if self._recall else None
        now = _now_ms()
        mode = "extend" if extending else "replace"
        calls = self._write_call(
            session_id, payloads, mode=mode, status=status, metadata=None, now_ms=now
        )
        length, seq = await self._acall("replace history", *calls)
        if length == -1:
            return -1
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
        start, stop = _list_index(start, "start"), _list_index(stop, "stop")
        return ("LRANGE", archive if status == ARCHIVED else msgs, start, stop)

    @telemetry.traced("history", "read")
    def read(
        self, session_id: str, start: int = 0, stop: int = -1, *, status: Status = ACTIVE
    ) -> list[bytes]:
        """Payloads ``start..stop`` (inclusive, negative from the end), one round trip."""
        telemetry.history_operation("read")
        return self._call("read history", self._range_call(session_id, start, stop, status))

    @telemetry.traced("history", "read")
    async def aread(
        self, session_id: str, start: int = 0, stop: int = -1, *, status: Status = ACTIVE
    ) -> list[bytes]:
        """Async :meth:`read`."""
        telemetry.history_operation("read")
        return await self._acall("read history", self._range_call(session_id, start, stop, status))

    def last(self, session_id: str, n: int, *, offset: int = 0) -> list[bytes]:
        """The last ``n`` active payloads after skipping the newest ``offset``, oldest
        first (a page of the newest messages, one round trip)."""
        span = _last_span(n, offset)
        return [] if span is None else self.read(session_id, *span)

    async def alast(self, session_id: str, n: int, *, offset: int = 0) -> list[bytes]:
        """Async :meth:`last`."""
        span = _last_span(n, offset)
        return [] if span is None else await self.aread(session_id, *span)

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
        index = _list_index(index, "index")
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
        n = _check_n(n)
        now = _now_ms()
        args = (n, 1 if archive else 0, now, self.ttl or 0, session_id)
        keys = self._session_keys(session_id)
        if self._inline_index:
            return [_TAKE_OLDEST.evalsha((*keys, self.keys.history_sessions()), args)]
        index_calls = self._index_calls(session_id, only_existing=True)
        return [_TAKE_OLDEST.evalsha(keys, args), *index_calls]

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
        pruned from the index on the way. An index lost to eviction raises
        :class:`DataCorruptionError` naming :meth:`rebuild_sessions`."""
        call = self._list_call(offset, limit, newest_first)
        if limit == 0:
            return []
        return self._listed(self._call("list sessions", call))

    async def asessions(
        self, *, offset: int = 0, limit: int | None = None, newest_first: bool = True
    ) -> list[str]:
        """Async :meth:`sessions`."""
        call = self._list_call(offset, limit, newest_first)
        if limit == 0:
            return []
        return self._listed(await self._acall("list sessions", call))

    def rebuild_sessions(self) -> int:
        """Add to the session index the sessions whose keys exist but that it does not
        list (the index evicted by a server that evicts keys: ``sessions()`` raises
        :class:`DataCorruptionError` until this ran) and mark it whole; returns how many.
        Scans the namespace's history keys (``SCAN``): run it after an eviction, not per
        request."""
        client = self._client()
        added = 0
        try:
            batch: list[str] = []
            seen: set[str] = set()
            for key in client.scan_iter(match=reindex.scan_pattern(self.keys), count=1000):
                session = reindex.session_of(key, self.keys)
                if session is not None and session not in seen:
                    seen.add(session)
                    batch.append(session)
                if len(batch) >= 500:
                    added += self._reindex(batch)
                    batch = []
            if batch:
                added += self._reindex(batch)
            self._pipeline("rebuild the session index", self._complete_calls())
        except FAULTS as exc:
            raise map_redis_error(exc, "rebuild the session index", self.config) from exc
        return added

    def _reindex(self, sessions: list[str]) -> int:
        calls = reindex.read_calls(self.keys, sessions)
        replies = self._pipeline("rebuild the session index", calls)
        args = reindex.scores(self.ttl, sessions, replies)
        key = self.keys.history_sessions()
        return int(self._client().execute_command("ZADD", key, "NX", *args))

    async def arebuild_sessions(self) -> int:
        """Async :meth:`rebuild_sessions`."""
        client = self._aclient()
        added = 0
        try:
            batch: list[str] = []
            seen: set[str] = set()
            pattern = reindex.scan_pattern(self.keys)
            async for key in client.scan_iter(match=pattern, count=1000):
                session = reindex.session_of(key, self.keys)
                if session is not None and session not in seen:
                    seen.add(session)
                    batch.append(session)
                if len(batch) >= 500:
                    added += await self._areindex(batch)
                    batch = []
            if batch:
                added += await self._areindex(batch)
            await self._apipeline("rebuild the session index", self._complete_calls())
        except FAULTS as exc:
            raise map_redis_error(exc, "rebuild the session index", self.config) from exc
        return added

    async def _areindex(self, sessions: list[str]) -> int:
        calls = reindex.read_calls(self.keys, sessions)
        replies = await self._apipeline("rebuild the session index", calls)
        args = reindex.scores(self.ttl, sessions, replies)
        key = self.keys.history_sessions()
        return int(await self._aclient().execute_command("ZADD", key, "NX", *args))

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


# Plain appends skip redis-py's generic call (~15-40 us sync, ~50-60 us asyncio: more
# than the script takes on the server) through connections leased from the pool
# (:mod:`..fastpath`). One lease per config (and, asyncio, per event loop's client), not
# per store: the LangChain adapter builds a store per session object, and a lease per
# object would keep a connection out of the pool for every live history (at most
# MAX_LEASED connections per config and client this way).
_FAST_PATHS: dict[int, FastPath] = {}
_AFAST_PATHS: dict[int, AsyncFastPath] = {}
_FAST_PATHS_LOCK = threading.Lock()


def _fast_path(config: RedisAgentConfig) -> FastPath:
    return _per_config(_FAST_PATHS, config, FastPath)


def _afast_path(config: RedisAgentConfig) -> AsyncFastPath:
    return _per_config(_AFAST_PATHS, config, AsyncFastPath)


def _per_config(registry: dict[int, _P], config: RedisAgentConfig, make: Callable[[], _P]) -> _P:
    fast = registry.get(id(config))
    if fast is None:
        with _FAST_PATHS_LOCK:
            fast = registry.get(id(config))
            if fast is None:
                fast = registry[id(config)] = make()
                # dropped (a sync lease closed) when the config goes: ids are reused
                weakref.finalize(config, registry.pop, id(config), None)
    return fast


class _AppendHead(NamedTuple):
    """A session's append call up to its per-call arguments."""

    call: tuple[Any, ...]  # for execute_command
    packed: bytes  # the same in RESP, without the leading argument count
    nargs: int  # arguments of the call before its payloads


_INT64 = 2**63 - 1


def _list_index(value: object, what: str) -> int:
    """A list position for Redis: an int, clamped into the signed 64-bit range (Redis
    refuses larger ones; no list is that long, so the result is the same)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{what} must be an int, got {value!r}")
    return max(-_INT64, min(value, _INT64))


def _last_span(n: object, offset: object) -> tuple[int, int] | None:
    """The LRANGE positions (from the end) of the newest ``n`` messages after the newest
    ``offset``; ``None`` for none (``n`` == 0). A negative ``n`` or ``offset`` raises."""
    n = min(check_size(n, "n"), _INT64)
    offset = min(check_size(offset, "offset (messages skipped from the end)"), _INT64)
    return None if n == 0 else (-(offset + n), -(offset + 1))


_MAX_TAKE = 10**12  # more than any list holds, and exact as a Lua number (printed %.14g)


def _check_n(n: object) -> int:
    """A count of messages for a script: an int >= 0, clamped to :data:`_MAX_TAKE`."""
    return min(check_size(n, "n"), _MAX_TAKE)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
