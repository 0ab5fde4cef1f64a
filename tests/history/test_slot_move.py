"""A history append while its session's slot moves between cluster nodes
(``redis-cli --cluster reshard``: MIGRATING on one node, IMPORTING on the other). The
append script declares the session's archive list, which most sessions never have:
Redis answers a command over several keys, one of them absent, with ASK on the
migrating node and TRYAGAIN on the importing one (ASKING sent) until the slot is
reassigned, since the absent key might still be on the other side. redis-py's
redirections ran out and the append raised for the whole move, though every key of the
session was on one side. A refusal of that kind ran nothing: the append now waits for
the move (as a MULTI/EXEC does) and is stored once."""

from __future__ import annotations

import threading

import pytest

from redis_agent_core import SessionStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.history import OwnedSessions
from redis_agent_core.scripts import asend_commands
from redis_agent_service.cluster import LocalCluster
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster

MESSAGES = [b'{"type":"human","data":{"content":"%d"}}' % i for i in range(3)]


def _moving(move: SlotMove) -> threading.Timer:
    """Open the move with every key of the slot carried over (the session's messages and
    meta all on the new side), and end it (the slot reassigned) in 1.5 s."""
    move.start(1000)
    return move.finish_later(1.5)


async def test_an_append_while_its_sessions_slot_moves_waits_for_the_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    store = SessionStore(cluster_config)
    assert store.append("s", MESSAGES[:1]) == 1
    client = cluster_config.get_client()
    slot = client.keyslot(cluster_config.keys.history_messages("s"))  # type: ignore[union-attr]
    move = SlotMove(redis_cluster, slot)
    try:
        timer = _moving(move)
        try:
            assert store.append("s", MESSAGES[1:2]) == 2
        finally:
            timer.join()
        timer = _moving(move)  # and back
        try:
            assert await store.aappend("s", MESSAGES[2:]) == 3
        finally:
            timer.join()
    finally:
        move.close()
    assert store.read("s") == MESSAGES  # each once
    await cluster_config.aclose()


async def test_a_new_owners_first_listing_while_its_slot_moves_waits_for_the_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    """The owner's list and its marker, both absent before the first turn: the same
    refusal for the whole move (TRYAGAIN); now it waits, then lists the session."""
    owned = OwnedSessions(cluster_config)
    listing = cluster_config.keys.owned_sessions("alice")
    client = cluster_config.get_client()
    client.set("{" + listing + "}:other", "1")  # a key of that slot to carry over
    move = SlotMove(redis_cluster, client.keyslot(listing))  # type: ignore[union-attr]
    try:
        timer = _moving(move)
        try:
            assert owned.add("alice", "s1") is True
        finally:
            timer.join()
        timer = _moving(move)  # and back
        try:
            assert await owned.aadd("alice", "s2") is True
        finally:
            timer.join()
    finally:
        move.close()
    assert client.zrange(listing, 0, -1) == [b"s1", b"s2", b""]
    await cluster_config.aclose()


async def test_an_append_batched_with_other_writes_lands_whole_while_its_slot_moves(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    """``append_commands`` sent with other writes in one round trip
    (``asend_commands``, as the service stores a turn): the append was refused for the
    whole move and raised after the others had run, so the turn was half stored (and a
    retry would repeat them). With ``wait=`` it alone is sent again once the move lets
    it: the batch lands whole, each command once."""
    store = SessionStore(cluster_config)
    assert store.append("s", MESSAGES[:1]) == 1
    client = cluster_config.get_client()
    slot = client.keyslot(cluster_config.keys.history_messages("s"))  # type: ignore[union-attr]
    other = next(
        f"{cluster_config.namespace}:o{i}"
        for i in range(10**6)
        if client.keyslot(f"{cluster_config.namespace}:o{i}") != slot
    )  # type: ignore[union-attr]
    move = SlotMove(redis_cluster, slot)
    try:
        timer = _moving(move)
        try:
            commands = [("INCR", other), *store.append_commands("s", MESSAGES[1:])]
            aclient = cluster_config.get_async_client()
            replies = await asend_commands(aclient, commands, wait=cluster_config.backoff)
        finally:
            timer.join()
    finally:
        move.close()
    assert replies[0] == 1 and replies[1][0] == 3
    assert store.read("s") == MESSAGES
    assert client.get(other) == b"1"  # sent once
    await cluster_config.aclose()
