"""LLM caches (role 1): exact and semantic, sharing one entry format and scope.

- :class:`ExactCache`: same prompt + scope + filters -> stored payload (one round trip).
- :class:`SemanticCache`: nearest entry of the same scope within a cosine-distance
  threshold, checked by the guards' :class:`Verifier` (issue 9).
- :func:`make_scope`: the scope id of a model identity (class, model, parameters).
"""

from __future__ import annotations

from .entry import CacheHit, CacheStats, RedisFaults, conversation_text, make_scope, total_tokens
from .exact import ExactCache
from .semantic import SemanticCache

__all__ = [
    "CacheHit",
    "CacheStats",
    "ExactCache",
    "RedisFaults",
    "SemanticCache",
    "conversation_text",
    "make_scope",
    "total_tokens",
]
