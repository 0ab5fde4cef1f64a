"""AgentBus on a real Redis: channels, durable topics, request/reply, faults."""

from __future__ import annotations

import asyncio
import datetime
import enum
import threading
import time
import uuid
from typing import Any

import pytest

from redis_agent_core.bus import (
    AgentBus,
    BusTimeoutError,
    BusTools,
    Subscription,
    decode_envelope,
    encode_envelope,
    make_envelope,
)
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError, RedisUnavailableError


@pytest.fixture
def bus(config: RedisAgentConfig) -> AgentBus:
    return AgentBus(config, sender="tester", maxlen=1000)


# -- envelope (pure) --
def test_envelope_round_trip_keeps_every_field() -> None:
    env = make_envelope("t", {"a": [1, 2]}, sender="me", correlation_id="c1", reply_to="r")
    back = decode_envelope(encode_envelope(env))
    assert back == env
    assert back.payload == {"a": [1, 2]} and back.correlation_id == "c1" and back.reply_to == "r"


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[1]",
        b'{"id": "x"}',
        b'{"id":1,"topic":"t","sender":"s","time":1}',
        # what make_envelope refuses to send
        b'{"id":"x","topic":"t","sender":"s","time":1,"correlation_id":["c"]}',
        b'{"id":"x","topic":"t","sender":"s","time":1,"reply_to":{"r":1}}',
        b'{"id":"x","topic":"t","sender":"s","time":1,"correlation_id":""}',
        b'{"id":"x","topic":"t","sender":"s","time":"nan"}',
        # left25: read as 1.0 and 12.0
        b'{"id":"x","topic":"t","sender":"s","time":true}',
        b'{"id":"x","topic":"t","sender":"s","time":"12"}',
        b'{"id":"x","topic":"t","sender":"s","time":null}',
    ],
)
def test_corrupt_envelope_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(DataCorruptionError):
        decode_envelope(data)


@pytest.mark.parametrize("stamp", [True, "12", None, 10**30, float("inf")])
def test_an_envelope_time_that_is_no_float_is_refused_before_sending(
    bus: AgentBus, stamp: Any
) -> None:
    """left25: a bool or a numeric string was sent as the time (receivers read 1.0 /
    12.0); it is refused naming the field and the type, nothing written."""
    env = make_envelope("t", 1, sender="me")
    env.time = stamp
    with pytest.raises(ConfigError, match="time"):
        bus.config.get_client().xadd(bus.stream("tm"), {"e": encode_envelope(env)})
    assert bus.topic_length("tm") == 0
    env.time = 1700000000  # an int is a number of seconds too
    assert decode_envelope(encode_envelope(env)).time == 1700000000.0


def test_non_json_payload_is_rejected_before_sending(bus: AgentBus) -> None:
    with pytest.raises(ConfigError, match="JSON"):
        bus.publish("t", {"x": object()})


@pytest.mark.parametrize(
    "payload",
    [
        float("nan"),
        {"score": float("inf")},
        [None, {"a": [float("-inf")]}],
        {"at": datetime.datetime(2024, 1, 1)},  # receivers got an ISO str
    ],
)
def test_nan_or_infinity_in_a_payload_is_refused_not_sent_as_null(
    bus: AgentBus, payload: Any
) -> None:
    worker = bus.consumer("nan", "g")
    worker.ensure_group()
    with pytest.raises(ConfigError, match="JSON cannot store"):
        bus.publish("nan", payload, durable=True)
    with pytest.raises(ConfigError, match="JSON cannot store"):
        bus.publish("nan", payload, correlation_id="c", reply_to="r")
    assert bus.topic_length("nan") == 0
    bus.publish("nan", {"none": None, "x": 1.5}, durable=True)  # nulls of its own are fine
    assert [m.payload for m in worker.read()] == [{"none": None, "x": 1.5}]


