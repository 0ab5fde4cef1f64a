"""Key/value store in Redis behind LangChain's ``ByteStore`` and LlamaIndex's ``KVStore``.

Each value is one Redis string under ``<ns>:kv:<name>:<collection>:<key>`` (user parts
escaped), so values spread over a cluster and can each have a TTL. Reads and writes
of many keys are one round trip (MGET / pipelined SET); listing keys SCANs only this
collection's prefix.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import cast

from redis.cluster import RedisCluster

from .config import RAW_REPLY, RedisAgentConfig, get_default_config
from .errors import ConfigError
from .keys import as_list, check_store_name, escape_part, unescape_part
from .redis_errors import sent_once, translate_errors

__all__ = ["KVStore"]

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def check_positive_ttl(ttl: object) -> int:
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ConfigError(f"ttl must be a positive int of seconds or None, got {ttl!r}")
    return ttl


def glob_escape(value: str) -> str:
    """Escape SCAN MATCH glob characters so ``value`` matches literally."""
    return _GLOB_SPECIAL.sub(r"\\\1", value)


class KVStore:
    """Bytes by string key, in named collections.

    Args:
        config: connection settings (default: the process-wide config).
        name: store name; stores with different names never share keys.
        ttl: seconds a written value lives (``None``: ``config.default_ttl``, else
            forever).

    Redis down: every method raises :class:`RedisUnavailableError` (a store, unlike a
    cache, cannot pretend a write happened).
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "store",
        ttl: int | None = None,
    ) -> None:
        check_store_name(name, "store name")
        self.config = config or get_default_config()
        self.name = name
        self.ttl = check_positive_ttl(ttl) if ttl is not None else self.config.default_ttl

    # -- pure helpers --
    def prefix(self, collection: str) -> str:
        return self.config.keys.kv_prefix(self.name, collection)

    def key(self, key: str, collection: str) -> str:
        if not isinstance(key, str):
            raise ConfigError(f"keys must be str, got {type(key).__name__}: {key!r}")
        return self.prefix(collection) + escape_part(key)

    def _match(self, collection: str, prefix: str | None) -> str:
        return glob_escape(self.prefix(collection) + escape_part(prefix or "")) + "*"

    @staticmethod
    def _value(value: bytes | str) -> bytes | str:
        if not isinstance(value, (bytes, str)):
            raise ConfigError(f"values must be bytes or str, got {type(value).__name__}")
        return value

    # -- sync --
    def mget(self, keys: Sequence[str], collection: str = "data") -> list[bytes | None]:
        """Values of ``keys`` in order (``None`` where missing)."""
        keys = as_list(keys, "keys")  # "ab" read as keys "a" and "b" (mdelete deleted them)
        if not keys:
            return []
        full = [self.key(k, collection) for k in keys]
        client = self.config.get_client()
        with translate_errors(self.config, f"reading from store {self.name!r}"):
            # values are bytes (RAW_REPLY: also on a decode_responses=True client)
            if isinstance(client, RedisCluster):  # keys in many slots: a GET each
                pipe = client.pipeline(transaction=False)
                for key in full:
                    pipe.execute_command("GET", key, **RAW_REPLY)
                return cast(list[bytes | None], pipe.execute())
            return cast(list[bytes | None], client.execute_command("MGET", *full, **RAW_REPLY))

    def mset(
        self,
        items: Iterable[tuple[str, bytes | str]],
        collection: str = "data",
        *,
        ttl: int | None = None,
    ) -> None:
        """Write all pairs in one round trip (all values are validated first)."""
        pairs = [(self.key(k, collection), self._value(v)) for k, v in items]
        if not pairs:
            return
        self.config.check_value_sizes((v for _, v in pairs), f"a value of store {self.name!r}")
        ex = check_positive_ttl(ttl) if ttl is not None else self.ttl
        with translate_errors(self.config, f"writing to store {self.name!r}"):
            pipe = self.config.get_client().pipeline(transaction=False)
            for k, v in pairs:
                pipe.set(k, v, ex=ex)
            pipe.execute()

    def mdelete(self, keys: Sequence[str], collection: str = "data") -> int:
        """Delete ``keys`` (missing ones are ignored); return how many existed."""
        keys = as_list(keys, "keys")  # "ab" read as keys "a" and "b" (mdelete deleted them)
        if not keys:
            return 0
        full = [self.key(k, collection) for k in keys]
        with translate_errors(self.config, f"deleting from store {self.name!r}"):
            pipe = self.config.get_client().pipeline(transaction=False)
            for k in full:
                pipe.unlink(k)
            return sum(int(n) for n in pipe.execute())

    def take(self, key: str, collection: str = "data") -> bytes | None:
        """The value of ``key``, deleted in the same command (GETDEL): of several callers
        taking one key, one gets the value and the others ``None``. Sent once: a lost
        reply raises :class:`RedisUnavailableError` (the value may be gone) rather than
        a retry answering ``None``."""
        full = self.key(key, collection)
        with translate_errors(self.config, f"taking from store {self.name!r}"), sent_once():
            reply = self.config.get_client().execute_command("GETDEL", full, **RAW_REPLY)
        return cast(bytes | None, reply)

    def yield_keys(self, prefix: str | None = None, collection: str = "data") -> Iterator[str]:
        """Keys of the collection (starting with ``prefix``), in no particular order."""
        cut = len(self.prefix(collection))
        client = self.config.get_client()
        with translate_errors(self.config, f"listing store {self.name!r}"):
            for raw in client.scan_iter(match=self._match(collection, prefix), count=1000):
                key = raw.decode() if isinstance(raw, bytes) else raw
                yield unescape_part(key[cut:])

    # -- async --
    async def amget(self, keys: Sequence[str], collection: str = "data") -> list[bytes | None]:
        """Async :meth:`mget`."""
        keys = as_list(keys, "keys")  # "ab" read as keys "a" and "b" (mdelete deleted them)
        if not keys:
            return []
        full = [self.key(k, collection) for k in keys]
        client = self.config.get_async_client()
        with translate_errors(self.config, f"reading from store {self.name!r}"):
            if self.config.is_cluster():
                pipe = client.pipeline(transaction=False)
                for key in full:
                    pipe.execute_command("GET", key, **RAW_REPLY)
                return cast(list[bytes | None], await pipe.execute())
            reply = await client.execute_command("MGET", *full, **RAW_REPLY)
            return cast(list[bytes | None], reply)

    async def amset(
        self,
        items: Iterable[tuple[str, bytes | str]],
        collection: str = "data",
        *,
        ttl: int | None = None,
    ) -> None:
        """Async :meth:`mset`."""
        pairs = [(self.key(k, collection), self._value(v)) for k, v in items]
        if not pairs:
            return
        self.config.check_value_sizes((v for _, v in pairs), f"a value of store {self.name!r}")
        ex = check_positive_ttl(ttl) if ttl is not None else self.ttl
        with translate_errors(self.config, f"writing to store {self.name!r}"):
            pipe = self.config.get_async_client().pipeline(transaction=False)
            for k, v in pairs:
                pipe.set(k, v, ex=ex)
            await pipe.execute()

    async def amdelete(self, keys: Sequence[str], collection: str = "data") -> int:
        """Async :meth:`mdelete`."""
        keys = as_list(keys, "keys")  # "ab" read as keys "a" and "b" (mdelete deleted them)
        if not keys:
            return 0
        full = [self.key(k, collection) for k in keys]
        with translate_errors(self.config, f"deleting from store {self.name!r}"):
            pipe = self.config.get_async_client().pipeline(transaction=False)
            for k in full:
                pipe.unlink(k)
            return sum(int(n) for n in await pipe.execute())

    async def atake(self, key: str, collection: str = "data") -> bytes | None:
        """Async :meth:`take`."""
        full = self.key(key, collection)
        client = self.config.get_async_client()
        with translate_errors(self.config, f"taking from store {self.name!r}"), sent_once():
            reply = await client.execute_command("GETDEL", full, **RAW_REPLY)
        return cast(bytes | None, reply)

    async def ayield_keys(
        self, prefix: str | None = None, collection: str = "data"
    ) -> AsyncIterator[str]:
        """Async :meth:`yield_keys`."""
        cut = len(self.prefix(collection))
        client = self.config.get_async_client()
        with translate_errors(self.config, f"listing store {self.name!r}"):
            async for raw in client.scan_iter(match=self._match(collection, prefix), count=1000):
                key = raw.decode() if isinstance(raw, bytes) else raw
                yield unescape_part(key[cut:])
