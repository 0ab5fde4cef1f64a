"""redis-agent-pack core: Redis logic shared by the LangChain and LlamaIndex adapters.

Knows nothing of either framework. See the README for the map of roles to classes.
"""

from __future__ import annotations

from .capabilities import Capabilities, get_capabilities, probe, require_search
from .config import RedisAgentConfig, get_default_config, set_default_config, translate_errors
from .embeddings import CallableEmbedder, Embedder, SentenceTransformerEmbedder, default_embedder
from .errors import (
    CapabilityError,
    ConfigError,
    DataCorruptionError,
    EmbeddedServerError,
    RedisAgentError,
    RedisUnavailableError,
    SchemaMismatchError,
)
from .keys import KeySpace
from .server import EmbeddedRedis, get_embedded_server, stop_embedded_server

__version__ = "0.1.0"

__all__ = [
    "CallableEmbedder",
    "Capabilities",
    "CapabilityError",
    "ConfigError",
    "DataCorruptionError",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "Embedder",
    "KeySpace",
    "RedisAgentConfig",
    "RedisAgentError",
    "RedisUnavailableError",
    "SchemaMismatchError",
    "SentenceTransformerEmbedder",
    "__version__",
    "default_embedder",
    "get_capabilities",
    "get_default_config",
    "get_embedded_server",
    "probe",
    "require_search",
    "set_default_config",
    "stop_embedded_server",
    "translate_errors",
]
