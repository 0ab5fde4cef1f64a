"""LangChain ``Embeddings`` over the pack's default offline model, and the reverse adapter."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.embeddings import Embeddings

from redis_agent_core.embeddings import (
    CallableEmbedder,
    Embedder,
    aembed_query,
    default_embedder,
    embed_query,
)

__all__ = ["MiniLMEmbeddings", "to_core_embedder"]


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (384-d), shipped in a PyPI wheel: no download at run time.

    Loads the model on first use; vectors are L2-normalised.
    """

    def __init__(self, embedder: Embedder | None = None) -> None:
        self._embedder = embedder or default_embedder()

    @property
    def core(self) -> Embedder:
        """The core embedder behind this object."""
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return embed_query(self._embedder, [text])[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await self._embedder.aembed(texts)).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        return (await aembed_query(self._embedder, [text]))[0].tolist()


def query_functions(embeddings: Embeddings) -> dict[str, Any]:
    """``query_fn`` / ``query_afn`` for :class:`CallableEmbedder`: search queries go
    through ``embed_query`` / ``aembed_query``, which asymmetric models (E5, BGE,
    Cohere, Voyage) answer differently from ``embed_documents``."""

    def query_fn(texts: list[str]) -> list[list[float]]:
        return [embeddings.embed_query(t) for t in texts]

    async def query_afn(texts: list[str]) -> list[list[float]]:
        return list(await asyncio.gather(*(embeddings.aembed_query(t) for t in texts)))

    return {"query_fn": query_fn, "query_afn": query_afn}


def to_core_embedder(embeddings: Embeddings, name: str | None = None) -> Embedder:
    """Wrap any LangChain ``Embeddings`` as a core :class:`Embedder` (stored texts through
    ``embed_documents``, search queries through ``embed_query``)."""
    if isinstance(embeddings, MiniLMEmbeddings):
        return embeddings.core
    return CallableEmbedder(
        embeddings.embed_documents,
        afn=embeddings.aembed_documents,
        name=name or type(embeddings).__name__,
        **query_functions(embeddings),
    )
