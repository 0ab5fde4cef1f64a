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
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from .config import RedisAgentConfig, get_default_config, translate_errors, unavailable
from .errors import ConfigError, DataCorruptionError, RedisAgentError

__all__ = [
    "AgentBus",
    "AsyncSubscription",
    "BusTimeoutError",
    "BusTools",
    "Envelope",
    "Subscription",
    "TopicConsumer",
    "decode_envelope",
    "encode_envelope",
    "make_envelope",
    "parse_autoclaim_reply",
    "parse_stream_reply",
]

log = logging.getLogger(__name__)

ENVELOPE_VERSION = 1
_FIELD = b"e"  # a stream entry holds one field: the encoded envelope


class BusTimeoutError(RedisAgentError, TimeoutError):
    """No message or reply arrived within the timeout."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(slots=True)
class Envelope:
    """One bus message; treat it as read-only.

    ``payload`` is any JSON-serialisable value. ``correlation_id`` ties a reply to its
    request (and lets callers thread a conversation); ``reply_to`` is the channel a
    reply should go to. ``stream_id`` (durable topics) and ``receivers`` (channels:
    how many subscribers got it) describe the delivery and are not serialised.
    (Not frozen: a frozen dataclass costs ~1 µs more to build, per message and side.)
    """

    id: str
    topic: str
    sender: str
    payload: Any
    time: float
    correlation_id: str | None = None
    reply_to: str | None = None
    stream_id: str | None = field(default=None, compare=False)
    receivers: int | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The serialised fields (what goes over the wire)."""
        return {
            "v": ENVELOPE_VERSION,
            "id": self.id,
            "topic": self.topic,
            "sender": self.sender,
            "correlation_id": self.correlation_id,
            "reply_to": self.reply_to,
            "time": self.time,
            "payload": self.payload,
        }


# Message ids need uniqueness, not secrecy: a private PRNG seeded from os.urandom (and
# reseeded in forked children; user calls to random.seed() cannot touch it) costs a
# fraction of a getrandom() syscall per message.
_ids = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)

_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _delivered(env: Envelope, **fields: Any) -> Envelope:
    """Set delivery fields on an envelope built in this call and not yet shared
    (``dataclasses.replace`` costs ~8 µs, a tenth of a publish round trip)."""
    for name, value in fields.items():
        setattr(env, name, value)
    return env


def make_envelope(
    topic: str,
    payload: Any,
    *,
    sender: str,
    correlation_id: str | None = None,
    reply_to: str | None = None,
) -> Envelope:
    """A new envelope with a fresh id and the current time."""
    if not isinstance(topic, str) or not topic:
        raise ConfigError(f"topic must be a non-empty string, got {topic!r}")
    return Envelope(
        id=f"{_ids.getrandbits(128):032x}",  # 128 random bits; os.urandom is a syscall
        topic=topic,
        sender=sender,
        payload=payload,
        time=time.time(),
        correlation_id=correlation_id,
        reply_to=reply_to,
    )


def encode_envelope(envelope: Envelope) -> bytes:
    """JSON bytes of an envelope; raises :class:`ConfigError` for a non-JSON payload."""
    try:
        return orjson.dumps(envelope.to_dict())
    except TypeError as exc:
        raise ConfigError(
            f"bus payload on topic {envelope.topic!r} is not JSON-serialisable ({exc}); "
            "send dicts, lists, strings, numbers, booleans or None"
        ) from exc


