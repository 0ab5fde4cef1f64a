"""Ephemeral bus topics on Redis Pub/Sub: :class:`Subscription` (sync) and
:class:`AsyncSubscription` (asyncio), which :meth:`AgentBus.subscribe` hands out."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DataCorruptionError, RedisAgentError, RedisUnavailableError
from ..redis_errors import CLEANUP, FAULTS, map_redis_error, translate_errors
from .envelope import Envelope, _text, decode_envelope

if TYPE_CHECKING:
    from ..config import RedisAgentConfig
    from .agent_bus import AgentBus

log = logging.getLogger("redis_agent_core.bus")  # one logger for the whole bus

_MESSAGE_TYPES = frozenset({"message", "pmessage", b"message", b"pmessage"})


def _message_data(message: Any) -> tuple[Any, Any] | None:
    """(channel, data) of a Pub/Sub 'message', else None (confirmations, pings)."""
    if not message or message.get("type") not in _MESSAGE_TYPES:
        return None
    return message.get("channel"), message.get("data")


def _close_quietly(pubsub: Any) -> None:
    try:
        pubsub.close()
    except CLEANUP:
        pass


def _is_confirmation(message: Any) -> bool:
    return message is not None and _text(message.get("type")) == "subscribe"


class _GapWatch:
    """Tells a subscriber when its connection dropped, whatever ``retries`` is.

    redis-py reconnects and re-subscribes by itself inside ``get_message`` (the config's
    retries), so the messages published meanwhile would be lost without a word. Every
    SUBSCRIBE is confirmed by the server: a confirmation that is not due is that gap.
    """

    def __init__(self, channels: Sequence[str]) -> None:
        self._channels = list(channels)
        self._unconfirmed = 0  # confirmations still due (of our own SUBSCRIBE)

    def _subscribing(self) -> None:
        self._unconfirmed = len(self._channels)

    def _confirmed(self) -> None:
        """Count a confirmation; raise the gap error if none was due."""
        if self._unconfirmed:
            self._unconfirmed -= 1
            return
        self._unconfirmed = len(self._channels) - 1  # the rest of this re-subscribe
        raise RedisUnavailableError(
            f"reading bus channels {self._channels}: the connection to Redis dropped and "
            "was re-established, so messages published on these channels in between are "
            "lost (Pub/Sub keeps nothing). The subscription is active again: call get() "
            "again and re-read any state built from these messages; use a durable topic "
            "(publish(..., durable=True), bus.consumer()) for messages that must not be lost."
        )

    def _dropped(self, exc: BaseException, config: RedisAgentConfig) -> RedisAgentError:
        """The error for a read fault. It reports this drop, so the confirmations of the
        re-subscribe that follows (redis-py's, on this call or the next) are due."""
        self._subscribing()
        return map_redis_error(exc, f"reading bus channels {self._channels}", config)


def _decode_or_skip(channel: Any, data: Any) -> Envelope | None:
    try:
        return decode_envelope(data, source="channel")
    except DataCorruptionError as exc:
        log.warning("dropping a corrupt bus message on %s: %s", _text(channel), exc)
        return None


class Subscription(_GapWatch):
    """A live Pub/Sub subscription (sync). Use as a context manager; iterate or ``get``."""

    def __init__(self, bus: AgentBus, channels: Sequence[str]) -> None:
        super().__init__(channels)
        self._bus = bus
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
                self._subscribing()
                self._await_confirmations()
        except BaseException:
            # never keep a half-made subscription: a retry must subscribe again
            self._pubsub = None
            _close_quietly(pubsub)
            raise
        return self

    def _await_confirmations(self) -> None:
        # SUBSCRIBE is only in effect once confirmed: wait so no later message is missed
        deadline = time.monotonic() + self._bus.config.socket_timeout
        while self._unconfirmed and time.monotonic() < deadline:
            if _is_confirmation(self._pubsub.get_message(timeout=deadline - time.monotonic())):
                self._unconfirmed -= 1

    def get(self, timeout: float | None = None) -> Envelope | None:
        """The next message, waiting up to ``timeout`` seconds (``None``: forever)."""
        pubsub = self._pubsub if self._pubsub is not None else self.start()._pubsub
        # lean loop: this is the receive hot path (one clock read per empty wait)
        deadline = None if timeout is None else time.monotonic() + timeout
        wait = 1.0 if timeout is None else max(0.0, timeout)
        while True:
            try:
                message = pubsub.get_message(timeout=wait)
            except FAULTS as exc:
                raise self._dropped(exc, self._bus.config) from exc
            if message is not None and message.get("type") in _MESSAGE_TYPES:
                env = _decode_or_skip(message.get("channel"), message.get("data"))
                if env is not None:
                    return env
            elif _is_confirmation(message):
                self._confirmed()
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return None

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


class AsyncSubscription(_GapWatch):
    """A live Pub/Sub subscription (asyncio): ``async with bus.asubscribe(t) as sub``."""

    def __init__(self, bus: AgentBus, channels: Sequence[str]) -> None:
        super().__init__(channels)
        self._bus = bus
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
                self._subscribing()
                deadline = time.monotonic() + config.socket_timeout
                while self._unconfirmed and time.monotonic() < deadline:
                    msg = await pubsub.get_message(timeout=deadline - time.monotonic())
                    if _is_confirmation(msg):
                        self._unconfirmed -= 1
        except BaseException:
            # never keep a half-made subscription: a retry must subscribe again
            try:
                await pubsub.aclose()
            except CLEANUP:
                pass
            raise
        self._pubsub = pubsub
        return self

    async def get(self, timeout: float | None = None) -> Envelope | None:
        """The next message, waiting up to ``timeout`` seconds (``None``: forever)."""
        await self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = 1.0 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                message = await self._pubsub.get_message(timeout=wait)
            except FAULTS as exc:
                raise self._dropped(exc, self._bus.config) from exc
            got = _message_data(message)
            if got is not None:
                env = _decode_or_skip(*got)
                if env is not None:
                    return env
            elif _is_confirmation(message):
                self._confirmed()
            if deadline is not None and time.monotonic() >= deadline:
                return None

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
            except CLEANUP:
                pass
            self._pubsub = None

    async def __aenter__(self) -> AsyncSubscription:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
