"""Pure encoding of checkpoint records: what goes in each hash field and back.

Nothing here touches a server; the sync and async stores queue the same commands
and parse the same replies. Values are opaque typed blobs ``(type, bytes)`` made by
the caller's serializer; this module never decodes them.

Layout of one checkpoint hash (see :meth:`KeySpace.checkpoint`):

- ``i``: checkpoint id, ``p``: parent id (empty: none), ``c``: the checkpoint,
  ``m``: its metadata (typed blobs), ``r``: the channel versions it references
  (full saver: values live in the namespace's blob hash under ``<channel>\\0<version>``);
- ``v<channel>``: a channel value inline (shallow saver);
- ``w`` + packed (checkpoint id, task id, index): one pending write, valued packed
  (task path, channel, type, bytes).

A typed blob is ``<type>\\0<payload>`` (type names hold no NUL); every other compound
value is length-prefixed (:func:`pack`), so no byte in an id, a channel or a task path
can be mistaken for a separator.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, DataCorruptionError
from ..keys import KeySpace, check_text, unescape_part

__all__ = [
    "StoredCheckpoint",
    "StoredWrite",
    "Typed",
    "pack",
    "unpack",
]

Typed = tuple[str, bytes]
"""A serializer's output: (type name, payload)."""

F_ID = b"i"
F_PARENT = b"p"
F_CHECKPOINT = b"c"
F_METADATA = b"m"
F_REFS = b"r"
VALUE_PREFIX = b"v"
WRITE_PREFIX = b"w"
SEP = b"\x00"
_LENGTH = struct.Struct(">I")
# above every byte of a UTF-8 id: closes a lexicographic range of one namespace
TOP = b"\xff"


@dataclass(frozen=True, slots=True)
class StoredWrite:
    """One pending write of a task, as stored."""

    task_id: str
    idx: int
    task_path: str
    channel: str
    value: Typed


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """One checkpoint as stored: blobs still encoded, writes in replay order."""

    thread_id: str
    checkpoint_ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: Typed
    metadata: Typed
    values: dict[str, Typed] = field(default_factory=dict)
    writes: list[StoredWrite] = field(default_factory=list)


def pack(parts: Iterable[bytes]) -> bytes:
    """Length-prefixed concatenation (4-byte big-endian length before each part)."""
    return b"".join(_LENGTH.pack(len(p)) + p for p in parts)


def unpack(data: bytes) -> list[bytes]:
    """Inverse of :func:`pack`; a truncated blob raises :class:`DataCorruptionError`."""
    out: list[bytes] = []
    pos, end = 0, len(data)
    try:
        while pos < end:
            (size,) = _LENGTH.unpack_from(data, pos)
            pos += 4
            nxt = pos + size
            if nxt > end:
                raise DataCorruptionError("checkpoint record is truncated (payload)")
            out.append(data[pos:nxt])
            pos = nxt
    except struct.error:
        raise DataCorruptionError("checkpoint record is truncated (length prefix)") from None
    return out


def pack_typed(value: Typed) -> bytes:
    """``<type>\0<payload>``: one C-level split to read back (type names hold no NUL)."""
    kind, payload = value
    if "\x00" in kind:
        raise ConfigError(f"serializer type name {kind!r} contains NUL, which cannot be stored")
    return kind.encode() + SEP + bytes(payload)


def unpack_typed(data: bytes) -> Typed:
    kind, sep, payload = data.partition(SEP)
    if not sep:
        raise DataCorruptionError("checkpoint value has no type name")
    return kind.decode(), payload


def check_namespace(checkpoint_ns: str) -> str:
    """``checkpoint_ns`` if usable: a str without NUL (NUL ends a namespace in the index)."""
    if not isinstance(checkpoint_ns, str):
        raise ConfigError(
            f"checkpoint_ns must be a str, got {type(checkpoint_ns).__name__}: {checkpoint_ns!r}"
        )
    if "\x00" in checkpoint_ns:
        raise ConfigError(
            f"checkpoint_ns {checkpoint_ns!r} contains a NUL character, which cannot be "
            "stored; use another separator"
        )
    return check_text(checkpoint_ns, "checkpoint_ns")


def index_member(checkpoint_ns: str, checkpoint_id: str) -> bytes:
    return checkpoint_ns.encode() + SEP + checkpoint_id.encode()


def split_member(member: bytes | str) -> tuple[str, str]:
    raw = member if isinstance(member, bytes) else member.encode()
    ns, _, cid = raw.partition(SEP)
    return ns.decode(), cid.decode()


def range_bounds(checkpoint_ns: str, before: str | None) -> tuple[bytes, bytes]:
    """(max, min) of ZREVRANGEBYLEX over one namespace, newest first, ids < ``before``."""
    ns = checkpoint_ns.encode() + SEP
    top = b"(" + ns + before.encode() if before is not None else b"[" + ns + TOP
    return top, b"[" + ns


def below(member: bytes | str) -> bytes:
    """The exclusive ZREVRANGEBYLEX max just below an index member: where the next page
    of a listing starts (an offset moved when a checkpoint was put meanwhile, and the
    next page repeated the last one's end)."""
    return b"(" + (member if isinstance(member, bytes) else member.encode())


