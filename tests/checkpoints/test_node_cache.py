"""RedisNodeCache: a real graph with CachePolicy, TTLs, clearing by namespace, Redis down."""

from __future__ import annotations

import asyncio
import operator
import time
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest
import redis
from langgraph.graph import START, StateGraph
from langgraph.types import CachePolicy

from langchain_redis_agent.node_cache import RedisNodeCache
from langchain_redis_agent.store import RedisStore
from redis_agent_core.agent_store import NodeCacheStore
from redis_agent_core.agent_store.records import namespace_prefix
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError


class State(TypedDict):
    x: int
    out: Annotated[list[int], operator.add]


def _graph(calls: list[str], cache: RedisNodeCache, ttl: int | None = None) -> Any:
    def double(state: State) -> dict[str, Any]:
        calls.append("double")
        return {"out": [state["x"] * 2]}

    def square(state: State) -> dict[str, Any]:
        calls.append("square")
        return {"out": [state["x"] ** 2]}

    builder = StateGraph(State)
    builder.add_node("double", double, cache_policy=CachePolicy(ttl=ttl))
    builder.add_node("square", square, cache_policy=CachePolicy(ttl=ttl))
    builder.add_edge(START, "double")
    builder.add_edge("double", "square")
    return builder.compile(cache=cache)


def test_a_graph_reuses_cached_nodes_sync_and_async(config: RedisAgentConfig) -> None:
    calls: list[str] = []
    graph = _graph(calls, RedisNodeCache(config), ttl=60)
    assert graph.invoke({"x": 3, "out": []})["out"] == [6, 9]
    assert graph.invoke({"x": 3, "out": []})["out"] == [6, 9]
    assert calls == ["double", "square"]  # the second run came from the cache

    # another cache object (another process, say) sees the same entries, async
    again = _graph(calls, RedisNodeCache(config), ttl=60)
    assert asyncio.run(again.ainvoke({"x": 3, "out": []}))["out"] == [6, 9]
    assert asyncio.run(again.ainvoke({"x": 4, "out": []}))["out"] == [8, 16]
    assert calls == ["double", "square", "double", "square"]

    # every key has a TTL (CachePolicy's), entries and index share their namespace's slot
    client = config.get_client()
    entries = list(client.scan_iter(match=f"{config.namespace}:nc:*:e:*"))
    assert len(entries) == 4 and all(0 < client.ttl(k) <= 60 for k in entries)
    slots = {redis.cluster.key_slot(k) for k in client.scan_iter(match=f"{config.namespace}:nc:*")}
    assert len(slots) >= 2  # namespaces spread over slots, each namespace in one


def test_clear_by_namespace_and_all(config: RedisAgentConfig) -> None:
    cache = RedisNodeCache(config)
    a, b = ("__pregel_ns_writes", "double"), ("__pregel_ns_writes", "square")
    cache.set({(a, "k1"): ({"v": 1}, None), (a, "k2"): ([1, 2], 30), (b, "k1"): ("x", None)})
    assert cache.get([(a, "k1"), (a, "k2"), (b, "k1"), (b, "zz")]) == {
        (a, "k1"): {"v": 1},
        (a, "k2"): [1, 2],
        (b, "k1"): "x",
    }
    cache.clear([a])
    assert cache.get([(a, "k1"), (a, "k2"), (b, "k1")]) == {(b, "k1"): "x"}
    asyncio.run(cache.aset({(a, "k3"): (3, None)}))
    asyncio.run(cache.aclear())
    assert cache.get([(a, "k3"), (b, "k1")]) == {}
    assert list(config.get_client().scan_iter(match=f"{config.namespace}:nc:*")) == []


