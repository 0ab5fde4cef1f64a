"""Vector writes refused by Redis (memory full, read-only replica) raise a typed error."""

from __future__ import annotations

import numpy as np
import pytest

from redis_agent_core.errors import RedisWriteRefusedError
from redis_agent_core.vectors import VectorIndex
from tests.faults import FaultyRedis


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
