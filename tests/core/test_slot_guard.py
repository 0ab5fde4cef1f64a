"""Scripts that read keys they cannot declare (the agent store's listing and purge, the
caches' clear) while their slot moves between cluster nodes, its keys carried over in
batches (``redis-cli --cluster reshard``). Run on the importing node (ASK, then ASKING),
such a script found the keys still on the other node missing: the listing answered no
namespaces and unindexed every live item for good, the clear raised a raw ResponseError
(or, one entry left, left it served). Now Redis refuses them during the move (a declared
key never written: keys.slot_guard): a typed error, and the same objects serve after it."""

from __future__ import annotations

import pytest

from redis_agent_core import ExactCache
from redis_agent_core.agent_store import ItemStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.keys import slot_guard
from redis_agent_service.cluster import LocalCluster
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster


def test_the_guard_shares_the_keys_slot_and_is_no_key_of_theirs() -> None:
    key = "ns:st:{store}:i:member"
    assert slot_guard(key) == b"ns:st:{store}:slot-guard"
    assert slot_guard(key.encode()) == slot_guard("ns:st:{store}:idx")
    with pytest.raises(ValueError, match="hash tag"):
        slot_guard("ns:no-tag")


def test_store_listing_with_its_index_moved_first_keeps_every_item(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    store = ItemStore(cluster_config)
    store.put([(("ns", str(i)), "k", {"v": i}, None) for i in range(5)])
    store.put([(("t",), "k", {"v": 0}, 600)])  # the expiry index exists too
    every = [("ns", str(i)) for i in range(5)] + [("t",)]
    assert store.namespaces() == every
    move = SlotMove(redis_cluster, cluster_config.get_client().keyslot(store.index_key))  # type: ignore[union-attr]
    try:
        move.start(0)
        move.carry([store.index_key, store.expiry_key])  # the items follow later
        try:
            for _ in range(2):
                with pytest.raises(RedisUnavailableError, match="being moved"):
                    store.namespaces()
        finally:
            move.finish()
        assert store.namespaces() == every
        assert [item.key for item in store.search(("ns",))] == ["k"] * 5
    finally:
        move.close()


def test_cache_clear_with_its_bookkeeping_moved_first_clears_after_the_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    cache = ExactCache(cluster_config)
    prompts = [f"p{i}" for i in range(40)]
    for p in prompts:
        cache.update(p, "m", "answer")
        assert cache.lookup(p, "m") is not None  # a hit: the bucket's counters exist
    client = cluster_config.get_client()
    entry = next(client.scan_iter(match=f"{cluster_config.namespace}:cache:*:e:*"))
    move = SlotMove(redis_cluster, client.keyslot(entry))  # type: ignore[union-attr]
    try:
        move.start(0)
        keys = move.nodes[move.src].execute_command("CLUSTER", "GETKEYSINSLOT", move.slot, 1000)
        move.carry([k for k in keys if b":e:" not in k])  # the entries follow later
        try:
            with pytest.raises(RedisUnavailableError, match="being moved"):
                cache.clear()
        finally:
            move.finish()
        cache.clear()
        assert [p for p in prompts if cache.lookup(p, "m") is not None] == []
    finally:
        move.close()
