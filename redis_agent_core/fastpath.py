"""The hot-path shortcut shared by components whose calls are one pre-packed command.

``redis-py``'s ``execute_command`` spends ~15 us per call on pool bookkeeping (a lock,
a ``poll()`` to check the connection, metrics), generic packing and retry wrappers:
more than a short Lua script takes on the server. A component on such a hot path
packs its command once (:func:`bulk`, :func:`command_prefix`: the fixed part, then
per-call arguments appended; :func:`arg_bytes` and :func:`pack_commands` for whole
commands of mixed values, as in the vector index's pipelined batches) and sends it
with :meth:`Lease.call` on a connection borrowed from its client's own pool and kept
between calls (a batch of idempotent writes, e.g. the vector index's, goes through
:func:`send_batch` / :func:`asend_batch` instead: one pooled connection per batch,
retried whole):

- bounded: at most ``max_connections`` (default :data:`MAX_LEASED`) per lease; more
  concurrent threads get :data:`FALLBACK` and take the ordinary path;
- never starving the pool: a connection is kept idle between calls only while at most
  half of the pool's ``max_connections`` (redis-py 8: 100 by default) are in use;
  past that it goes back to the pool after its call, so leases of many components
  (or a burst on them) cannot leave the pool empty for everyone else;
- safe: a connection is reused only after its reply was fully read; any error in
  between (connection, timeout, interrupt) drops it (disconnected, returned to the pool);
- sent at most once: a command that left the client is never handed back to be sent
  again (a timed-out command may still run once the server gets to it): an error after
  sending is raised, and :data:`FALLBACK` means that nothing was sent;
- fork-safe: a forked child never touches the parent's connections (:class:`FastPath`
  leases new ones);
- returned to the pool when the :class:`FastPath` holding the lease is closed or
  garbage-collected.

The asyncio counterpart (:class:`AsyncFastPath` / :class:`AsyncLease`) keeps one lease
per asyncio client, used only by the event loop that made it (asyncio connections belong
to one loop); a call cancelled or timed out while its reply is unread drops the
connection, as any other error in between does.

Only a plain ``redis.Redis`` on a plain ``ConnectionPool`` without client-side
caching, not single-connection (:func:`eligible`; :func:`aeligible` for asyncio);
anything else, and trouble before the command is sent (``NOSCRIPT``: the script did not
run; an idle connection the server closed; Redis down) answers :data:`FALLBACK` so the
caller takes redis-py's generic path with its retries, reconnects and errors. A timeout
or a lost connection after sending raises redis-py's ``TimeoutError`` /
``ConnectionError`` (the command may have run: the caller maps it to its typed error,
never re-sends it); ``ResponseError`` (other than ``NOSCRIPT``) is raised as is. Calls
sent this way do not show in redis-py's command metrics.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeAlias

import redis
import redis.asyncio as aredis
import redis.asyncio.sentinel as asentinel

from .errors import ConfigError
from .redis_errors import (
    NOSCRIPT,
    REPLY,
    UNAVAILABLE,
    fault_kind,
    is_pool_exhausted,
    mark_sent,
    write_timeout,
)

__all__ = [
    "FALLBACK",
    "MAX_LEASED",
    "AsyncFastPath",
    "AsyncLease",
    "Batch",
    "CheckedAsyncPool",
    "CheckedClusterConnection",
    "CheckedClusterSSLConnection",
    "CheckedSentinelPool",
    "FastPath",
    "Lease",
    "Packed",
    "aeligible",
    "arg_bytes",
    "asend_batch",
    "bulk",
    "bulk_header",
    "check_cluster_idle_sockets",
    "closed_meanwhile",
    "command_prefix",
    "eligible",
    "idle_socket_closed",
    "pack_commands",
    "packed_call",
    "packed_hset",
    "pooled",
    "send_batch",
]

MAX_LEASED = 4  # connections one lease keeps out of its pool
FALLBACK: Any = object()  # "take the generic path": returned instead of a reply
_DOWN = (*UNAVAILABLE, OSError)
_READABLE = select.POLLIN if hasattr(select, "poll") else 0

_generation = 0  # bumped in a forked child: leased connections belong to the parent


def _forked() -> None:
    global _generation
    _generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


# -- RESP packing --
def bulk(value: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%b\r\n" % (len(value), value)


def bulk_header(length: int) -> bytes:
    """The ``$<length>\\r\\n`` header of a bulk string whose body (and its closing
    ``\\r\\n``) the caller appends: a vector field's name and header, packed once."""
    return b"$%d\r\n" % length


