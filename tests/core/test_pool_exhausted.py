"""More calls at once than the client's pool holds (redis-py 8 keeps at most 100
connections by default): a PoolExhaustedError saying nothing was sent and how to size the
pool, never "check that the server is running"; the degrading caches miss that call
only, the rate limiter never admits it unmetered, and everything works once a
connection is free again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from redis_agent_core import (
    ExactCache,
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


async def test_async_calls_past_the_pool(small: RedisAgentConfig) -> None:
    store = SessionStore(config=small)
    await store.aappend("s", [b"m"])
    await store.aclose()  # returns its leased connection to the pool
    pool = small.get_async_client().connection_pool
    held = [await pool.get_connection() for _ in range(pool.max_connections)]
    with pytest.raises(PoolExhaustedError, match="max_connections=2"):
        await store.aread("s")
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
