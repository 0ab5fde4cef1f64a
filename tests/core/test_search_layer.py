"""The search layer: the sync and async paths probe, check clusters and refuse alike
(they run the same flows), and every owner of an index goes through it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from redis_agent_core.cache import SemanticCache
from redis_agent_core.capabilities import Capabilities, aprobe, probe
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import CapabilityError
from redis_agent_core.history import SessionStore
from redis_agent_core.vectors import VectorIndex

DIMS = 4
EMBEDDER = CallableEmbedder(
    lambda texts: np.ones((len(texts), DIMS), np.float32), name="ones", dims=DIMS
)
Owner = Callable[[RedisAgentConfig], tuple[Callable[[], Any], Callable[[], Awaitable[Any]]]]


def _cache(config: RedisAgentConfig) -> Any:
    cache = SemanticCache(config, embedder=EMBEDDER)
    return cache.ensure_index, cache.aensure_index


def _index(config: RedisAgentConfig) -> Any:
    index = VectorIndex("v", config=config, dims=DIMS)
    return index.create, index.acreate


def _recall(config: RedisAgentConfig) -> Any:
    store = SessionStore(config, embedder=EMBEDDER)

    async def arelevant() -> Any:
        return await store.arelevant("s", "x")

    return lambda: store.relevant("s", "x"), arelevant


async def test_async_probe_equals_sync_probe(config: RedisAgentConfig) -> None:
    assert await aprobe(config.get_async_client()) == probe(config.get_client())


@pytest.mark.cluster
async def test_async_probe_equals_sync_probe_on_a_cluster(
    cluster_config: RedisAgentConfig,
) -> None:
    caps: Capabilities = await aprobe(cluster_config.get_async_client())
    assert caps.cluster and caps == probe(cluster_config.get_client())
    await cluster_config.aclose()


@pytest.mark.cluster
@pytest.mark.parametrize("owner", [_cache, _index, _recall], ids=["cache", "vectors", "recall"])
async def test_cluster_without_clustered_search_is_refused_alike(
    cluster_config: RedisAgentConfig, owner: Owner
) -> None:
    sync, async_ = owner(cluster_config)
    with pytest.raises(CapabilityError) as sync_error:
        sync()
    with pytest.raises(CapabilityError) as async_error:
        await async_()
    assert str(async_error.value) == str(sync_error.value)
    await cluster_config.aclose()
