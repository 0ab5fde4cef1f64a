"""RedisStore (LangGraph BaseStore) against LangGraph's own InMemoryStore, on the same ops."""

from __future__ import annotations

import asyncio
import datetime
import enum
import time
import uuid
from typing import Any

import pytest
import redis
from langgraph.store.base import BaseStore, Item, PutOp
from langgraph.store.memory import InMemoryStore

from langchain_redis_agent.store import AsyncRedisStore, RedisStore
from redis_agent_core.agent_store.records import member
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError

ITEMS: list[tuple[tuple[str, ...], str, dict[str, Any]]] = [
    (("users", "u1", "memories"), "m1", {"text": "likes tea", "score": 3, "tags": ["a"]}),
    (("users", "u1", "memories"), "m2", {"text": "lives in Oslo", "score": 5, "meta": {"k": 1}}),
    (("users", "u1", "prefs"), "p1", {"theme": "dark", "score": 1}),
    (("users", "u2", "memories"), "m1", {"text": "likes coffee", "score": 4}),
    (("users", "u10", "memories"), "m1", {"text": "x:y {z}", "score": 2}),
    (("usersx",), "k", {"score": 9}),
    (("docs", "v1"), "d:1", {"status": "active", "score": 7.5}),
    (("docs", "v2"), "d{2}", {"status": "draft"}),
]


def _fill(store: BaseStore) -> None:
    for ns, key, value in ITEMS:
        store.put(ns, key, value)
    store.put(("users", "u2", "memories"), "m1", {"text": "likes coffee", "score": 6})  # update
    store.put(("docs", "v2"), "gone", {"status": "x"})
    store.delete(("docs", "v2"), "gone")


def _keyed(items: list[Any]) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    return sorted((i.namespace, i.key, i.value) for i in items)


SEARCHES: list[dict[str, Any]] = [
    {"namespace_prefix": ()},
    {"namespace_prefix": ("users",)},
    {"namespace_prefix": ("users", "u1")},
    {"namespace_prefix": ("users", "u1", "memories", "deeper")},
    {"namespace_prefix": ("users",), "filter": {"score": {"$gte": 4}}},
    {"namespace_prefix": ("users",), "filter": {"score": {"$gt": 2, "$lt": 6}}},
    {"namespace_prefix": (), "filter": {"status": "active"}},
    {"namespace_prefix": (), "filter": {"status": {"$ne": "active"}}},
    {"namespace_prefix": (), "filter": {"meta": {"k": 1}}},
    {"namespace_prefix": (), "filter": {"tags": ["a"]}},
]

LISTINGS: list[dict[str, Any]] = [
    {},
    {"prefix": ("users",)},
    {"prefix": ("users", "*", "memories")},
    {"suffix": ("memories",)},
    {"suffix": ("v1",)},
    {"prefix": ("users",), "max_depth": 2},
    {"max_depth": 1},
    {"max_depth": 2, "limit": 2, "offset": 1},
    {"prefix": ("users",), "suffix": ("prefs",)},
    {"prefix": ("nothing",)},
]


def test_same_answers_as_langgraphs_in_memory_store(config: RedisAgentConfig) -> None:
    ours, theirs = RedisStore(config), InMemoryStore()
    _fill(ours)
    _fill(theirs)
    # listings first: InMemoryStore's get leaves an empty namespace behind (a defaultdict)
    for listing in LISTINGS:
        assert ours.list_namespaces(**listing) == theirs.list_namespaces(**listing), listing
    for ns, key, _ in [*ITEMS, (("docs", "v2"), "gone", {}), (("nope",), "x", {})]:
        a, b = ours.get(ns, key), theirs.get(ns, key)
        assert (a is None) == (b is None), (ns, key)
        if a is not None and b is not None:
            assert (a.namespace, a.key, a.value) == (b.namespace, b.key, b.value)
    for search in SEARCHES:
        got = ours.search(search["namespace_prefix"], filter=search.get("filter"), limit=100)
        want = theirs.search(search["namespace_prefix"], filter=search.get("filter"), limit=100)
        assert _keyed(got) == _keyed(want), search
    # a range on a field an item lacks excludes it (InMemoryStore raises TypeError there)
    assert [i.key for i in ours.search(("docs",), filter={"score": {"$lte": 8}})] == ["d:1"]


