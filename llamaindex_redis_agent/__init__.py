"""LlamaIndex adapters of redis-agent-pack: cached LLM, KV store, chat stores, vector
store, rate limiter and callbacks, bus tools, on the shared Redis core."""

from __future__ import annotations

from .bus import BusEventHandler, make_bus_tools
from .chat_store import RedisAsyncChatStore, RedisChatStore
from .embeddings import MiniLMEmbedding, to_core_embedder
from .kvstore import RedisKVStore
from .llm import RedisCacheLLM
from .rate_limit import (
    RateLimitCallbackHandler,
    RateLimitExceeded,
    RedisRateLimiter,
    rate_limit_subject,
)
from .tasks import as_batch_model, register_embed_model, register_llm
from .vector_store import RedisVectorStore, to_core_filter

__all__ = [
    "BusEventHandler",
    "MiniLMEmbedding",
    "RateLimitCallbackHandler",
    "RateLimitExceeded",
    "RedisAsyncChatStore",
    "RedisCacheLLM",
    "RedisChatStore",
    "RedisKVStore",
    "RedisRateLimiter",
    "RedisVectorStore",
    "as_batch_model",
    "make_bus_tools",
    "rate_limit_subject",
    "register_embed_model",
    "register_llm",
    "to_core_embedder",
    "to_core_filter",
]
