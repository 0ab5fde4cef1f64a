"""LangChain ``VectorStore`` on the core :class:`~redis_agent_core.vectors.VectorIndex`.

Sync and async natively. Filters take the core filter (``F("tenant") == "acme"``), a
dict (``{"tenant": "acme", "year": {"$gte": 2020}}``) or a redisvl FilterExpression.
``similarity_search_with_score`` returns raw vector distances (lower is closer);
``similarity_search_with_relevance_scores`` returns relevances in [0, 1].
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder, Embedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.keys import as_list
from redis_agent_core.kit import check_index_options, check_kwargs, to_matrix
from redis_agent_core.migrate import (
    doc_prefix,
    metadata_fields_from_peer,
    options_from_redisvl,
    peer_config,
)
from redis_agent_core.vectors import Hit, RecallReport, VectorIndex, relevance_from_distance

from .embeddings import MiniLMEmbeddings, query_functions, to_core_embedder

__all__ = ["RedisVectorStore"]


class _ListEmbedder(CallableEmbedder):
    """A LangChain ``Embeddings`` as a core embedder. Its vectors arrive as lists of
    Python floats; they become one float32 matrix with ``to_matrix`` (≈ 3× cheaper
    than ``np.asarray`` on nested lists: what dominated this adapter's ingest)."""

    def _matrix(self, rows: Any, count: int) -> Any:
        matrix = to_matrix(rows)
        if matrix.ndim != 2 or matrix.shape[0] != count:
            raise ConfigError(
                f"embedding model {self.name!r} returned shape {matrix.shape} for {count} "
                "texts; expected one vector per text"
            )
        return self._check(matrix)

    def embed(self, texts: Any) -> Any:
        texts = list(texts)
        if not texts:
            return super().embed(texts)
        return self._matrix(self._fn(texts), len(texts))

    async def aembed(self, texts: Any) -> Any:
        texts = list(texts)
        if not texts or self._afn is None:
            return await super().aembed(texts)
        return self._matrix(await self._afn(texts), len(texts))


def _core_embedder(embeddings: Embeddings) -> Embedder:
    if isinstance(embeddings, MiniLMEmbeddings):
        return to_core_embedder(embeddings)  # numpy already: no conversion
    return _ListEmbedder(
        embeddings.embed_documents,
        afn=embeddings.aembed_documents,
        name=type(embeddings).__name__,
        **query_functions(embeddings),
    )


# Keyword arguments LangChain itself passes: index() calls add_documents(...,
# batch_size=); retrievers pass the user's search_kwargs (score_threshold for the
# "similarity_score_threshold" search type).
_ADD_KWARGS = ("batch_size", "keys")
# score_threshold: a relevance in [0, 1]; the rest as langchain-redis means them.
_SEARCH_KWARGS = ("score_threshold", "distance_threshold", "return_all", "return_metadata")
_VECTORS_HINT = "to store precomputed vectors use add_texts_with_vectors(texts, vectors, ...)"
_ADD_HINTS = {
    "embeddings": _VECTORS_HINT,
    "embedding": _VECTORS_HINT,
    "vectors": _VECTORS_HINT,
    "ttl": "set ttl= when building the store (RedisVectorStore(..., ttl=...))",
}
# langchain-redis RedisConfig fields with an unambiguous pack equivalent.
_PEER_OPTIONS = {
    "distance_metric": "metric",
    "indexing_algorithm": "algorithm",
    "vector_datatype": "dtype",
    "storage_type": "storage",
    "embedding_dimensions": "dims",
    "content_field": "text_field",
    "embedding_field": "vector_field",
}
# langchain-redis keeps its own bookkeeping fields in the indexes it builds.
_PEER_FIELDS = ("_index_name", "_metadata_json")


def _peer_options(options: dict[str, Any]) -> None:
    """Rename langchain-redis option names to the pack's in place (string values
    lower-cased: ``"COSINE"`` → ``"cosine"``)."""
    for peer, ours in _PEER_OPTIONS.items():
        if peer in options:
            if ours in options:
                raise ConfigError(f"pass {peer}= or {ours}=, not both")
            value = options.pop(peer)
            options[ours] = value.lower() if isinstance(value, str) else value


# langchain-redis RedisConfig fields the pack takes when they were set explicitly.
_CONFIG_FIELDS = (
    "redis_url", "redis_client", "distance_metric", "indexing_algorithm", "vector_datatype",
    "storage_type", "content_field", "embedding_field", "embedding_dimensions",
    "metadata_schema", "index_schema", "schema_path",
)  # fmt: skip


def _from_redis_config(peer: Any) -> dict[str, Any]:
    """The keyword arguments equivalent to a langchain-redis ``RedisConfig`` (read by
    its attributes: the pack does not import langchain-redis). Fields left at the
    peer's defaults are not passed, so the pack's defaults apply (documented in
    docs/migrating.md); a field the pack cannot honour raises."""
    given = set(getattr(peer, "model_fields_set", ()))
    out: dict[str, Any] = {"index_name": peer.index_name, "key_prefix": peer.key_prefix}
    for name in _CONFIG_FIELDS:
        value = getattr(peer, name, None)
        if name in given and value not in (None, [], {}):
            out[name] = value
    if getattr(peer, "from_existing", False):
        out["from_existing"] = True
    refused = {
        "legacy_key_format": lambda v: v is True,  # keys are always <prefix>:<id> here
        "custom_keys": bool,
        "return_keys": bool,
        "connection_args": bool,
        "id_field": lambda v: v != "id",
        "default_tag_separator": lambda v: v != "|",
    }
    for name, bad in refused.items():
        if name in given and bad(getattr(peer, name, None)):
            raise ConfigError(
                f"RedisConfig.{name}={getattr(peer, name)!r} has no equivalent in the pack; "
                "leave it unset (see docs/migrating.md)"
            )
    return out


def _index_options(
    index_name: str | None,
    key_prefix: str | None,
    metadata_schema: Any,
    schema: Any,
    options: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The index name and :class:`VectorIndex` options of a peer-style construction."""
    _peer_options(options)
    if schema is not None:
        if metadata_schema is not None or "metadata_fields" in options:
            raise ConfigError("pass a schema or metadata_schema/metadata_fields, not both")
        found = options_from_redisvl(
            schema, content_field=options.pop("text_field", "text"), skip=_PEER_FIELDS
        )
        clash = sorted(set(found) & set(options) - {"name"})
        if clash:
            raise ConfigError(f"the schema already sets {', '.join(clash)}: pass them once")
        name = found.pop("name")
        options.update(found)
        if key_prefix is not None:
            options["key_prefix"] = doc_prefix(key_prefix)
        return index_name or name, options
    if metadata_schema is not None:
        if "metadata_fields" in options:
            raise ConfigError("pass metadata_schema= or metadata_fields=, not both")
        options["metadata_fields"] = metadata_fields_from_peer(metadata_schema)
    if key_prefix is not None:
        options["key_prefix"] = doc_prefix(key_prefix)
    return index_name or "langchain", options


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"score_threshold must be a relevance in [0, 1], got {value!r}")
    return float(value)


def _ids(ids: list[str] | None, kwargs: dict[str, Any]) -> list[str] | None:
    """``ids=``, or langchain-redis's ``keys=`` for the same thing."""
    keys = kwargs.get("keys")
    if keys is not None and ids is not None:
        raise ConfigError("pass ids= or keys= (the same thing), not both")
    if keys is None:
        return None if ids is None else as_list(ids, "ids")
    return as_list(keys, "keys")


def _check_delete_filter(kwargs: dict[str, Any]) -> None:
    """:class:`ConfigError` for ``delete(filter=None)``: without ids, no filter means
    every document (LangChain's contract for ``delete()``), so a filter variable that
    came out ``None`` (a user without a tenant) emptied the whole store."""
    if "filter" in kwargs and kwargs["filter"] is None:
        raise ConfigError(
            "delete(filter=None) would delete every document of the store: the filter "
            "given is None; pass the filter of what to delete, or call clear() (or "
            "delete() with no arguments) to empty the store. Nothing was deleted"
        )


def _doc(hit: Hit) -> Document:
    return Document(page_content=hit.text, metadata=hit.metadata, id=hit.id)


def _min_score(index: VectorIndex, kwargs: dict[str, Any], vectors: bool) -> float | None:
    """The relevance floor of a range query: ``score_threshold`` (a relevance) or
    langchain-redis's ``distance_threshold`` (a raw distance, lower is closer)."""
    score, distance = kwargs.get("score_threshold"), kwargs.get("distance_threshold")
    if vectors and (score is not None or distance is not None):
        raise ConfigError("with_vectors=True cannot be combined with a threshold; drop one")
    if distance is None:
        return None if score is None else _threshold(score)
    if score is not None:
        raise ConfigError("pass score_threshold= or distance_threshold=, not both")
    if isinstance(distance, bool) or not isinstance(distance, (int, float)) or distance < 0:
        raise ConfigError(f"distance_threshold must be a distance >= 0, got {distance!r}")
    metric = index.schema.metric
    if metric != "l2" and distance > 2:
        raise ConfigError(
            f"distance_threshold={distance} is above 2, the largest {metric} distance of "
            "unit vectors the pack ranks; use k= alone to get the k nearest"
        )
    return relevance_from_distance(float(distance), metric)


def _scored(hits: list[Hit], vectors: bool) -> list[Any]:
    if vectors:
        return [
            (_doc(h), float(h.distance or 0.0), [] if h.vector is None else h.vector.tolist())
            for h in hits
        ]
    return [(_doc(h), float(h.distance or 0.0)) for h in hits]


def _shape(hits: list[Hit], kwargs: dict[str, Any]) -> list[Hit]:
    """``return_metadata=False`` (langchain-redis) empties the metadata. ``return_all``
    changes nothing: metadata is always returned whole."""
    if kwargs.get("return_metadata", True) is False:
        for hit in hits:
            hit.metadata = {}
    return hits


class RedisVectorStore(VectorStore):
    """Redis as a LangChain vector store.

    Args:
        embeddings: any LangChain ``Embeddings`` (default: the offline
            :class:`MiniLMEmbeddings`).
        index_name: name of the index (keys live under the config's namespace);
            default ``"langchain"``.
        config: :class:`RedisAgentConfig` (default: the process-wide one).
        index: an existing :class:`VectorIndex` to wrap instead of building one.
        redis_url, redis_client: the server, as langchain-redis takes it (the rest of
            the settings come from ``config``).
        key_prefix: store documents at ``"<key_prefix>:<id>"`` (as langchain-redis).
        metadata_schema: filterable fields in langchain-redis's form
            (``[{"name": "year", "type": "numeric"}]``; tags case-insensitive unless
            ``attrs={"case_sensitive": True}``).
        schema, index_schema, schema_path: a redisvl ``IndexSchema`` (object, dict or
            YAML path): its prefix, storage, vector field and fields become the index's.
        **index_options: :class:`VectorIndex` options (``metadata_fields``,
            ``algorithm``, ``metric``, ``dtype``, ``storage``, ``ef_runtime``, ...), or
            their langchain-redis names (``distance_metric``, ``indexing_algorithm``,
            ``vector_datatype``, ``storage_type``, ``embedding_dimensions``).

    Nothing touches Redis until the first call; the index is created on first write.
    A langchain-redis ``RedisConfig`` given as ``config=`` is read field by field (see
    docs/migrating.md).
    """

    index: VectorIndex

    def __init__(
        self,
        embeddings: Embeddings | None = None,
        *,
        index_name: str | None = None,
        config: RedisAgentConfig | None = None,
        index: VectorIndex | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
        key_prefix: str | None = None,
        metadata_schema: list[dict[str, Any]] | None = None,
        schema: Any = None,
        index_schema: Any = None,
        schema_path: str | None = None,
        **index_options: Any,
    ) -> None:
        self._embeddings = embeddings if embeddings is not None else MiniLMEmbeddings()
        if config is not None and hasattr(config, "to_index_schema"):  # a RedisConfig
            peer = _from_redis_config(config)
            explicit = {"index_name": index_name, "key_prefix": key_prefix, "index": index,
                        "redis_url": redis_url, "redis_client": redis_client, "schema": schema,
                        "metadata_schema": metadata_schema, "index_schema": index_schema,
                        "schema_path": schema_path}  # fmt: skip
            clash = sorted(k for k, v in explicit.items() if v is not None) + sorted(
                set(peer) & set(index_options)
            )
            if clash:
                raise ConfigError(
                    f"pass {', '.join(clash)} in the RedisConfig or as keywords, not both"
                )
            if peer.pop("from_existing", False):
                connection = {k: peer[k] for k in ("redis_url", "redis_client") if k in peer}
                index = VectorIndex.from_existing(
                    peer["index_name"],
                    config=peer_config("RedisVectorStore", **connection),
                    embedder=_core_embedder(self._embeddings),
                    text_field=peer.get("content_field"),  # its documents' text, if set
                )
                peer = {}
            RedisVectorStore.__init__(self, embeddings, index=index, **peer, **index_options)
            return
        schemas = [x for x in (schema, index_schema, schema_path) if x is not None]
        if len(schemas) > 1:
            raise ConfigError("pass one of schema=, index_schema= or schema_path=")
        config = peer_config(
            "RedisVectorStore", config=config, redis_url=redis_url, redis_client=redis_client
        )
        if index is None:
            name, index_options = _index_options(
                index_name, key_prefix, metadata_schema,
                schemas[0] if schemas else None, dict(index_options),
            )  # fmt: skip
            check_index_options("RedisVectorStore", index_options)
            index = VectorIndex(
                name, config=config, embedder=_core_embedder(self._embeddings), **index_options
            )
        elif index_options or config is not None or schemas or index_name or key_prefix:
            raise ConfigError("pass either index= or index options/config=, not both")
        self.index = index

    @property
    def key_prefix(self) -> str:
        """The documents' key prefix as langchain-redis gives it: a document's key is
        ``f"{store.key_prefix}:{id}"``."""
        return self.index.prefix.removesuffix(":")

    def as_redisvl_index(self) -> Any:
        """The index as a redisvl ``SearchIndex`` on this store's client, for code that
        runs redisvl queries itself (``store.as_redisvl_index().query(VectorQuery(...))``).
        Documents are in the pack's layout: metadata as JSON in ``_metadata``, declared
        fields beside it (tag values escaped: see docs/migrating.md)."""
        return self.index.as_redisvl_index()

    async def aas_redisvl_index(self) -> Any:
        """An ``AsyncSearchIndex`` on the running loop's client (see :meth:`as_redisvl_index`)."""
        return self.index.as_redisvl_index(asyncio=True)

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    def _select_relevance_score_fn(self) -> Any:
        # Scores from the core are already relevances in [0, 1].
        return lambda score: score

    # -- writes --
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Embed and store texts; ids are returned exactly as given (``keys=`` is
        langchain-redis's name for them). ``batch_size`` (passed by
        ``langchain_core.indexing.index``) is accepted: writes are batched by the index
        (``batch_size=`` of the store)."""
        check_kwargs("add_texts", kwargs, accepted=_ADD_KWARGS, hints=_ADD_HINTS)
        return self.index.add(as_list(texts, "texts"), ids=_ids(ids, kwargs), metadatas=metadatas)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        check_kwargs("aadd_texts", kwargs, accepted=_ADD_KWARGS, hints=_ADD_HINTS)
        return await self.index.aadd(
            as_list(texts, "texts"), ids=_ids(ids, kwargs), metadatas=metadatas
        )

    def add_texts_with_vectors(
        self,
        texts: Sequence[str],
        vectors: Any,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
    ) -> list[str]:
        """Store texts with precomputed vectors (no embedding call)."""
        return self.index.add(
            as_list(texts, "texts"), ids=ids, metadatas=metadatas, vectors=vectors
        )

    def enqueue_add_documents(
        self, documents: Sequence[Document], *, ids: list[str] | None = None, **kwargs: Any
    ) -> str:
        """Ingest documents in the background (Celery); returns the job id."""
        try:
            from redis_agent_core.tasks import submit_ingestion
        except ImportError as exc:
            raise ConfigError(
                "background ingestion needs the 'tasks' extra: pip install "
                "'redis-agent-pack[tasks]'"
            ) from exc
        if ids is not None and len(ids) != len(documents):
            raise ConfigError(f"got {len(documents)} documents but {len(ids)} ids")
        items = [
            {
                "id": (ids[i] if ids is not None else None) or doc.id or uuid.uuid4().hex,
                "text": doc.page_content,
                "metadata": dict(doc.metadata),
            }
            for i, doc in enumerate(documents)
        ]
        return submit_ingestion(self.index, items, **kwargs)

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by ids; ``ids=None`` deletes every document of this store (as
        LangChain specifies), or those passing ``filter=`` when given. With both, only
        the ids that pass the filter are deleted: ``filter=`` of a tenant keeps the
        documents of others whose ids were passed (it was ignored: all were deleted).

        Returns True once the ids are gone, including ids that were already missing
        and ``[]``: ``langchain_core.indexing.index()`` treats False as a failed
        delete and raises, and its cleanup deletes ids that may have expired."""
        check_kwargs("delete", kwargs, accepted=("filter",))
        if ids is None:
            _check_delete_filter(kwargs)
            if kwargs.get("filter") is not None:
                self.index.delete_by_filter(kwargs["filter"])
            else:
                self.index.clear()
            return True
        if kwargs.get("filter") is not None:  # only those of the ids passing it
            self.index.delete_by_filter(kwargs["filter"], ids=as_list(ids, "ids"))
            return True
        self.index.delete(ids)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        check_kwargs("adelete", kwargs, accepted=("filter",))
        if ids is None:
            _check_delete_filter(kwargs)
            if kwargs.get("filter") is not None:
                await self.index.adelete_by_filter(kwargs["filter"])
            else:
                await self.index.aclear()
            return True
        if kwargs.get("filter") is not None:
            await self.index.adelete_by_filter(kwargs["filter"], ids=as_list(ids, "ids"))
            return True
        await self.index.adelete(ids)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [_doc(h) for h in self.index.get(as_list(ids, "ids"))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [_doc(h) for h in await self.index.aget(as_list(ids, "ids"))]

    # -- similarity --
    def _search(
        self,
        method: str,
        query: Any,
        k: int,
        filter: Any,
        kwargs: dict[str, Any],
        vectors: bool = False,
    ) -> list[Hit]:
        """KNN, or a server-side range query when ``score_threshold`` (a relevance in
        [0, 1]) is given."""
        check_kwargs(method, kwargs, accepted=_SEARCH_KWARGS)
        threshold = _min_score(self.index, kwargs, vectors)
        if threshold is not None:
            hits = self.index.search_range(query, threshold, k, filter=filter)
        else:
            hits = self.index.search(query, k, filter=filter, return_vectors=vectors)
        return _shape(hits, kwargs)

    async def _asearch(
        self,
        method: str,
        query: Any,
        k: int,
        filter: Any,
        kwargs: dict[str, Any],
        vectors: bool = False,
    ) -> list[Hit]:
        check_kwargs(method, kwargs, accepted=_SEARCH_KWARGS)
        threshold = _min_score(self.index, kwargs, vectors)
        if threshold is not None:
            hits = await self.index.asearch_range(query, threshold, k, filter=filter)
        else:
            hits = await self.index.asearch(query, k, filter=filter, return_vectors=vectors)
        return _shape(hits, kwargs)

    def similarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` nearest documents; ``score_threshold=`` keeps those with a
        relevance ≥ it (server-side range query)."""
        return [_doc(h) for h in self._search("similarity_search", query, k, filter, kwargs)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        hits = await self._asearch("asimilarity_search", query, k, filter, kwargs)
        return [_doc(h) for h in hits]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Any]:
        """``(document, distance)`` pairs (lower is closer); ``score_threshold=`` (a
        relevance in [0, 1]) or ``distance_threshold=`` runs a server-side range query;
        ``with_vectors=True`` gives ``(document, distance, vector)`` as langchain-redis."""
        vectors = bool(kwargs.pop("with_vectors", False))
        hits = self._search("similarity_search_with_score", query, k, filter, kwargs, vectors)
        return _scored(hits, vectors)

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Any]:
        vectors = bool(kwargs.pop("with_vectors", False))
        method = "asimilarity_search_with_score"
        return _scored(await self._asearch(method, query, k, filter, kwargs, vectors), vectors)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        hits = self._search("similarity_search_by_vector", embedding, k, filter, kwargs)
        return [_doc(h) for h in hits]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        hits = await self._asearch("asimilarity_search_by_vector", embedding, k, filter, kwargs)
        return [_doc(h) for h in hits]

    def similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """Documents with relevances in [0, 1]; ``score_threshold=`` is a server-side
        range query (LangChain's base class would filter k results client-side)."""
        return self._similarity_search_with_relevance_scores(query, k, **kwargs)

    async def asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        return await self._asimilarity_search_with_relevance_scores(query, k, **kwargs)

    def _similarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        filter = kwargs.pop("filter", None)
        hits = self._search("similarity_search_with_relevance_scores", query, k, filter, kwargs)
        return [(_doc(h), float(h.score or 0.0)) for h in hits]

    async def _asimilarity_search_with_relevance_scores(
        self, query: str, k: int = 4, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        filter = kwargs.pop("filter", None)
        method = "asimilarity_search_with_relevance_scores"
        hits = await self._asearch(method, query, k, filter, kwargs)
        return [(_doc(h), float(h.score or 0.0)) for h in hits]

    # -- MMR --
    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``min(k, fetch_k)`` documents: ``k`` of the ``fetch_k`` nearest, by MMR."""
        check_kwargs("max_marginal_relevance_search", kwargs)
        hits = self.index.mmr(query, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=filter)
        return [_doc(h) for h in hits]

    async def amax_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        check_kwargs("amax_marginal_relevance_search", kwargs)
        hits = await self.index.ammr(
            query, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=filter
        )
        return [_doc(h) for h in hits]

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        check_kwargs("max_marginal_relevance_search_by_vector", kwargs)
        hits = self.index.mmr(embedding, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=filter)
        return [_doc(h) for h in hits]

    async def amax_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        **kwargs: Any,
    ) -> list[Document]:
        check_kwargs("amax_marginal_relevance_search_by_vector", kwargs)
        hits = await self.index.ammr(
            embedding, k, fetch_k=fetch_k, lambda_mult=lambda_mult, filter=filter
        )
        return [_doc(h) for h in hits]

    # -- hybrid (extra) --
    def hybrid_search(
        self, query: str, k: int = 4, *, alpha: float = 0.7, filter: Any = None
    ) -> list[tuple[Document, float]]:
        """BM25 + vector search (``alpha`` weighs the vector side); ``(doc, score)``."""
        hits = self.index.hybrid(query, k, alpha=alpha, filter=filter)
        return [(_doc(h), float(h.score or 0.0)) for h in hits]

    async def ahybrid_search(
        self, query: str, k: int = 4, *, alpha: float = 0.7, filter: Any = None
    ) -> list[tuple[Document, float]]:
        hits = await self.index.ahybrid(query, k, alpha=alpha, filter=filter)
        return [(_doc(h), float(h.score or 0.0)) for h in hits]

    # -- constructors --
    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        keys: list[str] | None = None,
        return_keys: bool = False,
        **kwargs: Any,
    ) -> Any:
        """A store holding ``texts``; with ``return_keys=True`` (langchain-redis) the
        pair ``(store, ids)``. ``keys=`` is langchain-redis's name for ``ids=``."""
        store = cls(embedding, **kwargs)
        out = store.add_texts(texts, metadatas, ids=_ids(ids, {"keys": keys}))
        return (store, out) if return_keys else store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        keys: list[str] | None = None,
        return_keys: bool = False,
        **kwargs: Any,
    ) -> Any:
        store = cls(embedding, **kwargs)
        out = await store.aadd_texts(texts, metadatas, ids=_ids(ids, {"keys": keys}))
        return (store, out) if return_keys else store

    @classmethod
    def from_existing_index(
        cls,
        embedding: Any = None,
        index_name: Any = None,
        *,
        config: RedisAgentConfig | None = None,
        ef_runtime: int | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
        text_field: str | None = None,
    ) -> RedisVectorStore:
        """Open an index that exists on the server (schema and key prefix read from
        the server). Takes ``(embedding, index_name)`` or langchain-redis's order
        ``(index_name, embedding)``; ``text_field``: the field holding the documents'
        text when the index has no TEXT field ``text`` (see
        :meth:`VectorIndex.from_existing`)."""
        if isinstance(embedding, str) and not isinstance(index_name, str):
            embedding, index_name = index_name, embedding
        if not isinstance(index_name, str) or embedding is None:
            raise ConfigError("from_existing_index needs an Embeddings and an index name")
        config = peer_config(
            "from_existing_index", config=config, redis_url=redis_url, redis_client=redis_client
        )
        options: dict[str, Any] = {} if ef_runtime is None else {"ef_runtime": ef_runtime}
        if text_field is not None:
            options["text_field"] = text_field
        index = VectorIndex.from_existing(
            index_name, config=config, embedder=_core_embedder(embedding), **options
        )
        return cls(embedding, index=index)

    @classmethod
    def from_yaml(cls, schema_path: str, embedding: Embeddings, **kwargs: Any) -> RedisVectorStore:
        """A store on the redisvl schema in a YAML file (langchain-redis's
        ``RedisConfig.from_yaml``)."""
        return cls(embedding, schema_path=schema_path, **kwargs)

    @classmethod
    def from_schema(cls, schema: Any, embedding: Embeddings, **kwargs: Any) -> RedisVectorStore:
        """A store on a redisvl ``IndexSchema`` or its dict (``RedisConfig.from_schema``)."""
        return cls(embedding, schema=schema, **kwargs)

    # -- recall (see VectorIndex.measure_recall / tune_recall) --
    def measure_recall(self, **kwargs: Any) -> RecallReport:
        """Recall@k of this store's searches against exact KNN on a sample of stored
        vectors (``sample=100, k=10``)."""
        return self.index.measure_recall(**kwargs)

    async def ameasure_recall(self, **kwargs: Any) -> RecallReport:
        """Async :meth:`measure_recall`."""
        return await self.index.ameasure_recall(**kwargs)

    def tune_recall(self, target: float | None = None, **kwargs: Any) -> RecallReport:
        """Save the smallest ``ef_runtime`` reaching ``target`` (default: the index's
        ``recall_target``, 0.95); searches use it from then on."""
        return self.index.tune_recall(target, **kwargs)

    async def atune_recall(self, target: float | None = None, **kwargs: Any) -> RecallReport:
        """Async :meth:`tune_recall`."""
        return await self.index.atune_recall(target, **kwargs)