async def test_a_decoding_redis_client_gives_the_same_answers(
    decoding_config: RedisAgentConfig,
) -> None:
    # a client built with decode_responses=True (peers' users pass them): the store's
    # reads used to mix str and bytes and raise TypeError
    ours, theirs = RedisStore(decoding_config), InMemoryStore()
    _fill(ours)
    _fill(theirs)
    for listing in LISTINGS:
        want = theirs.list_namespaces(**listing)
        assert ours.list_namespaces(**listing) == want, listing
        assert await ours.alist_namespaces(**listing) == want, listing
    for search in SEARCHES:
        want = _keyed(theirs.search(search["namespace_prefix"], filter=search.get("filter")))
        got = ours.search(search["namespace_prefix"], filter=search.get("filter"))
        agot = await ours.asearch(search["namespace_prefix"], filter=search.get("filter"))
        assert _keyed(got) == _keyed(agot) == want, search
    got = await ours.aget(("users", "u1", "memories"), "m2")
    assert got is not None and got.value == ITEMS[1][2]


def test_range_filter_on_a_non_numeric_value_raises_like_in_memory_store(
    config: RedisAgentConfig,
) -> None:
    memory, redis_store = InMemoryStore(), RedisStore(config)
    for store in (memory, redis_store):
        _fill(store)
        with pytest.raises(ValueError):  # ConfigError is a ValueError, as InMemoryStore's
            store.search(("users",), filter={"text": {"$gt": 1}})
        with pytest.raises(ValueError):
            store.search(("users",), filter={"score": {"$gt": "a"}})
    with pytest.raises(ConfigError, match=r"'text': \$gt compares numbers, but an item holds str"):
        redis_store.search(("users",), filter={"text": {"$gt": 1}})
    with pytest.raises(ConfigError, match=r"'score': \$gt needs a number, got 'a'"):
        redis_store.search(("users",), filter={"score": {"$gt": "a"}})
    redis_store.put(("nested",), "k", {"meta": {"k": "x"}})
    with pytest.raises(ConfigError, match=r"'meta'.'k': \$lt compares numbers"):
        redis_store.search(("nested",), filter={"meta": {"k": {"$lt": 2}}})


async def test_a_nan_range_bound_is_a_config_error(config: RedisAgentConfig) -> None:
    # float(user_input) of "nan": no number is above or below it, so the page came back
    # empty, as if the user had no matching memories (InMemoryStore does the same)
    store = RedisStore(config)
    _fill(store)
    for bound in (float("nan"), "nan", "NaN"):
        for op in ("$gt", "$gte", "$lt", "$lte"):
            where = {"score": {op: bound}}
            with pytest.raises(ConfigError, match=rf"'score': \{op} got .*NaN"):
                store.search(("users",), filter=where)
            with pytest.raises(ConfigError, match="NaN"):
                await store.asearch(("users",), filter=where)
    assert store.search(("users",), filter={"score": {"$lt": float("inf")}})


def test_a_filter_field_that_is_not_a_str_is_a_config_error(config: RedisAgentConfig) -> None:
    # item values are JSON, whose keys are str: {1: "x"} matched nothing (an empty page)
    store = RedisStore(config)
    store.put(("a",), "k", {"1": "x", "n": {"5": 1}})
    for where in ({1: "x"}, {"n": {5: 1}}, {("n",): 1}):
        with pytest.raises(ConfigError, match="field names are str"):
            store.search(("a",), filter=where)
    assert [i.key for i in store.search(("a",), filter={"1": "x", "n": {"5": 1}})] == ["k"]