def decode_envelope(
    data: bytes | str, *, source: str = "bus", stream_id: str | None = None
) -> Envelope:
    """Parse and validate an envelope; :class:`DataCorruptionError` names ``source``."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DataCorruptionError(f"{source}: message is not JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise DataCorruptionError(f"{source}: message is not a JSON object")
    try:
        env_id, topic, sender = raw["id"], raw["topic"], raw["sender"]
        stamp = float(raw["time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataCorruptionError(f"{source}: message lacks envelope field {exc}") from exc
    if not (isinstance(env_id, str) and isinstance(topic, str) and isinstance(sender, str)):
        raise DataCorruptionError(f"{source}: envelope fields id, topic, sender must be strings")
    env = Envelope(
        id=env_id,
        topic=topic,
        sender=sender,
        payload=raw.get("payload"),
        time=stamp,
        correlation_id=raw.get("correlation_id"),
        reply_to=raw.get("reply_to"),
        stream_id=stream_id,
    )
    return env


def _entries(entries: Any, source: str) -> tuple[list[Envelope], list[str]]:
    """Decode stream entries; returns (envelopes, ids to drop: deleted or corrupt)."""
    good: list[Envelope] = []
    drop: list[str] = []
    for entry_id, fields in entries or ():
        sid = _text(entry_id)
        if not fields:  # trimmed by MAXLEN while pending: nothing left to deliver
            drop.append(sid)
            continue
        data = fields.get(_FIELD, fields.get(_FIELD.decode()))
        try:
            if data is None:
                raise DataCorruptionError(f"{source} entry {sid}: no envelope field")
            good.append(decode_envelope(data, source=f"{source} entry {sid}", stream_id=sid))
        except DataCorruptionError as exc:
            log.warning("dropping a corrupt bus message: %s", exc)
            drop.append(sid)
    return good, drop


def parse_stream_reply(reply: Any, source: str = "stream") -> tuple[list[Envelope], list[str]]:
    """Parse an XREADGROUP reply (RESP2 list or RESP3 map) of one stream."""
    if not reply:
        return [], []
    if isinstance(reply, Mapping):
        streams: Any = list(reply.values())
    else:
        streams = [item[1] for item in reply]
    envelopes: list[Envelope] = []
    drop: list[str] = []
    for entries in streams:
        # RESP3 may nest the entries one level deeper
        if (
            entries
            and isinstance(entries[0], list)
            and entries[0]
            and isinstance(entries[0][0], list)
        ):
            entries = entries[0]
        good, bad = _entries(entries, source)
        envelopes += good
        drop += bad
    return envelopes, drop


def parse_autoclaim_reply(
    reply: Any, source: str = "stream"
) -> tuple[str, list[Envelope], list[str]]:
    """Parse XAUTOCLAIM: (next cursor, claimed envelopes, ids to drop)."""
    cursor = _text(reply[0])
    good, drop = _entries(reply[1], source)
    if len(reply) > 2:
        drop += [_text(x) for x in reply[2] or ()]
    return cursor, good, drop


def _default_sender() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class AgentBus:
    """Channels (Pub/Sub) and durable topics (Streams) for agents.

    Args:
        config: the pack's config (default: the process-wide one).
        sender: name stamped on every envelope this bus sends.
        maxlen: approximate cap of each durable topic's length (oldest trimmed first).

    Construction does no I/O.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        sender: str | None = None,
        maxlen: int | None = 10_000,
    ) -> None:
        if maxlen is not None and maxlen <= 0:
            raise ConfigError(f"maxlen must be > 0 or None, got {maxlen!r}")
        self.config = config or get_default_config()
        self.sender = sender or _default_sender()
        self.maxlen = maxlen
        self._keys = self.config.keys
        # topic -> key memo: building and escaping a key costs more than encoding a message
        self._channel_names: dict[str, str] = {}
        self._stream_names: dict[str, str] = {}

    # -- keys --
    def channel(self, topic: str) -> str:
        """Pub/Sub channel name of an ephemeral topic."""
        name = self._channel_names.get(topic)
        if name is None:
            name = self._channel_names[topic] = self._keys.bus_channel(topic)
            if len(self._channel_names) > 10_000:
                self._channel_names.clear()
        return name

    def stream(self, topic: str) -> str:
        """Stream key of a durable topic."""
        name = self._stream_names.get(topic)
        if name is None:
            name = self._stream_names[topic] = self._keys.bus_stream(topic)
            if len(self._stream_names) > 10_000:
                self._stream_names.clear()
        return name

    def _envelope(
        self, topic: str, payload: Any, correlation_id: str | None, reply_to: str | None
    ) -> tuple[Envelope, bytes]:
        env = make_envelope(
            topic, payload, sender=self.sender, correlation_id=correlation_id, reply_to=reply_to
        )
        return env, encode_envelope(env)

    def _xadd_kwargs(self) -> dict[str, Any]:
        if self.maxlen is None:
            return {}
        return {"maxlen": self.maxlen, "approximate": True}

    # -- publishing --
    def publish(
        self,
        topic: str,
        payload: Any,
        *,
        durable: bool = False,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> Envelope:
        """Send ``payload`` on ``topic``: a Stream entry if ``durable``, else Pub/Sub.

        Returns the envelope sent, with ``stream_id`` (durable) or ``receivers`` set.
        """
        env, data = self._envelope(topic, payload, correlation_id, reply_to)
        client = self.config.get_client()
        try:  # inline, not translate_errors(): this is the hot path
            if durable:
                sid = client.xadd(self.stream(topic), {_FIELD: data}, **self._xadd_kwargs())
                return _delivered(env, stream_id=_text(sid))
            n = client.publish(self.channel(topic), data)
        except _REDIS_DOWN as exc:
            raise unavailable(self.config, f"publishing to bus topic {topic!r}", exc) from exc
        return _delivered(env, receivers=int(n))

    async def apublish(
        self,
        topic: str,
        payload: Any,
        *,
        durable: bool = False,
        correlation_id: str | None = None,
        reply_to: str | None = None,
    ) -> Envelope:
        """Async :meth:`publish`."""
        env, data = self._envelope(topic, payload, correlation_id, reply_to)
        client = self.config.get_async_client()
        try:
            if durable:
                sid = await client.xadd(self.stream(topic), {_FIELD: data}, **self._xadd_kwargs())
                return _delivered(env, stream_id=_text(sid))
            n = await client.publish(self.channel(topic), data)
        except _REDIS_DOWN as exc:
            raise unavailable(self.config, f"publishing to bus topic {topic!r}", exc) from exc
        return _delivered(env, receivers=int(n))

    # -- channels --
    def subscribe(self, *topics: str) -> Subscription:
        """Subscribe to channels; messages published after this returns are received."""
        if not topics:
            raise ConfigError("subscribe() needs at least one topic")
        return Subscription(self, [self.channel(t) for t in topics]).start()

    def asubscribe(self, *topics: str) -> AsyncSubscription:
        """Async :meth:`subscribe` (use ``async with`` or ``await sub.start()``)."""
        if not topics:
            raise ConfigError("asubscribe() needs at least one topic")
        return AsyncSubscription(self, [self.channel(t) for t in topics])

    # -- durable topics --
    def consumer(
        self,
        topic: str,
        group: str,
        name: str | None = None,
        *,
        start: str = "0",
        claim_idle: float | None = 30.0,
        max_deliveries: int | None = None,
    ) -> TopicConsumer:
        """A consumer of a durable topic in consumer group ``group``.

        Each message goes to one consumer of a group; several groups each get every
        message. ``start``: where a *new* group begins ("0": everything retained,
        "$": only new messages). ``claim_idle``: seconds after which a message another
        consumer read but never acked is taken over (``None``: never).
        ``max_deliveries``: a message delivered more often than this goes to the topic
        ``<topic>.dead`` instead of being claimed again (``None``: no limit).
        """
        return TopicConsumer(
            self, topic, group, name, start=start, claim_idle=claim_idle,
            max_deliveries=max_deliveries,
        )  # fmt: skip

    def topic_length(self, topic: str) -> int:
        """Number of messages retained in a durable topic."""
        with translate_errors(self.config, f"reading the length of bus topic {topic!r}"):
            return int(self.config.get_client().xlen(self.stream(topic)))

    # -- request / reply --
    def request(
        self, topic: str, payload: Any, *, timeout: float = 5.0, durable: bool = False
    ) -> Envelope:
        """Send a request and wait for its reply; :class:`BusTimeoutError` after ``timeout``."""
        cid = uuid.uuid4().hex
        reply_channel = self.config.keys.bus_reply(cid)
        with Subscription(self, [reply_channel]) as sub:
            self.publish(
                topic, payload, durable=durable, correlation_id=cid, reply_to=reply_channel
            )
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                msg = sub.get(timeout=left)
                if msg is not None and msg.correlation_id == cid:
                    return msg
        raise BusTimeoutError(
            f"no reply to the request on bus topic {topic!r} within {timeout:g}s: is a "
            "responder running and subscribed to that topic? Raise timeout= if it is slow."
        )

    async def arequest(
        self, topic: str, payload: Any, *, timeout: float = 5.0, durable: bool = False
    ) -> Envelope:
        """Async :meth:`request`."""
        cid = uuid.uuid4().hex
        reply_channel = self.config.keys.bus_reply(cid)
        async with AsyncSubscription(self, [reply_channel]) as sub:
            await self.apublish(
                topic, payload, durable=durable, correlation_id=cid, reply_to=reply_channel
            )
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                msg = await sub.get(timeout=left)
                if msg is not None and msg.correlation_id == cid:
                    return msg
        raise BusTimeoutError(
            f"no reply to the request on bus topic {topic!r} within {timeout:g}s: is a "
            "responder running and subscribed to that topic? Raise timeout= if it is slow."
        )

    def _reply_envelope(self, request: Envelope, payload: Any) -> tuple[str, Envelope, bytes]:
        if not request.reply_to:
            raise ConfigError(
                f"message {request.id} on topic {request.topic!r} is not a request "
                "(it has no reply_to): send requests with AgentBus.request()"
            )
        env, data = self._envelope(request.topic, payload, request.correlation_id, None)
        return request.reply_to, env, data

    def reply(self, request: Envelope, payload: Any) -> Envelope:
        """Answer a request received on a channel or a durable topic."""
        channel, env, data = self._reply_envelope(request, payload)
        with translate_errors(self.config, f"replying on bus topic {request.topic!r}"):
            n = self.config.get_client().publish(channel, data)
        return _delivered(env, receivers=int(n))

    async def areply(self, request: Envelope, payload: Any) -> Envelope:
        """Async :meth:`reply`."""
        channel, env, data = self._reply_envelope(request, payload)
        with translate_errors(self.config, f"replying on bus topic {request.topic!r}"):
            n = await self.config.get_async_client().publish(channel, data)
        return _delivered(env, receivers=int(n))


_MESSAGE_TYPES = frozenset({"message", "pmessage", b"message", b"pmessage"})


def _message_data(message: Any) -> tuple[Any, Any] | None:
    """(channel, data) of a Pub/Sub 'message', else None (confirmations, pings)."""
    if not message or message.get("type") not in _MESSAGE_TYPES:
        return None
    return message.get("channel"), message.get("data")


def _close_quietly(pubsub: Any) -> None:
    try:
        pubsub.close()
    except (redis.exceptions.RedisError, OSError):
        pass


def _decode_or_skip(channel: Any, data: Any) -> Envelope | None:
    try:
        return decode_envelope(data, source="channel")
    except DataCorruptionError as exc:
        log.warning("dropping a corrupt bus message on %s: %s", _text(channel), exc)
        return None


class Subscription:
    """A live Pub/Sub subscription (sync). Use as a context manager; iterate or ``get``."""

    def __init__(self, bus: AgentBus, channels: Sequence[str]) -> None:
        self._bus = bus
        self._channels = list(channels)
        self._pubsub: Any = None

    def start(self) -> Subscription:
        """Subscribe and wait for the server's confirmation (``AgentBus.subscribe`` and
        ``with`` do this)."""
        if self._pubsub is not None:
            return self
        config = self._bus.config
        pubsub = config.get_client().pubsub()
        try:
            with translate_errors(config, f"subscribing to {self._channels}"):
                pubsub.subscribe(*self._channels)
                self._pubsub = pubsub
                self._await_confirmations()
        except BaseException:
            # never keep a half-made subscription: a retry must subscribe again
            self._pubsub = None
            _close_quietly(pubsub)
            raise
        return self

    def _await_confirmations(self) -> None:
        # SUBSCRIBE is only in effect once confirmed: wait so no later message is missed
        pending = len(self._channels)
        deadline = time.monotonic() + self._bus.config.socket_timeout
        while pending and time.monotonic() < deadline:
            msg = self._pubsub.get_message(timeout=deadline - time.monotonic())
            if msg and _text(msg.get("type")) == "subscribe":
                pending -= 1

    def get(self, timeout: float | None = None) -> Envelope | None:
        """The next message, waiting up to ``timeout`` seconds (``None``: forever)."""
        pubsub = self._pubsub if self._pubsub is not None else self.start()._pubsub
        # lean loop: this is the receive hot path (one clock read per empty wait)
        deadline = None if timeout is None else time.monotonic() + timeout
        wait = 1.0 if timeout is None else max(0.0, timeout)
        try:
            while True:
                message = pubsub.get_message(timeout=wait)
                if message is not None and message.get("type") in _MESSAGE_TYPES:
                    env = _decode_or_skip(message.get("channel"), message.get("data"))
                    if env is not None:
                        return env
                if deadline is not None:
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        return None
        except _REDIS_DOWN as exc:
            raise unavailable(
                self._bus.config, f"reading bus channels {self._channels}", exc
            ) from exc

    def __iter__(self) -> Iterator[Envelope]:
        while True:
            env = self.get(timeout=None)
            if env is not None:
                yield env

    def close(self) -> None:
        """Unsubscribe and release the connection."""
        if self._pubsub is None:
            return
        _close_quietly(self._pubsub)
        self._pubsub = None

    def __enter__(self) -> Subscription:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSubscription:
    """A live Pub/Sub subscription (asyncio): ``async with bus.asubscribe(t) as sub``."""

    def __init__(self, bus: AgentBus, channels: Sequence[str]) -> None:
        self._bus = bus
        self._channels = list(channels)
        self._pubsub: Any = None

    async def start(self) -> AsyncSubscription:
        """Subscribe and wait for the server's confirmation."""
        if self._pubsub is not None:
            return self
        config = self._bus.config
        pubsub = config.get_async_client().pubsub()
        try:
            with translate_errors(config, f"subscribing to {self._channels}"):
                await pubsub.subscribe(*self._channels)
                pending = len(self._channels)
                deadline = time.monotonic() + config.socket_timeout
                while pending and time.monotonic() < deadline:
                    msg = await pubsub.get_message(timeout=deadline - time.monotonic())
                    if msg and _text(msg.get("type")) == "subscribe":
                        pending -= 1
        except BaseException:
            # never keep a half-made subscription: a retry must subscribe again
            try:
                await pubsub.aclose()
            except (redis.exceptions.RedisError, OSError):
                pass
            raise
        self._pubsub = pubsub
        return self

    async def get(self, timeout: float | None = None) -> Envelope | None:
        """The next message, waiting up to ``timeout`` seconds (``None``: forever)."""
        await self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                wait = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
                got = _message_data(await self._pubsub.get_message(timeout=wait))
                if got is not None:
                    env = _decode_or_skip(*got)
                    if env is not None:
                        return env
                if deadline is not None and time.monotonic() >= deadline:
                    return None
        except _REDIS_DOWN as exc:
            raise unavailable(
                self._bus.config, f"reading bus channels {self._channels}", exc
            ) from exc

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        while True:
            env = await self.get(timeout=None)
            if env is not None:
                yield env

    async def close(self) -> None:
        """Unsubscribe and release the connection."""
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except (redis.exceptions.RedisError, OSError):
                pass
            self._pubsub = None

    async def __aenter__(self) -> AsyncSubscription:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class TopicConsumer:
    """Reads a durable topic as one member of a consumer group (at-least-once).

    ``read`` returns messages to process; ``ack`` them when done. Messages left
    unacked by a consumer that crashed are claimed by ``read`` once idle for
    ``claim_idle`` seconds. With ``max_deliveries``, a claimed message already
    delivered more often than that (a "poison" message that keeps killing its
    consumers) is moved to the durable topic ``<topic>.dead`` and acked instead of
    being handed out again. The group is created on first use.
    """

    def __init__(
        self,
        bus: AgentBus,
        topic: str,
        group: str,
        name: str | None = None,
        *,
        start: str = "0",
        claim_idle: float | None = 30.0,
        max_deliveries: int | None = None,
    ) -> None:
        if not group:
            raise ConfigError("a consumer needs a non-empty group name")
        if max_deliveries is not None and max_deliveries < 1:
            raise ConfigError(f"max_deliveries must be >= 1 or None, got {max_deliveries!r}")
        self.bus = bus
        self.topic = topic
        self.group = group
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.start = start
        self.claim_idle = claim_idle
        self.max_deliveries = max_deliveries
        self.key = bus.stream(topic)
        self._group_ready = False
        self._claim_cursor = "0-0"
        self._next_claim = 0.0  # monotonic time of the next XAUTOCLAIM sweep

    @property
    def _config(self) -> RedisAgentConfig:
        return self.bus.config

    # -- pure helpers shared by sync and async --
    def _block_ms(self, block: float | None) -> int | None:
        if block is None:
            return None
        # a BLOCK longer than the socket timeout would surface as a TimeoutError
        cap = max(0.0, self._config.socket_timeout - 0.25)
        return max(1, int(min(block, cap) * 1000))

    def _claim_due(self) -> bool:
        return self.claim_idle is not None and time.monotonic() >= self._next_claim

    def _after_claim(self, cursor: str, claimed: int) -> None:
        self._claim_cursor = cursor
        # sweep again soon while there is a backlog of stale messages, else in a while
        assert self.claim_idle is not None
        pause = 0.0 if (claimed or cursor != "0-0") else max(0.05, self.claim_idle / 2)
        self._next_claim = time.monotonic() + pause

    def _source(self) -> str:
        return f"bus topic {self.topic!r}"

    def _pending_queries(self, pipe: Any, envs: Sequence[Envelope]) -> None:
        for env in envs:
            pipe.xpending_range(self.key, self.group, min=env.stream_id, max=env.stream_id, count=1)

    def _exhausted(
        self, envs: Sequence[Envelope], replies: Sequence[Any]
    ) -> tuple[list[Envelope], list[tuple[Envelope, int]]]:
        """Split claimed messages into (to deliver, to dead-letter with their count)."""
        keep: list[Envelope] = []
        dead: list[tuple[Envelope, int]] = []
        assert self.max_deliveries is not None
        for env, rows in zip(envs, replies, strict=True):
            times = int(rows[0]["times_delivered"]) if rows else 0
            if times > self.max_deliveries:
                dead.append((env, times))
            else:
                keep.append(env)
        return keep, dead

    def _bury(self, pipe: Any, dead: Sequence[tuple[Envelope, int]]) -> None:
        dead_key = self.bus.stream(f"{self.topic}.dead")
        for env, times in dead:
            log.warning(
                "bus message %s on topic %r was delivered %d times without an ack; moved "
                "to topic %r",
                env.id, self.topic, times, f"{self.topic}.dead",
            )  # fmt: skip
            fields = {_FIELD: encode_envelope(env), "deliveries": times, "group": self.group}
            pipe.xadd(dead_key, fields, **self.bus._xadd_kwargs())
            pipe.xack(self.key, self.group, env.stream_id)

    # -- sync --
    def ensure_group(self) -> None:
        """Create the group (and the stream) if missing."""
        if self._group_ready:
            return
        with translate_errors(self._config, f"creating consumer group {self.group!r}"):
            try:
                self._config.get_client().xgroup_create(
                    self.key, self.group, id=self.start, mkstream=True
                )
            except redis.exceptions.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_ready = True

    def claim(self, min_idle: float | None = None, count: int = 10) -> list[Envelope]:
        """Take over messages pending longer than ``min_idle`` s (default ``claim_idle``)."""
        self.ensure_group()
        idle = self.claim_idle if min_idle is None else min_idle
        if idle is None:
            return []
        client = self._config.get_client()
        with translate_errors(self._config, f"claiming stale messages of {self._source()}"):
            reply = client.xautoclaim(
                self.key, self.group, self.name, int(idle * 1000), self._claim_cursor, count=count
            )
            cursor, envs, drop = parse_autoclaim_reply(reply, self._source())
            if drop:
                client.xack(self.key, self.group, *drop)
            if envs and self.max_deliveries is not None:
                pipe = client.pipeline(transaction=False)
                self._pending_queries(pipe, envs)
                envs, dead = self._exhausted(envs, pipe.execute())
                if dead:
                    pipe = client.pipeline(transaction=False)
                    self._bury(pipe, dead)
                    pipe.execute()
        if self.claim_idle is not None:
            self._after_claim(cursor, len(envs))
        return envs

    def read(self, count: int = 10, block: float | None = None) -> list[Envelope]:
        """Up to ``count`` messages: stale ones claimed first, then new ones.

        ``block``: seconds to wait for a new message (``None``: don't wait).
        """
        self.ensure_group()
        if self._claim_due():
            claimed = self.claim(count=count)
            if claimed:
                return claimed
        client = self._config.get_client()
        try:
            reply = client.xreadgroup(
                self.group, self.name, {self.key: ">"}, count=count, block=self._block_ms(block)
            )
            envs, drop = parse_stream_reply(reply, self.key)
            if drop:
                client.xack(self.key, self.group, *drop)
        except _REDIS_DOWN as exc:
            raise unavailable(self._config, f"reading {self._source()}", exc) from exc
        return envs

    def ack(self, *messages: Envelope | str) -> int:
        """Acknowledge processed messages (envelopes or stream ids)."""
        ids = [m if isinstance(m, str) else m.stream_id for m in messages]
        ids = [i for i in ids if i]
        if not ids:
            return 0
        try:
            return int(self._config.get_client().xack(self.key, self.group, *ids))
        except _REDIS_DOWN as exc:
            raise unavailable(self._config, f"acking messages of {self._source()}", exc) from exc

    def pending(self) -> int:
        """Messages of this group read but not yet acked (by any consumer)."""
        self.ensure_group()
        with translate_errors(self._config, f"reading pending messages of {self._source()}"):
            info = self._config.get_client().xpending(self.key, self.group)
        return int(info["pending"])

    def receive(self, timeout: float | None = None) -> Envelope | None:
        """One message, waiting up to ``timeout`` seconds (``None``: forever); not acked."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 1.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return None
            got = self.read(count=1, block=left)
            if got:
                return got[0]

    def __iter__(self) -> Iterator[Envelope]:
        """Messages forever (blocking); the caller acks each one."""
        while True:
            yield from self.read(block=1.0)

    # -- async --
    async def aensure_group(self) -> None:
        """Async :meth:`ensure_group`."""
        if self._group_ready:
            return
        with translate_errors(self._config, f"creating consumer group {self.group!r}"):
            try:
                await self._config.get_async_client().xgroup_create(
                    self.key, self.group, id=self.start, mkstream=True
                )
            except redis.exceptions.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_ready = True

    async def aclaim(self, min_idle: float | None = None, count: int = 10) -> list[Envelope]:
        """Async :meth:`claim`."""
        await self.aensure_group()
        idle = self.claim_idle if min_idle is None else min_idle
        if idle is None:
            return []
        client = self._config.get_async_client()
        with translate_errors(self._config, f"claiming stale messages of {self._source()}"):
            reply = await client.xautoclaim(
                self.key, self.group, self.name, int(idle * 1000), self._claim_cursor, count=count
            )
            cursor, envs, drop = parse_autoclaim_reply(reply, self._source())
            if drop:
                await client.xack(self.key, self.group, *drop)
            if envs and self.max_deliveries is not None:
                pipe = client.pipeline(transaction=False)
                self._pending_queries(pipe, envs)
                envs, dead = self._exhausted(envs, await pipe.execute())
                if dead:
                    pipe = client.pipeline(transaction=False)
                    self._bury(pipe, dead)
                    await pipe.execute()
        if self.claim_idle is not None:
            self._after_claim(cursor, len(envs))
        return envs

    async def aread(self, count: int = 10, block: float | None = None) -> list[Envelope]:
        """Async :meth:`read`."""
        await self.aensure_group()
        if self._claim_due():
            claimed = await self.aclaim(count=count)
            if claimed:
                return claimed
        client = self._config.get_async_client()
        try:
            reply = await client.xreadgroup(
                self.group, self.name, {self.key: ">"}, count=count, block=self._block_ms(block)
            )
            envs, drop = parse_stream_reply(reply, self.key)
            if drop:
                await client.xack(self.key, self.group, *drop)
        except _REDIS_DOWN as exc:
            raise unavailable(self._config, f"reading {self._source()}", exc) from exc
        return envs

    async def aack(self, *messages: Envelope | str) -> int:
        """Async :meth:`ack`."""
        ids = [m if isinstance(m, str) else m.stream_id for m in messages]
        ids = [i for i in ids if i]
        if not ids:
            return 0
        try:
            return int(await self._config.get_async_client().xack(self.key, self.group, *ids))
        except _REDIS_DOWN as exc:
            raise unavailable(self._config, f"acking messages of {self._source()}", exc) from exc

    async def areceive(self, timeout: float | None = None) -> Envelope | None:
        """Async :meth:`receive`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 1.0 if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return None
            got = await self.aread(count=1, block=left)
            if got:
                return got[0]

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        while True:
            for env in await self.aread(block=1.0):
                yield env


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
        self.max_wait = max_wait
        self._consumers: dict[str, TopicConsumer] = {}

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
