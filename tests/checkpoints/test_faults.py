"""Redis down or refusing writes: the savers raise the pack's typed errors (a graph
step cannot pretend its state was saved) and work again once Redis is back."""

from __future__ import annotations

import contextlib
from typing import Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph

from langchain_redis_agent.checkpoint import AsyncRedisSaver, RedisSaver
from redis_agent_core import RedisAgentConfig
from redis_agent_core.checkpoints import CheckpointStore
from redis_agent_core.errors import (
    DataCorruptionError,
    RedisUnavailableError,
    RedisWriteRefusedError,
)
from redis_agent_core.plans import raw_replies
from tests.checkpoints.test_graphs import build_graph
from tests.faults import FaultyRedis


def test_saver_raises_while_redis_is_down_and_recovers(faulty_redis: FaultyRedis) -> None:
    cfg = faulty_redis.config(socket_timeout=0.5, retries=0)
    graph = build_graph(RedisSaver(cfg))
    thread = {"configurable": {"thread_id": "f1"}}
    graph.invoke({"items": [], "approved": False}, thread)
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError):
        graph.get_state(thread)
    with pytest.raises(RedisUnavailableError):
        graph.invoke({"items": [], "approved": False}, {"configurable": {"thread_id": "f2"}})
    faulty_redis.restart()  # empty server on the same URL, same app objects
    out = graph.invoke({"items": [], "approved": False}, {"configurable": {"thread_id": "f3"}})
    assert out["__interrupt__"]


async def test_async_saver_raises_while_redis_is_down_and_recovers(
    faulty_redis: FaultyRedis,
) -> None:
    cfg = faulty_redis.config(socket_timeout=0.5, retries=0)
    graph = build_graph(AsyncRedisSaver(cfg))
    start = {"items": [], "approved": False}
    await graph.ainvoke(start, {"configurable": {"thread_id": "f1"}})
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError):
        await graph.ainvoke(start, {"configurable": {"thread_id": "f2"}})
    faulty_redis.restart()  # empty server on the same URL, same app objects
    out = await graph.ainvoke(start, {"configurable": {"thread_id": "f3"}})
    assert out["__interrupt__"]
    assert (await graph.aget_state({"configurable": {"thread_id": "f3"}})).values
    await cfg.aclose()


async def test_full_memory_refuses_the_write_with_a_clear_error(
    faulty_redis: FaultyRedis,
) -> None:
    cfg = faulty_redis.config(socket_timeout=0.5, retries=0)
    graph = build_graph(RedisSaver(cfg))
    faulty_redis.fill_memory()
    try:
        with pytest.raises(RedisWriteRefusedError, match="maxmemory"):
            await graph.ainvoke(
                {"items": [], "approved": False}, {"configurable": {"thread_id": "m"}}
            )
    finally:
        faulty_redis.free_memory()
    out = await graph.ainvoke(
        {"items": [], "approved": False}, {"configurable": {"thread_id": "m"}}
    )
    assert out["__interrupt__"]
    await cfg.aclose()


class Counter(TypedDict):
    total: int


@pytest.mark.parametrize("lost", ["values", "index"])
async def test_keys_evicted_behind_a_thread_raise_rather_than_restart_it(
    config: RedisAgentConfig, lost: str
) -> None:
    """A maxmemory policy that evicts (allkeys-lru, ...) removes whole keys; here the
    thread's value hash or its index, deleted as eviction would. The checkpoint still
    names the values (the head the latest id): reading it raised nothing and the next run
    counted from 0 again, silently."""
    builder = StateGraph(Counter)
    builder.add_node("add", lambda s: {"total": s.get("total", 0) + 1})
    builder.add_edge(START, "add")
    saver = RedisSaver(config)
    graph = builder.compile(checkpointer=saver)
    thread: Any = {"configurable": {"thread_id": "ev"}}
    graph.invoke({"total": 0}, thread)
    assert graph.invoke({}, thread)["total"] == 2
    keys = config.keys
    evicted = keys.checkpoint_blobs("ev", "") if lost == "values" else keys.checkpoint_index("ev")
    config.get_client().delete(evicted)
    with pytest.raises(DataCorruptionError, match="noeviction"):
        graph.invoke({}, thread)
    with pytest.raises(DataCorruptionError, match="'total'" if lost == "values" else "index"):
        await saver.aget_tuple(thread)
    if lost == "values":
        with pytest.raises(DataCorruptionError, match="evicted or deleted"):
            list(saver.list(thread))
    saver.delete_thread("ev")  # the documented way out: start the thread over
    assert graph.invoke({}, thread)["total"] == 1


