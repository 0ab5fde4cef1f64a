"""A session's metadata hash evicted while its messages stay (an evicting
``maxmemory-policy``): its times are unknown, and ``info()`` says so (None), where it
read 0.0, a session of 1970, and the next message dated the session from then on. Its
sequence numbers restart above the old ones: they restarted at 0, and the next messages'
recall entries replaced the first messages' (recall lost them with no error)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from langchain_redis_agent import RedisChatMessageHistory
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import DataCorruptionError
from redis_agent_core.history import SessionStore
from redis_agent_core.server import EmbeddedRedis
from tests.conftest import skip_unless
from tests.faults import evict

_AXES = {"alpha": 0, "beta": 1, "gamma": 2, "delta": 3}


def _axis(text: str) -> list[float]:
    return [1.0 if i == _AXES[text] else 0.0 for i in range(4)]


@pytest.fixture
def own_config(own_redis: EmbeddedRedis) -> Iterator[RedisAgentConfig]:
    cfg = RedisAgentConfig(url=own_redis.url, namespace="ev")
    yield cfg
    cfg.close()


def _evict_meta(store: SessionStore, client: redis.Redis, session: str) -> None:
    """Evict a session's meta hash; the other keys keep their TTLs."""
    ttls = {key: client.pttl(key) for key in client.scan_iter()}
    for key, ttl in ttls.items():  # meta must be the one volatile key while it is evicted
        if ttl > 0:
            client.persist(key)
    meta = store.config.keys.history_meta(session)
    evict(client, meta)
    for key, ttl in ttls.items():
        if ttl > 0 and key.decode() != meta:
            client.pexpire(key, ttl)


def test_info_says_unknown_after_the_meta_hash_is_evicted(own_config: RedisAgentConfig) -> None:
    store = SessionStore(own_config, ttl=500)
    client = own_config.get_client()
    store.append("s", [b"1", b"2"], metadata={"user": "u1"})
    _evict_meta(store, client, "s")
    info = store.info("s")
    assert info is not None and info.message_count == 2 and info.metadata == {}
    assert info.created_at is None and info.updated_at is None  # before: 0.0 (1970)
    assert info.ttl is not None and 490 < info.ttl <= 500  # before: None, "never expires"
    time.sleep(0.01)
    store.append("s", [b"3"])  # the plain append's script
    info = store.info("s")
    assert info is not None and info.message_count == 3
    assert info.created_at is None  # before: this message's time, a later session
    assert info.updated_at is not None and abs(info.updated_at - time.time()) < 60
    # a new session is stamped as ever
    store.append("n", [b"1"])
    fresh = store.info("n")
    assert fresh is not None and fresh.created_at is not None
    assert fresh.created_at == fresh.updated_at


def test_other_writes_leave_created_at_unknown(own_config: RedisAgentConfig) -> None:
    store = SessionStore(own_config, ttl=500)
    client = own_config.get_client()
    for name in ("meta", "archived", "replaced"):
        store.append(name, [b"1", b"2"])
    store.take_oldest("archived", 2, archive=True)  # only the archive holds messages
    for name in ("meta", "archived", "replaced"):
        _evict_meta(store, client, name)
    store.update_metadata("meta", {"k": 1})
    store.append("archived", [b"3"])
    store.replace("replaced", [b"4"])
    for name in ("meta", "archived", "replaced"):
        info = store.info(name)
        assert info is not None and info.created_at is None, name  # before: now
        assert info.updated_at is not None, name


async def test_async_info_and_the_adapters_say_unknown(own_config: RedisAgentConfig) -> None:
    store = SessionStore(own_config, ttl=500)
    client = own_config.get_client()
    await store.aappend("s", [b"1"])
    _evict_meta(store, client, "s")
    info = await store.ainfo("s")
    assert info is not None and info.created_at is None and info.updated_at is None
    assert info.ttl is not None and info.ttl > 490
    await store.aappend("s", [b"2"])  # the async append's fast path
    info = await store.ainfo("s")
    assert info is not None and info.created_at is None and info.updated_at is not None
    history = RedisChatMessageHistory("lc", config=own_config)
    history.add_user_message("hi")
    _evict_meta(history.store, client, "lc")
    seen = history.info()
    assert seen is not None and seen.created_at is None and seen.message_count == 1


