"""Keep-alive connections evened out over the workers (issue 20): a worker over its
share closes the surplus after their next response; counts older than its last
closing are not acted on."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import orjson
from fastapi import FastAPI

from redis_agent_core.config import RedisAgentConfig
from redis_agent_service.balance import BalanceConnections, ConnectionBalancer, surplus
from redis_agent_service.process_stats import ProcessStats, process_label


def test_surplus_is_the_count_over_the_even_share_beyond_the_slack() -> None:
    assert surplus(50, [50, 14]) == 18  # the 78 % / 22 % split of one bench run
    assert surplus(14, [50, 14]) == 0  # the lighter worker keeps its connections
    assert surplus(33, [33, 31]) == 0  # within the slack: a reconnect costs more
    assert surplus(40, [40]) == 0  # a single worker has nobody to hand them to
    assert surplus(12, [12, 0, 0], slack=0) == 8


def _entry(label: str, connections: int, at: float) -> dict[str, Any]:
    return {"process": label, "connections": connections, "at": at}


def test_rebalance_waits_for_counts_published_after_its_last_closing() -> None:
    balancer = ConnectionBalancer()
    now = time.time()
    assert balancer.rebalance([_entry("a", 40, now), _entry("b", 24, now)], "a") == 8
    # b's count from before the closing does not include the clients that reconnected
    balancer.to_close = 0
    assert balancer.rebalance([_entry("a", 36, now + 1), _entry("b", 24, now - 1)], "a") == 0
    # a fresh count does, and the rest is closed
    assert balancer.rebalance([_entry("a", 34, now + 2), _entry("b", 30, now + 2)], "a") == 2


def _app(balancer: ConnectionBalancer) -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def root() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(BalanceConnections, balancer=balancer)
    return app


async def test_only_the_surplus_connections_are_closed_once_each() -> None:
    balancer = ConnectionBalancer()
    app = _app(balancer)

    async def get(port: int) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", port))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return await client.get("/")

    for port in (1, 2, 3):
        assert "connection" not in (await get(port)).headers  # nothing to close yet
    assert balancer.connections() == 3
    balancer.to_close = 2
    closed = [(await get(port)).headers.get("connection") for port in (1, 2, 3, 1)]
    assert closed == ["close", "close", None, None]  # two closed, then keep-alive again
    assert balancer.closed == 2 and balancer.to_close == 0
    # a closed connection is no longer counted here until it brings a request again
    assert balancer.connections() == 2


async def test_workers_rebalance_on_the_counts_they_publish_through_redis(
    config: RedisAgentConfig,
) -> None:
    key = config.keys.service_processes("balance-test")
    peer = {"process": "peer:1", "at": time.time() + 60, "connections": 0}
    await config.get_async_client().hset(key, "peer:1", orjson.dumps(peer))
    balancer = ConnectionBalancer()
    for port in range(6):
        balancer.seen(("127.0.0.1", port))
    stats = ProcessStats(
        config,
        key,
        lambda: {"connections": balancer.connections()},
        interval=0.02,
        on_read=lambda entries: balancer.rebalance(entries, process_label()),
    )
    stats.start()
    try:
        for _ in range(200):
            if balancer.to_close:
                break
            await asyncio.sleep(0.02)
    finally:
        await stats.stop()
    assert balancer.to_close == 3  # 6 here, none on the peer: 3 over the even share
