"""Vector writes under Redis faults: refused writes (memory full, read-only replica)
raise a typed error; an index lost in a restart is recreated by the next add."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from redis_agent_core.errors import RedisWriteRefusedError
from redis_agent_core.vectors import VectorIndex
from tests.faults import FaultyRedis


def _eventually(search: Callable[[], list[Any]]) -> list[str]:
    """Texts found, polling briefly: FT.CREATE indexes existing documents in the
    background (an empty result for ever is the bug)."""
    deadline = time.monotonic() + 10
    while True:
        texts = [hit.text for hit in search()]
        if texts or time.monotonic() > deadline:
            return texts
        time.sleep(0.05)


@pytest.mark.parametrize("fault", ["oom", "readonly"])
async def test_refused_add_is_typed(faulty_redis: FaultyRedis, fault: str) -> None:
    config = faulty_redis.config()
    index = VectorIndex("docs", config=config, dims=2)
    index.add(["a"], vectors=np.array([[1.0, 0.0]]))
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    with pytest.raises(RedisWriteRefusedError) as info:
        index.add(["b"], vectors=np.array([[0.0, 1.0]]))
    assert info.value.cause == fault
    with pytest.raises(RedisWriteRefusedError):
        await index.aadd(["b"], vectors=np.array([[0.0, 1.0]]))
    assert [hit.text for hit in index.search(np.array([1.0, 0.0]), k=5)] == ["a"]
    await config.aclose()
    config.close()


async def test_add_after_redis_restarted_empty_recreates_the_index(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config()
    index = VectorIndex("docs", config=config, dims=2)
    index.add(["a"], vectors=np.array([[1.0, 0.0]]))
    faulty_redis.restart()  # same URL, no data, no index
    index.add(["b"], vectors=np.array([[0.0, 1.0]]))
    reader = VectorIndex("docs", config=faulty_redis.config(), dims=2)  # another process
    assert _eventually(lambda: reader.search(np.array([0.0, 1.0]), k=5)) == ["b"]
    faulty_redis.restart()
    await index.aadd(["c"], vectors=np.array([[1.0, 1.0]]))
    assert _eventually(lambda: reader.search(np.array([1.0, 1.0]), k=5)) == ["c"]
    await config.aclose()
    config.close()
