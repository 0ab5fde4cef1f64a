"""``list`` decodes a value shared by many checkpoints once per call, yet every tuple
gets objects of its own, equal to what LangGraph's InMemorySaver returns."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from langchain_redis_agent.checkpoint import RedisSaver, ShallowRedisSaver
from redis_agent_core.config import RedisAgentConfig


class Counted(BaseModel):
    """A state value that counts how often it is built (validated)."""

    built: ClassVar[int] = 0
    tags: list[str]
    extra: dict[str, Any]

    def __init__(self, **data: Any) -> None:
        Counted.built += 1
        super().__init__(**data)


def _chat(n: int) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        if i % 2:
            out.append(
                AIMessage(
                    f"answer {i}",
                    id=f"a{i}",
                    additional_kwargs={"meta": {"n": [i]}},
                    tool_calls=[{"name": "look", "args": {"q": [f"x{i}"]}, "id": f"c{i}"}],
                )
            )
        else:
            out.append(HumanMessage([{"type": "text", "text": f"question {i}"}], id=f"h{i}"))
    return out


def _fill(saver: Any, thread: str, steps: int, extra: dict[str, Any] | None = None) -> None:
    """A chat thread: checkpoint k holds messages 0..k (the prefix shared with k-1)."""
    from langgraph.checkpoint.base import empty_checkpoint

    config: dict[str, Any] = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    messages = _chat(steps)
    for step in range(steps):
        cp = empty_checkpoint()
        cp["id"] = f"1f0-{step:04}"
        version = f"{step + 1:032}.0"
        cp["channel_values"] = {"messages": messages[: step + 1], **(extra or {})}
        cp["channel_versions"] = {ch: version for ch in cp["channel_values"]}
        config = saver.put(config, cp, {"step": step}, dict(cp["channel_versions"]))


def _values(tuples: list[Any]) -> list[Any]:
    return [t.checkpoint["channel_values"] for t in tuples]


@pytest.mark.parametrize("saver_class", [RedisSaver, ShallowRedisSaver])
async def test_list_returns_what_a_fresh_decode_returns(
    config: RedisAgentConfig, saver_class: type[RedisSaver]
) -> None:
    saver, floor = saver_class(config), InMemorySaver()
    for s in (saver, floor):
        _fill(s, "t", 6)
    thread: Any = {"configurable": {"thread_id": "t"}}
    listed = list(saver.list(thread))
    alisted = [t async for t in saver.alist(thread)]
    expected = _values(list(floor.list(thread)))
    if saver_class is ShallowRedisSaver:
        expected = expected[:1]
    assert _values(listed) == _values(alisted) == expected
    for tup in listed:
        got = saver.get_tuple(tup.config)
        assert got is not None
        assert got.checkpoint["channel_values"] == tup.checkpoint["channel_values"]
    await config.aclose()


async def test_mutating_one_tuple_changes_no_other(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config)
    _fill(saver, "t", 4)
    thread: Any = {"configurable": {"thread_id": "t"}}
    for tuples in (list(saver.list(thread)), [t async for t in saver.alist(thread)]):
        newest, older = tuples[0], tuples[1]
        before = [m.model_copy(deep=True) for m in older.checkpoint["channel_values"]["messages"]]
        human, ai = newest.checkpoint["channel_values"]["messages"][:2]
        # every mutable part a user could touch: the message, its lists and dicts
        human.content[0]["text"] = "changed"
        human.content.append({"type": "text", "text": "more"})
        ai.content = "changed"
        ai.additional_kwargs["meta"]["n"].append(99)
        ai.tool_calls[0]["args"]["q"].append("y")
        ai.response_metadata["new"] = 1
        newest.checkpoint["channel_values"]["messages"].pop()
        assert older.checkpoint["channel_values"]["messages"] == before
        # and a later call is not affected by what was done to an earlier one's objects
        again = list(saver.list(thread, limit=2))
        assert again[1].checkpoint["channel_values"]["messages"] == before
        assert again[0].checkpoint["channel_values"]["messages"][0].content[0]["text"] == (
            "question 0"
        )
    await config.aclose()


def test_a_value_shared_by_checkpoints_is_built_once_per_list(config: RedisAgentConfig) -> None:
    saver = RedisSaver(config, allowed_types=[Counted])
    value = Counted(tags=["a"], extra={"k": [1]})
    _fill(saver, "t", 5, extra={"counted": value})
    Counted.built = 0
    tuples = list(saver.list({"configurable": {"thread_id": "t"}}))
    assert len(tuples) == 5
    assert Counted.built == 1
    values = [t.checkpoint["channel_values"]["counted"] for t in tuples]
    assert all(v == value for v in values)
    values[0].tags.append("b")
    values[0].extra["k"].append(2)
    assert all(v == value for v in values[1:])
