"""LangChain: two agents coordinate over the bus; run events are published."""

from __future__ import annotations

import logging
import threading
from typing import Any

import orjson
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, tool

from langchain_redis_agent.bus import AsyncBusCallbackHandler, BusCallbackHandler, make_bus_tools
from redis_agent_core.bus import AgentBus
from redis_agent_core.config import RedisAgentConfig


class ScriptedAgentModel(BaseChatModel):
    """A fake model: on the user's turn it calls the scripted tool; after a tool
    result it answers by continuing from that result."""

    tool_name: str
    tool_args: dict[str, Any]

    @property
    def _llm_type(self) -> str:
        return "scripted-agent"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            msg = AIMessage(
                content=f"continuing from: {last.content}",
                usage_metadata={"input_tokens": 5, "output_tokens": 4, "total_tokens": 9},
            )
        else:
            msg = AIMessage(
                content="",
                tool_calls=[{"name": self.tool_name, "args": self.tool_args, "id": "call-1"}],
            )
        return ChatResult(generations=[ChatGeneration(message=msg)])


def run_agent(
    model: BaseChatModel,
    tools: list[BaseTool],
    prompt: str,
    callbacks: list[BaseCallbackHandler] | None = None,
) -> list[BaseMessage]:
    """The minimal tool-calling loop every agent framework runs."""
    by_name = {t.name: t for t in tools}
    config = {"callbacks": callbacks or []}
    messages: list[BaseMessage] = [HumanMessage(prompt)]
    while True:
        ai = model.invoke(messages, config=config)
        messages.append(ai)
        if not ai.tool_calls:
            return messages
        for call in ai.tool_calls:
            messages.append(by_name[call["name"]].invoke(call, config=config))


@pytest.fixture
def bus(config: RedisAgentConfig) -> AgentBus:
    return AgentBus(config, sender="lc-test")


def test_agent_b_continues_from_agent_a_result(bus: AgentBus) -> None:
    tools_a = make_bus_tools(bus, group="writer")
    tools_b = make_bus_tools(bus, group="reviewer")
    model_a = ScriptedAgentModel(
        tool_name="publish_message", tool_args={"topic": "results", "message": "the answer is 42"}
    )
    model_b = ScriptedAgentModel(
        tool_name="wait_for_message", tool_args={"topic": "results", "timeout_seconds": 10}
    )
    transcript_b: list[BaseMessage] = []
    waiting = threading.Thread(
        target=lambda: transcript_b.extend(run_agent(model_b, tools_b, "review the result"))
    )
    waiting.start()  # B is already waiting when A publishes
    transcript_a = run_agent(model_a, tools_a, "solve it")
    waiting.join(15)
    assert "Published message" in transcript_a[2].content
    received = orjson.loads(transcript_b[2].content)
    assert received["message"] == "the answer is 42" and received["topic"] == "results"
    assert (
        transcript_b[-1].content.startswith("continuing from:")
        and "the answer is 42" in transcript_b[-1].content
    )


def test_wait_tool_reports_timeout_and_later_reader_still_gets_message(bus: AgentBus) -> None:
    (publish, wait) = make_bus_tools(bus, group="late", max_wait=0.2)
    assert "No message arrived" in wait.invoke({"topic": "quiet", "timeout_seconds": 5})
    publish.invoke({"topic": "quiet", "message": "hello"})
    (_, wait_other) = make_bus_tools(bus, group="other-group")
    assert (
        orjson.loads(wait_other.invoke({"topic": "quiet", "timeout_seconds": 1}))["message"]
        == "hello"
    )
    assert orjson.loads(wait.invoke({"topic": "quiet", "timeout_seconds": 1}))["message"] == "hello"


def test_tools_restricted_to_topics(bus: AgentBus) -> None:
    (publish, _) = make_bus_tools(bus, group="g", topics=["ok"])
    with pytest.raises(Exception, match="not allowed"):
        publish.invoke({"topic": "secret", "message": "x"})


def test_callback_handler_publishes_run_events_in_order(bus: AgentBus) -> None:
    @tool
    def lookup(city: str) -> str:
        """Weather of a city."""
        return f"sunny in {city}"

    @tool
    def broken(city: str) -> str:
        """Always fails."""
        raise ValueError("no data")

    handler = BusCallbackHandler(bus, topic="events", chains=False)
    model = ScriptedAgentModel(tool_name="lookup", tool_args={"city": "Paris"})
    run_agent(model, [lookup], "weather?", callbacks=[handler])
    with pytest.raises(ValueError):
        broken.invoke({"city": "x"}, config={"callbacks": [handler]})
    monitor = bus.consumer("events", "monitor")
    events = [m.payload for m in monitor.read(count=100)]
    assert [e["event"] for e in events] == ["llm_end", "tool_end", "llm_end", "tool_error"]
    assert events[1]["name"] == "lookup" and events[1]["output"] == "sunny in Paris"
    assert events[2]["usage"]["total_tokens"] == 9
    assert "continuing from" in events[2]["output"]
    assert events[3]["name"] == "broken" and "no data" in events[3]["error"]
    assert events[0]["run_id"] != events[2]["run_id"]


async def test_async_handler_publishes(bus: AgentBus, aconfig: RedisAgentConfig) -> None:
    handler = AsyncBusCallbackHandler(bus, topic="aevents", chains=True)
    model = ScriptedAgentModel(tool_name="x", tool_args={})
    await model.ainvoke(
        [HumanMessage("hi"), ToolMessage("result", tool_call_id="c")],
        config={"callbacks": [handler]},
    )
    events = [m.payload["event"] for m in await bus.consumer("aevents", "m").aread(count=10)]
    assert events == ["llm_end"]


def test_redis_down_never_breaks_the_agent(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    # explicit level: an earlier Celery test worker may have left the root logger at ERROR
    caplog.set_level(logging.WARNING, logger="langchain_redis_agent.bus")
    dead = AgentBus(RedisAgentConfig(url=f"unix://{tmp_path}/none.sock", retries=0))
    handler = BusCallbackHandler(dead, topic="events")
    model = ScriptedAgentModel(tool_name="x", tool_args={})
    out = model.invoke(
        [HumanMessage("hi"), ToolMessage("r", tool_call_id="c")], config={"callbacks": [handler]}
    )
    assert out.content == "continuing from: r"
    assert "could not publish" in caplog.text