def test_search_pages_are_stable_and_in_namespace_then_key_order(config: RedisAgentConfig) -> None:
    store = RedisStore(config)
    for i in range(450):  # more than one index read (200 members a read)
        store.put(("n", f"g{i % 3}"), f"k{i:03}", {"i": i, "odd": i % 2 == 1})
    everything = store.search(("n",), limit=1000)
    assert len(everything) == 450
    assert [(i.namespace, i.key) for i in everything] == sorted(
        (i.namespace, i.key) for i in everything
    )
    pages = [store.search(("n",), limit=100, offset=o) for o in range(0, 450, 100)]
    assert [i.key for page in pages for i in page] == [i.key for i in everything]
    odd = store.search(("n",), filter={"odd": True}, limit=50, offset=200)
    assert [i.value["i"] % 2 for i in odd] == [1] * 25
    assert store.search(("n",), limit=0) == []


def test_update_keeps_created_at_and_moves_updated_at(config: RedisAgentConfig) -> None:
    store = RedisStore(config)
    store.put(("a",), "k", {"v": 1})
    first = store.get(("a",), "k")
    time.sleep(0.01)
    store.put(("a",), "k", {"v": 2})
    second = store.get(("a",), "k")
    assert first is not None and second is not None and isinstance(second, Item)
    assert second.value == {"v": 2}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at


def test_item_ttl_in_minutes_expires_and_refresh_on_read(config: RedisAgentConfig) -> None:
    client = config.get_client()
    store = RedisStore(config, ttl={"default_ttl": 10, "refresh_on_read": True})
    store.put(("t",), "default", {"v": 1})
    store.put(("t",), "short", {"v": 2}, ttl=1)
    store.put(("t",), "forever", {"v": 3}, ttl=None)
    item_key = {
        k.split(b"\x1f")[-1]: k for k in client.scan_iter(match=f"{config.namespace}:st:*i:*")
    }
    assert 590_000 < client.pttl(item_key[b"default"]) <= 600_000
    assert 50_000 < client.pttl(item_key[b"short"]) <= 60_000
    assert client.pttl(item_key[b"forever"]) == -1

    client.pexpire(item_key[b"default"], 5_000)
    assert store.get(("t",), "default", refresh_ttl=False) is not None
    assert client.pttl(item_key[b"default"]) <= 5_000
    assert store.get(("t",), "default") is not None  # refresh_on_read=True
    assert client.pttl(item_key[b"default"]) > 590_000
    client.pexpire(item_key[b"default"], 5_000)
    store.search(("t",))
    assert client.pttl(item_key[b"default"]) > 590_000

    # once an item's TTL passed, get, search and listing no longer see it
    store.put(("brief",), "k", {"v": 4}, ttl=0.0005)  # 30 ms
    assert store.list_namespaces(prefix=("brief",)) == [("brief",)]
    time.sleep(0.1)
    assert store.get(("brief",), "k") is None
    assert store.search(("brief",)) == []
    assert store.list_namespaces() == [("t",)]
    assert client.zcard(config.keys.agent_store("default", "exp")) == 2  # short, default