def test_uuid_or_enum_in_a_payload_is_refused_not_sent_as_str(bus: AgentBus) -> None:
    # receivers got the UUID's str / the enum's value
    worker = bus.consumer("ue", "g")
    worker.ensure_group()
    level = enum.IntEnum("Level", {"HIGH": 3}).HIGH
    for payload, match in [
        ({"run": uuid.UUID(int=7)}, r"UUID.*at \['payload'\]\['run'\].*str\(value\)"),
        ([1, {"level": level}], r"HIGH.*at \['payload'\]\[1\]\['level'\].*value\.value"),
    ]:
        with pytest.raises(ConfigError, match=match):
            bus.publish("ue", payload, durable=True)
    assert bus.topic_length("ue") == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sender": 123}, "sender"),  # receivers dropped (and acked) all its messages
        ({"sender": ""}, "sender"),
        ({"maxlen": 1.5}, "maxlen"),
        ({"maxlen": True}, "maxlen"),
        ({"maxlen": "10"}, "maxlen"),
        ({"maxlen": 0}, "maxlen"),
        ({"maxlen": 2**64}, "maxlen"),  # every publish raised a raw ResponseError
    ],
)
def test_bad_bus_settings_are_refused_at_construction(
    config: RedisAgentConfig, kwargs: dict, match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        AgentBus(config, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"correlation_id": 5}, "correlation_id"),
        ({"reply_to": 5}, "reply_to"),
        ({"correlation_id": ""}, "correlation_id"),
    ],
)
def test_envelope_fields_of_the_wrong_type_are_refused_before_sending(
    bus: AgentBus, kwargs: dict, match: str
) -> None:
    worker = bus.consumer("typed", "g")
    worker.ensure_group()
    with pytest.raises(ConfigError, match=match):
        bus.publish("typed", 1, durable=True, **kwargs)
    assert bus.topic_length("typed") == 0
    bus.publish("typed", 1, durable=True, correlation_id="c1")
    assert [(m.payload, m.correlation_id) for m in worker.read()] == [(1, "c1")]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"group": 5}, "group"),
        ({"name": 5}, "name"),
        ({"start": "garbage"}, "start"),
        ({"start": "$$"}, "start"),
        ({"claim_idle": 0}, "claim_idle"),  # took over in-flight messages at once
        ({"claim_idle": -1}, "claim_idle"),
        ({"claim_idle": float("nan")}, "claim_idle"),
        ({"max_deliveries": 1.5}, "max_deliveries"),
        ({"max_deliveries": 0}, "max_deliveries"),
        # past 64 bits: a raw ResponseError at the first read
        ({"start": "99999999999999999999999"}, "start"),
        ({"start": "1-18446744073709551616"}, "start"),
    ],
)
def test_bad_consumer_settings_are_refused_at_construction(
    bus: AgentBus, kwargs: dict, match: str
) -> None:
    args = {"group": "g", **kwargs}
    with pytest.raises(ConfigError, match=match):
        bus.consumer("t", args.pop("group"), **args)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: w.read(count=0), "count"),
        (lambda w: w.read(count=-1), "count"),
        (lambda w: w.read(count=2.5), "count"),
        (lambda w: w.read(block=-1), "block"),
        (lambda w: w.read(block=float("nan")), "block"),
        (lambda w: w.claim(-1), "min_idle"),
        (lambda w: w.claim(count=0), "count"),
        # past what the server takes: a raw ResponseError ("COUNT must be > 0")
        (lambda w: w.read(count=2**64), "count"),
        (lambda w: w.read(count=2**62), "count"),
        (lambda w: w.claim(count=2**62), "count"),
    ],
)
async def test_bad_read_arguments_are_typed_errors_and_deliver_nothing(
    bus: AgentBus, aconfig: RedisAgentConfig, call: Any, match: str
) -> None:
    bus.publish("t", "job", durable=True)
    worker = bus.consumer("t", "g", "w")
    with pytest.raises(ConfigError, match=match):
        call(worker)
    with pytest.raises(ConfigError, match="count"):
        await worker.aread(count=0)
    assert worker.pending() == 0  # nothing was handed out
    assert [m.payload for m in worker.read()] == ["job"]


def test_a_request_with_a_bad_timeout_is_refused_before_publishing(bus: AgentBus) -> None:
    worker = bus.consumer("rpc", "g")
    worker.ensure_group()
    # 10**400 (an int past float range) raised OverflowError, not a ConfigError
    for timeout in (-1, 0, float("nan"), "5", True, 10**400):
        with pytest.raises(ConfigError, match="timeout must be a finite number of seconds"):
            bus.request("rpc", 1, timeout=timeout, durable=True)  # type: ignore[arg-type]
    assert bus.topic_length("rpc") == 0


