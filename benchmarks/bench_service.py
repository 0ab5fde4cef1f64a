"""The reference service under load: ``redis-agent serve`` on the embedded Redis, N
clients posting ``/chat`` in a loop.

Scenarios: **hits** (one repeated question, answered from the cache), **reworded**
(that question in other words each time: a greeting, preface or sign-off, so the
semantic cache's guards and pair scorer check every hit), **misses**
(a new question every time: embedding, retrieval, model, cache store) and **mix**
(30 % repeats of earlier questions). The model is :mod:`benchmarks.fake_openai`, an
OpenAI-compatible endpoint that answers after a fixed delay (0 ms and 500 ms), so the
figures are the service's own. Every request opens a fresh session, so a repeated
question has the same (empty) context and may be served from the cache.

Reported per run: requests/s, latency p50 / p99 / max, the server's event-loop lag
(p99 and max over its processes, from ``/stats``) and errors (non-200 answers or
failed requests). ``BENCH_SERVICE_WORKERS`` (default: the number of cores) sets
``--workers``; ``BENCH_SERVICE_SECONDS`` the length of a run;
``BENCH_SERVICE_MAX_IN_FLIGHT`` (default 8) the workers' ``--max-in-flight``;
``BENCH_SERVICE_ONLY`` (``model-ms:scenario:clients,...``) runs only those rows.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson

from .common import bench_server, machine_note, table

CLIENTS = (1, 4, 16, 64)
REPEAT_SHARE = 0.3
SETTLE_S = 2.5  # longer than the workers' publishing interval of their counters
WORDS = (
    "redis cache vector index stream queue model token budget latency memory cluster "
    "python agent session history prompt answer river mountain garden window library "
    "engine planet orange violin harbor winter summer castle forest desert ocean bridge "
    "camera pencil rocket saddle tunnel wallet yogurt zebra anchor basket candle dragon "
    "eagle falcon glacier hammer island jacket kettle lantern magnet needle oyster parrot "
    "quartz rabbit salmon tiger umbrella velvet walnut"
).split()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (e.g. 405 to a GET of a POST route)
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def fake_model(delay_ms: float) -> Iterator[str]:
    """The fake OpenAI endpoint in its own process; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.fake_openai",
            "--port",
            str(port),
            "--delay-ms",
            str(delay_ms),
        ],
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/v1/chat/completions", proc, 30)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop(proc)