async def test_a_namespace_whose_items_redis_evicted_is_not_listed(
    config: RedisAgentConfig,
) -> None:
    # maxmemory eviction removes an item key before its recorded expiry (simulated by
    # DEL, as eviction does): its namespace stayed listed until that expiry
    client = config.get_client()
    store = RedisStore(config, ttl={"default_ttl": 60})
    store.put(("users", "gone"), "k", {"v": 1})
    store.put(("users", "here"), "k", {"v": 2})
    store.put(("users", "many"), "keep", {"v": 3}, ttl=None)
    store.put(("users", "nottl"), "k", {"v": 4}, ttl=None)  # allkeys-* evicts these too
    store.batch([PutOp(("users", "many"), f"e{i:04}", {"i": i}) for i in range(1200)])
    store.batch([PutOp(("users", "x"), f"e{i:04}", {"i": i}) for i in range(1200)])
    gone = [(("users", "gone"), "k"), (("users", "nottl"), "k")]
    gone += [(("users", ns), f"e{i:04}") for ns in ("many", "x") for i in range(1200)]
    client.delete(*(store.items.item_key(member(ns, key)) for ns, key in gone))
    # 1,200 gone members ahead of a live one, or with none after them: more than one
    # script call skips them
    want = [("users", "here"), ("users", "many")]
    assert store.list_namespaces(prefix=("users",)) == want
    assert await store.alist_namespaces(prefix=("users",)) == want
    assert store.list_namespaces(max_depth=1) == [("users",)]
    # the gone members were unindexed on the way: listing again reads one per namespace
    assert client.zcard(config.keys.agent_store("default", "idx")) == 2
    assert client.zcard(config.keys.agent_store("default", "exp")) == 1  # here/k


def test_every_key_of_a_store_shares_one_slot_and_stores_are_apart(
    config: RedisAgentConfig,
) -> None:
    a, b = RedisStore(config, name="a{1}"), RedisStore(config, name="b")
    for ns, key, value in ITEMS:
        a.put(ns, key, value, ttl=5)
    b.put(("users",), "only-b", {"x": 1})
    client = config.get_client()
    keys = list(client.scan_iter(match=f"{config.namespace}:st:{{a%7B1%7D}}*"))
    assert len(keys) == len(ITEMS) + 2
    assert len({redis.cluster.key_slot(k) for k in keys}) == 1
    assert [i.key for i in b.search(("users",))] == ["only-b"]
    assert a.get(("users",), "only-b") is None


def test_values_are_json_and_bad_input_names_the_fix(config: RedisAgentConfig) -> None:
    store = RedisStore(config)
    with pytest.raises(ConfigError, match="JSON"):
        store.put(("a",), "k", {"when": object()})
    with pytest.raises(ConfigError, match=r"nan at \['score'\]"):
        store.put(("a",), "k", {"score": float("nan")})
    # a datetime read back as an ISO str (InMemoryStore keeps it): refused as Decimal is
    with pytest.raises(ConfigError, match=r"datetime.*isoformat\(\)"):
        store.put(("a",), "k", {"when": datetime.datetime(2024, 1, 1)})
    assert store.get(("a",), "k") is None
    with pytest.raises(ConfigError, match=r"inf at \['m'\]\[1\]"):
        store.put(("a",), "k", {"m": [1.0, float("inf")]})
    with pytest.raises(ConfigError, match="unsupported filter operator"):
        store.search(("a",), filter={"x": {"$in": [1]}})
    deep: dict[str, object] = {"x": 1}
    for _ in range(5000):  # a user's filter: it raised RecursionError
        deep = {"x": deep}
    with pytest.raises(ConfigError, match="more than 32 deep"):
        store.search(("a",), filter=deep)
    with pytest.raises(ConfigError, match="index="):
        store.search(("a",), query="tea")
    with pytest.raises(ConfigError, match="tuple of str"):
        store.get("a/b", "k")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="minutes"):
        store.put(("a",), "k", {}, ttl=-1)
    # review 18: NaN and inf raised int()'s ValueError / OverflowError; 1e20 minutes was
    # refused by Redis inside the MULTI/EXEC after the item was written (never expiring)
    for minutes in (float("nan"), float("inf"), 1e20):
        with pytest.raises(ConfigError, match="minutes"):
            store.put(("a",), "long", {}, ttl=minutes)
        with pytest.raises(ConfigError, match="ttl"):
            store.items.put([(("a",), "long", {}, minutes * 60)])
        assert store.get(("a",), "long") is None
    with pytest.raises(ConfigError, match="unknown TTLConfig"):
        RedisStore(config, ttl={"default_tll": 1})  # type: ignore[typeddict-unknown-key]
    # a bad default TTL is refused when the store is built: it failed at the first put,
    # deep in a graph's run (one check, config.check_seconds, in minutes here)
    for minutes in (-5, float("nan"), 1e20, "10", True):
        with pytest.raises(
            ConfigError, match=r"ttl\['default_ttl'\] must be a finite number of minutes"
        ):
            RedisStore(config, ttl={"default_ttl": minutes})  # type: ignore[typeddict-item]
    assert RedisStore(config, ttl={"default_ttl": 0.5}).ttl_config == {"default_ttl": 0.5}
    # review 15: RediSearch cuts an index's name and prefix at a NUL: store "a\x00"
    # indexed the vectors of every store whose name starts with "a"
    with pytest.raises(ConfigError, match="agent store name 'a\\\\x00' holds a NUL"):
        RedisStore(config, name="a\x00")
    assert store.get(("a",), "k") is None


