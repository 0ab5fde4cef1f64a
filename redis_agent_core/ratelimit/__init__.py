"""Rate limiting and token budgets shared across processes (role 4).

:class:`RateLimiter` checks :class:`RequestLimit` (exact sliding window) and
:class:`TokenBudget` (reserve, then settle) policies per user, org or globally in one
Lua script per call; :class:`RateLimitExceeded` carries the limit, key and retry-after.
"""

from __future__ import annotations

from .estimators import checked_estimator, reported_tokens, token_count
from .held import PRUNE_AT, hold, horizon_us
from .limiter import Decision, OnUnavailable, RateLimiter, Reservation, ShardBy, check_wait
from .limits import Per, RateLimitExceeded, RequestLimit, TokenBudget

__all__ = [
    "PRUNE_AT",
    "Decision",
    "OnUnavailable",
    "Per",
    "RateLimitExceeded",
    "RateLimiter",
    "RequestLimit",
    "Reservation",
    "ShardBy",
    "TokenBudget",
    "check_wait",
    "checked_estimator",
    "hold",
    "horizon_us",
    "reported_tokens",
    "token_count",
]