@pytest.mark.parametrize("write", ["append", "aappend", "replace"])
async def test_recall_keeps_the_old_messages(
    own_config: RedisAgentConfig, capabilities: Capabilities, write: str
) -> None:
    skip_unless(capabilities.search, "semantic recall needs RediSearch")
    embedder = CallableEmbedder(lambda texts: [_axis(t) for t in texts], name="axes", dims=4)
    store = SessionStore(own_config, embedder=embedder)
    store.append("s", [b"alpha", b"beta"], texts=["alpha", "beta"])
    _evict_meta(store, own_config.get_client(), "s")
    if write == "append":
        store.append("s", [b"gamma"], texts=["gamma"])
    elif write == "aappend":
        await store.aappend("s", [b"gamma"], texts=["gamma"])
    else:
        store.replace("s", [b"gamma"], texts=["gamma"])  # recall keeps replaced messages
    (alpha,) = store.relevant("s", "alpha", 1)
    assert alpha.payload == b"alpha" and alpha.distance < 1e-6  # before: gamma, in its place
    (gamma,) = store.relevant("s", "gamma", 1)
    assert gamma.payload == b"gamma" and gamma.seq > 1  # numbered after the old ones
    store.append("s", [b"delta"], texts=["delta"])
    (delta,) = store.relevant("s", "delta", 1)
    assert delta.payload == b"delta" and delta.seq == gamma.seq + 1


def _evict_key(client: redis.Redis, key: str) -> None:
    """Evict ``key`` alone; the other keys keep their TTLs."""
    ttls = {k: client.pttl(k) for k in client.scan_iter()}
    for k, ttl in ttls.items():
        if ttl > 0:
            client.persist(k)
    evict(client, key)
    for k, ttl in ttls.items():
        if ttl > 0 and k.decode() != key:
            client.pexpire(k, ttl)


@pytest.mark.parametrize("ttl", [500, None])
async def test_an_evicted_session_index_is_rebuilt_from_the_sessions_keys(
    own_config: RedisAgentConfig, ttl: int | None
) -> None:
    # the index is one key: evicted, sessions() hid every session not written since,
    # with no error, and nothing put them back
    store = SessionStore(own_config, ttl=ttl)
    client = own_config.get_client()
    for name in ("a", "b{x}:y", "c"):
        store.append(name, [b"1"], metadata={"n": name})
        await asyncio.sleep(0.02)
    store.take_oldest("c", 1, archive=True)  # only its archive and meta are left
    _evict_key(client, own_config.keys.history_sessions())
    # before: sessions() answered [] here, then ["d"] after the next write, with no error
    with pytest.raises(DataCorruptionError, match=r"rebuild_sessions\(\)"):
        store.sessions()
    store.append("d", [b"1"])  # a write recreates the index: still known as lost
    with pytest.raises(DataCorruptionError, match=r"rebuild_sessions\(\)"):
        await store.asessions(newest_first=False)
    with pytest.raises(DataCorruptionError, match="evicted"):
        SessionStore(own_config, ttl=ttl).sessions(limit=1)  # any store of the namespace
    assert store.rebuild_sessions() == 3
    assert store.sessions() == ["d", "c", "b{x}:y", "a"]  # by last activity, as before
    assert await store.arebuild_sessions() == 0  # nothing left to add
    info = store.info("b{x}:y")
    assert info is not None and info.metadata == {"n": "b{x}:y"} and info.message_count == 1
    if ttl:  # scored as the TTL says: pruned when the keys expire, not before
        score = client.zscore(own_config.keys.history_sessions(), "a")
        now = client.time()
        assert abs(now[0] * 1000 + now[1] // 1000 - score) < 1000


@pytest.mark.parametrize("ttl", [60, None])
async def test_sessions_pages_stay_right_with_the_index_whole_marker(
    own_config: RedisAgentConfig, ttl: int | None
) -> None:
    # the index holds one more member ('' at +inf) telling it is whole: never listed,
    # never counted in a page, never pruned, kept when every session is deleted
    store = SessionStore(own_config, ttl=ttl)
    assert store.sessions() == [] and await store.asessions() == []
    for name in ("a", "b", "c"):
        store.append(name, [b"1"])
        await asyncio.sleep(0.01)
    assert store.sessions() == ["c", "b", "a"]
    assert store.sessions(newest_first=False) == ["a", "b", "c"]
    assert store.sessions(offset=1, limit=1) == ["b"]
    assert store.sessions(offset=2, limit=5, newest_first=False) == ["c"]
    assert await store.asessions(offset=3) == []
    for name in ("a", "b", "c"):
        store.clear(name)
    assert store.sessions() == []  # not "lost": the index stayed, holding only ''
    store.append("d", [b"1"])
    assert store.sessions() == ["d"]


async def test_an_index_written_before_the_marker_is_taken_as_whole(
    own_config: RedisAgentConfig,
) -> None:
    # an index from before this version (no '' member, no marker): an upgrade lists it
    client = own_config.get_client()
    store = SessionStore(own_config)
    store.append("a", [b"1"])
    client.zrem(own_config.keys.history_sessions(), "")
    client.delete(own_config.keys.history_sessions_marker())
    assert store.sessions() == ["a"]
    assert client.zscore(own_config.keys.history_sessions(), "") == float("inf")
    _evict_key(client, own_config.keys.history_sessions())
    with pytest.raises(DataCorruptionError):
        await store.asessions()
    assert await store.arebuild_sessions() == 1
    assert store.sessions() == ["a"]
