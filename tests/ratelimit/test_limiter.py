"""Core rate limiter on a real Redis: exact sliding windows, token budgets,
composition, blocking, validation."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo

import pytest

from redis_agent_core import RateLimitExceeded as ExportedExceeded
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisAgentError
from redis_agent_core.ratelimit import (
    RateLimiter,
    RateLimitExceeded,
    RequestLimit,
    TokenBudget,
)

Make = Callable[..., RateLimiter]


def test_request_limit_admits_exactly_the_limit(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(3, 10.0)])
    decisions = [limiter.try_acquire(user="alice") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining["req-user-3per10s"] for d in decisions[:3]] == [2, 1, 0]
    refused = decisions[3]
    # the oldest admit leaves the 10 s window in just under 10 s
    assert 9.0 < refused.retry_after <= 10.0
    assert refused.limit == "req-user-3per10s"
    assert refused.key == limiter.config.keys.ratelimit("default", "req-user-3per10s", "alice")
    # another user has its own window
    assert limiter.try_acquire(user="bob").allowed


def test_window_slides_on_server_time(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(2, 0.25)])
    assert limiter.try_acquire(user="u").allowed
    assert limiter.try_acquire(user="u").allowed
    refused = limiter.try_acquire(user="u")
    assert not refused.allowed
    time.sleep(refused.retry_after + 0.01)
    assert limiter.try_acquire(user="u").allowed


def test_refusal_consumes_nothing_in_any_limit(make_limiter: Make) -> None:
    limiter = make_limiter(
        [
            RequestLimit(5, 60.0, per="user"),
            RequestLimit(2, 60.0, per="org"),
            TokenBudget.daily(1000, per="user"),
        ]
    )
    assert limiter.try_acquire(user="a", org="acme", tokens=100).allowed
    assert limiter.try_acquire(user="b", org="acme", tokens=100).allowed
    refused = limiter.try_acquire(user="a", org="acme", tokens=100)
    assert not refused.allowed and refused.limit == "req-org-2per1m"
    # user a's own request and token counters were not charged by the refusal
    status = limiter.peek(user="a", org="other", tokens=0)
    assert status.remaining["req-user-5per1m"] == 5 - 1 - 1  # peek counts itself
    assert status.remaining["tok-user-fixed-1000per1d"] == 900
    # a different org of the same user proceeds
    assert limiter.try_acquire(user="a", org="globex").allowed


def test_global_limit_spans_users(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(10, 60.0), RequestLimit(3, 60.0, per="global")])
    assert [limiter.try_acquire(user=u).allowed for u in "abcd"] == [True, True, True, False]
    assert limiter.try_acquire(user="e").limit == "req-global-3per1m"


@pytest.mark.parametrize("shard_by", ["none", "user", "org"])
def test_calls_without_a_user_share_a_bucket_no_user_id_names(
    make_limiter: Make, shard_by: str
) -> None:
    # review 17: a user whose id was "anonymous" shared (and could exhaust) the bucket
    # of every call made without a user, and was throttled by them
    limiter = make_limiter(
        [RequestLimit(1, 60.0), TokenBudget.daily(100), TokenBudget.rolling_window(100, 60.0)],
        shard_by=shard_by,
    )
    assert limiter.try_acquire(tokens=10).allowed
    assert not limiter.try_acquire(tokens=10).allowed  # leaving the id out escapes nothing
    for user in ("anonymous", "", "*", "%", "|", "%7C", "default|u", "a|u|b"):
        decision = limiter.try_acquire(user=user, tokens=10)
        assert decision.allowed, user
        assert set(decision.remaining.values()) == {0, 90}, user  # its own counters only
    assert limiter.reset() == 4  # the no-user keys: one per limit, a total beside the rolling


@pytest.mark.parametrize(
    ("first", "second"),
    [(("a|o", "org", "b"), ("a", "org", "o|b")), (("a|o|b", "none", None), ("a", "org", "b"))],
)
def test_limiter_names_and_orgs_never_share_a_tag(
    make_limiter: Make, first: tuple[str, str, str | None], second: tuple[str, str, str | None]
) -> None:
    # the tag joined the limiter's name and the org with '|', so two limiters (their
    # name, sharding, org) could make one tag and charge one user's counter together
    decisions = []
    for name, shard_by, org in (first, second):
        limiter = make_limiter([RequestLimit(1, 60.0)], name=name, shard_by=shard_by)
        decisions.append(limiter.try_acquire(user="u", org=org))
    assert [d.allowed for d in decisions] == [True, True]


def test_request_larger_than_limit_never_fits(make_limiter: Make) -> None:
    limiter = make_limiter([TokenBudget.daily(100)])
    decision = limiter.try_acquire(user="u", tokens=101)
    assert not decision.allowed and math.isinf(decision.retry_after)
    with pytest.raises(RateLimitExceeded, match="never be admitted"):
        limiter.acquire(user="u", tokens=101, max_wait=60)


def test_token_budget_reserve_then_settle(make_limiter: Make) -> None:
    limiter = make_limiter([TokenBudget.daily(1000)])
    first = limiter.try_acquire(user="u", tokens=400)
    second = limiter.try_acquire(user="u", tokens=400)
    assert first.allowed and second.allowed
    # reservations block a third estimate that would overspend
    assert not limiter.try_acquire(user="u", tokens=400).allowed
    assert limiter.settle(first.reservation, 100)  # refund 300
    assert limiter.settle(second.reservation, 450)  # charge 50 more
    assert limiter.peek(user="u").remaining["tok-user-fixed-1000per1d"] == 1000 - 550
    assert limiter.try_acquire(user="u", tokens=400).allowed


async def test_settling_something_that_is_not_a_reservation_is_refused(make_limiter: Make) -> None:
    # it raised AttributeError ('str' object has no attribute 'rid'); a reservation sent
    # through JSON (a list) did the same
    limiter = make_limiter([TokenBudget.daily(1000)])
    reservation = limiter.try_acquire(user="u", tokens=400).reservation
    for bad in ("x", 5, {"rid": "1"}, list(reservation or ())):
        with pytest.raises(ConfigError, match="Reservation"):
            limiter.settle(bad, 100)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="Reservation"):
            await limiter.asettle(bad, 100)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="Reservation"):
            limiter.settle_commands(bad, 100)  # type: ignore[arg-type]
    assert limiter.peek(user="u", requests=0).remaining["tok-user-fixed-1000per1d"] == 600


@pytest.mark.parametrize(
    "budget",
    [TokenBudget.daily(1000), TokenBudget.rolling_window(1000, 3600)],
    ids=["fixed", "rolling"],
)
async def test_a_retried_settle_is_applied_once(make_limiter: Make, budget: TokenBudget) -> None:
    # a settle retried after its reply was lost must not refund twice (that would
    # overspend the budget: 1500 tokens admitted in a budget of 1000)
    limiter = make_limiter([budget])
    a = limiter.try_acquire(user="u", tokens=500)
    b = limiter.try_acquire(user="u", tokens=500)
    assert limiter.settle(b.reservation, 500)
    assert limiter.settle(a.reservation, 0)
    assert limiter.settle(a.reservation, 0) is False
    assert await limiter.asettle(a.reservation, 0) is False
    assert limiter.peek(user="u").remaining[budget.name] == 500
    # other reservations still settle
    c = limiter.try_acquire(user="u", tokens=500)
    assert c.allowed and not limiter.try_acquire(user="u", tokens=1).allowed
    assert limiter.settle(c.reservation, 100)
    assert limiter.peek(user="u").remaining[budget.name] == 400


def test_fixed_window_settled_ids_live_and_die_with_their_window(make_limiter: Make) -> None:
    budget = TokenBudget(100, period=1.0, rolling=False)
    limiter = make_limiter([budget])
    client = limiter.config.get_client()

    def next_window() -> None:  # so that no step below straddles a window's end
        limiter.try_acquire(user="u", tokens=1)
        time.sleep(limiter.peek(user="u", tokens=100).retry_after + 0.02)

    next_window()
    first = limiter.try_acquire(user="u", tokens=50)
    assert limiter.settle(first.reservation, 10)
    key = limiter.config.keys.ratelimit("default", budget.name, "u")
    settled = limiter.config.keys.ratelimit_settled("default", budget.name, "u")
    key_ttl = client.pttl(key)  # read first: both count down meanwhile
    assert 0 < client.pttl(settled) <= key_ttl
    next_window()  # a new window: its settlements start from an empty record
    second = limiter.try_acquire(user="u", tokens=50)
    assert limiter.settle(second.reservation, 20)
    assert not limiter.settle(second.reservation, 20 - 1)
    assert set(client.hkeys(settled)) == {b"w", second.reservation.rid.encode()}
    assert limiter.peek(user="u").remaining[budget.name] == 100 - 20
    limiter.reset(user="u")
    assert not client.exists(settled)


def test_rolling_budget_settles_and_expires(make_limiter: Make) -> None:
    budget = TokenBudget.rolling_window(100, 0.4)
    limiter = make_limiter([budget])
    first = limiter.try_acquire(user="u", tokens=80)
    assert first.allowed
    refused = limiter.try_acquire(user="u", tokens=50)
    assert not refused.allowed and 0 < refused.retry_after <= 0.4
    assert limiter.settle(first.reservation, 30)
    assert limiter.try_acquire(user="u", tokens=50).allowed
    assert limiter.peek(user="u").remaining[budget.name] == 20
    time.sleep(0.45)
    assert limiter.peek(user="u").remaining[budget.name] == 100
    # the entry left the window: a late settlement is dropped, not charged again
    assert not limiter.settle(first.reservation, 90)
    assert limiter.peek(user="u").remaining[budget.name] == 100


def test_fixed_window_resets_and_drops_late_settlement(make_limiter: Make) -> None:
    budget = TokenBudget(100, period=0.5, rolling=False)
    limiter = make_limiter([budget])
    decision = limiter.try_acquire(user="u", tokens=100)
    assert decision.allowed
    refused = limiter.try_acquire(user="u", tokens=1)
    assert not refused.allowed and 0 < refused.retry_after <= 0.5
    time.sleep(refused.retry_after + 0.02)
    assert limiter.try_acquire(user="u", tokens=60).allowed
    # the first call's window is closed: its settlement is not applied to the new one
    assert not limiter.settle(decision.reservation, 0)
    assert limiter.peek(user="u").remaining[budget.name] == 40


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata", -5])
def test_daily_budget_resets_at_local_midnight(make_limiter: Make, tz: str | int) -> None:
    budget = TokenBudget.daily(10, tz=tz)
    limiter = make_limiter([budget])
    assert limiter.try_acquire(user="u", tokens=10).allowed
    refused = limiter.try_acquire(user="u", tokens=1)
    now = datetime.fromtimestamp(refused.server_time, timezone.utc).astimezone(budget._tzinfo)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert refused.retry_after == pytest.approx((midnight - now).total_seconds(), abs=0.01)


class _ChangingZone(tzinfo):
    """A zone springing forward one hour at ``change`` (UTC), like a DST change."""

    def __init__(self, before: timedelta, change: datetime) -> None:
        self.before, self.after, self.change = before, before + timedelta(hours=1), change

    def utcoffset(self, dt: datetime | None) -> timedelta:
        wall = dt.replace(tzinfo=None) if dt is not None else None
        if wall is not None and wall < (self.change + self.before).replace(tzinfo=None):
            return self.before
        return self.after

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def fromutc(self, dt: datetime) -> datetime:
        utc = dt.replace(tzinfo=timezone.utc)
        return dt + (self.before if utc < self.change else self.after)


@pytest.mark.parametrize("hours", [1, -1])
def test_a_daily_budget_ends_at_local_midnight_after_a_dst_change(
    make_limiter: Make, hours: int
) -> None:
    # the window's end was taken in the offset of its start: on the day of a change,
    # a refused call was told to retry an hour late (spring) or an hour early (autumn)
    now = datetime.now(timezone.utc)
    noon = timedelta(hours=12) - timedelta(hours=now.hour, minutes=now.minute)  # local ~12:00
    zone = _ChangingZone(noon, now + timedelta(hours=1))
    if hours < 0:  # falling back: an hour later before the change, as autumn does
        zone.before, zone.after = noon + timedelta(hours=1), noon
    budget = TokenBudget.daily(10, tz=zone)
    limiter = make_limiter([budget])
    assert limiter.try_acquire(user="u", tokens=10).allowed
    refused = limiter.try_acquire(user="u", tokens=1)
    server = datetime.fromtimestamp(refused.server_time, timezone.utc)
    local = server + zone.before
    midnight_wall = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    midnight = midnight_wall - zone.after  # in the offset after the change
    assert refused.retry_after == pytest.approx((midnight - server).total_seconds(), abs=1)


def test_blocking_acquire_waits_for_the_window(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(2, 0.3)])
    limiter.acquire(user="u")
    limiter.acquire(user="u")
    started = time.monotonic()
    decision = limiter.acquire(user="u", max_wait=2.0)
    assert decision.allowed
    assert time.monotonic() - started >= 0.2  # it waited for the oldest admit to leave


def test_blocking_acquire_raises_at_once_past_the_cap(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(1, 30.0)])
    limiter.acquire(user="u")
    started = time.monotonic()
    with pytest.raises(RateLimitExceeded) as info:
        limiter.acquire(user="u", max_wait=1.0)
    assert time.monotonic() - started < 1.0  # no pointless sleep before refusing
    error = info.value
    assert isinstance(error, ExportedExceeded) and isinstance(error, RedisAgentError)
    assert error.limit == "req-user-1per30s" and 29 < error.retry_after <= 30
    assert error.key.endswith(":req-user-1per30s:u")
    with pytest.raises(RateLimitExceeded):
        limiter.acquire(user="u", blocking=False)


def test_settle_can_refund_request_slots(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(1, 60.0), TokenBudget.daily(100)])
    decision = limiter.try_acquire(user="u", tokens=10)
    assert not limiter.try_acquire(user="u").allowed
    assert limiter.settle(decision.reservation, 0, refund_requests=True)
    assert limiter.try_acquire(user="u").allowed


def test_concurrent_reservations_never_overspend(make_limiter: Make) -> None:
    """20 threads reserve 100-token estimates at once against a 1,000-token budget,
    then use 120 each: reservations admit exactly what fits, and the overspend is the
    real usage beyond the estimates, no more."""
    budget = TokenBudget.daily(1000)
    limiter = make_limiter([budget])
    reservations = []
    lock = threading.Lock()
    barrier = threading.Barrier(20)

    def worker() -> None:
        barrier.wait()
        decision = limiter.try_acquire(user="u", tokens=100)
        barrier.wait()  # every reservation is outstanding before anyone settles
        if decision.allowed:
            with lock:
                reservations.append(decision.reservation)
            limiter.settle(decision.reservation, 120)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reservations) == 10  # estimates exactly fill the budget
    client = limiter.config.get_client()
    key = limiter.config.keys.ratelimit("default", budget.name, "u")
    window = str(reservations[0].windows[0])  # the hash holds one field per window
    assert client.hgetall(key) == {window.encode(): str(10 * 120).encode()}  # 200 over
    assert limiter.peek(user="u").remaining[budget.name] == 0
    assert not limiter.try_acquire(user="u", tokens=1).allowed


def test_peek_and_reset(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(2, 60.0), TokenBudget.rolling_window(50, 60)])
    for _ in range(3):
        assert limiter.peek(user="u").allowed
    limiter.try_acquire(user="u", tokens=5)
    assert limiter.reset(user="u") == 3
    assert limiter.peek(user="u").remaining["req-user-2per1m"] == 1


def test_user_ids_cannot_escape_their_key(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(1, 60.0)], shard_by="user")
    assert limiter.try_acquire(user="x}{evil").allowed
    keys = [k.decode() for k in limiter.config.get_client().keys(limiter.config.keys.pattern())]
    assert len(keys) == 1 and keys[0].count("{") == 1 and keys[0].count("}") == 1


async def test_async_paths(make_limiter: Make, aconfig: RedisAgentConfig) -> None:
    limiter = make_limiter([RequestLimit(2, 0.3), TokenBudget.daily(100)])
    first = await limiter.atry_acquire(user="u", tokens=60)
    assert first.allowed
    assert not (await limiter.atry_acquire(user="u", tokens=60)).allowed
    assert await limiter.asettle(first.reservation, 10)
    second = await limiter.aacquire(user="u", tokens=60)
    assert second.allowed
    started = time.monotonic()
    third = await limiter.aacquire(user="u", tokens=10, max_wait=2.0)
    assert third.allowed and time.monotonic() - started >= 0.2
    with pytest.raises(RateLimitExceeded):
        await limiter.aacquire(user="u", tokens=100, blocking=False)


def test_invalid_policies_say_how_to_fix(config: RedisAgentConfig) -> None:
    with pytest.raises(ConfigError, match="int in"):
        RequestLimit(0)
    with pytest.raises(ConfigError, match="period"):
        RequestLimit(5, period=-1)
    with pytest.raises(ConfigError, match="unknown time zone"):
        TokenBudget.daily(5, tz="Mars/Olympus")
    with pytest.raises(ConfigError, match="invalid name"):
        RequestLimit(5, name="has space")
    with pytest.raises(ConfigError, match="unique"):
        RateLimiter([RequestLimit(5), RequestLimit(5)], config=config)
    with pytest.raises(ConfigError, match="shard_by='none'"):
        RateLimiter([RequestLimit(5, per="global")], config=config, shard_by="org")
    with pytest.raises(ConfigError, match="fail_open"):
        RateLimiter([RequestLimit(5)], config=config, on_unavailable="maybe")  # type: ignore[arg-type]
    limiter = RateLimiter([RequestLimit(5)], config=config)
    with pytest.raises(ConfigError, match="tokens"):
        limiter.try_acquire(tokens=-1)


@pytest.mark.parametrize("period", [10**400, True, math.nan, math.inf, -1, 0, 0.0005, 367 * 86400])
def test_a_bad_period_is_refused_by_the_one_check_of_seconds(period: object) -> None:
    # a huge int was a raw OverflowError, and True was taken as a 1 s period
    rule = "period (1 ms to 366 days) must be a finite number of seconds >= 0.001 and <= 31622400"
    for kind, build in (
        ("RequestLimit", RequestLimit),
        ("TokenBudget", TokenBudget.rolling_window),
        ("TokenBudget", TokenBudget),
    ):
        with pytest.raises(ConfigError) as caught:
            build(5, period)  # type: ignore[operator]
        assert str(caught.value).startswith(f"{kind}: {rule}, got ")


def test_construction_does_no_io() -> None:
    dead = RedisAgentConfig(url="redis://127.0.0.1:1", retries=0)
    limiter = RateLimiter([RequestLimit(5)], config=dead)  # no server: must not fail
    assert "req-user-5per1m" in repr(limiter)


# -- the request log (a list trimmed to the window): remaining, retry-after, refunds --
def _log(limiter: RateLimiter, limit: RequestLimit, user: str) -> list[int]:
    key = limiter.config.keys.ratelimit("default", limit.name, user)
    return [int(x) for x in limiter.config.get_client().lrange(key, 0, -1)]


def test_remaining_is_exact_as_the_window_slides(make_limiter: Make) -> None:
    policy = RequestLimit(3, 0.4)
    limiter = make_limiter([policy])
    first = limiter.try_acquire(user="u")
    time.sleep(0.2)
    second = limiter.try_acquire(user="u")
    assert [first.remaining[policy.name], second.remaining[policy.name]] == [2, 1]
    # wait until the first admit has left the window, not the second
    time.sleep(max(0.0, first.server_time + 0.4 - time.time()) + 0.05)
    third = limiter.try_acquire(user="u")
    assert third.server_time - first.server_time >= 0.4
    assert third.server_time - second.server_time < 0.4
    assert third.remaining[policy.name] == 3 - 2  # the second admit and this one
    # the log holds exactly the admits inside the window, newest first
    assert _log(limiter, policy, "u") == [
        round(third.server_time * 1e6),
        round(second.server_time * 1e6),
    ]
    time.sleep(0.45)
    assert limiter.peek(user="u", requests=0).remaining[policy.name] == 3
    assert _log(limiter, policy, "u") == []  # the peek trimmed the stale entries


def test_retry_after_is_exact_to_the_microsecond(make_limiter: Make) -> None:
    policy = RequestLimit(3, 0.5)
    limiter = make_limiter([policy])
    a = limiter.try_acquire(user="u")
    time.sleep(0.05)
    b = limiter.try_acquire(user="u")
    refused = limiter.try_acquire(user="u", requests=2)  # 1 + 2 > 3: a must leave
    assert not refused.allowed and refused.remaining[policy.name] == 1
    assert refused.retry_after == pytest.approx(a.server_time + 0.5 - refused.server_time, abs=2e-6)
    refused = limiter.try_acquire(user="u", requests=3)  # both must leave
    assert refused.retry_after == pytest.approx(b.server_time + 0.5 - refused.server_time, abs=2e-6)
    time.sleep(refused.retry_after + 0.01)
    assert limiter.try_acquire(user="u", requests=3).allowed


def test_many_stale_entries_are_trimmed_in_one_call(make_limiter: Make) -> None:
    policy = RequestLimit(5000, 0.3)
    limiter = make_limiter([policy])
    for _ in range(7):
        assert limiter.try_acquire(user="u", requests=300).allowed
    assert len(_log(limiter, policy, "u")) == 2100
    time.sleep(0.15)
    recent = limiter.try_acquire(user="u", requests=5)
    time.sleep(0.2)  # the 2,100 older entries are stale, the 5 recent ones are not
    decision = limiter.try_acquire(user="u", requests=2)
    assert decision.remaining[policy.name] == 5000 - 7
    assert (
        _log(limiter, policy, "u")
        == [round(decision.server_time * 1e6)] * 2 + [round(recent.server_time * 1e6)] * 5
    )


def test_refund_returns_exactly_this_calls_slots(make_limiter: Make) -> None:
    policy = RequestLimit(5, 0.4)
    limiter = make_limiter([policy])
    keep = limiter.try_acquire(user="u", requests=2)
    give_back = limiter.try_acquire(user="u", requests=3)
    assert give_back.remaining[policy.name] == 0
    assert limiter.settle(give_back.reservation, 0, refund_requests=True)
    assert _log(limiter, policy, "u") == [round(keep.server_time * 1e6)] * 2
    assert limiter.peek(user="u", requests=0).remaining[policy.name] == 3
    # a refund whose entries already left the window changes nothing
    time.sleep(0.45)
    assert not limiter.settle(keep.reservation, 0, refund_requests=True)
    assert limiter.peek(user="u", requests=0).remaining[policy.name] == 5


def test_refusal_by_a_later_limit_undoes_earlier_charges(make_limiter: Make) -> None:
    requests, org, budget = (
        RequestLimit(5, 60.0),
        RequestLimit(50, 60.0, per="org"),
        TokenBudget.daily(100),
    )
    limiter = make_limiter([requests, org, budget])
    assert limiter.try_acquire(user="u", org="o", tokens=60).allowed
    refused = limiter.try_acquire(user="u", org="o", tokens=60)
    assert not refused.allowed and refused.limit == budget.name
    assert refused.remaining == {requests.name: 4, org.name: 49, budget.name: 40}
    never = limiter.try_acquire(user="u", org="o", tokens=101)
    assert not never.allowed and math.isinf(never.retry_after)
    assert len(_log(limiter, requests, "u")) == 1  # only the admitted call is logged
    status = limiter.peek(user="u", org="o", requests=0)
    assert status.remaining == {requests.name: 4, org.name: 49, budget.name: 40}


def test_zero_costs_consume_nothing_but_settle_later(make_limiter: Make) -> None:
    requests, budget = RequestLimit(2, 60.0), TokenBudget.daily(100)
    limiter = make_limiter([requests, budget])
    free = limiter.try_acquire(user="u", requests=0, tokens=0)
    assert free.allowed and free.remaining == {requests.name: 2, budget.name: 100}
    # a call that reserved no tokens opens the window, so its real usage is charged
    assert limiter.settle(free.reservation, 30)
    assert limiter.peek(user="u", requests=0).remaining == {requests.name: 2, budget.name: 70}


def test_scripts_reload_after_a_flush(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(5, 60.0), TokenBudget.daily(100)])
    first = limiter.try_acquire(user="u", tokens=10)
    limiter.config.get_client().script_flush()  # e.g. a restart or a failover
    assert limiter.try_acquire(user="u", tokens=10).allowed  # EVALSHA falls back to load
    limiter.config.get_client().script_flush()
    assert limiter.settle(first.reservation, 5)
    assert limiter.peek(user="u", requests=0).remaining["tok-user-fixed-100per1d"] == 85
