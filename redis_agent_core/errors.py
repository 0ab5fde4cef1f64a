"""Typed errors shared by every part of the pack.

Each message names the problem and the fix; callers can catch the base class
:class:`RedisAgentError` or the specific subclass.
"""

from __future__ import annotations


class RedisAgentError(Exception):
    """Base class of every error raised by redis-agent-pack."""


class ConfigError(RedisAgentError, ValueError):
    """A setting or argument is invalid; the message says which and how to fix it."""


class ValueTooLargeError(ConfigError):
    """A value is larger than the server takes in one argument (``max_value_bytes``: its
    ``proto-max-bulk-len``). Refused before anything is sent: a server given one closes
    the connection, which looks like Redis going down (and would be retried)."""


class ZeroVectorError(ConfigError):
    """An all-zero vector given to a cosine index (a document's or a query's): cosine
    compares directions and a zero vector has none, so the server scores it NaN against
    everything and a search returned arbitrary hits. Refused before anything is written
    or sent; L2 and inner-product indexes take it."""


class RedisURLError(ConfigError):
    """The Redis URL (``url=`` or ``REDIS_URL``) is not one the pack can use. The
    deployment's mistake, not the caller's: a service answers it as its own fault and
    keeps the message (which names the host) to its log."""


class ClusterURLError(RedisURLError):
    """The URL names a Redis Cluster node but the config is not a cluster one (a MOVED,
    ASK or CROSSSLOT reply to a plain client): add ``?cluster=true``. The deployment's
    mistake, not the caller's."""


class CrossSlotError(RedisAgentError, RuntimeError):
    """A Redis Cluster refused one command, script or transaction whose keys fall in
    different hash slots (a ``CROSSSLOT`` reply, or the cluster client's own check before
    sending).

    The keys of one call must share a hash tag: when they do not, the key layout (the
    pack's, or that of code building keys for it) has a bug that no retry fixes. Not a
    :class:`RedisUnavailableError`: every role raises it, degrading ones included (a cache
    would otherwise miss for good without a word). Please report it with its message.
    """


class RedisUnavailableError(RedisAgentError, ConnectionError):
    """Redis could not be reached (down, wrong URL, timeout).

    Subclasses :class:`ConnectionError` so generic handlers keep working.
    """


class RedisWriteRefusedError(RedisUnavailableError):
    """Redis answered but refused a write: ``maxmemory`` reached with ``noeviction``
    (``cause == "oom"``) or a read-only replica (``cause == "readonly"``).

    A :class:`RedisUnavailableError`, so handlers of "Redis is down" (degrading caches,
    fail-open limiters, the service's 503) treat it the same way.
    """

    def __init__(self, message: str, *, cause: str = "") -> None:
        super().__init__(message)
        self.cause = cause


class PoolExhaustedError(RedisUnavailableError):
    """Every connection of the client's pool was in use (``max_connections``; redis-py 8
    keeps at most 100 by default): nothing was sent, the server is fine.

    More calls at once than the pool holds: a thread pool larger than it, or asyncio
    tasks that waited ``socket_timeout`` for a connection in vain. Raise
    ``RedisAgentConfig(max_connections=...)`` (the server's ``maxclients`` is 10,000 by
    default) or bound the concurrency (a semaphore). A :class:`RedisUnavailableError`,
    so handlers of "Redis is down" keep working; the degrading caches miss this call
    only (Redis is not skipped for a pause), and the rate limiter raises it even when
    ``fail_open``: a burst is no outage to admit unmetered.
    """


class PartialWriteError(RedisUnavailableError):
    """Redis failed in the middle of a write of several batches (``VectorIndex.add``).

    ``written_ids`` were confirmed stored; ``unconfirmed_ids`` may or may not be.
    The write is idempotent by id: re-run it with the same ids once Redis is back.
    """

    def __init__(self, message: str, written_ids: list[str], unconfirmed_ids: list[str]) -> None:
        super().__init__(message)
        self.written_ids = written_ids
        self.unconfirmed_ids = unconfirmed_ids


class PartialWriteRefusedError(PartialWriteError, RedisWriteRefusedError):
    """A :class:`PartialWriteError` whose failure was a refused write (``.cause``
    ``"oom"`` / ``"readonly"``), so ``except RedisWriteRefusedError`` handles it too."""

    def __init__(
        self, message: str, written_ids: list[str], unconfirmed_ids: list[str], *, cause: str
    ) -> None:
        super().__init__(message, written_ids, unconfirmed_ids)
        self.cause = cause


class EmbeddedServerError(RedisAgentError, RuntimeError):
    """The embedded Redis server could not be found or started."""


class CapabilityError(RedisAgentError, RuntimeError):
    """The Redis server lacks a feature this operation needs (e.g. the Query Engine)."""


class RedisPermissionError(CapabilityError):
    """The Redis user of the URL lacks an ACL permission a command needs (``NOPERM``).

    A deployment mistake, not an outage: not a :class:`RedisUnavailableError`, so the
    degrading roles raise it instead of hiding it. ``redis-agent acl USER`` prints the
    rules the pack needs.
    """


class SchemaMismatchError(RedisAgentError, ValueError):
    """An existing index or key holds data in a layout different from the one requested."""


class DataCorruptionError(RedisAgentError, ValueError):
    """Data read back from Redis is malformed; the message names the key and position."""


class ThreadDeletedError(RedisAgentError, RuntimeError):
    """A checkpoint's save names a parent checkpoint the thread no longer holds: the
    thread was deleted (or expired) while a run was still writing it. Refused before
    anything is written: saved, the checkpoint would start a new thread under the same
    id whose next checkpoints reference values deleted with the old one. Stop the
    thread's run before deleting the thread."""


class SearchTimeoutError(RedisUnavailableError):
    """A RediSearch query passed the server's ``TIMEOUT``: it failed (``ON_TIMEOUT FAIL``)
    or came back with partial results (``ON_TIMEOUT RETURN``), which the pack never
    returns as if they were complete.

    A :class:`RedisUnavailableError` (the server did not answer in time), so the caches'
    raise-or-degrade policy and the service's 503 treat it like any other timeout.
    """
