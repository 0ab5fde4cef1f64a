"""LangChain adapters of redis-agent-pack: caches, chat history, vector store,
rate limiter and callbacks, bus tools, on the shared Redis core."""

from __future__ import annotations

from .embeddings import MiniLMEmbeddings, to_core_embedder

__all__ = [
    "MiniLMEmbeddings",
    "to_core_embedder",
]
