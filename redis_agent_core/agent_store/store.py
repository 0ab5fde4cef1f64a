"""Long-term agent memory on plain Redis: items by namespace and key, JSON values.

Keys of a store (see :meth:`~redis_agent_core.keys.KeySpace.agent_store`, one hash tag,
so one Redis Cluster slot per store): one hash per item (JSON value, created, updated,
TTL), a sorted set of every item's member (all scores 0: a lexicographic range is a
namespace prefix, see :mod:`.records`) and a sorted set of members by expiry time.
Get, put, delete, search by namespace prefix and filter, and namespace listing need
no module (no RediSearch, no RedisJSON).

Semantic search (a store made with ``dims``; needs the Redis Query Engine): a put may
carry vectors (the caller embeds), stored as hashes beside the item and found by an
exact KNN restricted to a namespace prefix (:mod:`.semantic`); items read without it.

TTL: an item put with ``ttl`` expires that long after its last write (or read, with
refresh); Redis expires the hash itself (and its vectors, which get the same TTL), and
the script of ``purge.lua`` unindexes it on the next search or listing.

Redis down: every method raises :class:`RedisUnavailableError`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from ..config import MAX_TTL, RedisAgentConfig, check_seconds, get_default_config
from ..errors import ConfigError
from ..keys import check_store_name
from ..plans import Plan, ScriptStep, arun_plan, run_plan
from ..scripts import Script
from ..search.lifecycle import IndexLifecycle
from ..vectors.checks import MAX_K
from .records import (
    F_VALUE,
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
from .semantic import (
    VECTOR_SEP,
    check_index,
    check_item_vectors,
    check_query_vector,
    knn_command,
    pack_vector,
    parse_knn,
    prefix_tags,
    vector_schema,
)

__all__ = ["ItemStore", "PutIn", "Vectors"]

PutIn = tuple[Sequence[str], str, Mapping[str, Any] | None, float | None]
"""(namespace, key, value or ``None`` to delete, TTL in seconds or ``None``)."""
Vectors = Sequence[Sequence[float]]
"""The embeddings of one item's texts (``dims`` floats each)."""

_PURGE = Script.load(__package__, "purge.lua", undeclared=True)
# The listing's read: the first member of a range whose item key exists. A member whose
# item is gone (evicted by Redis before its recorded expiry, or expired and not purged
# yet) is stale, since puts and deletes change both in one script: it is unindexed
# on the way, at most 500 per call (then 1: call again) so a script stays short.
_LIVE = Script.load(__package__, "live.lua", undeclared=True, MAX_DROPPED=500)
_PUT = Script.load(__package__, "put.lua", undeclared=True)
T = TypeVar("T")
_CHUNK = 200  # index members read per round trip while searching or listing


def _now_ms() -> int:
    return int(time.time() * 1000)


def _ttl_ms(ttl: float | None) -> int | None:
    if ttl is None:
        return None
    # NaN and inf raised int()'s ValueError / OverflowError; past 100 years Redis refused
    # the PEXPIRE inside the put, after the item was written (kept, never expiring)
    return max(
        1, int(check_seconds(ttl, "ttl (seconds; None: never expires)", most=MAX_TTL) * 1000)
    )


def _check_page(limit: int, offset: int) -> None:
    for name, n in (("limit", limit), ("offset", offset)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"{name} must be an int >= 0, got {n!r}")


