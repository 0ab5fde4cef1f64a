"""RedisStore's semantic search (index={"dims", "embed", "fields"}) against LangGraph's
InMemoryStore with the same embed function: same items, order and scores."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import numpy as np
import pytest
from langgraph.store.base import BaseStore, SearchItem
from langgraph.store.memory import InMemoryStore

from langchain_redis_agent.store import AsyncRedisStore, RedisStore
from redis_agent_core.agent_store.semantic import F_PREFIXES
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import (
    CapabilityError,
    ConfigError,
    RedisUnavailableError,
    SchemaMismatchError,
)
from redis_agent_core.search import lifecycle
from tests.conftest import keys_matching, skip_unless

DIMS = 32


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Any) -> None:
    skip_unless(capabilities.search, "semantic search of the store needs the Query Engine")


def _word(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIMS)


def bag_of_words(texts: list[str]) -> list[list[float]]:
    """Sum of fixed random word vectors: texts sharing words are near, others far."""
    out = []
    for text in texts:
        words = text.lower().replace(",", " ").split() or ["<empty>"]
        out.append(sum((_word(w) for w in words), np.zeros(DIMS)).tolist())
    return out


CORPUS: list[tuple[tuple[str, ...], str, dict[str, Any], Any]] = [
    (("u1", "memories"), "m1", {"text": "likes green tea in the morning", "n": 1}, None),
    (("u1", "memories"), "m2", {"text": "lives in Oslo near the fjord", "n": 2}, None),
    (("u1", "memories"), "m3", {"text": "drinks coffee at work", "n": 3}, None),
    (("u1", "prefs"), "p1", {"text": "dark theme", "tags": ["tea", "green"], "n": 4}, None),
    (("u2", "memories"), "m1", {"text": "likes black tea", "n": 5}, None),
    (("u2", "memories"), "m2", {"text": "hates the morning", "n": 6}, False),  # not indexed
    (("u2", "memories"), "m3", {"title": "no text field", "n": 7}, None),
    (("u2", "notes"), "x", {"text": "tea", "title": "Oslo coffee", "n": 8}, ["title"]),
    (("u10",), "k", {"text": "green fjord", "n": 9}, None),
]

QUERIES: list[dict[str, Any]] = [
    {"prefix": (), "query": "green tea"},
    {"prefix": ("u1",), "query": "morning tea"},
    {"prefix": ("u1",), "query": "coffee", "limit": 2, "offset": 1},
    {"prefix": ("u2",), "query": "Oslo coffee"},
    {"prefix": ("u2", "memories"), "query": "tea", "limit": 10},
    {"prefix": (), "query": "tea", "filter": {"n": {"$gte": 3}}},
    {"prefix": (), "query": "fjord", "filter": {"n": {"$lt": 3}}, "limit": 1},
    {"prefix": ("u1",), "query": "green", "filter": {"tags": ["tea", "green"]}},
    {"prefix": ("u3",), "query": "tea"},
    {"prefix": (), "query": "tea", "limit": 3, "offset": 6},
]


def _fill(store: BaseStore) -> None:
    for ns, key, value, index in CORPUS:
        store.put(ns, key, value, index=index)


def _search(store: BaseStore, case: dict[str, Any]) -> list[SearchItem]:
    rest = {k: v for k, v in case.items() if k != "prefix"}
    return store.search(case["prefix"], **rest)


async def _asearch(store: BaseStore, case: dict[str, Any]) -> list[SearchItem]:
    rest = {k: v for k, v in case.items() if k != "prefix"}
    return await store.asearch(case["prefix"], **rest)


def _same(got: list[SearchItem], want: list[SearchItem], case: Any) -> None:
    assert [(i.namespace, i.key, i.value) for i in got] == [
        (i.namespace, i.key, i.value) for i in want
    ], case
    for a, b in zip(got, want, strict=True):
        assert (a.score is None) == (b.score is None), case
        if a.score is not None and b.score is not None:
            assert a.score == pytest.approx(b.score, abs=1e-5), case


def _index(embed: Any, fields: list[str]) -> Any:
    return {"dims": DIMS, "embed": embed, "fields": fields}


def _filled(config: RedisAgentConfig) -> tuple[RedisStore, InMemoryStore]:
    """Our store and LangGraph's in-memory one, with the same index and corpus."""
    index = _index(bag_of_words, ["text", "tags[*]"])
    ours, theirs = RedisStore(config, index=index), InMemoryStore(index=index)
    _fill(ours)
    _fill(theirs)
    return ours, theirs


