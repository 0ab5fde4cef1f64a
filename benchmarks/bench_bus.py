"""AgentBus vs raw redis-py doing the same thing (the floor), on one server.

Pub/Sub: publish → receive latency (one message in flight) and messages/s (this
process publishes, a child process receives). Streams: XADD → XREADGROUP → XACK latency
and messages/s (the child reads in batches of 100 and acks each batch). The floor sends
the same JSON payload with orjson and the same commands; the bus adds its envelope
(id, topic, sender, correlation id, time), validation and parsing. Latency samples
alternate floor / bus call by call, rate rounds alternate too, so load from other
processes on a shared machine hits both alike.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import redis

from benchmarks.common import bench_server, machine_note, median_us, p99_us, table
from redis_agent_core.bus import AgentBus
from redis_agent_core.config import RedisAgentConfig

PAYLOAD = {"task": "summarise", "doc": "d-123", "result": "x" * 200, "score": 0.93}


def _pubsub_pair(raw: redis.Redis, bus: AgentBus) -> tuple[Callable[[], None], ...]:
    """One publish → receive round trip each way: (floor, bus, close)."""
    channel = f"raw:ch:{uuid.uuid4().hex}"
    pubsub = raw.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)  # the confirmation
    topic = f"lat.{uuid.uuid4().hex}"
    sub = bus.subscribe(topic)

    def floor() -> None:
        raw.publish(channel, orjson.dumps(PAYLOAD))
        msg = None
        while msg is None:
            msg = pubsub.get_message(timeout=1)
        orjson.loads(msg["data"])

    def ours() -> None:
        bus.publish(topic, PAYLOAD)
        assert sub.get(timeout=1) is not None

    def close() -> None:
        pubsub.close()
        sub.close()

    return floor, ours, close


def _stream_pair(raw: redis.Redis, bus: AgentBus) -> tuple[Callable[[], None], ...]:
    """XADD → XREADGROUP → XACK each way: (floor, bus, close)."""
    key = f"raw:st:{{{uuid.uuid4().hex}}}"
    raw.xgroup_create(key, "g", id="0", mkstream=True)
    topic = f"lat.{uuid.uuid4().hex}"
    consumer = bus.consumer(topic, "g", "c")
    consumer.ensure_group()

    def floor() -> None:
        raw.xadd(key, {"e": orjson.dumps(PAYLOAD)}, maxlen=10_000, approximate=True)
        reply = raw.xreadgroup("g", "c", {key: ">"}, count=1)
        entry_id, fields = reply[0][1][0]
        orjson.loads(fields[b"e"])
        raw.xack(key, "g", entry_id)

    def ours() -> None:
        bus.publish(topic, PAYLOAD, durable=True)
        (env,) = consumer.read(count=1)
        consumer.ack(env)

    def close() -> None:
        raw.delete(key, bus.stream(topic))

    return floor, ours, close


def _interleaved(
    floor: Callable[[], None], ours: Callable[[], None], n: int
) -> tuple[list[float], list[float]]:
    """Seconds per call of each, alternating call by call (and which goes first), so
    load from other processes on a shared machine hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        order = ((floor, a), (ours, b)) if i % 2 else ((ours, b), (floor, a))
        for fn, out in order:
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return a, b


def _receive(kind: str, url: str, name: str, n: int, ready: Any, done: Any) -> None:
    """Child process: subscribe / join the group, signal ready, drain ``n`` messages."""
    if kind.startswith("raw"):
        client = redis.Redis.from_url(url)
        if kind == "raw_ps":
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(name)
            pubsub.get_message(timeout=1)
            ready.set()
            got = 0
            while got < n:
                msg = pubsub.get_message(timeout=1)
                if msg is not None:
                    orjson.loads(msg["data"])
                    got += 1
        else:
            ready.set()
            got = 0
            while got < n:
                reply = client.xreadgroup("g", "c", {name: ">"}, count=100, block=1000)
                if not reply:
                    continue
                entries = reply[0][1]
                for _, fields in entries:
                    orjson.loads(fields[b"e"])
                client.xack(name, "g", *[e[0] for e in entries])
                got += len(entries)
    else:
        bus = AgentBus(RedisAgentConfig(url=url, namespace="benchbus"), sender="receiver")
        if kind == "bus_ps":
            with bus.subscribe(name) as sub:
                ready.set()
                got = 0
                while got < n:
                    if sub.get(timeout=1) is not None:
                        got += 1
        else:
            consumer = bus.consumer(name, "g", "c")
            ready.set()
            got = 0
            while got < n:
                batch = consumer.read(count=100, block=1.0)
                if batch:
                    consumer.ack(*batch)
                    got += len(batch)
    done.set()


