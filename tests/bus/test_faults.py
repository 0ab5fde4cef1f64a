"""The bus under Redis faults: refused writes are typed; a consumer survives a restart
that lost the stream and its group."""

from __future__ import annotations

import pytest

from redis_agent_core.bus import AgentBus
from redis_agent_core.errors import RedisWriteRefusedError
from tests.faults import FaultyRedis


@pytest.mark.parametrize("fault", ["oom", "readonly"])
def test_refused_publish_is_typed(faulty_redis: FaultyRedis, fault: str) -> None:
    config = faulty_redis.config()
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "g")
    bus.publish("jobs", {"n": 0}, durable=True)
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    with pytest.raises(RedisWriteRefusedError) as info:
        bus.publish("jobs", {"n": 1}, durable=True)
    assert info.value.cause == fault
    if fault == "readonly":  # XREADGROUP writes (the pending list): refused too, typed
        with pytest.raises(RedisWriteRefusedError):
            consumer.read()
        faulty_redis.make_primary()
    else:
        faulty_redis.free_memory()
    assert [m.payload for m in consumer.read()] == [{"n": 0}]
    config.close()
