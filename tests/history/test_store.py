"""The core session store on a real Redis: appends, reads, TTL, index, deletes."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time

import pytest
import redis
from redis.cluster import key_slot

from redis_agent_core.config import MAX_TTL, RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.history import SessionStore
from redis_agent_core.server import EmbeddedRedis


def payloads(*values: int) -> list[bytes]:
    return [b'{"n":%d}' % v for v in values]


def test_append_read_last_range(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    assert store.read("s") == []
    assert store.append("s", payloads(0, 1, 2)) == 3
    assert store.append("s", payloads(3)) == 4
    assert store.read("s") == payloads(0, 1, 2, 3)
    assert store.last("s", 2) == payloads(2, 3)
    assert store.last("s", 10) == payloads(0, 1, 2, 3)
    assert store.last("s", 0) == []
    assert store.read("s", 1, 2) == payloads(1, 2)
    assert store.count("s") == 4


def test_append_refreshes_ttl_on_every_key_and_trims(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    store = SessionStore(config, ttl=100, max_messages=3)
    store.append("s", payloads(0, 1))
    store.take_oldest("s", 1, archive=True)  # creates the archive list
    keys = config.keys
    for key in (keys.history_messages("s"), keys.history_meta("s"), keys.history_archive("s")):
        redis_client.expire(key, 5)
    assert store.append("s", payloads(2, 3, 4)) == 3  # trimmed to max_messages
    assert store.read("s") == payloads(2, 3, 4)
    for key in (keys.history_messages("s"), keys.history_meta("s"), keys.history_archive("s")):
        assert 95 < redis_client.ttl(key) <= 100, key  # sliding expiry refreshed them all
    assert store.read("s", status="archived") == payloads(0)


def test_no_ttl_means_keys_persist(config: RedisAgentConfig, redis_client: redis.Redis) -> None:
    SessionStore(config, ttl=None).append("s", payloads(1))
    assert redis_client.ttl(config.keys.history_messages("s")) == -1


def test_default_ttl_comes_from_config(config: RedisAgentConfig) -> None:
    assert SessionStore(config.with_options(default_ttl=42)).ttl == 42
    assert SessionStore(config.with_options(default_ttl=42), ttl=None).ttl is None


def test_session_keys_share_one_slot(config: RedisAgentConfig) -> None:
    k = config.keys
    for session in ("plain", "with{brace}", "}{", "ünï:cödé"):
        slots = {
            key_slot(key.encode())
            for key in (
                k.history_messages(session),
                k.history_meta(session),
                k.history_archive(session),
            )
        }
        assert len(slots) == 1, session


def test_metadata_and_info(config: RedisAgentConfig) -> None:
    store = SessionStore(config, ttl=500)
    assert store.info("s") is None
    store.update_metadata("s", {"user_id": "u1", "prefs": {"lang": "fr", "tone": ["brief"]}})
    first = store.info("s")
    assert first is not None and first.message_count == 0
    time.sleep(0.01)
    store.append("s", payloads(1, 2), metadata={"turns": 1})
    store.update_metadata("s", {"prefs": {"lang": "de"}}, remove=["user_id"])
    info = store.info("s")
    assert info is not None
    assert info.metadata == {"prefs": {"lang": "de"}, "turns": 1}
    assert info.created_at == first.created_at
    assert info.updated_at > first.updated_at
    assert abs(info.created_at - time.time()) < 60
    assert info.message_count == 2 and info.archived_count == 0
    assert info.ttl is not None and 490 < info.ttl <= 500


def test_bad_input_writes_nothing(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    store.append("s", payloads(1), metadata={"a": 1})
    with pytest.raises(ConfigError, match="payload 1"):
        store.append("s", [b"{}", {"not": "bytes"}])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="not JSON-serialisable"):
        store.append("s", payloads(2), metadata={"a": object()})
    with pytest.raises(ConfigError, match="session_id"):
        store.append("", payloads(2))
    # orjson would store NaN / inf as null: a silent wrong value
    for bad in (float("nan"), float("inf"), {"x": [1.0, float("-inf")]}):
        with pytest.raises(ConfigError, match="JSON cannot store"):
            store.update_metadata("s", {"ok": None, "b": bad})
    # and a datetime, date or time would read back as an ISO str
    for when in (datetime.datetime(2024, 1, 1), datetime.date(2024, 1, 1), datetime.time(1)):
        with pytest.raises(ConfigError, match=r"isoformat\(\)"):
            store.update_metadata("s", {"when": when})
    assert store.read("s") == payloads(1)
    info = store.info("s")
    assert info is not None and info.metadata == {"a": 1}


def test_bad_read_and_delete_arguments_are_typed_errors(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    store.append("s", payloads(0, 1, 2), metadata={"a": 1})
    # once raw ResponseErrors (out of Redis's 64-bit range) or an AttributeError
    for bad in (2.5, "2", True, None):
        with pytest.raises(ConfigError, match="n must be an int"):
            store.last("s", bad)  # type: ignore[arg-type]
    for call in (
        lambda: store.delete_at("s", 1.0),  # type: ignore[arg-type]
        lambda: store.read("s", 0.5),  # type: ignore[arg-type]
        lambda: store.take_oldest("s", 1.5),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match="must be an int"):
            call()
    with pytest.raises(ConfigError, match="metadata must be a mapping"):
        store.update_metadata("s", ["x"])  # type: ignore[arg-type]
    for remove in ("ab", [1], [""]):
        with pytest.raises(ConfigError, match="remove"):
            store.update_metadata("s", remove=remove)  # type: ignore[arg-type]
    # indices and counts past 64 bits mean "more than there is": the same answer
    assert store.last("s", 10**30) == payloads(0, 1, 2)
    assert store.read("s", -(10**30), 10**30) == payloads(0, 1, 2)
    assert store.delete_at("s", 10**30) is None and store.delete_at("s", -(10**30)) is None
    assert store.take_oldest("s", 10**30, archive=True) == payloads(0, 1, 2)
    assert store.read("s", status="archived") == payloads(0, 1, 2)
    info = store.info("s")
    assert info is not None and info.metadata == {"a": 1}


async def test_bad_async_read_arguments_are_typed_errors(aconfig: RedisAgentConfig) -> None:
    store = SessionStore(aconfig)
    await store.aappend("s", payloads(0))
    with pytest.raises(ConfigError, match="n must be an int"):
        await store.alast("s", 2.5)  # type: ignore[arg-type]
    assert await store.alast("s", 10**30) == payloads(0)
    assert await store.adelete_at("s", 10**30) is None


def test_sessions_listed_by_activity_from_the_index(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    for name in ("a", "b", "c"):
        store.append(name, payloads(1))
        time.sleep(0.002)
    store.append("a", payloads(2))  # most recent activity
    assert store.sessions() == ["a", "c", "b"]
    assert store.sessions(newest_first=False) == ["b", "c", "a"]
    assert store.sessions(limit=2) == ["a", "c"]
    assert store.sessions(offset=1, limit=1) == ["c"]
    store.clear("c")
    assert store.sessions() == ["a", "b"]


def test_idle_sessions_drop_out_and_are_pruned(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    store = SessionStore(config, ttl=1)
    store.append("old", payloads(1))
    time.sleep(0.3)
    store.append("new", payloads(1))
    time.sleep(0.8)  # "old" idle for 1.1 s > ttl, "new" for 0.8 s
    assert store.sessions() == ["new"]
    assert redis_client.exists(config.keys.history_messages("old")) == 0  # Redis expired it
    index = config.keys.history_sessions()
    assert redis_client.zscore(index, "old") is None  # pruned, not only hidden
    assert redis_client.zscore(index, "new") is not None


@pytest.mark.parametrize("where", ["one node", pytest.param("cluster", marks=pytest.mark.cluster)])
def test_writers_whose_clocks_differ_share_one_session_index(
    request: pytest.FixtureRequest, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index was scored by each writer's clock and pruned by each writer's and
    lister's: a process 10 minutes behind wrote sessions the others pruned at once (under
    a TTL of 5 minutes), while Redis kept them. Now it is scored on the server's clock."""
    config = request.getfixturevalue("config" if where == "one node" else "cluster_config")
    store = SessionStore(config, ttl=300)
    real, real_ns = time.time, time.time_ns
    for name, shift in (("behind", -600), ("ahead", 600)):
        with monkeypatch.context() as clock:  # this process's clock, shifted
            clock.setattr(time, "time", lambda shift=shift: real() + shift)
            clock.setattr(time, "time_ns", lambda shift=shift: real_ns() + shift * 10**9)
            store.append(name, payloads(1))
            store.update_metadata(name, {"k": 1})  # the other writes index the session too
            store.take_oldest(name, 0)
    store.append("on time", payloads(1))
    assert sorted(store.sessions()) == ["ahead", "behind", "on time"]


