"""LlamaIndex ``BaseKVStore`` on Redis: docstores, index stores and ``IngestionCache``
can live in Redis (sync and native async, with collections)."""

from __future__ import annotations

from typing import Any

import orjson
from llama_index.core.storage.kvstore.types import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_COLLECTION,
    BaseKVStore,
)

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError
from redis_agent_core.jsonvalues import dumps_json
from redis_agent_core.kvstore import KVStore
from redis_agent_core.migrate import peer_config

__all__ = ["RedisKVStore"]

# Writes are pipelined in chunks of this size; LlamaIndex's batch_size (default 1) is a
# hint for stores without pipelining and is ignored.
_CHUNK = 1000


def _dump(key: str, val: dict) -> bytes:
    if not isinstance(val, dict):
        raise ConfigError(
            f"RedisKVStore values must be dicts, got {type(val).__name__} for {key!r}"
        )
    # NaN / inf would read back as None (a docstore row from pandas often holds NaN);
    # a UUID / Enum is written as its str / value, as LlamaIndex's own JSON stores do
    return dumps_json(
        val,
        f"RedisKVStore value of {key!r}",
        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        native=True,  # LlamaIndex's rows hold enums (ObjectType) it revives from their value
    )


def _load(key: str, raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DataCorruptionError(f"RedisKVStore value of {key!r} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DataCorruptionError(f"RedisKVStore value of {key!r} is not a JSON object")
    return value


class RedisKVStore(BaseKVStore):
    """Key/value store in Redis: one JSON string per key, collections as key prefixes.

    Args:
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        name: store name; stores with different names never share keys.
        ttl: seconds each value lives (default: forever / ``config.default_ttl``).
        redis_uri, redis_client, async_redis_client: the server, as
            llama-index-storage-kvstore-redis takes it (``redis_uri`` also as the first
            argument; a client built with ``decode_responses=True`` works too), and its
            ``from_redis_client`` / ``from_host_and_port``.

    Redis down: every method raises :class:`RedisUnavailableError`.

    Example::

        storage = StorageContext.from_defaults(
            docstore=KVDocumentStore(RedisKVStore(name="docs")),
            index_store=KVIndexStore(RedisKVStore(name="index")),
        )
    """

    def __init__(
        self,
        config: RedisAgentConfig | str | None = None,
        *,
        name: str = "llamaindex",
        ttl: int | None = None,
        store: KVStore | None = None,
        redis_uri: str | None = None,
        redis_client: Any = None,
        async_redis_client: Any = None,
    ) -> None:
        if isinstance(config, str):  # the peer's first argument is redis_uri
            if redis_uri is not None:
                raise ConfigError(
                    "RedisKVStore: the URL is given twice (first argument and redis_uri=)"
                )
            config, redis_uri = None, config
        peer = (redis_uri, redis_client, async_redis_client)
        if store is not None and (config is not None or any(a is not None for a in peer)):
            raise ConfigError(
                "RedisKVStore: pass store= or the connection (config=, redis_uri=, "
                "redis_client=), not both"
            )
        config = peer_config(
            "RedisKVStore", config=config, redis_url=redis_uri,
            redis_client=redis_client, redis_client_async=async_redis_client,
        )  # fmt: skip
        self._store = store or KVStore(config, name=name, ttl=ttl)

    @classmethod
    def from_redis_client(cls, redis_client: Any, **kwargs: Any) -> RedisKVStore:
        """A store on ``redis_client`` (as llama-index-storage-kvstore-redis builds it)."""
        return cls(redis_client=redis_client, **kwargs)

    @classmethod
    def from_host_and_port(cls, host: str, port: int, **kwargs: Any) -> RedisKVStore:
        """A store on ``redis://host:port`` (as llama-index-storage-kvstore-redis builds it)."""
        return cls(redis_uri=f"redis://{host}:{port}", **kwargs)

    @property
    def core(self) -> KVStore:
        """The core key/value store behind this adapter."""
        return self._store

    def put(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        self._store.mset([(key, _dump(key, val))], collection)

    async def aput(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        await self._store.amset([(key, _dump(key, val))], collection)

    def put_all(
        self,
        kv_pairs: list[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        items = [(k, _dump(k, v)) for k, v in kv_pairs]  # validate all before writing
        for i in range(0, len(items), _CHUNK):
            self._store.mset(items[i : i + _CHUNK], collection)

    async def aput_all(
        self,
        kv_pairs: list[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        items = [(k, _dump(k, v)) for k, v in kv_pairs]
        for i in range(0, len(items), _CHUNK):
            await self._store.amset(items[i : i + _CHUNK], collection)

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        return _load(key, self._store.mget([key], collection)[0])

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        return _load(key, (await self._store.amget([key], collection))[0])

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        keys = list(self._store.yield_keys(collection=collection))
        values = self._store.mget(keys, collection)
        return {
            k: v for k, raw in zip(keys, values, strict=True) if (v := _load(k, raw)) is not None
        }

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        keys = [k async for k in self._store.ayield_keys(collection=collection)]
        values = await self._store.amget(keys, collection)
        return {
            k: v for k, raw in zip(keys, values, strict=True) if (v := _load(k, raw)) is not None
        }

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        return self._store.mdelete([key], collection) > 0

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        return await self._store.amdelete([key], collection) > 0

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("RedisKVStore holds live connections and cannot be pickled")
