"""Probe once what a Redis server can do, so code picks a path and tests skip honestly.

Feature checks are real probes (a throwaway index is created and dropped), not
version guesses: redisvl's ``supports_svs()`` says True on RediSearch 2.10, which
cannot build SVS-VAMANA indexes. The probe is one flow (:mod:`.executor`) run by a sync
or an asyncio client; its result is cached per process and URL for both (per client
object for a client passed in the config). A throwaway index the server refuses for a
reason that says nothing about support (a read-only replica, memory full, an ACL user
without ``FT.CREATE``) leaves that feature unknown (``None``) and the answer uncached.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

import redis
import redis.asyncio
from redis.cluster import RedisCluster

from ..config import RedisAgentConfig
from ..errors import CapabilityError
from ..redis_errors import (
    DENIED,
    REPLY,
    is_command_refusal,
    is_unknown_command,
    is_unsupported_vector_field,
    translate_errors,
)
from .executor import Flow, arun, run

__all__ = [
    "Capabilities",
    "aget_capabilities",
    "aprobe",
    "arequire_search",
    "cached_capabilities",
    "check_search",
    "get_capabilities",
    "probe",
    "require_search",
    "supports_acked_trim",
    "timeout_policy",
]


@dataclass(frozen=True)
class Capabilities:
    """What one Redis server supports."""

    redis_version: str
    search_version: int | None
    json_version: int | None
    cluster: bool
    hybrid: bool  # FT.HYBRID (Redis >= 8.4)
    svs_vamana: bool | None  # SVS-VAMANA vector index (None: not known now, see below)
    int8_vectors: bool | None  # INT8 / UINT8 vector types (None: not known now)
    #: the server's reply when it refused a throwaway index for a reason that says nothing
    #: about support (READONLY, OOM, NOPERM): the features it tested are None, and the
    #: answer is not cached (the next call probes again)
    probe_refusal: str | None = None

    @property
    def complete(self) -> bool:
        """Every feature was answered (nothing left unknown): the answer may be kept."""
        return self.svs_vamana is not None and self.int8_vectors is not None

    @property
    def search(self) -> bool:
        """The Query Engine (RediSearch) is available."""
        return self.search_version is not None

    @property
    def json(self) -> bool:
        """RedisJSON is available."""
        return self.json_version is not None

    @property
    def acked_trim(self) -> bool | None:
        """``XADD ... ACKED`` (Redis >= 8.2); None: the version is not known."""
        return supports_acked_trim(self.redis_version)

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

        def yes(flag: bool | None) -> str:
            if flag is None:
                return f"unknown (the server refused a test index: {self.probe_refusal})"
            return "yes" if flag else "no"

        def ver(value: int | None) -> str:
            if value is None:
                return "missing"
            if value == 0:  # found by its commands; nothing the server lets us read names it
                return "yes (version unknown)"
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


def supports_acked_trim(version: str) -> bool | None:
    """Whether Redis ``version`` takes ``XADD ... ACKED`` (8.2 and later); None when the
    version is not known (INFO and HELLO refused): the server's reply decides."""
    if not version or not version[0].isdigit():
        return None
    return _version_tuple(version) >= (8, 2)


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _modules(reply: Any) -> dict[str, Any]:
    """``{module name: version}`` of a MODULE LIST reply (RESP2 or RESP3)."""
    return {_text(m.get(b"name", m.get("name"))): m.get(b"ver", m.get("ver")) for m in reply}


def _dotted_version(value: object) -> int | None:
    """``"2.10.5"`` -> ``21005`` (the MODULE LIST form); None if not a version."""
    parts = _text(value).split()[0].split(".") if value is not None else []
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    major, minor, patch = (int(p) for p in parts)
    return major * 10000 + minor * 100 + patch


#: keyless commands (no slot, so safe on any cluster node) that exist only where the
#: module is loaded; tried when the server refuses MODULE LIST
_MODULE_PROBES = {"search": ["FT._LIST"], "ReJSON": ["JSON.DEBUG", "HELP"]}
_INFO_VERSION = {"search": "search_version", "ReJSON": "json_version"}


def _as_dict(reply: Any) -> dict[Any, Any]:
    """A RESP3 map, or a RESP2 flat list of pairs, as a dict with str keys."""
    if isinstance(reply, dict):
        return {_text(k): v for k, v in reply.items()}
    items = list(reply or [])
    return {_text(k): v for k, v in zip(items[::2], items[1::2], strict=False)}


def _hello() -> Flow[dict[str, Any]]:
    """``HELLO`` (no arguments: the protocol is unchanged) as a dict, ``{}`` if refused.
    Any client may run it (``@connection``), and it names the version and the modules."""
    try:
        return _as_dict((yield ["HELLO"]))
    except REPLY:
        return {}