def test_same_ranking_and_scores_as_langgraphs_in_memory_store(config: RedisAgentConfig) -> None:
    ours, theirs = _filled(config)
    for case in QUERIES:
        _same(_search(ours, case), _search(theirs, case), case)
    # put without a query still lists by namespace; get is unchanged
    assert [i.key for i in ours.search(("u2", "notes"))] == ["x"]
    got = ours.get(("u1", "memories"), "m1")
    assert got is not None and got.value["n"] == 1


async def test_a_decoding_redis_client_ranks_the_same(decoding_config: RedisAgentConfig) -> None:
    # a client built with decode_responses=True: the store's reads (items, KNN
    # replies) used to mix str and bytes and raise TypeError
    ours, theirs = _filled(decoding_config)
    for case in QUERIES:
        _same(_search(ours, case), _search(theirs, case), case)
        _same(await _asearch(ours, case), _search(theirs, case), case)


def test_many_items_and_a_selective_filter_stay_exact(config: RedisAgentConfig) -> None:
    index = _index(bag_of_words, ["text"])
    ours, theirs = RedisStore(config, index=index), InMemoryStore(index=index)
    words = ["tea", "coffee", "oslo", "fjord", "green", "black", "morning", "work"]
    for i in range(300):
        value = {"text": f"{words[i % 8]} {words[(i * 3) % 8]} {i}", "i": i, "rare": i % 97 == 0}
        for store in (ours, theirs):
            store.put(("bulk", f"g{i % 4}"), f"k{i}", value)
    for case in [
        {"query": "green tea", "filter": {"rare": True}, "limit": 5},
        {"query": "oslo work", "limit": 25, "offset": 40},
        {"query": "morning", "filter": {"i": {"$gt": 250}}, "limit": 30},
    ]:
        _same(ours.search(("bulk",), **case), theirs.search(("bulk",), **case), case)


def test_finds_by_meaning_with_the_offline_model(config: RedisAgentConfig, minilm: Any) -> None:
    def embed(texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in minilm.embed(texts)]

    index = {"dims": minilm.dims, "embed": embed, "fields": ["text"]}
    ours, theirs = RedisStore(config, index=index), InMemoryStore(index=index)
    facts = [
        "The user drinks green tea every morning",
        "The user lives in Oslo",
        "The user's dog is called Rex",
        "The user works as a nurse at night",
        "The user is allergic to peanuts",
        "The user plays the violin",
    ]
    for i, fact in enumerate(facts):
        for store in (ours, theirs):
            store.put(("memories", "u1"), f"f{i}", {"text": fact, "i": i})
    for query, wanted in [
        ("what does the user like to drink?", "f0"),
        ("which city is home?", "f1"),
        ("name of the pet", "f2"),
        ("food the user must avoid", "f4"),
    ]:
        got = ours.search(("memories",), query=query, limit=3)
        _same(got, theirs.search(("memories",), query=query, limit=3), query)
        assert got[0].key == wanted, (query, [i.key for i in got])
    got = ours.search(("memories",), query="pet", filter={"i": {"$gte": 3}}, limit=1)
    assert got[0].key != "f2" and got[0].value["i"] >= 3


def _vector_keys(config: RedisAgentConfig, name: str = "default") -> list[bytes]:
    pattern = config.keys.agent_store(name, "v:").replace("{", "[{]").replace("}", "[}]")
    return sorted(config.get_client().scan_iter(match=pattern + "*"))


