"""LangChain ``ByteStore`` on Redis, e.g. for ``CacheBackedEmbeddings``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

from langchain_core.stores import ByteStore

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.kvstore import KVStore

__all__ = ["RedisByteStore"]


class RedisByteStore(ByteStore):
    """``BaseStore[str, bytes]`` in Redis: one string key per value, optional TTL.

    Args:
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        name: store name; stores with different names never share keys.
        ttl: seconds each value lives (default: forever / ``config.default_ttl``).

    Redis down: every method raises :class:`RedisUnavailableError`.

    Example::

        store = RedisByteStore(name="embeddings")
        cached = CacheBackedEmbeddings.from_bytes_store(
            MiniLMEmbeddings(), store, namespace="minilm"
        )
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "bytes",
        ttl: int | None = None,
        store: KVStore | None = None,
    ) -> None:
        self._store = store or KVStore(config, name=name, ttl=ttl)

    @property
    def core(self) -> KVStore:
        """The core key/value store behind this adapter."""
        return self._store

    def mget(self, keys: Sequence[str]) -> list[bytes | None]:
        return self._store.mget(keys)

    async def amget(self, keys: Sequence[str]) -> list[bytes | None]:
        return await self._store.amget(keys)

    def mset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        self._store.mset(key_value_pairs)

    async def amset(self, key_value_pairs: Sequence[tuple[str, bytes]]) -> None:
        await self._store.amset(key_value_pairs)

    def mdelete(self, keys: Sequence[str]) -> None:
        self._store.mdelete(keys)

    async def amdelete(self, keys: Sequence[str]) -> None:
        await self._store.amdelete(keys)

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        yield from self._store.yield_keys(prefix)

    async def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        async for key in self._store.ayield_keys(prefix):
            yield key