@contextmanager
def service(redis_url: str, model_url: str, workers: int) -> Iterator[tuple[str, int]]:
    """``redis-agent serve`` with limits out of the way; yields its base URL and pid."""
    port = _free_port()
    env = dict(os.environ)
    env.update(OPENAI_BASE_URL=model_url, OPENAI_API_KEY="bench", OPENAI_MODEL="fake")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "redis_agent_core.cli", "serve", "--no-queue"),
            *("--port", str(port), "--redis-url", redis_url, "--workers", str(workers)),
            *("--requests-per-minute", str(10**9), "--tokens-per-day", str(10**12)),
            *("--max-in-flight", os.environ.get("BENCH_SERVICE_MAX_IN_FLIGHT") or "8"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/health", proc, 180)
        yield base, proc.pid
    finally:
        _stop(proc)


class CpuMeter:
    """CPU seconds spent by the service's processes and by Redis: on a shared machine
    the CPU per request holds steadier than requests per second."""

    def __init__(self, service_pid: int, redis_url: str) -> None:
        import psutil
        import redis

        self._service = psutil.Process(service_pid)
        info = redis.Redis.from_url(redis_url).info("server")
        self._redis = psutil.Process(int(info["process_id"]))

    @staticmethod
    def _cpu(procs: list[Any]) -> float:
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
            except Exception:  # a worker that exited
                continue
            total += t.user + t.system
        return total

    def read(self) -> tuple[float, float]:
        procs = [self._service, *self._service.children(recursive=True)]
        return self._cpu(procs), self._cpu([self._redis])


@dataclass
class Run:
    scenario: str
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    hits: int = 0
    lag_p99_ms: float | None = None
    lag_max_ms: float | None = None
    service_cpu_s: float = 0.0
    redis_cpu_s: float = 0.0
    load: float = 0.0  # the machine's 1-minute load average after the run
    idle_lag_p99_ms: float = 0.0
    steal: float = 0.0  # share of the machine's CPU time stolen by the hypervisor
    client_cpu_s: float = 0.0  # CPU of the load generator (this process) in the run
    split: list[int] = field(default_factory=list)  # requests per worker, most first
    batch: float = 0.0  # questions per embedding call in the run (all workers)
    reconnects: int = 0  # connections the server closed and the clients reopened

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    def row(self, delay_ms: float) -> list[Any]:
        n = len(self.latencies)
        served = sum(self.split)
        lag = "n/a" if self.lag_p99_ms is None else f"{self.lag_p99_ms:.1f}"
        lag_max = "n/a" if self.lag_max_ms is None else f"{self.lag_max_ms:.1f}"
        return [
            f"{delay_ms:.0f}",
            self.scenario,
            self.clients,
            round(n / self.seconds, 1),
            round(self.pct(0.5), 1),
            round(self.pct(0.99), 1),
            round(max(self.latencies, default=float("nan")) * 1000, 1),
            f"{self.hits / n:.0%}" if n else "-",
            round(self.service_cpu_s * 1000 / n, 2) if n else "-",
            round(self.redis_cpu_s * 1000 / n, 2) if n else "-",
            round(self.client_cpu_s * 1000 / n, 2) if n else "-",
            " / ".join(f"{k / served:.0%}" for k in self.split) if served else "-",
            self.reconnects,
            round(self.batch, 1) if self.batch else "-",
            lag,
            lag_max,
            round(self.idle_lag_p99_ms, 1),
            self.errors,
            f"{self.steal:.0%}",
            f"{self.load:.1f}",
        ]


_PREFACES = ("", "hi, ", "hello! ", "hey ", "quick one: ", "please tell me ", "ok so ", "sorry, ")
_SIGN_OFFS = ("", " thanks", " thank you!", " cheers", " pls", " any idea?", " :)")


def _reworded(rng: random.Random, question: str) -> str:
    """``question`` with a random preface and sign-off (56 forms, the plain one excluded)."""
    while True:
        text = rng.choice(_PREFACES) + question + rng.choice(_SIGN_OFFS)
        if text != question:
            return text


def _question(rng: random.Random) -> str:
    return "what links " + " and ".join(rng.sample(WORDS, 6)) + "?"


class Client:
    """One user with an API key on one keep-alive connection; every request in a fresh
    session.

    Raw HTTP/1.1 over asyncio streams, not aiohttp: the load generator shares the two
    cores with the service, and a client that parses less leaves more of them to it
    (the same requests and headers; a response without ``Content-Length`` is refused).
    """

    def __init__(self, base: str, key: str) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self.head = (
            f"POST /chat HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
        ).encode()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.connections = 0  # connections opened (the server may close one)

    def body(self, message: str) -> bytes:
        return orjson.dumps({"session_id": os.urandom(8).hex(), "message": message})

    async def post(self, message: str) -> tuple[int, bytes]:
        """Status and body of one ``POST /chat``."""
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
            self.connections += 1
        reader, writer = self._streams
        body = self.body(message)
        writer.write(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            status, length, close = _parse_head(head)
            data = await reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, content length, whether the server closes) of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length: int | None = None
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    if length is None:
        raise ValueError("a response without Content-Length: the bench client reads no other")
    return status, length, close


def issue_keys(redis_url: str, count: int) -> list[str]:
    """API keys of ``count`` bench users, in the service's (default) namespace."""
    from redis_agent_core.apikeys import ApiKeys
    from redis_agent_core.config import RedisAgentConfig

    keys = ApiKeys(RedisAgentConfig.from_env(url=redis_url))
    return [keys.create(f"bench-user-{i}") for i in range(count)]


def _processes(base: str) -> list[dict[str, Any]]:
    """Every live worker's snapshot from ``/stats`` (counters, loop lag of the last 5 s)."""
    import urllib.request

    with urllib.request.urlopen(base + "/stats", timeout=30) as resp:
        stats = orjson.loads(resp.read())
    return stats.get("processes") or ([stats["process"]] if "process" in stats else [])


def _loop_lag(procs: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """The worst event-loop lag p99 and max among the server's processes."""
    p99 = [p["loop_lag_ms"]["p99"] for p in procs if p.get("loop_lag_ms")]
    mx = [p["loop_lag_ms"]["max"] for p in procs if p.get("loop_lag_ms")]
    return (max(p99) if p99 else None, max(mx) if mx else None)


def _requests(procs: list[dict[str, Any]]) -> dict[str, int]:
    return {str(p["process"]): int(p.get("requests", 0)) for p in procs}


def _embedding(procs: list[dict[str, Any]]) -> tuple[int, int]:
    """Model calls and texts embedded by every worker's batching embedder so far."""
    calls = sum(int((p.get("embedding") or {}).get("calls", 0)) for p in procs)
    texts = sum(int((p.get("embedding") or {}).get("texts", 0)) for p in procs)
    return calls, texts


def worker_split(before: dict[str, int], after: dict[str, int]) -> list[int]:
    """Requests each worker served between two snapshots, most first."""
    return sorted((n - before.get(label, 0) for label, n in after.items()), reverse=True)


def _cpu_ticks() -> list[int]:
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of the machine's CPU time the hypervisor gave to others (``steal`` of
    ``/proc/stat``): this VM's vCPUs stood still, whatever ran on them."""
    delta = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(delta[:8])  # user nice system idle iowait irq softirq steal
    return delta[7] / total if total else 0.0


async def _run(
    base: str, keys: list[str], scenario: str, clients: int, seconds: float, seed: str
) -> Run:
    rng = random.Random(seed)
    repeated = "what is a semantic cache?"
    asked: list[str] = [repeated]
    run = Run(scenario, clients, seconds)
    users = [Client(base, keys[i]) for i in range(clients)]
    # the repeated question is cached before the clock starts; every client connects
    # first, so the connections' spread over the workers is set before the clock too
    await users[0].post(repeated)
    await asyncio.gather(*(u.post(repeated) for u in users[1:]))

    async def one(client: Client, message: str) -> None:
        start = time.perf_counter()
        try:
            status, data = await asyncio.wait_for(client.post(message), 60)
            ok = status == 200
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            ok, data = False, b""
        run.latencies.append(time.perf_counter() - start)
        if not ok:
            run.errors += 1
        elif b'"cached":true' in data:
            run.hits += 1

    deadline = time.perf_counter() + seconds

    async def worker(client: Client) -> None:
        while time.perf_counter() < deadline:
            if scenario == "hits":
                message = repeated
            elif scenario == "reworded":
                message = _reworded(rng, repeated)
            elif scenario == "mix" and rng.random() < REPEAT_SHARE:
                message = rng.choice(asked)
            else:
                message = _question(rng)
                if scenario == "mix":
                    asked.append(message)
            await one(client, message)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(u) for u in users))
    finally:
        for u in users:
            u.close()
    run.seconds = time.perf_counter() - started
    run.reconnects = sum(u.connections for u in users) - clients
    return run


