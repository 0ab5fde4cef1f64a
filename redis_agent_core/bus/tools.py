"""Framework-free agent tools on the bus: :class:`BusTools` (publish a message, wait
for a message), which the LangChain and LlamaIndex adapters wrap."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ..config import check_seconds
from ..errors import ConfigError
from .agent_bus import AgentBus
from .envelope import Envelope
from .streams import TopicConsumer


class BusTools:
    """Framework-free bodies of the agent tools "publish a message" and "wait for a
    message" on durable topics; the adapters wrap them as LangChain tools and
    LlamaIndex ``FunctionTool``s.

    Waiting reads through consumer group ``group`` (one per agent role), so a message
    published before the agent started waiting is not lost, and each message is
    handed to one agent of the group; it is acked once returned to the agent.
    """

    def __init__(
        self,
        bus: AgentBus,
        *,
        group: str,
        topics: Sequence[str] | None = None,
        max_wait: float = 60.0,
    ) -> None:
        self.bus = bus
        self.group = group
        self.topics = list(topics) if topics else None
        # a NaN or inf cap is no cap: the model picks the wait
        self.max_wait = check_seconds(max_wait, "max_wait", zero=True)
        self._consumers: dict[str, TopicConsumer] = {}

    @property
    def descriptions(self) -> dict[str, str]:
        """What an agent is told of each tool, by tool name (the allowed topics included);
        both adapters show these texts, so an agent reads the same in either framework."""
        allowed = f" Topics: {', '.join(self.topics)}." if self.topics else ""
        return {
            "publish_message": "Publish a message (text) on a topic for other agents." + allowed,
            "wait_for_message": (
                "Wait up to timeout_seconds for the next message on a topic; returns it as "
                "JSON with sender and message, or says that nothing arrived." + allowed
            ),
        }

    def _check_topic(self, topic: str) -> None:
        if self.topics is not None and topic not in self.topics:
            raise ConfigError(f"topic {topic!r} is not allowed here; use one of {self.topics}")

    def _consumer(self, topic: str) -> TopicConsumer:
        consumer = self._consumers.get(topic)
        if consumer is None:
            consumer = self._consumers[topic] = self.bus.consumer(topic, self.group)
        return consumer

    def _timeout(self, timeout_seconds: float) -> float:
        return max(0.0, min(float(timeout_seconds), self.max_wait))

    @staticmethod
    def describe(env: Envelope | None, topic: str, timeout: float) -> str:
        """What the agent sees: the message as JSON, or a plain 'nothing arrived'."""
        if env is None:
            return f"No message arrived on topic {topic!r} within {timeout:g} seconds."
        return orjson.dumps(
            {"topic": env.topic, "sender": env.sender, "message": env.payload, "id": env.id}
        ).decode()

    def publish_message(self, topic: str, message: str) -> str:
        """Publish ``message`` on a durable topic; returns a confirmation for the agent."""
        self._check_topic(topic)
        env = self.bus.publish(topic, message, durable=True)
        return f"Published message {env.id} on topic {topic!r}."

    async def apublish_message(self, topic: str, message: str) -> str:
        self._check_topic(topic)
        env = await self.bus.apublish(topic, message, durable=True)
        return f"Published message {env.id} on topic {topic!r}."

    def wait_for_message(self, topic: str, timeout_seconds: float = 30.0) -> str:
        """Wait for the next message on a durable topic and return it as JSON."""
        self._check_topic(topic)
        timeout = self._timeout(timeout_seconds)
        consumer = self._consumer(topic)
        env = consumer.receive(timeout=timeout)
        if env is not None:
            consumer.ack(env)
        return self.describe(env, topic, timeout)

    async def await_message(self, topic: str, timeout_seconds: float = 30.0) -> str:
        self._check_topic(topic)
        timeout = self._timeout(timeout_seconds)
        consumer = self._consumer(topic)
        env = await consumer.areceive(timeout=timeout)
        if env is not None:
            await consumer.aack(env)
        return self.describe(env, topic, timeout)
