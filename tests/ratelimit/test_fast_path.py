"""The acquire fast path: a pre-packed EVALSHA sent through the shared
``redis_agent_core.fastpath`` lease (its own tests: tests/core/test_fastpath.py),
falling back to redis-py's ``execute_command`` on any trouble."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

import pytest
import redis

from redis_agent_core import fastpath
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget
from redis_agent_core.ratelimit import limiter as limiter_module
from tests.faults import FaultyRedis

Make = Callable[..., RateLimiter]


def test_packed_command_matches_redis_py_packing(make_limiter: Make) -> None:
    limiter = make_limiter(
        [RequestLimit(5, 1.0), TokenBudget.daily(100), TokenBudget.rolling_window(50, 60)],
        name="packed",
    )
    plan = limiter._plan("alice", "acme")
    conn = limiter.config.get_client().connection_pool.make_connection()
    for requests, tokens in ((1, 0), (3, 7), (0, 12)):
        keys, args = limiter_module.build_acquire(plan, "rid1", requests, tokens)
        expected = b"".join(
            conn.pack_command("EVALSHA", limiter_module.ACQUIRE.sha, len(keys), *keys, *args)
        )
        assert limiter_module.pack_acquire(plan, "rid1", requests, tokens) == expected


def test_acquire_uses_the_shared_lease(config: RedisAgentConfig) -> None:
    client = config.get_client()
    pool = client.connection_pool
    limiter = RateLimiter([RequestLimit(10, 1.0)], config=config, name="gc")
    assert isinstance(limiter._fast, fastpath.FastPath)
    for _ in range(3):
        limiter.try_acquire(user="u")
    lease = limiter._fast.lease(client)
    assert lease is not None and lease.count == 1 and len(lease.free) == 1
    assert len(pool._in_use_connections) == 1
    del limiter, lease
    gc.collect()
    assert len(pool._in_use_connections) == 0  # returned when the limiter is collected


def test_fast_path_survives_a_killed_connection(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(3, 60.0)], name="killed")
    assert limiter.try_acquire(user="u").allowed
    client = limiter.config.get_client()
    client.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    assert limiter.try_acquire(user="u").allowed  # dropped the dead one, went the slow way
    assert limiter.try_acquire(user="u").allowed
    refused = limiter.try_acquire(user="u")
    assert not refused.allowed and refused.remaining["req-user-3per1m"] == 0


def test_fast_path_reloads_a_flushed_script(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(2, 60.0), TokenBudget.daily(100)], name="flushed")
    assert limiter.try_acquire(user="u", tokens=10).allowed
    limiter.config.get_client().script_flush()
    d = limiter.try_acquire(user="u", tokens=10)
    assert d.allowed and d.remaining == {"req-user-2per1m": 0, "tok-user-fixed-100per1d": 80}
    refused = limiter.try_acquire(user="u", tokens=10)
    assert not refused.allowed and refused.remaining["tok-user-fixed-100per1d"] == 80


def test_threads_beyond_the_lease_cap_stay_exact(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(200, 60.0), TokenBudget.daily(10_000)], name="threads")
    admitted: list[int] = []
    barrier = threading.Barrier(12)

    def worker() -> None:
        barrier.wait()
        n = 0
        for _ in range(40):
            n += limiter.try_acquire(user="u", tokens=10).allowed
        admitted.append(n)

    threads = [threading.Thread(target=worker) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(admitted) == 200  # 480 attempts, exactly the limit admitted
    lease = limiter._fast.lease(limiter.config.get_client())
    assert lease is not None and lease.count <= fastpath.MAX_LEASED
    d = limiter.peek(user="u", tokens=0)
    assert d.remaining == {"req-user-200per1m": 0, "tok-user-fixed-10000per1d": 8_000}


def test_custom_clients_take_the_ordinary_path(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, single_connection_client=True)
    cfg = RedisAgentConfig(url=redis_url, client=client, namespace="rl-custom")
    limiter = RateLimiter([RequestLimit(1, 60.0)], config=cfg, name="custom")
    try:
        assert limiter.try_acquire(user="u").allowed
        assert limiter._fast.lease(client) is None
        assert not limiter.try_acquire(user="u").allowed
    finally:
        limiter.reset(user="u")
        client.close()


def test_a_decision_whose_reply_is_lost_raises_and_charges_once(
    faulty_redis: FaultyRedis,
) -> None:
    # another client keeps the server busy past the socket timeout: the acquire was sent
    # and runs later; sent again (the generic path, whose retries last until the server
    # is free), it would charge twice, the first charge settleable by no reservation
    config = faulty_redis.config("rl-busy", socket_timeout=0.3, retries=10)
    limits = [RequestLimit(10, 60.0, per="global"), TokenBudget.daily(1000, per="global")]
    limiter = RateLimiter(limits, config=config, name="busy")
    assert limiter.try_acquire(tokens=100).allowed
    with faulty_redis.busy(0.5), pytest.raises(RedisUnavailableError, match="timed out"):
        limiter.try_acquire(tokens=100)
    left = {"req-global-10per1m": 8, "tok-global-fixed-1000per1d": 800}
    assert limiter.peek(requests=0, tokens=0).remaining == left  # charged once
    assert limiter.try_acquire(tokens=100).allowed  # the same limiter works again
    config.close()
