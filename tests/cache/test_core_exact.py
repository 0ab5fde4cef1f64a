"""Core exact cache and shared entry machinery, on a real Redis."""

from __future__ import annotations

import gc
import logging
import time

import pytest
import redis

from redis_agent_core.cache import CacheStats, ExactCache, make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError, ValueTooLargeError
from redis_agent_core.fastpath import FastPath
from redis_agent_core.server import EmbeddedRedis

A = make_scope({"class": "Chat", "model": "a", "temperature": 0})
B = make_scope({"class": "Chat", "model": "b", "temperature": 0})

MIB = 1024 * 1024


def test_make_scope_is_stable_and_sensitive() -> None:
    assert make_scope({"model": "a", "t": 0}) == make_scope({"t": 0, "model": "a"})
    assert make_scope({"model": "a", "t": 0}) != make_scope({"model": "a", "t": 0.5})
    with pytest.raises(ConfigError):
        make_scope({})


def test_miss_then_hit_counts_tokens(config: RedisAgentConfig) -> None:
    cache = ExactCache(config)
    assert cache.lookup("What is Redis?", A) is None
    assert cache.update("What is Redis?", A, '"an in-memory store"', usage={"total_tokens": 42})
    hit = cache.lookup("What is Redis?", A)
    assert hit is not None
    assert (hit.payload, hit.distance, hit.usage, hit.hits) == (
        '"an in-memory store"',
        0.0,
        {"total_tokens": 42},
        1,
    )
    assert cache.lookup("What is Redis?", A).hits == 2  # type: ignore[union-attr]
    assert cache.lookup("what is redis?", A) is None  # exact means exact
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.tokens_saved, stats.entries) == (2, 2, 84, 1)
    assert stats.hit_rate == 0.5


def test_two_models_one_prompt_keep_their_own_answers(config: RedisAgentConfig) -> None:
    cache = ExactCache(config)
    cache.update("Name a colour", A, "red")
    cache.update("Name a colour", B, "blue")
    assert cache.lookup("Name a colour", A).payload == "red"  # type: ignore[union-attr]
    assert cache.lookup("Name a colour", B).payload == "blue"  # type: ignore[union-attr]


def test_filters_partition_entries(config: RedisAgentConfig) -> None:
    cache = ExactCache(config)
    cache.update("q", A, "for acme", filters={"tenant": "acme"})
    assert cache.lookup("q", A, filters={"tenant": "acme"}).payload == "for acme"  # type: ignore[union-attr]
    assert cache.lookup("q", A, filters={"tenant": "globex"}) is None
    assert cache.lookup("q", A) is None


def test_per_entry_ttl_expires(config: RedisAgentConfig) -> None:
    cache = ExactCache(config, ttl=60)
    cache.update("short", A, "x", ttl=0.2)
    cache.update("long", A, "y")
    client = config.get_client()
    assert 0 < client.pttl(cache.entry_key(_digest("short", A))) <= 200
    assert 59_000 < client.pttl(cache.entry_key(_digest("long", A))) <= 60_000
    time.sleep(0.3)
    assert cache.lookup("short", A) is None
    assert cache.lookup("long", A).payload == "y"  # type: ignore[union-attr]
    assert cache.stats().entries == 1


def test_a_write_sweeps_expired_members_and_hit_counts(config: RedisAgentConfig) -> None:
    """An expired entry leaves its member and hit count behind until a write in its
    bucket sweeps them: a write without a TTL too (the sweep is skipped only while no
    member has an expiry)."""
    cache = ExactCache(config)
    cache.update("short", A, "x", ttl=0.2)
    assert cache.lookup("short", A) is not None  # counts a hit
    digest = _digest("short", A)
    bucket = digest[0]
    other = next(p for p in (f"p{i}" for i in range(1000)) if _digest(p, A)[0] == bucket)
    client = config.get_client()
    members, hits = cache._members[bucket], cache._hits[bucket]
    assert client.zscore(members, digest) is not None
    assert client.hget(hits, digest) == b"1"
    time.sleep(0.3)
    cache.update(other, A, "y")  # no TTL
    assert client.zscore(members, digest) is None
    assert client.hget(hits, digest) is None
    assert client.zscore(members, _digest(other, A)) == float("inf")
    assert cache.stats().entries == 1


