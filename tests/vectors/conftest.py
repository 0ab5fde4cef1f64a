"""Fixtures of the vector-search tests: small deterministic corpora and the default
embedding model (loaded once per session)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.server import EmbeddedRedis


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def clustered(rng: np.random.Generator, n: int, dims: int, clusters: int = 8) -> np.ndarray:
    """Unit vectors around a few centres: embedding-like, unlike iid Gaussian noise."""
    centres = rng.normal(size=(clusters, dims))
    labels = rng.integers(0, clusters, size=n)
    vectors = centres[labels] + 0.35 * rng.normal(size=(n, dims))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def own_server(
    own_redis: EmbeddedRedis, namespace: str
) -> Iterator[tuple[EmbeddedRedis, RedisAgentConfig]]:
    """A private server this test may stop (Redis going down), with a config on it."""
    cfg = RedisAgentConfig(
        url=own_redis.url,
        namespace=namespace,
        retries=0,
        socket_timeout=1.0,
        socket_connect_timeout=0.5,
    )
    yield own_redis, cfg
    cfg.close()
