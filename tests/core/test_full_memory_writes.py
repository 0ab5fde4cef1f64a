"""Writes to a Redis at maxmemory with ``noeviction`` (tests/faults.py ``fill_memory``):
every role's write raises RedisWriteRefusedError naming the fix (raise maxmemory, or
delete data) and writes nothing. Redis checks maxmemory only up to a script's first
write: an agent store put that began with a delete (DEL, ZREM: allowed on a full server)
and a job record created after clearing leftovers (DEL) were written past a full server
instead of being refused, as was a rate limiter's token settle (ZREM, UNLINK first)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from redis_agent_core.agent_store import ItemStore, NodeCacheStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisWriteRefusedError
from redis_agent_core.history import OwnedSessions
from redis_agent_core.kvstore import KVStore
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget
from redis_agent_core.tasks.progress import JobNotFoundError, create_job, get_job, mark_items
from redis_agent_core.workflows import WorkflowRecords
from tests.faults import FaultyRedis

FIX = "Raise maxmemory or delete data"


def _keys(server: FaultyRedis) -> list[bytes]:
    admin = server.admin()
    try:
        return sorted(admin.keys("*"))
    finally:
        admin.close()


async def test_an_agent_store_put_after_a_delete_is_refused_on_a_full_server(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config()
    store = ItemStore(config)
    store.put([(("a",), "old", {"v": 1}, None), (("a",), "other", {"v": 0}, None)])
    before = _keys(faulty_redis)
    faulty_redis.fill_memory()
    puts: list[Any] = [(("a",), "old", None, None), (("a",), "new", {"v": 2}, None)]
    with pytest.raises(RedisWriteRefusedError, match=FIX):
        store.put(puts)
    with pytest.raises(RedisWriteRefusedError, match=FIX):
        await store.aput(puts)
    assert _keys(faulty_redis) == before  # nothing deleted, nothing written
    store.put([(("a",), "other", None, None)])  # deletes alone free memory: they run
    faulty_redis.free_memory()
    got = store.get([(("a",), "old"), (("a",), "new"), (("a",), "other")])
    assert [item and item.value for item in got] == [{"v": 1}, None, None]
    await config.aclose()


def test_a_job_is_not_created_on_a_full_server(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    faulty_redis.fill_memory()
    with pytest.raises(RedisWriteRefusedError, match=FIX):
        create_job(config, "j1", kind="test", total=1)
    assert _keys(faulty_redis) == []
    faulty_redis.free_memory()
    with pytest.raises(JobNotFoundError):
        get_job("j1", config=config)
    create_job(config, "j1", kind="test", total=1)  # the id is free
    assert get_job("j1", config=config).status == "pending"


def _writes(config: RedisAgentConfig) -> dict[str, Callable[[], Any]]:
    """Writes of the roles whose own tests have no full-server case."""
    nodes = NodeCacheStore(config, on_error="raise")
    records = WorkflowRecords(config)
    return {
        "node cache": lambda: nodes.set([((("a",), "k"), ("json", b"1"), None)]),
        "owned sessions": lambda: OwnedSessions(config).add("alice", "s1"),
        "key/value store": lambda: KVStore(config).mset([("k", b"v")]),
        "workflow state": lambda: asyncio.run(records.save_state("r1", "", b"x")),
        "workflow copy": lambda: asyncio.run(records.copy_state("r0", "r2")),
        "job progress": lambda: mark_items(config, "j0", ["a"]),
    }


@pytest.mark.parametrize("role", list(_writes(RedisAgentConfig(url="redis://unused"))))
def test_other_writes_are_refused_whole_on_a_full_server(
    faulty_redis: FaultyRedis, role: str
) -> None:
    config = faulty_redis.config()
    asyncio.run(WorkflowRecords(config).save_state("r0", "", b"x"))
    create_job(config, "j0", kind="test", total=2)
    before = _keys(faulty_redis)
    faulty_redis.fill_memory()
    with pytest.raises(RedisWriteRefusedError, match=FIX):
        _writes(config)[role]()
    assert _keys(faulty_redis) == before
    config.close()


def _state(server: FaultyRedis) -> dict[bytes, bytes | None]:
    """Every key's value (DUMP): what a write changed, not only which keys exist."""
    admin = server.admin()
    try:
        return {key: admin.dump(key) for key in sorted(admin.keys("*"))}
    finally:
        admin.close()


def _limiter(config: RedisAgentConfig, budget: TokenBudget) -> RateLimiter:
    return RateLimiter([RequestLimit(10, 3600), budget], config=config)


_BUDGETS = [
    pytest.param(TokenBudget.rolling_window(1000, 3600), id="rolling"),
    pytest.param(TokenBudget.daily(1000), id="fixed-first-settle"),  # settled record made
    pytest.param(TokenBudget.daily(1000), id="fixed-settled-before"),  # record there
]


@pytest.mark.parametrize("budget", _BUDGETS)
async def test_a_token_settle_is_refused_whole_on_a_full_server(
    faulty_redis: FaultyRedis,
    budget: TokenBudget,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A settle (the real token count of a call, after it) began with a delete (ZREM,
    UNLINK) and so was written past a full server, or refused, depending on the budget.
    Settling never raises: it returns False and logs the refusal naming the fix; the
    estimate stays charged and nothing is half written. Freed, the same reservation
    settles once."""
    config = faulty_redis.config()
    limiter = _limiter(config, budget)
    if request.node.callspec.id == "fixed-settled-before":
        assert limiter.settle(limiter.try_acquire(user="u", tokens=10).reservation, 20)
    sync, later = (limiter.try_acquire(user="u", tokens=300) for _ in range(2))
    before = _state(faulty_redis)
    faulty_redis.fill_memory()
    assert limiter.settle(sync.reservation, 100) is False  # refund 200
    assert await limiter.asettle(later.reservation, 500) is False  # charge 200 more
    assert _state(faulty_redis) == before  # nothing written, nothing deleted
    assert caplog.text.count("the estimate stays charged") == 2 and FIX in caplog.text
    faulty_redis.free_memory()
    assert limiter.settle(sync.reservation, 100) and await limiter.asettle(later.reservation, 500)
    spent = 600 + (20 if request.node.callspec.id == "fixed-settled-before" else 0)
    assert (await limiter.apeek(user="u", requests=0)).remaining[budget.name] == 1000 - spent
    await config.aclose()
    config.close()


def test_a_refund_of_request_slots_alone_still_runs_on_a_full_server(
    faulty_redis: FaultyRedis,
) -> None:
    # it only deletes (LREM): it frees memory, as the other roles' deletes alone do
    config = faulty_redis.config()
    limiter = RateLimiter([RequestLimit(2, 3600)], config=config)
    decision = limiter.try_acquire(user="u")
    faulty_redis.fill_memory()
    assert limiter.settle(decision.reservation, 0, refund_requests=True)
    faulty_redis.free_memory()
    assert limiter.peek(user="u", requests=0).remaining == {"req-user-2per1h": 2}
    config.close()
