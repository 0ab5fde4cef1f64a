"""LangGraph long-term memory on Redis: ``RedisStore`` (a ``BaseStore``).

Needs the ``langgraph`` extra. Items are JSON in plain Redis hashes (the core's
:class:`~redis_agent_core.agent_store.ItemStore`): get, put, delete, search by
namespace prefix and ``filter``, and namespace listing run on any Redis 6.2+,
managed Redis or Valkey; every key of a store shares one hash tag (Redis Cluster).
TTLs are in minutes, as LangGraph's ``TTLConfig``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
)

from redis_agent_core.agent_store import ItemStore, PutIn, StoredItem
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.plans import Plan

__all__ = ["AsyncRedisStore", "RedisStore"]

_NO_INDEX = (
    "search(query=...) needs semantic search: create the store with "
    "index={'dims': ..., 'embed': ..., 'fields': [...]} (it needs the Redis Query Engine)"
)


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _item(stored: StoredItem) -> Item:
    return Item(
        value=stored.value,
        key=stored.key,
        namespace=stored.namespace,
        created_at=_when(stored.created_at),
        updated_at=_when(stored.updated_at),
    )


def _search_item(stored: StoredItem) -> SearchItem:
    return SearchItem(
        namespace=stored.namespace,
        key=stored.key,
        value=stored.value,
        created_at=_when(stored.created_at),
        updated_at=_when(stored.updated_at),
        score=stored.score,
    )


class RedisStore(BaseStore):
    """LangGraph ``BaseStore`` on Redis, sync (``batch``) and async (``abatch``).

    Args:
        config: connection settings (default: the process-wide config).
        name: the store's name (stores of different names share nothing).
        ttl: LangGraph's ``TTLConfig``: ``default_ttl`` (minutes) for items put without
            ``ttl=``, ``refresh_on_read`` (default ``True``) for get/search. Expired items
            are never returned (Redis expires them), so ``sweep_interval_minutes`` is
            not needed.
        index: semantic search settings (``dims``, ``embed``, ``fields``).
    """

    supports_ttl = True

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "default",
        ttl: TTLConfig | None = None,
        index: IndexConfig | None = None,
    ) -> None:
        self.items = ItemStore(config, name=name)
        self.ttl_config = ttl
        if ttl is not None:
            unknown = set(ttl) - {
                "default_ttl",
                "refresh_on_read",
                "sweep_interval_minutes",
                "omit_expired",
            }
            if unknown:
                raise ConfigError(f"unknown TTLConfig keys {sorted(unknown)}")
        if index is not None:
            raise ConfigError(
                "semantic search (index=) is not available in this version; "
                "search by namespace and filter instead"
            )
        self.index_config = index

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStore:
        """A store on the Redis at ``url`` (``redis://``, ``rediss://``, ``unix://``...)."""
        return cls(RedisAgentConfig(url=url), **kwargs)

    # -- ops -> core plans (shared by batch and abatch) --
    def _ttl_seconds(self, op: PutOp) -> float | None:
        minutes = op.ttl
        if minutes is None:
            return None
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or minutes <= 0:
            raise ConfigError(f"ttl is in minutes and must be > 0 or None, got {minutes!r}")
        return float(minutes) * 60

    def _plans(self, ops: Sequence[Op]) -> Iterable[tuple[Plan[Any], Any]]:
        """(core plan, result maker) per run of ops: consecutive puts are one MULTI/EXEC."""
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, PutOp):
                puts: list[PutIn] = []
                while i < len(ops) and isinstance(ops[i], PutOp):
                    put = ops[i]
                    assert isinstance(put, PutOp)
                    puts.append((put.namespace, put.key, put.value, self._ttl_seconds(put)))
                    i += 1
                count = len(puts)
                yield self.items.put_plan(puts), lambda _, n=count: [None] * n
                continue
            if isinstance(op, GetOp):
                plan: Plan[Any] = self.items.get_plan([(op.namespace, op.key)], op.refresh_ttl)
                yield plan, lambda got: [_item(got[0]) if got[0] else None]
            elif isinstance(op, SearchOp):
                if op.query and self.index_config is None:
                    raise ConfigError(_NO_INDEX)
                plan = self.items.search_plan(
                    op.namespace_prefix, op.filter, op.limit, op.offset, op.refresh_ttl
                )
                yield plan, lambda got: [[_search_item(s) for s in got]]
            elif isinstance(op, ListNamespacesOp):
                conditions = [(c.match_type, c.path) for c in op.match_conditions or ()]
                plan = self.items.namespaces_plan(conditions, op.max_depth, op.limit, op.offset)
                yield plan, lambda got: [got]
            else:
                raise ConfigError(
                    f"unknown store operation {type(op).__name__}; "
                    "use GetOp, PutOp, SearchOp or ListNamespacesOp"
                )
            i += 1

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; results in the same order."""
        results: list[Result] = []
        for plan, make in self._plans(list(ops)):
            results.extend(make(self.items.run(plan)))
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async :meth:`batch`."""
        results: list[Result] = []
        for plan, make in self._plans(list(ops)):
            results.extend(make(await self.items.arun(plan)))
        return results


class AsyncRedisStore(RedisStore):
    """:class:`RedisStore` under the name async code looks for (same class: both
    sync and async methods work on either)."""
