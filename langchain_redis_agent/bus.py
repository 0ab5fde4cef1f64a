"""LangChain on the agent bus: a callback handler publishing run events, and tools for
an agent to publish a message and to wait for one.

``BusCallbackHandler`` (sync) and ``AsyncBusCallbackHandler`` publish one envelope per
LLM / tool / chain end and per error to a topic (durable by default, so a monitor that
starts late still sees them). Publishing never breaks the agent: with Redis down the
event is dropped and a warning logged (at most every 30 s).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from langchain_core.tools import BaseTool, StructuredTool

from redis_agent_core.bus import AgentBus, BusTools
from redis_agent_core.errors import RedisAgentError

__all__ = ["AsyncBusCallbackHandler", "BusCallbackHandler", "make_bus_tools", "run_event"]

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "agent.events"


def _jsonable(value: Any, max_chars: int, depth: int = 0) -> Any:
    """A JSON-safe, size-bounded copy of a run output for the event payload."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + "…"
    if depth > 4:
        return _jsonable(repr(value), max_chars)
    if isinstance(value, BaseMessage):
        return {"type": value.type, "content": _jsonable(value.content, max_chars, depth + 1)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v, max_chars, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, max_chars, depth + 1) for v in value[:50]]
    content = getattr(value, "content", None)  # ToolMessage and friends
    if content is not None:
        return _jsonable(content, max_chars, depth + 1)
    return _jsonable(str(value), max_chars, depth + 1)


def _tool_output(output: Any) -> Any:
    # a tool invoked with a ToolCall returns a ToolMessage: its content is the output
    return output.content if isinstance(output, BaseMessage) else output


def _llm_output(response: LLMResult, max_chars: int) -> tuple[Any, Any]:
    texts = [g.text for gens in response.generations for g in gens]
    usage = None
    for gens in response.generations:
        for g in gens:
            message = getattr(g, "message", None)
            if message is not None and getattr(message, "usage_metadata", None):
                usage = dict(message.usage_metadata)
    if usage is None and response.llm_output:
        usage = response.llm_output.get("token_usage") or response.llm_output.get("usage")
    return _jsonable(texts[0] if len(texts) == 1 else texts, max_chars), _jsonable(usage, 200)


