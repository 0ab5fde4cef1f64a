"""A message bus for agents: ephemeral channels on Pub/Sub, durable topics on Streams.

Two delivery modes, one typed JSON envelope (:class:`Envelope`):

- **Channels** (``publish(..., durable=False)`` / :meth:`AgentBus.subscribe`): Redis
  Pub/Sub. Lowest latency, no storage, no guarantee: a message published while nobody
  listens is gone.
- **Durable topics** (``publish(..., durable=True)`` / :meth:`AgentBus.consumer`): one
  Redis Stream per topic, read through consumer groups. At-least-once: a message stays
  pending until a consumer acks it, and one a crashed consumer held is claimed by
  another (XAUTOCLAIM) once idle long enough. Order within a topic is the stream
  order. Length is bounded (``MAXLEN ~``).

:meth:`AgentBus.request` / :meth:`AgentBus.reply` give request/reply with a timeout;
replies travel on a per-request Pub/Sub channel the requester subscribes to *before*
sending, so a fast reply cannot be missed.

Sync methods have ``a``-prefixed asyncio twins; both share the pure functions that
build envelopes and parse replies. Redis down: every call raises
:class:`~redis_agent_core.errors.RedisUnavailableError` (nothing is buffered locally).

Modules: ``envelope`` (the envelope and its wire format), ``channels`` (Pub/Sub
subscriptions), ``streams`` (durable topics: consumer groups and their reply parsing),
``agent_bus`` (:class:`AgentBus`) and ``tools`` (:class:`BusTools`, the agent tools'
bodies).
"""

from __future__ import annotations

from .agent_bus import AgentBus, BusTimeoutError
from .channels import AsyncSubscription, Subscription
from .envelope import ENVELOPE_VERSION as ENVELOPE_VERSION
from .envelope import Envelope, decode_envelope, encode_envelope, make_envelope
from .streams import CorruptEntry, TopicConsumer, parse_autoclaim_reply, parse_stream_reply
from .tools import BusTools

__all__ = [
    "AgentBus",
    "AsyncSubscription",
    "BusTimeoutError",
    "BusTools",
    "CorruptEntry",
    "Envelope",
    "Subscription",
    "TopicConsumer",
    "decode_envelope",
    "encode_envelope",
    "make_envelope",
    "parse_autoclaim_reply",
    "parse_stream_reply",
]
