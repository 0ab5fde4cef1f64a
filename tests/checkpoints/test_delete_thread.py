"""delete_thread against a run still saving: a checkpoint saved while the thread was being
deleted survived as an orphan (the run's next checkpoint then raised DataCorruptionError),
a checkpoint saved after it started a new thread whose later checkpoints referenced
deleted values, and pending writes saved after the delete left a hash no later
delete_thread found."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypedDict

import pytest
import redis
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from langchain_redis_agent.checkpoint import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
)
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import DataCorruptionError, ThreadDeletedError
from redis_agent_core.plans import Plan, arun_plan, run_plan
from tests.checkpoints.test_savers import _cfg, _checkpoint


def _keys(config: RedisAgentConfig) -> list[bytes]:
    return list(config.get_client().scan_iter(match=f"{config.namespace}:*"))


def cluster_keys(config: RedisAgentConfig) -> list[bytes]:
    """Every key of the namespace on every primary of the cluster."""
    primaries = config.get_client().get_primaries()  # type: ignore[union-attr]
    pattern = f"{config.namespace}:*"
    return [key for node in primaries for key in node.redis_connection.scan_iter(match=pattern)]


def _between_steps(plan: Plan[Any], hook: Callable[[], None]) -> Plan[Any]:
    """``plan`` with ``hook`` run after its first round trip (a concurrent save)."""
    replies = yield next(plan)
    hook()
    try:
        step = plan.send(replies)
        while True:
            replies = yield step
            step = plan.send(replies)
    except StopIteration as done:
        return done.value


def _delete_with_interleaved_put(
    config: RedisAgentConfig, saver: RedisSaver, sync: bool
) -> list[BaseException]:
    """Delete thread ``t`` while its run saves its next checkpoint (right after the
    delete's script: the script is one step, so a save lands before or after it)."""
    first = _checkpoint("1f0-1", a="one")
    saver.put(_cfg("t"), first, {"step": 1}, first["channel_versions"])
    # the run's next checkpoint changes channel b only: it references a's value saved
    # with the first, as LangGraph's put passes only the new versions
    second = _checkpoint("1f0-2", a="one", b="two")
    refused: list[BaseException] = []

    def put_second() -> None:
        try:
            saver.put(_cfg("t", "", "1f0-1"), second, {"step": 2}, {"b": f"{1:032}.0"})
        except ThreadDeletedError as exc:
            refused.append(exc)

    plan = _between_steps(saver._store.delete_plan("t"), put_second)
    if sync:
        run_plan(config, plan, "deleting thread")
    else:
        asyncio.run(arun_plan(config, plan, "deleting thread"))
    return refused


@pytest.mark.parametrize("saver_type", [RedisSaver, ShallowRedisSaver])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_checkpoint_saved_after_delete_thread_is_refused_writing_nothing(
    config: RedisAgentConfig, sync: bool, saver_type: type[RedisSaver]
) -> None:
    saver = saver_type(config)
    refused = _delete_with_interleaved_put(config, saver, sync)
    # before: the second checkpoint was saved as a new thread under the same id, its
    # record naming a's value deleted with the thread, and reading the thread raised
    # DataCorruptionError ("evicted or deleted"); the shallow saver brought the
    # deleted thread back
    assert len(refused) == 1
    assert "'t'" in str(refused[0]) and "stop the thread's run before delete_thread" in (
        str(refused[0]).lower()
    )
    assert saver.get_tuple(_cfg("t")) is None
    assert _keys(config) == []  # nothing written


async def test_async_put_after_delete_thread_is_refused(config: RedisAgentConfig) -> None:
    for saver in (AsyncRedisSaver(config), AsyncShallowRedisSaver(config)):
        cp = _checkpoint("1f0-1", x=1)
        stored = await saver.aput(_cfg("t", "sub"), cp, {}, cp["channel_versions"])
        await saver.adelete_thread("t")
        nxt = _checkpoint("1f0-2", x=2)
        with pytest.raises(ThreadDeletedError, match="delete_thread"):
            await saver.aput(stored, nxt, {}, nxt["channel_versions"])
        assert await saver.aget_tuple(_cfg("t", "sub")) is None
        assert _keys(config) == []


class Count(TypedDict):
    n: int


def _self_deleting_graph(saver: RedisSaver) -> Any:
    """a -> b: step a deletes the thread when n == 1 (as another process, or a user's
    "forget me", would while the run goes on)."""

    def step(state: Count, config: RunnableConfig) -> dict:
        if state["n"] == 1:
            saver.delete_thread(config["configurable"]["thread_id"])
        return {"n": state["n"] + 1}

    builder = StateGraph(Count).add_node("a", step).add_node("b", step)
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", END)
    return builder.compile(checkpointer=saver)


@pytest.mark.parametrize("durability", ["sync", "async"])
@pytest.mark.parametrize("saver_type", [RedisSaver, ShallowRedisSaver])
def test_a_graph_run_whose_thread_is_deleted_fails_at_its_next_checkpoint(
    config: RedisAgentConfig, durability: str, saver_type: type[RedisSaver]
) -> None:
    saver = saver_type(config)
    graph = _self_deleting_graph(saver)
    thread: Any = {"configurable": {"thread_id": "gone"}}
    with pytest.raises(ThreadDeletedError, match="'gone'"):
        graph.invoke({"n": 1}, thread, durability=durability)
    # before: the run finished, leaving a thread whose latest checkpoint named values
    # deleted with the thread (RedisSaver: get_state raised DataCorruptionError)
    assert graph.get_state(thread).values == {}
    saver.delete_thread("gone")  # the writes the run saved after the delete
    assert _keys(config) == []
    assert graph.invoke({"n": 5}, thread)["n"] == 7  # the id starts over cleanly


async def test_an_async_graph_run_whose_thread_is_deleted_fails(config: RedisAgentConfig) -> None:
    saver = AsyncRedisSaver(config)
    thread: Any = {"configurable": {"thread_id": "gone"}}

    async def step(state: Count, config: RunnableConfig) -> dict:
        if state["n"] == 1:
            await saver.adelete_thread(config["configurable"]["thread_id"])
        return {"n": state["n"] + 1}

    builder = StateGraph(Count).add_node("a", step).add_node("b", step)
    builder.add_edge(START, "a").add_edge("a", "b").add_edge("b", END)
    graph = builder.compile(checkpointer=saver)
    with pytest.raises(ThreadDeletedError, match="'gone'"):
        await graph.ainvoke({"n": 1}, thread)
    assert (await graph.aget_state(thread)).values == {}
    assert (await graph.ainvoke({"n": 5}, thread, durability="exit"))["n"] == 7


def test_a_new_thread_and_durability_exit_still_save(config: RedisAgentConfig) -> None:
    # no parent (a thread's first checkpoint), and "exit" saving only the last one
    # with the checkpoint loaded at the start as its parent
    saver = RedisSaver(config)
    graph = _self_deleting_graph(saver)
    thread: Any = {"configurable": {"thread_id": "x"}}
    assert graph.invoke({"n": 2}, thread, durability="exit")["n"] == 4
    assert graph.invoke({"n": 10}, thread, durability="exit")["n"] == 12
    assert len(list(saver.list(thread))) == 2


@pytest.mark.parametrize("saver_type", [RedisSaver, ShallowRedisSaver])
def test_a_put_whose_parent_was_evicted_raises_data_corruption(
    config: RedisAgentConfig, saver_type: type[RedisSaver]
) -> None:
    # a maxmemory policy that evicts removes whole keys: here the parent's record, which
    # the index still lists (deleted as eviction would)
    saver = saver_type(config)
    cp = _checkpoint("1f0-1", x=1)
    stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
    config.get_client().delete(saver.core.record_key("t", "", "1f0-1"))
    nxt = _checkpoint("1f0-2", x=2)
    with pytest.raises(DataCorruptionError, match=r"evicted.*noeviction"):
        saver.put(stored, nxt, {}, nxt["channel_versions"])
    members = config.get_client().zrange(config.keys.checkpoint_index("t"), 0, -1)
    assert members == [b"\x001f0-1"]  # nothing written
    saver.delete_thread("t")
    assert _keys(config) == []


def test_pending_writes_saved_after_delete_thread_are_found_by_the_next_delete(
    config: RedisAgentConfig,
) -> None:
    for saver in (RedisSaver(config), ShallowRedisSaver(config)):
        cp = _checkpoint("1f0-1", x=1)
        stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
        saver.delete_thread("t")
        # a task of a run still going when the thread was deleted
        saver.put_writes(stored, [("x", 2), ("__error__", "boom")], "task")
        assert saver.get_tuple(_cfg("t")) is None
        saver.delete_thread("t")
        assert _keys(config) == []  # before: <ns>:cp:{t}:c::1f0-1, no TTL, never found


async def test_async_pending_writes_saved_after_delete_thread_are_found(
    config: RedisAgentConfig,
) -> None:
    for saver in (AsyncRedisSaver(config), AsyncShallowRedisSaver(config)):
        cp = _checkpoint("1f0-1", x=1)
        stored = await saver.aput(_cfg("t", "sub"), cp, {}, cp["channel_versions"])
        await saver.adelete_thread("t")
        await saver.aput_writes(stored, [("x", 2)], "task")
        await saver.adelete_thread("t")
        assert _keys(config) == []


@pytest.mark.parametrize("saver_type", [RedisSaver, ShallowRedisSaver])
def test_writes_saved_before_their_checkpoint_are_kept_and_noted_only_until_it(
    config: RedisAgentConfig, saver_type: type[RedisSaver]
) -> None:
    # LangGraph's durability="async"/"exit" saves in the background: a task's writes (or
    # the writes of a new thread's first checkpoint) may land before that checkpoint
    saver = saver_type(config)
    client = config.get_client()
    noted = config.keys.checkpoint_unindexed("t")
    early = {"configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": "1f0-1"}}
    saver.put_writes(early, [("x", 5)], "task")
    assert client.scard(noted) == 1  # a delete_thread now would find the record
    cp = _checkpoint("1f0-1", x=1)
    stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
    assert not client.exists(noted)
    saver.put_writes(stored, [("x", 6)], "task2")  # the usual order notes nothing
    assert not client.exists(noted)
    latest = saver.get_tuple(_cfg("t"))
    assert latest is not None
    assert sorted(w[2] for w in latest.pending_writes or []) == [5, 6]
    saver.delete_thread("t")
    assert _keys(config) == []