def blob_field(channel: str, version: str) -> bytes:
    return pack((channel.encode(), version.encode()))


def write_field(checkpoint_id: str, task_id: str, idx: int) -> bytes:
    return WRITE_PREFIX + pack((checkpoint_id.encode(), task_id.encode(), str(idx).encode()))


def write_value(task_path: str, channel: str, value: Typed) -> bytes:
    return pack((task_path.encode(), channel.encode(), value[0].encode(), bytes(value[1])))


def record_fields(
    checkpoint_id: str,
    parent_id: str | None,
    checkpoint: Typed,
    metadata: Typed,
) -> dict[bytes, bytes]:
    return {
        F_ID: checkpoint_id.encode(),
        F_PARENT: (parent_id or "").encode(),
        F_CHECKPOINT: pack_typed(checkpoint),
        F_METADATA: pack_typed(metadata),
    }


def refs_value(channel_versions: Mapping[str, str]) -> bytes:
    return pack(x for ch, ver in channel_versions.items() for x in (ch.encode(), ver.encode()))


def parse_refs(data: bytes | None) -> list[tuple[str, bytes]]:
    """(channel, blob field) pairs a full checkpoint references."""
    if not data:
        return []
    parts = unpack(data)
    return [
        (parts[i].decode(), pack((parts[i], parts[i + 1]))) for i in range(0, len(parts) - 1, 2)
    ]


def parse_record(
    thread_id: str,
    checkpoint_ns: str,
    raw: Mapping[Any, Any],
    checkpoint_id: str | None = None,
) -> StoredCheckpoint | None:
    """The record in a checkpoint hash (HGETALL reply), or ``None`` if the hash holds
    no checkpoint (expired, deleted, or a shallow hash now holding another id)."""
    h = {(k if isinstance(k, bytes) else str(k).encode()): v for k, v in raw.items()}
    stored_id = h.get(F_ID)
    cp = h.get(F_CHECKPOINT)
    if stored_id is None or cp is None or h.get(F_METADATA) is None:
        return None
    cid = stored_id.decode()
    if checkpoint_id is not None and cid != checkpoint_id:
        return None
    values: dict[str, Typed] = {}
    writes: list[tuple[tuple[str, str, int], StoredWrite]] = []
    for key, value in h.items():
        if key[:1] == VALUE_PREFIX:
            values[key[1:].decode()] = unpack_typed(value)
        elif key[:1] == WRITE_PREFIX:
            w_cid, task_id_b, idx_b = unpack(key[1:])
            if w_cid.decode() != cid:
                continue  # a late write for a checkpoint a shallow saver replaced
            path_b, channel_b, kind_b, payload = unpack(value)
            w = StoredWrite(
                task_id=task_id_b.decode(),
                idx=int(idx_b),
                task_path=path_b.decode(),
                channel=channel_b.decode(),
                value=(kind_b.decode(), payload),
            )
            # LangGraph replays a step's writes in (task path, task id, index) order
            writes.append(((w.task_path, w.task_id, w.idx), w))
    writes.sort(key=lambda item: item[0])
    parent = h.get(F_PARENT) or b""
    return StoredCheckpoint(
        thread_id=thread_id,
        checkpoint_ns=checkpoint_ns,
        checkpoint_id=cid,
        parent_id=parent.decode() or None,
        checkpoint=unpack_typed(cp),
        metadata=unpack_typed(h[F_METADATA]),
        values=values,
        writes=[w for _, w in writes],
    )


def attach_blobs(
    record: StoredCheckpoint, key: str, refs: Sequence[tuple[str, bytes]], blobs: Sequence[Any]
) -> StoredCheckpoint:
    """``record`` with the referenced channel values read from the value hash ``key``.

    Every version a checkpoint references was stored with it or an earlier checkpoint,
    and the value hash outlives the records (each write pushes its expiry back), so a
    missing value means Redis lost it (evicted by a ``maxmemory-policy`` other than
    ``noeviction``, deleted): the checkpoint without it would resume the thread from a
    state it never had, so :class:`DataCorruptionError` is raised instead."""
    lost = []
    for (channel, _), blob in zip(refs, blobs, strict=True):
        if blob is None:
            lost.append(channel)
        else:
            record.values[channel] = unpack_typed(blob)
    if lost:
        raise DataCorruptionError(
            f"checkpoint {record.checkpoint_id!r} of thread {record.thread_id!r} "
            f"(namespace {record.checkpoint_ns!r}) references values no longer in Redis "
            f"(channels {sorted(lost)}, hash {key!r}): Redis evicted or deleted them, so "
            "the thread cannot resume from this checkpoint. Run Redis with "
            "maxmemory-policy noeviction (or a volatile-* policy and no ttl= on the saver) "
            "so checkpoints are not evicted; delete the thread to start it over"
        )
    return record


def thread_from_namespaces_key(keys: KeySpace, key: bytes | str) -> str:
    """The thread id in a :meth:`KeySpace.checkpoint_namespaces` key."""
    text = key.decode() if isinstance(key, bytes) else key
    head = keys.checkpoint_namespaces_pattern().split("{*}")[0]
    tag = text[len(head) :].rsplit(":", 1)[0]
    return unescape_part(tag[1:-1])
