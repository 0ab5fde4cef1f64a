"""The store's semantic search with an all-zero query vector (an embedding model that
returns zeros for an unknown input): every item came back unscored in key order, a
silent wrong result. Refused with ZeroVectorError naming the embedder, before any op of
the batch runs (the vector index raises the same error). So is an item whose text the
model embeds as all zeros, or a caller's all-zero vector: it was stored and listed
unscored by every search, whatever the query; refused naming the item, the path and the
fix (index=False), before anything of the put or of its batch is written. And
TTLConfig's booleans: ``refresh_on_read="no"`` was truthy and refreshed every read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from langgraph.store.base import GetOp, PutOp, SearchOp

from langchain_redis_agent.store import AsyncRedisStore, RedisStore
from redis_agent_core.agent_store import ItemStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, ZeroVectorError
from tests.conftest import skip_unless

VOCAB = ["tea", "coffee", "oslo"]


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Any) -> None:
    skip_unless(capabilities.search, "semantic search of the store needs the Query Engine")


def counts(texts: list[str]) -> list[list[float]]:
    return [[float(t.count(w)) for w in VOCAB] for t in texts]


async def acounts(texts: list[str]) -> list[list[float]]:
    return counts(texts)


INDEX: Any = {"dims": 3, "embed": counts, "fields": ["text"]}


def test_a_zero_query_vector_is_refused_naming_the_embedder(config: RedisAgentConfig) -> None:
    store = RedisStore(config, index=INDEX)
    store.put(("u",), "k1", {"text": "tea"})
    store.put(("u",), "k2", {"text": "nothing"}, index=False)  # stored without vectors: unscored
    with pytest.raises(ZeroVectorError, match=r"embedder 'counts' is all zeros.*Nothing was sent"):
        store.search(("u",), query="zzz")
    # refused before any op of the batch ran: the put before the search was not written
    with pytest.raises(ZeroVectorError):
        store.batch([PutOp(("u",), "k3", {"text": "oslo"}), SearchOp(("u",), query="zzz")])
    assert store.get(("u",), "k3") is None
    assert [i.key for i in store.search(("u",), query="tea")] == ["k1", "k2"]
    with pytest.raises(ZeroVectorError, match="query vector from the embedding function"):
        ItemStore(config, dims=3).semantic_search(("u",), [0.0, 0.0, 0.0])


def test_async_a_zero_query_vector_is_refused(config: RedisAgentConfig) -> None:
    async def main() -> None:
        store = AsyncRedisStore(config, index={"dims": 3, "embed": acounts, "fields": ["text"]})
        await store.aput(("u",), "k1", {"text": "tea"})
        with pytest.raises(ZeroVectorError, match="embedder 'acounts' is all zeros"):
            await store.asearch(("u",), query="zzz")
        with pytest.raises(ZeroVectorError):
            await RedisStore(config, index=INDEX).asearch(("u",), query="zzz")

    asyncio.run(main())


@pytest.mark.parametrize("flag", ["refresh_on_read", "omit_expired"])
@pytest.mark.parametrize("value", ["no", 0, 1, None])
def test_ttl_config_booleans_must_be_bools(
    config: RedisAgentConfig, flag: str, value: object
) -> None:
    with pytest.raises(ConfigError, match=rf"ttl\['{flag}'\] must be True or False"):
        RedisStore(config, ttl={flag: value})  # type: ignore[misc]
    RedisStore(config, ttl={flag: False})  # type: ignore[misc]


def test_the_core_store_refuses_it_before_making_its_index(config: RedisAgentConfig) -> None:
    store = ItemStore(config, name="z", dims=3)
    with pytest.raises(ZeroVectorError):
        store.semantic_search(("u",), [0.0, 0.0, 0.0])
    with pytest.raises(ZeroVectorError):
        asyncio.run(store.asemantic_search(("u",), [0.0, 0.0, 0.0]))
    assert store.lifecycle is not None
    client = redis.Redis.from_url(config.resolve_url())
    assert store.lifecycle.name.encode() not in client.execute_command("FT._LIST")


def _keys(config: RedisAgentConfig) -> list[bytes]:
    return sorted(redis.Redis.from_url(config.resolve_url()).keys(f"{config.namespace}:st:*"))


FIX = r"text at 'title' \(text 1\) of item \('u',\)/'k2' from the embedder 'counts'.*index=False"


def test_a_zero_item_vector_is_refused_before_the_batch_writes(config: RedisAgentConfig) -> None:
    store = RedisStore(config, index={"dims": 3, "embed": counts, "fields": ["text", "title"]})
    store.put(("u",), "k1", {"text": "tea"})
    before = _keys(config)
    with pytest.raises(ZeroVectorError, match=rf"{FIX}.*Nothing was written"):
        store.put(("u",), "k2", {"text": "coffee", "title": "nothing here"})
    # the whole batch, also the put before the search (another MULTI/EXEC), wrote nothing
    with pytest.raises(ZeroVectorError, match=FIX):
        store.batch(
            [
                PutOp(("u",), "k3", {"text": "oslo"}),
                SearchOp(("u",), query="tea"),
                PutOp(("u",), "k2", {"text": "coffee", "title": "nothing here"}),
            ]
        )
    assert _keys(config) == before
    assert store.batch([GetOp(("u",), "k2"), GetOp(("u",), "k3")]) == [None, None]
    # an update to zeros leaves the item as it was
    with pytest.raises(ZeroVectorError, match=r"text at 'text' \(text 0\) of item \('u',\)/'k1'"):
        store.put(("u",), "k1", {"text": "nothing"})
    hits = store.search(("u",), query="tea")
    assert [(i.key, i.value, i.score) for i in hits] == [("k1", {"text": "tea"}, pytest.approx(1))]
    # the fix the message names: stored, found without query=, unscored by meaning
    store.put(("u",), "k2", {"text": "coffee", "title": "nothing here"}, index=False)
    found = store.search(("u",), query="tea")
    assert [(i.key, i.score) for i in found] == [("k1", pytest.approx(1)), ("k2", None)]


def test_async_a_zero_item_vector_is_refused(config: RedisAgentConfig) -> None:
    async def main() -> None:
        store = AsyncRedisStore(config, index={"dims": 3, "embed": acounts, "fields": ["text"]})
        await store.aput(("u",), "k1", {"text": "tea"})
        before = _keys(config)
        with pytest.raises(ZeroVectorError, match=r"\('u',\)/'k2' from the embedder 'acounts'"):
            await store.aput(("u",), "k2", {"text": "nothing"})
        with pytest.raises(ZeroVectorError, match="Nothing was written"):
            await store.abatch(
                [PutOp(("u",), "k3", {"text": "oslo"}), PutOp(("u",), "k4", {"text": "-"})]
            )
        assert _keys(config) == before

    asyncio.run(main())


def test_the_core_store_refuses_a_zero_vector(config: RedisAgentConfig) -> None:
    store = ItemStore(config, name="z", dims=3)
    puts: Any = [(("u",), "a", {"n": 1}, None), (("u",), "b", {"n": 2}, None)]
    with pytest.raises(ZeroVectorError, match=r"vector 1 of item \('u',\)/'b'.*\(None\)"):
        store.put(puts, [[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]])
    with pytest.raises(ZeroVectorError, match="vector 0 of item"):
        asyncio.run(store.aput(puts, [None, [[0.0, 0.0, 0.0]]]))
    assert _keys(config) == []  # nothing written, not even the index made
    client = redis.Redis.from_url(config.resolve_url())
    assert store.lifecycle is not None
    assert store.lifecycle.name.encode() not in client.execute_command("FT._LIST")
