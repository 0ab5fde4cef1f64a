"""Fixtures of the rate-limit tests: limiters on the per-test namespace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget

Limit = RequestLimit | TokenBudget


@pytest.fixture
def make_limiter(config: RedisAgentConfig) -> Callable[..., RateLimiter]:
    """Build a limiter on the test's config (keys removed after the test)."""

    def make(limits: Sequence[Limit], **kwargs: Any) -> RateLimiter:
        return RateLimiter(limits, config=config, **kwargs)

    return make