HEADERS = [
    "model ms",
    "scenario",
    "clients",
    "req/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "cached",
    "service CPU ms/req",
    "Redis CPU ms/req",
    "client CPU ms/req",
    "requests per worker",
    "reconnects",
    "texts per embedding call",
    "loop lag p99 ms",
    "loop lag max ms",
    "idle loop lag p99 ms",
    "errors",
    "steal",
    "load avg",
]


# An idle event loop beside the service: its lag is what the machine alone adds (the
# OS scheduler on busy cores), not the service's own work.
_IDLE_LOOP = """
import asyncio, json, sys, time
async def main(seconds):
    lags, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        await asyncio.sleep(0.02)
        lags.append(time.perf_counter() - t - 0.02)
    lags.sort()
    print(json.dumps([lags[int(len(lags) * 0.99)] * 1000, lags[-1] * 1000]))
asyncio.run(main(float(sys.argv[1])))
"""


def measure_one(
    base: str,
    keys: list[str],
    cpu: CpuMeter,
    scenario: str,
    clients: int,
    seconds: float,
    idle_cpus: set[int] | None = None,
) -> Run:
    """One run, with the CPU the service and Redis spent on it and the lag of an idle
    loop (on ``idle_cpus``: those of the service)."""
    import json

    # every worker publishes its counters every 2 s: after a quiet pause, all are current
    time.sleep(SETTLE_S)
    procs = _processes(base)
    before, embedded_before = _requests(procs), _embedding(procs)
    idle = subprocess.Popen(
        [sys.executable, "-c", _IDLE_LOOP, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    if idle_cpus:
        os.sched_setaffinity(idle.pid, idle_cpus)
    service_before, redis_before = cpu.read()
    client_before, ticks_before = time.process_time(), _cpu_ticks()
    run = asyncio.run(_run(base, keys, scenario, clients, seconds, seed=f"{scenario}-{clients}"))
    run.client_cpu_s = time.process_time() - client_before
    run.steal = steal_share(ticks_before, _cpu_ticks())
    service_after, redis_after = cpu.read()
    run.lag_p99_ms, run.lag_max_ms = _loop_lag(_processes(base))
    time.sleep(SETTLE_S)
    procs = _processes(base)
    run.split = worker_split(before, _requests(procs))
    calls, texts = (a - b for a, b in zip(_embedding(procs), embedded_before, strict=True))
    run.batch = texts / calls if calls else 0.0
    out, _ = idle.communicate(timeout=60)
    run.idle_lag_p99_ms = json.loads(out)[0]
    run.service_cpu_s = service_after - service_before
    run.redis_cpu_s = redis_after - redis_before
    run.load = os.getloadavg()[0]
    return run


PINNED_ROWS = ("0:hits:16", "0:misses:16", "0:misses:64")


def _selected(delay_ms: float | str, scenario: str, clients: int | str) -> bool:
    """Whether ``BENCH_SERVICE_ONLY`` (e.g. ``0:misses:64,0:mix:64``; empty: every row)
    asks for this row."""
    only = os.environ.get("BENCH_SERVICE_ONLY")
    if not only:
        return True
    return f"{float(delay_ms):.0f}:{scenario}:{clients}" in {r.strip() for r in only.split(",")}


def measure(
    workers: int,
    delay_ms: float,
    scenarios: tuple[str, ...],
    seconds: float,
    *,
    pinned: bool = False,
    rows_wanted: tuple[str, ...] = (),
) -> list[list[Any]]:
    """Rows of one model delay. ``pinned``: Redis and the service on every core but the
    last, the load generator and the fake model on the last (what the service's loops
    lag when the clients cannot take their cores); ``rows_wanted``: only these
    ``model-ms:scenario:clients`` rows."""
    every = os.sched_getaffinity(0)
    last = {max(every)}
    server_cpus, client_cpus = (every - last, last) if pinned and len(every) > 1 else (every, every)
    rows = []
    try:
        os.sched_setaffinity(0, server_cpus)  # inherited by Redis
        with bench_server() as url:
            os.sched_setaffinity(0, client_cpus)
            with fake_model(delay_ms) as model_url:
                os.sched_setaffinity(0, server_cpus)  # inherited by every worker
                with service(url, model_url, workers) as (base, pid):
                    os.sched_setaffinity(0, client_cpus)  # the clients run here
                    keys = issue_keys(url, max(CLIENTS))
                    cpu = CpuMeter(pid, url)
                    for scenario in scenarios:
                        for clients in CLIENTS:
                            row = f"{delay_ms:.0f}:{scenario}:{clients}"
                            if rows_wanted and row not in rows_wanted:
                                continue
                            if not _selected(delay_ms, scenario, clients):
                                continue
                            run = measure_one(
                                base, keys, cpu, scenario, clients, seconds, idle_cpus=server_cpus
                            )
                            rows.append(run.row(delay_ms))
                            print(" | ".join(str(v) for v in rows[-1]), flush=True)
    finally:
        os.sched_setaffinity(0, every)
    return rows


ABOUT = " ".join(
    """the fake OpenAI endpoint (`benchmarks/fake_openai.py`) answering after 'model ms';
N clients in one process (raw HTTP/1.1, one keep-alive connection each) posting `/chat`
with an API key in a loop for {seconds:.0f} s, each request in a fresh session. 'cached':
share of answers served from the cache. 'service CPU ms/req', 'Redis CPU ms/req',
'client CPU ms/req': CPU seconds the service's processes, redis-server and the load
generator spent in the run, per request (steadier than req/s when the machine is shared).
'requests per worker': each worker's share of the requests (a keep-alive connection stays
on the worker that accepted it; 'reconnects': connections a worker closed to even them
out, which the client opened again); 'texts per embedding call': questions the workers'
batching embedders sent to the model per call. Loop lag: the server's own monitor
(`redis_agent_service/loop_lag.py`, last 5 s of the run, worst worker); 'idle loop lag':
an idle event loop in another process at the same time, i.e. what the busy machine alone
adds. 'steal': share of the machine's CPU time the hypervisor withheld during the run
(`/proc/stat`; this VM's vCPUs stop in chunks of about 100 ms, which every loop sees as
lag). 'load avg': the machine's 1-minute load average after the run (2 cores; other work
was running on them). Clients, workers, Redis and the fake model share the cores.""".split()
)


def main(full: bool = False) -> str:
    workers = int(os.environ.get("BENCH_SERVICE_WORKERS") or os.cpu_count() or 1)
    seconds = float(os.environ.get("BENCH_SERVICE_SECONDS") or (15 if full else 8))
    rows = []
    for delay_ms, scenarios in (
        (0, ("hits", "reworded", "misses", "mix")),
        (500, ("misses", "mix")),
    ):
        if any(_selected(delay_ms, s, c) for s in scenarios for c in CLIENTS):
            rows += measure(workers, delay_ms, scenarios, seconds)
    pinned = []
    if len(os.sched_getaffinity(0)) > 1 and any(_selected(*r.split(":")) for r in PINNED_ROWS):
        pinned = measure(
            workers, 0, ("hits", "misses"), seconds, pinned=True, rows_wanted=PINNED_ROWS
        )
    parts = [
        "# Reference service under load",
        f"`redis-agent serve --no-queue --workers {workers}` on the embedded Redis, "
        + ABOUT.format(seconds=seconds),
        table(HEADERS, rows),
    ]
    if pinned:
        parts += [
            "## Clients apart: Redis and the workers on every core but the last, the load "
            "generator and the fake model on the last (`sched_setaffinity`, as `taskset`); "
            "the idle loop runs on the service's cores",
            table(HEADERS, pinned),
        ]
    return "\n\n".join([*parts, machine_note()])


if __name__ == "__main__":
    print(main(full="--full" in sys.argv))
