"""Fixtures of the LLM-cache tests: one warm embedding model per session, a
deterministic toy embedder for mechanics, and a private Redis the tests may stop."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import (
    CallableEmbedder,
)
from redis_agent_core.server import EmbeddedRedis

TOY_DIMS = 16


def toy_vector(text: str) -> np.ndarray:
    """A unit vector determined by ``text``: equal texts -> distance 0; different
    texts -> nearly orthogonal (16-d), far beyond any sane threshold."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(TOY_DIMS).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="session")
def toy_embedder() -> CallableEmbedder:
    return CallableEmbedder(lambda texts: [toy_vector(t) for t in texts], name="toy", dims=TOY_DIMS)


@pytest.fixture
def own_config(own_redis: EmbeddedRedis) -> Iterator[RedisAgentConfig]:
    # short timeouts and no retries: a stopped server must fail fast
    cfg = RedisAgentConfig(
        url=own_redis.url,
        namespace="down",
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retries=0,
    )
    yield cfg
    cfg.close()
