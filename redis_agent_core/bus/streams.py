"""Durable bus topics on Redis Streams: :class:`TopicConsumer` (a consumer-group
member, at-least-once, with claiming and dead-lettering) and the pure parsers of
XREADGROUP and XAUTOCLAIM replies."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from redis.cluster import RedisCluster

from ..config import RedisAgentConfig
from ..errors import ConfigError, DataCorruptionError
from ..redis_errors import (
    FAULTS,
    REPLY,
    is_busygroup,
    is_nogroup,
    map_redis_error,
    sent_once,
    translate_errors,
)
from ..scripts import Script
from .envelope import (
    _FIELD,
    Envelope,
    _text,
    check_count,
    check_seconds,
    decode_envelope,
    encode_envelope,
)

if TYPE_CHECKING:
    from .agent_bus import AgentBus

log = logging.getLogger("redis_agent_core.bus")  # one logger for the whole bus

_START = re.compile(r"\A(?:\$|\d+(?:-\d+)?)\Z")  # where XGROUP CREATE may start a group
# messages one read or claim may ask for: XAUTOCLAIM refuses a COUNT past LONG_MAX / 10
# with a raw error ("COUNT must be > 0"), and a read that large is no batch
MAX_COUNT = 1_000_000

# Consumers holding no message and idle this long (s) are deleted by the claim sweep of
# any consumer of their group (a process that exited, an agent built per request): Redis
# keeps every consumer name a group ever saw. Checked at most every FORGET_EVERY s.
FORGET_AFTER = 3600.0
FORGET_EVERY = 60.0
FORGET = Script.load(__package__, "forget_consumers.lua")

# Redis ends a BLOCK only at its next cron tick, every 1/hz s (100 ms at the default hz
# 10; measured on 8.2: BLOCK 1 took 100 ms, BLOCK 150 took 200 ms). So a read leaves
# the last tick of its wait to polls (XREADGROUP without BLOCK), paced from POLL_FIRST
# doubling up to POLL_MAX: a message arriving then waits at most POLL_MAX.
BLOCK_TICK = 0.1
POLL_FIRST = 0.001
POLL_MAX = 0.01


def _idle_ms(seconds: float, what: str, least: float) -> int:
    """An idle time in XAUTOCLAIM's unit (whole ms, a 64-bit integer), else
    :class:`ConfigError`: below 1 ms it would go as 0 (take over at once), past 64 bits
    the server answered with a raw error."""
    ms = int(seconds * 1000)
    if ms >= 2**63:
        raise ConfigError(f"{what} must be below {2**63 // 1000:,} s, got {seconds!r}")
    if seconds < least:
        raise ConfigError(
            f"{what} must be at least {least:g} s: Redis counts idle time in whole ms, and "
            f"{seconds!r} s would go as 0, taking over messages consumers are still processing"
        )
    return ms


def _fits(start: str) -> bool:
    """Whether a stream id's parts fit the server's 64 bits (else a raw error at read)."""
    return start == "$" or all(int(part) < 2**64 for part in start.split("-"))


def _stream_ids(messages: Sequence[Envelope | str]) -> list[str | None]:
    return [m if isinstance(m, str) else m.stream_id for m in messages]


def _envelope_id(fields: Any) -> str | None:
    """The envelope id of a stream entry's fields (None: no envelope, not JSON...)."""
    data = (fields or {}).get(_FIELD, (fields or {}).get(_FIELD.decode()))
    try:
        found = orjson.loads(data)["id"] if data is not None else None
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return None
    return found if isinstance(found, str) else None


def _last_entry(reply: Any) -> list[tuple[Any, str | None]]:
    """(stream id, envelope id) of an XREVRANGE COUNT 1 reply's entry, if any."""
    return [(entry[0], _envelope_id(entry[1])) for entry in reply or ()]


@dataclass(frozen=True, slots=True)
class CorruptEntry:
    """A stream entry that is no bus message: its id, its raw fields, and why."""

    stream_id: str
    fields: Mapping[Any, Any]
    reason: str