async def test_a_bad_async_request_timeout_is_refused_before_publishing(
    bus: AgentBus, aconfig: RedisAgentConfig
) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        await bus.arequest("rpc", 1, timeout=-1, durable=True)
    assert bus.topic_length("rpc") == 0


# -- channels --
def test_channel_delivers_to_current_subscribers_only(bus: AgentBus) -> None:
    lost = bus.publish("news", "before anyone listened")
    assert lost.receivers == 0
    with bus.subscribe("news", "other") as sub:
        sent = bus.publish("news", {"n": 1}, correlation_id="c")
        assert sent.receivers == 1
        got = sub.get(timeout=2)
        assert got is not None
        assert (got.id, got.payload, got.sender, got.correlation_id) == (
            sent.id,
            {"n": 1},
            "tester",
            "c",
        )
        assert sub.get(timeout=0.05) is None  # the early message never arrives


async def test_async_channel_and_request_reply(bus: AgentBus, aconfig: RedisAgentConfig) -> None:
    async with bus.asubscribe("jobs") as jobs:

        async def responder() -> None:
            req = await jobs.get(timeout=5)
            assert req is not None
            await bus.areply(req, {"echo": req.payload})

        task = asyncio.create_task(responder())
        reply = await bus.arequest("jobs", "ping", timeout=5)
        await task
    assert reply.payload == {"echo": "ping"}
    with pytest.raises(BusTimeoutError, match="no reply"):
        await bus.arequest("nobody-listens", "ping", timeout=0.2)


def test_sync_request_reply_over_a_durable_topic(bus: AgentBus) -> None:
    worker = bus.consumer("rpc", "workers", "w1")
    worker.ensure_group()

    def serve() -> None:
        req = worker.receive(timeout=5)
        assert req is not None
        bus.reply(req, req.payload * 2)
        worker.ack(req)

    thread = threading.Thread(target=serve)
    thread.start()
    reply = bus.request("rpc", 21, timeout=5, durable=True)
    thread.join()
    assert reply.payload == 42
    assert worker.pending() == 0
    with pytest.raises(BusTimeoutError):
        bus.request("rpc-nobody", 1, timeout=0.2)


def test_reply_to_a_non_request_is_a_config_error(bus: AgentBus) -> None:
    with pytest.raises(ConfigError, match="not a request"):
        bus.reply(make_envelope("t", 1, sender="x"), 2)


@pytest.mark.parametrize(
    "target",
    [
        lambda bus: bus.channel("payments"),  # another topic's subscribers
        lambda bus: "other-app:commands",  # outside the namespace
        lambda bus: bus.config.keys.bus_reply("someone-else"),  # another request's channel
        lambda bus: None,
    ],
)
def test_reply_goes_only_to_the_requests_own_reply_channel(
    bus: AgentBus, config: RedisAgentConfig, target: Any
) -> None:
    channel = target(bus)
    listener = config.get_client().pubsub()
    listener.subscribe(channel or "unused")
    assert listener.get_message(timeout=1)["type"] == "subscribe"
    # as a responder receives it: reply_to and correlation_id are the sender's to choose
    forged = make_envelope("math", [1, 2], sender="anyone", correlation_id="c1", reply_to=channel)
    request = decode_envelope(encode_envelope(forged))
    with pytest.raises(ConfigError, match="not a request" if channel is None else "reply channel"):
        bus.reply(request, 3)
    assert listener.get_message(timeout=0.2) is None  # nothing was published there
    listener.close()
    ok = make_envelope(
        "math", 1, sender="a", correlation_id="c1", reply_to=bus.config.keys.bus_reply("c1")
    )
    assert bus.reply(ok, 2).receivers == 0


# -- durable topics --
def test_durable_topic_keeps_order_and_acks(bus: AgentBus) -> None:
    sent = [bus.publish("orders", i, durable=True) for i in range(25)]
    consumer = bus.consumer("orders", "g")  # new group starts at "0": sees the backlog
    got = []
    while batch := consumer.read(count=10):
        got += batch
    assert [m.payload for m in got] == list(range(25))
    assert [m.stream_id for m in got] == [s.stream_id for s in sent]
    assert consumer.pending() == 25
    assert consumer.ack(*got) == 25
    assert consumer.pending() == 0


