"""LlamaIndex ``BasePydanticVectorStore`` on the core :class:`VectorIndex`.

Every ``FilterOperator`` and every ``FilterCondition`` (including NOT, which means
"none of these match", as in LlamaIndex's own stores), nested, compile to one
RediSearch query. Query modes: default, MMR, hybrid (BM25 + vector in one
aggregation) and text_search; any other mode raises :class:`CapabilityError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict
from redisvl.schema import IndexSchema

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import DEFAULT_DIMS
from redis_agent_core.errors import CapabilityError, ConfigError
from redis_agent_core.keys import as_list
from redis_agent_core.kit import (
    MetadataSpec,
    check_finite_metadata,
    check_index_options,
    check_k,
    check_kwargs,
    parse_metadata_fields,
)
from redis_agent_core.migrate import options_from_redisvl, peer_config
from redis_agent_core.vectors import (
    And,
    Condition,
    F,
    Filter,
    Hit,
    MetadataField,
    Not,
    Or,
    RecallReport,
    VectorIndex,
)

from .embeddings import to_core_embedder

__all__ = ["RedisVectorStore", "to_core_filter"]

_OPS = {
    FilterOperator.EQ: "eq",
    FilterOperator.NE: "ne",
    FilterOperator.GT: "gt",
    FilterOperator.LT: "lt",
    FilterOperator.GTE: "gte",
    FilterOperator.LTE: "lte",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "nin",
    FilterOperator.ANY: "any",
    FilterOperator.ALL: "all",
    FilterOperator.CONTAINS: "contains",
    FilterOperator.TEXT_MATCH: "text_match",
    FilterOperator.TEXT_MATCH_INSENSITIVE: "text_match_insensitive",
    FilterOperator.IS_EMPTY: "is_empty",
}
_REF_FIELD = "ref_doc_id"
# query(..., **kwargs) receives the retriever's vector_store_kwargs: the MMR options
# LlamaIndex's own stores read there, and filter= (a redisvl FilterExpression, a dict
# or F(...), ANDed with query.filters).
_QUERY_KWARGS = ("filter", "mmr_threshold", "mmr_prefetch_k", "mmr_prefetch_factor")
_QUERY_HINTS = {
    "filters": "pass MetadataFilters as VectorStoreQuery(filters=...), or a redisvl "
    "expression / dict / F(...) as filter=",
    "similarity_top_k": "set VectorStoreQuery(similarity_top_k=...)",
    "k": "set VectorStoreQuery(similarity_top_k=...)",
}
_SUPPORTED_MODES = (
    VectorStoreQueryMode.DEFAULT,
    VectorStoreQueryMode.MMR,
    VectorStoreQueryMode.HYBRID,
    VectorStoreQueryMode.TEXT_SEARCH,
)


def to_core_filter(filters: MetadataFilters | MetadataFilter) -> Filter:
    """Translate LlamaIndex filters (nested, any operator and condition) to the core."""
    return _to_core(filters, nested=False)


def _to_core(filters: MetadataFilters | MetadataFilter, nested: bool) -> Filter:
    if isinstance(filters, MetadataFilter):
        op = _OPS.get(filters.operator)
        if op is None:
            raise ConfigError(f"unsupported filter operator {filters.operator!r}")
        value = True if op == "is_empty" else filters.value
        return Condition(filters.key, op, value)
    if not filters.filters:
        if nested:
            # read as "no filter", an OR of allowed values built at run time and left
            # empty widened its parent: [tenant == a, OR()] matched all of a's nodes
            raise ConfigError(
                "a nested MetadataFilters has no filters: as no filter it would match "
                "every node, as an OR of nothing none; leave it out of its parent, or "
                "give an IN filter with an empty list to match nothing"
            )
        # LlamaIndex (build_metadata_filter_fn) reads an empty list as no filter, for
        # every condition: OR of nothing matched nothing here
        return And(())
    children = tuple(_to_core(f, nested=True) for f in filters.filters)
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return And(children)
    if condition == FilterCondition.OR:
        return Or(children)
    if condition == FilterCondition.NOT:
        return Not(Or(children))  # "none of the filters match"
    raise ConfigError(f"unsupported filter condition {condition!r}")


# Fields of a LlamaIndex Redis schema the pack keeps in its own way: the node id is the
# key, the source document id is the always-indexed ``ref_doc_id``.
_PEER_FIELDS = ("id", "doc_id")


def _source_filter(ref_doc_id: str | list[str]) -> Filter:
    if isinstance(ref_doc_id, list | tuple):
        if not ref_doc_id:
            raise ConfigError("delete() needs a ref_doc_id or a non-empty list of them")
        return F(_REF_FIELD).is_in(list(ref_doc_id))
    return F(_REF_FIELD) == ref_doc_id


def _dims(vectors: Sequence[Any]) -> int | None:
    """The size of the first vector at hand (None: none)."""
    first = next((v for v in vectors if v is not None), None)
    return None if first is None else len(first)


def _filter_only(query: VectorStoreQuery) -> bool:
    """A default-mode query with neither embedding nor text: the nodes its filters
    match (as llama-index-vector-stores-redis answers it since run-llama/llama_index#20359)."""
    return (
        query.mode == VectorStoreQueryMode.DEFAULT
        and query.query_embedding is None
        and not query.query_str
    )


def _nodes_to_delete(node_ids: Any, filters: MetadataFilters | None) -> list[str] | None:
    """``node_ids`` as a list; :class:`ConfigError` when neither ids nor filters are
    given: this store deleted nothing there, silently, and LlamaIndex's
    ``SimpleVectorStore`` deletes every node; asked for by name (``clear()``), neither
    surprise happens."""
    if node_ids is None and filters is None:
        raise ConfigError(
            "delete_nodes() got neither node_ids nor filters: give the ids (or filters) of "
            "the nodes to delete, or call clear() to delete every node of this store"
        )
    return None if node_ids is None else as_list(node_ids, "node_ids")


class RedisVectorStore(BasePydanticVectorStore):
    """Redis as a LlamaIndex vector store.

    Args:
        index_name: name of the index (keys live under the config's namespace).
        config: :class:`RedisAgentConfig` (default: the process-wide one).
        dims: embedding size (default: ``embed_model``'s, else the stored index's, else
            the first write's).
        metadata_fields: metadata keys to index for filtering, e.g.
            ``{"author": "tag", "year": "numeric"}``; ``ref_doc_id`` is always indexed.
        embed_model: the LlamaIndex embedding model the vectors come from; recorded in
            the index spec so background ingestion (:meth:`enqueue_add`) embeds alike
            (default: the offline MiniLM).
        index: an existing :class:`VectorIndex` to wrap instead.
        flat_metadata: refuse nested metadata (LlamaIndex's flat-metadata rule).
        schema: a redisvl ``IndexSchema`` (object, dict or YAML path) as
            llama-index-vector-stores-redis takes it: name, prefix and separator,
            storage, vector field and metadata fields (its ``id`` and ``doc_id`` fields
            are the pack's keys and ``ref_doc_id``).
        overwrite: drop the index and its documents at the first call (as the peer
            does at construction: the pack's constructors do no I/O).
        redis_url, redis_client, redis_client_async: the server, as the peer takes it.
        **index_options: further :class:`VectorIndex` options (``algorithm``,
            ``metric``, ``dtype``, ``storage``, ``ef_runtime``, ...).
    """

    stores_text: bool = True
    flat_metadata: bool = False
    index_name: str = "llama_index"

    _index: VectorIndex = PrivateAttr()
    # dims -> the index, until the dimension is known (None once resolved)
    _make: Callable[..., VectorIndex] | None = PrivateAttr(default=None)
    _overwrite: bool = PrivateAttr(default=False)

    def __init__(
        self,
        index_name: str | None = None,
        *,
        config: RedisAgentConfig | None = None,
        dims: int | None = None,
        metadata_fields: MetadataSpec = None,
        embed_model: BaseEmbedding | None = None,
        index: VectorIndex | None = None,
        flat_metadata: bool = False,
        schema: Any = None,
        overwrite: bool = False,
        redis_url: str | None = None,
        redis_client: Any = None,
        redis_client_async: Any = None,
        **index_options: Any,
    ) -> None:
        if schema is None and isinstance(index_name, Mapping | IndexSchema):
            schema, index_name = index_name, None  # the peer's first argument is the schema
        if not isinstance(overwrite, bool):
            raise ConfigError(f"overwrite must be True or False, got {overwrite!r}")
        config = peer_config(
            "RedisVectorStore", config=config, redis_url=redis_url,
            redis_client=redis_client, redis_client_async=redis_client_async,
        )  # fmt: skip
        name = index_name or "llama_index"
        if index is None:
            check_index_options("RedisVectorStore", index_options)
            fields = list(parse_metadata_fields(metadata_fields))
            if schema is not None:
                found = options_from_redisvl(schema, skip=_PEER_FIELDS, owner="schema")
                given = set(index_options) | ({"dims"} if dims is not None else set())
                clash = sorted(set(found) & given)
                if fields or clash:
                    raise ConfigError(
                        "the schema already declares the index's fields and vector settings "
                        f"({', '.join(clash) or 'metadata_fields'}): pass them once"
                    )
                name = index_name or found.pop("name")
                found.pop("name", None)
                fields = list(found.pop("metadata_fields"))
                dims = found.pop("dims")
                index_options.update(found)
            if not any(f.name == _REF_FIELD for f in fields):
                fields.append(MetadataField(_REF_FIELD, "tag"))
            embedder = to_core_embedder(embed_model) if embed_model is not None else None
            options = dict(index_options, config=config, metadata_fields=fields, embedder=embedder)

            declared = metadata_fields is not None or schema is not None

            def make(size: int | None, stored: bool = False) -> VectorIndex:
                if stored and not declared:  # open it as it is (fields, prefix...)
                    return VectorIndex.from_existing(  # text_field=: its documents' text
                        name, config=config, embedder=embedder,
                        text_field=index_options.get("text_field"),
                    )  # fmt: skip
                return VectorIndex(name, dims=size, **options)

            if dims is not None or embedder is not None:
                index = make(dims)
            else:
                make(DEFAULT_DIMS)  # the options are checked now, not at the first call
        elif config is not None or schema is not None or index_options:
            raise ConfigError("pass either index= or index options/config=, not both")
        # pydantic fields of this subclass, unknown to the base's signature
        super().__init__(index_name=name, flat_metadata=flat_metadata)  # type: ignore[call-arg]
        self._overwrite = overwrite
        if index is None:
            self._make = make
        else:
            self._index = index

    @classmethod
    def class_name(cls) -> str:
        return "RedisAgentVectorStore"

    @property
    def client(self) -> Any:
        """The sync redis-py client."""
        return self.index.config.get_client()

    @property
    def index(self) -> VectorIndex:
        """The core index (its dimension read from the server when not given)."""
        return self._ready()

    @property
    def schema(self) -> Any:
        """The index's redisvl ``IndexSchema`` (as llama-index-vector-stores-redis)."""
        return self.index.as_redisvl_index().schema

    # -- resolving the dimension, and overwrite= --
    def _ready(self, dims: int | None = None) -> VectorIndex:
        """The index, once its dimension is known: given, the stored index's, or
        ``dims`` (the vectors at hand). Runs a pending ``overwrite`` first."""
        if self._make is None and not self._overwrite:
            return self._index
        index = self._index if self._make is None else self._make(dims or DEFAULT_DIMS)
        if self._overwrite:
            index.drop()
            self._overwrite = False
            stored = None
        else:
            stored = index.stored_dims() if self._make is not None else None
        opened = None if stored is None or self._make is None else self._make(stored, True)
        return self._settle(index, stored, dims, opened)

    async def _aready(self, dims: int | None = None) -> VectorIndex:
        if self._make is None and not self._overwrite:
            return self._index
        index = self._index if self._make is None else self._make(dims or DEFAULT_DIMS)
        if self._overwrite:
            await index.adrop()
            self._overwrite = False
            stored = None
        else:
            stored = await index.astored_dims() if self._make is not None else None
        opened = None
        if stored is not None and self._make is not None:  # may read FT.INFO: off the loop
            opened = await asyncio.to_thread(self._make, stored, True)
        return self._settle(index, stored, dims, opened)

    def _settle(
        self, index: VectorIndex, stored: int | None, dims: int | None, opened: VectorIndex | None
    ) -> VectorIndex:
        """Keep the index once its dimension is known. A stored index is opened as it is
        when no fields were declared (metadata_fields= or schema=), else with them (a
        different stored schema then raises SchemaMismatchError at the first call)."""
        if self._make is None:
            return index
        if stored is None and dims is None:
            return index  # nothing stored, no vector at hand: decide at the first write
        if opened is not None:
            index = opened
        self._index, self._make = index, None
        return index

    def index_exists(self) -> bool:
        """Whether the index exists on the server."""
        return self._ready().exists()

    async def async_index_exists(self) -> bool:
        """Async :meth:`index_exists`."""
        return await (await self._aready()).aexists()

    def create_index(self, overwrite: bool | None = None) -> None:
        """Create the index now (``overwrite=True``: drop it and its documents first)."""
        if overwrite:
            self._overwrite = True
        self._ready().create()

    async def async_create_index(self, overwrite: bool | None = None) -> None:
        """Async :meth:`create_index`."""
        if overwrite:
            self._overwrite = True
        await (await self._aready()).acreate()

    def delete_index(self) -> None:
        """Drop the index and every document of it."""
        self._ready().drop()

    async def adelete_index(self) -> None:
        """Async :meth:`delete_index` (also as ``async_delete_index``, the peer's name)."""
        await (await self._aready()).adrop()

    async_delete_index = adelete_index

    # -- writes --
    def _rows(self, nodes: Sequence[BaseNode]) -> tuple[list[str], list[str], list[dict], list]:
        if isinstance(nodes, BaseNode):  # iterated, a pydantic model is its field pairs
            raise ConfigError(
                f"add() takes a list of nodes, got one {type(nodes).__name__}: [node]"
            )
        # node_to_metadata_dict writes a NaN or an infinity as null: check before it
        check_finite_metadata([node.metadata for node in nodes])
        ids, texts, metas, vectors = [], [], [], []
        for node in nodes:
            embedding = node.embedding
            if embedding is None:  # LlamaIndex's get_embedding(): "embedding not set."
                raise ConfigError(
                    f"node {node.node_id!r} has no embedding: embed it first "
                    "(node.embedding = embed_model.get_text_embedding(node.get_content("
                    "metadata_mode='embed'))), add it through VectorStoreIndex(nodes, "
                    "storage_context=..., embed_model=...), which embeds it, or use "
                    "enqueue_add(), whose worker embeds it; nothing was written"
                )
            ids.append(node.node_id)
            texts.append(node.get_content(metadata_mode=MetadataMode.NONE))
            metas.append(
                node_to_metadata_dict(node, remove_text=True, flat_metadata=self.flat_metadata)
            )
            vectors.append(embedding)
        return ids, texts, metas, vectors

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Store embedded nodes; returns their node ids unchanged."""
        check_kwargs("add", kwargs)
        if not nodes:
            return []
        ids, texts, metas, vectors = self._rows(nodes)
        return self._ready(len(vectors[0])).add(texts, ids=ids, metadatas=metas, vectors=vectors)

    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        check_kwargs("async_add", kwargs)
        if not nodes:
            return []
        ids, texts, metas, vectors = self._rows(nodes)
        return await (await self._aready(len(vectors[0]))).aadd(
            texts, ids=ids, metadatas=metas, vectors=vectors
        )

    def enqueue_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> str:
        """Ingest nodes in the background (Celery); returns the job id. Nodes without an
        embedding are embedded by the worker with the index's embedding model."""
        try:
            from redis_agent_core.tasks import submit_ingestion
        except ImportError as exc:
            raise ConfigError(
                "background ingestion needs the 'tasks' extra: pip install "
                "'redis-agent-pack[tasks]'"
            ) from exc
        check_finite_metadata([node.metadata for node in nodes])
        items = [
            {
                "id": node.node_id,
                "text": node.get_content(metadata_mode=MetadataMode.NONE),
                "metadata": node_to_metadata_dict(
                    node, remove_text=True, flat_metadata=self.flat_metadata
                ),
                # a node that carries its embedding is not embedded again by the worker
                "vector": node.embedding,
            }
            for node in nodes
        ]
        index = self._ready(_dims([item["vector"] for item in items]))
        return submit_ingestion(index, items, **kwargs)

    def delete(self, ref_doc_id: str | list[str], **delete_kwargs: Any) -> None:
        """Delete every node of source document ``ref_doc_id`` (or of each of a list)."""
        check_kwargs("delete", delete_kwargs)
        self._ready().delete_by_filter(_source_filter(ref_doc_id))

    async def adelete(self, ref_doc_id: str | list[str], **delete_kwargs: Any) -> None:
        check_kwargs("adelete", delete_kwargs)
        await (await self._aready()).adelete_by_filter(_source_filter(ref_doc_id))

    def _collect(self, hits: list[Hit], node_ids: list[str] | None) -> list[str]:
        wanted = None if node_ids is None else set(node_ids)
        return [h.id for h in hits if wanted is None or h.id in wanted]

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id, by filter, or both (ids that also pass the filter);
        neither raises :class:`ConfigError` (:meth:`clear` deletes every node)."""
        check_kwargs("delete_nodes", delete_kwargs)
        node_ids = _nodes_to_delete(node_ids, filters)
        if filters is None:
            if node_ids:
                self._ready().delete(node_ids)
            return
        core = to_core_filter(filters)
        if node_ids is None:
            self._ready().delete_by_filter(core)
            return
        self._ready().delete(self._collect(self._find_all(core), node_ids))

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        check_kwargs("adelete_nodes", delete_kwargs)
        node_ids = _nodes_to_delete(node_ids, filters)
        if filters is None:
            if node_ids:
                await (await self._aready()).adelete(node_ids)
            return
        core = to_core_filter(filters)
        if node_ids is None:
            await (await self._aready()).adelete_by_filter(core)
            return
        await (await self._aready()).adelete(self._collect(await self._afind_all(core), node_ids))

    def clear(self) -> None:
        """Delete every node of this store (the index stays)."""
        self._ready().clear()

    async def aclear(self) -> None:
        await (await self._aready()).aclear()

    # -- reads --
    def _find_all(self, core: Filter | None) -> list[Hit]:
        hits: list[Hit] = []
        while True:
            page = self._ready().find(core, limit=1000, offset=len(hits))
            hits += page
            if len(page) < 1000:
                return hits

    async def _afind_all(self, core: Filter | None) -> list[Hit]:
        hits: list[Hit] = []
        while True:
            page = await (await self._aready()).afind(core, limit=1000, offset=len(hits))
            hits += page
            if len(page) < 1000:
                return hits

    @staticmethod
    def _node(hit: Hit) -> BaseNode:
        node = metadata_dict_to_node(hit.metadata, text=hit.text)
        return node

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Nodes by id and/or filter."""
        node_ids = None if node_ids is None else as_list(node_ids, "node_ids")
        if node_ids is not None and filters is None:
            return [self._node(h) for h in self._ready().get(node_ids)]
        core = to_core_filter(filters) if filters is not None else None
        hits = self._find_all(core)
        return [self._node(h) for h in hits if node_ids is None or h.id in set(node_ids)]

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        node_ids = None if node_ids is None else as_list(node_ids, "node_ids")
        if node_ids is not None and filters is None:
            return [self._node(h) for h in await (await self._aready()).aget(node_ids)]
        core = to_core_filter(filters) if filters is not None else None
        hits = await self._afind_all(core)
        return [self._node(h) for h in hits if node_ids is None or h.id in set(node_ids)]

    # -- queries --
    def _plan(
        self, query: VectorStoreQuery, method: str, kwargs: dict[str, Any]
    ) -> tuple[Filter | None, int]:
        check_kwargs(method, kwargs, accepted=_QUERY_KWARGS, hints=_QUERY_HINTS)
        if query.mode not in _SUPPORTED_MODES:
            raise CapabilityError(
                f"query mode {query.mode.value!r} is not supported by RedisVectorStore; use "
                "default, mmr, hybrid or text_search"
            )
        if query.node_ids:
            raise CapabilityError(
                "restricting a query to node_ids is not supported; filter on metadata "
                "instead (or use get_nodes(node_ids=...))"
            )
        parts: list[Filter] = []
        if query.filters is not None:
            parts.append(to_core_filter(query.filters))
        # doc_ids=[] restricts to nothing: read as no restriction, a retriever's
        # doc_ids=<the user's documents> with none returned every user's nodes. (node_ids=[]
        # stays no restriction: VectorStoreIndex.as_retriever passes it for a store that
        # keeps the text, its index_struct listing no nodes.)
        if query.doc_ids is not None:
            parts.append(F(_REF_FIELD).is_in(as_list(query.doc_ids, "doc_ids")))
        extra = kwargs.get("filter")
        if extra is not None:
            parts.append(extra)
        core = None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts))
        k = query.similarity_top_k
        if query.mode == VectorStoreQueryMode.HYBRID and query.hybrid_top_k:
            k = query.hybrid_top_k
        check_k(k, "similarity_top_k")
        needs_text = query.mode in (VectorStoreQueryMode.HYBRID, VectorStoreQueryMode.TEXT_SEARCH)
        if needs_text and not query.query_str:
            raise ConfigError(f"query mode {query.mode.value!r} needs query_str")
        if query.mode == VectorStoreQueryMode.TEXT_SEARCH:
            return core, k
        if query.query_embedding is None and not (_filter_only(query) and core is not None):
            raise ConfigError(
                f"query mode {query.mode.value!r} needs query_embedding (or, with no "
                "query_str, filters: the nodes they match)"
            )
        return core, k

    @staticmethod
    def _mmr_options(query: VectorStoreQuery, k: int, kwargs: dict[str, Any]) -> dict[str, Any]:
        """fetch_k and lambda_mult of an MMR query (LlamaIndex's kwarg names)."""
        fetch_k = kwargs.get("mmr_prefetch_k")
        if fetch_k is None:
            factor = kwargs.get("mmr_prefetch_factor")
            fetch_k = max(20, 4 * k) if factor is None else max(k, int(k * float(factor)))
        lambda_mult = query.mmr_threshold
        if lambda_mult is None:
            lambda_mult = kwargs.get("mmr_threshold")
        return {"fetch_k": fetch_k, "lambda_mult": 0.5 if lambda_mult is None else lambda_mult}

    def _result(self, hits: list[Hit], filter_only: bool = False) -> VectorStoreQueryResult:
        return VectorStoreQueryResult(
            nodes=[self._node(h) for h in hits],
            # a filter-only query ranks nothing: each node matches the filters fully
            similarities=[1.0 if filter_only else float(h.score or 0.0) for h in hits],
            ids=[h.id for h in hits],
        )

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Run a query in any supported mode; similarities are relevances in [0, 1]
        (hybrid: the hybrid score; text_search: BM25)."""
        core, k = self._plan(query, "query", kwargs)
        index, mode = self._ready(_dims([query.query_embedding])), query.mode
        if mode == VectorStoreQueryMode.TEXT_SEARCH:
            hits = index.text_search(query.query_str or "", k, filter=core)
        elif mode == VectorStoreQueryMode.HYBRID:
            alpha = 0.7 if query.alpha is None else query.alpha
            hits = index.hybrid(
                query.query_str or "", k, alpha=alpha, vector=query.query_embedding, filter=core
            )
        elif mode == VectorStoreQueryMode.MMR:
            hits = index.mmr(
                query.query_embedding,  # type: ignore[arg-type]
                k,
                filter=core,
                **self._mmr_options(query, k, kwargs),
            )
        elif query.query_embedding is None:  # filters only (_plan checked)
            return self._result(index.find(core, limit=k), filter_only=True)
        else:
            hits = index.search(query.query_embedding, k, filter=core)
        return self._result(hits)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        core, k = self._plan(query, "aquery", kwargs)
        index, mode = await self._aready(_dims([query.query_embedding])), query.mode
        if mode == VectorStoreQueryMode.TEXT_SEARCH:
            hits = await index.atext_search(query.query_str or "", k, filter=core)
        elif mode == VectorStoreQueryMode.HYBRID:
            alpha = 0.7 if query.alpha is None else query.alpha
            hits = await index.ahybrid(
                query.query_str or "", k, alpha=alpha, vector=query.query_embedding, filter=core
            )
        elif mode == VectorStoreQueryMode.MMR:
            hits = await index.ammr(
                query.query_embedding,  # type: ignore[arg-type]
                k,
                filter=core,
                **self._mmr_options(query, k, kwargs),
            )
        elif query.query_embedding is None:  # filters only (_plan checked)
            return self._result(await index.afind(core, limit=k), filter_only=True)
        else:
            hits = await index.asearch(query.query_embedding, k, filter=core)
        return self._result(hits)

    # -- recall (see VectorIndex.measure_recall / tune_recall) --
    def measure_recall(self, **kwargs: Any) -> RecallReport:
        """Recall@k of this store's searches against exact KNN on a sample of stored
        vectors (``sample=100, k=10``)."""
        return self._ready().measure_recall(**kwargs)

    async def ameasure_recall(self, **kwargs: Any) -> RecallReport:
        """Async :meth:`measure_recall`."""
        return await (await self._aready()).ameasure_recall(**kwargs)

    def tune_recall(self, target: float | None = None, **kwargs: Any) -> RecallReport:
        """Save the smallest ``ef_runtime`` reaching ``target`` (default: the index's
        ``recall_target``, 0.95); searches use it from then on."""
        return self._ready().tune_recall(target, **kwargs)

    async def atune_recall(self, target: float | None = None, **kwargs: Any) -> RecallReport:
        """Async :meth:`tune_recall`."""
        return await (await self._aready()).atune_recall(target, **kwargs)