def _entries(entries: Any, source: str) -> tuple[list[Envelope], list[str], list[CorruptEntry]]:
    """Decode stream entries: (envelopes, ids to drop: deleted, corrupt entries)."""
    good: list[Envelope] = []
    drop: list[str] = []
    corrupt: list[CorruptEntry] = []
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
            corrupt.append(CorruptEntry(sid, fields, str(exc)))
    return good, drop, corrupt


def parse_stream_reply(
    reply: Any, source: str = "stream"
) -> tuple[list[Envelope], list[str], list[CorruptEntry]]:
    """Parse an XREADGROUP reply (RESP2 list or RESP3 map) of one stream:
    (envelopes, ids to drop, corrupt entries)."""
    if not reply:
        return [], [], []
    if isinstance(reply, Mapping):
        streams: Any = list(reply.values())
    else:
        streams = [item[1] for item in reply]
    envelopes: list[Envelope] = []
    drop: list[str] = []
    corrupt: list[CorruptEntry] = []
    for entries in streams:
        # RESP3 may nest the entries one level deeper
        if (
            entries
            and isinstance(entries[0], list)
            and entries[0]
            and isinstance(entries[0][0], list)
        ):
            entries = entries[0]
        good, gone, bad = _entries(entries, source)
        envelopes += good
        drop += gone
        corrupt += bad
    return envelopes, drop, corrupt


