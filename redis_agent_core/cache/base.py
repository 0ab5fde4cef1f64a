"""Storage shared by the exact and the semantic cache: Lua scripts, writes, clear, stats.

Layout per cache ``name`` and bucket ``b`` (the digest's first hex digit), all under
the hash tag ``{name.b}``: entry hashes ``…:cache:name:e:{name.b}:<digest>`` (the
exact cache's digest is 32 hex digits, the semantic cache's 21 characters, see
:func:`.entry.compact_digest`), a sorted set of the bucket's digests scored by
expiry (``clear()`` and ``len()`` without SCAN; the semantic cache's is split in 64
parts by the digest's second character, see :meth:`.KeySpace.cache_member_parts`), a
hash of per-entry hit counts and a hash of counters. One script call writes an entry
with its TTL and member record atomically. A lookup serves an entry only with its
member record: one whose set an evicting ``maxmemory-policy`` dropped (an orphan,
which ``clear()`` and ``stats()`` cannot see) is a miss, and is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import telemetry
from ..config import (
    AsyncClient,
    RedisAgentConfig,
    SyncClient,
    get_default_config,
)
from ..errors import ConfigError
from ..fastpath import FALLBACK, AsyncFastPath, FastPath, pack_commands
from ..faults import OnError, RedisFaults
from ..keys import check_store_name, check_text
from ..kvstore import glob_escape
from ..redis_errors import FAULTS, REFUSED, translate_errors
from ..scripts import Script
from .entry import (
    BUCKETS,
    PACKED,
    CacheHit,
    check_ttl,
    parse_usage,
    text,
    total_tokens,
    trusted_usage,
    unpack,
    usage_json,
)
from .stats import CacheStats, merge_stats

__all__ = ["CacheStore"]


# KEYS: entry, members (its part of the bucket's set), hits[, the bucket's own member
# set]. ARGV: digest, ttl ms (0 = none), field, value, ...
# Server time, not client time, so expiry scores agree across clients.
# The first write is a ZADD: Redis checks maxmemory only until a script's first write,
# and DEL (which frees memory) first would let the rest write past a full noeviction
# server.
UPDATE = Script.load(__package__, "update.lua")

# Exact lookup. KEYS: entry, stats, hits, the entry's member set[, the bucket's own
# set]. ARGV: digest. -> "<hits>\n<usage JSON>\n<payload>" | nil. One bulk string: the
# cheapest reply for the client to parse (usage is compact JSON, without raw newlines).
# It counts hits and misses: a re-run would count them twice, so a lost reply is a
# fault (a miss where the cache degrades), never re-sent; RECORD the same.
# An entry without a member record (an orphan: an evicting maxmemory-policy evicted its
# set, so clear() and stats() cannot see it) is a miss, and is dropped (member.lua).
LOOKUP = Script.load(
    __package__, "member.lua", "lookup.lua", idempotent=False, COUNT_MISS="true", PACKED=""
)
# The same as the semantic cache's first tier: a miss is not counted (the tier after it
# counts the lookup), and an entry's values may be packed in one field (entry.pack).
PROBE = Script.load(
    __package__,
    "member.lua",
    "lookup.lua",
    idempotent=False,
    COUNT_MISS="false",
    PACKED=f", '{PACKED}'",
)


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def _peek_reply(entry: Any, hits: Any, scores: Sequence[Any]) -> bytes | None:
    if not any(score is not None for score in scores):  # an orphan, as LOOKUP tells
        return None
    payload, usage, packed = entry
    if payload is None and packed is not None:
        _, payload, usage, _, _ = unpack(packed)
    if payload is None:
        return None
    return b"\n".join((_as_bytes(hits or b"0"), _as_bytes(usage or b""), _as_bytes(payload)))


def _peek_pipeline(pipe: Any, keys: Sequence[Any], digest: str) -> None:
    pipe.hmget(keys[0], "payload", "usage", PACKED)
    pipe.hget(keys[2], digest)
    for members in keys[3:]:
        pipe.zscore(members, digest)


def peek(client: SyncClient, keys: Sequence[Any], digest: str) -> bytes | None:
    """A LOOKUP-shaped reply read without writing (LOOKUP's keys), for a server that
    refuses writes: the entry is served, its hit not counted."""
    pipe = client.pipeline(transaction=False)
    _peek_pipeline(pipe, keys, digest)
    entry, hits, *scores = pipe.execute()
    return _peek_reply(entry, hits, scores)


async def apeek(client: AsyncClient, keys: Sequence[Any], digest: str) -> bytes | None:
    """Async :func:`peek`."""
    pipe = client.pipeline(transaction=False)
    _peek_pipeline(pipe, keys, digest)
    entry, hits, *scores = await pipe.execute()
    return _peek_reply(entry, hits, scores)


def parse_lookup(reply: Any, prompt: str, key: str) -> CacheHit | None:
    """The :class:`CacheHit` in a LOOKUP / PROBE reply, or ``None`` on a miss."""
    if not reply:
        return None
    if isinstance(reply, str):  # a client built with decode_responses=True
        reply = reply.encode("utf-8", "surrogateescape")
    hits, usage, payload = reply.split(b"\n", 2)
    return CacheHit(
        payload=text(payload),
        prompt=prompt,
        distance=0.0,
        usage=parse_usage(usage),
        hits=int(hits),
        key=key,
    )


# Record a semantic lookup's outcome. KEYS: stats, hits, entry[, its member sets on a
# hit]. ARGV: digest ('' on a miss), then counter, increment, ... -> the entry's hit
# count (0 on a miss, ORPHAN when the entry has no member record: a miss, dropped)
RECORD = Script.load(__package__, "member.lua", "record.lua", idempotent=False)
ORPHAN = -1

# Remove up to ARGV[2] entries of one bucket. KEYS: hits, stats, then the bucket's
# member sets (and the slot guard: entry keys are unlinked undeclared). ARGV: entry key
# prefix of the bucket, batch size. -> number removed
CLEAR = Script.load(__package__, "clear.lua", undeclared=True)

# Live entries of one bucket on the server's clock. KEYS: its member sets. -> count
COUNT = Script.load(__package__, "count.lua")

CLEAR_BATCH = 1000

# Drop a bucket's entries that have no member record. KEYS: hits, the bucket's member
# sets, the entries. ARGV: number of member sets, then (digest, KEYS index of its set)...
ORPHANS = Script.load(__package__, "orphans.lua")
ORPHANS_BATCH = 500


class CacheStore:
    """Key layout, writes, ``clear()`` and ``stats()`` common to both caches."""

    _kind = "cache"  # telemetry's rap.cache attribute: "exact" or "semantic"
    # Whether an entry also stores its prompt, scope and filters. The semantic cache
    # reads and indexes them; the exact cache's digest already holds
    # scope, filters and prompt, and a lookup reads only payload and usage, so there
    # they would be memory nobody reads (~40 % of a short LangChain entry).
    _describes_entries = True
    # Characters of a digest's second place that split each bucket's member set (the
    # semantic cache's: see KeySpace.cache_members); "" keeps one set a bucket.
    _member_parts = ""

    # A lookup counts its hit with a write: when the server refuses writes, read the
    # entry instead, so a full or read-only Redis still serves what it holds.
    def _lookup_failed(
        self, exc: BaseException, keys: Sequence[Any], digest: str, prompt: str
    ) -> CacheHit | None:
        self.faults.failed("lookup", exc)
        if not isinstance(exc, REFUSED):
            return None
        try:
            return parse_lookup(peek(self.config.get_client(), keys, digest), prompt, keys[0])
        except FAULTS:
            return None

    async def _alookup_failed(
        self, exc: BaseException, keys: Sequence[Any], digest: str, prompt: str
    ) -> CacheHit | None:
        self.faults.failed("lookup", exc)
        if not isinstance(exc, REFUSED):
            return None
        try:
            reply = await apeek(self.config.get_async_client(), keys, digest)
        except FAULTS:
            return None
        return parse_lookup(reply, prompt, keys[0])

    def __init__(
        self,
        config: RedisAgentConfig | None,
        *,
        name: str,
        ttl: float | None,
        on_error: OnError | None,
        log_interval: float,
        recheck_after: float,
        what: str,
    ) -> None:
        check_store_name(name, "cache name")
        self.config = config or get_default_config()
        self.name = name
        self._ttl_ms = check_ttl(ttl)
        self.ttl = ttl
        ks = self.config.keys
        self._ns = ks
        self._entry_prefix = {b: ks.cache_entry_prefix(name, b) for b in BUCKETS}
        # the bucket's member set (the semantic cache's ids before 2026-12-04 are there),
        # then its parts (_member_parts: the semantic cache's)
        self._members = {b: ks.cache_members(name, b) for b in BUCKETS}
        self._member_sets = {
            b: [self._members[b], *ks.cache_member_parts(name, b, self._member_parts)]
            for b in BUCKETS
        }
        self._member_part = {
            b + p: key
            for b in BUCKETS
            for p, key in zip(self._member_parts, self._member_sets[b][1:], strict=True)
        }
        self._hits = {b: ks.cache_hits(name, b) for b in BUCKETS}
        self._stats = {b: ks.cache_bucket_stats(name, b) for b in BUCKETS}
        self.faults = RedisFaults(
            self.config, what, on_error, log_interval=log_interval, recheck_after=recheck_after
        )
        self._fast = FastPath()  # leased connections for the hot calls (writes, lookups)
        self._afast = AsyncFastPath()  # the same for asyncio clients (writes)

    def close(self) -> None:
        """Return the connections the fast path leased to the client's pool (also done
        when the cache is garbage-collected); the next call leases again."""
        self._fast.close()

    async def aclose(self) -> None:
        """Async :meth:`close`: the connections leased by the running loop's clients."""
        await self._afast.aclose()

    # -- scripts on the fast path --
    def _script(self, client: Any, script: Script, keys: list[str], args: list[Any]) -> Any:
        """``script``'s reply on a leased connection (redis-py's generic packing and pool
        bookkeeping cost ~60 µs of a ~250 µs call), or through redis-py when the fast
        path declines (NOSCRIPT, trouble before sending). A reply lost after sending
        raises (a fault): the call is never sent twice. One refused while its cluster
        slot moves ran nothing: it is sent again once the move ends (``wait``, see
        :func:`..scripts.run_command`), not taken for a fault."""
        lease = self._fast.lease(client)
        if lease is not None:
            reply = lease.call(pack_commands([script.evalsha(keys, args)]))
            if reply is not FALLBACK:
                return reply
        return script(client, keys, args, wait=self.config.backoff)

    async def _ascript(self, client: Any, script: Script, keys: list[str], args: list[Any]) -> Any:
        """Async :meth:`_script`."""
        lease = self._afast.lease(client)
        if lease is not None:
            reply = await lease.call(pack_commands([script.evalsha(keys, args)]))
            if reply is not FALLBACK:
                return reply
        return await script.acall(client, keys, args, wait=self.config.backoff)

    # -- pure helpers shared by sync and async paths --
    def entry_key(self, digest: str) -> str:
        return self._entry_prefix[digest[0]] + digest

    def _member_keys(self, digest: str) -> list[str]:
        """The sets that may hold an entry's member record: its own (a part of the
        bucket's set, for the semantic cache), then the bucket's set when that is not
        its own (the records written before the parts are there)."""
        b = digest[0]
        part = self._member_part.get(digest[:2])
        return [self._members[b]] if part is None else [part, self._members[b]]

    def _ttl_arg(self, ttl: float | None) -> int:
        if ttl is not None:
            return check_ttl(ttl) or 0
        if self._ttl_ms is not None:
            return self._ttl_ms
        default = self.config.default_ttl
        return default * 1000 if default else 0

    def _update_call(
        self,
        digest: str,
        prompt: str,
        scope: str,
        payload: str,
        *,
        usage: Mapping[str, Any] | None,
        ttl: float | None,
        filters: tuple[tuple[str, str], ...],
        extra: Sequence[tuple[str, Any]] = (),
    ) -> tuple[list[str], list[Any]]:
        if not isinstance(payload, str):
            raise ConfigError(f"payload must be str (JSON from the adapter), got {payload!r:.60}")
        check_text(payload, "the payload")
        if usage is not None and not isinstance(usage, Mapping):
            raise ConfigError(f"usage must be a mapping of token counts, got {usage!r:.60}")
        usage = trusted_usage(usage)  # a negative count: unknown, as the batch jobs settle
        ttl_ms = self._ttl_arg(ttl)  # validates before anything is written
        b = digest[0]
        args: list[Any] = [digest, ttl_ms, *self._entry_fields(prompt, scope, payload, usage)]
        for name, value in (*filters, *extra) if self._describes_entries else extra:
            args += [name, value]
        # over the server's limit for one value, the server drops the connection mid-write:
        # that would read as Redis down and turn the cache off a while
        values = (a for a in args if isinstance(a, (bytes, str)))
        self.config.check_value_sizes(values, "a cache entry value")
        # the bucket's own set is pruned too when the entry's is a part of it
        members, *own = self._member_keys(digest)
        return [self.entry_key(digest), members, self._hits[b], *own], args

    def _entry_fields(
        self, prompt: str, scope: str, payload: str, usage: Mapping[str, Any] | None
    ) -> list[Any]:
        """An entry's hash fields but its partition tags and vector: ``[name, value, ...]``."""
        # no creation time: nothing reads it, and a field costs ~60 B an entry
        fields: list[Any] = ["payload", payload]
        if self._describes_entries:
            fields += ["prompt", prompt, "scope", scope]
        if usage:
            fields += ["usage", usage_json(usage)]
            fields += ["tokens", total_tokens(usage)]
        return fields

    def _clear_calls(self) -> list[tuple[str, list[str], list[Any]]]:
        return [
            (
                b,
                [self._hits[b], self._stats[b], *self._member_sets[b]],
                [self._entry_prefix[b], CLEAR_BATCH],
            )
            for b in BUCKETS
        ]

    # -- writes --
    def _write(self, keys: list[str], args: list[Any]) -> bool:
        if not self.faults.writable():
            return False
        client = self.config.get_client()
        try:
            self._script(client, UPDATE, keys, args)
        except FAULTS as exc:
            self.faults.failed("update", exc)
            return False
        self.faults.ok()
        telemetry.cache_write(self._kind, self.name)
        return True

    async def _awrite(self, keys: list[str], args: list[Any]) -> bool:
        if not self.faults.writable():
            return False
        client = self.config.get_async_client()
        try:
            await self._ascript(client, UPDATE, keys, args)
        except FAULTS as exc:
            self.faults.failed("update", exc)
            return False
        self.faults.ok()
        telemetry.cache_write(self._kind, self.name)
        return True

    # -- clear / stats (explicit admin calls: Redis down raises) --
    def clear(self) -> int:
        """Remove this cache's entries and counters (no SCAN); return entries removed.

        Raises :class:`RedisUnavailableError` when Redis is down.
        """
        client = self.config.get_client()
        removed = 0
        with translate_errors(self.config, f"clearing cache {self.name!r}"):
            for _b, keys, args in self._clear_calls():
                while n := int(CLEAR(client, keys, args)):
                    removed += n
        return removed

    async def aclear(self) -> int:
        """Async :meth:`clear`."""
        client = self.config.get_async_client()
        removed = 0
        with translate_errors(self.config, f"clearing cache {self.name!r}"):
            for _b, keys, args in self._clear_calls():
                while n := int(await CLEAR.acall(client, keys, args)):
                    removed += n
        return removed

    # -- orphans: entries whose member set was evicted --
    def _entries_glob(self) -> str:
        return glob_escape(self._ns.cache_prefix(self.name)) + "*"

    def _orphan_candidate(self, key: Any) -> tuple[str, str] | None:
        """(bucket, digest) of an entry key SCAN found, or None for another key."""
        text_key = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
        for b, prefix in self._entry_prefix.items():
            if text_key.startswith(prefix):
                return b, text_key[len(prefix) :]
        return None

    def _orphans_call(self, b: str, digests: Sequence[str]) -> tuple[list[str], list[Any]]:
        sets = self._member_sets[b]  # the bucket's own set first, then its parts
        where = {key: i + 2 for i, key in enumerate(sets)}  # KEYS index (Lua: from 1)
        keys = [self._hits[b], *sets, *(self.entry_key(d) for d in digests)]
        args: list[Any] = [len(sets)]
        for d in digests:
            args += [d, where[self._member_keys(d)[0]]]
        return keys, args

    def _batch_orphan(
        self, found: dict[str, list[str]], key: Any
    ) -> tuple[list[str], list[Any]] | None:
        """Add an entry key SCAN found to its bucket's batch; the ORPHANS call of a batch
        that is full (then emptied), else None."""
        hit = self._orphan_candidate(key)
        if hit is None:
            return None
        batch = found.setdefault(hit[0], [])
        batch.append(hit[1])
        if len(batch) < ORPHANS_BATCH:
            return None
        found[hit[0]] = []
        return self._orphans_call(hit[0], batch)

    def _rest_of_orphans(self, found: dict[str, list[str]]) -> list[tuple[list[str], list[Any]]]:
        return [self._orphans_call(b, batch) for b, batch in found.items() if batch]

    def drop_orphans(self) -> int:
        """Delete this cache's orphans: entries without a member record (their bucket's
        member set evicted by a ``maxmemory-policy`` that evicts keys), which ``clear()``
        and ``stats()`` cannot see and a lookup drops only when it meets one; they
        otherwise stay until their TTL, for good without one. ``SCAN``s the cache's entry
        keys: an admin operation, run once after an eviction. Returns how many."""
        client = self.config.get_client()
        dropped = 0
        found: dict[str, list[str]] = {}
        with translate_errors(self.config, f"dropping orphans of cache {self.name!r}"):
            for key in client.scan_iter(match=self._entries_glob(), count=1000):
                if call := self._batch_orphan(found, key):
                    dropped += int(ORPHANS(client, *call))
            for call in self._rest_of_orphans(found):
                dropped += int(ORPHANS(client, *call))
        return dropped

    async def adrop_orphans(self) -> int:
        """Async :meth:`drop_orphans`."""
        client = self.config.get_async_client()
        dropped = 0
        found: dict[str, list[str]] = {}
        with translate_errors(self.config, f"dropping orphans of cache {self.name!r}"):
            async for key in client.scan_iter(match=self._entries_glob(), count=1000):
                if call := self._batch_orphan(found, key):
                    dropped += int(await ORPHANS.acall(client, *call))
            for call in self._rest_of_orphans(found):
                dropped += int(await ORPHANS.acall(client, *call))
        return dropped

    def _stats_pipeline(self, pipe: Any) -> None:
        for b in BUCKETS:
            pipe.hgetall(self._stats[b])
        for b in BUCKETS:
            # expiry scores are the server's (update.lua): counted on its clock, not
            # this process's. The EVAL form: a pipeline does not retry NOSCRIPT
            pipe.execute_command(*COUNT.eval(self._member_sets[b], []))

    @staticmethod
    def _parse_stats(replies: list[Any]) -> CacheStats:
        n = len(BUCKETS)
        return merge_stats(replies[:n], sum(int(x) for x in replies[n:]))

    def stats(self) -> CacheStats:
        """Hits, misses, hit rate, tokens saved, live entries and guard rejections,
        shared by every process. Raises :class:`RedisUnavailableError` when Redis is down."""
        with translate_errors(self.config, f"reading stats of cache {self.name!r}"):
            pipe = self.config.get_client().pipeline(transaction=False)
            self._stats_pipeline(pipe)
            return self._parse_stats(pipe.execute())

    async def astats(self) -> CacheStats:
        """Async :meth:`stats`."""
        with translate_errors(self.config, f"reading stats of cache {self.name!r}"):
            pipe = self.config.get_async_client().pipeline(transaction=False)
            self._stats_pipeline(pipe)
            return self._parse_stats(await pipe.execute())

    def __len__(self) -> int:
        return self.stats().entries
