"""A session's metadata hash evicted while its messages stay (an evicting
``maxmemory-policy``): its times are unknown, and ``info()`` says so (None), where it
read 0.0, a session of 1970, and the next message dated the session from then on."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from langchain_redis_agent import RedisChatMessageHistory
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.history import SessionStore
from redis_agent_core.server import EmbeddedRedis
from tests.faults import evict


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
