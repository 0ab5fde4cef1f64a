"""On a cluster config, keys of one call in several hash slots are a bug in the key layout
(they must share a hash tag), not an outage: CrossSlotError from every role, degrading ones
included. The server's CROSSSLOT was a RedisUnavailableError ("moved the keys meanwhile"),
on which a degrading cache missed for good; the cluster client's own refusal escaped as a
raw RedisClusterException."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from redis.cluster import RedisCluster

from redis_agent_core import ExactCache
from redis_agent_core.cache import make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import CrossSlotError, RedisUnavailableError
from redis_agent_core.redis_errors import fault_kind, translate_errors

pytestmark = pytest.mark.cluster


def _cluster_client(config: RedisAgentConfig) -> RedisCluster:
    client = config.get_client()
    assert isinstance(client, RedisCluster)
    return client


def test_keys_in_two_slots_are_a_cross_slot_error(cluster_config: RedisAgentConfig) -> None:
    client = _cluster_client(cluster_config)
    a, b = f"{cluster_config.namespace}:{{a}}", f"{cluster_config.namespace}:{{b}}"
    assert client.keyslot(a) != client.keyslot(b)
    node = client.get_node_from_key(a)

    def transaction() -> Any:
        with client.pipeline(transaction=True) as pipe:
            pipe.set(a, 1).set(b, 1)
            return pipe.execute()

    calls: list[Callable[[], Any]] = [
        # sent as is: the server answers CROSSSLOT
        lambda: client.execute_command("MGET", a, b, target_nodes=node),
        # refused by the cluster client before sending (a script, a transaction)
        lambda: client.eval("return 1", 2, a, b),
        transaction,
    ]
    for call in calls:
        with pytest.raises(CrossSlotError, match="hash tag") as info:
            with translate_errors(cluster_config, "a test call"):
                call()
        assert not isinstance(info.value, RedisUnavailableError)
        assert fault_kind(info.value.__cause__) == "other"  # type: ignore[arg-type]
    assert client.exists(a, b) == 0  # nothing was written


async def test_a_degrading_cache_raises_it(cluster_config: RedisAgentConfig) -> None:
    """A cache whose keys would not share a slot (a layout bug, made here by hand) raises
    instead of serving misses for good."""
    cache = ExactCache(cluster_config, on_error="degrade", recheck_after=0)
    scope = make_scope({"model": "m"})
    cache.update("p", scope, "a")
    assert cache.lookup("p", scope) is not None
    other = f"{cluster_config.namespace}:{{elsewhere}}"
    cache._stats = dict.fromkeys(cache._stats, other)  # the lookup script's keys: the bug
    with pytest.raises(CrossSlotError):
        cache.lookup("p", scope)

    async def alookup() -> None:
        try:
            await cache.alookup("p", scope)
        finally:
            await cluster_config.aclose()

    with pytest.raises(CrossSlotError):
        await asyncio.wait_for(alookup(), 10)
    assert cache.faults.failures == 0  # never counted as an outage