def test_ttl_covers_writes_saved_after_delete_thread(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config, ttl=100)
    cp = _checkpoint("1f0-1", x=1)
    stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
    saver.delete_thread("t")
    saver.put_writes(stored, [("x", 2)], "task")
    client = config.get_client()
    keys = _keys(config)
    assert keys and all(0 < client.ttl(k) <= 100 for k in keys)


def test_delete_thread_with_escaped_names_in_every_namespace(config: RedisAgentConfig) -> None:
    # the script builds record and value keys from the index as keys.escape_part does
    saver = RedisSaver(config)
    thread = "th{e}ad:%1"
    for i, ns in enumerate(["", "sub:1", "a|{b}%"]):
        parent = None
        for j in range(2):
            cp = _checkpoint(f"1f0-{i}{j}:%{{x}}", a=i)
            stored = saver.put(_cfg(thread, ns, parent), cp, {}, cp["channel_versions"])
            saver.put_writes(stored, [("a", 1)], "task")
            parent = cp["id"]
    other = _checkpoint("1f0-9", a=9)
    saver.put(_cfg("other"), other, {}, other["channel_versions"])
    saver.delete_thread(thread)
    left = _keys(config)
    assert left and all(b"{other}" in k for k in left)
    assert {redis.cluster.key_slot(k) for k in left} == {redis.cluster.key_slot(left[0])}


