"""LlamaIndex: agents coordinate through bus FunctionTools; instrumentation events
are published to a topic."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
import pytest
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms import MockLLM
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

from llamaindex_redis_agent.bus import BusEventHandler, make_bus_tools
from redis_agent_core.bus import AgentBus
from redis_agent_core.config import RedisAgentConfig


def calling(tool_name: str, **tool_kwargs: Any) -> MockFunctionCallingLLM:
    """A fake function-calling model that always calls ``tool_name``."""

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        block = ToolCallBlock(tool_call_id="c1", tool_name=tool_name, tool_kwargs=tool_kwargs)
        return ChatMessage(role="assistant", blocks=[block])

    return MockFunctionCallingLLM(response_generator=respond)


@pytest.fixture
def bus(config: RedisAgentConfig) -> AgentBus:
    return AgentBus(config, sender="li-test")


@pytest.fixture
def handler(bus: AgentBus) -> Iterator[BusEventHandler]:
    h = BusEventHandler(bus=bus, topic="li.events")
    root = get_dispatcher()
    root.add_event_handler(h)
    yield h
    root.event_handlers.remove(h)


def test_agent_b_continues_from_agent_a_result(bus: AgentBus) -> None:
    tools_a = make_bus_tools(bus, group="solver")
    tools_b = make_bus_tools(bus, group="checker")
    assert all(isinstance(t, FunctionTool) for t in tools_a)
    received: list[str] = []

    def agent_b() -> None:
        llm = calling("wait_for_message", topic="li.results", timeout_seconds=10)
        out = llm.predict_and_call(tools_b, user_msg="check the solver's result")
        message = orjson.loads(str(out))["message"]
        received.append(MockLLM().complete(f"Continuing from: {message}").text)

    thread = threading.Thread(target=agent_b)
    thread.start()
    out_a = calling("publish_message", topic="li.results", message="x = 7").predict_and_call(
        tools_a, user_msg="solve"
    )
    thread.join(15)
    assert "Published message" in str(out_a)
    assert received and received[0].endswith("Continuing from: x = 7")


async def test_async_tools(bus: AgentBus, aconfig: RedisAgentConfig) -> None:
    publish, wait = make_bus_tools(bus, group="ag", max_wait=1)
    await publish.acall(topic="li.async", message="hi")
    out = await wait.acall(topic="li.async", timeout_seconds=1)
    assert orjson.loads(str(out))["message"] == "hi"
    assert "No message" in str(await wait.acall(topic="li.async", timeout_seconds=0.1))


def test_event_handler_publishes_llm_and_tool_events(
    bus: AgentBus, handler: BusEventHandler
) -> None:
    MockLLM().complete("hello there")
    calling("add", a=2, b=3).predict_and_call(
        [FunctionTool.from_defaults(fn=lambda a, b: a + b, name="add", description="add")],
        user_msg="add",
    )
    events = [m.payload for m in bus.consumer("li.events", "monitor").read(count=100)]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "LLMCompletionEndEvent"
    assert "hello there" in orjson.dumps(events[0]).decode()
    assert "LLMChatEndEvent" in kinds
    assert all(k in handler.event_types for k in kinds)  # no start events by default
    assert all(e["span_id"] for e in events)


def test_event_handler_with_redis_down_does_not_break_calls(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    # explicit level: an earlier Celery test worker may have left the root logger at ERROR
    caplog.set_level(logging.WARNING, logger="llamaindex_redis_agent.bus")
    dead = AgentBus(RedisAgentConfig(url=f"unix://{tmp_path}/none.sock", retries=0))
    h = BusEventHandler(bus=dead)
    root = get_dispatcher()
    root.add_event_handler(h)
    try:
        assert MockLLM().complete("still works").text.endswith("still works")
    finally:
        root.event_handlers.remove(h)
    assert "could not publish" in caplog.text
