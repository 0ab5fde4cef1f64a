"""LlamaIndex on the agent bus: an instrumentation event handler publishing events to
a topic, and ``FunctionTool``s for an agent to publish a message and to wait for one.

Attach the handler to a dispatcher (the root one sees everything)::

    from llama_index.core.instrumentation import get_dispatcher
    get_dispatcher().add_event_handler(BusEventHandler(bus=AgentBus(config)))

LlamaIndex's dispatcher swallows handler errors; this handler also never raises: with
Redis down the event is dropped and a warning logged (at most every 30 s).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.tools import FunctionTool
from pydantic import ConfigDict, Field, PrivateAttr

from redis_agent_core.bus import AgentBus, BusTools
from redis_agent_core.errors import RedisAgentError

__all__ = ["DEFAULT_EVENTS", "BusEventHandler", "event_payload", "make_bus_tools"]

log = logging.getLogger(__name__)

# End and error events: what a coordinator or monitor acts on (starts and stream
# deltas would multiply traffic for little use; pass event_types to choose).
DEFAULT_EVENTS = frozenset(
    {
        "LLMChatEndEvent",
        "LLMCompletionEndEvent",
        "LLMPredictEndEvent",
        "LLMStructuredPredictEndEvent",
        "AgentToolCallEvent",
        "AgentRunStepEndEvent",
        "AgentChatWithStepEndEvent",
        "QueryEndEvent",
        "RetrievalEndEvent",
        "SynthesizeEndEvent",
        "ExceptionEvent",
        "StreamChatErrorEvent",
        "StreamChatEndEvent",
    }
)


def _bounded(value: Any, max_chars: int, depth: int = 0) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= max_chars else value[:max_chars] + "…"
    if depth > 5:
        return _bounded(repr(value), max_chars)
    if isinstance(value, dict):
        return {str(k): _bounded(v, max_chars, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple)):
        return [_bounded(v, max_chars, depth + 1) for v in value[:50]]
    return _bounded(str(value), max_chars, depth + 1)


def event_payload(event: BaseEvent, max_chars: int = 2000) -> dict[str, Any]:
    """A JSON-safe, size-bounded payload of an instrumentation event (pure)."""
    try:
        data = event.model_dump(mode="json", exclude={"tags"})
    except Exception:  # an event with a field pydantic cannot serialise
        data = {"detail": repr(event)}
    data.pop("class_name", None)
    exc = getattr(event, "exception", None)
    if isinstance(exc, BaseException):
        data["error"] = f"{type(exc).__name__}: {exc}"
        data.pop("exception", None)
    data["event"] = event.class_name()
    data["id"] = str(getattr(event, "id_", ""))
    return _bounded(data, max_chars)


class BusEventHandler(BaseEventHandler):
    """Publishes LlamaIndex instrumentation events to a bus topic.

    Args:
        bus: the :class:`~redis_agent_core.bus.AgentBus`.
        topic: topic name (default ``agent.events``).
        durable: Streams (kept, consumer groups) or Pub/Sub (live only).
        event_types: class names to publish (default :data:`DEFAULT_EVENTS`).
        max_chars: strings in payloads are cut to this length.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    bus: AgentBus
    topic: str = "agent.events"
    durable: bool = True
    event_types: frozenset[str] = Field(default=DEFAULT_EVENTS)
    max_chars: int = 2000
    _last_warning: float = PrivateAttr(default=0.0)

    @classmethod
    def class_name(cls) -> str:
        return "RedisAgentBusEventHandler"

    def _wanted(self, event: BaseEvent) -> bool:
        return event.class_name() in self.event_types

    def _dropped(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 30:
            self._last_warning = now
            log.warning("bus event handler could not publish an event (dropped): %s", exc)

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if not self._wanted(event):
            return
        try:
            self.bus.publish(self.topic, event_payload(event, self.max_chars), durable=self.durable)
        except RedisAgentError as exc:
            self._dropped(exc)

    async def ahandle(self, event: BaseEvent, **kwargs: Any) -> None:
        if not self._wanted(event):
            return
        try:
            await self.bus.apublish(
                self.topic, event_payload(event, self.max_chars), durable=self.durable
            )
        except RedisAgentError as exc:
            self._dropped(exc)


def make_bus_tools(
    bus: AgentBus,
    *,
    group: str,
    topics: Sequence[str] | None = None,
    max_wait: float = 60.0,
) -> list[FunctionTool]:
    """``publish_message`` and ``wait_for_message`` as LlamaIndex ``FunctionTool``s.

    Same semantics as the LangChain tools: durable topics, waiting through consumer
    group ``group``, optional ``topics`` allow-list, ``max_wait`` cap per wait.
    """
    tools = BusTools(bus, group=group, topics=topics, max_wait=max_wait)
    descriptions = tools.descriptions

    def publish_message(topic: str, message: str) -> str:
        """Publish a message (text) on a topic for other agents."""
        return tools.publish_message(topic, message)

    async def apublish_message(topic: str, message: str) -> str:
        """Publish a message (text) on a topic for other agents."""
        return await tools.apublish_message(topic, message)

    def wait_for_message(topic: str, timeout_seconds: float = 30.0) -> str:
        """Wait for the next message on a topic."""
        return tools.wait_for_message(topic, timeout_seconds)

    async def await_message(topic: str, timeout_seconds: float = 30.0) -> str:
        """Wait for the next message on a topic."""
        return await tools.await_message(topic, timeout_seconds)

    return [
        FunctionTool.from_defaults(
            fn=publish_message,
            async_fn=apublish_message,
            name="publish_message",
            description=descriptions["publish_message"],
        ),
        FunctionTool.from_defaults(
            fn=wait_for_message,
            async_fn=await_message,
            name="wait_for_message",
            description=descriptions["wait_for_message"],
        ),
    ]
