"""More calls at once than the client's pool holds (redis-py 8 keeps at most 100
connections by default): a PoolExhaustedError saying nothing was sent and how to size the
pool, never "check that the server is running"; the degrading caches miss that call
only, the rate limiter never admits it unmetered, and everything works once a
connection is free again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from redis_agent_core import (
    ExactCache,
    KVStore,
    PoolExhaustedError,
    RateLimiter,
    RedisAgentConfig,
    RequestLimit,
    SessionStore,
)


@pytest.fixture
def small(config: RedisAgentConfig) -> Iterator[RedisAgentConfig]:
    cfg = config.with_options(max_connections=2)
    yield cfg
    cfg.close()


@contextmanager
def all_taken(pool: Any) -> Iterator[None]:
    """Every connection of ``pool`` in use by others (as by concurrent calls)."""
    held = [pool.get_connection() for _ in range(pool.max_connections)]
    try:
        yield
    finally:
        for conn in held:
            pool.release(conn)


def test_the_error_says_nothing_was_sent_and_names_the_fix(small: RedisAgentConfig) -> None:
    store = SessionStore(config=small)
    with all_taken(small.get_client().connection_pool):
        with pytest.raises(PoolExhaustedError) as read:
            store.read("s")
        with pytest.raises(PoolExhaustedError) as append:  # a write sent at most once
            store.append("s", [b"m"])
    for error in (read.value, append.value):
        text = str(error)
        assert "max_connections=2" in text and "nothing was sent" in text
        assert "may or may not have been applied" not in text  # it was not sent
        assert "server is running" not in text
    assert store.read("s") == []  # the append never ran
    store.append("s", [b"m"])
    assert store.read("s") == [b"m"]


async def test_async_calls_past_the_pool_wait_for_a_connection(config: RedisAgentConfig) -> None:
    """left26: 3x max_connections coroutines at once (a gather over a list of prompts)
    failed past the pool with PoolExhaustedError (9 of 12 with a pool of 4): the asyncio
    pool now waits for a connection to come back, as a pool is expected to."""
    cfg = config.with_options(max_connections=4)
    store, kv = SessionStore(config=cfg), KVStore(cfg)
    await store.aappend("s", [b"m"])
    await kv.amset([("k", b"v")])
    client = cfg.get_async_client()

    async def one(i: int) -> object:
        if i % 3 == 0:
            return await store.aread("s")
        if i % 3 == 1:
            return await kv.amget(["k"])
        return await client.blpop(["nothing-here"], 0.05)  # holds its connection a while

    results = await asyncio.gather(*(one(i) for i in range(12)), return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert results[0] == [b"m"] and results[1] == [b"v"] and results[2] is None
    assert len(client.connection_pool._in_use_connections) <= 4  # never past the pool
    await store.aclose()
    await cfg.aclose()


async def test_async_calls_past_the_pool(small: RedisAgentConfig) -> None:
    small = small.with_options(socket_timeout=0.2)  # how long a call waits for one
    store = SessionStore(config=small)
    await store.aappend("s", [b"m"])
    await store.aclose()  # returns its leased connection to the pool
    pool = small.get_async_client().connection_pool
    held = [await pool.get_connection() for _ in range(pool.max_connections)]
    with pytest.raises(PoolExhaustedError, match="max_connections=2") as info:
        await store.aread("s")
    assert "none came back within 0.2 s (socket_timeout)" in str(info.value)
    for conn in held:
        await pool.release(conn)
    assert await store.aread("s") == [b"m"]
    await small.aclose()


def test_a_degrading_cache_misses_that_call_only(small: RedisAgentConfig) -> None:
    cache = ExactCache(small, on_error="degrade")
    cache.update("p", "s", "answer")
    cache.close()  # returns its leased connection to the pool
    with all_taken(small.get_client().connection_pool):
        assert cache.lookup("p", "s") is None
    # Redis is not skipped for a pause (it was never down): the next call is served
    hit = cache.lookup("p", "s")
    assert hit is not None and hit.payload == "answer"


def test_a_fail_open_limiter_never_admits_a_burst_unmetered(small: RedisAgentConfig) -> None:
    limiter = RateLimiter([RequestLimit(5, 60)], config=small, on_unavailable="fail_open")
    with all_taken(small.get_client().connection_pool):
        with pytest.raises(PoolExhaustedError):
            limiter.try_acquire(user="u")
    decision = limiter.try_acquire(user="u")
    assert decision.allowed and not decision.degraded
    assert decision.remaining == {"req-user-5per1m": 4}


async def test_a_given_blocking_pool_is_not_said_to_wait_socket_timeout(
    config: RedisAgentConfig,
) -> None:
    """review26: the pool of a client the app gives waits its own ``timeout`` (redis-py's
    20 s by default), not the config's ``socket_timeout``, which the message claimed."""
    import redis.asyncio as aredis

    assert config.url is not None
    pool = aredis.BlockingConnectionPool.from_url(config.url, max_connections=1, timeout=0.1)
    given = RedisAgentConfig(async_client=aredis.Redis(connection_pool=pool),
                             namespace=config.namespace, socket_timeout=7)  # fmt: skip
    store = SessionStore(config=given)
    held = await pool.get_connection()
    with pytest.raises(PoolExhaustedError) as info:
        await store.aread("s")
    assert "socket_timeout" not in str(info.value) and "7 s" not in str(info.value)
    assert "client you gave" in str(info.value)
    await pool.release(held)
    assert await store.aread("s") == []
    await pool.aclose()


