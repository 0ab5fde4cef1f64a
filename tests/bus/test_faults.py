"""The bus under Redis faults: refused writes are typed; a consumer survives a restart
that lost the stream and its group."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from redis_agent_core.bus import AgentBus
from redis_agent_core.bus.streams import TopicConsumer
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError, RedisWriteRefusedError
from redis_agent_service.cluster import LocalCluster
from tests.faults import FaultyRedis, cutting_cluster


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


async def _payloads(consumer: TopicConsumer, sync: bool) -> list[Any]:
    """The payloads of one ``read`` (``sync``) or ``aread`` of ``consumer``."""
    got = consumer.read() if sync else await consumer.aread()
    return [m.payload for m in got]


@pytest.mark.parametrize("sync", [True, False], ids=["read", "aread"])
async def test_a_new_messages_consumer_loses_nothing_published_after_a_restart(
    faulty_redis: FaultyRedis, sync: bool
) -> None:
    """start="$" recreated a group lost with the server's data at "$" too: what was
    published between the restart and the consumer's next read was skipped, lost
    (durable topics are for "anything that must not be lost"). The stream is new, so
    all of it is delivered; what came before the consumer started still is not."""
    config = faulty_redis.config()
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "g", start="$")

    async def read() -> list[Any]:
        return await _payloads(consumer, sync)

    bus.publish("jobs", {"n": "before"}, durable=True)
    assert await read() == []  # "$": only what comes after the group
    bus.publish("jobs", {"n": 0}, durable=True)
    assert await read() == [{"n": 0}]
    faulty_redis.kill()
    faulty_redis.restart()  # same URL, no data: the stream and the group are gone
    bus.publish("jobs", {"n": 1}, durable=True)
    bus.publish("jobs", {"n": 2}, durable=True)
    assert await read() == [{"n": 1}, {"n": 2}]
    await config.aclose()
    config.close()


@pytest.mark.parametrize("sync", [True, False], ids=["read", "aread"])
async def test_a_new_messages_group_deleted_behind_its_consumer_goes_on_where_it_was(
    config: RedisAgentConfig, sync: bool
) -> None:
    """XGROUP DESTROY while the stream stays: a start="$" consumer went on at "$", so
    the message published meanwhile was lost. It now goes on after the last message it
    was handed (none delivered twice), or, having been handed none, after where the
    stream ended when it started."""
    bus = AgentBus(config)
    admin = config.get_client()

    async def read(consumer: TopicConsumer) -> list[Any]:
        return await _payloads(consumer, sync)

    reader = bus.consumer("jobs", "g", start="$")
    bus.publish("jobs", {"n": "old"}, durable=True)
    idle = bus.consumer("jobs", "h", start="$")  # handed nothing before the loss
    assert await read(idle) == []
    assert await read(reader) == []
    bus.publish("jobs", {"n": 0}, durable=True)
    assert await read(reader) == [{"n": 0}]
    admin.xgroup_destroy(reader.key, "g")
    admin.xgroup_destroy(reader.key, "h")
    bus.publish("jobs", {"n": 1}, durable=True)
    assert await read(reader) == [{"n": 1}]
    assert await read(idle) == [{"n": 0}, {"n": 1}]
    await config.aclose()


@pytest.mark.parametrize("sync", [True, False], ids=["read", "aread"])
async def test_a_consumer_joining_a_group_behind_the_stream_loses_nothing_of_its_backlog(
    config: RedisAgentConfig, sync: bool
) -> None:
    """review27: a start="$" consumer joining a group that exists and is behind the
    stream's end (messages published, not yet delivered) took the stream's end as what
    it had reached: the group deleted behind it was recreated there, and the backlog it
    had not been handed yet (n 1, 2) was lost."""
    bus = AgentBus(config)
    bus.consumer("jobs", "g", start="$").ensure_group()  # the group, at the stream's end
    for n in range(3):
        bus.publish("jobs", {"n": n}, durable=True)
    late = bus.consumer("jobs", "g", start="$")  # a worker (re)started with a backlog
    got = late.read(count=1) if sync else await late.aread(count=1)
    assert [m.payload for m in got] == [{"n": 0}]
    config.get_client().xgroup_destroy(late.key, "g")
    bus.publish("jobs", {"n": 3}, durable=True)
    assert await _payloads(late, sync) == [{"n": 1}, {"n": 2}, {"n": 3}]
    # one that joins and is handed nothing goes on after what the group had delivered
    idle = bus.consumer("jobs", "g", start="$")
    idle.ensure_group() if sync else await idle.aensure_group()
    config.get_client().xgroup_destroy(late.key, "g")
    bus.publish("jobs", {"n": 4}, durable=True)
    assert await _payloads(idle, sync) == [{"n": 4}]
    await config.aclose()


def _kill_subscribers(faulty_redis: FaultyRedis) -> None:
    admin = faulty_redis.admin()
    assert admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub") >= 1
    admin.close()


@pytest.mark.parametrize("retries", [0, 2])  # 2: the default, where redis-py reconnects itself
def test_a_dropped_subscriber_is_told_once_then_receives_again(
    faulty_redis: FaultyRedis, retries: int
) -> None:
    config = faulty_redis.config(retries=retries)
    bus = AgentBus(config)
    with bus.subscribe("t", "u") as sub:
        bus.publish("t", {"n": 1})
        got = sub.get(timeout=2)
        assert got is not None and got.payload == {"n": 1}
        _kill_subscribers(faulty_redis)
        assert bus.publish("t", {"n": 2}).receivers == 0  # lost: nobody subscribed
        with pytest.raises(RedisUnavailableError):  # not a silent None
            sub.get(timeout=1)
        bus.publish("u", {"n": 3})  # the same subscription works again, told only once
        got = sub.get(timeout=2)
        assert got is not None and got.payload == {"n": 3}
        assert sub.get(timeout=0.2) is None
    config.close()


@pytest.mark.parametrize("retries", [0, 2])
async def test_a_dropped_async_subscriber_is_told_once_then_receives_again(
    faulty_redis: FaultyRedis, retries: int
) -> None:
    config = faulty_redis.config(retries=retries)
    bus = AgentBus(config)
    async with bus.asubscribe("t", "u") as sub:
        await bus.apublish("t", {"n": 1})
        got = await sub.get(timeout=2)
        assert got is not None and got.payload == {"n": 1}
        _kill_subscribers(faulty_redis)
        assert (await bus.apublish("t", {"n": 2})).receivers == 0
        with pytest.raises(RedisUnavailableError):
            await sub.get(timeout=1)
        await bus.apublish("u", {"n": 3})
        got = await sub.get(timeout=2)
        assert got is not None and got.payload == {"n": 3}
        assert await sub.get(timeout=0.2) is None
    await config.aclose()
    config.close()


def test_a_durable_consumer_loses_nothing_when_its_connection_drops(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config(retries=2)  # streams resume: a reconnect is not a gap
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "g")
    assert consumer.read() == []
    admin = faulty_redis.admin()
    admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    admin.close()
    bus.publish("jobs", {"n": 1}, durable=True)
    assert [m.payload for m in consumer.read()] == [{"n": 1}]
    config.close()


async def test_claim_recreates_a_group_deleted_behind_the_consumer(
    config: RedisAgentConfig,
) -> None:
    """XGROUP DESTROY (an operator, a cleanup script) while the stream stays: claim()
    raised redis-py's own ResponseError (NOGROUP) on every call until a read() came by;
    a process that only reaps stale messages never recovered."""
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "g", claim_idle=None)
    bus.publish("jobs", {"n": 0}, durable=True)
    consumer.ack(*consumer.read())
    admin = config.get_client()
    admin.xgroup_destroy(consumer.key, "g")
    assert consumer.claim(min_idle=0) == []  # a new group holds nothing pending
    assert admin.xinfo_groups(consumer.key)[0]["name"] in ("g", b"g")  # and it exists again
    bus.publish("jobs", {"n": 1}, durable=True)
    # recreated at start="0": the retained messages come again (at-least-once)
    assert [m.payload for m in consumer.read()] == [{"n": 0}, {"n": 1}]
    admin.xgroup_destroy(consumer.key, "g")
    assert await consumer.aclaim(min_idle=0) == []
    assert len(await consumer.aread()) == 2
    await config.aclose()


@pytest.mark.cluster
async def test_a_dead_letter_whose_reply_is_lost_is_stored_once_on_a_cluster() -> None:
    """redis-py's sync cluster pipeline sends a command that met a connection error again
    on its own, whatever the retries: a dead letter whose reply was lost was stored twice,
    silently. Now: stored once, and the read says it may or may not have been applied."""
    with LocalCluster() as cluster, cutting_cluster(cluster) as cutters:
        config = RedisAgentConfig(url=cluster.url, namespace="bury")
        bus = AgentBus(config)
        client = config.get_client()
        for read in ("sync", "async"):
            consumer = bus.consumer(read, "g", claim_idle=0.05, max_deliveries=1)
            bus.publish(read, {"n": 1}, durable=True)
            assert len(consumer.read()) == 1  # delivered once, never acked
            await asyncio.sleep(0.1)
            dead = bus.stream(f"{read}.dead")
            cutter = cutters[client.get_node_from_key(dead).port]  # type: ignore[union-attr]
            cutter.cut_reply_to(f"{read}.dead".encode())
            with pytest.raises(RedisUnavailableError, match="may or may not"):
                if read == "sync":
                    consumer.read()
                else:
                    await consumer.aread()
            assert client.xlen(dead) == 1
        await config.aclose()
        config.close()


@pytest.mark.parametrize("sync", [True, False], ids=["read", "aread"])
async def test_a_stream_made_anew_with_lower_ids_then_lost_again_is_not_delivered_again(
    config: RedisAgentConfig, sync: bool
) -> None:
    """review27: a start="$" consumer kept the newest id it was ever handed. A stream
    made anew with lower ids (the clock behind after a failover) was read from "0", then
    a second loss of the group found that old id nowhere and started at "0" again: n 1
    and 2, handed already, were delivered a second time. Recreating the group at "0"
    forgets it: the second loss goes on after n 2."""
    bus = AgentBus(config)
    admin = config.get_client()
    consumer = bus.consumer("jobs", "g", start="$")
    assert await _payloads(consumer, sync) == []
    admin.execute_command("XSETID", consumer.key, "99999999999999-0")  # old ids: far ahead
    bus.publish("jobs", {"n": 0}, durable=True)
    assert await _payloads(consumer, sync) == [{"n": 0}]
    admin.delete(consumer.key)  # lost with its group; the new one's ids are lower
    bus.publish("jobs", {"n": 1}, durable=True)
    bus.publish("jobs", {"n": 2}, durable=True)
    assert await _payloads(consumer, sync) == [{"n": 1}, {"n": 2}]
    admin.xgroup_destroy(consumer.key, "g")  # lost again
    bus.publish("jobs", {"n": 3}, durable=True)
    assert await _payloads(consumer, sync) == [{"n": 3}]  # main: n 1, 2 and 3
    await config.aclose()


@pytest.mark.parametrize("sync", [True, False], ids=["ack", "aack"])
async def test_an_envelope_is_acked_only_by_a_consumer_of_its_stream_and_group(
    config: RedisAgentConfig, sync: bool
) -> None:
    """attack27: ``ack`` of an envelope another topic's consumer (or another group's)
    read acked its stream id on the acking consumer's own stream and group, silently:
    a message of that group with the same id was dropped unprocessed. An envelope now
    carries the stream and group it was read from (not the writer's topic field), and
    another consumer's ``ack`` refuses it naming the one to use."""
    bus = AgentBus(config)
    mine = bus.consumer("jobs", "g")
    other_topic, other_group = bus.consumer("mail", "g"), bus.consumer("jobs", "h")
    bus.publish("jobs", {"n": 0}, durable=True)
    env = (mine.read() if sync else await mine.aread())[0]
    assert (other_group.read() if sync else await other_group.aread())[0].stream_id == env.stream_id
    for wrong in (other_topic, other_group):
        with pytest.raises(ConfigError, match="read from") as refused:
            wrong.ack(env) if sync else await wrong.aack(env)
        assert "'g'" in str(refused.value) and mine.key in str(refused.value)
    assert other_group.pending() == 1  # main: 0, acked for group h, never processed
    assert (mine.ack(env) if sync else await mine.aack(env)) == 1
    assert other_group.ack(env.stream_id or "") == 1  # a stream id (str): as given
    await config.aclose()


@pytest.mark.parametrize("sync", [True, False], ids=["ack", "aack"])
async def test_an_envelope_publish_returned_is_acked_only_on_its_own_topic(
    config: RedisAgentConfig, sync: bool
) -> None:
    """review28: the envelope ``publish`` returns (no consumer read it) passed any
    consumer's ``ack``: on another topic's consumer it acked its stream id there, and
    that topic's message of the same id was dropped unprocessed. It now records the
    stream it was written to; another topic's consumer refuses it."""
    bus = AgentBus(config)
    jobs, mail = bus.consumer("jobs", "g"), bus.consumer("mail", "g")
    if sync:
        sent = bus.publish("jobs", {"n": 1}, durable=True)
    else:
        sent = await bus.apublish("jobs", {"n": 1}, durable=True)
    sid = sent.stream_id or ""
    # a message of topic mail with the same stream id (ids are per stream), read
    client = config.get_client()
    [(_, fields)] = client.xrange(jobs.key, sid, sid)
    client.xadd(mail.key, fields, id=sid)
    assert [e.stream_id for e in mail.read()] == [sid]
    with pytest.raises(ConfigError, match="published to stream") as refused:
        mail.ack(sent) if sync else await mail.aack(sent)
    assert jobs.key in str(refused.value)
    assert mail.pending() == 1  # main: 0, mail's message acked unprocessed
    assert [e.stream_id for e in jobs.read()] == [sid]
    assert (jobs.ack(sent) if sync else await jobs.aack(sent)) == 1  # its own topic: acked
    assert mail.ack(sid) == 1  # a stream id (str): as given
    await config.aclose()