def _digest(prompt: str, scope: str) -> str:
    from redis_agent_core.cache.entry import entry_digest

    return entry_digest(scope, prompt)


def test_payload_over_the_value_limit_is_refused_and_the_cache_stays_up(
    config: RedisAgentConfig,
) -> None:
    # a real 512 MB payload needs over 1 GB of memory: the limit is lowered to 1 MiB (the
    # least a server takes) instead, as for a server whose operator lowered it
    config = config.with_options(max_value_bytes=MIB)
    cache = ExactCache(config)
    cache.update("seed", A, "kept")
    assert cache.update("small", A, "é" * (MIB // 2))  # 1 MiB: at the limit
    with pytest.raises(ValueTooLargeError, match="1,048,578 bytes, over the 1,048,576"):
        cache.update("big", A, "é" * (MIB // 2 + 1))  # one more character, two more bytes
    assert cache.lookup("big", A) is None
    assert cache.lookup("seed", A).payload == "kept"  # type: ignore[union-attr]
    assert cache.update("after", A, "ok")


def test_bad_input_is_rejected_and_loses_nothing(config: RedisAgentConfig) -> None:
    cache = ExactCache(config)
    cache.update("p", A, "kept")
    with pytest.raises(ConfigError):
        cache.update("p", A, b"bytes payload")  # type: ignore[arg-type]
    # the one check of seconds (config.check_seconds): a huge int was a raw OverflowError
    for ttl in (-1, 0, float("nan"), float("inf"), 1e300, 10**400, True):
        rule = r"^ttl \(None: never expires\) must be a finite number of seconds > 0 and <="
        with pytest.raises(ConfigError, match=rule):
            cache.update("p", A, "new", ttl=ttl)
        with pytest.raises(ConfigError, match=rule):
            ExactCache(config, ttl=ttl)
    with pytest.raises(ConfigError):
        cache.update("p", "", "new")
    with pytest.raises(ConfigError):
        cache.lookup("p", A, filters={"tenant": ""})
    assert cache.lookup("p", A).payload == "kept"  # type: ignore[union-attr]


def test_clear_removes_only_this_cache(config: RedisAgentConfig) -> None:
    one, two = ExactCache(config, name="one"), ExactCache(config, name="two")
    for i in range(30):
        one.update(f"p{i}", A, "x", ttl=100)
        two.update(f"p{i}", A, "y")
    client = config.get_client()
    client.set(f"{config.namespace}:unrelated", "1")
    one.lookup("p1", A)
    assert one.clear() == 30
    assert one.stats() == CacheStats()
    assert one.lookup("p1", A) is None
    assert two.lookup("p1", A).payload == "y"  # type: ignore[union-attr]
    assert client.get(f"{config.namespace}:unrelated") == b"1"
    remaining = {k.decode() for k in client.scan_iter(match=f"{config.namespace}:cache:one:*")}
    # only the miss counter of the lookup after clear() is left
    assert all(":s:" in k for k in remaining), remaining


def test_stats_are_shared_between_processes_via_redis(config: RedisAgentConfig) -> None:
    writer = ExactCache(config)
    reader = ExactCache(RedisAgentConfig(url=config.url, namespace=config.namespace))
    writer.update("p", A, "x", usage={"input_tokens": 3, "output_tokens": 4})
    reader.lookup("p", A)
    assert writer.stats().tokens_saved == 7
    reader.config.close()


def test_live_entries_are_counted_on_the_servers_clock(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries are scored by expiry on the server's clock; stats() counted them on the
    reader's: a process 2 minutes ahead counted a live entry gone, one behind counted
    expired ones live."""
    cache = ExactCache(config)
    cache.update("p", A, "x", ttl=60)
    real = time.time
    for shift in (120, -120):
        with monkeypatch.context() as clock:
            clock.setattr(time, "time", lambda shift=shift: real() + shift)
            assert cache.stats().entries == len(cache) == 1


async def test_async_paths(aconfig: RedisAgentConfig) -> None:
    cache = ExactCache(aconfig)
    assert await cache.alookup("p", A) is None
    assert await cache.aupdate("p", A, "x", usage={"total_tokens": 5})
    hit = await cache.alookup("p", A)
    assert hit is not None and hit.payload == "x"
    assert (await cache.astats()).tokens_saved == 5
    assert await cache.aclear() == 1
    assert await cache.alookup("p", A) is None


@pytest.mark.cluster
def test_exact_cache_on_a_cluster(cluster_config: RedisAgentConfig) -> None:
    cache = ExactCache(cluster_config)
    for i in range(40):  # spread over the 16 bucket tags, hence over the nodes
        cache.update(f"p{i}", A, f"a{i}", usage={"total_tokens": 1}, ttl=30)
    assert all(cache.lookup(f"p{i}", A).payload == f"a{i}" for i in range(40))  # type: ignore[union-attr]
    stats = cache.stats()
    assert (stats.hits, stats.entries, stats.tokens_saved) == (40, 40, 40)
    assert cache.clear() == 40
    assert cache.lookup("p1", A) is None


@pytest.mark.cluster
async def test_drop_orphans_on_a_cluster(
    cluster_config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SCAN on every node; each bucket's batch is one script in its slot (batches of 2
    # here: full ones are sent during the scan, the rest after it)
    monkeypatch.setattr("redis_agent_core.cache.base.ORPHANS_BATCH", 2)
    cache = ExactCache(cluster_config)
    for i in range(40):
        cache.update(f"p{i}", A, f"a{i}")
    client = cluster_config.get_client()
    for b in "0123456789abcdef":  # every member set evicted (deleted as eviction would)
        client.delete(cluster_config.keys.cache_members(cache.name, b))
    assert cache.stats().entries == 0
    assert await cache.adrop_orphans() == 40
    assert cache.drop_orphans() == 0


def test_redis_down_degrades_to_misses_and_logs_once(
    own_redis: EmbeddedRedis, own_config: RedisAgentConfig, caplog: pytest.LogCaptureFixture
) -> None:
    cache = ExactCache(own_config, recheck_after=0.0)
    cache.update("p", A, "x")
    assert cache.lookup("p", A) is not None
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="redis_agent_core.cache"):
        started = time.monotonic()
        assert cache.lookup("p", A) is None
        assert cache.update("q", A, "y") is False
        assert cache.lookup("p", A) is None
        assert time.monotonic() - started < 3  # no hang
    warnings = [r for r in caplog.records if "exact cache 'llm'" in r.getMessage()]
    assert len(warnings) == 1  # throttled
    assert "Check that the server is running" in warnings[0].getMessage()
    assert cache.faults.failures == 3
    with pytest.raises(RedisUnavailableError):
        cache.stats()  # admin calls say what is wrong


def test_redis_down_skips_redis_during_recheck_interval(
    own_redis: EmbeddedRedis, own_config: RedisAgentConfig
) -> None:
    cache = ExactCache(own_config, recheck_after=30.0)
    own_redis.stop()
    assert cache.lookup("p", A) is None
    assert cache.lookup("p", A) is None
    assert cache.faults.failures == 1  # the second call did not touch the network


def test_redis_down_can_raise(own_redis: EmbeddedRedis, own_config: RedisAgentConfig) -> None:
    cache = ExactCache(own_config, on_error="raise")
    own_redis.stop()
    with pytest.raises(RedisUnavailableError, match="lookup"):
        cache.lookup("p", A)
    with pytest.raises(RedisUnavailableError):
        cache.update("p", A, "x")


def test_construction_does_no_io() -> None:
    cache = ExactCache(RedisAgentConfig(url="redis://127.0.0.1:1", retries=0))
    assert cache.name == "llm"
    with pytest.raises(ConfigError):
        ExactCache(RedisAgentConfig(url="redis://127.0.0.1:1"), on_error="ignore")  # type: ignore[arg-type]


def test_fast_path_recovers_from_script_flush_and_killed_connections(
    config: RedisAgentConfig,
) -> None:
    cache = ExactCache(config)
    cache.update("p", A, "line 1\nline 2", usage={"total_tokens": 3})
    hit = cache.lookup("p", A)
    assert hit is not None and (hit.payload, hit.usage, hit.hits) == (
        "line 1\nline 2",
        {"total_tokens": 3},
        1,
    )
    admin = config.get_client()
    admin.script_flush()  # NOSCRIPT: the generic path loads the script again
    assert cache.lookup("p", A).payload == "line 1\nline 2"  # type: ignore[union-attr]
    admin.client_kill_filter(_type="normal", skipme=True)  # drops the fast connection
    hit = cache.lookup("p", A)
    assert hit is not None and hit.hits == 3
    assert cache.lookup("absent", A) is None
    assert (cache.stats().hits, cache.stats().misses) == (3, 1)


def test_fast_path_with_decoded_responses_and_unicode(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    cfg = RedisAgentConfig(url=redis_url, namespace=namespace, client=client)
    try:
        cache = ExactCache(cfg, name="ünï")
        cache.update("¿qué?", A, "réponse ✓\n")
        assert cache.lookup("¿qué?", A).payload == "réponse ✓\n"  # type: ignore[union-attr]
        assert cache.clear() == 1
    finally:
        client.close()


def test_lookup_uses_the_shared_lease_and_close_returns_it(config: RedisAgentConfig) -> None:
    # the fast path itself is tested in tests/core/test_fastpath.py
    client = config.get_client()
    pool = client.connection_pool
    cache = ExactCache(config)
    assert isinstance(cache._fast, FastPath)
    cache.update("p", A, "x")
    assert cache.lookup("p", A) is not None
    lease = cache._fast.lease(client)
    assert lease is not None and lease.count == 1 and len(pool._in_use_connections) == 1
    cache.close()
    assert lease.closed and len(pool._in_use_connections) == 0
    assert cache.lookup("p", A).hits == 2  # type: ignore[union-attr]
    assert len(pool._in_use_connections) == 1  # leased again
    del cache, lease
    gc.collect()
    assert len(pool._in_use_connections) == 0  # returned when the cache is collected


def test_ineligible_clients_take_the_generic_path(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url, single_connection_client=True)
    cfg = RedisAgentConfig(url=redis_url, namespace=namespace, client=client)
    try:
        cache = ExactCache(cfg)
        cache.update("p", A, "x")
        assert cache.lookup("p", A).hits == 1  # type: ignore[union-attr]
        assert cache._fast.lease(client) is None
        assert cache.clear() == 1
    finally:
        client.close()


def test_redis_refusing_writes_degrades_or_raises_with_the_cause(
    own_config: RedisAgentConfig,
) -> None:
    # maxmemory reached with noeviction (or a read-only replica): the cache must not
    # make the LLM call fail
    cache = ExactCache(own_config, recheck_after=0.0)
    strict = ExactCache(own_config, on_error="raise")
    cache.update("p", A, "x")
    admin = own_config.get_client()
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    try:
        hit = cache.lookup("p", A)  # the stored entry is still served (its hit uncounted)
        assert hit is not None and hit.payload == "x"
        assert cache.update("q", A, "y") is False  # refused, nothing written
        with pytest.raises(RedisUnavailableError, match="maxmemory"):
            strict.lookup("p", A)
    finally:
        admin.config_set("maxmemory", "0")
    assert cache.lookup("p", A).payload == "x"  # type: ignore[union-attr]
    assert cache.lookup("q", A) is None


def test_repeated_failures_back_off(own_redis: EmbeddedRedis, own_config: RedisAgentConfig) -> None:
    # a hung (not refused) server costs a timeout per probe: probe less and less often
    cache = ExactCache(own_config, recheck_after=1.0)
    faults = cache.faults
    own_redis.stop()
    delays = []
    for _ in range(7):
        faults._down_until = 0.0  # as if the recheck interval had passed
        assert cache.lookup("p", A) is None
        delays.append(round(faults._down_until - time.monotonic()))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    faults.ok()  # a success resets the interval
    faults._down_until = 0.0
    assert cache.lookup("p", A) is None
    assert round(faults._down_until - time.monotonic()) == 1
