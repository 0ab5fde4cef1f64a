"""Fixtures of the rate-limit tests: limiters on the per-test namespace, and a stopped
Redis for the fault tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget
from redis_agent_core.server import EmbeddedRedis

Limit = RequestLimit | TokenBudget


@pytest.fixture
def make_limiter(config: RedisAgentConfig) -> Callable[..., RateLimiter]:
    """Build a limiter on the test's config (keys removed after the test)."""

    def make(limits: Sequence[Limit], **kwargs: Any) -> RateLimiter:
        return RateLimiter(limits, config=config, **kwargs)

    return make


@pytest.fixture
def stopped_redis(own_redis: EmbeddedRedis) -> RedisAgentConfig:
    """A config whose Redis has been stopped (an expected fault)."""
    cfg = RedisAgentConfig(url=own_redis.url, retries=0, socket_connect_timeout=0.5)
    cfg.get_client().ping()
    own_redis.stop()
    return cfg
