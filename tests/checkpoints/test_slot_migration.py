"""Checkpoint writes and RedisStore writes (MULTI/EXEC on one slot) while that slot is
being moved to another cluster node, as `redis-cli --cluster reshard` does: they raised raw
AskError / MovedError for the whole move; now they wait for it and land on the new owner."""

from __future__ import annotations

import asyncio
import operator
import threading
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
import redis
from langgraph.graph import START, StateGraph

from langchain_redis_agent.checkpoint import AsyncRedisSaver, RedisSaver
from langchain_redis_agent.store import RedisStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_service.cluster import LocalCluster

pytestmark = pytest.mark.cluster


class State(TypedDict):
    n: Annotated[list[int], operator.add]


class SlotMove:
    """Move one slot between the cluster's primaries step by step (MIGRATING/IMPORTING,
    MIGRATE some keys, the rest, SETSLOT NODE); the slot always ends assigned."""

    def __init__(self, cluster: LocalCluster, slot: int) -> None:
        self.nodes = {port: redis.Redis(port=port) for port in cluster.ports}
        self.ids = {p: r.execute_command("CLUSTER", "MYID").decode() for p, r in self.nodes.items()}
        self.slot = slot
        self.src = next(
            p
            for p, r in self.nodes.items()
            if r.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot)
        )
        self.dst = next(p for p in self.nodes if p != self.src)

    def start(self, keys: int) -> None:
        """Open the move and carry ``keys`` of the slot's keys over (0: none)."""
        slot, src, dst = self.slot, self.src, self.dst
        self.nodes[dst].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", self.ids[src])
        self.nodes[src].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", self.ids[dst])
        self._carry(keys)

    def _carry(self, count: int) -> None:
        keys = self.nodes[self.src].execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, count)
        if keys:
            self.nodes[self.src].execute_command(
                "MIGRATE", "127.0.0.1", self.dst, "", 0, 5000, "KEYS", *keys
            )

    def finish(self) -> None:
        """Carry the rest over and give the slot to the destination on every node."""
        self._carry(100_000)
        for node in self.nodes.values():
            node.execute_command("CLUSTER", "SETSLOT", self.slot, "NODE", self.ids[self.dst])
        self.src, self.dst = self.dst, self.src  # a next move goes back

    def finish_later(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.finish)
        timer.start()
        return timer

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()


@pytest.fixture
def graph_and_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> Iterator[tuple[Any, Any, SlotMove]]:
    builder = StateGraph(State)
    builder.add_node("a", lambda state: {"n": [1]})
    builder.add_edge(START, "a")
    app = builder.compile(checkpointer=RedisSaver(cluster_config))
    aapp = builder.compile(checkpointer=AsyncRedisSaver(cluster_config))
    app.invoke({"n": [0]}, {"configurable": {"thread_id": "th"}})
    key = cluster_config.keys.checkpoint_index("th")
    move = SlotMove(redis_cluster, cluster_config.get_client().keyslot(key))  # type: ignore[union-attr]
    yield app, aapp, move
    move.close()


def test_checkpoint_writes_wait_for_their_slot_to_move(
    graph_and_move: tuple[Any, Any, SlotMove],
) -> None:
    app, aapp, move = graph_and_move
    thread = {"configurable": {"thread_id": "th"}}
    for carried in (1, 100_000):  # half-way (TRYAGAIN / ASK), then all moved (ASK)
        move.start(carried)
        timer = move.finish_later(0.3)
        try:
            assert len(app.invoke({"n": [0]}, thread)["n"]) == 4 + 2 * (carried > 1)
        finally:
            timer.join()
    move.start(1)
    timer = move.finish_later(0.3)
    try:
        assert len(asyncio.run(aapp.ainvoke({"n": [0]}, thread))["n"]) == 8
    finally:
        timer.join()
    assert len(app.get_state(thread).values["n"]) == 8


def test_a_move_that_does_not_end_is_a_typed_error_and_the_saver_recovers(
    graph_and_move: tuple[Any, Any, SlotMove],
) -> None:
    app, _, move = graph_and_move
    thread = {"configurable": {"thread_id": "th"}}
    move.start(100_000)  # every key moved, the slot not yet reassigned: the ASK window
    try:
        with pytest.raises(RedisUnavailableError, match="another cluster node"):
            app.invoke({"n": [0]}, thread)
    finally:
        move.finish()
    assert len(app.invoke({"n": [0]}, thread)["n"]) == 4  # nothing half-written


def test_store_writes_wait_for_their_slot_to_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    store = RedisStore(cluster_config)
    for i in range(3):
        store.put(("u",), f"k{i}", {"v": i})
    client = cluster_config.get_client()
    slot = next(client.keyslot(k) for k in client.scan_iter(match=f"{cluster_config.namespace}:*"))  # type: ignore[union-attr]
    move = SlotMove(redis_cluster, slot)
    try:
        for carried in (1, 100_000):
            move.start(carried)
            timer = move.finish_later(0.3)
            try:
                store.put(("u",), f"new{carried}", {"v": 9})
                store.delete(("u",), "k0" if carried == 1 else "k1")
            finally:
                timer.join()
        assert sorted(item.key for item in store.search(("u",))) == ["k2", "new1", "new100000"]
    finally:
        move.close()