def modules_flow() -> Flow[dict[str, Any]]:
    """``{module name: version}`` as a flow: MODULE LIST where the server allows it.

    Managed services often refuse MODULE (renamed, or no permission), and Redis 8 has
    search built in, so then the modules are read from ``HELLO`` or ``INFO modules`` /
    ``INFO search`` and, for any still missing, found by calling a keyless command of
    the module: one found that way whose version nothing names gets version 0
    ("present, version unknown").
    """
    try:
        return _modules((yield ["MODULE LIST"]))
    except REPLY:
        pass
    hello = yield from _hello()
    found = _modules(_as_dict(m) for m in hello.get("modules") or [])
    info: dict[str, Any] = {}
    if not {"search", "ReJSON"} <= set(found):
        for section in ("modules", "search"):
            try:
                info.update((yield ["INFO", section]) or {})
            except REPLY:
                pass
        found = {**_modules(info.get("modules") or []), **found}
    for name, probe_cmd in _MODULE_PROBES.items():
        if name in found:
            continue
        try:
            yield probe_cmd
        except REPLY as exc:
            if is_unknown_command(exc):
                continue  # absent; any other error (arity, NOPERM) means the module is there
        found[name] = _dotted_version(info.get(_INFO_VERSION[name])) or 0
    return found


def module_versions(client: redis.Redis) -> dict[str, Any]:
    """``{module name: version}``: MODULE LIST, or (where MODULE is refused) INFO and
    command probes (see :func:`modules_flow`)."""
    return run(client.execute_command, modules_flow(), only=is_command_refusal)


def _try_index(vector_args: list[str]) -> Flow[tuple[bool | None, str | None]]:
    """Create and drop a throwaway vector index: (True, None) if the server accepts it,
    (False, None) if it cannot build such a field, (None, its reply) if it refused for
    another reason (a read-only replica, memory full, NOPERM), which answers nothing."""
    name = f"__rap_probe_{uuid.uuid4().hex}"
    try:
        yield ["FT.CREATE", name, "ON", "HASH", "PREFIX", "1", f"{name}:", "SCHEMA", "v",
               "VECTOR", *vector_args]  # fmt: skip
    except REPLY as exc:
        return (False, None) if is_unsupported_vector_field(exc) else (None, str(exc))
    try:
        yield ["FT.DROPINDEX", name]
    except REPLY:
        pass
    return True, None


def _has_command(name: str) -> Flow[bool]:
    """True if the server has command ``name`` and lets this user run it: called with no
    args, only its arity check may refuse it. An unknown command, or one the user may not
    run (NOPERM), is False: a query built for it would fail every time."""
    try:
        yield [name]
    except REPLY as exc:
        return not is_unknown_command(exc) and not isinstance(exc, DENIED)
    return True


def probe_flow(is_cluster: bool) -> Flow[Capabilities]:
    """The probe as a flow (a few commands, all to one node)."""
    try:
        version = (yield ["INFO", "server"]).get("redis_version")
    except REPLY:  # INFO refused (ACL, managed service)
        version = _text((yield from _hello()).get("version", "unknown"))
    modules = yield from modules_flow()
    search_version = modules.get("search") or modules.get("ft")
    json_version = modules.get("ReJSON") or modules.get("json")
    hybrid = False
    svs: bool | None = False
    int8: bool | None = False
    refusal = int8_refusal = None
    if search_version is not None:
        hybrid = yield from _has_command("FT.HYBRID")
        svs, refusal = yield from _try_index(
            ["SVS-VAMANA", "6", "TYPE", "FLOAT32", "DIM", "4", "DISTANCE_METRIC", "COSINE"]
        )
        int8, int8_refusal = yield from _try_index(
            ["FLAT", "6", "TYPE", "INT8", "DIM", "4", "DISTANCE_METRIC", "COSINE"]
        )
    return Capabilities(
        redis_version=str(version or "unknown"),
        search_version=int(search_version) if search_version is not None else None,
        json_version=int(json_version) if json_version is not None else None,
        cluster=is_cluster,
        hybrid=hybrid,
        svs_vamana=svs,
        int8_vectors=int8,
        probe_refusal=refusal or int8_refusal,
    )


def probe(client: redis.Redis | RedisCluster) -> Capabilities:
    """Ask the server what it supports (a few round trips; cache the result)."""
    if isinstance(client, RedisCluster):
        node: Any = client.get_default_node().redis_connection
        return run(node.execute_command, probe_flow(True), only=is_command_refusal)
    return run(client.execute_command, probe_flow(False), only=is_command_refusal)