def test_a_writer_whose_clock_is_behind_leaves_nothing_after_clear(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries were indexed by the writer's clock (now + ttl) and the index pruned by each
    writer's: one written by a process 10 minutes behind was unindexed by the next write of
    a process on time while Redis kept it, so clear() missed it and it was served after."""
    cache = NodeCacheStore(config)
    ns = ("node",)
    real = time.time
    with monkeypatch.context() as clock:
        clock.setattr(time, "time", lambda: real() - 600)
        cache.set([((ns, "behind"), ("json", b"1"), 120)])
    cache.set([((ns, "on time"), ("json", b"2"), 120)])
    cache.clear()
    assert cache.get([(ns, "behind"), (ns, "on time")]) == {}


async def test_an_entry_whose_namespace_index_was_evicted_is_not_served(
    config: RedisAgentConfig,
) -> None:
    # an evicting maxmemory-policy removes whole keys: here a namespace's index (deleted
    # as eviction would). Its entries were out of clear() and still served after it until
    # their TTL (for good without one): a result the user had cleared
    cache = NodeCacheStore(config)
    ns, other = ("node",), ("other",)
    cache.set([((ns, "k"), ("json", b"1"), None), ((other, "k"), ("json", b"2"), 60)])
    idx = config.keys.node_cache(cache.name, namespace_prefix(ns), "idx")
    config.get_client().delete(idx)
    assert cache.get([(ns, "k"), (other, "k")]) == {(other, "k"): ("json", b"2")}
    cache.clear()
    assert await cache.aget([(ns, "k"), (other, "k")]) == {}
    await cache.aset([((ns, "k"), ("json", b"3"), None)])  # the node ran again: indexed
    assert cache.get([(ns, "k")]) == {(ns, "k"): ("json", b"3")}
    cache.clear([ns])
    assert list(config.get_client().scan_iter(match=f"{config.namespace}:nc:*")) == []


async def test_a_decoding_redis_client_reads_entries(decoding_config: RedisAgentConfig) -> None:
    # serialized entries are not UTF-8: a decode_responses=True client raised
    # UnicodeDecodeError
    cache = RedisNodeCache(decoding_config)
    a = ("__pregel_ns_writes", "double")
    cache.set({(a, "k1"): (b"\xff\x80", None)})
    await cache.aset({(a, "k2"): ({"v": b"\x80"}, 30)})
    assert cache.get([(a, "k1"), (a, "k2")]) == {(a, "k1"): b"\xff\x80", (a, "k2"): {"v": b"\x80"}}
    assert await cache.aget([(a, "k1"), (a, "zz")]) == {(a, "k1"): b"\xff\x80"}
    await cache.aclear()
    cache.clear()
    assert cache.get([(a, "k1")]) == {}


def test_a_ttl_passes_then_the_node_runs_again(config: RedisAgentConfig) -> None:
    calls: list[str] = []
    graph = _graph(calls, RedisNodeCache(config), ttl=30)
    graph.invoke({"x": 2, "out": []})
    client = config.get_client()
    for key in client.scan_iter(match=f"{config.namespace}:nc:*:e:*"):
        client.delete(key)  # what expiry does
    graph.invoke({"x": 2, "out": []})
    assert calls == ["double", "square", "double", "square"]


def test_a_ttl_redis_cannot_take_is_refused_before_anything_is_written(
    config: RedisAgentConfig,
) -> None:
    # review 18: NaN / inf raised int()'s errors; 1e20 s failed in the script's SET PX
    # after the entries before it were written, and counted as Redis down
    store = NodeCacheStore(config)
    for ttl in (float("nan"), float("inf"), 1e20):
        pairs = [((("n",), "a"), ("json", b"1"), None), ((("n",), "b"), ("json", b"2"), ttl)]
        with pytest.raises(ConfigError, match="CachePolicy ttl"):
            store.set(pairs)
        assert store.get([(("n",), "a")]) == {}


def test_redis_down_runs_the_nodes_or_raises(config: RedisAgentConfig) -> None:
    down = RedisAgentConfig(url="redis://127.0.0.1:1", retries=0, socket_connect_timeout=0.2)
    calls: list[str] = []
    graph = _graph(calls, RedisNodeCache(down), ttl=30)
    assert graph.invoke({"x": 5, "out": []})["out"] == [10, 25]
    assert calls == ["double", "square"]
    with pytest.raises(RedisUnavailableError):
        RedisNodeCache(down, on_error="raise").get([(("ns",), "k")])


def test_on_the_local_cluster(cluster_config: RedisAgentConfig) -> None:
    calls: list[str] = []
    cache = RedisNodeCache(cluster_config)
    graph = _graph(calls, cache, ttl=60)
    for _ in range(2):
        assert asyncio.run(graph.ainvoke({"x": 3, "out": []}))["out"] == [6, 9]
        assert graph.invoke({"x": 3, "out": []})["out"] == [6, 9]
    assert calls == ["double", "square"]
    cache.clear()
    asyncio.run(cache.aclear())
    graph.invoke({"x": 3, "out": []})
    assert calls == ["double", "square"] * 2


def test_clear_on_the_local_cluster_with_several_entries(cluster_config: RedisAgentConfig) -> None:
    """A namespace holding many entries (one multi-key UNLINK) clears, sync and async."""
    cache = RedisNodeCache(cluster_config, on_error="raise")
    wanted: list[Any] = [(("node_a",), f"k{i}") for i in range(3)] + [(("node_b",), "k")]

    def fill() -> None:
        cache.set({key: (n, None) for n, key in enumerate(wanted)})
        assert len(cache.get(wanted)) == len(wanted)

    fill()
    cache.clear([("node_a",)])
    assert list(cache.get(wanted)) == [(("node_b",), "k")]
    fill()
    cache.clear()
    assert cache.get(wanted) == {}
    fill()
    asyncio.run(cache.aclear())
    assert cache.get(wanted) == {}


def test_caches_whose_names_hold_a_bar_share_nothing(config: RedisAgentConfig) -> None:
    # cache "a" read cache "a|b"'s entry of namespace ("c",) as its own ("b|c",)
    one, two = NodeCacheStore(config, name="a|b"), NodeCacheStore(config, name="a")
    one.set([((("c",), "k"), ("json", b'"of a|b"'), None)])
    two.set([((("b|c",), "k"), ("json", b'"of a"'), None)])
    assert one.get([(("c",), "k")]) == {(("c",), "k"): ("json", b'"of a|b"')}
    assert two.get([(("b|c",), "k")]) == {(("b|c",), "k"): ("json", b'"of a"')}
    two.clear()
    assert one.get([(("c",), "k")]) == {(("c",), "k"): ("json", b'"of a|b"')}


def test_a_name_that_is_empty_or_holds_a_nul_is_refused(config: RedisAgentConfig) -> None:
    # review 15: "" and "\x00" were taken (every other named store refused "")
    for bad in ("", "a\x00", 5):
        with pytest.raises(ConfigError, match="node cache name"):
            RedisNodeCache(config, name=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="agent store name must be a non-empty str"):
        RedisStore(config, name="")


@dataclass
class Verdict:
    ok: bool


def test_a_value_the_cache_would_not_read_back_is_refused_unwritten(
    config: RedisAgentConfig,
) -> None:
    """A node result of a class outside ``allowed_types`` raises as it is cached, naming
    the class and the fix (before: stored, then every later hit raised)."""
    key = (("verdicts",), "k")
    cache = RedisNodeCache(config)
    with pytest.raises(ConfigError, match=r"test_node_cache\.Verdict.*nothing was written"):
        cache.set({key: (Verdict(True), None)})
    with pytest.raises(ConfigError, match="Verdict"):
        asyncio.run(cache.aset({key: ({"nested": [Verdict(False)]}, None)}))
    assert cache.get([key]) == {}
    allowed = RedisNodeCache(config, allowed_types=[Verdict])
    allowed.set({key: (Verdict(True), None)})
    assert allowed.get([key]) == {key: Verdict(True)}
