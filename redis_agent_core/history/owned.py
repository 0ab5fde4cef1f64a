"""Per-owner session lists: which sessions of the history belong to an owner (a user of
the reference service), newest first, without a ``SCAN``.

An owner's session ``s`` is stored in the history as ``"<owner>/<s>"``
(:meth:`OwnedSessions.stored_id`; an owner holds no ``/``, so two owners never share a
session). Each owner's list is a sorted set scored by last activity
(``KeySpace.owned_sessions``), refreshed by each turn (:meth:`OwnedSessions.add_commands`,
pipelined beside the history append), expiring with the sessions.

A list is one key: a server that evicts keys may drop it while the sessions stay. It
tells its loss as the history's session index does (``lost_lib.lua``: a ``''`` member and
a marker key in its slot), and a read rebuilds it from that index. The list and its
marker evicted together look like a new owner: the next turn on a session that held
messages before (``had_messages=True``) finds that session missing and marks the list
lost, so the following read rebuilds it; until then, only turns on new sessions, the
list shows those alone: up to ``ttl`` after the owner's last turn on an older session
(they have expired then), for good with no ``ttl``, unless :meth:`OwnedSessions.rebuild`
runs (docs/history.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from ..config import RedisAgentConfig, check_size
from ..errors import ConfigError, DataCorruptionError
from ..redis_errors import translate_errors
from ..scripts import arun_command, run_command
from .model import _check_session, _text
from .scripts import _OWNED_ADD, _OWNED_LIST, _OWNED_REBUILD

__all__ = ["OwnedSessions"]

logger = logging.getLogger(__name__)

_REBUILD_BATCH = 500  # sessions a rebuild script adds, at most
_GLOB = str.maketrans({c: "\\" + c for c in "*?[]\\"})


class OwnedSessions:
    """The owners' session lists of one namespace (sync and asyncio), for sessions of
    the history stored under :meth:`stored_id`. ``ttl``: seconds a list outlives its
    owner's last turn (the history's TTL; ``None``: never expires)."""

    def __init__(self, config: RedisAgentConfig, *, ttl: int | None = None) -> None:
        if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 0):
            raise ConfigError(f"ttl must be an int of seconds >= 0 or None, got {ttl!r}")
        self.config = config
        self.ttl = ttl

    @staticmethod
    def stored_id(owner: str, session_id: str) -> str:
        """The history's id of ``owner``'s session ``session_id``."""
        return _prefix(owner) + _check_session(session_id)

    # -- builders (shared by the sync and async drivers) --
    def _keys(self, owner: str) -> list[str]:
        k = self.config.keys
        return [k.owned_sessions(_check_owner(owner)), k.owned_sessions_marker(owner)]

    def add_commands(
        self, owner: str, session_id: str, *, had_messages: bool = False
    ) -> list[tuple[Any, ...]]:
        """The commands listing ``session_id`` as ``owner``'s newest session, to pipeline
        beside the turn's history write. ``had_messages``: the session held messages
        before this turn (what tells a list lost together with its marker)."""
        args = [_check_session(session_id), time.time(), self.ttl or 0, int(had_messages)]
        return [_OWNED_ADD.evalsha(self._keys(owner), args)]

    def _list_call(self, owner: str, limit: int) -> tuple[Any, ...]:
        return _OWNED_LIST.evalsha(self._keys(owner), [check_size(limit, "limit")])

    def _exists_calls(self, owner: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
        msgs = self.config.keys.history_messages
        return [("EXISTS", msgs(self.stored_id(owner, s))) for s in ids]

    def _rebuild_calls(self, owner: str, found: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Scripts putting ``found`` (score, id pairs) back, the last marking it whole."""
        keys, step = self._keys(owner), 2 * _REBUILD_BATCH
        calls = []
        for start in range(0, max(len(found), 1), step):
            last = "1" if start + step >= len(found) else "0"
            args = [self.ttl or 0, last, *found[start : start + step]]
            calls.append(_OWNED_REBUILD.evalsha(keys, args))
        return calls

    def _index_pattern(self, owner: str) -> str:
        return _prefix(owner).translate(_GLOB) + "*"

    def _both_lost(self, owner: str) -> DataCorruptionError:
        index = self.config.keys.history_sessions()
        logger.warning(
            "%r's session list and the history session index %r were lost (evicted):"
            " run SessionStore(config).rebuild_sessions() once",
            owner,
            index,
        )
        return DataCorruptionError(
            f"the session list of owner {owner!r} was lost (evicted) and so was the history "
            f"session index {index!r} it is rebuilt from (it would list only the sessions "
            "written since): run SessionStore(config).rebuild_sessions() once; the next "
            "read rebuilds this list"
        )

    def _rebuilt(self, owner: str, found: Sequence[Any]) -> int:
        logger.warning(
            "%r's session list was lost (evicted): %d sessions put back", owner, len(found) // 2
        )
        return len(found) // 2

    # -- sync --
    def add(self, owner: str, session_id: str, *, had_messages: bool = False) -> bool:
        """List ``session_id`` as ``owner``'s newest session (see :meth:`add_commands`);
        whether it was not listed before."""
        (call,) = self.add_commands(owner, session_id, had_messages=had_messages)
        with translate_errors(self.config, "list a session"):
            return bool(run_command(self.config.get_client(), call, wait=self.config.backoff))

    def sessions(self, owner: str, limit: int = 100) -> list[str]:
        """``owner``'s newest ``limit`` live session ids, most recently active first. A
        lost list is rebuilt first (:meth:`rebuild`); expired sessions leave it."""
        call = self._list_call(owner, limit)
        client = self.config.get_client()
        with translate_errors(self.config, "list sessions"):
            reply = run_command(client, call, wait=self.config.backoff)
            if _lost(reply):
                self.rebuild(owner)
                reply = run_command(client, call, wait=self.config.backoff)
            ids = self._ids(owner, reply)
            alive, gone = _split(ids, _pipeline(client, self._exists_calls(owner, ids)))
            if gone:
                client.zrem(self._keys(owner)[0], *gone)
        return alive

    def rebuild(self, owner: str) -> int:
        """Put ``owner``'s sessions back into their list from the history's session index
        (one ``ZSCAN`` of it, matching the owner's sessions) and mark it whole; how many.
        Raises :class:`DataCorruptionError` when that index was lost too (it would list
        only the sessions written since): ``SessionStore(config).rebuild_sessions()``."""
        k = self.config.keys
        client = self.config.get_client()
        with translate_errors(self.config, "rebuild a session list"):
            if client.zscore(k.history_sessions(), "") is None and client.exists(
                k.history_sessions_marker()
            ):
                raise self._both_lost(owner)
            found: list[Any] = []
            scan = client.zscan_iter(
                k.history_sessions(), match=self._index_pattern(owner), count=1000
            )
            for member, score in scan:
                found += _entry(_prefix(owner), member, score)
            for call in self._rebuild_calls(owner, found):
                run_command(client, call, wait=self.config.backoff)
        return self._rebuilt(owner, found)

    # -- asyncio --
    async def aadd(self, owner: str, session_id: str, *, had_messages: bool = False) -> bool:
        """Async :meth:`add`."""
        (call,) = self.add_commands(owner, session_id, had_messages=had_messages)
        with translate_errors(self.config, "list a session"):
            return bool(
                await arun_command(self.config.get_async_client(), call, wait=self.config.backoff)
            )

    async def asessions(self, owner: str, limit: int = 100) -> list[str]:
        """Async :meth:`sessions`."""
        call = self._list_call(owner, limit)
        client = self.config.get_async_client()
        with translate_errors(self.config, "list sessions"):
            reply = await arun_command(client, call, wait=self.config.backoff)
            if _lost(reply):
                await self.arebuild(owner)
                reply = await arun_command(client, call, wait=self.config.backoff)
            ids = self._ids(owner, reply)
            alive, gone = _split(ids, await _apipeline(client, self._exists_calls(owner, ids)))
            if gone:
                await client.zrem(self._keys(owner)[0], *gone)
        return alive

    async def arebuild(self, owner: str) -> int:
        """Async :meth:`rebuild`."""
        k = self.config.keys
        client = self.config.get_async_client()
        with translate_errors(self.config, "rebuild a session list"):
            if await client.zscore(k.history_sessions(), "") is None and await client.exists(
                k.history_sessions_marker()
            ):
                raise self._both_lost(owner)
            found: list[Any] = []
            scan = client.zscan_iter(
                k.history_sessions(), match=self._index_pattern(owner), count=1000
            )
            async for member, score in scan:
                found += _entry(_prefix(owner), member, score)
            for call in self._rebuild_calls(owner, found):
                await arun_command(client, call, wait=self.config.backoff)
        return self._rebuilt(owner, found)

    def _ids(self, owner: str, reply: Any) -> list[str]:
        if _lost(reply):  # rebuilt, and lost again at once: told, never short
            raise DataCorruptionError(
                f"the session list of owner {owner!r} was lost (evicted) again right after "
                "its rebuild: give the history a Redis with maxmemory-policy noeviction"
            )
        return [_text(m) for m in reply[1:]]


