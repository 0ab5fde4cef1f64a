"""LangGraph long-term memory on Redis: ``RedisStore`` (a ``BaseStore``).

Needs the ``langgraph`` extra. Items are JSON in plain Redis hashes (the core's
:class:`~redis_agent_core.agent_store.ItemStore`): get, put, delete, search by
namespace prefix and ``filter``, and namespace listing run on any Redis 6.2+,
managed Redis or Valkey; every key of a store shares one hash tag (Redis Cluster).
TTLs are in minutes, as LangGraph's ``TTLConfig``.

Semantic search (``index={"dims", "embed", "fields"}``, as LangGraph's stores; needs the
Redis Query Engine): on put, the texts at ``fields`` (or the put's own ``index=`` list;
``index=False`` for none) are embedded and stored beside the item; ``search(query=...)``
ranks the items under the namespace prefix that pass ``filter`` by cosine similarity
of their best text (``score``), exactly (no approximate index), as LangGraph's
``InMemoryStore``. The vectors share the item's TTL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from functools import partial
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
from langgraph.store.base.embed import ensure_embeddings, get_text_at_path, tokenize_path

from redis_agent_core.agent_store import ItemStore, PutIn, StoredItem, Vectors
from redis_agent_core.config import MAX_TTL, RedisAgentConfig, check_seconds
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


def _minutes(value: object, what: str) -> float:
    """A LangGraph TTL (minutes, up to 100 years: a longer one was refused by Redis
    inside the transaction, after the item was written without expiry)."""
    return check_seconds(value, what, most=MAX_TTL / 60, unit="minutes")


class RedisStore(BaseStore):
    """LangGraph ``BaseStore`` on Redis, sync (``batch``) and async (``abatch``).

    Args:
        config: connection settings (default: the process-wide config).
        name: the store's name (stores of different names share nothing).
        ttl: LangGraph's ``TTLConfig``: ``default_ttl`` (minutes) for items put without
            ``ttl=``, ``refresh_on_read`` (default ``True``) for get/search. Expired items
            are never returned (Redis expires them), so ``sweep_interval_minutes`` is
            not needed.
        index: semantic search (``dims``; ``embed``: a LangChain ``Embeddings``, a sync
            or async function of a list of texts, or a provider string for LangChain's
            ``init_embeddings``; ``fields``: JSON paths of the texts to embed, default
            ``["$"]``, the whole value). Needs the Redis Query Engine for puts that
            embed and for ``search(query=...)``; get, list and search without a query
            work without it.
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
            for flag in ("refresh_on_read", "omit_expired"):
                if flag in ttl and not isinstance(ttl[flag], bool):  # "no" would be truthy
                    raise ConfigError(f"ttl[{flag!r}] must be True or False, got {ttl[flag]!r}")
            if ttl.get("default_ttl") is not None:  # checked now, not at the first put
                _minutes(ttl["default_ttl"], "ttl['default_ttl']")
        self.index_config = index
        self.embeddings = None
        self._paths: list[tuple[str, Any]] = []
        dims = None
        if index is not None:
            unknown = set(index) - {"dims", "embed", "fields"}
            if unknown:
                raise ConfigError(
                    f"unknown index keys {sorted(unknown)}; give 'dims', 'embed' and 'fields'"
                )
            dims = index.get("dims")
            if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
                raise ConfigError(f"index['dims'] must be an int >= 1, got {dims!r}")
            if index.get("embed") is None:
                raise ConfigError("index['embed'] is missing: give an Embeddings or a function")
            self.embeddings = ensure_embeddings(index["embed"])
            fields = index.get("fields") or ["$"]
            if isinstance(fields, str):
                raise ConfigError(f"index['fields'] is a list of paths, got the str {fields!r}")
            self._paths = [(p, p if p == "$" else tokenize_path(p)) for p in fields]
        self.items = ItemStore(config, name=name, dims=dims)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStore:
        """A store on the Redis at ``url`` (``redis://``, ``rediss://``, ``unix://``...)."""
        return cls(RedisAgentConfig(url=url), **kwargs)

    # -- ops -> core plans (shared by batch and abatch) --
    def _ttl_seconds(self, op: PutOp) -> float | None:
        return None if op.ttl is None else _minutes(op.ttl, "ttl") * 60

    def _texts(self, ops: Sequence[Op]) -> tuple[list[str], dict[int, slice], list[str], list[str]]:
        """(texts of the puts to embed, each put's slice of them, distinct queries, the
        path each text was read from)."""
        texts: list[str] = []
        paths_of: list[str] = []
        spans: dict[int, slice] = {}
        queries: list[str] = []
        for i, op in enumerate(ops):
            if isinstance(op, SearchOp) and op.query:
                if self.embeddings is None:
                    raise ConfigError(_NO_INDEX)
                if not isinstance(op.query, str):
                    raise ConfigError(f"query must be a str, got {type(op.query).__name__}")
                if op.query not in queries:
                    queries.append(op.query)
            if not isinstance(op, PutOp) or self.embeddings is None or op.value is None:
                continue
            if op.index is False:
                spans[i] = slice(0, 0)
                continue
            paths = self._paths
            if op.index is not None:
                if isinstance(op.index, str) or not all(isinstance(p, str) for p in op.index):
                    raise ConfigError(
                        f"index= of a put is False or a list of paths, got {op.index!r}"
                    )
                paths = [(p, p if p == "$" else tokenize_path(p)) for p in op.index]
            start = len(texts)
            for path, tokens in paths:
                found = get_text_at_path(op.value, tokens)
                texts.extend(found)
                paths_of.extend([path] * len(found))
            spans[i] = slice(start, len(texts))
        return texts, spans, queries, paths_of

    def _plans(
        self,
        ops: Sequence[Op],
        put_vectors: dict[int, Vectors],
        query_vectors: dict[str, list[float]],
    ) -> Iterable[tuple[Plan[Any], Any, Any]]:
        """(core plan, result maker, plan remaker or ``None``) per run of ops: consecutive
        puts are one script; a semantic search is remade once if its index was lost."""
        i = 0
        plan: Plan[Any]
        while i < len(ops):
            op = ops[i]
            if isinstance(op, PutOp):
                puts: list[PutIn] = []
                vectors: list[Vectors | None] = []
                while i < len(ops) and isinstance(ops[i], PutOp):
                    put = ops[i]
                    assert isinstance(put, PutOp)
                    puts.append((put.namespace, put.key, put.value, self._ttl_seconds(put)))
                    vectors.append(put_vectors.get(i))
                    i += 1
                count = len(puts)
                plan = self.items.put_plan(puts, vectors if self.embeddings else None)
                yield plan, lambda _, n=count: [None] * n, None
                continue
            if isinstance(op, GetOp):
                plan = self.items.get_plan([(op.namespace, op.key)], op.refresh_ttl)
                yield plan, lambda got: [_item(got[0]) if got[0] else None], None
            elif isinstance(op, SearchOp):
                remake = None
                if op.query:
                    remake = partial(
                        self.items.semantic_plan,
                        op.namespace_prefix,
                        query_vectors[op.query],
                        op.filter,
                        op.limit,
                        op.offset,
                        op.refresh_ttl,
                    )
                    plan = remake()
                else:
                    plan = self.items.search_plan(
                        op.namespace_prefix, op.filter, op.limit, op.offset, op.refresh_ttl
                    )
                yield plan, lambda got: [[_search_item(s) for s in got]], remake
            elif isinstance(op, ListNamespacesOp):
                conditions = [(c.match_type, c.path) for c in op.match_conditions or ()]
                plan = self.items.namespaces_plan(conditions, op.max_depth, op.limit, op.offset)
                yield plan, lambda got: [got], None
            else:
                raise ConfigError(
                    f"unknown store operation {type(op).__name__}; "
                    "use GetOp, PutOp, SearchOp or ListNamespacesOp"
                )
            i += 1

    def _check_vectors(
        self,
        ops: Sequence[Op],
        spans: dict[int, slice],
        paths_of: list[str],
        put_vectors: dict[int, Vectors],
        query_vectors: dict[str, list[float]],
    ) -> None:
        """:class:`ZeroVectorError` naming the embedder for an all-zero query vector, or
        an all-zero vector of a put (naming its item and path), before any op of the
        batch runs: a put's was stored and listed unscored by every search."""
        embeddings = self.embeddings
        # a function wrapped by LangGraph (sync: .func, async: .afunc)
        func = getattr(embeddings, "func", None) or getattr(embeddings, "afunc", None)
        name = repr(getattr(func, "__qualname__", None) or type(embeddings).__name__)
        for vector in query_vectors.values():
            self.items.check_query_vector(vector, name)
        for i, vectors in put_vectors.items():
            op = ops[i]
            assert isinstance(op, PutOp)
            fields = paths_of[spans[i]]
            self.items.check_item_vectors(op.namespace, op.key, vectors, fields, name)

    @staticmethod
    def _needs_index(spans: dict[int, slice], queries: list[str]) -> bool:
        return bool(queries) or any(s.stop > s.start for s in spans.values())

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run ``ops`` in order; results in the same order."""
        ops = list(ops)
        texts, spans, queries, paths_of = self._texts(ops)
        put_vectors: dict[int, Vectors] = {}
        query_vectors: dict[str, list[float]] = {}
        if self.embeddings is not None:
            embedded = self.embeddings.embed_documents(texts) if texts else []
            put_vectors = {i: embedded[span] for i, span in spans.items()}
            query_vectors = {q: self.embeddings.embed_query(q) for q in queries}
            self._check_vectors(ops, spans, paths_of, put_vectors, query_vectors)
            if queries:
                self.items.ensure_search_index()
            elif self._needs_index(spans, queries):
                self.items.ensure_index()
        results: list[Result] = []
        for plan, make, remake in self._plans(ops, put_vectors, query_vectors):
            try:
                got = self.items.run(plan)
            except Exception as exc:
                if remake is None or not self.items.index_lost(exc):
                    raise
                self.items.rebuild_index()  # waits (capped) until it indexed the vectors
                got = self.items.run(remake())
            results.extend(make(got))
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async :meth:`batch`."""
        ops = list(ops)
        texts, spans, queries, paths_of = self._texts(ops)
        put_vectors: dict[int, Vectors] = {}
        query_vectors: dict[str, list[float]] = {}
        if self.embeddings is not None:
            embedded = await self.embeddings.aembed_documents(texts) if texts else []
            put_vectors = {i: embedded[span] for i, span in spans.items()}
            found = await asyncio.gather(*(self.embeddings.aembed_query(q) for q in queries))
            query_vectors = dict(zip(queries, found, strict=True))
            self._check_vectors(ops, spans, paths_of, put_vectors, query_vectors)
            if queries:
                await self.items.aensure_search_index()
            elif self._needs_index(spans, queries):
                await self.items.aensure_index()
        results: list[Result] = []
        for plan, make, remake in self._plans(ops, put_vectors, query_vectors):
            try:
                got = await self.items.arun(plan)
            except Exception as exc:
                if remake is None or not self.items.index_lost(exc):
                    raise
                await self.items.arebuild_index()
                got = await self.items.arun(remake())
            results.extend(make(got))
        return results


class AsyncRedisStore(RedisStore):
    """:class:`RedisStore` under the name async code looks for (same class: both
    sync and async methods work on either)."""
