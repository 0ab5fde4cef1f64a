"""Checkpoint writes and RedisStore writes (MULTI/EXEC on one slot) while that slot is
being moved to another cluster node, as `redis-cli --cluster reshard` does: they raised raw
AskError / MovedError for the whole move; now they wait for it and land on the new owner."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.graph import START, StateGraph

from langchain_redis_agent.checkpoint import AsyncRedisSaver, RedisSaver
from langchain_redis_agent.store import RedisStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_service.cluster import LocalCluster
from tests.checkpoints.test_delete_thread import cluster_keys
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster


class State(TypedDict):
    n: Annotated[list[int], operator.add]


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


def test_delete_thread_waits_for_its_slot_to_move_and_deletes_every_key(
    graph_and_move: tuple[Any, Any, SlotMove], cluster_config: RedisAgentConfig
) -> None:
    # its script builds keys it cannot declare: run on the importing node half-way, it
    # would take the keys still on the other node for gone
    app, _, move = graph_and_move
    move.start(1)
    timer = move.finish_later(0.3)
    try:
        app.checkpointer.delete_thread("th")
    finally:
        timer.join()
    assert cluster_keys(cluster_config) == []
