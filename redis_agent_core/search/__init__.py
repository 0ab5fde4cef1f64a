"""The search layer: every RediSearch command of the pack is built, run and parsed here.

- :mod:`.commands`: pure builders (FT.CREATE from a redisvl ``IndexSchema``, FT.SEARCH,
  FT.AGGREGATE, FT.INFO, FT.DROPINDEX, KNN clauses).
- :mod:`.replies`: pure parsers of RESP2 and RESP3 replies.
- :mod:`.lifecycle`: create / compare / drop one index, missing-index detection.
- :mod:`.capabilities`: what the server can do (probed once, sync or async).
- :mod:`.executor`: one executor per mode running the same flows.

The semantic cache, history recall and :class:`~redis_agent_core.vectors.VectorIndex`
use it; filters come from :mod:`redis_agent_core.vectors.filters`.
"""

from __future__ import annotations

from .capabilities import (
    Capabilities,
    aget_capabilities,
    arequire_search,
    get_capabilities,
    require_search,
)
from .lifecycle import IndexLifecycle, drop_namespace_indexes

__all__ = [
    "Capabilities",
    "IndexLifecycle",
    "aget_capabilities",
    "arequire_search",
    "drop_namespace_indexes",
    "get_capabilities",
    "require_search",
]