def run_event(
    event: str,
    *,
    run_id: UUID,
    parent_run_id: UUID | None,
    name: str | None,
    output: Any = None,
    error: BaseException | None = None,
    usage: Any = None,
    tags: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The payload of one run event (pure; shared by the sync and async handlers)."""
    payload: dict[str, Any] = {
        "event": event,
        "run_id": str(run_id),
        "parent_run_id": str(parent_run_id) if parent_run_id else None,
        "name": name,
    }
    if output is not None:
        payload["output"] = output
    if usage is not None:
        payload["usage"] = usage
    if error is not None:
        payload["error"] = f"{type(error).__name__}: {error}"
    if tags:
        payload["tags"] = list(tags)
    return payload


class _EventsMixin:
    """State and payload building shared by both handlers."""

    bus: AgentBus
    topic: str
    durable: bool
    max_chars: int
    _names: dict[UUID, str]
    _last_warning: float

    def _setup(
        self, bus: AgentBus, topic: str, durable: bool, max_chars: int, chains: bool
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.durable = durable
        self.max_chars = max_chars
        self.chains = chains
        self._names = {}
        self._last_warning = 0.0

    def _remember(self, run_id: UUID, serialized: Any, kwargs: dict[str, Any]) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name")
        if not name and isinstance(serialized, dict) and serialized.get("id"):
            name = serialized["id"][-1]
        if name:
            self._names[run_id] = str(name)

    def _dropped(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning("bus callback could not publish a run event (dropped): %s", exc)

    def _payload(
        self,
        event: str,
        run_id: UUID,
        parent_run_id: UUID | None,
        kwargs: dict[str, Any],
        **kw: Any,
    ) -> dict[str, Any]:
        name = self._names.pop(run_id, None) or kwargs.get("name")
        return run_event(
            event, run_id=run_id, parent_run_id=parent_run_id, name=name,
            tags=kwargs.get("tags"), **kw,
        )  # fmt: skip


class BusCallbackHandler(_EventsMixin, BaseCallbackHandler):
    """Publishes an agent's run events (LLM / tool / chain end, errors) to a bus topic.

    Args:
        bus: the :class:`~redis_agent_core.bus.AgentBus` to publish on.
        topic: topic name (default ``agent.events``).
        durable: Streams (kept, read by consumer groups) or Pub/Sub (live only).
        max_chars: outputs are cut to this many characters.
        chains: also publish chain ends/errors (nested chains are many: off trims noise).
    """

    raise_error = False  # observability must never stop the agent

    def __init__(
        self,
        bus: AgentBus,
        topic: str = DEFAULT_TOPIC,
        *,
        durable: bool = True,
        max_chars: int = 2000,
        chains: bool = True,
    ) -> None:
        super().__init__()
        self._setup(bus, topic, durable, max_chars, chains)

    def _send(self, payload: dict[str, Any]) -> None:
        try:
            self.bus.publish(self.topic, payload, durable=self.durable)
        except RedisAgentError as exc:
            self._dropped(exc)

    # starts: only remember names
    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._remember(run_id, serialized, kwargs)

    def on_tool_start(
        self, serialized: Any, input_str: str, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._remember(run_id, serialized, kwargs)

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._remember(run_id, serialized, kwargs)

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._remember(run_id, serialized, kwargs)

    # ends and errors: publish
    def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        output, usage = _llm_output(response, self.max_chars)
        self._send(
            self._payload("llm_end", run_id, parent_run_id, kwargs, output=output, usage=usage)
        )

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._send(self._payload("llm_error", run_id, parent_run_id, kwargs, error=error))

    def on_tool_end(
        self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        out = _jsonable(_tool_output(output), self.max_chars)
        self._send(self._payload("tool_end", run_id, parent_run_id, kwargs, output=out))

    def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        self._send(self._payload("tool_error", run_id, parent_run_id, kwargs, error=error))

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        if not self.chains:
            self._names.pop(run_id, None)
            return
        out = _jsonable(outputs, self.max_chars)
        self._send(self._payload("chain_end", run_id, parent_run_id, kwargs, output=out))

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.chains:
            self._names.pop(run_id, None)
            return
        self._send(self._payload("chain_error", run_id, parent_run_id, kwargs, error=error))


class AsyncBusCallbackHandler(_EventsMixin, AsyncCallbackHandler):
    """Async twin of :class:`BusCallbackHandler` (publishes with redis.asyncio)."""

    raise_error = False

    def __init__(
        self,
        bus: AgentBus,
        topic: str = DEFAULT_TOPIC,
        *,
        durable: bool = True,
        max_chars: int = 2000,
        chains: bool = True,
    ) -> None:
        super().__init__()
        self._setup(bus, topic, durable, max_chars, chains)

    async def _send(self, payload: dict[str, Any]) -> None:
        try:
            await self.bus.apublish(self.topic, payload, durable=self.durable)
        except RedisAgentError as exc:
            self._dropped(exc)

    async def on_chain_start(
        self, serialized: Any, inputs: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._remember(run_id, serialized, kwargs)

    async def on_tool_start(
        self, serialized: Any, input_str: str, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._remember(run_id, serialized, kwargs)

    async def on_llm_start(
        self, serialized: Any, prompts: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._remember(run_id, serialized, kwargs)

    async def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self._remember(run_id, serialized, kwargs)

    async def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        output, usage = _llm_output(response, self.max_chars)
        await self._send(
            self._payload("llm_end", run_id, parent_run_id, kwargs, output=output, usage=usage)
        )

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        await self._send(self._payload("llm_error", run_id, parent_run_id, kwargs, error=error))

    async def on_tool_end(
        self, output: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        out = _jsonable(_tool_output(output), self.max_chars)
        await self._send(self._payload("tool_end", run_id, parent_run_id, kwargs, output=out))

    async def on_tool_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        await self._send(self._payload("tool_error", run_id, parent_run_id, kwargs, error=error))

    async def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        if not self.chains:
            self._names.pop(run_id, None)
            return
        out = _jsonable(outputs, self.max_chars)
        await self._send(self._payload("chain_end", run_id, parent_run_id, kwargs, output=out))

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.chains:
            self._names.pop(run_id, None)
            return
        await self._send(self._payload("chain_error", run_id, parent_run_id, kwargs, error=error))


def make_bus_tools(
    bus: AgentBus,
    *,
    group: str,
    topics: Sequence[str] | None = None,
    max_wait: float = 60.0,
) -> list[BaseTool]:
    """Two tools for an agent: ``publish_message`` and ``wait_for_message``.

    Messages go over durable topics; waiting reads through consumer group ``group``
    (name it after the agent's role). ``topics`` restricts which topics the agent may
    use; ``max_wait`` caps how long one wait may block.
    """
    tools = BusTools(bus, group=group, topics=topics, max_wait=max_wait)
    descriptions = tools.descriptions

    def publish_message(topic: str, message: str) -> str:
        return tools.publish_message(topic, message)

    async def apublish_message(topic: str, message: str) -> str:
        return await tools.apublish_message(topic, message)

    def wait_for_message(topic: str, timeout_seconds: float = 30.0) -> str:
        return tools.wait_for_message(topic, timeout_seconds)

    async def await_message(topic: str, timeout_seconds: float = 30.0) -> str:
        return await tools.await_message(topic, timeout_seconds)

    return [
        StructuredTool.from_function(
            func=publish_message,
            coroutine=apublish_message,
            name="publish_message",
            description=descriptions["publish_message"],
        ),
        StructuredTool.from_function(
            func=wait_for_message,
            coroutine=await_message,
            name="wait_for_message",
            description=descriptions["wait_for_message"],
        ),
    ]
