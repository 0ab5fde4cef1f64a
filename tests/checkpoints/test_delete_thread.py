"""delete_thread against a run still saving: a checkpoint saved while the thread was being
deleted survived as an orphan (the run's next checkpoint then raised DataCorruptionError),
and pending writes saved after the delete left a hash no later delete_thread found."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from langchain_redis_agent.checkpoint import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
)
from redis_agent_core.config import RedisAgentConfig
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


def _run_with_interleaved_put(config: RedisAgentConfig, sync: bool) -> RedisSaver:
    saver = RedisSaver(config) if sync else AsyncRedisSaver(config)
    first = _checkpoint("1f0-1", a="one")
    saver.put(_cfg("t"), first, {"step": 1}, first["channel_versions"])
    # the run saves its next checkpoint (its values too) while the user deletes the thread
    second = _checkpoint("1f0-2", a="one", b="two")

    def put_second() -> None:
        saver.put(_cfg("t", "", "1f0-1"), second, {"step": 2}, second["channel_versions"])

    plan = _between_steps(saver._store.delete_plan("t"), put_second)
    if sync:
        run_plan(config, plan, "deleting thread")
    else:
        import asyncio

        asyncio.run(arun_plan(config, plan, "deleting thread"))
    # ... and then its third, which references the values saved with the second
    third = _checkpoint("1f0-3", a="one", b="two")
    saver.put(_cfg("t", "", "1f0-2"), third, {"step": 3}, {})
    return saver


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_a_checkpoint_saved_during_delete_thread_leaves_no_broken_thread(
    config: RedisAgentConfig, sync: bool
) -> None:
    saver = _run_with_interleaved_put(config, sync)
    # before: the second checkpoint's record outlived the delete while its values did
    # not, and reading the thread raised DataCorruptionError
    latest = saver.get_tuple(_cfg("t"))
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"a": "one", "b": "two"}
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
    parent = None
    for i, ns in enumerate(["", "sub:1", "a|{b}%"]):
        cp = _checkpoint(f"1f0-{i}:%{{x}}", a=i)
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
        parent = None
        for i, ns in enumerate(["", "sub"]):
            cp = _checkpoint(f"1f0-{i}", a=i)
            stored = await saver.aput(_cfg(thread, ns, parent), cp, {}, cp["channel_versions"])
            await saver.aput_writes(stored, [("a", 1)], "task")
            parent = cp["id"]
    await saver.adelete_thread("c-1")
    saver.delete_thread("c-2")
    saver.put_writes(stored, [("a", 2)], "late")  # c-2's last record, after its delete
    saver.delete_thread("c-2")
    assert cluster_keys(cluster_config) == []
