"""Bugs reported against the peers' LangGraph savers, store and cache, tried here on a
real server (docs/migrating.md, "Known bugs of the peers"). None occurs here; each test
holds what a user relies on and nothing else in tests/checkpoints asserts."""

from __future__ import annotations

import asyncio
import enum
import operator
from typing import Annotated, Any

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from pydantic import BaseModel
from typing_extensions import TypedDict

from langchain_redis_agent.checkpoint import AsyncShallowRedisSaver, RedisSaver
from langchain_redis_agent.node_cache import RedisNodeCache
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from tests.checkpoints.test_savers import _checkpoint


def _cfg(thread: str, ns: str = "") -> dict:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}


def test_node_cache_keys_never_collide_across_namespace_and_key(
    config: RedisAgentConfig,
) -> None:
    """langgraph#8851: LangGraph's RedisCache joined namespace and key with ':', so
    (("a", "b"), "k"), (("a:b",), "k") and (("a",), "b:k") were one entry."""
    cache = RedisNodeCache(config)
    cache.set({(("a", "b"), "k"): ("left", None)})
    got = cache.get([(("a:b",), "k"), (("a",), "b:k"), (("a", "b"), "k")])
    assert got == {(("a", "b"), "k"): "left"}
    cache.set({(("a:b",), "k"): ("right", None)})
    assert cache.get([(("a", "b"), "k")]) == {(("a", "b"), "k"): "left"}


async def test_async_shallow_saver_sets_the_ttl_of_its_writes_too(
    config: RedisAgentConfig,
) -> None:
    """langgraph-redis#137: AsyncShallowRedisSaver left its pending writes without a TTL
    (a leak in every thread that stopped at an interrupt)."""
    saver = AsyncShallowRedisSaver(config, ttl=100)
    cp = _checkpoint("1f0-a", x=1)
    stored = await saver.aput(_cfg("t"), cp, {}, cp["channel_versions"])
    await saver.aput_writes(stored, [("x", 2), ("__interrupt__", "ask")], "task")
    client = config.get_client()
    ttls = {k: client.ttl(k) for k in client.scan_iter(match=f"{config.namespace}:*")}
    assert ttls and all(0 < t <= 100 for t in ttls.values()), ttls
    found = await saver.aget_tuple(_cfg("t"))
    assert found is not None
    assert sorted(w[1:] for w in found.pending_writes or []) == [
        ("__interrupt__", "ask"),
        ("x", 2),
    ]


def test_a_later_interrupt_write_of_a_task_keeps_its_regular_writes(
    config: RedisAgentConfig,
) -> None:
    """langgraphjs#2518: writes were stored at their position in the call, so a second
    put_writes([(INTERRUPT, ...)]) of the same task overwrote the task's first regular
    write (both at index 0). Special channels have their own slots; a retried regular
    write keeps its first value."""
    saver = RedisSaver(config)
    cp = _checkpoint("1f0-a", x=1)
    stored = saver.put(_cfg("w"), cp, {}, cp["channel_versions"])
    saver.put_writes(stored, [("x", 1)], "t1")
    saver.put_writes(stored, [("__interrupt__", "stop")], "t1")
    saver.put_writes(stored, [("y", 2), ("z", 3), ("__interrupt__", "stop2")], "t2")
    saver.put_writes(stored, [("x", 99)], "t1")  # a retry of t1's regular write
    writes = saver.get_tuple(_cfg("w")).pending_writes  # type: ignore[union-attr]
    assert sorted(writes) == [
        ("t1", "__interrupt__", "stop"),
        ("t1", "x", 1),
        ("t2", "__interrupt__", "stop2"),
        ("t2", "y", 2),
        ("t2", "z", 3),
    ]


def test_prune_of_no_thread_changes_nothing(config: RedisAgentConfig) -> None:
    """langgraph-redis#186: prune([]) must be a no-op, sync and async."""
    saver = RedisSaver(config)
    for cid in ("1f0-a", "1f0-b"):
        cp = _checkpoint(cid, x=cid)
        saver.put(_cfg("p"), cp, {}, cp["channel_versions"])
    saver.prune([])
    asyncio.run(saver.aprune([]))
    assert [t.checkpoint["id"] for t in saver.list(_cfg("p"))] == ["1f0-b", "1f0-a"]


class Phase(enum.Enum):
    DRAFT = "draft"
    READY = "query_ready"


class Artifact(BaseModel):
    name: str
    phase: Phase


class ArtifactState(TypedDict):
    art: Artifact
    log: Annotated[list[str], operator.add]


def _artifact_graph(saver: Any) -> Any:
    def make(state: ArtifactState) -> dict[str, Any]:
        return {"art": Artifact(name="x", phase=Phase.READY), "log": ["made"]}

    def review(state: ArtifactState) -> dict[str, Any]:
        return {"log": [f"{state['art'].phase.name}:{interrupt('ok?')}"]}

    builder = StateGraph(ArtifactState).add_node("make", make).add_node("review", review)
    builder.add_edge(START, "make").add_edge("make", "review").add_edge("review", END)
    return builder.compile(checkpointer=saver)


def test_an_enum_inside_a_model_comes_back_as_the_enum_after_resume(
    config: RedisAgentConfig,
) -> None:
    """langgraph#6718: a nested Enum field read back as None after an interrupt, and the
    resumed node failed. Here it comes back as the member; not allowed, it is refused
    as written, naming the type."""
    start = {"art": Artifact(name="x", phase=Phase.DRAFT), "log": []}
    with pytest.raises(ConfigError, match=r"test_peer_bugs\.Phase.*nothing was written"):
        _artifact_graph(RedisSaver(config, allowed_types=[Artifact])).invoke(
            start, {"configurable": {"thread_id": "e1"}}
        )
    thread = {"configurable": {"thread_id": "e2"}}
    _artifact_graph(RedisSaver(config, allowed_types=[Artifact, Phase])).invoke(start, thread)
    again = _artifact_graph(RedisSaver(config, allowed_types=[Artifact, Phase]))
    done = again.invoke(Command(resume="yes"), thread)
    assert done["art"].phase is Phase.READY
    assert done["log"] == ["made", "READY:yes"]
