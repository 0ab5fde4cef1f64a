"""What the chat history stores and returns: ``Status``, :class:`SessionInfo`,
:class:`RecalledMessage`, and the pure helpers that check session ids, encode metadata
and parse replies (:func:`parse_info`, :func:`slice_both`, :func:`corrupt_message_error`),
shared by the sync and async paths and by the adapters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from ..errors import ConfigError, DataCorruptionError
from ..jsonvalues import dumps_json

Status = Literal["active", "archived"]
ACTIVE: Status = "active"
ARCHIVED: Status = "archived"

_META_PREFIX = "m:"  # user metadata fields; reserved ones have no prefix


@dataclass(frozen=True)
class SessionInfo:
    """What is known about one session: times are seconds since the epoch, None when
    unknown (the session's metadata hash was evicted while its messages stayed: metadata
    and times are lost; the next write stamps ``updated_at``, ``created_at`` stays None)."""

    session_id: str
    created_at: float | None
    updated_at: float | None
    message_count: int
    archived_count: int
    ttl: float | None  # seconds left before expiry, None when it never expires
    metadata: dict[str, Any]


@dataclass(frozen=True)
class RecalledMessage:
    """A stored message returned by semantic recall, with its cosine distance."""

    payload: bytes
    distance: float
    seq: int


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _as_bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _check_session(session_id: object) -> str:
    if not isinstance(session_id, str) or not session_id:
        raise ConfigError(f"session_id must be a non-empty str, got {session_id!r}")
    return session_id


def corrupt_message_error(
    session_id: str, index: int, exc: BaseException, status: Status = ACTIVE
) -> DataCorruptionError:
    """The error raised when a stored message cannot be decoded (adapters use it)."""
    where = "archived message" if status == ARCHIVED else "message"
    return DataCorruptionError(
        f"session {session_id!r}: stored {where} at index {index} cannot be decoded "
        f"({type(exc).__name__}: {exc}). The other messages are intact: read them with "
        f"on_corrupt='skip', or remove this one with delete_message(session, {index})."
    )


def parse_info(session_id: str, reply: Sequence[Any]) -> SessionInfo | None:
    """Turn the ``_INFO`` script's reply into a :class:`SessionInfo` (None: no session)."""
    pairs, active, archived, pttl = reply
    if isinstance(pairs, dict):  # RESP3 may hand back a map
        items = list(pairs.items())
    else:
        items = list(zip(pairs[::2], pairs[1::2], strict=True))
    if not items and not active and not archived:
        return None
    reserved: dict[str, str] = {}
    metadata: dict[str, Any] = {}
    for raw_field, raw_value in items:
        name = _text(raw_field)
        if name.startswith(_META_PREFIX):
            try:
                metadata[name[len(_META_PREFIX) :]] = orjson.loads(raw_value)
            except orjson.JSONDecodeError as exc:
                raise DataCorruptionError(
                    f"session {session_id!r}: metadata field {name[2:]!r} is not JSON ({exc})"
                ) from exc
        else:
            reserved[name] = _text(raw_value)
    return SessionInfo(
        session_id=session_id,
        created_at=_seconds(reserved.get("created_at")),
        updated_at=_seconds(reserved.get("updated_at")),
        message_count=int(active),
        archived_count=int(archived),
        ttl=None if int(pttl) < 0 else int(pttl) / 1000,
        metadata=metadata,
    )


def _seconds(ms: str | None) -> float | None:
    # a missing stamp is unknown: read as 0 it was a session of 1970
    return None if ms is None else int(ms) / 1000


def _encode_metadata(metadata: Mapping[str, Any] | None) -> list[bytes | str]:
    if metadata is None:
        return []
    if not isinstance(metadata, Mapping):
        raise ConfigError(
            f"metadata must be a mapping of str keys to JSON values (a dict), got "
            f"{type(metadata).__name__}: {metadata!r}"[:300]
        )
    out: list[bytes | str] = []
    for name, value in metadata.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"metadata keys must be non-empty str, got {name!r}")
        out += [_META_PREFIX + name, dumps_json(value, f"metadata value of {name!r}")]
    return out


def _encode_removed(remove: Sequence[str]) -> list[str]:
    """The hash fields of metadata names to delete (a str would be split into letters)."""
    if isinstance(remove, str) or not isinstance(remove, (list, tuple, set, frozenset)):
        raise ConfigError(f"remove must be a list of metadata names, got {remove!r}"[:300])
    for name in remove:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"metadata names to remove must be non-empty str, got {name!r}")
    return [_META_PREFIX + name for name in remove]


def slice_both(
    archived: list[bytes], active: list[bytes], offset: int | None, limit: int | None
) -> list[bytes]:
    """Archived then active messages, sliced like SQL ``OFFSET``/``LIMIT``."""
    items = archived + active
    start = offset or 0
    return items[start:] if limit is None else items[start : start + limit]
