"""Long-term agent memory on plain Redis: items by namespace and key, JSON values.

Keys of a store (see :meth:`~redis_agent_core.keys.KeySpace.agent_store`, one hash tag,
so one Redis Cluster slot per store): one hash per item (JSON value, created, updated,
TTL), a sorted set of every item's member (all scores 0: a lexicographic range is a
namespace prefix, see :mod:`.records`) and a sorted set of members by expiry time.
Get, put, delete, search by namespace prefix and filter, and namespace listing need
no module (no RediSearch, no RedisJSON).

TTL: an item put with ``ttl`` expires that long after its last write (or read, with
refresh); Redis expires the hash itself, and the script of ``purge.lua`` unindexes it
on the next search or listing.

Redis down: every method raises :class:`RedisUnavailableError`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from ..config import RedisAgentConfig, get_default_config
from ..errors import ConfigError
from ..plans import Plan, arun_plan, run_plan
from ..scripts import Script
from .records import (
    F_CREATED,
    F_TTL,
    FIELDS,
    StoredItem,
    check_filter,
    check_namespace,
    decode_member,
    item_fields,
    literal_prefix,
    matches_filter,
    member,
    namespace_matches,
    namespace_prefix,
    parse_item,
    prefix_range,
)

__all__ = ["ItemStore", "PutIn"]

PutIn = tuple[Sequence[str], str, Mapping[str, Any] | None, float | None]
"""(namespace, key, value or ``None`` to delete, TTL in seconds or ``None``)."""

_PURGE = Script.load(__package__, "purge.lua")
T = TypeVar("T")
_CHUNK = 200  # index members read per round trip while searching or listing


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ttl_ms(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0:
        raise ConfigError(f"ttl must be a positive number or None, got {ttl!r}")
    return max(1, int(ttl * 1000))


def _check_page(limit: int, offset: int) -> None:
    for name, n in (("limit", limit), ("offset", offset)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{name} must be an int >= 0, got {n!r}")


class ItemStore:
    """Items of an agent store, sync and async (every operation one pure plan).

    Args:
        config: connection settings (default: the process-wide config).
        name: the store's name; stores of different names share nothing.
    """

    def __init__(self, config: RedisAgentConfig | None = None, *, name: str = "default") -> None:
        self.config = config or get_default_config()
        self.name = name
        keys = self.config.keys
        self.index_key = keys.agent_store(name, "idx")
        self.expiry_key = keys.agent_store(name, "exp")
        self.item_prefix = keys.agent_store(name, "i:").encode()

    def item_key(self, raw_member: bytes) -> bytes:
        return self.item_prefix + raw_member

    # -- plans (pure; run by both drivers) --
    def _queue_purge(self, pipe: Any) -> None:
        pipe.execute_command(
            *_PURGE.eval([self.index_key, self.expiry_key], [self.item_prefix, _now_ms()])
        )

    def _queue_refresh(self, pipe: Any, found: Sequence[tuple[bytes, int]]) -> None:
        now = _now_ms()
        for raw, ttl in found:
            pipe.pexpire(self.item_key(raw), ttl)
            pipe.zadd(self.expiry_key, {raw: now + ttl}, xx=True)

    def put_plan(self, puts: Sequence[PutIn]) -> Plan[None]:
        """Every put and delete of ``puts`` in one MULTI/EXEC."""
        now = _now_ms()
        checked = []
        for namespace, key, value, ttl in puts:
            raw = member(check_namespace(namespace), key)
            ttl_ms = _ttl_ms(ttl)
            fields = item_fields(value, now, ttl_ms) if value is not None else None
            checked.append((raw, fields, ttl_ms))

        def queue(pipe: Any) -> None:
            for raw, fields, ttl_ms in checked:
                key = self.item_key(raw)
                if fields is None:
                    pipe.delete(key)
                    pipe.zrem(self.index_key, raw)
                    pipe.zrem(self.expiry_key, raw)
                    continue
                pipe.hsetnx(key, F_CREATED, b"%d" % now)
                pipe.hset(key, mapping=fields)
                pipe.zadd(self.index_key, {raw: 0})
                if ttl_ms is None:
                    pipe.hdel(key, F_TTL)
                    pipe.persist(key)
                    pipe.zrem(self.expiry_key, raw)
                else:
                    pipe.pexpire(key, ttl_ms)
                    pipe.zadd(self.expiry_key, {raw: now + ttl_ms})

        yield True, queue

    def _read_plan(
        self, raws: Sequence[bytes], refresh: bool
    ) -> Plan[list[tuple[StoredItem, int | None] | None]]:
        """The items of ``raws`` (``None`` where gone), TTLs refreshed when asked."""
        if not raws:
            return []

        def read(pipe: Any) -> None:
            for raw in raws:
                pipe.hmget(self.item_key(raw), FIELDS)

        replies = yield False, read
        out = []
        for raw, reply in zip(raws, replies, strict=True):
            namespace, key = decode_member(raw)
            out.append(parse_item(namespace, key, reply))
        alive = [(raw, got[1]) for raw, got in zip(raws, out, strict=True) if got and got[1]]
        if refresh and alive:
            yield False, lambda pipe: self._queue_refresh(pipe, alive)
        return out

    def get_plan(
        self, refs: Sequence[tuple[Sequence[str], str]], refresh: bool
    ) -> Plan[list[StoredItem | None]]:
        raws = [member(check_namespace(ns), key) for ns, key in refs]
        found = yield from self._read_plan(raws, refresh)
        return [got[0] if got else None for got in found]

    def search_plan(
        self,
        prefix: Sequence[str],
        where: Mapping[str, Any] | None,
        limit: int,
        offset: int,
        refresh: bool,
    ) -> Plan[list[StoredItem]]:
        """Items under ``prefix`` matching ``where``, in namespace then key order."""
        labels = check_namespace(prefix, allow_empty=True)
        check_filter(where)
        _check_page(limit, offset)
        low, high = prefix_range(labels)
        matched: list[tuple[bytes, StoredItem, int | None]] = []
        start, first = 0, True
        # first read what the page needs (twice that with a filter), then twice as much
        # each read: a small page reads few items, a selective filter few round trips
        chunk = min(_CHUNK, max(10, (offset + limit) * (2 if where else 1)))
        while len(matched) < offset + limit:

            def scan(pipe: Any, start: int = start, first: bool = first, n: int = chunk) -> None:
                if first:
                    self._queue_purge(pipe)
                pipe.zrangebylex(self.index_key, low, high, start, n)

            replies = yield False, scan
            raws = replies[-1]
            if not raws:
                break
            found = yield from self._read_plan(raws, refresh=False)
            for raw, got in zip(raws, found, strict=True):
                if got and matches_filter(got[0].value, where):
                    matched.append((raw, got[0], got[1]))
            if len(raws) < chunk:
                break
            start, first = start + chunk, False
            chunk = min(_CHUNK * 4, chunk * 2)
        page = matched[offset : offset + limit]
        alive = [(raw, ttl) for raw, _, ttl in page if ttl]
        if refresh and alive:
            yield False, lambda pipe: self._queue_refresh(pipe, alive)
        return [item for _, item, _ in page]

    def namespaces_plan(
        self,
        conditions: Sequence[tuple[str, Sequence[str]]],
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> Plan[list[tuple[str, ...]]]:
        """Distinct namespaces holding items (cut at ``max_depth``), in order.

        One index read per namespace found: the read after a namespace starts past all
        of its items (past everything under it once cut at ``max_depth``).
        """
        _check_page(limit, offset)
        if max_depth is not None and (
            isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1
        ):
            raise ConfigError(f"max_depth must be an int >= 1 or None, got {max_depth!r}")
        for kind, path in conditions:
            namespace_matches((), [(kind, ())])  # names the bad match type
            check_namespace([p for p in path], allow_empty=True)
        low, high = prefix_range(literal_prefix(conditions))
        found: list[tuple[str, ...]] = []
        first = True
        while len(found) < offset + limit:

            def step(pipe: Any, low: bytes = low, first: bool = first) -> None:
                if first:
                    self._queue_purge(pipe)
                pipe.zrangebylex(self.index_key, low, high, 0, 1)

            replies = yield False, step
            if not replies[-1]:
                break
            namespace, _ = decode_member(replies[-1][0])
            if not namespace_matches(namespace, conditions):
                # past this namespace's own items only: its children may still match
                low = b"(" + (namespace_prefix(namespace) + "\x1f").encode() + b"\xff"
            else:
                shown = namespace[:max_depth] if max_depth else namespace
                if not found or found[-1] != shown:
                    found.append(shown)
                if len(shown) < len(namespace):
                    # everything under the cut namespace is shown as it: skip it all
                    low = b"[" + namespace_prefix(shown)[:-1].encode() + b"\x1f"
                else:
                    low = b"(" + (namespace_prefix(namespace) + "\x1f").encode() + b"\xff"
            first = False
        return found[offset : offset + limit]

    # -- drivers --
    def run(self, plan: Plan[T], action: str = "using the agent store") -> T:
        """Run a plan of this store on the sync client."""
        return run_plan(self.config, plan, action)

    async def arun(self, plan: Plan[T], action: str = "using the agent store") -> T:
        """Run a plan of this store on the asyncio client."""
        return await arun_plan(self.config, plan, action)

    # -- sync --
    def put(self, puts: Sequence[PutIn]) -> None:
        """Store (value) or delete (``None``) items, all in one MULTI/EXEC."""
        run_plan(self.config, self.put_plan(puts), "writing agent store items")

    def get(
        self, refs: Sequence[tuple[Sequence[str], str]], *, refresh: bool = False
    ) -> list[StoredItem | None]:
        """The items of ``refs`` (``None`` where missing)."""
        return run_plan(self.config, self.get_plan(refs, refresh), "reading agent store items")

    def search(
        self,
        prefix: Sequence[str],
        *,
        where: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh: bool = False,
    ) -> list[StoredItem]:
        """Items under the namespace ``prefix`` whose values match ``where``."""
        plan = self.search_plan(prefix, where, limit, offset, refresh)
        return run_plan(self.config, plan, "searching the agent store")

    def namespaces(
        self,
        conditions: Sequence[tuple[str, Sequence[str]]] = (),
        *,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Namespaces holding items that meet ``conditions`` ((kind, path) pairs)."""
        plan = self.namespaces_plan(conditions, max_depth, limit, offset)
        return run_plan(self.config, plan, "listing agent store namespaces")

    # -- async --
    async def aput(self, puts: Sequence[PutIn]) -> None:
        """Async :meth:`put`."""
        await arun_plan(self.config, self.put_plan(puts), "writing agent store items")

    async def aget(
        self, refs: Sequence[tuple[Sequence[str], str]], *, refresh: bool = False
    ) -> list[StoredItem | None]:
        """Async :meth:`get`."""
        plan = self.get_plan(refs, refresh)
        return await arun_plan(self.config, plan, "reading agent store items")

    async def asearch(
        self,
        prefix: Sequence[str],
        *,
        where: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh: bool = False,
    ) -> list[StoredItem]:
        """Async :meth:`search`."""
        plan = self.search_plan(prefix, where, limit, offset, refresh)
        return await arun_plan(self.config, plan, "searching the agent store")

    async def anamespaces(
        self,
        conditions: Sequence[tuple[str, Sequence[str]]] = (),
        *,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Async :meth:`namespaces`."""
        plan = self.namespaces_plan(conditions, max_depth, limit, offset)
        return await arun_plan(self.config, plan, "listing agent store namespaces")
