"""Embedding models whose query form differs from their document form (what E5, BGE,
Nomic, Cohere and Voyage do), in the core's, LangChain's and LlamaIndex's shapes.

A stored text is embedded as the topics it names. A search query in the query form is
too; in the document form, a question ("how do I ...") looks like the cooking passage,
so a store that embeds queries as documents answers with the wrong neighbour."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from llama_index.core.base.embeddings.base import BaseEmbedding

TOPICS = ("python", "redis", "cooking")
DOCS = {"py": "python tips", "rd": "redis streams guide", "ck": "cooking pasta"}
QUESTION = "how do I use redis streams"  # right answer: "rd"; as a document: "ck"


def query_row(text: str) -> list[float]:
    return [float(w in text) for w in TOPICS]


def document_row(text: str) -> list[float]:
    return [0.0, 0.0, 1.0] if text.startswith("how do I") else query_row(text)


class CoreDocumentsOnly:
    """A core embedder written against the protocol before query forms: ``embed`` only
    (a symmetric model: a text is embedded as the topics it names)."""

    name = "documents-only"
    dims = len(TOPICS)
    row = staticmethod(query_row)

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls["embed"] += 1
        return np.array([self.row(t) for t in texts], dtype=np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls["aembed"] += 1
        return np.array([self.row(t) for t in texts], dtype=np.float32)


class CoreAsym(CoreDocumentsOnly):
    """A core embedder with a query form; ``calls`` counts each form's calls."""

    name = "asym"
    row = staticmethod(document_row)

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        self.calls["embed_query"] += 1
        return np.array([query_row(t) for t in texts], dtype=np.float32)

    async def aembed_query(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_query(texts)


class LangChainAsym(Embeddings):
    """LangChain ``Embeddings`` with a query form (``embed_query`` differs)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls["embed_documents"] += 1
        return [document_row(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.calls["embed_query"] += 1
        return query_row(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


class LlamaIndexAsym(BaseEmbedding):
    """LlamaIndex ``BaseEmbedding`` with a query form (``get_query_embedding`` differs)."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return query_row(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return query_row(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return document_row(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [document_row(t) for t in texts]