def packed_hset(
    head: bytes,
    key: bytes,
    text_field: bytes,
    text: bytes,
    fields: bytes,
    meta_field: bytes,
    meta: bytes,
    vector_field: bytes,
    vector: bytes,
) -> bytes:
    """One ``HSET key text_field text [fields] meta_field meta vector_field vector`` in
    RESP: ``head`` from :func:`command_prefix`, the ``*_field`` names already
    :func:`bulk`-packed (``vector_field`` with the vector's :func:`bulk_header`),
    ``fields`` packed name/value pairs. One format per document: FLAT ingest is
    client-bound, and a call per value costs."""
    return b"%s$%d\r\n%s\r\n%s$%d\r\n%s\r\n%s%s$%d\r\n%s\r\n%s%s\r\n" % (
        head,
        len(key),
        key,
        text_field,
        len(text),
        text,
        fields,
        meta_field,
        len(meta),
        meta,
        vector_field,
        vector,
    )


def command_prefix(nargs: int, *parts: bytes) -> bytes:
    """The packed start of a command of ``nargs`` arguments in all, ``parts`` the
    fixed first ones; append the remaining ``nargs - len(parts)`` as :func:`bulk`."""
    if len(parts) > nargs:
        raise ValueError(f"{len(parts)} fixed parts for a command of {nargs} arguments")
    return b"*%d\r\n" % nargs + b"".join(map(bulk, parts))


def packed_call(head: bytes, nargs: int, values: Sequence[bytes]) -> bytes:
    """A command of ``nargs`` arguments in one buffer: the first ones already packed as
    bulks in ``head`` (no leading count: it depends on how many ``values`` follow),
    then ``values`` as bulks (:func:`bulk` inlined: a per-message hot path)."""
    parts = [b"*%d\r\n" % nargs, head]
    parts += [b"$%d\r\n%b\r\n" % (len(v), v) for v in values]
    return b"".join(parts)