def _count_condition(pool: Any) -> list[int]:
    """How many times ``pool``'s Condition is taken (a list of one, growing)."""
    taken = [0]
    acquire = pool._condition.acquire

    async def counted() -> bool:
        taken[0] += 1
        return await acquire()

    pool._condition.acquire = counted
    return taken


async def test_async_calls_with_a_connection_free_take_the_plain_pools_way(
    config: RedisAgentConfig,
) -> None:
    """left27: the waiting pool took its Condition, a timer on the event loop and its
    lock for every connection, and its Condition again for every release, though no call
    waited: a GET cost 1.1-1.5x redis-py's plain pool (benchmarks/results/async_pool.md).
    With a connection free and no call waiting, none of it is taken; past the pool the
    calls still wait and all succeed, never holding more than the pool."""
    cfg = config.with_options(max_connections=4)
    client = cfg.get_async_client()
    pool = client.connection_pool
    taken = _count_condition(pool)
    await client.set("k", b"v")
    for _ in range(20):
        assert await client.get("k") == b"v"
    assert await asyncio.gather(*(client.get("k") for _ in range(4))) == [b"v"] * 4
    async with client.pipeline(transaction=False) as pipe:
        assert await pipe.get("k").incr("n").execute() == [b"v", 1]
    assert taken == [0]
    results = await asyncio.gather(
        *(client.blpop([f"nothing-{i}"], 0.05) for i in range(12)), return_exceptions=True
    )
    assert results == [None] * 12 and taken[0] > 0  # the ones past the pool waited
    assert len(pool._in_use_connections) == 0 and len(pool._available_connections) <= 4
    assert await client.get("k") == b"v"
    await cfg.aclose()


async def test_a_call_that_comes_to_wait_while_a_connection_is_given_back_gets_it(
    config: RedisAgentConfig,
) -> None:
    """left27: a connection given back the plain pool's way (no call waiting when it
    started) while a call comes to wait: the call is woken, not left to its timeout."""
    cfg = config.with_options(max_connections=1, socket_timeout=30.0)  # waits 30 s
    pool = cfg.get_async_client().connection_pool
    conn = await pool.get_connection()
    await pool._lock.acquire()  # the release below stops at the pool's lock
    release = asyncio.ensure_future(pool.release(conn))
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(pool.get_connection())
    for _ in range(5):
        await asyncio.sleep(0)
    assert not waiter.done()  # it waits: the one connection is not back yet
    pool._lock.release()
    await release
    got = await asyncio.wait_for(waiter, 5)  # woken (a lost wake-up waits 30 s)
    assert got is conn
    await pool.release(got)
    await cfg.aclose()


async def test_calls_that_find_the_pools_lock_just_handed_on_wait_not_refuse(
    config: RedisAgentConfig,
) -> None:
    """review27: the fast path checked the pool's lock free and a connection free, then
    took the lock; a lock just released to a waiter that has not run yet reads as free,
    but taking it suspends behind that waiter. Two calls checked the one free connection
    there, the first took it and the second raised 'Too many connections' from the plain
    pool, though the blocking pool's calls wait for one (its timeout)."""
    cfg = config.with_options(max_connections=1)
    pool = cfg.get_async_client().connection_pool
    await pool._lock.acquire()  # held, as by a release disconnecting a connection

    async def other_holder() -> None:
        async with pool._lock:
            pass

    holder = asyncio.ensure_future(other_holder())
    await asyncio.sleep(0)  # it waits for the lock
    first = asyncio.ensure_future(pool.get_connection())
    second = asyncio.ensure_future(pool.get_connection())
    pool._lock.release()  # handed to the holder; both calls run before it does
    conn = await asyncio.wait_for(first, 5)
    await holder
    await asyncio.sleep(0)
    assert not second.done()  # it waits for the one connection
    await pool.release(conn)
    got = await asyncio.wait_for(second, 5)
    assert got is conn
    await pool.release(got)
    await cfg.aclose()
