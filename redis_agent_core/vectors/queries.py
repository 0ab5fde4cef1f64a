"""Reads of a :class:`~redis_agent_core.vectors.VectorIndex`: by id, KNN, range, MMR,
text, hybrid and filter-only queries; the commands and parsers are the pure functions
of :mod:`.query`, run by one executor per mode."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NoReturn

import numpy as np
import orjson

from .. import telemetry
from ..capabilities import get_capabilities
from ..config import RAW_REPLY
from ..embeddings import aembed_query, embed_query
from ..errors import ConfigError
from ..keys import as_list
from ..redis_errors import REPLY, translate_errors
from ..search.capabilities import aget_capabilities
from ..search.executor import arun, run
from ..search.lifecycle import aread_info, read_info
from . import query as q
from .base import FilterLike, QueryLike
from .checks import check_alpha, check_ef, check_k, check_text
from .filters import FilterError
from .lifecycle import TUNING_RECHECK, IndexLifecycleMixin
from .schema import (
    METADATA_FIELD,
    distance_from_relevance,
    filter_field_mismatch,
)


def tuning_state(raw: Any) -> dict[str, str]:
    """The saved tuning hash (``ef_runtime``, ``recall``, ``size``, ...) as text."""
    return {q.text_of(k): q.text_of(v) for k, v in (raw or {}).items()}


class IndexQueries(IndexLifecycleMixin):
    """Query the index."""

    # The ef_runtime saved by tune_recall, read once per instance on the first query.
    _tuned: int | None = None
    _tuned_loaded: bool = False
    _tuned_at = 0.0

    def _uses_tuning(self, ef_runtime: int | None) -> bool:
        if self.auto and time.monotonic() - self._tuned_at > TUNING_RECHECK:
            self._tuned_loaded = False  # another process may have tuned it again as it grew
        return (ef_runtime is None and not self._tuned_loaded
                and self.recall_target is not None and self.schema.algorithm == "hnsw")  # fmt: skip

    def _set_tuned(self, raw: Any) -> None:
        self._tuned = int(tuning_state(raw).get("ef_runtime", "0") or 0) or None
        self._tuned_loaded, self._tuned_at = True, time.monotonic()

    def _ef(self, ef_runtime: int | None) -> int | None:
        """A query's ``ef_runtime``: its own, else the tuned one, else None (the schema's).
        Its own is a positive int: -1 or 0.5 searched at ``k`` (the lowest recall), NaN
        and inf raised a bare ValueError / OverflowError."""
        ef_runtime = check_ef(ef_runtime)
        if self.auto:  # the live algorithm first: the tuning is for HNSW only
            self._ensure(create=False)
        if self._uses_tuning(ef_runtime):
            with translate_errors(self.config, f"reading the tuning of {self.name!r}"):
                self._set_tuned(self.config.get_client().hgetall(self.recall_key))
        return ef_runtime if ef_runtime is not None else self._tuned

    async def _aef(self, ef_runtime: int | None) -> int | None:
        """Async :meth:`_ef`."""
        ef_runtime = check_ef(ef_runtime)
        if self.auto:
            await self._aensure(create=False)
        if self._uses_tuning(ef_runtime):
            with translate_errors(self.config, f"reading the tuning of {self.name!r}"):
                self._set_tuned(await self.config.get_async_client().hgetall(self.recall_key))
        return ef_runtime if ef_runtime is not None else self._tuned

    # -- reads by id --
    def _get_command(self, key: str) -> list[Any]:
        s = self.schema
        if s.storage == "json":
            return ["JSON.GET", key, f"$.{s.text_field}", f"$.{METADATA_FIELD}"]
        return ["HMGET", key, s.text_field, METADATA_FIELD]

    def _parse_get(self, keys: Sequence[str], replies: Sequence[Any]) -> list[q.Hit]:
        s = self.schema
        hits = []
        for key, reply in zip(keys, replies, strict=True):
            if reply is None:
                continue
            if s.storage == "json":
                data = orjson.loads(reply)
                texts, metas = data.get(f"$.{s.text_field}"), data.get(f"$.{METADATA_FIELD}")
                if not texts:
                    continue
                fields = {s.text_field: texts[0], METADATA_FIELD: orjson.dumps(metas[0])}
            else:
                if reply[0] is None and reply[1] is None:
                    continue
                fields = {s.text_field: reply[0], METADATA_FIELD: reply[1]}
            hits.append(q.make_hit(s, self.prefix, key, fields))
        return hits

    def get(self, ids: Sequence[str]) -> list[q.Hit]:
        """Documents by id, in the order asked; missing ids are skipped."""
        keys = [self.key(i) for i in as_list(ids, "ids")]
        if not keys:
            return []
        with translate_errors(self.config, f"reading from {self.name!r}"):
            pipe = self.config.get_client().pipeline(transaction=False)
            for key in keys:
                pipe.execute_command(*self._get_command(key))
            replies = pipe.execute()
        return self._parse_get(keys, replies)

    async def aget(self, ids: Sequence[str]) -> list[q.Hit]:
        """Async :meth:`get`."""
        keys = [self.key(i) for i in as_list(ids, "ids")]
        if not keys:
            return []
        with translate_errors(self.config, f"reading from {self.name!r}"):
            pipe = self.config.get_async_client().pipeline(transaction=False)
            for key in keys:
                pipe.execute_command(*self._get_command(key))
            replies = await pipe.execute()
        return self._parse_get(keys, replies)

    # -- queries: shared --
    def _vec(self, query: QueryLike) -> bytes:
        if isinstance(query, str):  # a search query: the model's query form, if it has one
            query = embed_query(self.embedder, [check_text(query, "the query text")])[0]
        return q.vector_bytes(self.schema, query)

    async def _avec(self, query: QueryLike) -> bytes:
        if isinstance(query, str):
            query = (await aembed_query(self.embedder, [check_text(query, "the query text")]))[0]
        return q.vector_bytes(self.schema, query)

    def _filter(self, filter: FilterLike) -> str | None:
        """:meth:`compile_filter`; a field this store was opened without but the index
        has raises :class:`FilterFieldMismatchError` naming both (one FT.INFO, on that
        error only)."""
        try:
            return self.compile_filter(filter)
        except FilterError as exc:
            if exc.unknown_field is None:
                raise
            info = read_info(self.config, self.index_name, f"filtering {self.name!r}")
            self._filter_failed(exc, exc.unknown_field, info)

    async def _afilter(self, filter: FilterLike) -> str | None:
        """Async :meth:`_filter`."""
        try:
            return self.compile_filter(filter)
        except FilterError as exc:
            if exc.unknown_field is None:
                raise
            info = await aread_info(self.config, self.index_name, f"filtering {self.name!r}")
            self._filter_failed(exc, exc.unknown_field, info)

    def _filter_failed(self, exc: FilterError, field: str, info: Any) -> NoReturn:
        error = filter_field_mismatch(self.name, self.schema, self.index_name, field, info)
        if error is None:
            raise exc
        raise error from exc

    def _open(self) -> bool:
        """Whether there is an index to query. One this object used that is gone now
        (dropped, Redis restarted) is created again, and the read waits for it to index
        the documents still in Redis (:meth:`IndexLifecycle.rebuild`): answering "nothing"
        while they are there would be wrong. So is one a fresh object finds missing but on
        record (made, and not dropped through the pack: :meth:`IndexLifecycle.was_made`).
        One never made reads as empty."""
        if self._ensure(create=False):
            return True
        if not self.index.was_made():
            return False
        self.index.rebuild()
        return True

    async def _aopen(self) -> bool:
        """Async :meth:`_open`."""
        if await self._aensure(create=False):
            return True
        if not await self.index.awas_made():
            return False
        await self.index.arebuild()
        return True

    def _run(self, command: list[Any]) -> Any:
        """Run one search command; an index never made reads as empty (``None``)."""
        if not self._open():
            return None
        execute = self.config.get_client().execute_command
        with translate_errors(self.config, f"searching {self.name!r}"):
            started = time.perf_counter()
            try:
                # bytes also on a decode_responses=True client: MMR and
                # return_vectors read the raw vectors
                reply = self.index.retrying(lambda: execute(*command, **RAW_REPLY))
            except REPLY as exc:
                limit = q.limit_error(exc)
                if limit is not None:
                    raise limit from exc
                raise
            telemetry.vector_query(self.name, str(command[0]).lower(), None, started)
            return reply

    def _run_args(self, *command: Any) -> Any:
        """:meth:`_run` as a flow's executor (:func:`~redis_agent_core.search.executor.run`);
        a :class:`~.query.Batch` (its commands as the arguments) runs in one pipeline."""
        if command and isinstance(command[0], list):
            return self._run_batch(list(command))
        return self._run(list(command))

    async def _arun_args(self, *command: Any) -> Any:
        """Async :meth:`_run_args`."""
        if command and isinstance(command[0], list):
            return await self._arun_batch(list(command))
        return await self._arun(list(command))

    def _run_batch(self, commands: list[list[Any]]) -> list[Any] | None:
        """Search commands in one pipeline, their replies in order (``None``: no index)."""
        if not self._open():
            return None

        client = self.config.get_client()
        one_by_one = get_capabilities(self.config).cluster  # a search has no key to route by

        def call() -> list[Any]:
            if one_by_one:
                return [client.execute_command(*command, **RAW_REPLY) for command in commands]
            pipe = client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command, **RAW_REPLY)
            return pipe.execute()

        with translate_errors(self.config, f"searching {self.name!r}"):
            started = time.perf_counter()
            replies = self.index.retrying(call)
            telemetry.vector_query(self.name, "ft.search", None, started)
            return replies

    async def _arun_batch(self, commands: list[list[Any]]) -> list[Any] | None:
        """Async :meth:`_run_batch`."""
        if not await self._aopen():
            return None

        client = self.config.get_async_client()
        one_by_one = (await aget_capabilities(self.config)).cluster

        async def call() -> list[Any]:
            if one_by_one:
                return [await client.execute_command(*command, **RAW_REPLY) for command in commands]
            pipe = client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command, **RAW_REPLY)
            return await pipe.execute()

        with translate_errors(self.config, f"searching {self.name!r}"):
            started = time.perf_counter()
            replies = await self.index.aretrying(call)
            telemetry.vector_query(self.name, "ft.search", None, started)
            return replies

    async def _arun(self, command: list[Any]) -> Any:
        if not await self._aopen():
            return None
        execute = self.config.get_async_client().execute_command
        with translate_errors(self.config, f"searching {self.name!r}"):
            started = time.perf_counter()
            try:
                reply = await self.index.aretrying(lambda: execute(*command, **RAW_REPLY))
            except REPLY as exc:
                limit = q.limit_error(exc)
                if limit is not None:
                    raise limit from exc
                raise
            telemetry.vector_query(self.name, str(command[0]).lower(), None, started)
            return reply

    def _hits(self, reply: Any) -> list[q.Hit]:
        return [] if reply is None else q.parse_search(reply, self.schema, self.prefix)[1]

    def _knn(self, vec: bytes, k: int, f: str, ef: int | None, vectors: bool) -> list[Any]:
        return q.knn_command(self.index_name, self.schema, vec, k, f, ef_runtime=ef,
                             vectors=vectors)  # fmt: skip

    # -- KNN --
    @telemetry.traced("vectors", "search")
    def search(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        filter: FilterLike = None,
        ef_runtime: int | None = None,
        return_vectors: bool = False,
    ) -> list[q.Hit]:
        """The ``k`` nearest documents to ``query`` (a text, embedded, or a vector) that
        pass ``filter``, nearest first, ``score`` = relevance in [0, 1]."""
        k = check_k(k)
        f = self._filter(filter)
        vec = self._vec(query)
        if f is None:
            return []
        ef = self._ef(ef_runtime)
        return self._hits(self._run(self._knn(vec, k, f, ef, return_vectors)))

    @telemetry.traced("vectors", "search")
    async def asearch(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        filter: FilterLike = None,
        ef_runtime: int | None = None,
        return_vectors: bool = False,
    ) -> list[q.Hit]:
        """Async :meth:`search`."""
        k = check_k(k)
        f = await self._afilter(filter)
        vec = await self._avec(query)
        if f is None:
            return []
        ef = await self._aef(ef_runtime)
        return self._hits(await self._arun(self._knn(vec, k, f, ef, return_vectors)))

    # -- range (score threshold) --
    def _range(self, vec: bytes, min_score: float, k: int, f: str) -> list[Any]:
        radius = distance_from_relevance(min_score, self.schema.metric)
        return q.range_command(self.index_name, self.schema, vec, min(radius, 1e9), k, f)

    @telemetry.traced("vectors", "search_range")
    def search_range(
        self, query: QueryLike, min_score: float, k: int = 4, *, filter: FilterLike = None
    ) -> list[q.Hit]:
        """Up to ``k`` documents with relevance ≥ ``min_score``, nearest first."""
        k = check_k(k)
        f = self._filter(filter)
        vec = self._vec(query)
        if f is None:
            return []
        return self._hits(self._run(self._range(vec, min_score, k, f)))

    @telemetry.traced("vectors", "search_range")
    async def asearch_range(
        self, query: QueryLike, min_score: float, k: int = 4, *, filter: FilterLike = None
    ) -> list[q.Hit]:
        """Async :meth:`search_range`."""
        k = check_k(k)
        f = await self._afilter(filter)
        vec = await self._avec(query)
        if f is None:
            return []
        return self._hits(await self._arun(self._range(vec, min_score, k, f)))

    # -- MMR --
    def _mmr(self, vec: bytes, hits: list[q.Hit], k: int, lambda_mult: float) -> list[q.Hit]:
        query = np.frombuffer(vec, dtype=self.schema.numpy_dtype).astype(np.float32)
        picked = q.mmr_select(query, q.hits_to_vectors(hits, self.schema.dims), k, lambda_mult)
        out = [hits[i] for i in picked]
        for hit in out:
            hit.vector = None
        return out

    @telemetry.traced("vectors", "mmr")
    def mmr(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """Maximal marginal relevance: ``k`` of the ``fetch_k`` nearest documents
        (so at most ``min(k, fetch_k)``), trading relevance (``lambda_mult`` 1) for
        diversity (0)."""
        k, fetch_k = check_k(k), check_k(fetch_k, "fetch_k")
        f = self._filter(filter)
        vec = self._vec(query)
        if f is None:
            return []
        hits = self._hits(self._run(self._knn(vec, fetch_k, f, self._ef(None), True)))
        return self._mmr(vec, hits, k, lambda_mult)

    @telemetry.traced("vectors", "mmr")
    async def ammr(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """Async :meth:`mmr`."""
        k, fetch_k = check_k(k), check_k(fetch_k, "fetch_k")
        f = await self._afilter(filter)
        vec = await self._avec(query)
        if f is None:
            return []
        ef = await self._aef(None)
        hits = self._hits(await self._arun(self._knn(vec, fetch_k, f, ef, True)))
        return self._mmr(vec, hits, k, lambda_mult)

    # -- text and hybrid --
    def _need_text_index(self, method: str) -> None:
        """:class:`ConfigError` when the text is stored but not indexed (``index_text=False``):
        a text query there would match nothing and a hybrid one would be a vector query."""
        if not self.schema.index_text:
            raise ConfigError(
                f"{method} on vector index {self.name!r}: its text field "
                f"{self.schema.text_field!r} is not indexed (index_text=False), so a text "
                "query cannot match it; use search() for a vector query, or create an "
                "index with index_text=True (the default) and re-add the documents"
            )

    @telemetry.traced("vectors", "text_search")
    def text_search(self, text: str, k: int = 4, *, filter: FilterLike = None) -> list[q.Hit]:
        """Full-text (BM25) search on the text field; ``score`` is the BM25 score.
        :class:`ConfigError` on an index whose text is not indexed."""
        self._need_text_index("text_search")
        k = check_k(k)
        f = self._filter(filter)
        command = q.text_command(self.index_name, self.schema, text, k, f or "*")
        if f is None or command is None:
            return []
        if f != "*":  # the filter restricts, the words alone score
            plan = q.text_plan(self.index_name, self.schema, self.prefix, text, k, f)
            if plan is None:
                return []
            with q.widening(k, "a filtered text_search"):
                return run(self._run_args, q.text_flow(plan))
        return self._hits(self._run(command))

    @telemetry.traced("vectors", "text_search")
    async def atext_search(
        self, text: str, k: int = 4, *, filter: FilterLike = None
    ) -> list[q.Hit]:
        """Async :meth:`text_search`."""
        self._need_text_index("text_search")
        k = check_k(k)
        f = await self._afilter(filter)
        command = q.text_command(self.index_name, self.schema, text, k, f or "*")
        if f is None or command is None:
            return []
        if f != "*":
            plan = q.text_plan(self.index_name, self.schema, self.prefix, text, k, f)
            if plan is None:
                return []
            with q.widening(k, "a filtered text_search"):
                return await arun(self._arun_args, q.text_flow(plan))
        return self._hits(await self._arun(command))

    def _hybrid_supported(self) -> bool:
        if self._hybrid is None:
            self._hybrid = get_capabilities(self.config).hybrid
        return self._hybrid

    async def _ahybrid_supported(self) -> bool:
        if self._hybrid is None:
            self._hybrid = (await aget_capabilities(self.config)).hybrid
        return self._hybrid

    @telemetry.traced("vectors", "hybrid")
    def hybrid(
        self,
        text: str,
        k: int = 4,
        *,
        alpha: float = 0.7,
        vector: Any = None,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """BM25 + vector search: ``score = alpha * vector_similarity + (1 - alpha) *
        text_score``. Runs as an aggregation (the hybrid command when the server has it);
        falls back to a vector search when the text has no searchable term.
        :class:`ConfigError` on an index whose text is not indexed."""
        self._need_text_index("hybrid")
        k = check_k(k)
        alpha = check_alpha(alpha)  # before the no-term fallback, which would not read it
        f = self._filter(filter)
        vec = self._vec(text if vector is None else vector)
        if f is None:
            return []
        if q.text_terms(text) and self._hybrid_supported():
            return self._native_hybrid(text, vec, k, f, alpha)
        plan = q.hybrid_plan(self.index_name, self.schema, self.prefix, text, vec, k, f, alpha)
        if plan is None:
            return self._hits(self._run(self._knn(vec, k, f, self._ef(None), False)))
        with q.widening(k, "a hybrid query"):
            return run(self._run_args, q.hybrid_flow(plan, self._ef(None)))

    @telemetry.traced("vectors", "hybrid")
    async def ahybrid(
        self,
        text: str,
        k: int = 4,
        *,
        alpha: float = 0.7,
        vector: Any = None,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """Async :meth:`hybrid`."""
        self._need_text_index("hybrid")
        k = check_k(k)
        alpha = check_alpha(alpha)
        f = await self._afilter(filter)
        vec = await self._avec(text if vector is None else vector)
        if f is None:
            return []
        if q.text_terms(text) and await self._ahybrid_supported():
            return await self._anative_hybrid(text, vec, k, f, alpha)
        plan = q.hybrid_plan(self.index_name, self.schema, self.prefix, text, vec, k, f, alpha)
        ef = await self._aef(None)
        if plan is None:
            return self._hits(await self._arun(self._knn(vec, k, f, ef, False)))
        with q.widening(k, "a hybrid query"):
            return await arun(self._arun_args, q.hybrid_flow(plan, ef))

    def _native_hits(self, rows: list[dict[str, Any]]) -> list[q.Hit]:
        hits = []
        for row in rows:
            key = row.get("__key") or row.get("id")
            if key is not None:
                hits.append(q.make_hit(self.schema, self.prefix, str(key), row,
                                       row.get("hybrid_score", row.get("score"))))  # fmt: skip
        return hits

    def _native_hybrid(self, text: str, vec: bytes, k: int, f: str, alpha: float) -> list[q.Hit]:
        if not self._open():
            return []
        query = q.native_hybrid_query(self.schema, text, vec, k, f, alpha)
        index = self._search_index()
        with translate_errors(self.config, f"searching {self.name!r}"):
            return self._native_hits(self.index.retrying(lambda: index.query(query)))

    async def _anative_hybrid(
        self, text: str, vec: bytes, k: int, f: str, alpha: float
    ) -> list[q.Hit]:
        if not await self._aopen():
            return []
        query = q.native_hybrid_query(self.schema, text, vec, k, f, alpha)
        index = self._async_search_index()
        with translate_errors(self.config, f"searching {self.name!r}"):
            return self._native_hits(await self.index.aretrying(lambda: index.query(query)))

    # -- filter-only queries --
    def find(self, filter: FilterLike = None, *, limit: int = 100, offset: int = 0) -> list[q.Hit]:
        """Documents passing ``filter`` (no ranking), ``limit`` (a positive int) at a
        time."""
        q.check_page(limit, offset)  # bad paging raises even where nothing can match
        f = self._filter(filter)
        if f is None:
            return []
        command = q.filter_command(self.index_name, self.schema, f, offset=offset, limit=limit)
        return self._hits(self._run(command))

    async def afind(
        self, filter: FilterLike = None, *, limit: int = 100, offset: int = 0
    ) -> list[q.Hit]:
        """Async :meth:`find`."""
        q.check_page(limit, offset)
        f = await self._afilter(filter)
        if f is None:
            return []
        command = q.filter_command(self.index_name, self.schema, f, offset=offset, limit=limit)
        return self._hits(await self._arun(command))

    def count(self, filter: FilterLike = None) -> int:
        """How many documents pass ``filter`` (all documents when None)."""
        f = self._filter(filter)
        if f is None:
            return 0
        reply = self._run(q.filter_command(self.index_name, self.schema, f, count=True))
        return 0 if reply is None else q.parse_ids(reply, self.prefix)[0]

    async def acount(self, filter: FilterLike = None) -> int:
        """Async :meth:`count`."""
        f = await self._afilter(filter)
        if f is None:
            return 0
        reply = await self._arun(q.filter_command(self.index_name, self.schema, f, count=True))
        return 0 if reply is None else q.parse_ids(reply, self.prefix)[0]

    def _among(self, ids: Sequence[str] | None, f: str | None) -> list[list[Any]]:
        """The searches listing which of ``ids`` pass the compiled filter ``f`` (keys
        only, a page of ids each)."""
        keys = [self.key(i) for i in as_list(ids or (), "ids")]
        if f is None:
            return []
        return [
            q.filter_command(self.index_name, self.schema, f, limit=max(1, len(page)),
                             ids_only=True, keys=page)
            for page in (keys[i : i + 1000] for i in range(0, len(keys), 1000))
        ]  # fmt: skip

    def delete_by_filter(self, filter: FilterLike, *, ids: Sequence[str] | None = None) -> int:
        """Delete every document passing ``filter`` (which must not be empty); with
        ``ids``, only those of the ids that pass it (another tenant's are kept)."""
        f = self._filter(filter)
        if ids is not None:
            deleted = 0
            for command in self._among(ids, f):
                keys, _ = self._to_delete(self._run(command))
                if keys:
                    with translate_errors(self.config, f"deleting from {self.name!r}"):
                        deleted += int(self.config.get_client().unlink(*keys))
            return deleted
        if filter is None or f == "*":
            raise ConfigError("delete_by_filter needs a narrowing filter; use clear()")
        deleted = 0
        while f is not None:
            reply = self._run(q.filter_command(self.index_name, self.schema, f, limit=1000,
                                               ids_only=True))  # fmt: skip
            keys, expired = self._to_delete(reply)
            if not keys:
                break
            with translate_errors(self.config, f"deleting from {self.name!r}"):
                removed = int(self.config.get_client().unlink(*keys))
            if removed == 0 and not expired:  # the index lags behind the keyspace: do not spin
                break
            deleted += removed
        return deleted

    def _to_delete(self, reply: Any) -> tuple[list[str], bool]:
        """The keys of one page of :meth:`delete_by_filter` and whether some had expired.
        Those are unlinked too (it removes them, so the index drops them) but count
        nothing (UNLINK counts only live keys): a page of them alone stopped the
        deletion as if the index lagged, leaving the documents past it in place."""
        if reply is None:
            return [], False
        _, live, expired = q.parse_ids(reply, self.prefix)
        return live + expired, bool(expired)

    async def adelete_by_filter(
        self, filter: FilterLike, *, ids: Sequence[str] | None = None
    ) -> int:
        """Async :meth:`delete_by_filter`."""
        f = await self._afilter(filter)
        if ids is not None:
            deleted = 0
            for command in self._among(ids, f):
                keys, _ = self._to_delete(await self._arun(command))
                if keys:
                    with translate_errors(self.config, f"deleting from {self.name!r}"):
                        deleted += int(await self.config.get_async_client().unlink(*keys))
            return deleted
        if filter is None or f == "*":
            raise ConfigError("delete_by_filter needs a narrowing filter; use clear()")
        deleted = 0
        while f is not None:
            reply = await self._arun(q.filter_command(self.index_name, self.schema, f,
                                                      limit=1000, ids_only=True))  # fmt: skip
            keys, expired = self._to_delete(reply)
            if not keys:
                break
            with translate_errors(self.config, f"deleting from {self.name!r}"):
                removed = int(await self.config.get_async_client().unlink(*keys))
            if removed == 0 and not expired:
                break
            deleted += removed
        return deleted
