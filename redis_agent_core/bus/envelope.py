"""The bus's wire format: :class:`Envelope`, building (:func:`make_envelope`),
encoding and decoding it, plus the small pieces every bus module shares (the stream
entry field, the Redis-down exceptions, ``_text``)."""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from .. import telemetry
from ..config import check_count as check_count  # the bus modules import them from here
from ..config import check_seconds as check_seconds
from ..errors import ConfigError, DataCorruptionError
from ..jsonvalues import dumps_json

ENVELOPE_VERSION = 1
_FIELD = b"e"  # a stream entry holds one field: the encoded envelope


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(slots=True)
class Envelope:
    """One bus message; treat it as read-only.

    ``payload`` is any JSON-serialisable value. ``correlation_id`` ties a reply to its
    request (and lets callers thread a conversation); ``reply_to`` is the channel a
    reply should go to. ``stream_id`` (durable topics), ``read_from`` (the stream and
    group it was read from), ``published_to`` (the stream a durable ``publish`` wrote
    it to) and ``receivers`` (channels: how many subscribers got it) describe the
    delivery and are not serialised.
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
    #: (stream key, group) of the durable topic's consumer that read it: its ``ack``
    #: takes it, another consumer's refuses it (None: not read by a consumer)
    read_from: tuple[str, str] | None = field(default=None, compare=False, repr=False)
    #: the stream key a durable ``publish`` returning it wrote it to: a consumer of
    #: another stream refuses to ack it (None: not returned by ``publish``)
    published_to: str | None = field(default=None, compare=False, repr=False)

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


def _optional_str(value: Any, what: str) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{what} must be a non-empty str or None, got {value!r}")


def _delivered(env: Envelope, **fields: Any) -> Envelope:
    """Set delivery fields on an envelope built in this call and not yet shared
    (``dataclasses.replace`` costs ~8 µs, a tenth of a publish round trip)."""
    for name, value in fields.items():
        setattr(env, name, value)
    return env


def _is_time(value: Any) -> bool:
    """A finite int or float (not a bool, not a numeric string): what an envelope's
    ``time`` may hold, sent or received."""
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is int and -(2**63) <= value < 2**64  # what orjson writes and reads


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
    # receivers drop (and ack) an envelope whose fields have the wrong type: refuse it here
    if not isinstance(sender, str) or not sender:
        raise ConfigError(f"sender must be a non-empty str, got {sender!r}")
    if correlation_id is not None or reply_to is not None:
        _optional_str(correlation_id, "correlation_id")
        _optional_str(reply_to, "reply_to")
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
    """JSON bytes of an envelope; raises :class:`ConfigError` for a payload JSON cannot
    hold (a non-JSON type, a NaN or an infinity: receivers would get null)."""
    stamp = envelope.time
    if type(stamp) is not float and not _is_time(stamp):
        # receivers got True as 1.0 and "12" as 12.0: refused, as on receipt
        raise ConfigError(
            f"envelope field time must be a float (seconds since the epoch, as "
            f"time.time() gives), got {stamp!r} on topic {envelope.topic!r}; nothing was sent"
        )
    nulls = (envelope.correlation_id is None) + (envelope.reply_to is None)
    return dumps_json(envelope.to_dict(), f"bus payload on topic {envelope.topic!r}", nulls=nulls)


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
        env_id, topic, sender, stamp = raw["id"], raw["topic"], raw["sender"], raw["time"]
    except KeyError as exc:
        raise DataCorruptionError(f"{source}: message lacks envelope field {exc}") from exc
    if not _is_time(stamp):  # a bool or a numeric string read as a time
        raise DataCorruptionError(
            f"{source}: envelope time {stamp!r} is not a number (seconds since the epoch)"
        )
    if not (isinstance(env_id, str) and isinstance(topic, str) and isinstance(sender, str)):
        raise DataCorruptionError(f"{source}: envelope fields id, topic, sender must be strings")
    correlation_id, reply_to = raw.get("correlation_id"), raw.get("reply_to")
    # what make_envelope refuses to send is refused on receipt too (a consumer keying a
    # dict by correlation id would fail on a list)
    if not all(v is None or (isinstance(v, str) and v) for v in (correlation_id, reply_to)):
        raise DataCorruptionError(
            f"{source}: envelope fields correlation_id, reply_to must be non-empty strings or null"
        )
    env = Envelope(
        id=env_id,
        topic=topic,
        sender=sender,
        payload=raw.get("payload"),
        time=float(stamp),
        correlation_id=correlation_id,
        reply_to=reply_to,
        stream_id=stream_id,
    )
    transport = "stream" if stream_id is not None else "pubsub"
    telemetry.bus_message(topic, "received", transport, lag=time.time() - stamp)
    return env