def _rate(kind: str, url: str, name: str, n: int, publish: Callable[[], Any]) -> float:
    """Messages/s: this process publishes ``n``, a child process receives them."""
    ctx = mp.get_context("fork")
    ready, done = ctx.Event(), ctx.Event()
    child = ctx.Process(target=_receive, args=(kind, url, name, n, ready, done))
    child.start()
    ready.wait(30)
    start = time.perf_counter()
    for _ in range(n):
        publish()
    done.wait(120)
    elapsed = time.perf_counter() - start
    child.join(30)
    return n / elapsed


def _rates(url: str, raw: redis.Redis, bus: AgentBus, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    channel = f"raw:ch:{uuid.uuid4().hex}"
    out["raw_ps"] = _rate(
        "raw_ps", url, channel, n, lambda: raw.publish(channel, orjson.dumps(PAYLOAD))
    )
    topic = f"rate.{uuid.uuid4().hex}"
    out["bus_ps"] = _rate("bus_ps", url, topic, n, lambda: bus.publish(topic, PAYLOAD))
    key = f"raw:st:{{{uuid.uuid4().hex}}}"
    raw.xgroup_create(key, "g", id="0", mkstream=True)
    out["raw_st"] = _rate(
        "raw_st",
        url,
        key,
        n,
        lambda: raw.xadd(key, {"e": orjson.dumps(PAYLOAD)}, maxlen=100_000, approximate=True),
    )
    raw.delete(key)
    topic = f"rate.{uuid.uuid4().hex}"
    bus.consumer(topic, "g", "c").ensure_group()
    out["bus_st"] = _rate(
        "bus_st", url, topic, n, lambda: bus.publish(topic, PAYLOAD, durable=True)
    )
    raw.delete(bus.stream(topic))
    return out


def main(full: bool) -> str:
    n_lat = 5_000 if full else 1_500
    n_rate = 20_000 if full else 5_000
    rounds = 5 if full else 3
    with bench_server() as url:
        config = RedisAgentConfig(url=url, namespace="benchbus")
        bus = AgentBus(config, sender="bench", maxlen=100_000)
        raw = redis.Redis.from_url(url)
        ps_floor, ps_ours, ps_close = _pubsub_pair(raw, bus)
        st_floor, st_ours, st_close = _stream_pair(raw, bus)
        _interleaved(ps_floor, ps_ours, 300)  # warm up connections and code paths
        _interleaved(st_floor, st_ours, 300)
        lat: dict[str, list[float]] = {k: [] for k in ("raw_ps", "bus_ps", "raw_st", "bus_st")}
        rate: dict[str, list[float]] = {k: [] for k in lat}
        for _ in range(rounds):
            a, b = _interleaved(ps_floor, ps_ours, n_lat)
            lat["raw_ps"] += a
            lat["bus_ps"] += b
            a, b = _interleaved(st_floor, st_ours, n_lat)
            lat["raw_st"] += a
            lat["bus_st"] += b
            for key, value in _rates(url, raw, bus, n_rate).items():
                rate[key].append(value)
        ps_close()
        st_close()
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
            "messages published by this process and received by a child process (median of "
            "rounds; Streams read in batches of 100, one XACK per batch).",
            table(headers, rows),
            "Ratios are bus / floor (for msgs/s: floor rate / bus rate, so above 1 is "
            "slower). What the bus adds per message is client-side: a random id, a timestamp, "
            "the envelope dict, orjson encode/decode and validation. Publisher, receiver "
            "and redis-server share 2 cores.",
            machine_note()
            + f" Load average at the end of the run: {os.getloadavg()[0]:.1f} (the cores are "
            "shared with other jobs; figures are noisier when it exceeds the core count).",
        ]
    )