async def aprobe(client: Any) -> Capabilities:
    """Async :func:`probe` (an asyncio ``Redis`` or ``RedisCluster``)."""
    if isinstance(client, redis.asyncio.RedisCluster):
        await client.initialize()
        node = client.get_default_node()

        async def on_node(*args: Any) -> Any:
            return await client.execute_command(*args, target_nodes=node)

        return await arun(on_node, probe_flow(True), only=is_command_refusal)
    return await arun(client.execute_command, probe_flow(False), only=is_command_refusal)


#: Answers for the clients a config builds from its URL, by (URL, cluster flag).
_by_url: dict[tuple[str, bool], Capabilities] = {}
#: Answers for clients passed in (``client=`` / ``async_client=``), by the client object:
#: no URL of the config names their server, and a dropped client drops its entry.
_by_client: weakref.WeakKeyDictionary[Any, Capabilities] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _memo(config: RedisAgentConfig, given: Any) -> tuple[MutableMapping[Any, Capabilities], Any]:
    """Where the answer for the client in use is cached, and under which key."""
    if given is not None:
        return _by_client, given
    return _by_url, (config.resolve_url(), config.is_cluster())


def _cached(memo: MutableMapping[Any, Capabilities], key: Any) -> Capabilities | None:
    with _cache_lock:
        return memo.get(key)


def _store(memo: MutableMapping[Any, Capabilities], key: Any, caps: Capabilities) -> Capabilities:
    """Keep a complete answer; one with a feature left unknown is returned, not kept."""
    if caps.complete:
        with _cache_lock:
            memo[key] = caps
    return caps


def get_capabilities(config: RedisAgentConfig) -> Capabilities:
    """Probe the config's server once per process and client target; later calls are free
    (an answer with a feature left unknown is not kept: the next call probes again)."""
    memo, key = _memo(config, config.client)
    cached = _cached(memo, key)
    if cached is not None:
        return cached
    with translate_errors(config, "probing server capabilities"):
        return _store(memo, key, probe(config.get_client()))


def cached_capabilities(config: RedisAgentConfig) -> Capabilities | None:
    """The answer a probe of the config's server already kept (through its sync or its
    asyncio client), else ``None``; never asks the server, so a caller that must not do
    I/O (a command builder) can still decide on what was probed."""
    for given in (config.client, config.async_client):
        memo, key = _memo(config, given)
        cached = _cached(memo, key)
        if cached is not None:
            return cached
    return None


async def aget_capabilities(config: RedisAgentConfig) -> Capabilities:
    """Async :func:`get_capabilities` (same cache; probes with the asyncio client)."""
    memo, key = _memo(config, config.async_client)
    cached = _cached(memo, key)
    if cached is not None:
        return cached
    with translate_errors(config, "probing server capabilities"):
        return _store(memo, key, await aprobe(config.get_async_client()))


def check_search(caps: Capabilities, what: str) -> Capabilities:
    """Raise :class:`CapabilityError` unless ``caps`` has the Query Engine (and, on a
    cluster, search across the cluster)."""
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


def require_search(config: RedisAgentConfig, what: str) -> Capabilities:
    """Raise :class:`CapabilityError` unless the server has the Query Engine."""
    return check_search(get_capabilities(config), what)


async def arequire_search(config: RedisAgentConfig, what: str) -> Capabilities:
    """Async :func:`require_search` (no sync I/O on the event loop)."""
    return check_search(await aget_capabilities(config), what)


def _config_value(reply: Any) -> str | None:
    """The value of a one-option ``FT.CONFIG GET`` reply (RESP3 map or RESP2 pairs)."""
    if isinstance(reply, dict):
        return next((_text(v) for v in reply.values()), None)
    pairs = [p for p in reply or [] if isinstance(p, (list, tuple)) and len(p) == 2]
    return _text(pairs[0][1]) if pairs and pairs[0][1] is not None else None


def timeout_policy(client: redis.Redis | RedisCluster) -> dict[str, Any]:
    """RediSearch's timeout settings as this client sees them: ``on_timeout`` ("fail" /
    "return"), ``timeout_ms`` and ``resp3`` (False on a RESP2 connection, which cannot see
    the partial-results warning); the first two are None when the server will not say
    (FT.CONFIG is refused on Redis Cloud / Software)."""
    out: dict[str, Any] = {"on_timeout": None, "timeout_ms": None, "resp3": None}
    for option, key in (("ON_TIMEOUT", "on_timeout"), ("TIMEOUT", "timeout_ms")):
        try:
            reply = client.execute_command("FT.CONFIG", "GET", option)
        except REPLY:
            continue
        out["resp3"] = isinstance(reply, dict)
        value = _config_value(reply)
        out[key] = value.lower() if value is not None else None
    return out
