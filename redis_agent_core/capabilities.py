"""Probe once what a Redis server can do, so code picks a path and tests skip honestly.

Feature checks are real probes (a throwaway index is created and dropped), not
version guesses: redisvl's ``supports_svs()`` says True on RediSearch 2.10, which
cannot build SVS-VAMANA indexes.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster

from .config import RedisAgentConfig
from .redis_errors import translate_errors

__all__ = ["Capabilities", "get_capabilities", "probe", "require_search"]


@dataclass(frozen=True)
class Capabilities:
    """What one Redis server supports."""

    redis_version: str
    search_version: int | None
    json_version: int | None
    cluster: bool
    hybrid: bool  # FT.HYBRID (Redis >= 8.4)
    svs_vamana: bool  # SVS-VAMANA vector index
    int8_vectors: bool  # INT8 / UINT8 vector types

    @property
    def search(self) -> bool:
        """The Query Engine (RediSearch) is available."""
        return self.search_version is not None

    @property
    def json(self) -> bool:
        """RedisJSON is available."""
        return self.json_version is not None

    @property
    def search_on_cluster(self) -> bool:
        """Search works across a cluster. Module builds index one node only: False."""
        return (
            self.search
            and self.cluster
            and _version_tuple(self.redis_version) >= (8, 0)
            and (self.search_version is not None and self.search_version >= 80000)
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(search=self.search, json=self.json, search_on_cluster=self.search_on_cluster)
        return data

    def table(self) -> list[tuple[str, str]]:
        """Rows of (feature, value) for display."""

        def yes(flag: bool) -> str:
            return "yes" if flag else "no"

        def ver(value: int | None) -> str:
            if value is None:
                return "missing"
            return f"{value // 10000}.{value // 100 % 100}.{value % 100}"

        return [
            ("redis", self.redis_version),
            ("search (RediSearch)", ver(self.search_version)),
            ("json (RedisJSON)", ver(self.json_version)),
            ("cluster mode", yes(self.cluster)),
            ("FT.HYBRID", yes(self.hybrid)),
            ("SVS-VAMANA vectors", yes(self.svs_vamana)),
            ("INT8/UINT8 vectors", yes(self.int8_vectors)),
            ("search on cluster", yes(self.search_on_cluster)),
        ]


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def module_versions(client: redis.Redis) -> dict[str, Any]:
    """``{module name: version}`` from MODULE LIST (RESP2 or RESP3 replies)."""
    return {
        _text(m.get(b"name", m.get("name"))): m.get(b"ver", m.get("ver"))
        for m in client.module_list()
    }


def _try_index(client: redis.Redis, vector_args: list[str]) -> bool:
    """Create and drop a throwaway vector index; True if the server accepts it."""
    name = f"__rap_probe_{uuid.uuid4().hex}"
    try:
        client.execute_command(
            "FT.CREATE",
            name,
            "ON",
            "HASH",
            "PREFIX",
            "1",
            f"{name}:",
            "SCHEMA",
            "v",
            "VECTOR",
            *vector_args,
        )
    except redis.exceptions.ResponseError:
        return False
    try:
        client.execute_command("FT.DROPINDEX", name)
    except redis.exceptions.ResponseError:
        pass
    return True


def _has_command(client: redis.Redis, name: str) -> bool:
    """True if the server knows command ``name`` (called with no args: only arity fails)."""
    try:
        client.execute_command(name)
    except redis.exceptions.ResponseError as exc:
        return "unknown command" not in str(exc).lower()
    return True


def probe(client: redis.Redis | RedisCluster) -> Capabilities:
    """Ask the server what it supports (a few round trips; cache the result)."""
    is_cluster = isinstance(client, RedisCluster)
    node: Any = client.get_default_node().redis_connection if is_cluster else client  # type: ignore[union-attr]
    info = node.info("server")
    modules = module_versions(node)
    search_version = modules.get("search") or modules.get("ft")
    json_version = modules.get("ReJSON") or modules.get("json")
    hybrid = False
    svs = False
    int8 = False
    if search_version is not None:
        hybrid = _has_command(node, "FT.HYBRID")
        svs = _try_index(
            node, ["SVS-VAMANA", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "COSINE"]
        )
        int8 = _try_index(
            node, ["FLAT", "6", "TYPE", "INT8", "DIM", "4", "DISTANCE_METRIC", "COSINE"]
        )
    return Capabilities(
        redis_version=str(info.get("redis_version", "unknown")),
        search_version=int(search_version) if search_version is not None else None,
        json_version=int(json_version) if json_version is not None else None,
        cluster=is_cluster,
        hybrid=hybrid,
        svs_vamana=svs,
        int8_vectors=int8,
    )


_cache: dict[str, Capabilities] = {}
_cache_lock = threading.Lock()


def get_capabilities(config: RedisAgentConfig) -> Capabilities:
    """Probe the config's server once per process and URL; later calls are free."""
    url = config.resolve_url()
    with _cache_lock:
        cached = _cache.get(url)
    if cached is not None:
        return cached
    with translate_errors(config, "probing server capabilities"):
        caps = probe(config.get_client())
    with _cache_lock:
        _cache[url] = caps
    return caps


def require_search(config: RedisAgentConfig, what: str) -> Capabilities:
    """Raise :class:`CapabilityError` unless the server has the Query Engine."""
    from .errors import CapabilityError

    caps = get_capabilities(config)
    if not caps.search:
        raise CapabilityError(
            f"{what} needs the Redis Query Engine (RediSearch), which this server "
            f"(Redis {caps.redis_version}) does not have. Use Redis 8, Redis Stack or "
            "Redis Cloud, or unset REDIS_URL to use the embedded server."
        )
    if caps.cluster and not caps.search_on_cluster:
        raise CapabilityError(
            f"{what} needs search across a cluster; this cluster's search module indexes "
            "one node only and would return partial results. Use Redis 8 with built-in "
            "search clustering, Redis Enterprise or Redis Cloud, or a single node."
        )
    return caps