@pytest.mark.cluster
async def test_delete_thread_on_the_cluster(cluster_config: RedisAgentConfig) -> None:
    # the script reads keys it cannot declare: all carry the thread's tag (one slot)
    saver = AsyncRedisSaver(cluster_config)
    for thread in ("c-1", "c-2"):
        for i, ns in enumerate(["", "sub"]):
            parent = None
            for j in range(2):
                cp = _checkpoint(f"1f0-{i}{j}", a=i)
                stored = await saver.aput(_cfg(thread, ns, parent), cp, {}, cp["channel_versions"])
                await saver.aput_writes(stored, [("a", 1)], "task")
                parent = cp["id"]
    await saver.adelete_thread("c-1")
    # the run of c-1 goes on: its next checkpoint is refused by the one script (its
    # parent is gone), on the thread's node
    nxt = _checkpoint("1f0-9", a=9)
    with pytest.raises(ThreadDeletedError, match="'c-1'"):
        await saver.aput(_cfg("c-1", "sub", "1f0-11"), nxt, {}, nxt["channel_versions"])
    with pytest.raises(ThreadDeletedError, match="'c-1'"):
        RedisSaver(cluster_config).put(_cfg("c-1", "", "1f0-01"), nxt, {}, {})
    saver.delete_thread("c-2")
    saver.put_writes(stored, [("a", 2)], "late")  # c-2's last record, after its delete
    saver.delete_thread("c-2")
    assert cluster_keys(cluster_config) == []


@pytest.mark.parametrize("saver_type", [RedisSaver, ShallowRedisSaver])
async def test_a_put_after_script_flush_loads_its_script_again(
    config: RedisAgentConfig, saver_type: type[RedisSaver]
) -> None:
    # the put is one EVALSHA; a server that has not cached it (restart, SCRIPT FLUSH,
    # failover) gets the EVAL form once
    saver = saver_type(config)
    config.get_client().script_flush()
    cp = _checkpoint("1f0-1", x=1)
    stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
    config.get_client().script_flush()
    nxt = _checkpoint("1f0-2", x=2)
    await saver.aput(stored, nxt, {}, nxt["channel_versions"])
    latest = saver.get_tuple(_cfg("t"))
    assert latest is not None and latest.checkpoint["channel_values"] == {"x": 2}


