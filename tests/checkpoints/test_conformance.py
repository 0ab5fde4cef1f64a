"""LangGraph's official conformance suite (langgraph-checkpoint-conformance) against
the four savers on the real server: the async methods directly, the sync ones
through a subclass whose async methods call them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest

from redis_agent_core.config import RedisAgentConfig

conformance = pytest.importorskip("langgraph.checkpoint.conformance")

from langgraph.checkpoint.base import CheckpointTuple  # noqa: E402

from langchain_redis_agent.checkpoint import (  # noqa: E402
    AsyncRedisSaver,
    AsyncShallowRedisSaver,
    RedisSaver,
    ShallowRedisSaver,
)

BASE = {
    "put",
    "put_writes",
    "get_tuple",
    "list",
    "delete_thread",
    "copy_thread",
    "prune",
    "delete_for_runs",
}

# A shallow saver keeps one checkpoint per thread and namespace by design: the
# suite's tests that read back an older checkpoint, or count several, cannot pass.
SHALLOW_BY_DESIGN = {
    "test_get_tuple_specific_checkpoint_id",
    "test_get_tuple_parent_config",
    "test_put_multiple_checkpoints_same_thread",
    "test_put_incremental_channel_update",
    "test_put_parent_config",
    "test_list_all",
    "test_list_by_thread",
    "test_list_ordering",
    "test_list_metadata_filter_single_key",
    "test_list_metadata_filter_step",
    "test_list_before",
    "test_list_limit",
    "test_list_limit_plus_before",
    "test_list_combined_thread_and_filter",
    "test_list_metadata_filter_multiple_keys",
    "test_list_metadata_custom_keys",
    "test_copy_thread_basic",
    "test_copy_thread_all_checkpoints",
    "test_copy_thread_preserves_ordering",
    "test_delete_for_runs_single",
    "test_delete_for_runs_multiple",
    "test_delete_for_runs_preserves_other_runs",
    "test_delete_thread_removes_checkpoints",
}


def _sync_driven(cls: type[RedisSaver]) -> type[RedisSaver]:
    """``cls`` whose async methods run its sync ones, so the suite drives the sync path."""

    class SyncDriven(cls):  # type: ignore[valid-type,misc]
        async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
            return self.put(config, checkpoint, metadata, new_versions)

        async def aput_writes(
            self, config: Any, writes: Sequence[Any], task_id: str, task_path: str = ""
        ) -> None:
            self.put_writes(config, writes, task_id, task_path)

        async def aget_tuple(self, config: Any) -> CheckpointTuple | None:
            return self.get_tuple(config)

        async def alist(self, config: Any, **kwargs: Any) -> AsyncIterator[CheckpointTuple]:  # type: ignore[override]
            it: Iterator[CheckpointTuple] = self.list(config, **kwargs)
            for item in it:
                yield item

        async def adelete_thread(self, thread_id: str) -> None:
            self.delete_thread(thread_id)

        async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
            self.copy_thread(source_thread_id, target_thread_id)

        async def aprune(self, thread_ids: Any, *, strategy: str = "keep_latest") -> None:
            self.prune(thread_ids, strategy=strategy)

        async def adelete_for_runs(self, run_ids: Any) -> None:
            self.delete_for_runs(run_ids)

    SyncDriven.__name__ = f"SyncDriven{cls.__name__}"
    return SyncDriven


def _failed_tests(report: Any) -> set[str]:
    return {
        msg.split(":", 1)[0]
        for result in report.results.values()
        for msg in (result.failures or [])
    }


async def _run(config: RedisAgentConfig, cls: type[RedisSaver]) -> Any:
    @conformance.checkpointer_test(name=cls.__name__)
    async def factory() -> AsyncIterator[RedisSaver]:
        yield cls(config)

    return await conformance.validate(factory, capabilities=BASE)


@pytest.mark.parametrize("cls", [AsyncRedisSaver, _sync_driven(RedisSaver)], ids=["async", "sync"])
async def test_full_saver_passes_the_conformance_suite(aconfig: RedisAgentConfig, cls: Any) -> None:
    report = await _run(aconfig, cls)
    assert _failed_tests(report) == set()
    for cap in BASE:
        assert report.results[cap].passed, cap
        assert report.results[cap].tests_passed > 0


@pytest.mark.parametrize(
    "cls", [AsyncShallowRedisSaver, _sync_driven(ShallowRedisSaver)], ids=["async", "sync"]
)
async def test_shallow_saver_fails_only_the_history_tests(
    aconfig: RedisAgentConfig, cls: Any
) -> None:
    report = await _run(aconfig, cls)
    failed = _failed_tests(report)
    assert failed <= SHALLOW_BY_DESIGN, failed - SHALLOW_BY_DESIGN
    passed = sum(r.tests_passed for r in report.results.values())
    assert passed >= 30


@pytest.mark.cluster
@pytest.mark.parametrize("cls", [AsyncRedisSaver, _sync_driven(RedisSaver)], ids=["async", "sync"])
async def test_full_saver_passes_the_conformance_suite_on_a_cluster(
    cluster_config: RedisAgentConfig, cls: Any
) -> None:
    report = await _run(cluster_config, cls)
    assert _failed_tests(report) == set()
