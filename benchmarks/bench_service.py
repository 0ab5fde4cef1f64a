"""The reference service under load: ``redis-agent serve`` on the embedded Redis, N
clients posting ``/chat`` in a loop.

Scenarios: **hits** (one repeated question, answered from the cache), **misses**
(a new question every time: embedding, retrieval, model, cache store) and **mix**
(30 % repeats of earlier questions). The model is :mod:`benchmarks.fake_openai`, an
OpenAI-compatible endpoint that answers after a fixed delay (0 ms and 500 ms), so the
figures are the service's own. Every request opens a fresh session, so a repeated
question has the same (empty) context and may be served from the cache.

Reported per run: requests/s, latency p50 / p99 / max, the server's event-loop lag
(p99 and max over its processes, from ``/stats``) and errors (non-200 answers or
failed requests). ``BENCH_SERVICE_WORKERS`` (default: the number of cores) sets
``--workers``; ``BENCH_SERVICE_SECONDS`` the length of a run;
``BENCH_SERVICE_MAX_IN_FLIGHT`` (default 8) the workers' ``--max-in-flight``.
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

import aiohttp

from .common import bench_server, machine_note, table

CLIENTS = (1, 4, 16, 64)
REPEAT_SHARE = 0.3
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

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    def row(self, delay_ms: float) -> list[Any]:
        n = len(self.latencies)
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
            lag,
            lag_max,
            round(self.idle_lag_p99_ms, 1),
            self.errors,
            f"{self.load:.1f}",
        ]


def _question(rng: random.Random) -> str:
    return "what links " + " and ".join(rng.sample(WORDS, 6)) + "?"


class Client:
    """One user with an API key; every request in a fresh session."""

    def __init__(self, key: str) -> None:
        self.headers = {"Authorization": f"Bearer {key}"}

    def body(self, message: str) -> dict[str, str]:
        return {"session_id": os.urandom(8).hex(), "message": message}


def issue_keys(redis_url: str, count: int) -> list[str]:
    """API keys of ``count`` bench users, in the service's (default) namespace."""
    from redis_agent_core.apikeys import ApiKeys
    from redis_agent_core.config import RedisAgentConfig

    keys = ApiKeys(RedisAgentConfig.from_env(url=redis_url))
    return [keys.create(f"bench-user-{i}") for i in range(count)]


async def _loop_lag(http: aiohttp.ClientSession, base: str) -> tuple[float | None, float | None]:
    """The worst event-loop lag p99 and max among the server's processes, from /stats
    (each process keeps its last few seconds of samples)."""
    async with http.get(base + "/stats") as resp:
        stats = await resp.json()
    procs = stats.get("processes") or ([stats["process"]] if "process" in stats else [])
    p99 = [p["loop_lag_ms"]["p99"] for p in procs if p.get("loop_lag_ms")]
    mx = [p["loop_lag_ms"]["max"] for p in procs if p.get("loop_lag_ms")]
    return (max(p99) if p99 else None, max(mx) if mx else None)


async def _run(
    base: str, keys: list[str], scenario: str, clients: int, seconds: float, seed: str
) -> Run:
    rng = random.Random(seed)
    repeated = "what is a semantic cache?"
    asked: list[str] = [repeated]
    run = Run(scenario, clients, seconds)
    conn = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
        # the repeated question is cached before the clock starts
        warm = Client(keys[0])
        async with http.post(base + "/chat", json=warm.body(repeated), headers=warm.headers) as r:
            await r.read()

        async def one(client: Client, message: str) -> None:
            start = time.perf_counter()
            try:
                async with http.post(
                    base + "/chat", json=client.body(message), headers=client.headers
                ) as resp:
                    data = await resp.read()
                    ok = resp.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok, data = False, b""
            run.latencies.append(time.perf_counter() - start)
            if not ok:
                run.errors += 1
            elif b'"cached":true' in data:
                run.hits += 1

        deadline = time.perf_counter() + seconds

        async def worker(i: int) -> None:
            client = Client(keys[i])
            while time.perf_counter() < deadline:
                if scenario == "hits":
                    message = repeated
                elif scenario == "mix" and rng.random() < REPEAT_SHARE:
                    message = rng.choice(asked)
                else:
                    message = _question(rng)
                    if scenario == "mix":
                        asked.append(message)
                await one(client, message)

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        run.seconds = time.perf_counter() - started
        run.lag_p99_ms, run.lag_max_ms = await _loop_lag(http, base)
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
    "loop lag p99 ms",
    "loop lag max ms",
    "idle loop lag p99 ms",
    "errors",
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
    base: str, keys: list[str], cpu: CpuMeter, scenario: str, clients: int, seconds: float
) -> Run:
    """One run, with the CPU the service and Redis spent on it and an idle loop's lag."""
    import json

    idle = subprocess.Popen(
        [sys.executable, "-c", _IDLE_LOOP, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    service_before, redis_before = cpu.read()
    run = asyncio.run(_run(base, keys, scenario, clients, seconds, seed=f"{scenario}-{clients}"))
    service_after, redis_after = cpu.read()
    out, _ = idle.communicate(timeout=60)
    run.idle_lag_p99_ms = json.loads(out)[0]
    run.service_cpu_s = service_after - service_before
    run.redis_cpu_s = redis_after - redis_before
    run.load = os.getloadavg()[0]
    return run


def measure(
    workers: int, delay_ms: float, scenarios: tuple[str, ...], seconds: float
) -> list[list[Any]]:
    rows = []
    with bench_server() as url, fake_model(delay_ms) as model_url:
        with service(url, model_url, workers) as (base, pid):
            keys = issue_keys(url, max(CLIENTS))
            cpu = CpuMeter(pid, url)
            for scenario in scenarios:
                for clients in CLIENTS:
                    # a short settling pause: the previous run's stragglers finish
                    time.sleep(1.0)
                    run = measure_one(base, keys, cpu, scenario, clients, seconds)
                    rows.append(run.row(delay_ms))
                    print(" | ".join(str(v) for v in rows[-1]), flush=True)
    return rows


def main(full: bool = False) -> str:
    workers = int(os.environ.get("BENCH_SERVICE_WORKERS") or os.cpu_count() or 1)
    seconds = float(os.environ.get("BENCH_SERVICE_SECONDS") or (15 if full else 8))
    rows = measure(workers, 0, ("hits", "misses", "mix"), seconds)
    rows += measure(workers, 500, ("misses", "mix"), seconds)
    return "\n\n".join(
        [
            "# Reference service under load",
            f"`redis-agent serve --no-queue --workers {workers}` on the embedded Redis, "
            "the fake OpenAI endpoint (`benchmarks/fake_openai.py`) answering after "
            "'model ms'; N clients in one process (aiohttp) posting `/chat` with an API "
            f"key in a loop for {seconds:.0f} s, each request in a fresh session. "
            "'cached': share of answers served from the cache. 'service CPU ms/req' and "
            "'Redis CPU ms/req': CPU seconds the service's processes and redis-server spent "
            "in the run, per request (steadier than req/s when the machine is shared). "
            "Loop lag: the server's own monitor (`service/loop_lag.py`, last 5 s of the "
            "run, worst worker); 'idle loop lag': an idle event loop in another process "
            "at the same time, i.e. what the busy machine alone adds. 'load avg': the "
            "machine's 1-minute load average after the run (2 cores; other work was "
            "running on them). Clients, workers, Redis and the fake model share the cores.",
            table(HEADERS, rows),
            machine_note(),
        ]
    )


if __name__ == "__main__":
    print(main(full="--full" in sys.argv))
