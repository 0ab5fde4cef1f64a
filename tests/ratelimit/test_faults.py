"""The rate limiter under refused writes: fail_open admits, fail_closed raises typed."""

from __future__ import annotations

import pytest

from redis_agent_core.errors import RedisWriteRefusedError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit
from tests.faults import FaultyRedis


@pytest.mark.parametrize("fault", ["oom", "readonly"])
def test_refused_write_fail_open_admits(faulty_redis: FaultyRedis, fault: str) -> None:
    config = faulty_redis.config()
    limiter = RateLimiter([RequestLimit(1)], config=config, on_unavailable="fail_open")
    assert limiter.try_acquire(user="u").allowed
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    decision = limiter.try_acquire(user="u")
    assert decision.allowed and decision.degraded
    if fault == "oom":
        faulty_redis.free_memory()
    else:
        faulty_redis.make_primary()
    assert not limiter.try_acquire(user="u").allowed  # metered again: the slot is taken
    config.close()


@pytest.mark.parametrize("fault", ["oom", "readonly"])
async def test_refused_write_fail_closed_raises_typed(
    faulty_redis: FaultyRedis, fault: str
) -> None:
    config = faulty_redis.config()
    limiter = RateLimiter([RequestLimit(5)], config=config, on_unavailable="fail_closed")
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    with pytest.raises(RedisWriteRefusedError, match="fail_closed"):
        limiter.try_acquire(user="u")
    with pytest.raises(RedisWriteRefusedError):
        await limiter.atry_acquire(user="u")
    await config.aclose()
    config.close()
