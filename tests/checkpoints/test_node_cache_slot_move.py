"""Node cache writes and clears, and agent store namespace listings, while one of their
slots moves between cluster nodes (``redis-cli --cluster reshard``). They are pipelines
without MULTI over several slots, and a script over several keys of one slot is refused
(ASK, then TRYAGAIN after ASKING) for the whole move: the node cache wrote the other
namespaces, raised for the moving one (or, degrading, skipped it and paused the cache),
and a listing raised. Such a refusal ran nothing: that command alone is sent again once
the move lets it (as a history append is), so the write lands whole."""

from __future__ import annotations

import threading

import pytest

from langchain_redis_agent.store import RedisStore
from redis_agent_core.agent_store import NodeCacheStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_service.cluster import LocalCluster
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster


def _moving(move: SlotMove) -> threading.Timer:
    """Open the move with every key of the slot carried over, and end it in 1.5 s."""
    move.start(1000)
    return move.finish_later(1.5)


def _entry(namespace: str, key: str) -> tuple[tuple[tuple[str, ...], str], tuple[str, bytes], None]:
    return ((namespace,), key), ("json", f'"{namespace}{key}"'.encode()), None


async def test_a_node_cache_write_over_several_slots_lands_whole_while_one_moves(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    store = NodeCacheStore(cluster_config, on_error="raise")
    store.set([_entry("a", "k0"), _entry("b", "k0")])
    client = cluster_config.get_client()
    slot = client.keyslot(store._keys(("b",))[0])  # type: ignore[union-attr]
    assert client.keyslot(store._keys(("a",))[0]) != slot  # type: ignore[union-attr]
    move = SlotMove(redis_cluster, slot)
    try:
        timer = _moving(move)
        try:
            store.set([_entry("a", "k1"), _entry("b", "k1")])
        finally:
            timer.join()
        timer = _moving(move)  # and back
        try:
            await store.aset([_entry("a", "k2"), _entry("b", "k2")])
        finally:
            timer.join()
        wanted = [((ns,), f"k{i}") for ns in "ab" for i in range(3)]
        assert set(store.get(wanted)) == set(wanted)
        timer = _moving(move)
        try:
            store.clear([("b",)])  # UNLINK of the namespace's entries: several keys
        finally:
            timer.join()
    finally:
        move.close()
    assert set(store.get(wanted)) == {(ns, key) for ns, key in wanted if ns == ("a",)}
    assert store.faults.failures == 0
    await cluster_config.aclose()


async def test_agent_store_namespaces_are_listed_while_their_slot_moves(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    store = RedisStore(cluster_config)
    store.put(("users", "u1"), "k", {"v": 1})
    move = SlotMove(redis_cluster, cluster_config.get_client().keyslot(store.items.index_key))  # type: ignore[union-attr]
    try:
        timer = _moving(move)
        try:
            assert store.list_namespaces() == [("users", "u1")]
        finally:
            timer.join()
        timer = _moving(move)
        try:
            assert await store.alist_namespaces() == [("users", "u1")]
        finally:
            timer.join()
    finally:
        move.close()
    await cluster_config.aclose()
