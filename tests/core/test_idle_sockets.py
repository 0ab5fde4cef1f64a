"""Sentinel and cluster asyncio clients check an idle connection's socket before a
command, as the plain asyncio pool does (tests/core/test_sent_once.py): the server
closes the clients' connections (a restart, ``CLIENT KILL``, its idle ``timeout``)
while the event loop runs no I/O, and the next write sent at most once must go out on
a new connection, not fail "may or may not have been applied"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from redis_agent_core.bus import AgentBus
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.ratelimit import RateLimiter, RequestLimit
from redis_agent_service.cluster import LocalCluster
from tests.core.topology import SERVICE, topology


def _close_clients(ports: list[int]) -> None:
    """Have each server close its clients' connections (not this admin's)."""
    for port in ports:
        with redis.Redis(port=port) as node:
            node.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")


@pytest.fixture(params=["cluster", "sentinel"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[RedisAgentConfig, list[int]]]:
    """A config (retries on, as by default) and the ports of the servers it writes to."""
    if request.param == "cluster":
        with LocalCluster() as cluster:
            yield RedisAgentConfig(url=cluster.url, namespace="idle", retries=2), cluster.ports
        return
    with topology() as topo:
        master = topo.server()
        sentinel = topo.sentinel(master)
        url = f"redis+sentinel://127.0.0.1:{sentinel}/{SERVICE}"
        yield RedisAgentConfig(url=url, namespace="idle", retries=2), [master]


async def test_writes_sent_once_after_the_server_closed_idle_connections(
    served: tuple[RedisAgentConfig, list[int]],
) -> None:
    config, ports = served
    limiter = RateLimiter([RequestLimit(10)], config=config, on_unavailable="fail_closed")
    bus = AgentBus(config)
    assert (await limiter.atry_acquire(user="u")).allowed
    await bus.apublish("t", {"n": 0}, durable=True)
    _close_clients(ports)  # the loop runs no I/O meanwhile: it has not seen them close
    # before: RedisUnavailableError "... lost the connection ... may or may not have been
    # applied" from the limiter (fail_closed) and the publish
    decision = await limiter.atry_acquire(user="u")
    assert decision.allowed and not decision.degraded
    await bus.apublish("t", {"n": 1}, durable=True)
    assert await bus.atopic_length("t") == 2  # each sent once
    await config.aclose()