def test_prune_keeps_the_values_of_a_checkpoint_put_while_it_ran(
    config: RedisAgentConfig,
) -> None:
    """prune(keep_latest) reads the index, then the latest's references and the value
    hash, then deletes what nothing it saw references. A run landing between the first
    two reads lost its values: the thread read back empty ({} instead of total 2)."""
    builder = StateGraph(Counter)
    builder.add_node("add", lambda s: {"total": s.get("total", 0) + 1})
    builder.add_edge(START, "add")
    graph = builder.compile(checkpointer=RedisSaver(config))
    thread: Any = {"configurable": {"thread_id": "pr"}}
    graph.invoke({"total": 0}, thread)
    plan = CheckpointStore(config).prune_plan("pr", keep_latest=True)
    client = config.get_client()

    def run(step: Any) -> Any:
        transaction, queue = step
        with client.pipeline(transaction=transaction) as pipe:
            queue(pipe if transaction else raw_replies(pipe))
            return pipe.execute()

    replies = run(next(plan))  # the index
    graph.invoke({}, thread)  # another process runs the thread meanwhile
    with contextlib.suppress(StopIteration):
        step = plan.send(replies)
        while True:
            step = plan.send(run(step))
    assert graph.get_state(thread).values == {"total": 2}
    RedisSaver(config).prune(["pr"])  # unhurried, it drops the older checkpoints
    assert [t.checkpoint["channel_values"] for t in RedisSaver(config).list(thread)] == [
        {"total": 2}
    ]


def _hooked(plan: Any, before: dict[int, Any]) -> Any:
    """``plan`` with ``before[i]()`` run just before its step ``i`` is sent."""
    step, i = next(plan), 0
    while True:
        if i in before:
            before[i]()
        replies = yield step
        i += 1
        try:
            step = plan.send(replies)
        except StopIteration as done:
            return done.value


@pytest.mark.parametrize("run", ["sync", "async"])
@pytest.mark.parametrize("read", ["latest", "by id", "list"])
async def test_a_checkpoint_expiring_between_its_two_reads_is_gone_not_corrupt(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch, read: str, run: str
) -> None:
    """A read takes a checkpoint's record, then the values it references (in one trip
    or the next). Its TTL passing in between (record read, values gone) raised
    DataCorruptionError ("evicted or deleted") and stopped the graph: the checkpoint is
    gone, as if the first read had missed it. Sync and async run one plan."""
    store = CheckpointStore(config, ttl=60)
    store.put("t", "", "c1", parent_id=None, checkpoint=("json", b"{}"),
              metadata=("json", b"{}"), values={"total": ("1", ("json", b"1"))},
              channel_versions={"total": "1"})  # fmt: skip
    client, keys = config.get_client(), config.keys
    # the value hash expires with the record (every write pushes both back): here it
    # goes before the step reading the values, the record right after that step (steps:
    # latest: head + index, then record + values; by id and a listing's page: records,
    # then values; then the new look at the record)
    hooks = {
        1: lambda: client.delete(keys.checkpoint_blobs("t", "")),
        2: lambda: client.delete(keys.checkpoint("t", "", "c1")),
    }
    name = "page_plan" if read == "list" else "_get_plan"
    real = getattr(CheckpointStore, name)
    monkeypatch.setattr(store, name, lambda *a: _hooked(real(store, *a), hooks))
    if read == "list":
        found = (list(store.list("t", "")) if run == "sync"
                 else [r async for r in store.alist("t", "")])  # fmt: skip
        assert found == []
    else:
        cid = None if read == "latest" else "c1"
        got = store.get("t", "", cid) if run == "sync" else await store.aget("t", "", cid)
        assert got is None