def test_delete_at_keeps_order(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    store.append("s", payloads(0, 1, 2, 3, 4))
    assert store.delete_at("s", 1) == payloads(1)[0]
    assert store.read("s") == payloads(0, 2, 3, 4)
    assert store.delete_at("s", -1) == payloads(4)[0]
    assert store.delete_at("s", 99) is None
    assert store.read("s") == payloads(0, 2, 3)
    store.append("s", [b"{}", b"{}"])  # duplicates: only the one at the index goes
    assert store.delete_at("s", 3) == b"{}"
    assert store.read("s") == [*payloads(0, 2, 3), b"{}"]
    assert store.pop_last("s") == b"{}"
    assert store.pop_last("other") is None


def test_take_oldest_and_clear(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    store.append("s", payloads(0, 1, 2, 3, 4))
    assert store.take_oldest("s", 2, archive=True) == payloads(0, 1)
    assert store.take_oldest("s", 1) == payloads(2)  # dropped, not archived
    assert store.read("s") == payloads(3, 4)
    assert store.read("s", status="archived") == payloads(0, 1)
    assert store.read_all_statuses("s") == (payloads(0, 1), payloads(3, 4))
    assert store.clear("s", which="archived", return_messages=True) == (payloads(0, 1), [])
    assert store.read("s") == payloads(3, 4)
    assert store.clear("s", return_messages=True) == ([], payloads(3, 4))
    assert store.info("s") is None and store.sessions() == []


def test_concurrent_writers_lose_nothing_and_keep_order(config: RedisAgentConfig) -> None:
    store = SessionStore(config)
    writers, per_writer = 4, 50

    def write(w: int) -> None:
        for i in range(per_writer):
            store.append("s", [b'{"w":%d,"i":%d}' % (w, i)])

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import orjson

    items = [orjson.loads(p) for p in store.read("s")]
    assert len(items) == writers * per_writer
    for w in range(writers):
        assert [x["i"] for x in items if x["w"] == w] == list(range(per_writer))


async def test_async_api_matches_sync(aconfig: RedisAgentConfig) -> None:
    store = SessionStore(aconfig, ttl=60, max_messages=4)

    async def write(w: int) -> None:
        for i in range(10):
            await store.aappend(f"s{w}", payloads(i), metadata={"w": w})

    await asyncio.gather(*(write(w) for w in range(3)))
    assert await store.aread("s0") == payloads(6, 7, 8, 9)
    assert await store.alast("s1", 2) == payloads(8, 9)
    assert await store.acount("s2") == 4
    assert sorted(await store.asessions()) == ["s0", "s1", "s2"]
    info = await store.ainfo("s1")
    assert info is not None and info.metadata == {"w": 1}
    assert await store.adelete_at("s0", 0) == payloads(6)[0]
    assert await store.apop_last("s0") == payloads(9)[0]
    assert await store.atake_oldest("s0", 1, archive=True) == payloads(7)
    assert await store.aread_all_statuses("s0") == (payloads(7), payloads(8))
    assert await store.areplace("s0", payloads(1, 2)) == 2
    assert await store.aread("s0") == payloads(1, 2)
    await store.aupdate_metadata("s0", {"x": True})
    await store.aclear("s0")
    assert await store.ainfo("s0") is None
    assert "s0" not in await store.asessions()


def test_invalid_settings_fail_fast(config: RedisAgentConfig) -> None:
    with pytest.raises(ConfigError, match="ttl"):
        SessionStore(config, ttl=0)
    with pytest.raises(ConfigError, match="max_messages"):
        SessionStore(config, max_messages=0)
    with pytest.raises(ConfigError, match="recall is off"):
        SessionStore(config).relevant("s", "q")


@pytest.mark.parametrize("ttl", [10**20, 2**63 // 1000, MAX_TTL + 1])
def test_a_ttl_redis_cannot_expire_is_refused_before_any_write(
    config: RedisAgentConfig, redis_client: redis.Redis, ttl: int
) -> None:
    # these once wrote the message without a TTL, then raised a raw ResponseError
    with pytest.raises(ConfigError, match="at most"):
        SessionStore(config, ttl=ttl)
    with pytest.raises(ConfigError, match="at most"):
        SessionStore(config).ttl = ttl
    with pytest.raises(ConfigError, match="default_ttl"):
        config.with_options(default_ttl=ttl)
    assert not list(redis_client.scan_iter(f"{config.namespace}:*"))


def test_the_longest_ttl_expires_and_the_scripts_check_it_before_writing(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    store = SessionStore(config, ttl=MAX_TTL)
    store.append("s", payloads(0))
    store.update_metadata("s", {"x": 1})
    assert store.take_oldest("s", 1, archive=True) == payloads(0)
    assert redis_client.ttl(config.keys.history_messages("s")) == -2  # empty: gone
    assert MAX_TTL - 5 < redis_client.ttl(config.keys.history_archive("s")) <= MAX_TTL
    # every write script refuses a TTL EXPIRE would, before its first write
    store._ttl = 10**20  # past the setter's check: the scripts' own
    store._append_heads.clear()
    for write in (
        lambda: store.append("t", payloads(1)),
        lambda: store.replace("t", payloads(1)),
        lambda: store.take_oldest("s", 1, archive=True),
    ):
        with pytest.raises(redis.ResponseError, match="ttl out of range"):
            write()
    assert store.read("t") == [] and store.info("t") is None
    assert store.read("s", status="archived") == payloads(0)


def test_redis_down_raises_fast_and_leaves_no_partial_append(own_redis: EmbeddedRedis) -> None:
    config = RedisAgentConfig(url=own_redis.url, namespace="down", socket_timeout=1.0)
    store = SessionStore(config, ttl=600)
    store.append("s", payloads(0, 1))
    own_redis.stop()
    started = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="append to history failed"):
        store.append("s", payloads(2, 3))
    with pytest.raises(RedisUnavailableError):
        store.read("s")
    with pytest.raises(RedisUnavailableError):
        store.sessions()
    assert time.monotonic() - started < 10  # a clear error, not a hang
    config.close()
    own_redis.start()  # same AOF data dir, new socket
    again = RedisAgentConfig(url=own_redis.url, namespace="down")
    try:
        assert SessionStore(again).read("s") == payloads(0, 1)
    finally:
        again.close()


async def test_redis_down_async(own_redis: EmbeddedRedis) -> None:
    config = RedisAgentConfig(url=own_redis.url, namespace="down")
    store = SessionStore(config)
    await store.aappend("s", payloads(0))
    await config.aclose()
    own_redis.stop()
    with pytest.raises(RedisUnavailableError, match="read history failed"):
        await store.aread("s")
    await config.aclose()


@pytest.mark.cluster
def test_store_on_cluster(cluster_config: RedisAgentConfig) -> None:
    store = SessionStore(cluster_config, ttl=60, max_messages=5)
    names = [f"user-{i}" for i in range(12)]  # spread over the three nodes
    for name in names:
        store.append(name, payloads(0, 1, 2), metadata={"name": name})
        store.append(name, payloads(3, 4, 5))
    assert sorted(store.sessions()) == sorted(names)
    for name in names:
        assert store.read(name) == payloads(1, 2, 3, 4, 5)
        info = store.info(name)
        assert info is not None and info.metadata == {"name": name}
    assert store.delete_at(names[0], 0) == payloads(1)[0]
    assert store.take_oldest(names[0], 2, archive=True) == payloads(2, 3)
    assert store.read_all_statuses(names[0]) == (payloads(2, 3), payloads(4, 5))
    store.clear(names[1])
    assert names[1] not in store.sessions()


@pytest.mark.cluster
async def test_store_on_cluster_async(cluster_config: RedisAgentConfig) -> None:
    store = SessionStore(cluster_config, ttl=60)
    for i in range(6):
        await store.aappend(f"a{i}", payloads(i))
    assert sorted(await store.asessions()) == [f"a{i}" for i in range(6)]
    assert await store.aread("a3") == payloads(3)
    await store.aclear("a3")
    assert await store.ainfo("a3") is None
    await cluster_config.aclose()
