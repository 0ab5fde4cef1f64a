"""Exact cache calls while their bucket's slot moves between cluster nodes
(``redis-cli --cluster reshard``: MIGRATING on one node, IMPORTING on the other). A
lookup of a prompt not stored yet, or the update that stores it, declares an entry key
that does not exist: Redis answers ASK, then TRYAGAIN after ASKING, until the slot is
reassigned (the absent key might still be on the other side). Such a refusal ran
nothing and nothing is wrong with Redis: the call waits for the move (as a history
append does) instead of degrading to a miss, a skipped write and a paused cache, or
raising under ``on_error="raise"``."""

from __future__ import annotations

import threading

import pytest

from redis_agent_core import ExactCache
from redis_agent_core.config import RedisAgentConfig
from redis_agent_service.cluster import LocalCluster
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster


def _moving(move: SlotMove) -> threading.Timer:
    """Open the move with every key of the slot carried over, and end it in 1.5 s."""
    move.start(1000)
    return move.finish_later(1.5)


def _same_bucket(cache: ExactCache, key: str, n: int) -> list[str]:
    """``n`` prompts whose entries share ``key``'s bucket (so its slot)."""
    bucket = key.rsplit(":", 1)[1][0]
    found = []
    i = 0
    while len(found) < n:
        i += 1
        prompt = f"q{i}"
        if cache._lookup_call(prompt, "s", None)[0][0] == bucket:
            found.append(prompt)
    return found


async def test_exact_cache_calls_while_their_slot_moves_wait_for_the_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    cache = ExactCache(cluster_config, name="moving", on_error="raise")
    assert cache.update("q0", "s", "stored before")
    hit = cache.lookup("q0", "s")
    assert hit is not None
    new, anew = _same_bucket(cache, hit.key, 2)
    client = cluster_config.get_client()
    move = SlotMove(redis_cluster, client.keyslot(hit.key))  # type: ignore[union-attr]
    try:
        timer = _moving(move)
        try:
            assert cache.lookup(new, "s") is None  # a miss, not a fault
            assert cache.update(new, "s", "stored during the move")
        finally:
            timer.join()
        timer = _moving(move)  # and back
        try:
            assert await cache.alookup(anew, "s") is None
            assert await cache.aupdate(anew, "s", "stored during the move back")
        finally:
            timer.join()
    finally:
        move.close()
    assert cache.faults.failures == 0
    for prompt in (new, anew):
        stored = cache.lookup(prompt, "s")
        assert stored is not None and stored.payload.startswith("stored during")
    stats = cache.stats()
    assert (stats.hits, stats.misses) == (3, 2)  # each lookup counted once
    await cluster_config.aclose()
