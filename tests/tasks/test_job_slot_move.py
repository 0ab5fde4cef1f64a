"""A job created, and its items marked by a worker, while the job's cluster slot moves
(``redis-cli --cluster reshard``). Each is one script over the job's five keys, most of
them absent (the failed set and the errors hash until an item fails; all five for a new
job): Redis refuses such a call for the whole move (ASK, then TRYAGAIN after ASKING), so
a submit, or a worker's progress update, raised RedisUnavailableError though nothing was
wrong. The refusal ran nothing: the call waits for the move (as a history append does)
and runs once."""

from __future__ import annotations

import threading

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks.progress import create_job, get_job, mark_items
from redis_agent_service.cluster import LocalCluster
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster


def _moving(move: SlotMove) -> threading.Timer:
    """Open the move with every key of the slot carried over, and end it in 1.5 s."""
    move.start(1000)
    return move.finish_later(1.5)


def test_a_job_is_created_and_marked_while_its_slot_moves(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    client = cluster_config.get_client()
    create_job(cluster_config, "j1", kind="test", total=2)
    slot = client.keyslot(cluster_config.keys.job("j1"))  # type: ignore[union-attr]
    # a second job whose keys share j1's slot
    j2 = next(
        f"j{i}" for i in range(2, 10**6) if client.keyslot(cluster_config.keys.job(f"j{i}")) == slot
    )  # type: ignore[union-attr]
    move = SlotMove(redis_cluster, slot)
    try:
        timer = _moving(move)
        try:
            assert mark_items(cluster_config, "j1", ["a"], values=["1"]).added == 1
        finally:
            timer.join()
        timer = _moving(move)  # and back
        try:
            create_job(cluster_config, j2, kind="test", total=1)
        finally:
            timer.join()
    finally:
        move.close()
    assert mark_items(cluster_config, "j1", ["a", "b"], values=["1", "2"]).added == 1
    assert get_job("j1", config=cluster_config).status == "succeeded"
    assert get_job(j2, config=cluster_config).status == "pending"
