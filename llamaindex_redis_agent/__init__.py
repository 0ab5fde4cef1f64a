"""LlamaIndex adapters of redis-agent-pack: cached LLM, KV store, chat stores, vector
store, rate limiter and callbacks, bus tools, on the shared Redis core."""

from __future__ import annotations

from .embeddings import MiniLMEmbedding, to_core_embedder

__all__ = [
    "MiniLMEmbedding",
    "to_core_embedder",
]
