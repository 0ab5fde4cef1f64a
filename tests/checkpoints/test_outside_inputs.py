"""Values a caller passes in from outside (a request, a form, a model): a blank
checkpoint id, a str where a list of ids belongs. Each read as LangGraph's own savers
read it, or refused before anything is deleted."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, StateGraph

from langchain_redis_agent.checkpoint import (
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
)
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError


class Count(TypedDict):
    n: Annotated[int, operator.add]


def _graph() -> StateGraph:
    return StateGraph(Count).add_node("inc", lambda s: {"n": 1}).add_edge(START, "inc")


def _conf(thread: str, **extra: str) -> dict:
    return {"configurable": {"thread_id": thread, **extra}}


@pytest.mark.parametrize("kind", [RedisSaver, ShallowRedisSaver])
def test_a_blank_checkpoint_id_reads_the_latest_as_langgraph_does(
    config: RedisAgentConfig, kind: type[RedisSaver]
) -> None:
    saver, memory = kind(config), InMemorySaver()
    for one in (saver, memory):
        graph = _graph().compile(checkpointer=one)
        graph.invoke({"n": 0}, _conf("t"))
        graph.invoke({"n": 0}, _conf("t"))
        # a client that always sends checkpoint_id, blank for "the latest": the thread
        # went on from its state (n == 3), not from an empty one (n == 1)
        assert graph.invoke({"n": 0}, _conf("t", checkpoint_id=""))["n"] == 3
    blank = saver.get_tuple(_conf("t", checkpoint_id=""))
    assert blank is not None
    assert blank.checkpoint["id"] == saver.get_tuple(_conf("t")).checkpoint["id"]  # type: ignore[union-attr]
    listed = list(saver.list(_conf("t", checkpoint_id="")))
    assert [t.checkpoint["id"] for t in listed] == [
        t.checkpoint["id"] for t in saver.list(_conf("t"))
    ]
    before_blank = list(saver.list(_conf("t"), before=_conf("t", checkpoint_id="")))
    assert len(before_blank) == len(listed) > 0


@pytest.mark.parametrize("kind", [AsyncRedisSaver, AsyncShallowRedisSaver])
async def test_a_blank_checkpoint_id_reads_the_latest_async(
    config: RedisAgentConfig, kind: type[RedisSaver]
) -> None:
    saver = kind(config)
    graph = _graph().compile(checkpointer=saver)
    await graph.ainvoke({"n": 0}, _conf("t"))
    assert (await graph.ainvoke({"n": 0}, _conf("t", checkpoint_id="")))["n"] == 2
    assert await saver.aget_tuple(_conf("t", checkpoint_id="")) is not None
    assert [t async for t in saver.alist(_conf("t", checkpoint_id=""))]


def test_a_str_of_thread_ids_is_refused_before_anything_is_pruned(
    config: RedisAgentConfig,
) -> None:
    saver = RedisSaver(config)
    threads = ["a", "b", "c", "abc"]
    graph = _graph().compile(checkpointer=saver)
    for thread in threads:
        graph.invoke({"n": 0}, _conf(thread))
    # iterated, "abc" was the threads "a", "b" and "c": they were deleted, "abc" kept
    for strategy in ("delete", "keep_latest"):
        with pytest.raises(ConfigError, match=r"thread_ids must be a list.*\['abc'\]"):
            saver.prune("abc", strategy=strategy)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="run_ids must be a list"):
        saver.delete_for_runs("abc")  # type: ignore[arg-type]
    assert all(saver.get_tuple(_conf(t)) is not None for t in threads)
    saver.prune(("abc",), strategy="delete")
    assert [saver.get_tuple(_conf(t)) is not None for t in threads] == [True, True, True, False]


async def test_a_str_of_thread_ids_is_refused_async(config: RedisAgentConfig) -> None:
    saver = AsyncRedisSaver(config)
    await _graph().compile(checkpointer=saver).ainvoke({"n": 0}, _conf("a"))
    with pytest.raises(ConfigError, match="thread_ids must be a list"):
        await saver.aprune("abc", strategy="delete")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="run_ids must be a list"):
        await saver.adelete_for_runs("abc")  # type: ignore[arg-type]
    assert await saver.aget_tuple(_conf("a")) is not None


@pytest.mark.parametrize("kind", [RedisSaver, ShallowRedisSaver])
def test_a_blank_thread_id_is_refused_not_shared(
    config: RedisAgentConfig, kind: type[RedisSaver]
) -> None:
    saver = kind(config)
    graph = _graph().compile(checkpointer=saver)
    # an app passing a missing session id on as "": every such caller resumed the same
    # thread (the second anonymous user got n == 2, the first one's state)
    with pytest.raises(ConfigError, match=r"thread_id is blank.*its own id"):
        graph.invoke({"n": 0}, _conf(""))
    with pytest.raises(ConfigError, match="thread_id is blank"):
        saver.get_tuple(_conf(""))
    with pytest.raises(ConfigError, match="thread_id is blank"):
        list(saver.list(_conf("")))
    with pytest.raises(ConfigError, match="thread_id is blank"):
        saver.delete_thread("")
    with pytest.raises(ConfigError, match="thread_id is blank"):
        saver.prune([""], strategy="delete")
    assert list(saver.list(None)) == []  # nothing was written
    assert graph.invoke({"n": 0}, _conf("0"))["n"] == 1  # a non-blank id, even "0", is one


async def test_a_blank_thread_id_is_refused_async(config: RedisAgentConfig) -> None:
    saver = AsyncRedisSaver(config)
    graph = _graph().compile(checkpointer=saver)
    with pytest.raises(ConfigError, match="thread_id is blank"):
        await graph.ainvoke({"n": 0}, _conf(""))
    with pytest.raises(ConfigError, match="thread_id is blank"):
        await saver.aget_tuple(_conf(""))
    with pytest.raises(ConfigError, match="thread_id is blank"):
        await saver.adelete_thread("")
    assert [t async for t in saver.alist(None)] == []
