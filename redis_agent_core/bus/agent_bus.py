"""The bus's entry point: :class:`AgentBus` (publish, subscribe, consume, request and
reply) and :class:`BusTimeoutError`."""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any, Literal

from .. import telemetry
from ..config import RedisAgentConfig, get_default_config
from ..errors import CapabilityError, ConfigError, RedisAgentError
from ..redis_errors import FAULTS, REPLY, map_redis_error, sent_once, translate_errors
from ..search.capabilities import (
    Capabilities,
    aget_capabilities,
    cached_capabilities,
    get_capabilities,
)
from .channels import AsyncSubscription, Subscription
from .envelope import (
    _FIELD,
    Envelope,
    _delivered,
    _text,
    check_count,
    check_seconds,
    encode_envelope,
    make_envelope,
)
from .streams import TopicConsumer


class BusTimeoutError(RedisAgentError, TimeoutError):
    """No message or reply arrived within the timeout."""


def _default_sender() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class AgentBus:
    """Channels (Pub/Sub) and durable topics (Streams) for agents.

    Args:
        config: the pack's config (default: the process-wide one).
        sender: name stamped on every envelope this bus sends.
        maxlen: approximate cap of each durable topic's length (oldest trimmed first).
        trim: ``"length"`` (default): the trim keeps the newest ``maxlen`` messages, read
            or not, so a consumer group more than ``maxlen`` behind never gets the oldest.
            ``"acked"`` (Redis >= 8.2, ``XADD ... ACKED``): the trim removes only messages
            every group has acked, so a topic may grow past ``maxlen`` while a group lags
            (without bound while a group is abandoned: delete it).

    Construction does no I/O.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        sender: str | None = None,
        maxlen: int | None = 10_000,
        trim: Literal["length", "acked"] = "length",
    ) -> None:
        if maxlen is not None:
            check_count(maxlen, "maxlen (None: no cap)", 2**63 - 1)  # a Redis integer
        if trim not in ("length", "acked"):
            raise ConfigError(f"trim must be 'length' or 'acked', got {trim!r}")
        if sender is not None and (not isinstance(sender, str) or not sender):
            # receivers would drop (and ack) every message with a non-str sender
            raise ConfigError(f"sender must be a non-empty str or None, got {sender!r}")
        self.config = config or get_default_config()
        self.sender = sender or _default_sender()
        self.maxlen = maxlen
        self.trim = trim
        # trim="acked" needs Redis >= 8.2: the server is asked once, before the first
        # write with that trim (the capabilities probe, cached for the process)
        self._trim_checked = trim != "acked"
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
        data = encode_envelope(env)
        # over the server's limit the connection closes mid-write: it read as Redis down
        self.config.check_value_sizes((data,), f"a message on bus topic {topic!r}")
        return env, data

    def xadd_kwargs(self) -> dict[str, Any]:
        """XADD options of this bus's streams (the approximate MAXLEN trim), for every
        writer of a topic stream (publishers, a consumer burying dead messages)."""
        if self.maxlen is None:
            return {}
        if self.trim == "acked":
            # exact: Redis 8.2 trimmed nothing at all with '~' and ACKED (measured)
            return {"maxlen": self.maxlen, "approximate": False, "ref_policy": "ACKED"}
        return {"maxlen": self.maxlen, "approximate": True}

    def _trim_supported(self, caps: Capabilities, topic: str) -> None:
        """Raise :class:`CapabilityError` when the server is known to lack ``XADD ...
        ACKED``; an unknown version (INFO and HELLO refused) lets the server answer."""
        if caps.acked_trim is False:
            raise CapabilityError(
                f"writing to bus topic {topic!r}: AgentBus(trim='acked') needs Redis >= 8.2 "
                f"(XADD ... ACKED); this server is Redis {caps.redis_version}. Use "
                "trim='length' (the default) with a maxlen above the largest backlog a "
                "group may build, or maxlen=None. Nothing was written"
            )
        self._trim_checked = True

    def _require_trim(self, topic: str = "") -> None:
        """Raise :class:`CapabilityError` unless the server can do this bus's trim
        (``trim="acked"``: Redis >= 8.2); asks the server once. Publishing, the
        consumers' dead letters and :meth:`check_trim` call it."""
        if not self._trim_checked:
            self._trim_supported(get_capabilities(self.config), topic)

    async def _arequire_trim(self, topic: str = "") -> None:
        """Async :meth:`_require_trim`."""
        if not self._trim_checked:
            self._trim_supported(await aget_capabilities(self.config), topic)

    def check_trim(self) -> None:
        """Raise :class:`CapabilityError` unless the server can do this bus's trim
        (``trim="acked"``: Redis >= 8.2), asking it once (the capabilities probe). Call
        it (or publish once) before :meth:`publish_command` on a bus with
        ``trim="acked"``: that builder does no I/O and refuses an unprobed server."""
        self._require_trim()

    async def acheck_trim(self) -> None:
        """Async :meth:`check_trim`."""
        await self._arequire_trim()

    def _check_trim(self, exc: Exception, topic: str) -> None:
        """Raise :class:`ConfigError` when the server refused XADD's ``ACKED``
        (``trim="acked"`` before Redis 8.2, which reads ``ACKED`` as the entry's id or
        calls it a syntax error); other replies go on."""
        text = str(exc).lower()
        if self.trim == "acked" and ("syntax" in text or "invalid stream id" in text):
            raise ConfigError(
                f"publishing to bus topic {topic!r}: the server refused XADD ... ACKED "
                f"({exc}); AgentBus(trim='acked') needs Redis >= 8.2. Nothing was published"
            ) from exc

    # -- publishing --
    @telemetry.traced("bus", "publish")
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
        if durable and not self._trim_checked:
            self._require_trim(topic)
        client = self.config.get_client()
        # inline, not translate_errors(): this is the hot path; sent once: a second
        # XADD / PUBLISH would deliver the message twice
        try:
            with sent_once():
                if durable:
                    key = self.stream(topic)
                    sid = client.xadd(key, {_FIELD: data}, **self.xadd_kwargs())
                    telemetry.bus_message(topic, "published", "stream")
                    return _delivered(env, stream_id=_text(sid), published_to=key)
                n = client.publish(self.channel(topic), data)
        except FAULTS as exc:
            raise map_redis_error(exc, f"publishing to bus topic {topic!r}", self.config) from exc
        except REPLY as exc:
            self._check_trim(exc, topic)
            raise
        telemetry.bus_message(topic, "published", "pubsub")
        return _delivered(env, receivers=int(n))

    @telemetry.traced("bus", "publish")
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
        if durable and not self._trim_checked:
            await self._arequire_trim(topic)
        client = self.config.get_async_client()
        try:
            with sent_once():
                if durable:
                    key = self.stream(topic)
                    sid = await client.xadd(key, {_FIELD: data}, **self.xadd_kwargs())
                    telemetry.bus_message(topic, "published", "stream")
                    return _delivered(env, stream_id=_text(sid), published_to=key)
                n = await client.publish(self.channel(topic), data)
        except FAULTS as exc:
            raise map_redis_error(exc, f"publishing to bus topic {topic!r}", self.config) from exc
        except REPLY as exc:
            self._check_trim(exc, topic)
            raise
        telemetry.bus_message(topic, "published", "pubsub")
        return _delivered(env, receivers=int(n))

    def publish_command(
        self, topic: str, payload: Any, *, correlation_id: str | None = None
    ) -> tuple[Envelope, tuple[Any, ...]]:
        """The envelope and the ``XADD`` of a durable :meth:`publish`, for a caller that
        sends it in one round trip with other writes
        (:func:`..scripts.asend_commands`); the reply is the entry's stream id. Counted
        as published when built: the caller raises if the round trip fails.

        With ``trim="acked"`` it raises :class:`CapabilityError` on a server older than
        Redis 8.2, as :meth:`publish` does, before anything is built: in a batch the
        server would refuse only the ``XADD`` and apply the other writes. It does no
        I/O, so it decides on the capabilities probe already run (by this bus, or any
        probe of the same server in this process) and raises :class:`ConfigError` when
        none has: call :meth:`check_trim` / :meth:`acheck_trim` once first."""
        if not self._trim_checked:
            caps = cached_capabilities(self.config)
            if caps is None:
                raise ConfigError(
                    f"publish_command on bus topic {topic!r}: AgentBus(trim='acked') "
                    "needs Redis >= 8.2 and the server was never asked its version (this "
                    "builder does no I/O). Call bus.check_trim() or await "
                    "bus.acheck_trim() once first (or publish once). Nothing was built"
                )
            self._trim_supported(caps, topic)
        env, data = self._envelope(topic, payload, correlation_id, None)
        args: list[Any] = ["XADD", self.stream(topic)]
        if self.maxlen is not None:  # as xadd_kwargs()
            if self.trim == "acked":
                args += ["ACKED", "MAXLEN", "=", self.maxlen]
            else:
                args += ["MAXLEN", "~", self.maxlen]
        telemetry.bus_message(topic, "published", "stream")
        return env, (*args, "*", _FIELD, data)

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

    async def atopic_length(self, topic: str) -> int:
        """Async :meth:`topic_length`."""
        with translate_errors(self.config, f"reading the length of bus topic {topic!r}"):
            return int(await self.config.get_async_client().xlen(self.stream(topic)))

    # -- request / reply --
    def request(
        self, topic: str, payload: Any, *, timeout: float = 5.0, durable: bool = False
    ) -> Envelope:
        """Send a request and wait for its reply; :class:`BusTimeoutError` after ``timeout``."""
        check_seconds(timeout, "timeout")  # before publishing: no request nobody waits for
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
        check_seconds(timeout, "timeout")
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
        # reply_to comes from the message (untrusted): publish only on the reply channel
        # request() listens on, never into another topic or outside the namespace
        cid = request.correlation_id
        if not isinstance(cid, str) or not cid or request.reply_to != self._keys.bus_reply(cid):
            raise ConfigError(
                f"message {request.id} on topic {request.topic!r} asks for a reply on "
                f"{request.reply_to!r}, which is not this namespace's reply channel of its "
                f"correlation id ({self._keys.bus_reply('<correlation id>')!r}); nothing was "
                "sent. Send requests with AgentBus.request()"
            )
        env, data = self._envelope(request.topic, payload, cid, None)
        return request.reply_to, env, data

    def reply(self, request: Envelope, payload: Any) -> Envelope:
        """Answer a request received on a channel or a durable topic."""
        channel, env, data = self._reply_envelope(request, payload)
        with translate_errors(self.config, f"replying on bus topic {request.topic!r}"), sent_once():
            n = self.config.get_client().publish(channel, data)
        return _delivered(env, receivers=int(n))

    async def areply(self, request: Envelope, payload: Any) -> Envelope:
        """Async :meth:`reply`."""
        channel, env, data = self._reply_envelope(request, payload)
        with translate_errors(self.config, f"replying on bus topic {request.topic!r}"), sent_once():
            n = await self.config.get_async_client().publish(channel, data)
        return _delivered(env, receivers=int(n))
