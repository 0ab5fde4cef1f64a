"""Edge cases of conversation state: odd session ids, paging, big batches, faults."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import redis
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_redis_agent import RedisChatMessageHistory
from llamaindex_redis_agent import RedisAsyncChatStore, RedisChatStore
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import (
    ConfigError,
    DataCorruptionError,
    RedisUnavailableError,
    ZeroVectorError,
)
from redis_agent_core.history import SessionStore
from tests.conftest import skip_unless

ODD_IDS = ["user:{42}", "Ünï cödé 🚀", "a,b", "*?[x]", "tab\there", "-1", "a b|c"]
WORDS = ["lisbon", "tyres", "tart", "report"]


def keyword_embedder() -> CallableEmbedder:
    """A cheap deterministic embedder: one axis per known word (no model to load)."""

    def embed(texts: list[str]) -> list[list[float]]:
        rows = []
        for text in texts:
            row = np.full(len(WORDS) + 1, 0.01, dtype=np.float32)
            for i, word in enumerate(WORDS):
                if word in text.lower():
                    row[i] = 1.0
            rows.append(row.tolist())
        return rows

    return CallableEmbedder(embed, name="keywords", dims=len(WORDS) + 1)


def test_odd_session_ids_round_trip_and_are_listed_exactly(config: RedisAgentConfig) -> None:
    store = RedisChatStore(config)
    for key in ODD_IDS:
        store.add_message(key, ChatMessage(content=f"for {key}"))
    assert sorted(store.get_keys()) == sorted(ODD_IDS)
    for key in ODD_IDS:
        assert [m.content for m in store.get_messages(key)] == [f"for {key}"]
    # a LangChain history in the same namespace (its own session: formats differ)
    history = RedisChatMessageHistory("lc:Ünï cödé 🚀,*", config=config)
    history.add_message(HumanMessage("odd id"))
    assert [m.content for m in history.messages] == ["odd id"]
    assert "lc:Ünï cödé 🚀,*" in store.get_keys()


def test_session_listing_paging(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    for name in ("a", "b", "c"):
        store.append(name, [b"{}"])
        time.sleep(0.002)
    assert store.sessions(limit=0) == []  # not "everything"
    assert store.sessions(offset=5) == []
    with pytest.raises(ConfigError, match="offset"):
        store.sessions(offset=-1)
    with pytest.raises(ConfigError, match="limit"):
        store.sessions(limit=-2)


def test_batches_beyond_the_lua_stack_limit(config: RedisAgentConfig) -> None:
    store = SessionStore(config, max_messages=9_500)
    payloads = [b'{"i":%d}' % i for i in range(9_000)]  # pushed in chunks by the script
    assert store.append("s", payloads) == 9_000
    assert store.append("s", payloads[:1000]) == 9_500  # trimmed
    assert store.read("s")[:2] == payloads[500:502]
    assert len(store.take_oldest("s", 8_500, archive=True)) == 8_500
    assert store.count("s") == 1_000 and store.count("s", status="archived") == 8_500


def test_archiving_keeps_the_session_listed(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    # take_oldest refreshes the TTL: it must refresh the session's index entry too,
    # or listing would prune a live session.
    store = SessionStore(config, ttl=1)
    store.append("s", [b"1", b"2", b"3"])
    time.sleep(0.6)
    store.take_oldest("s", 1, archive=True)
    time.sleep(0.6)  # 1.2 s after the append, 0.6 s after the archive
    assert redis_client.exists(config.keys.history_messages("s")) == 1
    assert store.sessions() == ["s"]


def test_corrupt_message_in_last_n_names_an_index_that_deletes_it(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    history = RedisChatMessageHistory("s", config=config)
    history.add_messages([HumanMessage(str(i)) for i in range(6)])
    redis_client.lset(config.keys.history_messages("s"), 4, b"{broken")
    with pytest.raises(DataCorruptionError) as caught:
        history.last(3)
    index = int(str(caught.value).split("at index ")[1].split()[0])
    history.delete_message(index)  # the fix the message suggests
    assert [m.content for m in history.messages] == ["0", "1", "2", "3", "5"]

    store = RedisChatStore(config)
    store.set_messages("k", [ChatMessage(content=str(i)) for i in range(6)])
    redis_client.lset(config.keys.history_messages("k"), 4, b"{broken")
    with pytest.raises(DataCorruptionError) as caught:
        store.get_last_messages("k", 3)
    index = int(str(caught.value).split("at index ")[1].split()[0])
    store.delete_message("k", index)
    assert [m.content for m in store.get_messages("k")] == ["0", "1", "2", "3", "5"]


def test_recall_keeps_sessions_apart(config: RedisAgentConfig, capabilities: Capabilities) -> None:
    # Tag values are case-insensitive and split on commas by default: session ids
    # must not leak into each other's recall.
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    store = SessionStore(config, embedder=keyword_embedder())
    store.append("Alice", [b'"A"'], texts=["my trip to lisbon"])
    store.append("alice", [b'"a"'], texts=["new tyres"])
    store.append("x,y", [b'"xy"'], texts=["a lemon tart"])
    assert [h.payload for h in store.relevant("alice", "lisbon", k=5)] == [b'"a"']
    assert [h.payload for h in store.relevant("Alice", "tyres", k=5)] == [b'"A"']
    assert store.relevant("x", "tart", k=5) == []
    assert [h.payload for h in store.relevant("x,y", "tart", k=5)] == [b'"xy"']
    store.clear("x,y")
    assert store.relevant("x,y", "tart") == []
    assert len(store.relevant("Alice", "tyres")) == 1  # other sessions untouched
    # review 15: RediSearch loads a hit's fields from its key cut at a NUL, so the
    # messages of session "bob\x00" (ids round-trip control characters) were never recalled
    store.append("bob\x00", [b'"b"'], texts=["a lemon tart"])
    store.append("bob\x00%00", [b'"b2"'], texts=["a lemon tart"])
    assert [h.payload for h in store.relevant("bob\x00", "tart", k=5)] == [b'"b"']
    assert [h.payload for h in store.relevant("bob\x00%00", "tart", k=5)] == [b'"b2"']
    store.clear("bob\x00")
    assert (
        store.relevant("bob\x00", "tart") == [] and len(store.relevant("bob\x00%00", "tart")) == 1
    )


async def test_async_recall_does_not_block_the_loop_probing(
    aconfig: RedisAgentConfig, capabilities: Capabilities, monkeypatch: pytest.MonkeyPatch
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    from redis_agent_core.search import capabilities as caps_module

    calls: list[str] = []
    real_aprobe = caps_module.aprobe

    def sync_probe(client: object) -> Capabilities:
        calls.append("sync")
        raise AssertionError("the async path ran the blocking probe")

    async def async_probe(client: object) -> Capabilities:
        calls.append("async")
        return await real_aprobe(client)

    monkeypatch.setattr(caps_module, "_by_url", {})  # this process has not probed yet
    monkeypatch.setattr(caps_module, "probe", sync_probe)
    monkeypatch.setattr(caps_module, "aprobe", async_probe)
    store = SessionStore(aconfig, embedder=keyword_embedder())
    await store.aappend("s", [b'"t"'], texts=["tart"])
    assert [h.payload for h in await store.arelevant("s", "tart", k=1)] == [b'"t"']
    assert calls == ["async"]  # probed once, with the asyncio client


def test_adapters_raise_a_clear_error_when_redis_is_down() -> None:
    down = RedisAgentConfig(url="redis://127.0.0.1:1", namespace="down", retries=0)
    started = time.monotonic()
    history = RedisChatMessageHistory("s", config=down)
    with pytest.raises(RedisUnavailableError, match="append to history"):
        history.add_messages([HumanMessage("hi"), AIMessage("hello")])
    with pytest.raises(RedisUnavailableError, match="read history"):
        _ = history.messages
    store = RedisChatStore(down)
    with pytest.raises(RedisUnavailableError):
        store.get_keys()
    with pytest.raises(RedisUnavailableError):
        store.add_message("k", ChatMessage(content="hi"))

    async def go() -> None:
        with pytest.raises(RedisUnavailableError):
            await history.aget_messages()
        with pytest.raises(RedisUnavailableError):
            await RedisAsyncChatStore(down).add_messages("k", [ChatMessage(content="x")])
        await down.aclose()

    asyncio.run(go())
    down.close()
    assert time.monotonic() - started < 10


def test_changing_settings_after_build_applies_to_every_write(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    store = SessionStore(config, ttl=100, max_messages=10)
    store.append("s", [b"1"])  # caches the append call of this session
    store.ttl, store.max_messages = 500, 2
    store.append("s", [b"2", b"3"])
    assert store.read("s") == [b"2", b"3"]
    assert 400 < redis_client.ttl(config.keys.history_messages("s")) <= 500
    store.ttl = None
    store.append("s", [b"4"])
    assert redis_client.ttl(config.keys.history_messages("s")) > 400  # no refresh, kept
    with pytest.raises(ConfigError, match="ttl"):
        store.ttl = 0
    with pytest.raises(ConfigError, match="max_messages"):
        store.max_messages = -1


@pytest.mark.cluster
def test_archiving_on_cluster_refreshes_but_never_re_adds_the_index_entry(
    cluster_config: RedisAgentConfig,
) -> None:
    store = SessionStore(cluster_config, ttl=60)
    store.append("s", [b"1", b"2"])
    index = cluster_config.keys.history_sessions()
    client = cluster_config.get_client()
    before = client.zscore(index, "s")
    time.sleep(0.01)
    assert store.take_oldest("s", 1, archive=True) == [b"1"]
    assert client.zscore(index, "s") > before  # type: ignore[operator]
    store.clear("s")
    assert store.take_oldest("s", 1) == []
    assert store.sessions() == []  # ZADD XX: a deleted session stays out


@pytest.mark.cluster
async def test_a_lost_session_index_is_told_on_the_cluster(
    cluster_config: RedisAgentConfig,
) -> None:
    # the index and its marker share a slot (the marker's hash tag is the index's name);
    # the index update is a script of its own there (another slot than the session's)
    store = SessionStore(cluster_config, ttl=60)
    store.append("a", [b"1"])
    index = cluster_config.keys.history_sessions()
    marker = cluster_config.keys.history_sessions_marker()
    assert redis.cluster.key_slot(index.encode()) == redis.cluster.key_slot(marker.encode())
    client = cluster_config.get_client()
    client.delete(index)  # as eviction would
    await store.aappend("b", [b"1"])
    with pytest.raises(DataCorruptionError, match=r"rebuild_sessions\(\)"):
        store.sessions()
    assert await store.arebuild_sessions() == 1
    assert await store.asessions() == ["b", "a"]


async def test_a_page_back_from_the_end_names_an_index_that_deletes_it(
    aconfig: RedisAgentConfig,
) -> None:
    """``last(n, offset=k)`` / ``get_last_messages(key, n, offset=k)``: the ``n`` messages
    before the newest ``k``, oldest first, in one read; a corrupt one among them is named
    by the index that deletes it; a negative offset raises, naming the fix."""
    history = RedisChatMessageHistory("s", config=aconfig)
    await history.aadd_messages([HumanMessage(str(i)) for i in range(10)])
    assert [m.content for m in history.last(3, offset=2)] == ["5", "6", "7"]
    assert [m.content for m in await history.alast(3, offset=8)] == ["0", "1"]
    assert await history.alast(3, offset=10) == [] and history.last(0, offset=1) == []
    with pytest.raises(ConfigError, match=r"offset .* must be an int >= 0"):
        history.last(3, offset=-1)
    client = aconfig.get_async_client()
    await client.lset(aconfig.keys.history_messages("s"), 6, b"{broken")
    with pytest.raises(DataCorruptionError) as caught:
        await history.alast(3, offset=2)
    index = int(str(caught.value).split("at index ")[1].split()[0])
    await history.adelete_message(index)
    assert [m.content for m in history.last(3, offset=2)] == ["4", "5", "7"]

    store = RedisChatStore(aconfig)
    await store.aset_messages("k", [ChatMessage(content=str(i)) for i in range(10)])
    assert [m.content for m in store.get_last_messages("k", 3, offset=2)] == ["5", "6", "7"]
    got = await store.aget_last_messages("k", 3, offset=8)
    assert [m.content for m in got] == ["0", "1"]
    await client.lset(aconfig.keys.history_messages("k"), 1, b"{broken")
    with pytest.raises(DataCorruptionError) as caught:
        store.get_last_messages("k", 3, offset=7)
    index = int(str(caught.value).split("at index ")[1].split()[0])
    store.delete_message("k", index)
    assert [m.content for m in store.get_last_messages("k", 3, offset=6)] == ["0", "2", "3"]


def _zero_for_unknown(texts: list[str]) -> list[list[float]]:
    """Like a static-vocabulary model: zeros for a text of unknown words only."""
    return [[1.0, 0.2, 0.0] if "known" in t else [0.0, 0.0, 0.0] for t in texts]


async def test_recall_refuses_an_all_zero_embedding(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    # the recall index is cosine: a message embedded as zeros was stored and never
    # recalled, and a zero query found nothing, both silently (the server scores NaN)
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    store = SessionStore(config, embedder=CallableEmbedder(_zero_for_unknown, dims=3))
    store.append("s", [b'"k"'], texts=["known"])
    with pytest.raises(ZeroVectorError, match=r"message 1 of this append \('\?\?'\)"):
        store.append("s", [b'"a"', b'"b"'], texts=["known too", "??"])
    with pytest.raises(ZeroVectorError, match="message 0"):
        await store.aappend("s", [b'"b"'], texts=["??"])
    assert store.count("s") == 1  # nothing of the refused appends was stored
    store.append("s", [b'"b"'], texts=[None])  # the way out the error names
    assert store.count("s") == 2
    for relevant in (store.relevant, store.arelevant):
        with pytest.raises(ZeroVectorError, match="query's vector is all zeros"):
            result = relevant("s", "??")
            if asyncio.iscoroutine(result):
                await result
    assert [h.payload for h in store.relevant("s", "known")] == [b'"k"']
