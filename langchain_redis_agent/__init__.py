"""LangChain adapters of redis-agent-pack: caches, chat history, vector store,
rate limiter and callbacks, bus tools, on the shared Redis core."""

from __future__ import annotations

from .bus import AsyncBusCallbackHandler, BusCallbackHandler, make_bus_tools
from .cache import RedisCache, RedisSemanticCache
from .chat_history import RedisChatMessageHistory
from .embeddings import MiniLMEmbeddings, to_core_embedder
from .rate_limit import (
    AsyncRateLimitCallbackHandler,
    RateLimitCallbackHandler,
    RateLimitExceeded,
    RedisRateLimiter,
)
from .storage import RedisByteStore
from .tasks import as_batch_model, register_chat_model, register_embeddings
from .vectorstores import RedisVectorStore

__all__ = [
    "AsyncBusCallbackHandler",
    "AsyncRateLimitCallbackHandler",
    "BusCallbackHandler",
    "MiniLMEmbeddings",
    "RateLimitCallbackHandler",
    "RateLimitExceeded",
    "RedisByteStore",
    "RedisCache",
    "RedisChatMessageHistory",
    "RedisRateLimiter",
    "RedisSemanticCache",
    "RedisVectorStore",
    "as_batch_model",
    "make_bus_tools",
    "register_chat_model",
    "register_embeddings",
    "to_core_embedder",
]
