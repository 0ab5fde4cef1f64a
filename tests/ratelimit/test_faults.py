"""The rate limiter under refused writes: fail_open admits, fail_closed raises typed."""

from __future__ import annotations

import pytest

from redis_agent_core.cli import main
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


def test_an_evicting_memory_policy_is_warned_of_never_advised(
    faulty_redis: FaultyRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    """A policy that evicts deletes the limiter's counts (they carry a TTL, so volatile-*
    policies take them first) and it admits past its limit with no error. Nothing in a
    call can see that, so doctor names the policy, and the full server's refusal no
    longer tells the operator to switch to allkeys-lru (which it used to)."""
    config = faulty_redis.config()
    limiter = RateLimiter([RequestLimit(1, 3600)], config=config, on_unavailable="fail_closed")
    faulty_redis.fill_memory()
    with pytest.raises(RedisWriteRefusedError, match="Keep noeviction") as refused:
        limiter.try_acquire(user="u")
    assert "allkeys-lru" not in str(refused.value)
    faulty_redis.free_memory()
    assert main(["doctor", "--url", faulty_redis.url]) == 0
    captured = capsys.readouterr()
    assert "memory: maxmemory 0 (no limit), maxmemory-policy noeviction" in captured.out
    assert "evicts keys" not in captured.err
    config.get_client().config_set("maxmemory-policy", "volatile-ttl")
    assert main(["doctor", "--url", faulty_redis.url]) == 0
    assert "rate limits would admit calls past their limits" in capsys.readouterr().err
    config.close()
