"""The rate limiter under refused writes: fail_open admits, fail_closed raises typed."""

from __future__ import annotations

import asyncio
import time

import pytest

from redis_agent_core.cli import main
from redis_agent_core.errors import RedisWriteRefusedError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget
from tests.faults import FaultyRedis, ReplyCutter


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


async def test_a_cancelled_acquire_gives_back_what_it_charged(faulty_redis: FaultyRedis) -> None:
    """An ``atry_acquire`` cancelled (``asyncio.wait_for``, a client gone) after Redis ran
    the script: its caller never gets the Reservation to settle, so the limiter reads the
    reply and refunds the request and the token estimate itself (they stayed charged
    until the window passed: a daily budget for the rest of the day)."""
    proxy = ReplyCutter(faulty_redis.port)
    config = proxy.config("cancel")
    limiter = RateLimiter(
        [RequestLimit(10, 3600), TokenBudget.rolling_window(1000, 3600)], config=config
    )
    full = {"req-user-10per1h": 10, "tok-user-roll-1000per1h": 1000}
    try:
        assert (await limiter.apeek(user="u", requests=0)).remaining == full
        proxy.reply_delay = 0.4  # the script runs at once; its reply comes 0.4 s later
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(limiter.atry_acquire(user="u", tokens=300), 0.2)
        proxy.reply_delay = 0.0
        assert await _remaining_becomes(limiter, full)  # refunded once its reply came
        decision = await limiter.atry_acquire(user="u", tokens=300)  # the same object
        assert decision.allowed
        assert decision.remaining == {"req-user-10per1h": 9, "tok-user-roll-1000per1h": 700}
    finally:
        await config.aclose()
        proxy.close()


async def _remaining_becomes(limiter: RateLimiter, expected: dict[str, int]) -> bool:
    deadline = time.monotonic() + 5
    while (await limiter.apeek(user="u", requests=0)).remaining != expected:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_a_cancelled_settle_still_applies(faulty_redis: FaultyRedis) -> None:
    """An ``asettle`` cancelled while Redis is busy (its caller's request ended) still
    applies: settling is idempotent and nobody is left to retry it (before, the dropped
    connection took the settle with it, and the estimate stayed charged)."""
    config = faulty_redis.config("settle", socket_timeout=5)
    limiter = RateLimiter([TokenBudget.rolling_window(1000, 3600)], config=config)
    try:
        decision = await limiter.atry_acquire(user="u", tokens=300)
        assert decision.remaining == {"tok-user-roll-1000per1h": 700}
        with faulty_redis.busy(0.5):  # the settle waits behind another client's script
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(limiter.asettle(decision.reservation, 0), 0.1)
        assert await _remaining_becomes(limiter, {"tok-user-roll-1000per1h": 1000})
    finally:
        await config.aclose()
