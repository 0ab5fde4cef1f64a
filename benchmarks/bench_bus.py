"""AgentBus vs raw redis-py doing the same thing (the floor), on one server.

Pub/Sub: publish → receive latency (one message in flight) and messages/s (a publisher
thread and a subscriber thread). Streams: XADD → XREADGROUP → XACK latency and
messages/s (publish N, then read in batches of 100 and ack each batch). The floor sends
the same JSON payload with orjson and the same commands; the bus adds its envelope
(id, topic, sender, correlation id, time), validation and parsing. Rounds alternate
floor / bus so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable

import orjson
import redis

from benchmarks.common import bench_server, machine_note, median_us, p99_us, table
from redis_agent_core.bus import AgentBus
from redis_agent_core.config import RedisAgentConfig

PAYLOAD = {"task": "summarise", "doc": "d-123", "result": "x" * 200, "score": 0.93}


def _raw_pubsub_latency(client: redis.Redis, n: int) -> list[float]:
    channel = f"raw:ch:{uuid.uuid4().hex}"
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)  # the confirmation
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        client.publish(channel, orjson.dumps(PAYLOAD))
        msg = None
        while msg is None:
            msg = pubsub.get_message(timeout=1)
        orjson.loads(msg["data"])
        samples.append(time.perf_counter() - start)
    pubsub.close()
    return samples


def _bus_pubsub_latency(bus: AgentBus, n: int) -> list[float]:
    topic = f"lat.{uuid.uuid4().hex}"
    samples = []
    with bus.subscribe(topic) as sub:
        for _ in range(n):
            start = time.perf_counter()
            bus.publish(topic, PAYLOAD)
            env = sub.get(timeout=1)
            assert env is not None
            samples.append(time.perf_counter() - start)
    return samples


def _throughput(publish: Callable[[], None], receive_all: Callable[[int], None], n: int) -> float:
    """Messages/s with a receiver thread draining while the main thread publishes."""
    done = threading.Event()
    receiver = threading.Thread(target=lambda: (receive_all(n), done.set()))
    start = time.perf_counter()
    receiver.start()
    for _ in range(n):
        publish()
    done.wait(60)
    receiver.join()
    return n / (time.perf_counter() - start)


def _raw_pubsub_rate(client: redis.Redis, n: int) -> float:
    channel = f"raw:ch:{uuid.uuid4().hex}"
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)

    def receive_all(count: int) -> None:
        got = 0
        while got < count:
            msg = pubsub.get_message(timeout=1)
            if msg is not None:
                orjson.loads(msg["data"])
                got += 1

    rate = _throughput(lambda: client.publish(channel, orjson.dumps(PAYLOAD)), receive_all, n)
    pubsub.close()
    return rate


def _bus_pubsub_rate(bus: AgentBus, n: int) -> float:
    topic = f"rate.{uuid.uuid4().hex}"
    with bus.subscribe(topic) as sub:

        def receive_all(count: int) -> None:
            got = 0
            while got < count:
                if sub.get(timeout=1) is not None:
                    got += 1

        return _throughput(lambda: bus.publish(topic, PAYLOAD), receive_all, n)


def _raw_stream_latency(client: redis.Redis, n: int) -> list[float]:
    key = f"raw:st:{{{uuid.uuid4().hex}}}"
    client.xgroup_create(key, "g", id="0", mkstream=True)
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        client.xadd(key, {"e": orjson.dumps(PAYLOAD)}, maxlen=10_000, approximate=True)
        reply = client.xreadgroup("g", "c", {key: ">"}, count=1)
        entry_id, fields = reply[0][1][0]
        orjson.loads(fields[b"e"])
        client.xack(key, "g", entry_id)
        samples.append(time.perf_counter() - start)
    client.delete(key)
    return samples


def _bus_stream_latency(bus: AgentBus, n: int) -> list[float]:
    topic = f"lat.{uuid.uuid4().hex}"
    consumer = bus.consumer(topic, "g", "c")
    consumer.ensure_group()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        bus.publish(topic, PAYLOAD, durable=True)
        (env,) = consumer.read(count=1)
        consumer.ack(env)
        samples.append(time.perf_counter() - start)
    bus.config.get_client().delete(bus.stream(topic))
    return samples


def _raw_stream_rate(client: redis.Redis, n: int) -> float:
    key = f"raw:st:{{{uuid.uuid4().hex}}}"
    client.xgroup_create(key, "g", id="0", mkstream=True)

    def receive_all(count: int) -> None:
        got = 0
        while got < count:
            reply = client.xreadgroup("g", "c", {key: ">"}, count=100, block=1000)
            if not reply:
                continue
            entries = reply[0][1]
            for _, fields in entries:
                orjson.loads(fields[b"e"])
            client.xack(key, "g", *[e[0] for e in entries])
            got += len(entries)

    def publish() -> None:
        client.xadd(key, {"e": orjson.dumps(PAYLOAD)}, maxlen=100_000, approximate=True)

    rate = _throughput(publish, receive_all, n)
    client.delete(key)
    return rate


def _bus_stream_rate(bus: AgentBus, n: int) -> float:
    topic = f"rate.{uuid.uuid4().hex}"
    consumer = bus.consumer(topic, "g", "c")
    consumer.ensure_group()

    def receive_all(count: int) -> None:
        got = 0
        while got < count:
            batch = consumer.read(count=100, block=1.0)
            if batch:
                consumer.ack(*batch)
                got += len(batch)

    rate = _throughput(lambda: bus.publish(topic, PAYLOAD, durable=True), receive_all, n)
    bus.config.get_client().delete(bus.stream(topic))
    return rate


def main(full: bool) -> str:
    n_lat = 5_000 if full else 1_500
    n_rate = 20_000 if full else 5_000
    rounds = 5 if full else 3
    with bench_server() as url:
        config = RedisAgentConfig(url=url, namespace="benchbus")
        bus = AgentBus(config, sender="bench", maxlen=100_000)
        raw = redis.Redis.from_url(url)
        # warm both paths (connections, imports)
        _raw_pubsub_latency(raw, 200)
        _bus_pubsub_latency(bus, 200)
        _raw_stream_latency(raw, 200)
        _bus_stream_latency(bus, 200)

        lat: dict[str, list[float]] = {k: [] for k in ("raw_ps", "bus_ps", "raw_st", "bus_st")}
        rate: dict[str, list[float]] = {k: [] for k in lat}
        for _ in range(rounds):
            lat["raw_ps"] += _raw_pubsub_latency(raw, n_lat)
            lat["bus_ps"] += _bus_pubsub_latency(bus, n_lat)
            lat["raw_st"] += _raw_stream_latency(raw, n_lat)
            lat["bus_st"] += _bus_stream_latency(bus, n_lat)
            rate["raw_ps"].append(_raw_pubsub_rate(raw, n_rate))
            rate["bus_ps"].append(_bus_pubsub_rate(bus, n_rate))
            rate["raw_st"].append(_raw_stream_rate(raw, n_rate))
            rate["bus_st"].append(_bus_stream_rate(bus, n_rate))
        raw.close()
        config.close()

    def row(kind: str, raw_key: str, bus_key: str) -> list[list[object]]:
        raw_med, bus_med = median_us(lat[raw_key]), median_us(lat[bus_key])
        raw_p99, bus_p99 = p99_us(lat[raw_key]), p99_us(lat[bus_key])
        raw_rate, bus_rate = statistics.median(rate[raw_key]), statistics.median(rate[bus_key])
        return [
            [f"{kind}: raw redis-py (floor)", raw_med, raw_p99, raw_rate, "1.00", "1.00", "1.00"],
            [
                f"{kind}: AgentBus",
                bus_med,
                bus_p99,
                bus_rate,
                f"{bus_med / raw_med:.2f}",
                f"{bus_p99 / raw_p99:.2f}",
                f"{raw_rate / bus_rate:.2f}",
            ],
        ]

    rows = row("Pub/Sub", "raw_ps", "bus_ps") + row("Streams", "raw_st", "bus_st")
    headers = [
        "path",
        "median µs",
        "p99 µs",
        "msgs/s",
        "median ×floor",
        "p99 ×floor",
        "time/msg ×floor",
    ]
    return "\n\n".join(
        [
            "# Agent bus: AgentBus vs raw redis-py (the floor)",
            f"Target: ≤ 1.3× the floor. Payload: a {len(orjson.dumps(PAYLOAD))}-byte JSON "
            f"object. Latency: {rounds}×{n_lat:,} messages, one in flight, publish → "
            f"receive (Streams: XADD → XREADGROUP → XACK). Rate: {rounds}×{n_rate:,} "
            "messages, publisher and receiver threads in one process (median of rounds; "
            "Streams read in batches of 100, one XACK per batch).",
            table(headers, rows),
            "Ratios are bus / floor (for msgs/s: floor rate / bus rate, so above 1 is "
            "slower). What the bus adds per message is client-side: a uuid4, a timestamp, "
            "the envelope dict, orjson encode/decode and validation. Both sides run in one "
            "Python process sharing the GIL, so the rate rows include the receiver's "
            "parsing competing with the publisher.",
            machine_note(),
        ]
    )