def test_updates_and_deletes_drop_vectors_the_item_no_longer_has(config: RedisAgentConfig) -> None:
    store = RedisStore(config, index=_index(bag_of_words, ["texts[*]"]))
    store.put(("a",), "k", {"texts": ["tea", "coffee", "oslo"]})
    assert len(_vector_keys(config)) == 3
    store.put(("a",), "k", {"texts": ["fjord"]})
    assert len(_vector_keys(config)) == 1
    assert store.search(("a",), query="coffee")[0].score == pytest.approx(
        float(np.dot(*map(np.asarray, bag_of_words(["coffee", "fjord"]))))
        / float(np.prod([np.linalg.norm(v) for v in bag_of_words(["coffee", "fjord"])])),
        abs=1e-5,
    )
    store.put(("a",), "k", {"texts": ["tea"]}, index=False)
    assert _vector_keys(config) == []
    [found] = store.search(("a",), query="tea")
    assert found.score is None  # kept, unscored, as LangGraph does for unindexed items
    store.put(("a",), "k", {"texts": ["tea", "oslo"]})
    # a store opened without index= still drops the vectors of what it overwrites
    RedisStore(config).put(("a",), "k", {"texts": ["coffee"]})
    assert _vector_keys(config) == []
    store.put(("a",), "k", {"texts": ["tea", "oslo"]})
    store.delete(("a",), "k")
    assert _vector_keys(config) == []
    assert store.search(("a",), query="tea") == []


def test_vectors_share_the_items_ttl_and_refresh(config: RedisAgentConfig) -> None:
    client = config.get_client()
    index = _index(bag_of_words, ["text"])
    store = RedisStore(config, index=index, ttl={"default_ttl": 10, "refresh_on_read": True})
    store.put(("t",), "k", {"text": "green tea"})
    [vkey] = _vector_keys(config)
    assert 590_000 < client.pttl(vkey) <= 600_000
    client.pexpire(vkey, 5_000)
    assert [i.key for i in store.search(("t",), query="tea", refresh_ttl=False)] == ["k"]
    assert client.pttl(vkey) <= 5_000
    store.search(("t",), query="tea")
    assert client.pttl(vkey) > 590_000
    store.put(("t",), "brief", {"text": "green tea"}, ttl=0.0005)  # 30 ms
    time.sleep(0.1)
    assert [i.key for i in store.search(("t",), query="green tea")] == ["k"]
    assert len(_vector_keys(config)) == 1  # the expired item's vector expired with it


def test_async_store_with_an_async_embed_function(config: RedisAgentConfig) -> None:
    async def aembed(texts: list[str]) -> list[list[float]]:
        await asyncio.sleep(0)
        return bag_of_words(texts)

    index = _index(aembed, ["text", "tags[*]"])
    theirs = InMemoryStore(index=_index(bag_of_words, ["text", "tags[*]"]))
    _fill(theirs)

    async def run() -> list[list[SearchItem]]:
        ours = AsyncRedisStore(config, index=index)
        for ns, key, value, index_ in CORPUS:
            await ours.aput(ns, key, value, index=index_)
        return [await _asearch(ours, case) for case in QUERIES]

    for case, got in zip(QUERIES, asyncio.run(run()), strict=True):
        _same(got, _search(theirs, case), case)


def test_bad_index_settings_name_the_fix(config: RedisAgentConfig) -> None:
    with pytest.raises(ConfigError, match="unknown index keys"):
        RedisStore(config, index={"dims": 3, "embed": bag_of_words, "field": ["x"]})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(ConfigError, match="dims"):
        RedisStore(config, index={"dims": 0, "embed": bag_of_words})
    with pytest.raises(ConfigError, match="embed"):
        RedisStore(config, index={"dims": 3})
    wrong = RedisStore(config, index={"dims": 8, "embed": bag_of_words, "fields": ["text"]})
    with pytest.raises(ConfigError, match="dims=8"):
        wrong.put(("a",), "k", {"text": "tea"})
    assert wrong.get(("a",), "k") is None  # nothing written
    RedisStore(config, name="s", index=_index(bag_of_words, ["text"])).put(
        ("a",), "k", {"text": "x"}
    )
    other = RedisStore(config, name="s", index={"dims": 8, "embed": bag_of_words})
    with pytest.raises(SchemaMismatchError, match="32-d"):
        other.search(("a",), query="tea")


