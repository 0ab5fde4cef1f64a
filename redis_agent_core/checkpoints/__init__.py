"""Agent state: checkpoints of threads on plain Redis (no modules needed).

The records are opaque typed blobs; the framework adapters (LangGraph's savers in
``langchain_redis_agent.checkpoint``) own the serialisation.
"""

from .records import StoredCheckpoint, StoredWrite, Typed
from .store import CheckpointStore, PendingWriteIn

__all__ = ["CheckpointStore", "PendingWriteIn", "StoredCheckpoint", "StoredWrite", "Typed"]
