"""Conversation state: one Redis list of JSON messages per session, with metadata,
an archive, sliding expiry, a session index and optional semantic recall.

Layout (``KeySpace``): a session's messages, metadata hash and archive share one hash
tag, so every per-session write is one atomic Lua script even on Redis Cluster. The
namespace's session index (a sorted set scored by last activity) is updated by the
same script on a single node; on a cluster it lives in another slot, so its command is
pipelined next to the script (still one round trip). Messages
are opaque JSON payloads: the LangChain and LlamaIndex adapters own the format.

Expiry: with a TTL, every append, replace, metadata update and archive/drop of the
oldest refreshes it on all of a session's keys and the session's index entry (sliding
expiry); reads and single deletes (``delete_at``, ``pop_last``) do not. Listing and
every write (at most 100 entries a write) drop sessions idle for longer than the TTL
from the index, so all stores of one namespace should use the same TTL.

Redis down: every call raises :class:`RedisUnavailableError` after the config's
timeouts and retries; a write either ran whole (one script) or not at all.

Modules: ``scripts`` (the Lua scripts and their EVALSHA/EVAL helper), ``model``
(``Status``, :class:`SessionInfo`, :class:`RecalledMessage` and the pure helpers that
encode and parse them), ``store`` (:class:`SessionStore`, sync and asyncio),
``owned`` (:class:`OwnedSessions`: per-owner session lists, as the reference service's
users have) and ``recall`` (the vector index behind semantic recall).
"""

from __future__ import annotations

from .model import (
    ACTIVE,
    ARCHIVED,
    RecalledMessage,
    SessionInfo,
    Status,
    corrupt_message_error,
    parse_info,
    slice_both,
)
from .owned import OwnedSessions
from .store import SessionStore
from .textsearch import rank_texts

__all__ = [
    "ACTIVE",
    "ARCHIVED",
    "OwnedSessions",
    "RecalledMessage",
    "SessionInfo",
    "SessionStore",
    "Status",
    "corrupt_message_error",
    "parse_info",
    "rank_texts",
    "slice_both",
]