@pytest.mark.cluster
def test_a_put_on_the_cluster_after_script_flush(cluster_config: RedisAgentConfig) -> None:
    saver = RedisSaver(cluster_config)
    for node in cluster_config.get_client().get_primaries():  # type: ignore[union-attr]
        node.redis_connection.script_flush()
    cp = _checkpoint("1f0-1", x=1)
    saver.put(_cfg("flushed"), cp, {}, cp["channel_versions"])
    assert saver.get_tuple(_cfg("flushed")) is not None


@pytest.mark.parametrize("saver_type", [RedisSaver, ShallowRedisSaver])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
async def test_copy_thread_copies_writes_saved_before_their_checkpoint(
    config: RedisAgentConfig, saver_type: type[RedisSaver], sync: bool
) -> None:
    # durability="async" saves in the background: a task's writes for the next checkpoint
    # are in Redis (noted in the thread's writes set) before that checkpoint is
    saver = saver_type(config, ttl=500)
    first = _checkpoint("1f0-1", x=1)
    stored = saver.put(_cfg("src"), first, {}, first["channel_versions"])
    early = _cfg("src", "", "1f0-2")
    saver.put_writes(early, [("x", 5), ("__interrupt__", "ask")], "task")
    if sync:
        saver.copy_thread("src", "fork")
    else:
        await saver.acopy_thread("src", "fork")
    client = config.get_client()
    noted = client.smembers(config.keys.checkpoint_unindexed("fork"))
    assert noted == {saver.core.record_key("fork", "", "1f0-2").encode()}
    assert 0 < client.ttl(config.keys.checkpoint_unindexed("fork")) <= 500
    # the checkpoint lands on each thread (a resumed fork saves its own): its writes are
    # there on both (before: the fork's had none, its interrupt lost)
    second = _checkpoint("1f0-2", x=2)
    for thread in ("src", "fork"):
        parent = {**stored, "configurable": {**stored["configurable"], "thread_id": thread}}
        saver.put(parent, second, {}, second["channel_versions"])
        latest = saver.get_tuple(_cfg(thread))
        assert latest is not None
        assert sorted(w[1:] for w in latest.pending_writes or []) == [
            ("__interrupt__", "ask"),
            ("x", 5),
        ]
    saver.delete_thread("fork")
    assert all(b"{src}" in k for k in _keys(config))


def test_copy_thread_of_a_thread_holding_only_early_writes(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    saver.put_writes(_cfg("src", "sub", "1f0-1"), [("x", 5)], "task")
    saver.copy_thread("src", "fork")
    saver.delete_thread("src")
    assert _keys(config) and all(b"{fork}" in k for k in _keys(config))
    cp = _checkpoint("1f0-1", x=1)
    saver.put(_cfg("fork", "sub"), cp, {}, cp["channel_versions"])
    latest = saver.get_tuple(_cfg("fork", "sub"))
    assert latest is not None and [w[2] for w in latest.pending_writes or []] == [5]
    saver.delete_thread("fork")
    assert _keys(config) == []


@pytest.mark.cluster
async def test_copy_thread_with_early_writes_on_the_cluster(
    cluster_config: RedisAgentConfig,
) -> None:
    # source and target live in two slots (two nodes, likely): reads on one, writes on
    # the other
    saver = AsyncRedisSaver(cluster_config)
    cp = _checkpoint("1f0-1", x=1)
    stored = await saver.aput(_cfg("src"), cp, {}, cp["channel_versions"])
    await saver.aput_writes(_cfg("src", "", "1f0-2"), [("x", 5)], "task")
    await saver.acopy_thread("src", "fork")
    nxt = _checkpoint("1f0-2", x=2)
    await saver.aput(_cfg("fork", "", "1f0-1"), nxt, {}, nxt["channel_versions"])
    latest = await saver.aget_tuple(_cfg("fork"))
    assert latest is not None and [w[2] for w in latest.pending_writes or []] == [5]
    assert stored["configurable"]["checkpoint_id"] == "1f0-1"
    await saver.adelete_thread("fork")
    await saver.adelete_thread("src")
    assert cluster_keys(cluster_config) == []


def test_a_put_after_the_thread_expired_is_refused(config: RedisAgentConfig) -> None:
    # a step that ran longer than ttl=: the thread expired with its values, as if deleted
    saver = RedisSaver(config, ttl=1)
    cp = _checkpoint("1f0-1", x=1)
    stored = saver.put(_cfg("t"), cp, {}, cp["channel_versions"])
    client = config.get_client()
    for key in _keys(config):
        client.pexpire(key, 1)
    time.sleep(0.05)
    assert _keys(config) == []
    nxt = _checkpoint("1f0-2", y=2)
    with pytest.raises(ThreadDeletedError, match=r"expired \(ttl=\)"):
        saver.put(stored, nxt, {}, {"y": nxt["channel_versions"]["y"]})
    assert _keys(config) == []
