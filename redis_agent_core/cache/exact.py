"""Exact LLM cache: the same prompt, scope and filters give the stored payload.

A lookup is one script call (one round trip) that reads the entry and counts the
hit or miss; an update is one script call that writes the entry with its TTL.
Works on plain Redis and on Redis Cluster (no search module needed).

On a plain (non-cluster) sync client the lookup skips redis-py's generic command
path (``redis_agent_core.fastpath``): the EVALSHA request is pre-encoded per bucket
(only the digest changes) and sent on a connection the cache leases from its
client's pool, and the reply is one bulk string. Anything unusual (unknown script, a
dropped connection, every leased connection busy) falls back to the generic path,
with its retries. A hit then costs one round trip plus the adapter's own objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import telemetry
from ..config import RedisAgentConfig
from ..fastpath import FALLBACK, bulk
from ..faults import OnError
from ..redis_errors import FAULTS
from .base import LOOKUP, CacheStore, parse_lookup
from .entry import CacheHit, canonical_filters, check_args, entry_digest

__all__ = ["ExactCache"]

# EVALSHA sha 4 KEYS[1..4] ARGV[1]: entry, stats, hits, members, digest
_LOOKUP_PREFIX = LOOKUP.packed_head(4, 1)  # keys: entry, stats, hits, members; arg: digest


class ExactCache(CacheStore):
    """Exact-match cache of LLM responses in Redis.

    Args:
        config: connection settings (default: the process-wide config).
        name: cache name; caches with different names never share entries.
        ttl: seconds an entry lives (``None``: ``config.default_ttl``, else forever);
            ``update(..., ttl=)`` overrides it per entry.
        on_error: ``"degrade"`` (Redis down: lookups miss, updates are skipped, a
            warning is logged at most every ``log_interval`` s and Redis is retried
            after ``recheck_after`` s) or ``"raise"`` (:class:`RedisUnavailableError`).
            ``None``: ``config.on_error``, else ``"degrade"``.
    """

    _kind = "exact"
    _describes_entries = False

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "llm",
        ttl: float | None = None,
        on_error: OnError | None = None,
        log_interval: float = 60.0,
        recheck_after: float = 1.0,
    ) -> None:
        super().__init__(
            config,
            name=name,
            ttl=ttl,
            on_error=on_error,
            log_interval=log_interval,
            recheck_after=recheck_after,
            what=f"exact cache {name!r}",
        )
        self._packed_for: Any = None
        self._packed: dict[str, tuple[bytes, bytes]] = {}

    def _lookup_call(
        self, prompt: str, scope: str, filters: Mapping[str, str] | None
    ) -> tuple[str, list[str], list[Any]]:
        check_args(prompt, scope)
        digest = entry_digest(scope, prompt, canonical_filters(filters))
        return digest, self._keys(digest), [digest]

    def _keys(self, digest: str) -> list[str]:
        """The LOOKUP script's keys: entry, stats, hits, members."""
        b = digest[0]
        return [self.entry_key(digest), self._stats[b], self._hits[b], self._members[b]]

    def _parse(self, reply: Any, prompt: str, digest: str) -> CacheHit | None:
        hit = parse_lookup(reply, prompt, self.entry_key(digest))
        telemetry.cache_lookup("exact", self.name, "hit" if hit is not None else "miss")
        return hit

    def _packets(self, client: Any) -> dict[str, tuple[bytes, bytes]]:
        """Per bucket, the entry key's prefix and the packed stats, hits and members
        keys, encoded for ``client``."""
        if self._packed_for is not client:
            enc = client.get_encoder().encoding
            self._packed = {
                b: (
                    prefix.encode(enc),
                    b"".join(
                        bulk(key.encode(enc))
                        for key in (self._stats[b], self._hits[b], self._members[b])
                    ),
                )
                for b, prefix in self._entry_prefix.items()
            }
            self._packed_for = client
        return self._packed

    def _fast_lookup(self, client: Any, digest: str) -> Any:
        """The LOOKUP reply, or ``FALLBACK`` to take redis-py's generic path."""
        lease = self._fast.lease(client)
        if lease is None:
            return FALLBACK
        key_prefix, keys = self._packets(client)[digest[0]]
        d = digest.encode()
        return lease.call(_LOOKUP_PREFIX + bulk(key_prefix + d) + keys + bulk(d))

    @telemetry.traced("cache", "lookup")
    def lookup(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """The entry stored for exactly this prompt, scope and filters, or ``None``."""
        check_args(prompt, scope)
        digest = entry_digest(scope, prompt, canonical_filters(filters))
        if not self.faults.available():
            return None
        try:
            client = self.config.get_client()
            reply = self._fast_lookup(client, digest)
            if reply is FALLBACK:
                reply = LOOKUP(client, self._keys(digest), [digest], wait=self.config.backoff)
        except FAULTS as exc:
            return self._lookup_failed(exc, self._keys(digest), digest, prompt)
        self.faults.ok()
        return self._parse(reply, prompt, digest)

    @telemetry.traced("cache", "lookup")
    async def alookup(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """Async :meth:`lookup`."""
        digest, keys, args = self._lookup_call(prompt, scope, filters)
        if not self.faults.available():
            return None
        try:
            reply = await LOOKUP.acall(
                self.config.get_async_client(), keys, args, wait=self.config.backoff
            )
        except FAULTS as exc:
            return await self._alookup_failed(exc, keys, digest, prompt)
        self.faults.ok()
        return self._parse(reply, prompt, digest)

    def _update_args(
        self,
        prompt: str,
        scope: str,
        payload: str,
        usage: Mapping[str, Any] | None,
        ttl: float | None,
        filters: Mapping[str, str] | None,
    ) -> tuple[list[str], list[Any]]:
        check_args(prompt, scope)
        pairs = canonical_filters(filters)
        digest = entry_digest(scope, prompt, pairs)
        return self._update_call(
            digest, prompt, scope, payload, usage=usage, ttl=ttl, filters=pairs
        )

    @telemetry.traced("cache", "update")
    def update(
        self,
        prompt: str,
        scope: str,
        payload: str,
        *,
        usage: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> bool:
        """Store ``payload`` for this prompt, scope and filters (replacing any entry).

        ``usage`` is the original call's token usage (counted as saved on hits).
        Returns ``False`` when the write was skipped because Redis is down.
        """
        keys, args = self._update_args(prompt, scope, payload, usage, ttl, filters)
        return self._write(keys, args)

    @telemetry.traced("cache", "update")
    async def aupdate(
        self,
        prompt: str,
        scope: str,
        payload: str,
        *,
        usage: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> bool:
        """Async :meth:`update`."""
        keys, args = self._update_args(prompt, scope, payload, usage, ttl, filters)
        return await self._awrite(keys, args)
