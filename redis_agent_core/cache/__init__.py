"""LLM caches (role 1): exact and semantic, sharing one entry format and scope.

- :class:`ExactCache`: same prompt + scope + filters -> stored payload (one round trip).
- :class:`SemanticCache`: nearest entry of the same scope within a cosine-distance
  threshold, checked by the guards' :class:`Verifier` (issue 9).
- :func:`make_scope`: the scope id of a model identity (class, model, parameters).
- :func:`context_scope`: the scope of a multi-turn answer (history digest + share policy).
"""

from __future__ import annotations

from ..faults import RedisFaults
from .context import SHARE_POLICIES, Share, context_digest, context_scope
from .entry import CacheHit, make_scope, total_tokens
from .exact import ExactCache
from .prompt_text import conversation_text
from .semantic import SemanticCache
from .stats import CacheStats

__all__ = [
    "SHARE_POLICIES",
    "CacheHit",
    "CacheStats",
    "ExactCache",
    "RedisFaults",
    "SemanticCache",
    "Share",
    "context_digest",
    "context_scope",
    "conversation_text",
    "make_scope",
    "total_tokens",
]