def _check_owner(owner: object) -> str:
    if not isinstance(owner, str) or not owner or "/" in owner:
        raise ConfigError(f"owner must be a non-empty str without '/', got {owner!r}")
    return owner


def _pipeline(client: Any, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for c in calls:
        pipe.execute_command(*c)
    return list(pipe.execute()) if calls else []


async def _apipeline(client: Any, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for c in calls:
        pipe.execute_command(*c)
    return list(await pipe.execute()) if calls else []


def _prefix(owner: str) -> str:
    return _check_owner(owner) + "/"


def _lost(reply: Any) -> bool:
    return int(reply[0]) == 1


def _split(ids: Sequence[str], exists: Sequence[Any]) -> tuple[list[str], list[str]]:
    """(live ids, ids whose messages are gone) from one ``EXISTS`` reply per id."""
    alive = [s for s, n in zip(ids, exists, strict=True) if n]
    return alive, [s for s, n in zip(ids, exists, strict=True) if not n]


def _entry(prefix: str, member: bytes | str, score: float) -> list[Any]:
    """A session index entry of the owner as (score in s, session id), or nothing."""
    stored = _text(member)
    if not stored.startswith(prefix) or len(stored) == len(prefix) or not math.isfinite(score):
        return []
    return [score / 1000, stored[len(prefix) :]]  # the index is in ms, the list in s
