"""LlamaIndex ``BaseEmbedding`` over the pack's default offline model, and the reverse adapter."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from redis_agent_core.embeddings import (
    CallableEmbedder,
    Embedder,
    aembed_query,
    default_embedder,
    embed_query,
)
from redis_agent_core.kit import check_kwargs

__all__ = ["MiniLMEmbedding", "to_core_embedder"]


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 (384-d), shipped in a PyPI wheel: no download at run time."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder | None = None, **kwargs: Any) -> None:
        # pydantic would drop an unknown one (batch_size= for embed_batch_size=)
        check_kwargs("MiniLMEmbedding", kwargs, accepted=type(self).model_fields)
        core = embedder or default_embedder()
        kwargs.setdefault("model_name", core.name)
        super().__init__(**kwargs)
        self._embedder = core

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    @property
    def core(self) -> Embedder:
        """The core embedder behind this object."""
        return self._embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return embed_query(self._embedder, [query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await aembed_query(self._embedder, [query]))[0].tolist()

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._embedder.aembed([text]))[0].tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return (await self._embedder.aembed(texts)).tolist()


def to_core_embedder(embedding: BaseEmbedding, name: str | None = None) -> Embedder:
    """Wrap any LlamaIndex ``BaseEmbedding`` as a core :class:`Embedder` (stored texts
    through ``get_text_embedding_batch``, search queries through
    ``get_query_embedding``, which instruction models answer differently)."""
    if isinstance(embedding, MiniLMEmbedding):
        return embedding.core

    def query_fn(texts: list[str]) -> list[list[float]]:
        return [embedding.get_query_embedding(t) for t in texts]

    async def query_afn(texts: list[str]) -> list[list[float]]:
        return list(await asyncio.gather(*(embedding.aget_query_embedding(t) for t in texts)))

    return CallableEmbedder(
        embedding.get_text_embedding_batch,
        afn=embedding.aget_text_embedding_batch,
        query_fn=query_fn,
        query_afn=query_afn,
        name=name or embedding.model_name or type(embedding).__name__,
    )