class ItemStore:
    """Items of an agent store, sync and async (every operation one pure plan).

    Args:
        config: connection settings (default: the process-wide config).
        name: the store's name; stores of different names share nothing.
        dims: the size of the vectors of semantic search (``None``: no semantic search;
            puts carry no vectors).
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "default",
        dims: int | None = None,
    ) -> None:
        self.config = config or get_default_config()
        self.name = check_store_name(name, "agent store name")
        keys = self.config.keys
        self.index_key = keys.agent_store(name, "idx")
        self.expiry_key = keys.agent_store(name, "exp")
        self.item_prefix = keys.agent_store(name, "i:").encode()
        self.vector_prefix = keys.agent_store(name, "v:").encode()
        if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
            raise ConfigError(f"dims must be an int >= 1 or None, got {dims!r}")
        self.dims = dims
        self.lifecycle: IndexLifecycle | None = None
        if dims is not None:
            index_name = keys.agent_store(name, "vidx")
            schema = vector_schema(index_name, self.vector_prefix.decode(), dims)
            self.lifecycle = IndexLifecycle(
                self.config,
                schema,
                lambda info: check_index(info, index_name, dims),
                f"semantic search of agent store {name!r}",
            )

    def item_key(self, raw_member: bytes) -> bytes:
        return self.item_prefix + raw_member

    def vector_key(self, raw_member: bytes, i: int) -> bytes:
        return self.vector_prefix + raw_member + VECTOR_SEP + b"%d" % i

    # -- plans (pure; run by both drivers) --
    def _queue_purge(self, pipe: Any) -> None:
        pipe.execute_command(
            *_PURGE.eval([self.index_key, self.expiry_key], [self.item_prefix, _now_ms()])
        )

    def _queue_refresh(self, pipe: Any, found: Sequence[tuple[bytes, int, int]]) -> None:
        now = _now_ms()
        for raw, ttl, vectors in found:
            pipe.pexpire(self.item_key(raw), ttl)
            for i in range(vectors):
                pipe.pexpire(self.vector_key(raw, i), ttl)
            pipe.zadd(self.expiry_key, {raw: now + ttl}, xx=True)

    def put_plan(
        self, puts: Sequence[PutIn], vectors: Sequence[Vectors | None] | None = None
    ) -> Plan[None]:
        """Every put and delete of ``puts`` in one script, all or nothing: a key of the
        store holding another type of value (another application writing there) raises
        :class:`~redis_agent_core.redis_errors.KeyTypeError` before anything is written.

        ``vectors`` (a store made with ``dims``): one entry per put, the embeddings of
        its texts (``None`` or empty: the item is not found by meaning). Vectors an item
        had before and no longer has are dropped, whatever the store's ``dims``.
        """
        if vectors is not None and len(vectors) != len(puts):
            raise ConfigError(
                f"vectors must have one entry per put ({len(puts)}), got {len(vectors)}"
            )
        if vectors is not None and self.dims is None and any(vectors):
            raise ConfigError(
                "this store was made without dims: give ItemStore(dims=...) to store vectors"
            )
        now = _now_ms()
        checked = []
        for i, (namespace, key, value, ttl) in enumerate(puts):
            labels = check_namespace(namespace)
            raw = member(labels, key)
            ttl_ms = _ttl_ms(ttl)
            fields = item_fields(value, now, ttl_ms) if value is not None else None
            if fields is not None:
                self.config.check_value_sizes((fields[F_VALUE],), f"the value of item {key!r}")
            own = vectors[i] if vectors is not None and fields is not None else None
            packed = [pack_vector(v, self.dims) for v in own or ()] if self.dims else []
            if own:
                check_item_vectors(labels, key, own)
            checked.append((raw, fields, ttl_ms, packed, prefix_tags(labels) if packed else ""))
        # checked now, not when the plan first runs: before put() makes the index
        return self._put_steps(checked, now)

    def _put_steps(self, checked: list[Any], now: int) -> Plan[None]:
        if not checked:
            return
        args: list[Any] = [self.item_prefix, self.vector_prefix, now]
        for raw, fields, ttl_ms, packed, tags in checked:
            put = fields is not None
            args += [raw, b"1" if put else b"0", fields[F_VALUE] if put else b""]
            args += [b"" if ttl_ms is None else ttl_ms, len(packed), tags, *packed]
        # one script, not a MULTI/EXEC: it checks every key's type before it writes
        call = _PUT.evalsha([self.index_key, self.expiry_key], args)
        yield True, ScriptStep(call)

    def _read_plan(
        self, raws: Sequence[bytes], refresh: bool
    ) -> Plan[list[tuple[StoredItem, int | None, int] | None]]:
        """The items of ``raws`` (``None`` where gone) with TTL (ms) and vector count,
        TTLs refreshed when asked."""
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
        if refresh:
            yield from self._refresh_plan(zip(raws, out, strict=True))
        return out

    def _refresh_plan(
        self, found: Iterable[tuple[bytes, tuple[StoredItem, int | None, int] | None]]
    ) -> Plan[None]:
        alive = [(raw, got[1], got[2]) for raw, got in found if got and got[1]]
        if alive:
            yield False, lambda pipe: self._queue_refresh(pipe, alive)

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
        matched = yield from self._matched_plan(labels, where, offset + limit)
        page = matched[offset : offset + limit]
        if refresh:
            yield from self._refresh_plan(page)
        return [got[0] for _, got in page]

    def _matched_plan(
        self, labels: tuple[str, ...], where: Mapping[str, Any] | None, need: int
    ) -> Plan[list[tuple[bytes, tuple[StoredItem, int | None, int]]]]:
        """The first ``need`` items (at least) under ``labels`` matching ``where``, in
        namespace then key order, with their members."""
        low, high = prefix_range(labels)
        matched: list[tuple[bytes, tuple[StoredItem, int | None, int]]] = []
        first = True
        # first read what the page needs (twice that with a filter), then twice as much
        # each read: a small page reads few items, a selective filter few round trips
        chunk = min(_CHUNK, max(10, need * (2 if where else 1)))
        while len(matched) < need:

            def scan(pipe: Any, low: bytes = low, first: bool = first, n: int = chunk) -> None:
                if first:
                    self._queue_purge(pipe)
                pipe.zrangebylex(self.index_key, low, high, 0, n)

            replies = yield False, scan
            raws = replies[-1]
            if not raws:
                break
            # the next read starts past the last member read, not at an offset: an item
            # put or deleted before it between two reads moved the offsets, and the page
            # listed an item twice and lost another
            low = b"(" + raws[-1]
            found = yield from self._read_plan(raws, refresh=False)
            for raw, got in zip(raws, found, strict=True):
                if got and matches_filter(got[0].value, where):
                    matched.append((raw, got))
            if len(raws) < chunk:
                break
            first = False
            chunk = min(_CHUNK * 4, chunk * 2)
        return matched

    def semantic_plan(
        self,
        prefix: Sequence[str],
        vector: Sequence[float],
        where: Mapping[str, Any] | None,
        limit: int,
        offset: int,
        refresh: bool,
    ) -> Plan[list[StoredItem]]:
        """Items under ``prefix`` matching ``where``, nearest ``vector`` first, scored by
        cosine similarity (an item's best vector); LangGraph's order and scores.

        Exact: the KNN (FLAT, pre-filtered by namespace prefix) is asked for more
        vectors until ``offset + limit`` items pass ``where`` or none are left. When
        fewer items have vectors than the page needs, items without vectors follow,
        unscored (``score=None``), as LangGraph's in-memory store does.
        """
        if self.dims is None or self.lifecycle is None:
            raise ConfigError("semantic search needs a store made with dims (ItemStore(dims=...))")
        labels = check_namespace(prefix, allow_empty=True)
        check_filter(where)
        _check_page(limit, offset)
        query = pack_vector(vector, self.dims)
        check_query_vector(vector)
        index_name = self.lifecycle.name
        need = offset + limit
        if need > MAX_K:
            # the KNN asked the server for more than it answers, which refused it with
            # a bare ResponseError ("LIMIT exceeds maximum of 1000000")
            raise ConfigError(
                f"semantic search returns at most {MAX_K:,} items (offset + limit, "
                f"the server's MAXSEARCHRESULTS), got offset={offset} limit={limit}; "
                "ask for a smaller page"
            )
        # an item has one vector when one field is indexed: ask for the page (twice that
        # with a filter), then four times as many each round until it is full (at most
        # the server's maximum: past it the server refused the search)
        k = min(MAX_K, max(10, need * (2 if where else 1)))
        best: dict[bytes, float] = {}  # member -> smallest distance, nearest first
        read: dict[bytes, tuple[StoredItem, int | None, int] | None] = {}
        passed: list[bytes] = []
        while need:
            command = knn_command(index_name, labels, query, k)

            def knn(pipe: Any, command: list[Any] = command) -> None:
                pipe.execute_command(*command)

            replies = yield False, knn
            hits = parse_knn(replies[-1], self.vector_prefix)
            for raw, distance in hits:
                best.setdefault(raw, distance)
            new = [raw for raw in best if raw not in read]
            found = yield from self._read_plan(new, refresh=False)
            read.update(zip(new, found, strict=True))
            passed = [
                raw
                for raw in best
                if (got := read[raw]) is not None
                and got[0].namespace[: len(labels)] == labels  # a digest collision
                and matches_filter(got[0].value, where)
            ]
            if len(passed) >= need or len(hits) < k:
                break
            if k == MAX_K:
                raise ConfigError(
                    f"semantic search: the filter passed {len(passed)} of the {MAX_K:,} "
                    f"nearest vectors under {labels!r}, fewer than the {need} asked for, "
                    "and the server returns no more; search a narrower namespace, or "
                    "filter without query= (search(namespace, filter=...))"
                )
            k = min(MAX_K, k * 4)
        page: list[tuple[bytes, tuple[StoredItem, int | None, int]]] = []
        for raw in passed[offset:need]:
            got = read[raw]
            assert got is not None
            scored = dataclasses.replace(got[0], score=1.0 - best[raw])
            page.append((raw, (scored, got[1], got[2])))
        if len(page) < limit:
            # every vector under the prefix was seen: the rest have none. They follow the
            # scored items, so the page's offset runs on into them (LangGraph's in-memory
            # store starts them from the first whatever the offset: every page past the
            # scored items repeated the same ones, and the others were never listed)
            skip = max(0, offset - len(passed))
            more = yield from self._matched_plan(
                labels, where, skip + limit - len(page) + len(passed)
            )
            rest = [(raw, got) for raw, got in more if raw not in best]
            page += rest[skip : skip + limit - len(page)]
        if refresh:
            yield from self._refresh_plan(page)  # what the page returns, nothing else
        return [got[0] for _, got in page]

    def namespaces_plan(
        self,
        conditions: Sequence[tuple[str, Sequence[str]]],
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> Plan[list[tuple[str, ...]]]:
        """Distinct namespaces holding live items (cut at ``max_depth``), in order.

        One index read per namespace found: the read after a namespace starts past all
        of its items (past everything under it once cut at ``max_depth``). The read
        skips, and unindexes, members whose item Redis removed before its recorded
        expiry (maxmemory eviction): a namespace left without items is not listed.
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
                keys = [self.index_key, self.expiry_key]
                pipe.execute_command(*_LIVE.eval(keys, [self.item_prefix, low, high]))

            replies = yield False, step
            first = False
            if replies[-1] == 1:
                continue  # only gone members so far: read on from the same place
            if not replies[-1]:
                break
            namespace, _ = decode_member(replies[-1])
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
        return found[offset : offset + limit]

    def _index(self) -> IndexLifecycle:
        if self.lifecycle is None:
            raise ConfigError("semantic search needs a store made with dims (ItemStore(dims=...))")
        return self.lifecycle

    def ensure_index(self) -> None:
        """Create the vector index if missing (raises :class:`CapabilityError` without
        the Query Engine); runs once per store object."""
        self._index().ensure()

    async def aensure_index(self) -> None:
        """Async :meth:`ensure_index`."""
        await self._index().aensure()

    def ensure_search_index(self) -> None:
        """:meth:`ensure_index` before a search: one created now, over vectors stored
        before (the index dropped, documents kept), or rebuilt by an earlier search that
        gave up waiting, is waited for (capped) until it indexed them
        (:meth:`IndexLifecycle.ensure_searchable`)."""
        self._index().ensure_searchable()

    async def aensure_search_index(self) -> None:
        """Async :meth:`ensure_search_index`."""
        await self._index().aensure_searchable()

    def rebuild_index(self) -> None:
        """Create a lost index again and wait (capped) until it has indexed the stored
        vectors (:meth:`IndexLifecycle.rebuild`): a search then ranks all of them, or
        raises :class:`RedisUnavailableError`, never ranks part of them."""
        self._index().rebuild()

    async def arebuild_index(self) -> None:
        """Async :meth:`rebuild_index`."""
        await self._index().arebuild()

    def index_lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the vector index is gone (dropped, or Redis restarted
        empty): the next attempt creates it again, and it indexes the stored vectors."""
        return self.lifecycle is not None and any(
            self.lifecycle.missing(e) for e in (exc, exc.__cause__) if e is not None
        )

    # -- drivers --
    def run(self, plan: Plan[T], action: str = "using the agent store") -> T:
        """Run a plan of this store on the sync client."""
        return run_plan(self.config, plan, action)

    async def arun(self, plan: Plan[T], action: str = "using the agent store") -> T:
        """Run a plan of this store on the asyncio client."""
        return await arun_plan(self.config, plan, action)

    # -- sync --
    def put(self, puts: Sequence[PutIn], vectors: Sequence[Vectors | None] | None = None) -> None:
        """Store (value) or delete (``None``) items, all in one script (``vectors``:
        see :meth:`put_plan`)."""
        plan = self.put_plan(puts, vectors)
        if vectors is not None and any(vectors):
            self.ensure_index()
        run_plan(self.config, plan, "writing agent store items")

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

    @staticmethod
    def check_item_vectors(
        namespace: Sequence[str],
        key: str,
        vectors: Vectors,
        fields: Sequence[str] | None = None,
        embedder: str | None = None,
    ) -> None:
        """:class:`ZeroVectorError` for an all-zero vector of one item (naming the path
        it was embedded from and ``embedder``): put checks it too, this is for a caller
        that must refuse before it writes anything else."""
        check_item_vectors(namespace, key, vectors, fields, embedder)

    @staticmethod
    def check_query_vector(vector: Sequence[float], embedder: str | None = None) -> None:
        """:class:`ZeroVectorError` for an all-zero query vector (naming ``embedder``):
        the semantic search is cosine and a zero vector has no direction."""
        check_query_vector(vector, embedder)

    def semantic_search(
        self,
        prefix: Sequence[str],
        vector: Sequence[float],
        *,
        where: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh: bool = False,
    ) -> list[StoredItem]:
        """Items under ``prefix`` matching ``where``, nearest ``vector`` first (see
        :meth:`semantic_plan`)."""
        action = "searching the agent store by meaning"
        args = (prefix, vector, where, limit, offset, refresh)
        check_query_vector(vector)  # before the index is made
        self.ensure_search_index()
        try:
            return run_plan(self.config, self.semantic_plan(*args), action)
        except Exception as exc:
            if not self.index_lost(exc):
                raise
        self.rebuild_index()  # waits (capped) until it indexed the stored vectors
        return run_plan(self.config, self.semantic_plan(*args), action)

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
    async def aput(
        self, puts: Sequence[PutIn], vectors: Sequence[Vectors | None] | None = None
    ) -> None:
        """Async :meth:`put`."""
        plan = self.put_plan(puts, vectors)
        if vectors is not None and any(vectors):
            await self.aensure_index()
        await arun_plan(self.config, plan, "writing agent store items")

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

    async def asemantic_search(
        self,
        prefix: Sequence[str],
        vector: Sequence[float],
        *,
        where: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh: bool = False,
    ) -> list[StoredItem]:
        """Async :meth:`semantic_search`."""
        action = "searching the agent store by meaning"
        args = (prefix, vector, where, limit, offset, refresh)
        check_query_vector(vector)  # before the index is made
        await self.aensure_search_index()
        try:
            return await arun_plan(self.config, self.semantic_plan(*args), action)
        except Exception as exc:
            if not self.index_lost(exc):
                raise
        await self.arebuild_index()  # waits (capped) until it indexed the stored vectors
        return await arun_plan(self.config, self.semantic_plan(*args), action)

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