def test_an_index_lost_behind_the_store_is_made_again(config: RedisAgentConfig) -> None:
    index = _index(bag_of_words, ["text"])
    store = RedisStore(config, index=index)
    store.put(("a",), "k", {"text": "green tea"})
    assert [i.key for i in store.search(("a",), query="tea")] == ["k"]
    assert RedisStore(config, index=index).items.lifecycle.drop()  # e.g. Redis restarted empty
    store.search(("a",), query="tea")  # no error: the index is created again
    # FT.CREATE indexes the stored vectors in the background: wait for it, not for a time
    for _ in range(100):
        if [i.key for i in store.search(("a",), query="tea")] == ["k"]:
            break
        time.sleep(0.05)
    assert [i.key for i in store.search(("a",), query="tea")] == ["k"]
    assert RedisStore(config, index=index).items.lifecycle.drop()

    async def run() -> list[SearchItem]:
        return await store.asearch(("a",), query="tea")

    asyncio.run(run())  # the async path makes it again too
    assert store.items.lifecycle is not None and store.items.lifecycle.ready


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_lost_index_is_rebuilt_before_a_search_answers_from_it(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """A search that finds the index dropped (documents kept) waits until the index made
    again has indexed the stored vectors (capped: then RedisUnavailableError), through
    the search layer's one rebuild; it answered from part of them (an empty page)."""
    store = RedisStore(config, index=_index(bag_of_words, ["text"]))
    store.put(("a",), "k", {"text": "green tea"})
    client = config.get_client()
    # (the run before left 50,000 keys for its cleanup to delete: the table rehashes)
    [vector_key] = keys_matching(client, store.items.vector_prefix + b"*")
    other = {**client.hgetall(vector_key), F_PREFIXES.encode(): b"elsewhere"}
    pipe = client.pipeline(transaction=False)
    for i in range(50_000):  # FT.CREATE takes these in over many event-loop turns
        pipe.hset(store.items.vector_prefix + b"copy%d" % i, mapping=other)
    pipe.execute()

    def search() -> list[str]:
        if mode == "sync":
            return [i.key for i in store.search(("a",), query="tea")]
        return [i.key for i in asyncio.run(store.asearch(("a",), query="tea"))]

    assert store.items.lifecycle is not None
    index_name = store.items.lifecycle.name
    client.execute_command("FT.DROPINDEX", index_name)  # behind the store's back
    monkeypatch.setattr(lifecycle, "REBUILD_WAIT", 0.0)
    with pytest.raises(RedisUnavailableError, match="being rebuilt"):
        search()
    try:  # the next search waits for it too (done by now, or still not): never from part
        assert search() == ["k"]
    except RedisUnavailableError as exc:
        assert "being rebuilt" in str(exc)
    client.execute_command("FT.DROPINDEX", index_name)
    monkeypatch.setattr(lifecycle, "REBUILD_WAIT", 30.0)
    assert search() == ["k"]
    # a store object new to it (another process) makes it and waits too
    client.execute_command("FT.DROPINDEX", index_name)
    monkeypatch.setattr(lifecycle, "REBUILD_WAIT", 0.0)
    store = RedisStore(config, index=_index(bag_of_words, ["text"]))
    with pytest.raises(RedisUnavailableError, match="being rebuilt"):
        search()
    monkeypatch.setattr(lifecycle, "REBUILD_WAIT", 30.0)
    assert search() == ["k"]


@pytest.mark.cluster
def test_without_the_query_engine_only_embedding_puts_and_queries_refuse(
    cluster_config: RedisAgentConfig,
) -> None:
    # the local cluster's nodes load no modules: plain Redis
    store = RedisStore(cluster_config, index=_index(bag_of_words, ["text"]))
    with pytest.raises(CapabilityError, match="Query Engine"):
        store.put(("a",), "k", {"text": "tea"})
    assert store.get(("a",), "k") is None  # refused before anything was written
    store.put(("a",), "k", {"text": "tea"}, index=False)
    with pytest.raises(CapabilityError, match="Query Engine"):
        store.search(("a",), query="tea")
    assert [i.key for i in store.search(("a",), filter={"text": "tea"})] == ["k"]
    assert store.list_namespaces() == [("a",)]


async def test_a_page_past_the_servers_maximum_is_a_config_error(
    config: RedisAgentConfig,
) -> None:
    store = RedisStore(config, index={"dims": DIMS, "embed": bag_of_words, "fields": ["text"]})
    store.put(("u",), "k", {"text": "green tea"})
    # the KNN asked for offset + limit (or twice that with a filter) vectors: past the
    # server's 1,000,000 it raised redis-py's bare ResponseError ("LIMIT exceeds maximum")
    for page in (
        {"limit": 2_000_000},
        {"offset": 1_000_000},
        {"limit": 600_000, "offset": 500_000},
    ):
        with pytest.raises(ConfigError, match="at most 1,000,000 items"):
            store.search(("u",), query="tea", **page)
        with pytest.raises(ConfigError, match="at most 1,000,000 items"):
            await store.asearch(("u",), query="tea", **page)
    found = store.search(("u",), query="tea", limit=600_000, filter={"text": "green tea"})
    assert [i.key for i in found] == ["k"]  # twice the page with a filter: capped, served
    assert [i.key for i in store.search(("u",), query="tea", limit=1_000_000)] == ["k"]
    # without query= the store reads its own index (ZRANGEBYLEX, a chunk at a time): no
    # server maximum, so the same pages are served, not refused
    pages: Any = [({"limit": 2_000_000}, ["k"]), ({"limit": 600_000, "offset": 500_000}, [])]
    for page, want in pages:
        for got in (store.search(("u",), **page), await store.asearch(("u",), **page)):
            assert [i.key for i in got] == want
        listed = store.list_namespaces(**page)
        assert listed == await store.alist_namespaces(**page) == [("u",)] * len(want)


async def test_pages_past_the_scored_items_go_on_through_the_unscored_ones(
    config: RedisAgentConfig,
) -> None:
    # items without vectors follow the scored ones; LangGraph's InMemoryStore (which the
    # store copied) starts them from the first whatever the offset: page 3 repeated page
    # 2 and x2..x5 were never listed
    store = RedisStore(config, index={"dims": DIMS, "embed": bag_of_words, "fields": ["text"]})
    store.put(("u",), "v1", {"text": "green tea"})
    store.put(("u",), "v2", {"text": "black coffee"})
    for i in range(6):
        store.put(("u",), f"x{i}", {"note": f"no text {i}"})
    store.put(("u",), "y", {"text": "not indexed"}, index=False)
    want = ["v1", "v2", "x0", "x1", "x2", "x3", "x4", "x5", "y"]
    for limit in (1, 2, 3, 4):
        pages = [
            [i.key for i in store.search(("u",), query="tea", limit=limit, offset=o)]
            for o in range(0, 10, limit)
        ]
        assert [k for page in pages for k in page] == want, limit
        apage = await store.asearch(("u",), query="tea", limit=limit, offset=3)
        assert [i.key for i in apage] == want[3 : 3 + limit]
    filtered = store.search(("u",), query="tea", filter={"note": "no text 4"}, offset=0)
    assert [i.key for i in filtered] == ["x4"]
    assert store.search(("u",), query="tea", filter={"note": "no text 4"}, offset=1) == []


def test_a_semantic_page_refreshes_the_ttl_of_what_it_returns_only(
    config: RedisAgentConfig,
) -> None:
    # the unscored tail was read by a listing that refreshed everything it read: the
    # scored items of earlier pages (and, paged on, the skipped unscored ones) too
    client = config.get_client()
    store = RedisStore(
        config,
        index={"dims": DIMS, "embed": bag_of_words, "fields": ["text"]},
        ttl={"default_ttl": 10, "refresh_on_read": True},
    )
    store.put(("u",), "v1", {"text": "green tea"})
    store.put(("u",), "v2", {"text": "black coffee"})
    for i in range(4):
        store.put(("u",), f"x{i}", {"note": str(i)})
    keys = {k.split(b"\x1f")[-1]: k for k in client.scan_iter(match=f"{config.namespace}:st:*i:*")}

    def refreshed_by(offset: int, limit: int) -> tuple[list[str], list[str]]:
        for key in keys.values():
            client.pexpire(key, 5_000)
        page = store.search(("u",), query="tea", limit=limit, offset=offset)
        found = sorted(k.decode() for k, key in keys.items() if client.pttl(key) > 590_000)
        return [i.key for i in page], found

    assert refreshed_by(2, 1) == (["x0"], ["x0"])  # v1 and v2 were refreshed too
    assert refreshed_by(3, 2) == (["x1", "x2"], ["x1", "x2"])
    assert refreshed_by(1, 2) == (["v2", "x0"], ["v2", "x0"])
