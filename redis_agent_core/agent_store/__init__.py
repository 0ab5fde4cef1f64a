"""Agent state: a long-term item store (LangGraph ``BaseStore`` semantics) on plain Redis.

Values are JSON; the LangGraph ``RedisStore`` in ``langchain_redis_agent.store`` is a
thin adapter over :class:`ItemStore`.
"""

from .node_cache import NodeCacheStore
from .records import StoredItem
from .store import ItemStore, PutIn, Vectors

__all__ = ["ItemStore", "NodeCacheStore", "PutIn", "StoredItem", "Vectors"]
