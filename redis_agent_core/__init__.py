"""redis-agent-pack core: Redis logic shared by the LangChain and LlamaIndex adapters.

Knows nothing of either framework. See the README for the map of roles to classes.
"""

from __future__ import annotations

from .bus import AgentBus, BusTimeoutError, Envelope
from .cache import CacheHit, CacheStats, ExactCache, SemanticCache, make_scope
from .capabilities import Capabilities, get_capabilities, probe, require_search
from .config import RedisAgentConfig, get_default_config, set_default_config
from .embedded import SharedServer, get_embedded_server, stop_embedded_server
from .embeddings import CallableEmbedder, Embedder, SentenceTransformerEmbedder, default_embedder
from .errors import (
    CapabilityError,
    ClusterURLError,
    ConfigError,
    CrossSlotError,
    DataCorruptionError,
    EmbeddedServerError,
    PoolExhaustedError,
    RedisAgentError,
    RedisPermissionError,
    RedisUnavailableError,
    RedisURLError,
    RedisWriteRefusedError,
    SchemaMismatchError,
    SearchTimeoutError,
    ThreadDeletedError,
    ValueTooLargeError,
    ZeroVectorError,
)
from .history import RecalledMessage, SessionInfo, SessionStore
from .keys import KeySpace
from .kvstore import KVStore
from .onnx_embedder import OnnxEmbedder
from .ratelimit import RateLimiter, RateLimitExceeded, RequestLimit, TokenBudget
from .redis_errors import translate_errors
from .server import EmbeddedRedis
from .vectors import VectorIndex

__version__ = "0.1.0"

__all__ = [
    "AgentBus",
    "BusTimeoutError",
    "CacheHit",
    "CacheStats",
    "CallableEmbedder",
    "Capabilities",
    "CapabilityError",
    "ClusterURLError",
    "ConfigError",
    "CrossSlotError",
    "DataCorruptionError",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "Embedder",
    "Envelope",
    "ExactCache",
    "KVStore",
    "KeySpace",
    "OnnxEmbedder",
    "PoolExhaustedError",
    "RateLimitExceeded",
    "RateLimiter",
    "RecalledMessage",
    "RedisAgentConfig",
    "RedisAgentError",
    "RedisPermissionError",
    "RedisURLError",
    "RedisUnavailableError",
    "RedisWriteRefusedError",
    "RequestLimit",
    "SchemaMismatchError",
    "SearchTimeoutError",
    "SemanticCache",
    "SentenceTransformerEmbedder",
    "SessionInfo",
    "SessionStore",
    "SharedServer",
    "ThreadDeletedError",
    "TokenBudget",
    "ValueTooLargeError",
    "VectorIndex",
    "ZeroVectorError",
    "__version__",
    "default_embedder",
    "get_capabilities",
    "get_default_config",
    "get_embedded_server",
    "make_scope",
    "probe",
    "require_search",
    "set_default_config",
    "stop_embedded_server",
    "translate_errors",
]
