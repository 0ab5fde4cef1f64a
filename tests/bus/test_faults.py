"""The bus under Redis faults: refused writes are typed; a consumer survives a restart
that lost the stream and its group."""

from __future__ import annotations

import pytest

from redis_agent_core.bus import AgentBus
from redis_agent_core.errors import RedisUnavailableError, RedisWriteRefusedError
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


def test_consumer_recovers_after_redis_restarts_empty(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "g")
    bus.publish("jobs", {"n": 0}, durable=True)
    assert [m.payload for m in consumer.read()] == [{"n": 0}]
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError):
        consumer.read()
    faulty_redis.restart()  # same URL, no data: the stream and the group are gone
    assert consumer.pending() == 0
    assert consumer.read() == []  # the group is recreated, not a raw NOGROUP
    bus.publish("jobs", {"n": 1}, durable=True)
    got = consumer.read()
    assert [m.payload for m in got] == [{"n": 1}]
    assert consumer.ack(*got) == 1
    config.close()


async def test_async_consumer_recovers_after_redis_restarts_empty(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config()
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "g")
    await bus.apublish("jobs", {"n": 0}, durable=True)
    assert len(await consumer.aread()) == 1
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError):
        await consumer.aread()
    faulty_redis.restart()
    await bus.apublish("jobs", {"n": 1}, durable=True)  # recreates the stream, not the group
    assert [m.payload for m in await consumer.aread()] == [{"n": 1}]
    await config.aclose()
    config.close()
