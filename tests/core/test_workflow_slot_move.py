"""A workflow run's state copied (``WorkflowRecords.copy_state``: one script over the
source and target runs' keys, which share the store's slot) while that slot moves
between cluster nodes. The target run has no state yet: Redis answers ASK, then
TRYAGAIN after ASKING, for the whole move. Such a refusal ran nothing: the copy waits
for the move (as a history append does) instead of raising."""

from __future__ import annotations

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.workflows import WorkflowRecords
from redis_agent_service.cluster import LocalCluster
from tests.faults import SlotMove

pytestmark = pytest.mark.cluster


async def test_a_state_copy_while_its_slot_moves_waits_for_the_move(
    cluster_config: RedisAgentConfig, redis_cluster: LocalCluster
) -> None:
    records = WorkflowRecords(cluster_config)
    await records.save_state("run-1", "ns", b"state")
    client = cluster_config.get_client()
    move = SlotMove(redis_cluster, client.keyslot(records.state_key("run-1")))  # type: ignore[union-attr]
    try:
        move.start(1000)  # every key of the slot carried over: run-2's state is absent
        timer = move.finish_later(1.5)
        try:
            assert await records.copy_state("run-1", "run-2") == 1
        finally:
            timer.join()
    finally:
        move.close()
    assert await records.load_state("run-2", "ns") == b"state"
    await cluster_config.aclose()