async def test_pending_and_topic_length_have_async_twins(bus: AgentBus) -> None:
    # bus.md: every method has an asyncio twin; these two blocked the loop in async code
    for i in range(3):
        await bus.apublish("orders", i, durable=True)
    consumer = bus.consumer("orders", "g")
    assert await consumer.apending() == 0  # creates the group, as pending() does
    got = await consumer.aread(count=2)
    assert (await consumer.apending(), await bus.atopic_length("orders")) == (2, 3)
    await consumer.aack(*got)
    assert (await consumer.apending(), consumer.pending()) == (0, 0)
    assert await bus.atopic_length("nothing") == bus.topic_length("nothing") == 0


def test_groups_each_get_everything_consumers_in_a_group_share(bus: AgentBus) -> None:
    for i in range(10):
        bus.publish("t", i, durable=True)
    a, b = bus.consumer("t", "g1", "a"), bus.consumer("t", "g1", "b")
    other = bus.consumer("t", "g2", "c")
    got_a, got_b = a.read(count=5), b.read(count=100)
    assert sorted(m.payload for m in got_a + got_b) == list(range(10))
    assert not {m.stream_id for m in got_a} & {m.stream_id for m in got_b}
    assert [m.payload for m in other.read(count=100)] == list(range(10))


def test_new_group_with_dollar_start_sees_only_new_messages(bus: AgentBus) -> None:
    bus.publish("t", "old", durable=True)
    late = bus.consumer("t", "late", start="$")
    late.ensure_group()
    bus.publish("t", "new", durable=True)
    assert [m.payload for m in late.read()] == ["new"]


def test_message_held_by_a_dead_consumer_goes_to_another(bus: AgentBus) -> None:
    for i in range(3):
        bus.publish("work", i, durable=True)
    doomed = bus.consumer("work", "g", "doomed", claim_idle=None)
    held = doomed.read(count=2)  # read, never acked: the consumer "dies" here
    assert [m.payload for m in held] == [0, 1]
    # not idle long enough (an hour: no slow machine can race it): only the new one
    patient = bus.consumer("work", "g", "survivor", claim_idle=3600)
    first = patient.read(count=10)
    assert [m.payload for m in first] == [2]
    patient.ack(*first)
    survivor = bus.consumer("work", "g", "survivor", claim_idle=0.05)
    time.sleep(0.1)  # idle time only grows: >= 0.1 s > claim_idle whatever the load
    claimed = survivor.read(count=10)
    assert [m.payload for m in claimed] == [0, 1]
    assert [m.stream_id for m in claimed] == [m.stream_id for m in held]
    survivor.ack(*claimed)
    assert survivor.pending() == 0


def test_topic_length_is_bounded(config: RedisAgentConfig) -> None:
    bus = AgentBus(config, maxlen=100)
    client = config.get_client()
    pipe = client.pipeline(transaction=False)
    for i in range(1000):
        pipe.xadd(
            bus.stream("t"),
            {"e": encode_envelope(make_envelope("t", i, sender="s"))},
            maxlen=100,
            approximate=True,
        )
    pipe.execute()
    bus.publish("t", "last", durable=True)
    assert 100 <= bus.topic_length("t") < 300


def test_corrupt_stream_entry_is_dropped_not_redelivered_forever(bus: AgentBus) -> None:
    bus.config.get_client().xadd(bus.stream("t"), {"e": b"garbage"})
    bus.publish("t", "good", durable=True)
    consumer = bus.consumer("t", "g")
    assert [m.payload for m in consumer.read()] == ["good"]
    consumer.ack(*consumer.read())  # nothing more
    assert consumer.pending() == 1  # only "good", not yet acked; garbage was acked


async def test_async_consumer_reads_acks_and_waits(
    bus: AgentBus, aconfig: RedisAgentConfig
) -> None:
    consumer = bus.consumer("a", "g")
    assert await consumer.areceive(timeout=0.1) is None
    await bus.apublish("a", {"k": "v"}, durable=True)
    msg = await consumer.areceive(timeout=2)
    assert msg is not None and msg.payload == {"k": "v"}
    assert await consumer.aack(msg) == 1


# -- faults --
def test_redis_down_raises_a_typed_error_quickly(tmp_path) -> None:
    cfg = RedisAgentConfig(url=f"unix://{tmp_path}/nothing.sock", retries=0)
    bus = AgentBus(cfg)  # construction does no I/O
    started = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="publishing to bus topic"):
        bus.publish("t", 1)
    with pytest.raises(RedisUnavailableError):
        bus.publish("t", 1, durable=True)
    with pytest.raises(RedisUnavailableError):
        bus.consumer("t", "g").read()
    with pytest.raises(RedisUnavailableError):
        bus.subscribe("t")
    assert time.monotonic() - started < 5


