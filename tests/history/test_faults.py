"""History under Redis faults: refused writes are typed, reads keep working."""

from __future__ import annotations

import pytest

from redis_agent_core.errors import RedisUnavailableError, RedisWriteRefusedError
from redis_agent_core.history import SessionStore
from tests.faults import FaultyRedis


@pytest.mark.parametrize("fault", ["oom", "readonly"])
def test_refused_append_is_typed_and_reads_still_work(
    faulty_redis: FaultyRedis, fault: str
) -> None:
    config = faulty_redis.config()
    store = SessionStore(config)
    store.append("s", [b'{"n":0}'])
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    with pytest.raises(RedisWriteRefusedError) as info:
        store.append("s", [b'{"n":1}'])
    assert info.value.cause == fault
    assert ("maxmemory" if fault == "oom" else "primary") in str(info.value)
    assert store.read("s") == [b'{"n":0}']  # reads are served meanwhile
    if fault == "oom":
        faulty_redis.free_memory()
    else:
        faulty_redis.make_primary()
    assert store.append("s", [b'{"n":1}']) == 2  # recovers without a new store
    config.close()


async def test_refused_async_append_is_typed(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    store = SessionStore(config)
    faulty_redis.fill_memory()
    with pytest.raises(RedisWriteRefusedError):
        await store.aappend("s", [b"{}"])
    await config.aclose()


def test_killed_server_is_unavailable_then_recovers(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    store = SessionStore(config)
    store.append("s", [b"{}"])
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError) as info:
        store.read("s")
    assert not isinstance(info.value, RedisWriteRefusedError)
    faulty_redis.restart()  # same URL, empty
    assert store.read("s") == []
    assert store.append("s", [b"{}"]) == 1
    config.close()
