"""Cached node results of agent graphs (LangGraph's node cache) on plain Redis.

Each namespace (a node's label path) keeps its entries beside a sorted set of their
keys by expiry time, all under one hash tag: clearing a namespace reads that set and
deletes what it names, in its own slot (no ``KEYS``, no ``SCAN``; Redis Cluster safe).
A set of the namespaces written lets ``clear()`` reach them all. Expired keys leave the
sorted set at the next write of the namespace, so it holds only live entries and those
of the last moments. Expiry times are the Redis server's (``node_cache_set.lua``), as
the keys' own: a writer's clock that differs never unindexes a live entry.

A read serves an entry only when its namespace's sorted set lists it: an entry whose set
was evicted (a ``maxmemory-policy`` that evicts keys) is out of ``clear()``, and was
served after it until its TTL; it is a miss now, and the node's next result replaces
it (indexed again).

Values are typed blobs (``(type, bytes)``, the adapter's serializer owns them). Redis
down: reads miss and writes are skipped (``on_error="degrade"``, a throttled warning),
or :class:`RedisUnavailableError` (``"raise"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..checkpoints.records import Typed, pack_typed, unpack_typed
from ..config import MAX_TTL, RedisAgentConfig, check_seconds, get_default_config
from ..errors import DataCorruptionError
from ..faults import OnError, RedisFaults
from ..keys import check_store_name
from ..plans import Plan, arun_plan, run_plan
from ..redis_errors import FAULTS
from ..scripts import Script
from .records import check_namespace, member, namespace_prefix

__all__ = ["NodeCacheStore"]

CacheKey = tuple[tuple[str, ...], str]
_SET = Script.load(__package__, "node_cache_set.lua")


class NodeCacheStore:
    """Typed values by ``(namespace, key)`` with a TTL in seconds, sync and async.

    Args:
        config: connection settings (default: the process-wide config).
        name: the cache's name (caches of different names share nothing).
        on_error: ``"degrade"`` (Redis down: misses, skipped writes) or ``"raise"``;
            ``None``: ``config.on_error``, else ``"degrade"``.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "default",
        on_error: OnError | None = None,
    ) -> None:
        self.config = config or get_default_config()
        self.name = check_store_name(name, "node cache name")
        self.faults = RedisFaults(self.config, f"node cache {name!r}", on_error)

    def _keys(self, namespace: Sequence[str]) -> tuple[str, bytes]:
        encoded = namespace_prefix(check_namespace(namespace, allow_empty=True))
        keys = self.config.keys
        return keys.node_cache(self.name, encoded, "idx"), keys.node_cache(
            self.name, encoded, "e:"
        ).encode()

    # -- plans --
    def get_plan(self, wanted: Sequence[CacheKey]) -> Plan[dict[CacheKey, Typed]]:
        refs = []
        for namespace, key in wanted:
            idx, prefix = self._keys(namespace)
            ref = member((), key)
            refs.append(((tuple(namespace), key), idx, ref, prefix + ref))

        if not refs:
            return {}

        def read(pipe: Any) -> None:
            for _, idx, ref, key in refs:
                # an entry its namespace's index does not list (the index evicted by a
                # maxmemory-policy that evicts keys) is out of clear(): not served
                pipe.zscore(idx, ref)
                pipe.get(key)  # not MGET: namespaces live in different cluster slots

        replies = yield False, read
        found: dict[CacheKey, Typed] = {}
        for (full, _, _, ref), score, raw in zip(refs, replies[::2], replies[1::2], strict=True):
            if raw is not None and score is not None:
                try:
                    found[full] = unpack_typed(raw)
                except (ValueError, IndexError):
                    raise DataCorruptionError(
                        f"node cache entry {ref!r} is malformed; clear the cache"
                    ) from None
        return found

    def set_plan(self, pairs: Sequence[tuple[CacheKey, Typed, float | None]]) -> Plan[None]:
        by_namespace: dict[tuple[str, ...], list[tuple[bytes, bytes, int]]] = {}
        for (namespace, key), value, ttl in pairs:
            # checked: NaN / inf raised int()'s errors, and past 100 years the script's
            # SET PX failed after the entries before it were written
            ttl_ms = (
                max(1, int(check_seconds(ttl, "CachePolicy ttl", most=MAX_TTL) * 1000))
                if ttl is not None
                else 0
            )
            by_namespace.setdefault(tuple(namespace), []).append(
                (member((), key), pack_typed(value), ttl_ms)
            )
        if not by_namespace:
            return None
        names = self.config.keys.node_cache_namespaces(self.name)

        def queue(pipe: Any) -> None:
            for namespace, entries in by_namespace.items():
                idx, prefix = self._keys(namespace)
                keys = [idx, *(prefix + ref for ref, _, _ in entries)]
                args = [x for ref, blob, ttl_ms in entries for x in (ref, blob, ttl_ms)]
                # the EVAL form: a pipeline does not retry NOSCRIPT
                pipe.execute_command(*_SET.eval(keys, args))
                pipe.sadd(names, namespace_prefix(namespace).encode())

        # not one MULTI: the namespaces' keys live in different slots on a cluster
        yield False, queue
        return None

    def clear_plan(self, namespaces: Sequence[Sequence[str]] | None) -> Plan[None]:
        names = self.config.keys.node_cache_namespaces(self.name)
        if namespaces is None:
            replies = yield False, lambda pipe: pipe.smembers(names)
            encoded = sorted(raw.decode() for raw in replies[0])
        else:
            encoded = [namespace_prefix(check_namespace(ns, allow_empty=True)) for ns in namespaces]
        if not encoded:
            return None
        keys = self.config.keys
        idxs = [keys.node_cache(self.name, e, "idx") for e in encoded]

        def read(pipe: Any) -> None:
            for idx in idxs:
                pipe.zrange(idx, 0, -1)

        replies = yield False, read

        def delete(pipe: Any) -> None:
            for e, idx, refs in zip(encoded, idxs, replies, strict=True):
                prefix = keys.node_cache(self.name, e, "e:").encode()
                for start in range(0, len(refs), 500):
                    # one command for same-slot keys: redis-py's sync cluster pipeline
                    # refuses a multi-key delete() even within one slot
                    keys_ = [prefix + ref for ref in refs[start : start + 500]]
                    pipe.execute_command("UNLINK", *keys_)
                pipe.delete(idx)
                pipe.srem(names, e.encode())

        yield False, delete
        return None

    # -- sync --
    def get(self, wanted: Sequence[CacheKey]) -> dict[CacheKey, Typed]:
        """The cached values of ``wanted`` that exist (a miss is absent)."""
        if not self.faults.available():
            return {}
        try:
            found = run_plan(self.config, self.get_plan(wanted), "reading the node cache")
        except FAULTS as exc:
            self.faults.failed("reading", exc)
            return {}
        self.faults.ok()
        return found

    def set(self, pairs: Sequence[tuple[CacheKey, Typed, float | None]]) -> None:
        """Store values with their TTL in seconds (``None``: no expiry)."""
        if not self.faults.writable():
            return
        try:
            run_plan(self.config, self.set_plan(pairs), "writing the node cache")
        except FAULTS as exc:
            self.faults.failed("writing", exc)

    def clear(self, namespaces: Sequence[Sequence[str]] | None = None) -> None:
        """Delete the entries of ``namespaces`` (every namespace when ``None``)."""
        run_plan(self.config, self.clear_plan(namespaces), "clearing the node cache")

    # -- async --
    async def aget(self, wanted: Sequence[CacheKey]) -> dict[CacheKey, Typed]:
        """Async :meth:`get`."""
        if not self.faults.available():
            return {}
        try:
            plan = self.get_plan(wanted)
            found = await arun_plan(self.config, plan, "reading the node cache")
        except FAULTS as exc:
            self.faults.failed("reading", exc)
            return {}
        self.faults.ok()
        return found

    async def aset(self, pairs: Sequence[tuple[CacheKey, Typed, float | None]]) -> None:
        """Async :meth:`set`."""
        if not self.faults.writable():
            return
        try:
            await arun_plan(self.config, self.set_plan(pairs), "writing the node cache")
        except FAULTS as exc:
            self.faults.failed("writing", exc)

    async def aclear(self, namespaces: Sequence[Sequence[str]] | None = None) -> None:
        """Async :meth:`clear`."""
        await arun_plan(self.config, self.clear_plan(namespaces), "clearing the node cache")