async def test_a_failed_subscribe_is_not_kept_half_made(tmp_path) -> None:
    bus = AgentBus(RedisAgentConfig(url=f"unix://{tmp_path}/nothing.sock", retries=0))
    sub = Subscription(bus, [bus.channel("t")])
    asub = bus.asubscribe("t")
    for _ in range(2):  # the retry must try again, not pretend to be subscribed
        with pytest.raises(RedisUnavailableError, match="subscribing"):
            sub.start()
        with pytest.raises(RedisUnavailableError, match="subscribing"):
            await asub.start()
    with pytest.raises(RedisUnavailableError):
        sub.get(timeout=0.1)
    with pytest.raises(RedisUnavailableError):
        await asub.get(timeout=0.1)


@pytest.mark.parametrize("topic", ["a:b", "{tag}*?[x]", "ünï/😀 topic", "100%"])
async def test_any_string_is_a_topic_and_topics_do_not_mix(
    bus: AgentBus, aconfig: RedisAgentConfig, topic: str
) -> None:
    with bus.subscribe(topic) as sub, bus.subscribe("a") as other:
        assert bus.publish(topic, topic).receivers == 1
        got = sub.get(timeout=2)
        assert got is not None and (got.topic, got.payload) == (topic, topic)
        assert other.get(timeout=0.05) is None
    bus.publish(topic, {"t": topic}, durable=True)
    bus.publish("a", "not mine", durable=True)
    consumer = bus.consumer(topic, "g")
    assert [m.payload for m in await consumer.aread(count=10)] == [{"t": topic}]


# -- cluster --
@pytest.mark.cluster
def test_durable_topic_and_channel_on_a_cluster(cluster_config: RedisAgentConfig) -> None:
    bus = AgentBus(cluster_config)
    consumer = bus.consumer("c", "g")
    for i in range(5):
        bus.publish("c", i, durable=True)
    got = consumer.read(count=10)
    assert [m.payload for m in got] == list(range(5))
    assert consumer.ack(*got) == 5
    with bus.subscribe("live") as sub:
        bus.publish("live", "hi")
        msg = sub.get(timeout=2)
    assert msg is not None and msg.payload == "hi"


