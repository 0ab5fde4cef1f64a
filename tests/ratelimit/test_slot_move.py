"""A rate limit check while its keys' cluster slot moves between nodes (``redis-cli
--cluster reshard``). A limiter of several limits (a request limit and a token budget:
keys of one hash tag) meeting a new user declares keys that do not exist yet: Redis
answers ASK, then TRYAGAIN after ASKING, for the whole move. Such a refusal ran
nothing: the check waits for the move (as a history append does) instead of refusing
the call (fail_closed) or admitting it unmetered (fail_open) as if Redis were down."""

from __future__ import annotations

import pytest

from redis_agent_core import RateLimiter, RequestLimit, TokenBudget
from redis_agent_core.config import RedisAgentConfig
from redis_agent_service.cluster import LocalCluster
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster


async def test_a_new_users_check_while_its_slot_moves_waits_for_the_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    limiter = RateLimiter(
        [RequestLimit.per_minute(60), TokenBudget.daily(1000)], name="moving", config=cluster_config
    )
    first = limiter.try_acquire(user="old", tokens=5)
    assert first.allowed and first.reservation is not None
    key = first.reservation.plan.keys[0][0]
    client = cluster_config.get_client()
    move = SlotMove(redis_cluster, client.keyslot(key))  # type: ignore[union-attr]
    try:
        move.start(1000)  # every key of the slot carried over: the new user's are absent
        timer = move.finish_later(1.5)
        try:
            decision = limiter.try_acquire(user="new", tokens=5)
        finally:
            timer.join()
        assert decision.allowed and not decision.degraded
        move.start(1000)  # and back
        timer = move.finish_later(1.5)
        try:
            adecision = await limiter.atry_acquire(user="newer", tokens=5)
        finally:
            timer.join()
        assert adecision.allowed and not adecision.degraded
    finally:
        move.close()
    for user in ("new", "newer"):  # each charged once (a peek counts its own request)
        remaining = limiter.peek(user=user).remaining
        assert remaining == {"req-user-60per1m": 58, "tok-user-fixed-1000per1d": 995}
    await cluster_config.aclose()
