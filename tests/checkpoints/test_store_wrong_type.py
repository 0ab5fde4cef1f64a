"""A key of the agent store holding another type of value (another application writing
under the same namespace, a key set by hand) made a put write part of itself: each
command of its MULTI/EXEC met WRONGTYPE alone and the others were written (an index
member naming a string, which broke every later search; an item hash no listing found).
Now the put is all or nothing: KeyTypeError (a SchemaMismatchError naming the fix, still
redis-py's ResponseError) and nothing written, sync and async, core and LangGraph faces."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from langchain_redis_agent.store import RedisStore
from redis_agent_core.agent_store import ItemStore, NodeCacheStore
from redis_agent_core.agent_store.records import member
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import SchemaMismatchError

FIX = "namespace of its own"


def _dump(client: redis.Redis, config: RedisAgentConfig) -> dict[bytes, Any]:
    """Every key of the namespace with its type, content and TTL."""
    out: dict[bytes, Any] = {}
    for key in client.scan_iter(f"{config.namespace}:*"):
        kind = client.type(key)
        value: Any = {
            b"string": client.get,
            b"hash": client.hgetall,
            b"zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        }[kind](key)
        out[key] = (kind, value, client.pttl(key) > 0)
    return out


def _spoiled(config: RedisAgentConfig, store: ItemStore, which: str) -> tuple[redis.Redis, bytes]:
    client = redis.Redis.from_url(config.resolve_url())
    key = {
        "item": store.item_key(member(("u",), "b")),
        "index": store.index_key,
        "expiry": store.expiry_key,
        "vector": store.vector_key(member(("u",), "b"), 1),
    }[which]
    client.delete(key)
    client.set(key, "another app's")
    return client, key


PUTS: Any = [
    (("u",), "a", {"n": 10}, 60.0),
    (("u",), "b", {"n": 20}, None),
    (("u",), "gone", None, None),
]


@pytest.mark.parametrize("which", ["item", "index", "expiry", "vector"])
def test_a_put_meeting_a_key_of_another_type_writes_nothing(
    config: RedisAgentConfig, capabilities: Any, which: str
) -> None:
    dims = 2 if capabilities.search else None
    store = ItemStore(config, name="w", dims=dims)
    vectors = [None, [[1.0, 0.0], [0.0, 1.0]], None] if dims else None
    store.put([(("u",), "a", {"n": 1}, None), (("u",), "gone", {"n": 0}, 30.0)])
    if which == "vector" and not dims:
        pytest.skip("vectors need the Query Engine")
    client, key = _spoiled(config, store, which)
    before = _dump(client, config)
    for put in (store.put, lambda *a: asyncio.run(store.aput(*a))):
        with pytest.raises(SchemaMismatchError, match=FIX) as info:
            put(PUTS, vectors)
        assert _dump(client, config) == before  # nothing of it written
        assert isinstance(info.value, redis.exceptions.ResponseError)
        assert "WRONGTYPE" in str(info.value) and "nothing of the put was written" in str(
            info.value
        )
    client.delete(key)
    store.put(PUTS, vectors)  # works again once the key is gone
    assert [(i.key, i.value) for i in store.search(("u",))] == [("a", {"n": 10}), ("b", {"n": 20})]


def test_the_langgraph_store_raises_it_too(config: RedisAgentConfig) -> None:
    store = RedisStore(config, name="w")
    store.put(("u",), "a", {"n": 1})
    client, _ = _spoiled(config, store.items, "index")
    before = _dump(client, config)
    with pytest.raises(SchemaMismatchError, match=FIX):
        store.put(("u",), "b", {"n": 2})
    with pytest.raises(SchemaMismatchError, match=FIX):
        asyncio.run(store.aput(("u",), "b", {"n": 2}))
    assert _dump(client, config) == before


def test_the_node_cache_writes_no_entry_its_index_cannot_list(config: RedisAgentConfig) -> None:
    cache = NodeCacheStore(config, name="w")
    client = redis.Redis.from_url(config.resolve_url())
    idx, prefix = cache._keys(("n",))
    client.set(idx, "another app's")
    pairs: Any = [((("n",), "k1"), ("json", b"1"), None), ((("n",), "k2"), ("json", b"2"), None)]
    with pytest.raises(SchemaMismatchError, match=FIX):
        cache.set(pairs)  # raised under either policy: a deployment mistake, not an outage
    # the entries were written without expiry, unindexed: out of clear() for good
    assert list(client.scan_iter(prefix + b"*")) == []
    client.delete(idx)
    cache.set(pairs)
    assert cache.get([(("n",), "k1")]) == {(("n",), "k1"): ("json", b"1")}