def test_message_ids_stay_unique_across_fork_and_user_seeding() -> None:
    import os
    import random

    random.seed(1)
    first = make_envelope("t", 1, sender="s").id
    random.seed(1)
    assert make_envelope("t", 1, sender="s").id != first  # user seeding cannot repeat ids
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next id
        os.write(write, make_envelope("t", 1, sender="s").id.encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child_id = os.read(read, 64).decode()
    assert child_id != make_envelope("t", 1, sender="s").id
    assert len(child_id) == 32


@pytest.mark.parametrize("use_async", [False, True])
async def test_poison_message_goes_to_the_dead_topic(
    bus: AgentBus, aconfig: RedisAgentConfig, use_async: bool
) -> None:
    bus.publish("jobs", "poison", durable=True)
    bus.publish("jobs", "fine", durable=True)
    for n in range(2):  # two consumers in turn take it and "crash": 2 deliveries
        c = bus.consumer("jobs", "g", f"c{n}", claim_idle=0.01, max_deliveries=2)
        await asyncio.sleep(0.02)  # idle for longer than claim_idle
        got = (await c.aread(count=1)) if use_async else c.read(count=1)
        assert [m.payload for m in got] == ["poison"]
    last = bus.consumer("jobs", "g", "last", claim_idle=0.01, max_deliveries=2)
    await asyncio.sleep(0.02)
    got = (await last.aread(count=10)) if use_async else last.read(count=10)
    assert [m.payload for m in got] == ["fine"]  # the poison was buried, not handed out
    dead = bus.consumer("jobs.dead", "ops").read()
    assert [m.payload for m in dead] == ["poison"]
    assert last.pending() == 1  # only "fine", read and not yet acked


@pytest.mark.parametrize("use_async", [False, True])
async def test_an_acked_trim_keeps_what_a_lagging_group_has_not_acked(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, use_async: bool
) -> None:
    """The length trim drops messages a group has not read, without a word (maxlen=100,
    a group created before 1,000 publishes read 112); trim='acked' (XADD ... ACKED,
    Redis >= 8.2) trims only what every group acked."""
    for trim in ("length", "acked"):
        bus = AgentBus(config, maxlen=50, trim=trim)  # type: ignore[arg-type]
        topic = f"jobs-{trim}"
        worker = bus.consumer(topic, "lagging")
        worker.ensure_group()
        for i in range(300):
            if use_async:
                await bus.apublish(topic, i, durable=True)
            else:
                bus.publish(topic, i, durable=True)
        got: list[Any] = []
        while batch := worker.read(count=500):
            got += batch
        if trim == "length":
            assert len(got) < 300  # the oldest were trimmed before the group read them
            continue
        assert [m.payload for m in got] == list(range(300))
        worker.ack(*got)
        _, command = bus.publish_command(topic, "one more")  # the same trim, sent raw
        bus.config.get_client().execute_command(*command)
        assert bus.topic_length(topic) == 50  # acked: trimmed to maxlen again
    with pytest.raises(ConfigError, match="trim"):
        AgentBus(config, trim="newest")  # type: ignore[arg-type]


@pytest.mark.parametrize("use_async", [False, True])
async def test_idle_consumers_holding_nothing_are_deleted(
    bus: AgentBus, aconfig: RedisAgentConfig, use_async: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every consumer name a group saw stayed in Redis for good (~290 bytes each): an
    agent built per request, whose bus tools name a consumer of their own, left one per
    request (3,000 requests: 5 KB -> 878 KB of stream). The claim sweep deletes those
    that hold no message once idle for FORGET_AFTER; one holding a message stays, and the
    message is still claimed."""
    from redis_agent_core.bus import streams

    bus.publish("jobs", "held", durable=True)
    holder = bus.consumer("jobs", "g", "holder", claim_idle=None)
    assert [m.payload for m in holder.read(count=1)] == ["held"]  # read, never acked
    for _ in range(20):  # agents built per request: each reads once with its own name
        assert BusTools(bus, group="g").wait_for_message("jobs", 0.01).startswith("No message")
    client = bus.config.get_client()
    assert len(client.xinfo_consumers(bus.stream("jobs"), "g")) == 21  # none idle an hour
    monkeypatch.setattr(streams, "FORGET_AFTER", 0.2, raising=False)  # old code: none
    await asyncio.sleep(0.3)
    sweeper = bus.consumer("jobs", "g", "sweeper", claim_idle=60)  # claims nothing yet
    got = (await sweeper.aread(count=5)) if use_async else sweeper.read(count=5)
    assert got == []
    names = {c["name"] for c in client.xinfo_consumers(bus.stream("jobs"), "g")}
    assert names == {b"holder", b"sweeper"}  # idle as long, but holding a message
    got = (await sweeper.aclaim(min_idle=0)) if use_async else sweeper.claim(min_idle=0)
    assert [m.payload for m in got] == ["held"]  # still there to claim


def test_consumer_process_killed_holding_a_message(bus: AgentBus, redis_url: str) -> None:
    import signal
    import subprocess
    import sys

    bus.publish("crash", {"step": 1}, durable=True)
    code = (
        "import sys, time\n"
        "from redis_agent_core import AgentBus, RedisAgentConfig\n"
        f"bus = AgentBus(RedisAgentConfig(url={redis_url!r}, namespace={bus.config.namespace!r}))\n"
        "msgs = bus.consumer('crash', 'workers', 'doomed').read(count=1)\n"
        "print(msgs[0].payload['step'], flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"1"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    survivor = bus.consumer("crash", "workers", "survivor", claim_idle=0.05)
    time.sleep(0.1)
    got = survivor.read(count=10)
    assert [m.payload for m in got] == [{"step": 1}]
    survivor.ack(*got)
    assert survivor.pending() == 0


@pytest.mark.parametrize("wait", [float("nan"), float("inf"), -1, True, "5"])
def test_a_tool_wait_cap_that_is_no_cap_is_refused(bus: AgentBus, wait: object) -> None:
    # NaN or inf turned the cap off: a model asking for a 10**9 s wait blocked its agent
    with pytest.raises(ConfigError, match="max_wait"):
        BusTools(bus, group="g", max_wait=wait)  # type: ignore[arg-type]
    assert BusTools(bus, group="g", max_wait=0).max_wait == 0.0
