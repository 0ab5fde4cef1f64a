"""Role 3: vector search on Redis (RediSearch via redisvl).

:class:`VectorIndex` stores ``(id, text, metadata, vector)`` documents and serves KNN,
range, MMR, BM25 text and hybrid queries with filters built from :class:`F` or the dict
form. Scores are relevances in [0, 1]; see :func:`relevance_from_distance`.
"""

from __future__ import annotations

from .expressions import compile_filter
from .filters import (
    OPERATORS,
    And,
    Condition,
    F,
    Filter,
    FilterError,
    FilterFieldMismatchError,
    Not,
    Or,
    from_dict,
    tag_value,
)
from .index import AutoReport, PartialWriteError, RecallReport, VectorIndex
from .lifecycle import AUTO_RECHECK, TUNING_RECHECK
from .query import Hit, mmr_select
from .schema import (
    MetadataField,
    VectorSchema,
    distance_from_relevance,
    relevance_from_distance,
)

__all__ = [
    "AUTO_RECHECK",
    "OPERATORS",
    "TUNING_RECHECK",
    "And",
    "AutoReport",
    "Condition",
    "F",
    "Filter",
    "FilterError",
    "FilterFieldMismatchError",
    "Hit",
    "MetadataField",
    "Not",
    "Or",
    "PartialWriteError",
    "RecallReport",
    "VectorIndex",
    "VectorSchema",
    "compile_filter",
    "distance_from_relevance",
    "from_dict",
    "mmr_select",
    "relevance_from_distance",
    "tag_value",
]
