"""Durable topics at their edges: short waits, corrupt entries, trims the server
cannot do (session 22)."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

import pytest

from redis_agent_core.bus import AgentBus, TopicConsumer
from redis_agent_core.config import RedisAgentConfig


@pytest.fixture
def bus(config: RedisAgentConfig) -> AgentBus:
    return AgentBus(config, sender="tester", maxlen=1000)


async def _read(consumer: TopicConsumer, use_async: bool, **kwargs: float) -> list:
    if use_async:
        return await consumer.aread(**kwargs)  # type: ignore[arg-type]
    return consumer.read(**kwargs)  # type: ignore[arg-type]


async def _timed(consumer: TopicConsumer, use_async: bool, block: float) -> float:
    started = time.perf_counter()
    assert await _read(consumer, use_async, block=block) == []
    return time.perf_counter() - started


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_short_block_waits_its_time_not_the_servers_tick(
    bus: AgentBus, aconfig: RedisAgentConfig, use_async: bool
) -> None:
    """Redis ends a BLOCK only at its next cron tick (every 100 ms at the default hz 10):
    read(block=0.001) took ~100 ms, read(block=0.15) ~200 ms."""
    consumer = bus.consumer("quiet", "g")
    consumer.ensure_group()
    for block in (0.001, 0.02):
        waits = [await _timed(consumer, use_async, block) for _ in range(5)]
        assert statistics.median(waits) < 0.05, (block, waits)  # was >= 0.1
    # a wait is still a wait: never shorter than asked (the old code's figures: 0.2 s)
    assert await _timed(consumer, use_async, 0.15) >= 0.15
    # ...and a message published meanwhile ends it at once, in either phase of the wait
    for delay in (0.02, 0.3):
        threading.Timer(delay, bus.publish, ("quiet", delay), {"durable": True}).start()
        started = time.perf_counter()
        got = await _read(consumer, use_async, block=5.0)
        assert [m.payload for m in got] == [delay]
        assert time.perf_counter() - started < 2.0
    none = (await consumer.areceive(timeout=0.01)) if use_async else consumer.receive(0.01)
    assert none is None


CORRUPT = [
    {b"e": b"not json"},
    {b"payload": b"no envelope field", b"reason": b"a field of the writer's own"},
    {b"e": b'{"id":"x","topic":"t","sender":"s","time":"soon"}'},  # time not a number
    {b"e": b'{"id":"x","topic":"t","sender":"s","time":1,"correlation_id":["c"]}'},
]


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_corrupt_entry_goes_to_the_dead_topic_with_its_fields(
    bus: AgentBus, aconfig: RedisAgentConfig, use_async: bool
) -> None:
    """Corrupt entries were logged, acked and dropped: a message lost without a trace.
    They go to <topic>.dead, raw fields kept, with the reason; read on."""
    client = bus.config.get_client()
    worker = bus.consumer("jobs", "g", "w", claim_idle=0.01)
    worker.ensure_group()
    ids = [client.xadd(bus.stream("jobs"), fields) for fields in CORRUPT]
    bus.publish("jobs", "good", durable=True)
    # one corrupt entry is first read by a consumer that dies: the claim meets it
    client.xreadgroup("g", "crashed", {bus.stream("jobs"): ">"}, count=1)
    await asyncio.sleep(0.02)
    got: list = []
    for _ in range(3):
        got += await _read(worker, use_async, count=10)
    assert [m.payload for m in got] == ["good"]
    assert worker.pending() == 1  # only "good": the corrupt ones were acked
    dead = client.xrange(bus.stream("jobs.dead"))
    assert [fields[b"stream_id"] for _, fields in dead] == ids
    for (_, fields), original in zip(dead, CORRUPT, strict=True):
        assert fields[b"group"] == b"g" and fields[b"reason"]
        ours = (b"reason", b"group", b"stream_id")  # a raw field named so: raw:<name>
        raw = {(b"raw:" + k if k in ours else k): v for k, v in original.items()}
        assert {k: fields[k] for k in raw} == raw
    assert b"envelope" in dead[1][1][b"reason"]
    # a consumer of the dead topic meets them corrupt too: acked, left where they are,
    # not moved on to jobs.dead.dead (and so on)
    ops = bus.consumer("jobs.dead", "ops")
    assert await _read(ops, use_async) == []
    assert ops.pending() == 0
    assert client.xlen(bus.stream("jobs.dead")) == len(CORRUPT)
    assert not client.exists(bus.stream("jobs.dead.dead"))


def test_which_redis_versions_take_an_acked_trim() -> None:
    from redis_agent_core.capabilities import supports_acked_trim

    for version, supported in (
        ("8.2.0", True), ("8.2.3", True), ("8.4.0", True), ("9.0.0", True), ("10.0", True),
        ("8.1.9", False), ("8.0.4", False), ("7.4.0", False), ("7.2.10-v1", False),
        ("unknown", None), ("", None),
    ):  # fmt: skip
        assert supports_acked_trim(version) is supported, version


@pytest.mark.parametrize("use_async", [False, True])
async def test_an_acked_trim_on_an_older_server_is_refused_before_writing(
    config: RedisAgentConfig,
    aconfig: RedisAgentConfig,
    monkeypatch: pytest.MonkeyPatch,
    use_async: bool,
) -> None:
    """trim='acked' needs XADD ... ACKED (Redis >= 8.2). The server's capabilities,
    probed once, decide before anything is written (the embedded server is 8.2: the
    probe's cached answer stands in for an older one)."""
    from redis_agent_core.errors import CapabilityError
    from redis_agent_core.search import capabilities

    older = capabilities.Capabilities(
        redis_version="8.0.4", search_version=None, json_version=None, cluster=False,
        hybrid=False, svs_vamana=False, int8_vectors=False,
    )  # fmt: skip
    for name in ("_by_url", "_by_client"):
        monkeypatch.setattr(capabilities, name, {})
    for given in (config.client, config.async_client):
        memo, key = capabilities._memo(config, given)
        memo[key] = older
    bus = AgentBus(config, maxlen=50, trim="acked")
    with pytest.raises(CapabilityError, match=r"Redis >= 8\.2.*8\.0\.4.*trim='length'"):
        if use_async:
            await bus.apublish("jobs", 1, durable=True)
        else:
            bus.publish("jobs", 1, durable=True)
    assert bus.topic_length("jobs") == 0  # nothing was written
    # a consumer burying a message in jobs.dead meets the same refusal, not a raw error
    config.get_client().xadd(bus.stream("jobs"), {b"e": b"not json"})
    worker = bus.consumer("jobs", "g")
    with pytest.raises(CapabilityError, match=r"8\.0\.4"):
        await _read(worker, use_async)
    assert bus.topic_length("jobs.dead") == 0
    assert AgentBus(config, maxlen=50).publish("jobs", 1, durable=True).stream_id  # length


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_batched_acked_trim_is_refused_as_publish_is(
    config: RedisAgentConfig,
    aconfig: RedisAgentConfig,
    monkeypatch: pytest.MonkeyPatch,
    use_async: bool,
) -> None:
    """publish_command (the service's XADD inside a batch of writes) checked nothing:
    on a server older than 8.2 the batch's XADD was refused while its other writes
    applied. It now refuses before building, on the probe's answer (it does no I/O),
    and asks for a probe when none has run."""
    from redis_agent_core.errors import CapabilityError, ConfigError
    from redis_agent_core.scripts import asend_commands
    from redis_agent_core.search import capabilities

    for name in ("_by_url", "_by_client"):
        monkeypatch.setattr(capabilities, name, {})
    bus = AgentBus(config, maxlen=50, trim="acked")
    with pytest.raises(ConfigError, match=r"check_trim\(\)"):  # never probed
        bus.publish_command("jobs", 1)
    if use_async:  # the embedded server is 8.2: the probe says yes
        await bus.acheck_trim()
    else:
        bus.check_trim()
    assert "ACKED" in bus.publish_command("jobs", 1)[1]
    older = capabilities.Capabilities(
        redis_version="8.0.4", search_version=None, json_version=None, cluster=False,
        hybrid=False, svs_vamana=False, int8_vectors=False,
    )  # fmt: skip
    for given in (config.client, config.async_client):
        memo, key = capabilities._memo(config, given)
        memo[key] = older
    other = bus.stream("other")
    with pytest.raises(CapabilityError, match=r"Redis >= 8\.2.*8\.0\.4.*trim='length'"):
        _, xadd = AgentBus(config, maxlen=50, trim="acked").publish_command("jobs", 1)
        await asend_commands(aconfig.get_async_client(), [("SET", other, "1"), xadd])
    assert config.get_client().get(other) is None  # the batch was never sent
    assert bus.topic_length("jobs") == 0
    assert AgentBus(config, maxlen=50).publish_command("jobs", 1)  # trim="length"


async def test_idle_times_the_server_cannot_take_are_refused(
    bus: AgentBus, aconfig: RedisAgentConfig
) -> None:
    """XAUTOCLAIM counts idle time in whole ms: claim_idle=0.0001 went as 0, so every
    read took over the messages live consumers were still processing (the take-over
    claim_idle > 0 exists to forbid); 1e20 s met a raw ResponseError."""
    from redis_agent_core.errors import ConfigError

    bus.publish("t", "job", durable=True)
    live = bus.consumer("t", "g", "live")
    assert [m.payload for m in live.read()] == ["job"]  # being processed
    for idle in (0.0001, 1e-9, 1e20):
        with pytest.raises(ConfigError, match="claim_idle"):
            bus.consumer("t", "g", "other", claim_idle=idle)
    with pytest.raises(ConfigError, match="min_idle"):
        live.claim(min_idle=1e20)
    with pytest.raises(ConfigError, match="min_idle"):
        await live.aclaim(min_idle=1e20)
    other = bus.consumer("t", "g", "other", claim_idle=0.001)  # the least: 1 ms
    assert other.claim(min_idle=3600) == [] and live.pending() == 1
