"""LangGraph node cache on Redis: ``RedisNodeCache`` for ``graph.compile(cache=...)``.

Needs the ``langgraph`` extra. Async-native (``aget``/``aset``/``aclear`` use the
asyncio client), TTL'd by the nodes' ``CachePolicy(ttl=...)``, safe on Redis Cluster
(a namespace's keys share a hash tag) and cleared by namespace without ``KEYS``
(each namespace keeps the set of its entries). Values go through LangGraph's
serializer with pickle refused (:func:`~langchain_redis_agent.checkpoint.safe_serializer`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from langgraph.cache.base import BaseCache, FullKey, Namespace
from langgraph.checkpoint.serde.base import SerializerProtocol

from redis_agent_core.agent_store import NodeCacheStore
from redis_agent_core.config import RedisAgentConfig

from .checkpoint import check_serde, dump_checked, load_checked

__all__ = ["RedisNodeCache"]


class RedisNodeCache(BaseCache[Any]):
    """Cached node results of LangGraph graphs in Redis.

    Args:
        config: connection settings (default: the process-wide config).
        name: the cache's name (caches of different names share nothing).
        serde: serializer (default: LangGraph's, pickle off, msgpack limited to its
            safe types plus ``allowed_types``).
        allowed_types: classes your nodes return beyond LangGraph's safe types.
        on_error: ``"degrade"`` (Redis down: the node runs, nothing is cached) or
            ``"raise"``; ``None``: ``config.on_error``, else ``"degrade"``.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "default",
        serde: SerializerProtocol | None = None,
        allowed_types: Iterable[type | tuple[str, ...]] = (),
        on_error: Literal["degrade", "raise"] | None = None,
    ) -> None:
        super().__init__(serde=check_serde(serde, allowed_types))
        self.entries = NodeCacheStore(config, name=name, on_error=on_error)

    def _pairs(
        self, pairs: Mapping[FullKey, tuple[Any, int | None]]
    ) -> list[tuple[FullKey, tuple[str, bytes], float | None]]:
        return [
            (key, dump_checked(self.serde, value, "node cache entry", "node cache"), ttl)
            for key, (value, ttl) in pairs.items()
        ]

    def _loaded(self, found: Mapping[FullKey, tuple[str, bytes]]) -> dict[FullKey, Any]:
        return {
            key: load_checked(self.serde, value, "node cache entry", "node cache")
            for key, value in found.items()
        }

    def get(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        """The cached values of ``keys`` (a miss is absent)."""
        return self._loaded(self.entries.get(keys))

    async def aget(self, keys: Sequence[FullKey]) -> dict[FullKey, Any]:
        """Async :meth:`get`."""
        return self._loaded(await self.entries.aget(keys))

    def set(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        """Cache values, each with its TTL in seconds (``None``: kept until cleared)."""
        self.entries.set(self._pairs(pairs))

    async def aset(self, pairs: Mapping[FullKey, tuple[Any, int | None]]) -> None:
        """Async :meth:`set`."""
        await self.entries.aset(self._pairs(pairs))

    def clear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Delete the entries of ``namespaces`` (all of this cache's when ``None``)."""
        self.entries.clear(namespaces)

    async def aclear(self, namespaces: Sequence[Namespace] | None = None) -> None:
        """Async :meth:`clear`."""
        await self.entries.aclear(namespaces)
