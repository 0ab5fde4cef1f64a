"""Across processes and servers: exactness under four hammering processes, Redis
Cluster slots, and the documented behaviour when Redis is down."""

from __future__ import annotations

import logging
import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget
from redis_agent_core.server import EmbeddedRedis

LIMIT, PERIOD, SECONDS, PROCESSES = 100, 1.0, 3.0, 4


def _hammer(url: str, namespace: str, barrier: Any, out: str) -> None:
    """Child process: try to acquire as fast as possible for SECONDS; write the
    server times of admits (A) and of all attempts' bounds (first/last)."""
    limiter = RateLimiter(
        [RequestLimit(LIMIT, PERIOD, per="global")],
        config=RedisAgentConfig(url=url, namespace=namespace),
        name="hammer",
    )
    limiter.peek()  # connect and load the script before the start line
    barrier.wait(60)  # spawned children import at different speeds: start together
    start_at = time.time()
    admits: list[int] = []
    first = last = 0
    while time.time() < start_at + SECONDS:
        decision = limiter.try_acquire()
        now_us = round(decision.server_time * 1e6)
        first = first or now_us
        last = now_us
        if decision.allowed:
            admits.append(now_us)
    Path(out).write_text(f"{first} {last}\n" + "\n".join(map(str, admits)))


@pytest.mark.slow
def test_four_processes_never_exceed_the_limit_in_any_window(
    redis_url: str, config: RedisAgentConfig, tmp_path: Path
) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    outs = [str(tmp_path / f"p{i}.txt") for i in range(PROCESSES)]
    procs = [
        ctx.Process(target=_hammer, args=(redis_url, config.namespace, barrier, out))
        for out in outs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(90)
        assert p.exitcode == 0
    admits: list[int] = []
    firsts, lasts = [], []
    for out in outs:
        head, *rest = Path(out).read_text().splitlines()
        first, last = map(int, head.split())
        firsts.append(first)
        lasts.append(last)
        admits += [int(x) for x in rest]
    admits.sort()
    period_us = int(PERIOD * 1e6)
    # exact: every window (t - period, t] ending at an admit holds <= LIMIT admits
    lo = 0
    worst = 0
    for hi, t in enumerate(admits):
        while admits[lo] <= t - period_us:
            lo += 1
        worst = max(worst, hi - lo + 1)
    assert worst <= LIMIT, f"{worst} admits in one {PERIOD} s window (limit {LIMIT})"
    allowed = LIMIT * SECONDS / PERIOD
    assert len(admits) >= 0.95 * allowed, f"admitted {len(admits)} of {allowed:.0f}"
    # and never more than the windows the run spanned could hold
    span = (max(lasts) - min(firsts)) / 1e6
    assert len(admits) <= LIMIT * (int(span / PERIOD) + 1)


@pytest.mark.cluster
def test_composed_limits_on_a_cluster(cluster_config: RedisAgentConfig) -> None:
    limits = [
        RequestLimit(3, 60.0, per="user"),
        RequestLimit(5, 60.0, per="org"),
        RequestLimit(8, 60.0, per="global"),
        TokenBudget.daily(1000, per="user"),
        TokenBudget.rolling_window(500, 60.0, per="org"),
    ]
    limiter = RateLimiter(limits, config=cluster_config, name="clustered")
    admitted = [limiter.try_acquire(user=f"u{i % 4}", org="acme", tokens=50) for i in range(7)]
    assert [d.allowed for d in admitted] == [True] * 5 + [False] * 2
    assert admitted[5].limit == "req-org-5per1m"
    assert limiter.settle(admitted[0].reservation, 10)
    assert limiter.settle(admitted[0].reservation, 10) is False  # applied once
    assert limiter.try_acquire(user="z", org="globex").allowed
    client = cluster_config.get_client()
    keys = [k for node in client.get_primaries() for k in node.redis_connection.keys("*")]
    ours = [k for k in keys if k.decode().startswith(cluster_config.namespace)]
    assert len(ours) >= len(limits)
    assert len({client.keyslot(k) for k in ours}) == 1  # one tag: one slot


@pytest.mark.cluster
async def test_shard_by_org_spreads_orgs_over_slots(cluster_config: RedisAgentConfig) -> None:
    limiter = RateLimiter(
        [RequestLimit(2, 60.0, per="user"), RequestLimit(3, 60.0, per="org")],
        config=cluster_config,
        shard_by="org",
    )
    for org in ("acme", "globex", "initech"):
        for user in ("a", "b"):
            assert (await limiter.atry_acquire(user=user, org=org)).allowed
        assert (await limiter.atry_acquire(user="c", org=org)).allowed
        refused = await limiter.atry_acquire(user="d", org=org)
        assert not refused.allowed and refused.limit == "req-org-3per1m"
    client = cluster_config.get_client()
    slots = {
        client.keyslot(k)
        for node in client.get_primaries()
        for k in node.redis_connection.keys(f"{cluster_config.namespace}:*")
    }
    assert len(slots) == 3  # one slot per org
    await cluster_config.aclose()


def test_redis_down_fail_closed_refuses(stopped_redis: RedisAgentConfig) -> None:
    limiter = RateLimiter([RequestLimit(5)], config=stopped_redis)  # default: fail_closed
    with pytest.raises(RedisUnavailableError, match="fail_open"):
        limiter.try_acquire(user="u")
    with pytest.raises(RedisUnavailableError):
        limiter.acquire(user="u")


async def test_redis_down_fail_closed_refuses_async(stopped_redis: RedisAgentConfig) -> None:
    limiter = RateLimiter([RequestLimit(5)], config=stopped_redis)
    with pytest.raises(RedisUnavailableError):
        await limiter.aacquire(user="u")


def test_redis_down_fail_open_admits_degraded(
    stopped_redis: RedisAgentConfig, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RateLimiter(
        [RequestLimit(1), TokenBudget.daily(10)], config=stopped_redis, on_unavailable="fail_open"
    )
    with caplog.at_level(logging.WARNING):
        decisions = [limiter.acquire(user="u", tokens=100) for _ in range(3)]
    assert all(d.allowed and d.degraded and d.reservation is None for d in decisions)
    assert sum("unmetered" in r.message for r in caplog.records) == 1  # warned once
    assert limiter.settle(decisions[0].reservation, 5) is False


def test_settle_never_raises_when_redis_goes_down(caplog: pytest.LogCaptureFixture) -> None:
    server = EmbeddedRedis().start()
    cfg = RedisAgentConfig(url=server.url, retries=0, socket_connect_timeout=0.5)
    limiter = RateLimiter([TokenBudget.daily(100)], config=cfg)
    decision = limiter.try_acquire(user="u", tokens=50)
    assert decision.allowed
    server.stop()
    with caplog.at_level(logging.WARNING):
        assert limiter.settle(decision.reservation, 10) is False
    assert "estimate stays charged" in caplog.text
    with pytest.raises(RedisUnavailableError):
        limiter.peek(user="u")
