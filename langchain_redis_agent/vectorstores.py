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
from redis_agent_core.kit import check_index_options, check_kwargs, to_matrix
from redis_agent_core.vectors import Hit, RecallReport, VectorIndex

from .embeddings import MiniLMEmbeddings, to_core_embedder

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
    )


# Keyword arguments LangChain itself passes: index() calls add_documents(...,
# batch_size=); retrievers pass the user's search_kwargs (score_threshold for the
# "similarity_score_threshold" search type).
_ADD_KWARGS = ("batch_size",)
_SEARCH_KWARGS = ("score_threshold",)
_VECTORS_HINT = "to store precomputed vectors use add_texts_with_vectors(texts, vectors, ...)"
_ADD_HINTS = {
    "embeddings": _VECTORS_HINT,
    "embedding": _VECTORS_HINT,
    "vectors": _VECTORS_HINT,
    "keys": "use ids= (keys are derived from the ids)",
    "ttl": "set ttl= when building the store (RedisVectorStore(..., ttl=...))",
}


def _threshold(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"score_threshold must be a relevance in [0, 1], got {value!r}")
    return float(value)


def _doc(hit: Hit) -> Document:
    return Document(page_content=hit.text, metadata=hit.metadata, id=hit.id)


class RedisVectorStore(VectorStore):
    """Redis as a LangChain vector store.

    Args:
        embeddings: any LangChain ``Embeddings`` (default: the offline
            :class:`MiniLMEmbeddings`).
        index_name: name of the index (keys live under the config's namespace).
        config: :class:`RedisAgentConfig` (default: the process-wide one).
        index: an existing :class:`VectorIndex` to wrap instead of building one.
        **index_options: :class:`VectorIndex` options (``metadata_fields``,
            ``algorithm``, ``metric``, ``dtype``, ``storage``, ``ef_runtime``, ...).

    Nothing touches Redis until the first call; the index is created on first write.
    """

    def __init__(
        self,
        embeddings: Embeddings | None = None,
        *,
        index_name: str = "langchain",
        config: RedisAgentConfig | None = None,
        index: VectorIndex | None = None,
        **index_options: Any,
    ) -> None:
        self._embeddings = embeddings if embeddings is not None else MiniLMEmbeddings()
        if index is None:
            check_index_options("RedisVectorStore", index_options)
            index = VectorIndex(
                index_name,
                config=config,
                embedder=_core_embedder(self._embeddings),
                **index_options,
            )
        elif index_options or config is not None:
            raise ConfigError("pass either index= or index options/config=, not both")
        self.index = index

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
        """Embed and store texts; ids are returned exactly as given. ``batch_size``
        (passed by ``langchain_core.indexing.index``) is accepted: writes are batched
        by the index (``batch_size=`` of the store)."""
        check_kwargs("add_texts", kwargs, accepted=_ADD_KWARGS, hints=_ADD_HINTS)
        return self.index.add(list(texts), ids=ids, metadatas=metadatas)

    async def aadd_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        check_kwargs("aadd_texts", kwargs, accepted=_ADD_KWARGS, hints=_ADD_HINTS)
        return await self.index.aadd(list(texts), ids=ids, metadatas=metadatas)

    def add_texts_with_vectors(
        self,
        texts: Sequence[str],
        vectors: Any,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
    ) -> list[str]:
        """Store texts with precomputed vectors (no embedding call)."""
        return self.index.add(list(texts), ids=ids, metadatas=metadatas, vectors=vectors)

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
        LangChain specifies), or those passing ``filter=`` when given.

        Returns True once the ids are gone, including ids that were already missing
        and ``[]``: ``langchain_core.indexing.index()`` treats False as a failed
        delete and raises, and its cleanup deletes ids that may have expired."""
        check_kwargs("delete", kwargs, accepted=("filter",))
        if ids is None:
            if kwargs.get("filter") is not None:
                self.index.delete_by_filter(kwargs["filter"])
            else:
                self.index.clear()
            return True
        self.index.delete(ids)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        check_kwargs("adelete", kwargs, accepted=("filter",))
        if ids is None:
            if kwargs.get("filter") is not None:
                await self.index.adelete_by_filter(kwargs["filter"])
            else:
                await self.index.aclear()
            return True
        await self.index.adelete(ids)
        return True

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [_doc(h) for h in self.index.get(list(ids))]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        return [_doc(h) for h in await self.index.aget(list(ids))]

    # -- similarity --
    def _search(
        self, method: str, query: Any, k: int, filter: Any, kwargs: dict[str, Any]
    ) -> list[Hit]:
        """KNN, or a server-side range query when ``score_threshold`` (a relevance in
        [0, 1]) is given."""
        check_kwargs(method, kwargs, accepted=_SEARCH_KWARGS)
        threshold = kwargs.get("score_threshold")
        if threshold is not None:
            return self.index.search_range(query, _threshold(threshold), k, filter=filter)
        return self.index.search(query, k, filter=filter)

    async def _asearch(
        self, method: str, query: Any, k: int, filter: Any, kwargs: dict[str, Any]
    ) -> list[Hit]:
        check_kwargs(method, kwargs, accepted=_SEARCH_KWARGS)
        threshold = kwargs.get("score_threshold")
        if threshold is not None:
            return await self.index.asearch_range(query, _threshold(threshold), k, filter=filter)
        return await self.index.asearch(query, k, filter=filter)

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
    ) -> list[tuple[Document, float]]:
        """Documents with their vector distance (lower is closer); ``score_threshold=``
        (a relevance in [0, 1]) runs a server-side range query."""
        hits = self._search("similarity_search_with_score", query, k, filter, kwargs)
        return [(_doc(h), float(h.distance or 0.0)) for h in hits]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        hits = await self._asearch("asimilarity_search_with_score", query, k, filter, kwargs)
        return [(_doc(h), float(h.distance or 0.0)) for h in hits]

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
        **kwargs: Any,
    ) -> RedisVectorStore:
        store = cls(embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    async def afrom_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> RedisVectorStore:
        store = cls(embedding, **kwargs)
        await store.aadd_texts(texts, metadatas, ids=ids)
        return store

    @classmethod
    def from_existing_index(
        cls,
        embedding: Embeddings,
        index_name: str,
        *,
        config: RedisAgentConfig | None = None,
        ef_runtime: int | None = None,
    ) -> RedisVectorStore:
        """Open an index that exists on the server (schema read from the server)."""
        options: dict[str, Any] = {} if ef_runtime is None else {"ef_runtime": ef_runtime}
        index = VectorIndex.from_existing(
            index_name, config=config, embedder=_core_embedder(embedding), **options
        )
        return cls(embedding, index=index)

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