def parse_autoclaim_reply(
    reply: Any, source: str = "stream"
) -> tuple[str, list[Envelope], list[str], list[CorruptEntry]]:
    """Parse XAUTOCLAIM: (next cursor, claimed envelopes, ids to drop, corrupt entries)."""
    cursor = _text(reply[0])
    good, drop, corrupt = _entries(reply[1], source)
    if len(reply) > 2:
        drop += [_text(x) for x in reply[2] or ()]
    return cursor, good, drop, corrupt


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
        if not isinstance(group, str) or not group:
            raise ConfigError(f"a consumer needs a non-empty str group name, got {group!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ConfigError(f"consumer name must be a non-empty str or None, got {name!r}")
        if not isinstance(start, str) or not _START.match(start) or not _fits(start):
            raise ConfigError(
                f"start must be '0' (everything retained), '$' (only new messages) or a "
                f"stream id such as '1700000000000-0', got {start!r}"
            )
        if claim_idle is not None:
            # 0 would take over every message another live consumer is still processing
            what = "claim_idle (set it above the longest processing time)"
            _idle_ms(check_seconds(claim_idle, what), what, least=0.001)
        if max_deliveries is not None:
            check_count(max_deliveries, "max_deliveries (None: no limit)")
        self.bus = bus
        self.topic = topic
        self.group = group
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.start = start
        self.claim_idle = claim_idle
        self.max_deliveries = max_deliveries
        self.key = bus.stream(topic)
        self._group_ready = False
        # start="$" recreates a lost group after what it had reached, not at "$": the
        # messages published between the loss and the next read were skipped, lost
        self._lost = False
        # the newest stream entry this consumer was handed, or (start="$") the stream's
        # last one when the group was first ensured: its id and envelope id; None: none
        self._seen: tuple[tuple[int, int], str | None] | None = None
        self._anchored = start != "$"  # the stream's last id was read (start="$")
        self._claim_cursor = "0-0"
        self._next_claim = 0.0  # monotonic time of the next XAUTOCLAIM sweep
        self._next_forget = 0.0  # monotonic time of the next deletion of idle consumers

    @property
    def _config(self) -> RedisAgentConfig:
        return self.bus.config

    # -- pure helpers shared by sync and async --
    def _claim_args(self, min_idle: float | None, count: int) -> float | None:
        """The idle time of a claim (None: claiming is off), its arguments checked."""
        check_count(count, "count", MAX_COUNT)
        if min_idle is None:
            return self.claim_idle
        idle = check_seconds(min_idle, "min_idle", zero=True)  # 0: an explicit take-over
        _idle_ms(idle, "min_idle", least=0.0)
        return idle

    def _deadline(self, block: float | None) -> float | None:
        """The monotonic time a read with ``block`` s to wait ends (None: no wait)."""
        if block is None:
            return None
        check_seconds(block, "block (None: don't wait)", zero=True)
        return time.monotonic() + block

    def _next_wait(
        self, deadline: float | None, replies: int, precise: bool = True
    ) -> tuple[int | None, float] | None:
        """How the next XREADGROUP of a read waits after ``replies`` empty ones: (its
        BLOCK in ms, or None: no BLOCK; seconds to sleep before sending it), or None when
        the read's time is up. ``precise=False`` (the endless loops, where a wait's end
        does not matter): one BLOCK, ending at the server's tick."""
        if deadline is None:
            return (None, 0.0) if replies == 0 else None
        left = deadline - time.monotonic()
        if replies and (left <= 0 or not precise):
            return None
        # a BLOCK longer than the socket timeout would surface as a TimeoutError: a
        # long wait is several BLOCKs; none below 1 ms (BLOCK 0 waits for ever)
        cap = self._config.socket_timeout - 0.25
        if not precise:
            return max(1, int(min(left, cap) * 1000)), 0.0
        ms = int(min(left - BLOCK_TICK, cap) * 1000)
        if ms >= 1:
            return ms, 0.0
        pause = 0.0 if replies == 0 else min(left, POLL_MAX, POLL_FIRST * 2 ** (replies - 1))
        return None, pause

    def _claim_due(self) -> bool:
        return self.claim_idle is not None and time.monotonic() >= self._next_claim

    def _forget_args(self, cursor: str) -> list[Any] | None:
        """ARGV of :data:`FORGET` when a sweep has gone round the pending list and the
        deletion of idle consumers is due, else None."""
        now = time.monotonic()
        if cursor != "0-0" or now < self._next_forget:
            return None
        self._next_forget = now + FORGET_EVERY
        return [self.group, int(FORGET_AFTER * 1000), self.name]

    def _forget_failed(self, exc: Exception) -> None:
        # housekeeping: the messages are all there, so the read goes on
        error = map_redis_error(exc, "deleting idle consumers", self._config)
        log.warning(
            "could not delete the idle consumers of group %r of %s: %s",
            self.group, self._source(), error,
        )  # fmt: skip

    def _after_claim(self, cursor: str, claimed: int) -> None:
        self._claim_cursor = cursor
        # sweep again soon while there is a backlog of stale messages, else in a while
        assert self.claim_idle is not None
        pause = 0.0 if (claimed or cursor != "0-0") else max(0.05, self.claim_idle / 2)
        self._next_claim = time.monotonic() + pause

    def _group_lost(self, exc: Exception) -> None:
        """Re-raise ``exc`` unless it says the group is gone (Redis restarted without
        its data, or someone deleted the stream); then forget the group so the next
        call recreates it (and the stream)."""
        if not is_nogroup(exc):
            raise exc
        log.warning(
            "consumer group %r of %s is gone (%s); recreating it", self.group, self._source(), exc
        )
        self._group_ready = False
        self._lost = True
        self._claim_cursor = "0-0"

    def _anchor(self) -> str | None:
        """For a lost group of ``start="$"``, the id it restarts after if the stream
        still holds that entry (the same stream: the group alone was deleted): the
        newest this consumer was handed, else the stream's last when the group was
        first ensured. Else (a stream lost with the server's data, or trimmed past it)
        every entry is newer and the group restarts at ``"0"``. None: start at
        ``start``. "$" skipped what was published between the loss and the next read."""
        if self.start != "$" or not self._lost:
            return None
        if self._seen is None:
            return "0"
        ms, seq = self._seen[0]
        return f"{ms}-{seq}"

    def _delivered(self, groups: Any) -> str | None:
        """The group's last-delivered id in an XINFO GROUPS reply (None: not there)."""
        for info in groups or ():
            if _text(info.get("name")) == self.group:
                last = _text(info.get("last-delivered-id") or "0-0")
                return None if last == "0-0" else last
        return None

    def _joined(self, held: Any) -> None:
        """The first ensure found the group there: it may be behind the stream's end
        (messages not yet delivered), so that end is no bound on what it had reached; the
        group's last-delivered entry (``held``, its XRANGE) is. Not held (trimmed, or
        none yet): a loss before anything is handed restarts at ``"0"``."""
        self._seen = None
        self._saw(_last_entry(held))

    def _restart_at(self, anchor: str | None, held: Any) -> str:
        """Where XGROUP CREATE starts the group, given :meth:`_anchor` and ``held`` (the
        XRANGE of the anchor): after the anchor when the stream holds that very entry
        (its envelope id too: a stream made anew may reuse the id), else ``"0"``, and
        the anchor is forgotten: a stream made anew may have lower ids (a clock behind
        after a failover), and a second loss found the old anchor nowhere and delivered
        everything again."""
        if anchor is None:
            return self.start
        if anchor != "0" and held and self._seen is not None:
            if _envelope_id(held[0][1]) == self._seen[1]:
                return anchor
        self._seen = None
        return "0"

    def _saw(self, entries: Iterable[tuple[Any, str | None]]) -> None:
        """Remember the newest of the (stream id, envelope id) a read or claim handed out."""
        for sid, env_id in entries:
            if sid:
                ms, _, seq = _text(sid).partition("-")
                seen = (int(ms), int(seq or 0))
                if self._seen is None or seen > self._seen[0]:
                    self._seen = (seen, env_id)

    def _saw_read(
        self, envs: Sequence[Envelope], drop: Sequence[str], corrupt: Sequence[CorruptEntry]
    ) -> None:
        """Note what a read or claim handed out; its envelopes are this consumer's to
        ack (:meth:`_ack_ids`)."""
        read_from = (self.key, self.group)
        for env in envs:
            env.read_from = read_from
        self._saw([(e.stream_id, e.id) for e in envs])
        self._saw([*((sid, None) for sid in drop), *((c.stream_id, None) for c in corrupt)])

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

    def _dead_letter(self, entry: CorruptEntry) -> dict[Any, Any] | None:
        """The fields of a corrupt entry's copy in ``<topic>.dead``: its raw fields (one
        named like ours kept as ``raw:<name>``), ``reason``, ``group``, ``stream_id``.
        None on a dead topic itself: its copy would be corrupt in ``<topic>.dead.dead``
        and so on, so the entry is acked and stays where it is (XRANGE shows it)."""
        if self.topic.endswith(".dead"):
            log.warning(
                "a corrupt entry on dead-letter topic %r, acked and left there: %s",
                self.topic, entry.reason,
            )  # fmt: skip
            return None
        log.warning(
            "a corrupt bus message, moved to topic %r: %s", f"{self.topic}.dead", entry.reason
        )
        ours = {"reason": entry.reason, "group": self.group, "stream_id": entry.stream_id}
        fields: dict[Any, Any] = {}
        for name, value in entry.fields.items():
            fields[f"raw:{_text(name)}" if _text(name) in ours else name] = value
        return {**fields, **ours}

    def _bury(
        self,
        pipe: Any,
        dead: Sequence[tuple[Envelope, int]],
        corrupt: Sequence[CorruptEntry] = (),
    ) -> None:
        """Queue the dead letters (poison messages, corrupt entries) and their acks on
        ``pipe`` (or send them, given a client). A corrupt entry is acked only after its
        copy: a failed copy leaves it pending, claimed and tried again."""
        dead_key = self.bus.stream(f"{self.topic}.dead")
        for env, times in dead:
            log.warning(
                "bus message %s on topic %r was delivered %d times without an ack; moved "
                "to topic %r",
                env.id, self.topic, times, f"{self.topic}.dead",
            )  # fmt: skip
            fields = {_FIELD: encode_envelope(env), "deliveries": times, "group": self.group}
            pipe.xadd(dead_key, fields, **self.bus.xadd_kwargs())
            pipe.xack(self.key, self.group, env.stream_id)
        for entry in corrupt:
            copy = self._dead_letter(entry)
            if copy is not None:
                pipe.xadd(dead_key, copy, **self.bus.xadd_kwargs())
            pipe.xack(self.key, self.group, entry.stream_id)

    def _send_dead(
        self, client: Any, dead: Sequence[tuple[Envelope, int]], corrupt: Sequence[CorruptEntry]
    ) -> None:
        self.bus._require_trim(f"{self.topic}.dead")
        with sent_once():  # a second XADD would bury a message twice
            if isinstance(client, RedisCluster):
                # a command at a time: redis-py's sync cluster pipeline sends one whose
                # reply was lost again on its own, retries or not
                self._bury(client, dead, corrupt)
            else:
                pipe = client.pipeline(transaction=False)
                self._bury(pipe, dead, corrupt)
                pipe.execute()

    async def _asend_dead(
        self, client: Any, dead: Sequence[tuple[Envelope, int]], corrupt: Sequence[CorruptEntry]
    ) -> None:
        await self.bus._arequire_trim(f"{self.topic}.dead")
        pipe = client.pipeline(transaction=False)
        self._bury(pipe, dead, corrupt)
        with sent_once():
            await pipe.execute()

    # -- sync --
    def ensure_group(self) -> None:
        """Create the group (and the stream) if missing."""
        if self._group_ready:
            return
        with translate_errors(self._config, f"creating consumer group {self.group!r}"):
            client = self._config.get_client()
            first = not self._anchored
            if first:
                self._saw(_last_entry(client.xrevrange(self.key, count=1)))
                self._anchored = True
            anchor = self._anchor()
            held = anchor not in (None, "0") and client.xrange(self.key, anchor, anchor)
            start = self._restart_at(anchor, held)
            try:
                client.xgroup_create(self.key, self.group, id=start, mkstream=True)
            except REPLY as exc:
                if not is_busygroup(exc):
                    raise
                if first:
                    last = self._delivered(client.xinfo_groups(self.key))
                    self._joined(last and client.xrange(self.key, last, last))
        self._group_ready = True
        self._lost = False

    def claim(self, min_idle: float | None = None, count: int = 10) -> list[Envelope]:
        """Take over messages pending longer than ``min_idle`` s (default ``claim_idle``).
        A lost group is recreated (as by :meth:`read`): it holds nothing to claim."""
        idle = self._claim_args(min_idle, count)
        try:
            return self._claim(idle, count)
        except REPLY as exc:
            self._group_lost(exc)
        self.ensure_group()
        return []

    def _claim(self, idle: float | None, count: int) -> list[Envelope]:
        self.ensure_group()
        if idle is None:
            return []
        client = self._config.get_client()
        with translate_errors(self._config, f"claiming stale messages of {self._source()}"):
            reply = client.xautoclaim(
                self.key, self.group, self.name, int(idle * 1000), self._claim_cursor, count=count
            )
            cursor, envs, drop, corrupt = parse_autoclaim_reply(reply, self._source())
            self._saw_read(envs, drop, corrupt)
            if drop:
                client.xack(self.key, self.group, *drop)
            dead: list[tuple[Envelope, int]] = []
            if envs and self.max_deliveries is not None:
                pipe = client.pipeline(transaction=False)
                self._pending_queries(pipe, envs)
                envs, dead = self._exhausted(envs, pipe.execute())
            if dead or corrupt:
                self._send_dead(client, dead, corrupt)
        forget = self._forget_args(cursor)
        if forget is not None:
            try:
                FORGET(client, [self.key], forget)
            except (*FAULTS, *REPLY) as exc:
                self._forget_failed(exc)
        if self.claim_idle is not None:
            self._after_claim(cursor, len(envs))
        return envs

    def read(self, count: int = 10, block: float | None = None) -> list[Envelope]:
        """Up to ``count`` messages: stale ones claimed first, then new ones.

        ``block``: seconds to wait for a new message (``None``: don't wait). A group
        lost with the server's data (restarted empty) is recreated and read again.
        """
        check_count(count, "count", MAX_COUNT)
        return self._reading(count, self._deadline(block))

    def _reading(self, count: int, deadline: float | None, precise: bool = True) -> list[Envelope]:
        try:
            return self._read(count, deadline, precise)
        except REPLY as exc:
            self._group_lost(exc)
        return self._read(count, deadline, precise)

    def _read(self, count: int, deadline: float | None, precise: bool) -> list[Envelope]:
        self.ensure_group()
        if self._claim_due():
            claimed = self.claim(count=count)
            if claimed:
                return claimed
        client = self._config.get_client()
        replies = 0
        try:
            while (wait := self._next_wait(deadline, replies, precise)) is not None:
                block_ms, pause = wait
                if pause:
                    time.sleep(pause)
                reply = client.xreadgroup(
                    self.group, self.name, {self.key: ">"}, count=count, block=block_ms
                )
                replies += 1
                envs, drop, corrupt = parse_stream_reply(reply, self.key)
                self._saw_read(envs, drop, corrupt)
                if drop:
                    client.xack(self.key, self.group, *drop)
                if corrupt:
                    self._send_dead(client, (), corrupt)
                if envs:
                    return envs
        except FAULTS as exc:
            raise map_redis_error(exc, f"reading {self._source()}", self._config) from exc
        return []

    def _ack_ids(self, messages: Sequence[Envelope | str]) -> list[str]:
        """The stream ids to ack; :class:`ConfigError` for an envelope another topic's
        or group's consumer read, or ``publish`` wrote to another topic (its id acked
        here would drop this group's message of the same id)."""
        for m in messages:
            if not isinstance(m, Envelope):
                continue
            read_from = m.read_from
            if read_from is None:
                if m.published_to is not None and m.published_to != self.key:
                    raise ConfigError(
                        f"message {m.stream_id} was published to stream {m.published_to!r}; "
                        f"this consumer acks stream {self.key!r}: ack it with a consumer of "
                        "its topic"
                    )
                continue
            if read_from != (self.key, self.group):
                raise ConfigError(
                    f"message {m.stream_id} was read from stream {read_from[0]!r} by group "
                    f"{read_from[1]!r}; this consumer acks stream {self.key!r} for group "
                    f"{self.group!r}: ack it with the consumer that read it"
                )
        return [i for i in _stream_ids(messages) if i]

    def ack(self, *messages: Envelope | str) -> int:
        """Acknowledge processed messages (envelopes this consumer's topic and group
        handed out, or stream ids)."""
        ids = self._ack_ids(messages)
        if not ids:
            return 0
        try:
            return int(self._config.get_client().xack(self.key, self.group, *ids))
        except FAULTS as exc:
            raise map_redis_error(
                exc, f"acking messages of {self._source()}", self._config
            ) from exc

    def pending(self) -> int:
        """Messages of this group read but not yet acked (by any consumer)."""
        self.ensure_group()
        with translate_errors(self._config, f"reading pending messages of {self._source()}"):
            try:
                info = self._config.get_client().xpending(self.key, self.group)
            except REPLY as exc:
                self._group_lost(exc)
                return 0  # a lost group holds nothing; the next read recreates it
        return int(info["pending"])

    def receive(self, timeout: float | None = None) -> Envelope | None:
        """One message, waiting up to ``timeout`` seconds (``None``: forever); not acked."""
        if timeout is not None:  # one read, polling its last tick (see BLOCK_TICK)
            got = self._reading(1, self._deadline(timeout))
            return got[0] if got else None
        while not (got := self._reading(1, time.monotonic() + 1.0, precise=False)):
            pass
        return got[0]

    def __iter__(self) -> Iterator[Envelope]:
        """Messages forever (blocking); the caller acks each one."""
        while True:
            yield from self._reading(10, time.monotonic() + 1.0, precise=False)

    # -- async --
    async def aensure_group(self) -> None:
        """Async :meth:`ensure_group`."""
        if self._group_ready:
            return
        with translate_errors(self._config, f"creating consumer group {self.group!r}"):
            client = self._config.get_async_client()
            first = not self._anchored
            if first:
                self._saw(_last_entry(await client.xrevrange(self.key, count=1)))
                self._anchored = True
            anchor = self._anchor()
            held = anchor not in (None, "0") and await client.xrange(self.key, anchor, anchor)
            start = self._restart_at(anchor, held)
            try:
                await client.xgroup_create(self.key, self.group, id=start, mkstream=True)
            except REPLY as exc:
                if not is_busygroup(exc):
                    raise
                if first:
                    last = self._delivered(await client.xinfo_groups(self.key))
                    self._joined(last and await client.xrange(self.key, last, last))
        self._group_ready = True
        self._lost = False

    async def apending(self) -> int:
        """Async :meth:`pending`."""
        await self.aensure_group()
        with translate_errors(self._config, f"reading pending messages of {self._source()}"):
            try:
                info = await self._config.get_async_client().xpending(self.key, self.group)
            except REPLY as exc:
                self._group_lost(exc)
                return 0
        return int(info["pending"])

    async def aclaim(self, min_idle: float | None = None, count: int = 10) -> list[Envelope]:
        """Async :meth:`claim`."""
        idle = self._claim_args(min_idle, count)
        try:
            return await self._aclaim(idle, count)
        except REPLY as exc:
            self._group_lost(exc)
        await self.aensure_group()
        return []

    async def _aclaim(self, idle: float | None, count: int) -> list[Envelope]:
        await self.aensure_group()
        if idle is None:
            return []
        client = self._config.get_async_client()
        with translate_errors(self._config, f"claiming stale messages of {self._source()}"):
            reply = await client.xautoclaim(
                self.key, self.group, self.name, int(idle * 1000), self._claim_cursor, count=count
            )
            cursor, envs, drop, corrupt = parse_autoclaim_reply(reply, self._source())
            self._saw_read(envs, drop, corrupt)
            if drop:
                await client.xack(self.key, self.group, *drop)
            dead: list[tuple[Envelope, int]] = []
            if envs and self.max_deliveries is not None:
                pipe = client.pipeline(transaction=False)
                self._pending_queries(pipe, envs)
                envs, dead = self._exhausted(envs, await pipe.execute())
            if dead or corrupt:
                await self._asend_dead(client, dead, corrupt)
        forget = self._forget_args(cursor)
        if forget is not None:
            try:
                await FORGET.acall(client, [self.key], forget)
            except (*FAULTS, *REPLY) as exc:
                self._forget_failed(exc)
        if self.claim_idle is not None:
            self._after_claim(cursor, len(envs))
        return envs

    async def aread(self, count: int = 10, block: float | None = None) -> list[Envelope]:
        """Async :meth:`read`."""
        check_count(count, "count", MAX_COUNT)
        return await self._areading(count, self._deadline(block))

    async def _areading(
        self, count: int, deadline: float | None, precise: bool = True
    ) -> list[Envelope]:
        try:
            return await self._aread(count, deadline, precise)
        except REPLY as exc:
            self._group_lost(exc)
        return await self._aread(count, deadline, precise)

    async def _aread(self, count: int, deadline: float | None, precise: bool) -> list[Envelope]:
        await self.aensure_group()
        if self._claim_due():
            claimed = await self.aclaim(count=count)
            if claimed:
                return claimed
        client = self._config.get_async_client()
        replies = 0
        try:
            while (wait := self._next_wait(deadline, replies, precise)) is not None:
                block_ms, pause = wait
                if pause:
                    await asyncio.sleep(pause)
                reply = await client.xreadgroup(
                    self.group, self.name, {self.key: ">"}, count=count, block=block_ms
                )
                replies += 1
                envs, drop, corrupt = parse_stream_reply(reply, self.key)
                self._saw_read(envs, drop, corrupt)
                if drop:
                    await client.xack(self.key, self.group, *drop)
                if corrupt:
                    await self._asend_dead(client, (), corrupt)
                if envs:
                    return envs
        except FAULTS as exc:
            raise map_redis_error(exc, f"reading {self._source()}", self._config) from exc
        return []

    async def aack(self, *messages: Envelope | str) -> int:
        """Async :meth:`ack`."""
        ids = self._ack_ids(messages)
        if not ids:
            return 0
        try:
            return int(await self._config.get_async_client().xack(self.key, self.group, *ids))
        except FAULTS as exc:
            raise map_redis_error(
                exc, f"acking messages of {self._source()}", self._config
            ) from exc

    async def areceive(self, timeout: float | None = None) -> Envelope | None:
        """Async :meth:`receive`."""
        if timeout is not None:
            got = await self._areading(1, self._deadline(timeout))
            return got[0] if got else None
        while not (got := await self._areading(1, time.monotonic() + 1.0, precise=False)):
            pass
        return got[0]

    async def __aiter__(self) -> AsyncIterator[Envelope]:
        while True:
            for env in await self._areading(10, time.monotonic() + 1.0, precise=False):
                yield env
