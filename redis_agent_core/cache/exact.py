"""Exact LLM cache: the same prompt, scope and filters give the stored payload.

A lookup is one script call (one round trip) that reads the entry and counts the
hit or miss; an update is one script call that writes the entry with its TTL.
Works on plain Redis and on Redis Cluster (no search module needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import RedisAgentConfig
from .base import LOOKUP, CacheStore, arun_script, run_script
from .entry import (
    REDIS_DOWN,
    CacheHit,
    OnError,
    canonical_filters,
    check_args,
    entry_digest,
    parse_usage,
    text,
)

__all__ = ["ExactCache"]


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
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "llm",
        ttl: float | None = None,
        on_error: OnError = "degrade",
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

    def _lookup_call(
        self, prompt: str, scope: str, filters: Mapping[str, str] | None
    ) -> tuple[str, list[str], list[Any]]:
        check_args(prompt, scope)
        digest = entry_digest(scope, prompt, canonical_filters(filters))
        b = digest[0]
        return digest, [self.entry_key(digest), self._stats[b], self._hits[b]], [digest]

    def _parse(self, reply: Any, prompt: str, digest: str) -> CacheHit | None:
        if not reply:
            return None
        payload, usage, hits = reply
        return CacheHit(
            payload=text(payload),
            prompt=prompt,
            distance=0.0,
            usage=parse_usage(usage),
            hits=int(hits),
            key=self.entry_key(digest),
        )

    def lookup(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """The entry stored for exactly this prompt, scope and filters, or ``None``."""
        digest, keys, args = self._lookup_call(prompt, scope, filters)
        if not self.faults.available():
            return None
        try:
            reply = run_script(self.config.get_client(), LOOKUP, keys, args)
        except REDIS_DOWN as exc:
            self.faults.failed("lookup", exc)
            return None
        return self._parse(reply, prompt, digest)

    async def alookup(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """Async :meth:`lookup`."""
        digest, keys, args = self._lookup_call(prompt, scope, filters)
        if not self.faults.available():
            return None
        try:
            reply = await arun_script(self.config.get_async_client(), LOOKUP, keys, args)
        except REDIS_DOWN as exc:
            self.faults.failed("lookup", exc)
            return None
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
