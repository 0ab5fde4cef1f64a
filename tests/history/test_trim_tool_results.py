"""Trimming to ``max_messages`` never leaves a tool result first: its call was trimmed
away, and a model refuses a tool result with no call before it (OpenAI answers 400
"messages with role 'tool' must be a response to a preceding message with 'tool_calls'",
Anthropic a ``tool_result`` without its ``tool_use``), so every later turn of the
session failed until the window moved past it."""

from __future__ import annotations

from langchain_core.messages import AIMessage, FunctionMessage, HumanMessage, ToolMessage
from llama_index.core.llms import ChatMessage

from langchain_redis_agent import RedisChatMessageHistory
from llamaindex_redis_agent import RedisAsyncChatStore, RedisChatStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.history import SessionStore


def _turn(city: str) -> list:
    call = {"name": "weather", "args": {"city": city}, "id": f"call-{city}"}
    return [
        HumanMessage(f"weather in {city}?"),
        AIMessage("", tool_calls=[call]),
        ToolMessage(f"sunny in {city}", tool_call_id=f"call-{city}"),
        AIMessage(f"It is sunny in {city}."),
    ]


def test_langchain_history_never_starts_with_a_tool_result(config: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=config, max_messages=6)
    history.add_messages(_turn("Paris"))
    history.add_messages(_turn("Oslo"))  # the newest 6 start with Paris's tool result
    assert [m.type for m in history.messages] == ["ai", "human", "ai", "tool", "ai"]
    assert history.messages[0].content == "It is sunny in Paris."
    # one call's several results, a function result, one append of its own longer
    # than the window: the results go with their call
    history = RedisChatMessageHistory("s2", config=config, max_messages=4)
    many = {"name": "w", "args": {}, "id": "c1"}, {"name": "w", "args": {}, "id": "c2"}
    history.add_messages([
        HumanMessage("two cities"), AIMessage("", tool_calls=list(many)),
        ToolMessage("a", tool_call_id="c1"), ToolMessage("b", tool_call_id="c2"),
        FunctionMessage("old style", name="w"), AIMessage("done"), HumanMessage("thanks"),
    ])  # fmt: skip
    assert [m.content for m in history.messages] == ["done", "thanks"]
    assert len(history) == 2
    # payloads that are not a tool result (not JSON, no type or role) are trimmed as before
    store = SessionStore(config, max_messages=2)
    payloads = [b"1", b'{"type": "tool"', b'{"kind": "tool"}', b'{"type": "tool", "x": 1}']
    assert store.append("p", payloads[:3]) == 2
    assert store.read("p") == payloads[1:3]
    assert store.append("p", payloads[3:]) == 2
    assert store.read("p") == payloads[2:]  # a tool result that is not first: kept


async def test_llamaindex_stores_never_start_with_a_tool_result(aconfig: RedisAgentConfig) -> None:
    turn = [
        ChatMessage(role="user", content="weather in Paris?"),
        ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [{"id": "c"}]}),
        ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "c"}),
        ChatMessage(role="assistant", content="It is sunny."),
    ]
    store = RedisChatStore(config=aconfig, max_messages=2)
    store.set_messages("k", turn)  # a replace trims too
    assert [m.content for m in store.get_messages("k")] == ["It is sunny."]
    for message in turn:
        store.add_message("k", message)
    assert [m.role.value for m in store.get_messages("k")] == ["assistant"]
    astore = RedisAsyncChatStore(config=aconfig, max_messages=2)
    await astore.add_messages("a", turn)
    assert [m.role.value for m in await astore.get_messages("a")] == ["assistant"]
