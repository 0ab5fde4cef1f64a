"""Putting back into the session index the sessions it lost: the index
(``<ns>:hist:sessions``) is one key, and a server that evicts keys (an evicting
``maxmemory-policy``) may drop it while the sessions' own keys stay. ``sessions()``
then hid every session not written since, with no error; it now raises (the index's
``''`` member and its marker key tell the loss: ``prune_lib.lua``).
:meth:`~redis_agent_core.history.SessionStore.rebuild_sessions` finds the sessions by
their keys (a ``SCAN`` of the namespace's history keys: the one place the pack scans,
run only when asked) and adds those the index lacks.

A session's last activity is read back on the server's clock, as the index is scored:
with a TTL, from what is left of it (every write refreshes the TTL of all the session's
keys); without one, from its meta hash's ``updated_at`` (else now). Entries the index
holds are left as they are (``ZADD NX``); then the index is marked whole again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..keys import KeySpace, unescape_part

_SUFFIXES = (":msgs", ":meta", ":archive")


def scan_pattern(keys: KeySpace) -> str:
    """``SCAN MATCH`` glob of every session's keys (the namespace never holds a glob
    character; a session id's part is between braces)."""
    return keys.history_meta("*").rsplit(":", 1)[0] + ":*"


def session_of(key: bytes | str, keys: KeySpace) -> str | None:
    """The session id a scanned key belongs to, or None for another key."""
    text = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
    head = keys.history_sessions().rsplit(":", 1)[0] + ":{"
    if not text.startswith(head) or not text.endswith(_SUFFIXES):
        return None
    inner, sep, _ = text[len(head) :].rpartition("}:")
    return unescape_part(inner) if sep else None


def read_calls(keys: KeySpace, sessions: Sequence[str]) -> list[tuple[Any, ...]]:
    """Commands reading what scores each session (after one ``TIME``)."""
    calls: list[tuple[Any, ...]] = [("TIME",)]
    for s in sessions:
        calls += [
            ("PTTL", keys.history_messages(s)),
            ("PTTL", keys.history_meta(s)),
            ("PTTL", keys.history_archive(s)),
            ("HGET", keys.history_meta(s), "updated_at"),
        ]
    return calls


def scores(ttl: int | None, sessions: Sequence[str], replies: Sequence[Any]) -> list[Any]:
    """``ZADD NX`` arguments (score, member, ...) from the replies of :func:`read_calls`."""
    seconds, micros = (int(x) for x in replies[0])
    now = seconds * 1000 + micros // 1000
    args: list[Any] = []
    for i, session in enumerate(sessions):
        *pttls, updated = replies[1 + 4 * i : 5 + 4 * i]
        left = max(int(p) for p in pttls)
        if ttl and left > 0:  # the TTL slides: the last write was ttl - left ago
            score = now - max(0, ttl * 1000 - left)
        elif updated is not None:
            score = min(int(updated), now)
        else:
            score = now
        args += [score, session]
    return args
