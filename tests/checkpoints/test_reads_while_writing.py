"""Agent state read while another process writes it: a history listed during a run, a
store searched while items are put, lists each entry once (reads used to page by
offset, which a write in between moved)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.store.memory import InMemoryStore

from langchain_redis_agent.checkpoint import RedisSaver
from langchain_redis_agent.store import RedisStore
from redis_agent_core.agent_store import ItemStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.plans import Plan, raw_replies

THREAD = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}


def _put(saver: RedisSaver) -> str:
    checkpoint = empty_checkpoint()
    checkpoint["id"] = str(uuid6())
    saver.put(THREAD, checkpoint, {"step": 1}, {})
    return checkpoint["id"]


def _ids(tuples: Any) -> list[str]:
    return [t.config["configurable"]["checkpoint_id"] for t in tuples]


def test_a_history_listed_while_a_run_writes_lists_each_checkpoint_once(
    config: RedisAgentConfig,
) -> None:
    saver = RedisSaver(config)
    before = [_put(saver) for _ in range(60)]  # more than one page (50)
    listing = saver.list({"configurable": {"thread_id": "t1"}})
    seen = _ids(next(listing) for _ in range(10))
    _put(saver), _put(saver)  # the run goes on: two newer checkpoints
    seen += _ids(listing)
    assert sorted(seen) == sorted(before)  # the 60 there when it started, each once


async def test_the_async_history_too(aconfig: RedisAgentConfig) -> None:
    saver = RedisSaver(aconfig)
    before = [_put(saver) for _ in range(60)]
    seen: list[str] = []
    async for found in saver.alist({"configurable": {"thread_id": "t1"}}):
        seen.append(found.config["configurable"]["checkpoint_id"])
        if len(seen) == 10:
            await saver.aput(THREAD, {**empty_checkpoint(), "id": str(uuid6())}, {}, {})
    assert sorted(seen) == sorted(before)


def _run(config: RedisAgentConfig, plan: Plan[Any], between: Callable[[int], None]) -> Any:
    """Run ``plan`` step by step, calling ``between(step)`` after each step (another
    writer acting between two round trips of one search)."""
    client = config.get_client()
    transaction, queue = next(plan)
    step = 0
    while True:
        with client.pipeline(transaction=transaction) as pipe:
            queue(pipe if transaction else raw_replies(pipe))
            replies = pipe.execute()
        step += 1
        between(step)
        try:
            transaction, queue = plan.send(replies)
        except StopIteration as done:
            return done.value


def test_a_search_while_items_are_put_lists_each_match_once(config: RedisAgentConfig) -> None:
    store = ItemStore(config)
    store.put([(("a",), f"k{i:03}", {"wanted": i % 4 == 0}, None) for i in range(100)])

    def writer(step: int) -> None:
        if step == 2:  # after the search read its first members: four put before them
            store.put([(("a",), f"k000{c}", {"wanted": False}, None) for c in "abcd"])

    found = _run(config, store.search_plan(("a",), {"wanted": True}, 20, 0, False), writer)
    assert [s.key for s in found] == [f"k{i:03}" for i in range(0, 80, 4)]


def test_a_search_while_items_are_deleted_skips_none(config: RedisAgentConfig) -> None:
    store = ItemStore(config)
    store.put([(("a",), f"k{i:03}", {"wanted": i % 4 == 0}, None) for i in range(100)])

    def writer(step: int) -> None:
        if step == 2:
            store.put([(("a",), f"k{i:03}", None, None) for i in (1, 2, 3, 5)])

    found = _run(config, store.search_plan(("a",), {"wanted": True}, 20, 0, False), writer)
    assert [s.key for s in found] == [f"k{i:03}" for i in range(0, 80, 4)]


def test_a_filter_mixing_operators_and_fields_is_refused(config: RedisAgentConfig) -> None:
    where = {"score": {"$gt": 1, "max": 10}}  # "max" was applied as $lte 10
    memory = InMemoryStore()
    memory.put(("a",), "k", {"score": 3})
    with pytest.raises(ValueError, match="max"):
        memory.search(("a",), filter=where)
    store = RedisStore(config)
    store.put(("a",), "k", {"score": 3})
    with pytest.raises(ConfigError, match="mixes operators"):
        store.search(("a",), filter=where)
    # either form alone is fine
    assert [i.key for i in store.search(("a",), filter={"score": {"$gt": 1, "$lte": 10}})]
    assert not store.search(("a",), filter={"score": {"max": 10}})