def test_async_store_in_a_graph_remembers_across_threads(config: RedisAgentConfig) -> None:
    from langgraph.graph import START, MessagesState, StateGraph

    from langchain_redis_agent.checkpoint import AsyncRedisSaver

    async def remember(state: MessagesState, *, store: BaseStore) -> dict[str, Any]:
        text = str(state["messages"][-1].content)
        if text.startswith("remember "):
            await store.aput(("memories", "u1"), text[9:], {"fact": text[9:]})
        facts = sorted(i.value["fact"] for i in await store.asearch(("memories", "u1")))
        return {"messages": [("ai", ", ".join(facts) or "nothing")]}

    builder = StateGraph(MessagesState)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")

    async def run() -> str:
        store, saver = AsyncRedisStore(config), AsyncRedisSaver(config)
        graph = builder.compile(checkpointer=saver, store=store)
        await graph.ainvoke({"messages": [("user", "remember tea")]}, _thread("1"))
        graph = builder.compile(checkpointer=AsyncRedisSaver(config), store=AsyncRedisStore(config))
        out = await graph.ainvoke({"messages": [("user", "what do I like?")]}, _thread("2"))
        return str(out["messages"][-1].content)

    assert asyncio.run(run()) == "tea"


def _thread(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


def test_on_the_local_cluster(cluster_config: RedisAgentConfig) -> None:
    store = RedisStore(cluster_config, ttl={"default_ttl": 5})
    _fill(store)
    assert [i.key for i in store.search(("users", "u1"))] == ["m1", "m2", "p1"]
    assert store.list_namespaces(max_depth=1) == [("docs",), ("users",), ("usersx",)]

    async def run() -> Any:
        await store.aput(("a",), "k", {"v": 1})
        return await store.aget(("a",), "k"), await store.asearch((), filter={"v": 1})

    got, found = asyncio.run(run())
    assert got is not None and got.value == {"v": 1} and [i.key for i in found] == ["k"]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ({"user": uuid.UUID(int=7)}, r"UUID.*at \['user'\].*str\(value\)"),
        ({"c": [enum.StrEnum("C", {"RED": "red"}).RED]}, r"\['c'\]\[0\].*value\.value"),
    ],
)
def test_uuid_and_enum_values_are_refused_not_read_back_as_str(
    config: RedisAgentConfig, value: dict[str, Any], match: str
) -> None:
    # orjson wrote them as their str / value (InMemoryStore keeps them): refused as a datetime is
    store = RedisStore(config)
    with pytest.raises(ConfigError, match=match):
        store.put(("a",), "k", value)
    assert store.get(("a",), "k") is None
    plain = {"s": "x", "i": 1, "f": 0.5, "b": True, "n": None, "l": [1, "a"], "d": {"k": [2]}}
    store.put(("a",), "k", plain)
    assert store.get(("a",), "k").value == plain  # type: ignore[union-attr]
