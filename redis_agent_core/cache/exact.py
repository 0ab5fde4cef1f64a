"""Exact LLM cache: the same prompt, scope and filters give the stored payload.

A lookup is one script call (one round trip) that reads the entry and counts the
hit or miss; an update is one script call that writes the entry with its TTL.
Works on plain Redis and on Redis Cluster (no search module needed).

On a plain (non-cluster) sync client the lookup skips redis-py's generic command
path: the EVALSHA request is pre-encoded per bucket (only the digest changes) and
sent on a connection this thread keeps for the cache, and the reply is one bulk
string. Anything unusual (unknown script, a dropped connection) falls back to the
generic path, with its retries. A hit then costs one round trip plus the adapter's
own objects.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Mapping
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import RedisAgentConfig
from .base import LOOKUP, CacheStore, arun_script, run_script
from .entry import (
    REDIS_DOWN,
    CacheHit,
    OnError,
    canonical_filters,
    check_args,
    entry_digest,
    parse_usage,
    text,
)

__all__ = ["ExactCache"]

_FALLBACK: Any = object()


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


class ExactCache(CacheStore):
    """Exact-match cache of LLM responses in Redis.

    Args:
        config: connection settings (default: the process-wide config).
        name: cache name; caches with different names never share entries.
        ttl: seconds an entry lives (``None``: ``config.default_ttl``, else forever);
            ``update(..., ttl=)`` overrides it per entry.
        on_error: ``"degrade"`` (Redis down: lookups miss, updates are skipped, a
            warning is logged at most every ``log_interval`` s and Redis is retried
            after ``recheck_after`` s) or ``"raise"`` (:class:`RedisUnavailableError`).
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "llm",
        ttl: float | None = None,
        on_error: OnError = "degrade",
        log_interval: float = 60.0,
        recheck_after: float = 1.0,
    ) -> None:
        super().__init__(
            config,
            name=name,
            ttl=ttl,
            on_error=on_error,
            log_interval=log_interval,
            recheck_after=recheck_after,
            what=f"exact cache {name!r}",
        )
        self._packed_for: Any = None
        self._local = threading.local()
        self._conns: weakref.WeakSet[Any] = weakref.WeakSet()
        self._packed: dict[str, tuple[bytes, bytes]] = {}

    def _lookup_call(
        self, prompt: str, scope: str, filters: Mapping[str, str] | None
    ) -> tuple[str, list[str], list[Any]]:
        check_args(prompt, scope)
        digest = entry_digest(scope, prompt, canonical_filters(filters))
        b = digest[0]
        return digest, [self.entry_key(digest), self._stats[b], self._hits[b]], [digest]

    def _parse(self, reply: Any, prompt: str, digest: str) -> CacheHit | None:
        if not reply:
            return None
        if isinstance(reply, str):  # a client built with decode_responses=True
            reply = reply.encode("utf-8", "surrogateescape")
        hits, usage, payload = reply.split(b"\n", 2)
        return CacheHit(
            payload=text(payload),
            prompt=prompt,
            distance=0.0,
            usage=parse_usage(usage),
            hits=int(hits),
            key=self.entry_key(digest),
        )

    def _packets(self, client: Any) -> dict[str, tuple[bytes, bytes]]:
        """Per bucket, the EVALSHA request around the digest, pre-encoded for ``client``."""
        if self._packed_for is not client:
            enc = client.get_encoder().encoding
            out: dict[str, tuple[bytes, bytes]] = {}
            for b, prefix in self._entry_prefix.items():
                key_prefix = prefix.encode(enc)
                head = (
                    b"*7\r\n"
                    + _bulk(b"EVALSHA")
                    + _bulk(LOOKUP.sha.encode())
                    + _bulk(b"3")
                    + b"$%d\r\n%s" % (len(key_prefix) + 32, key_prefix)
                )
                mid = (
                    b"\r\n"
                    + _bulk(self._stats[b].encode(enc))
                    + _bulk(self._hits[b].encode(enc))
                    + b"$32\r\n"
                )
                out[b] = (head, mid)
            self._packed = out
            self._packed_for = client
        return self._packed

    def _connection(self, client: Any) -> Any:
        """This thread's own connection for the fast path (``None``: use the generic path).

        One connection per thread and cache, made from the client's pool settings but
        not checked out of the pool: taking and returning a pooled connection costs
        about as much client time as parsing the reply. Only for plain clients on a
        plain ``ConnectionPool`` (not cluster, sentinel, blocking or single-connection).
        """
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is not None and local.owner is client and local.pid == os.getpid():
            return conn
        if type(client) is not redis.Redis or client.connection is not None:
            return None
        pool = client.connection_pool
        if type(pool) is not redis.ConnectionPool:
            return None
        conn = pool.connection_class(**pool.connection_kwargs)
        local.conn, local.owner, local.pid = conn, client, os.getpid()
        self._conns.add(conn)
        return conn

    def close(self) -> None:
        """Close the connections the lookup fast path opened (they also close when the
        cache is garbage-collected); the next lookup opens one again if needed."""
        for conn in list(self._conns):
            conn.disconnect()

    def _fast_lookup(self, client: Any, digest: str) -> Any:
        """The LOOKUP reply, or ``_FALLBACK`` to take redis-py's generic path."""
        conn = self._connection(client)
        if conn is None:
            return _FALLBACK
        head, mid = self._packets(client)[digest[0]]
        d = digest.encode()
        try:
            conn.send_packed_command([head + d + mid + d + b"\r\n"])
            return conn.read_response()
        except NoScriptError:  # first use on this server: the generic path loads it
            return _FALLBACK
        except ResponseError:
            raise
        except (RedisConnectionError, RedisTimeoutError, OSError):
            # server gone or the connection dropped: the generic path reconnects,
            # applies the configured retries, then reports
            conn.disconnect()
            return _FALLBACK
        except BaseException:
            conn.disconnect()  # the reply may be half read
            raise

    def lookup(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """The entry stored for exactly this prompt, scope and filters, or ``None``."""
        check_args(prompt, scope)
        digest = entry_digest(scope, prompt, canonical_filters(filters))
        if not self.faults.available():
            return None
        try:
            client = self.config.get_client()
            reply = self._fast_lookup(client, digest)
            if reply is _FALLBACK:
                b = digest[0]
                keys = [self.entry_key(digest), self._stats[b], self._hits[b]]
                reply = run_script(client, LOOKUP, keys, [digest])
        except REDIS_DOWN as exc:
            self.faults.failed("lookup", exc)
            return None
        return self._parse(reply, prompt, digest)

    async def alookup(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """Async :meth:`lookup`."""
        digest, keys, args = self._lookup_call(prompt, scope, filters)
        if not self.faults.available():
            return None
        try:
            reply = await arun_script(self.config.get_async_client(), LOOKUP, keys, args)
        except REDIS_DOWN as exc:
            self.faults.failed("lookup", exc)
            return None
        return self._parse(reply, prompt, digest)

    def _update_args(
        self,
        prompt: str,
        scope: str,
        payload: str,
        usage: Mapping[str, Any] | None,
        ttl: float | None,
        filters: Mapping[str, str] | None,
    ) -> tuple[list[str], list[Any]]:
        check_args(prompt, scope)
        pairs = canonical_filters(filters)
        digest = entry_digest(scope, prompt, pairs)
        return self._update_call(
            digest, prompt, scope, payload, usage=usage, ttl=ttl, filters=pairs
        )

    def update(
        self,
        prompt: str,
        scope: str,
        payload: str,
        *,
        usage: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> bool:
        """Store ``payload`` for this prompt, scope and filters (replacing any entry).

        ``usage`` is the original call's token usage (counted as saved on hits).
        Returns ``False`` when the write was skipped because Redis is down.
        """
        keys, args = self._update_args(prompt, scope, payload, usage, ttl, filters)
        return self._write(keys, args)

    async def aupdate(
        self,
        prompt: str,
        scope: str,
        payload: str,
        *,
        usage: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> bool:
        """Async :meth:`update`."""
        keys, args = self._update_args(prompt, scope, payload, usage, ttl, filters)
        return await self._awrite(keys, args)
