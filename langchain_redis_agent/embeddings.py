"""LangChain ``Embeddings`` over the pack's default offline model, and the reverse adapter."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from redis_agent_core.embeddings import CallableEmbedder, Embedder, default_embedder

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
        return self._embedder.embed([text])[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return (await self._embedder.aembed(texts)).tolist()

    async def aembed_query(self, text: str) -> list[float]:
        return (await self._embedder.aembed([text]))[0].tolist()


def to_core_embedder(embeddings: Embeddings, name: str | None = None) -> Embedder:
    """Wrap any LangChain ``Embeddings`` as a core :class:`Embedder`."""
    if isinstance(embeddings, MiniLMEmbeddings):
        return embeddings.core
    return CallableEmbedder(
        embeddings.embed_documents,
        afn=embeddings.aembed_documents,
        name=name or type(embeddings).__name__,
    )