def arg_bytes(value: Any) -> bytes:
    """One command argument as bytes, as redis-py's encoder sends it (``bytes`` as is,
    ``str`` as UTF-8, ``int``/``float`` as their text) except that a ``bool`` is sent
    as ``1``/``0`` instead of refused; anything else raises ``ConfigError``."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"1" if value else b"0"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, float):
        return repr(value).encode()
    raise ConfigError(f"cannot send {type(value).__name__} to Redis: {value!r}")


# Packed bulk strings of short repeated str arguments (command names, field names, tags).
_TOKENS: dict[str, bytes] = {}
_TOKENS_MAX = 4096


def pack_commands(commands: Sequence[Sequence[Any]]) -> bytes:
    """RESP-encode whole commands (values as :func:`arg_bytes`) into one buffer: the
    bytes redis-py's pipeline sends, at a fraction of the cost. The ``bytes`` branch
    inlines :func:`bulk` (the vector index's FLAT ingest is client-bound)."""
    parts: list[bytes] = []
    append = parts.append
    tokens = _TOKENS
    for command in commands:
        append(b"*%d\r\n" % len(command))
        for value in command:
            kind = type(value)
            if kind is bytes:
                append(b"$%d\r\n%b\r\n" % (len(value), value))
            elif kind is str:
                token = tokens.get(value)
                if token is None:
                    data = value.encode()
                    token = bulk(data)
                    if len(data) <= 32 and len(tokens) < _TOKENS_MAX:
                        tokens[value] = token
                append(token)
            else:
                append(bulk(arg_bytes(value)))
    return b"".join(parts)


class Packed(NamedTuple):
    """Commands already in RESP and the number of replies they produce."""

    data: bytes
    replies: int


#: a batch of write commands: argument lists, or :class:`Packed` (pooled clients only)
Batch: TypeAlias = Sequence[Sequence[Any]] | Packed


def _packed(batch: Batch) -> Packed:
    if isinstance(batch, Packed):
        return batch
    return Packed(pack_commands(batch), len(batch))


def _unpacked(batch: Batch) -> Sequence[Sequence[Any]]:
    if isinstance(batch, Packed):
        raise ConfigError("a packed batch needs a pooled client, not a cluster client")
    return batch


def _checked(reply: Any) -> Any:
    """``reply``, raising the first error inside it: a transaction's ``EXEC`` answers
    its commands' errors (``WRONGTYPE``, ...) as items of its array, which redis-py
    hands back unraised."""
    if type(reply) is list:
        for item in reply:
            if isinstance(item, REPLY):
                raise item
    return reply


def _split_transactions(
    commands: Sequence[Sequence[Any]],
) -> tuple[list[Sequence[Any]], list[list[Sequence[Any]]]]:
    """A cluster batch's commands sent as they are, and its ``MULTI`` ... ``EXEC``
    groups without those two (each one key's, so one slot: a transaction of its own)."""
    plain: list[Sequence[Any]] = []
    groups: list[list[Sequence[Any]]] = []
    group: list[Sequence[Any]] | None = None
    for command in commands:
        name = command[0]
        if name == "MULTI":
            group = []
        elif name == "EXEC":
            groups.append(group or [])
            group = None
        elif group is not None:
            group.append(command)
        else:
            plain.append(command)
    return plain, groups


def pooled(client: Any) -> bool:
    """Whether ``client`` has one connection pool (not a cluster client), so that
    :func:`send_batch` / :func:`asend_batch` accept a :class:`Packed` batch for it."""
    return getattr(client, "connection_pool", None) is not None


def _retry_now(exc: BaseException, attempt: int, retries: int) -> bool:
    # A stale pooled connection (server restarted) is worth another try; a timeout is
    # not: redis-py's reconnect already waited on a hung server.
    return attempt < retries and fault_kind(exc) != "timeout"


def send_batch(client: Any, batch: Batch, *, retries: int, backoff: Callable[[int], float]) -> None:
    """Run a batch of idempotent writes, reading (and checking) every reply.

    On a :func:`pooled` client: sent as one buffer on one connection of its pool; a
    connection with unread replies is dropped, never reused. On a cluster client:
    a non-transactional pipeline that redis-py routes per slot (``batch`` must then
    be argument lists). ``MULTI`` ... ``EXEC`` in a batch (commands on one key)
    is one transaction: in the buffer as they are; on a cluster, a transaction
    pipeline of its own (one slot). A connection fault other than a timeout retries
    the whole batch up to ``retries`` times after ``backoff(attempt)`` seconds; a
    reply error (``ResponseError``, one inside ``EXEC``'s reply too) is raised as is.
    """
    pool = getattr(client, "connection_pool", None)
    for attempt in range(retries + 1):
        try:
            if pool is None:
                plain, groups = _split_transactions(_unpacked(batch))
                pipe = client.pipeline(transaction=False)
                for command in plain:
                    pipe.execute_command(*command)
                pipe.execute()
                for group in groups:
                    pipe = client.pipeline(transaction=True)
                    for command in group:
                        pipe.execute_command(*command)
                    pipe.execute()
                return
            data, count = _packed(batch)
            conn = pool.get_connection()
            try:
                conn.send_packed_command([data])
                for _ in range(count):
                    _checked(conn.read_response())
            except BaseException:
                conn.disconnect()  # unread replies would poison the connection
                raise
            finally:
                pool.release(conn)
            return
        except UNAVAILABLE as exc:
            if not _retry_now(exc, attempt, retries):
                raise
            time.sleep(backoff(attempt))


async def asend_batch(
    client: Any, batch: Batch, *, retries: int, backoff: Callable[[int], float]
) -> None:
    """Async :func:`send_batch` on an asyncio client."""
    pool = getattr(client, "connection_pool", None)
    for attempt in range(retries + 1):
        try:
            if pool is None:
                plain, groups = _split_transactions(_unpacked(batch))
                pipe = client.pipeline(transaction=False)
                for command in plain:
                    pipe.execute_command(*command)
                await pipe.execute()
                for group in groups:
                    pipe = client.pipeline(transaction=True)
                    for command in group:
                        pipe.execute_command(*command)
                    await pipe.execute()
                return
            data, count = _packed(batch)
            conn = await pool.get_connection()
            try:
                await conn.send_packed_command([data])
                for _ in range(count):
                    _checked(await conn.read_response())
            except BaseException:
                await conn.disconnect()
                raise
            finally:
                await pool.release(conn)
            return
        except UNAVAILABLE as exc:
            if not _retry_now(exc, attempt, retries):
                raise
            await asyncio.sleep(backoff(attempt))


def eligible(client: Any) -> bool:
    """Whether ``client`` can take the fast path: a plain ``redis.Redis`` on a plain
    ``ConnectionPool``, no client-side cache, not single-connection (so not a
    cluster, sentinel, blocking pool or subclassed client either)."""
    pool = getattr(client, "connection_pool", None)
    return (
        type(client) is redis.Redis
        and getattr(client, "connection", None) is None
        and type(pool) is redis.ConnectionPool
        and getattr(pool, "cache", None) is None
    )


def closed_meanwhile(sock: Any) -> bool:
    """Whether an idle leased connection's socket has something to read: the server
    closed it (restart, ``CLIENT KILL``, its idle ``timeout``) or sent what no call asked
    for. Checked before sending (one ``poll``, ~1 us; an event loop may not have seen
    the close yet), so that a command is only sent on a connection that can carry its
    reply back. Without ``poll``: never (a closed connection then fails after sending,
    and the call raises)."""
    if sock is None:
        return True
    if not _READABLE:
        return False
    poller = select.poll()
    poller.register(sock, _READABLE)
    return bool(poller.poll(0))


def _keep_upto(pool: Any) -> int:
    """The most connections of ``pool`` in use at which a lease still keeps one idle."""
    return int(getattr(pool, "max_connections", 0) or 0) // 2


def _pool_short(pool: Any, keep_upto: int) -> bool:
    """Whether ``pool`` has so many connections in use (idle leased ones count) that a
    lease must hand its connection back rather than keep it for its next call."""
    return len(getattr(pool, "_in_use_connections", ())) > keep_upto


class Lease:
    """Up to ``max_connections`` connections borrowed from ``client``'s pool.

    ``list.pop``/``append`` are atomic, so threads never share a connection. Build
    it through :class:`FastPath`, which checks :func:`eligible`, renews it after a
    fork or a client change and returns it on close or garbage collection.
    """

    __slots__ = (
        "__weakref__",
        "closed",
        "count",
        "free",
        "generation",
        "keep_upto",
        "lock",
        "max",
        "pool",
    )

    def __init__(self, client: Any, max_connections: int = MAX_LEASED) -> None:
        self.pool = client.connection_pool
        self.max = max_connections
        self.keep_upto = _keep_upto(self.pool)
        self.generation = _generation
        self.free: list[Any] = []
        self.count = 0  # connections out of the pool (free or in a call)
        self.closed = False
        self.lock = threading.Lock()

    def call(self, packed: bytes, meanwhile: Callable[[], object] | None = None) -> Any:
        """Send one packed command and read its reply, or :data:`FALLBACK` when nothing
        was sent or the command did not run (no connection free, an idle connection
        the server closed, a failed send, ``NOSCRIPT``): then take the generic path.
        Raises ``ResponseError`` (the connection stays in use: its reply was read), and
        redis-py's ``TimeoutError`` / ``ConnectionError`` when the reply was lost after
        sending (the command may have run: never re-send it). ``meanwhile`` runs
        between sending and reading: client work hidden behind the server's (it does
        not run when nothing was sent)."""
        try:
            conn = self.free.pop()
        except IndexError:
            conn = self._borrow()
            if conn is None:
                return FALLBACK
        if closed_meanwhile(conn._sock):  # restarted, killed, idle timeout: not sent
            self._drop(conn)
            return FALLBACK
        try:
            conn.send_packed_command((packed,), False)
        except BaseException as exc:
            # a failed send left at most part of the command, closed with the
            # connection: Redis discards it
            self._drop(conn)
            if isinstance(exc, _DOWN):
                return FALLBACK
            raise
        try:
            if meanwhile is not None:
                meanwhile()
            reply = conn.read_response()
        except NOSCRIPT:  # the script did not run: the generic path loads it
            self._give_back(conn)
            return FALLBACK
        except REPLY:
            self._give_back(conn)  # the reply was read: the connection is in sync
            raise
        except BaseException as exc:
            self._drop(conn)  # a reply may be pending: never reuse it; the command may
            mark_sent(exc)  # have run (a timeout): the caller raises, never re-sends
            raise
        self._give_back(conn)
        return reply

    def _borrow(self) -> Any:
        with self.lock:
            if self.count >= self.max or self.closed:
                return None
            self.count += 1
        try:
            return self.pool.get_connection()
        except BaseException as exc:
            with self.lock:
                self.count -= 1
            if isinstance(exc, _DOWN):
                return None
            raise

    def _give_back(self, conn: Any) -> None:
        if _pool_short(self.pool, self.keep_upto):  # in sync: back to the pool as it is
            with self.lock:
                self.count -= 1
            self.pool.release(conn)
            return
        self.free.append(conn)
        if self.closed:  # closed meanwhile: its drain may have missed this one
            self._drain()

    def _drop(self, conn: Any) -> None:
        with self.lock:
            self.count -= 1
        try:
            conn.disconnect()
        finally:
            self.pool.release(conn)

    def _drain(self) -> None:
        while True:
            try:
                conn = self.free.pop()
            except IndexError:
                return
            self._drop(conn)

    def close(self) -> None:
        """Return the free connections to the pool (disconnected); one in a call
        returns when the call ends. In a forked child: nothing (they are the parent's)."""
        self.closed = True
        if self.generation == _generation:
            self._drain()


class FastPath:
    """A component's lease, renewed for a new client or after a fork.

    ``lease(client)`` is ``None`` for an ineligible client (use the generic path).
    The lease is closed by :meth:`close`, by a renewal, or when this object is
    garbage-collected (so a component holding one returns its connections too).
    """

    __slots__ = ("__weakref__", "_client", "_finalizer", "_lease", "_lock", "max_connections")

    def __init__(self, max_connections: int = MAX_LEASED) -> None:
        self.max_connections = max_connections
        self._client: Any = None
        self._lease: Lease | None = None
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.Lock()

    def lease(self, client: Any) -> Lease | None:
        lease = self._lease
        if client is self._client and (lease is None or lease.generation == _generation):
            return lease
        return self._renew(client)

    def _renew(self, client: Any) -> Lease | None:
        with self._lock:
            old = self._finalizer
            lease = Lease(client, self.max_connections) if eligible(client) else None
            self._lease, self._client = lease, client
            self._finalizer = None if lease is None else weakref.finalize(self, lease.close)
        if old is not None:
            old()  # closes the previous lease, once
        return lease

    def close(self) -> None:
        """Return the leased connections; the next :meth:`lease` borrows again."""
        with self._lock:
            old, self._finalizer = self._finalizer, None
            self._lease = self._client = None
        if old is not None:
            old()


# -- asyncio --
def idle_socket_closed(connection: Any) -> bool:
    """Whether an idle asyncio connection's socket was closed by the server (or holds
    what no call asked for) though the event loop has not seen it yet: reconnect first.

    redis-py's own check reads the stream's end of file, which the event loop notes only
    when it runs: after a restart on the same URL while the loop was busy (sync work, a
    loop per job), a pooled connection looked alive and the next call went out on it. A
    write sent at most once (a rate-limit charge, a cache lookup, a bus publish) then
    failed, saying it "may or may not have been applied", though the new server never got
    it; a fail-closed limiter refused the request."""
    writer = getattr(connection, "_writer", None)
    return writer is not None and closed_meanwhile(writer.transport.get_extra_info("socket"))


class _CheckedPool:
    """An asyncio pool that also looks at an idle connection's socket before handing it
    out (as the sync pool does, and the pack's leases): :func:`idle_socket_closed`."""

    async def ensure_connection(self, connection: Any) -> None:
        if idle_socket_closed(connection):
            await connection.disconnect()
        await super().ensure_connection(connection)  # type: ignore[misc]


class CheckedAsyncPool(_CheckedPool, aredis.BlockingConnectionPool):
    """redis-py's asyncio pool with the idle-socket check (:func:`idle_socket_closed`),
    which waits for a connection: a call past ``max_connections`` (more coroutines at
    once than the pool holds) waits up to ``timeout`` seconds for one to come back,
    then raises ``ConnectionError("No connection available.")`` (the pack's
    ``PoolExhaustedError``); redis-py's plain pool failed it at once."""

    def __init__(
        self, max_connections: int | None = None, timeout: float | None = 5.0, **kwargs: Any
    ) -> None:
        # redis-py's plain pool's size when none is given (the blocking one's is 50)
        super().__init__(max_connections=max_connections or 100, timeout=timeout, **kwargs)
        self._waiting = 0  # calls in the blocking pool's wait (or about to be)

    # The blocking pool takes its Condition, a timeout (a timer on the event loop) and
    # its lock for every connection, and its Condition again for every release: 1.1-1.5x
    # redis-py's plain pool per GET (benchmarks/results/async_pool.md). While no call
    # waits, a free connection is taken and given back the plain pool's way; a call that
    # must wait, and every call behind it, goes the blocking way (first come, first
    # served), and a release wakes a waiter that came meanwhile.
    async def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        if not self._waiting and not self._lock.locked() and self.can_get_connection():
            # the lock reads free, but one just handed to a waiter that has not run yet
            # suspends this take behind it: calls that checked the same free connection
            # then find none, and wait the blocking way instead of raising
            try:
                return await aredis.ConnectionPool.get_connection(self)
            except Exception as exc:  # redis-py's MaxConnectionsError: nothing was taken
                if not is_pool_exhausted(exc):
                    raise
        self._waiting += 1
        try:
            return await super().get_connection()
        finally:
            self._waiting -= 1

    async def release(self, connection: Any) -> None:
        if self._waiting:
            return await super().release(connection)  # under the Condition, notifying
        await aredis.ConnectionPool.release(self, connection)
        if self._waiting:  # one came to wait while it was given back
            try:
                await self._wake()
            except asyncio.CancelledError:
                self._run_in_background(self._wake())
                raise

    async def _wake(self) -> None:
        async with self._condition:
            self._condition.notify()


class CheckedSentinelPool(_CheckedPool, asentinel.SentinelConnectionPool):
    """redis-py's asyncio Sentinel pool (the master's connections) with the idle-socket
    check (:func:`idle_socket_closed`)."""


class _CheckedConnection:
    """An asyncio cluster node's connection that asks to be reconnected when its idle
    socket was closed meanwhile (:func:`idle_socket_closed`). A cluster node has no pool:
    redis-py asks ``should_reconnect()`` when it takes a connection for a command (and
    when it puts it back), and reconnects it then."""

    def should_reconnect(self) -> bool:
        return bool(super().should_reconnect()) or idle_socket_closed(self)  # type: ignore[misc]


class CheckedClusterConnection(_CheckedConnection, aredis.Connection):
    """:class:`_CheckedConnection` over TCP."""


class CheckedClusterSSLConnection(_CheckedConnection, aredis.SSLConnection):
    """:class:`_CheckedConnection` over TLS."""


def check_cluster_idle_sockets(client: aredis.RedisCluster) -> aredis.RedisCluster:
    """``client`` (built, no I/O yet) with its nodes' connections checked before each
    command (:class:`CheckedClusterConnection`): the nodes it knows and the ones it
    discovers (built from the same connection arguments, as redis-py does)."""
    kwargs = client.nodes_manager.connection_kwargs
    tls = issubclass(kwargs.get("connection_class", aredis.Connection), aredis.SSLConnection)
    checked = CheckedClusterSSLConnection if tls else CheckedClusterConnection
    kwargs["connection_class"] = checked
    for node in client.nodes_manager.startup_nodes.values():  # none discovered yet
        node.connection_class = checked
    return client


def aeligible(client: Any) -> bool:
    """:func:`eligible` for an asyncio client: a plain ``redis.asyncio.Redis`` on a
    plain ``ConnectionPool`` (or the config's :class:`CheckedAsyncPool`), not
    single-connection."""
    pool = getattr(client, "connection_pool", None)
    return (
        type(client) is aredis.Redis
        and not client.single_connection_client  # its connection is made lazily
        and client.connection is None
        and type(pool) in (aredis.ConnectionPool, CheckedAsyncPool)
        and getattr(pool, "cache", None) is None
    )


async def _drained(writer: asyncio.StreamWriter, timeout: float | None) -> None:
    """Wait for the write buffer to drain; out of time, redis-py's ``TimeoutError`` (what
    a caller maps, as for a reply that did not come)."""
    try:
        await asyncio.wait_for(writer.drain(), timeout)
    except asyncio.TimeoutError as exc:
        raise write_timeout() from exc


class AsyncLease:
    """:class:`Lease` for an asyncio client: up to ``max_connections`` connections of
    its pool, used by the event loop ``loop`` only (held weakly: a lease must not keep
    a finished loop alive).

    No lock: a loop runs one task at a time, and a call takes its connection
    (``list.pop``) before its first ``await``. Build it through :class:`AsyncFastPath`.
    """

    __slots__ = ("closed", "count", "free", "generation", "keep_upto", "loop_ref", "max", "pool")

    def __init__(
        self, client: Any, loop: asyncio.AbstractEventLoop, max_connections: int = MAX_LEASED
    ) -> None:
        self.pool = client.connection_pool
        self.loop_ref = weakref.ref(loop)
        self.max = max_connections
        self.keep_upto = _keep_upto(self.pool)
        self.generation = _generation
        self.free: list[Any] = []
        self.count = 0  # connections out of the pool (free or in a call)
        self.closed = False

    async def call(self, packed: bytes, meanwhile: Callable[[], object] | None = None) -> Any:
        """:meth:`Lease.call` on this loop. A call cancelled (or timed out by the
        caller) while it waits for its reply drops the connection and re-raises: the
        command may have reached Redis, and its reply must never be read by the next
        call. ``meanwhile`` runs once the command is written, before the reply is
        awaited (client CPU work hidden behind the server's; it blocks the loop as
        any sync code does, so keep it short)."""
        try:
            conn = self.free.pop()
        except IndexError:
            conn = await self._borrow()
            if conn is None:
                return FALLBACK
        # Written on the connection's stream, not with send_packed_command: that runs
        # the write in a task under wait_for when a socket timeout is set (~30 us of
        # client time a call on Python 3.11).
        writer = conn._writer
        if (
            writer is None
            or writer.transport.is_closing()
            or closed_meanwhile(writer.transport.get_extra_info("socket"))
        ):
            await self._drop(conn)  # closed by the server: nothing sent yet
            return FALLBACK
        try:
            writer.write(packed)
            if writer.transport.get_write_buffer_size():  # a large command: flow control
                await _drained(writer, conn.socket_timeout)
            if meanwhile is not None:
                meanwhile()
            reply = await conn.read_response()
        except NOSCRIPT:  # the script did not run: the generic path loads it
            await self._give_back(conn)
            return FALLBACK
        except REPLY:
            await self._give_back(conn)  # the reply was read: the connection is in sync
            raise
        except BaseException as exc:  # CancelledError too: a reply may be pending, and
            await self._drop(conn)  # the command may have run: never re-sent
            mark_sent(exc)
            raise
        await self._give_back(conn)
        return reply

    async def _borrow(self) -> Any:
        if self.count >= self.max or self.closed or not self.pool.can_get_connection():
            return None  # pool in use: the generic path waits for a connection, once
        self.count += 1
        try:
            return await self.pool.get_connection()
        except BaseException as exc:
            self.count -= 1
            if isinstance(exc, _DOWN):
                return None
            raise

    async def _give_back(self, conn: Any) -> None:
        if self.closed:  # closed during the call
            await self._drop(conn)
        elif _pool_short(self.pool, self.keep_upto):  # in sync: back to the pool as it is
            self.count -= 1
            await self.pool.release(conn)
        else:
            self.free.append(conn)

    async def _drop(self, conn: Any) -> None:
        self.count -= 1  # first: the awaits below may be cancelled
        try:
            await conn.disconnect(nowait=True)
        finally:
            await self.pool.release(conn)

    async def aclose(self) -> None:
        """Return the free connections to the pool (disconnected); one in a call
        returns when the call ends. From another loop or a forked child: only marks it
        closed (its connections are not this loop's or this process's to touch)."""
        self.closed = True
        if self.generation != _generation or self.loop_ref() is not asyncio.get_running_loop():
            return
        while self.free:
            await self._drop(self.free.pop())


class AsyncFastPath:
    """A component's :class:`AsyncLease` per asyncio client (the config keeps one client
    per event loop), each used only by the loop that made it; renewed after a fork.

    ``lease(client)`` is ``None`` for an ineligible client or one whose lease belongs
    to another live loop (use the generic path); after its loop has closed, a client
    gets a new lease (the old connections are left to that loop's pool). A lease goes
    with its client (closing the client's pool disconnects the leased connections
    too) or with :meth:`aclose`.
    """

    __slots__ = ("__weakref__", "_leases", "max_connections")

    def __init__(self, max_connections: int = MAX_LEASED) -> None:
        self.max_connections = max_connections
        # id(client) -> (weak reference to the client, its lease); the entry goes
        # with the client
        self._leases: dict[int, tuple[weakref.ref[Any], AsyncLease | None]] = {}

    def lease(self, client: Any) -> AsyncLease | None:
        loop = asyncio.get_running_loop()
        entry = self._leases.get(id(client))
        if entry is not None and entry[0]() is client:
            lease = entry[1]
            if lease is None:
                return None
            owner = lease.loop_ref()
            if owner is loop and lease.generation == _generation:
                return lease
            if owner is not None and owner is not loop and not owner.is_closed():
                return None  # a client shared by live loops: redis-py's generic path
        lease = AsyncLease(client, loop, self.max_connections) if aeligible(client) else None
        key = id(client)
        ref = weakref.ref(client, lambda r: self._forget(key, r))
        self._leases[key] = (ref, lease)
        return lease

    def _forget(self, key: int, ref: weakref.ref[Any]) -> None:
        entry = self._leases.get(key)
        if entry is not None and entry[0] is ref:  # not a newer client with the same id
            del self._leases[key]

    async def aclose(self) -> None:
        """Return the connections leased by the running loop's clients; the next
        :meth:`lease` borrows again."""
        loop = asyncio.get_running_loop()
        for key, (_, lease) in list(self._leases.items()):
            if lease is not None and lease.loop_ref() is loop:
                del self._leases[key]
                await lease.aclose()
