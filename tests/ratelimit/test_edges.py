"""Edge cases of the core limiter: huge costs, odd ids, async twins of every method."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget

Make = Callable[..., RateLimiter]


def test_huge_costs_fail_with_a_config_error_not_a_script_error(make_limiter: Make) -> None:
    fixed, rolling = TokenBudget.daily(100), TokenBudget.rolling_window(100, 60)
    limiter = make_limiter([RequestLimit(10**9, 60.0), fixed, rolling])
    decision = limiter.try_acquire(user="u", tokens=10)
    # a token count beyond what any budget can hold is refused for good, not an error
    never = limiter.try_acquire(user="u", tokens=10**13)
    assert not never.allowed and math.isinf(never.retry_after)
    # past Redis' integer range the script would fail half-way: refused up front
    with pytest.raises(ConfigError, match="tokens"):
        limiter.try_acquire(user="u", tokens=10**20)
    with pytest.raises(ConfigError, match="tokens"):
        limiter.settle(decision.reservation, 10**20)
    # one log entry per request: a call may not push millions of entries at once
    with pytest.raises(ConfigError, match=r"requests .*TokenBudget"):
        limiter.try_acquire(user="u", requests=10**7)
    with pytest.raises(ConfigError, match="requests"):
        limiter.peek(user="u", requests=10**7)
    # nothing was charged by the refused calls
    status = limiter.peek(user="u", requests=0)
    assert status.remaining == {
        "req-user-1000000000per1m": 10**9 - 1,
        fixed.name: 90,
        rolling.name: 90,
    }
    assert limiter.settle(decision.reservation, 40)
    assert limiter.peek(user="u", requests=0).remaining[rolling.name] == 60


def test_a_budget_settled_far_past_its_limit_still_decides(make_limiter: Make) -> None:
    """Calls admitted while a budget had room may settle past it, 10^13 each: the script
    wrote a usage of 10^14 or more as '1e+14' (Lua's tostring), and every later decision
    of that user raised a bare ValueError parsing it, until the window passed (a day)."""
    fixed, rolling = TokenBudget.daily(10**13), TokenBudget.rolling_window(10**13, 3600)
    for budget in (fixed, rolling):
        limiter = make_limiter([budget], name=f"past-{budget.rolling}")
        admitted = [limiter.try_acquire(user="u") for _ in range(12)]
        assert all(d.allowed for d in admitted)
        for decision in admitted:
            assert limiter.settle(decision.reservation, 10**13)
        refused = limiter.try_acquire(user="u")
        assert not refused.allowed and refused.limit == budget.name
        assert refused.remaining == {budget.name: 0}
        assert limiter.peek(user="u", requests=0).remaining == {budget.name: 0}


@pytest.mark.parametrize(
    "user",
    ["ünïcødé 🙂", "a:b:c", "*", "{tag}", "%7B", "", "x" * 2000, "line\nbreak"],
)
def test_any_user_id_gets_its_own_bucket(make_limiter: Make, user: str) -> None:
    limiter = make_limiter([RequestLimit(1, 60.0), RequestLimit(5, 60.0, per="global")])
    assert limiter.try_acquire(user=user).allowed
    refused = limiter.try_acquire(user=user)
    assert not refused.allowed and refused.limit == "req-user-1per1m"
    # no other id (nor the anonymous bucket) shares its window
    for other in ("anonymous", "a", "{tag}x", "%257B"):
        if other != user:
            assert limiter.peek(user=other).allowed, other
    assert limiter.peek().allowed
    assert limiter.reset(user=user) == 2  # its own key and the global one


async def test_non_string_ids_are_refused(make_limiter: Make) -> None:
    """An unhashable id (a list, a dict: a framework's metadata passed on as is) raised a
    bare ``TypeError: unhashable type`` from the limiter's plan cache."""
    limiter = make_limiter([RequestLimit(1, 60.0)])
    with pytest.raises(ConfigError, match="user must be a str"):
        limiter.try_acquire(user=42)  # type: ignore[arg-type]
    for bad in (["alice"], {"id": "alice"}):
        with pytest.raises(ConfigError, match="user must be a str"):
            limiter.try_acquire(user=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="org must be a str"):
            await limiter.atry_acquire(org=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="user must be a str"):
            limiter.peek(user=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="org must be a str"):
            await limiter.areset(org=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "wait",
    [math.nan, math.inf, -1, True, "5", 10**400],
    ids=["nan", "inf", "negative", "bool", "str", "int-past-float"],
)
async def test_a_wait_cap_that_is_not_a_finite_number_is_refused(
    make_limiter: Make, wait: object
) -> None:
    # NaN compares false with everything: it used to turn the cap off (a blocking
    # acquire then waited out the whole window)
    with pytest.raises(ConfigError, match="max_wait must be a finite number"):
        make_limiter([RequestLimit(1, 60.0)], max_wait=wait)
    limiter = make_limiter([RequestLimit(1, 60.0)])
    with pytest.raises(ConfigError, match="max_wait must be a finite number"):
        limiter.acquire(user="u", max_wait=wait)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_wait must be a finite number"):
        await limiter.aacquire(user="u", max_wait=wait)  # type: ignore[arg-type]
    assert limiter.peek(user="u").allowed  # refused before anything was charged


async def test_async_peek_and_reset(make_limiter: Make, aconfig: RedisAgentConfig) -> None:
    limiter = make_limiter([RequestLimit(2, 60.0), TokenBudget.rolling_window(50, 60)])
    for _ in range(3):
        assert (await limiter.apeek(user="u")).allowed  # peeks consume nothing
    await limiter.atry_acquire(user="u", tokens=5)
    status = await limiter.apeek(user="u", requests=0)
    assert status.reservation is None
    assert status.remaining == {"req-user-2per1m": 1, "tok-user-roll-50per1m": 45}
    assert await limiter.areset(user="u") == 3
    assert (await limiter.apeek(user="u", requests=0)).remaining["req-user-2per1m"] == 2


async def test_async_peek_and_reset_when_redis_is_down(stopped_redis: RedisAgentConfig) -> None:
    limiter = RateLimiter([RequestLimit(5)], config=stopped_redis, on_unavailable="fail_open")
    assert (await limiter.atry_acquire(user="u")).degraded  # decisions follow the policy
    with pytest.raises(RedisUnavailableError):  # a peek or reset reports the fault
        await limiter.apeek(user="u")
    with pytest.raises(RedisUnavailableError):
        await limiter.areset(user="u")
