"""Rate limiting: single-client acquire latency and exactness across 4 processes.

Side by side on one server, same run: this pack's ``RateLimiter`` (exact sliding log
on the server's clock, optionally with a daily token budget in the same script),
the ``limits`` library's Redis moving window, ``langchain-redis-rate-limiter`` (PyPI)
when it installs into ``benchmarks/.venv-ratelimit``, and langchain-core's
``InMemoryRateLimiter`` (per process: the baseline a distributed limiter replaces).
"""

from __future__ import annotations

import multiprocessing
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.common import bench_server, machine_note, median_us, p99_us, table, time_calls

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv-ratelimit"
LIMIT, PERIOD, PROCESSES = 100, 1.0, 4


# -- single client --
def _ours(url: str, with_budget: bool) -> Any:
    from redis_agent_core.config import RedisAgentConfig
    from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget

    limits: list[Any] = [RequestLimit(10**9, 1.0)]
    if with_budget:
        limits.append(TokenBudget.daily(10**13))
    limiter = RateLimiter(
        limits, config=RedisAgentConfig(url=url, namespace="bench"), name=f"b{with_budget}"
    )
    if with_budget:
        return lambda: limiter.try_acquire(user="u", tokens=50)
    return lambda: limiter.try_acquire(user="u")


def _limits(url: str, same_options: bool) -> Any:
    import limits
    import limits.storage
    import limits.strategies

    socket = url.removeprefix("unix://")
    options: dict[str, Any] = {}
    if same_options:  # the socket timeouts RedisAgentConfig sets (cost a poll() per read)
        options = {"socket_timeout": 5.0, "socket_connect_timeout": 2.0}
    storage = limits.storage.storage_from_string(f"redis+unix://{socket}", **options)
    window = limits.strategies.MovingWindowRateLimiter(storage)
    item = limits.parse(f"{10**9}/second")
    key = f"u{same_options}"
    return lambda: window.hit(item, key)


def _in_memory() -> Any:
    from langchain_core.rate_limiters import InMemoryRateLimiter

    limiter = InMemoryRateLimiter(requests_per_second=10**9, max_bucket_size=10**9)
    return lambda: limiter.acquire(blocking=False)


def _latency_rows(url: str, repeat: int) -> list[list[object]]:
    makers = {
        "redis-agent-pack RateLimiter (exact, request limit)": lambda: _ours(url, False),
        "redis-agent-pack RateLimiter (request + daily token budget, 1 trip)": lambda: _ours(
            url, True
        ),
        "limits MovingWindow (redis, default client)": lambda: _limits(url, False),
        "limits MovingWindow (redis, same socket timeouts as ours)": lambda: _limits(url, True),
        "langchain-core InMemoryRateLimiter (one process only)": _in_memory,
    }
    fns = {name: make() for name, make in makers.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    # interleave in rounds so load changes on this shared machine hit all alike
    rounds = 20
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name] += time_calls(fn, repeat // rounds, warmup=5)
    base = median_us(samples["limits MovingWindow (redis, default client)"])
    rows = []
    for name, s in samples.items():
        med = median_us(s)
        rows.append([name, med, p99_us(s), 1 / statistics.fmean(s), med / base])
    return rows


# -- 4 processes, 100 req/s for 3 s --
def _hammer(kind: str, url: str, namespace: str, seconds: float, barrier: Any, out: str) -> None:
    if kind == "ours":
        from redis_agent_core.config import RedisAgentConfig
        from redis_agent_core.ratelimit import RateLimiter, RequestLimit

        limiter = RateLimiter(
            [RequestLimit(LIMIT, PERIOD, per="global")],
            config=RedisAgentConfig(url=url, namespace=namespace),
            name="hammer",
        )
        limiter.peek()

        def attempt() -> float | None:
            decision = limiter.try_acquire()
            return decision.server_time if decision.allowed else None

    elif kind == "limits":
        import limits
        import limits.storage
        import limits.strategies

        storage = limits.storage.storage_from_string("redis+unix://" + url.removeprefix("unix://"))
        window = limits.strategies.MovingWindowRateLimiter(storage)
        item = limits.parse(f"{LIMIT}/second")
        key = f"hammer-{namespace}"

        def attempt() -> float | None:
            return time.time() if window.hit(item, key) else None

    else:
        from langchain_core.rate_limiters import InMemoryRateLimiter

        bucket = InMemoryRateLimiter(requests_per_second=LIMIT, max_bucket_size=LIMIT)

        def attempt() -> float | None:
            return time.time() if bucket.acquire(blocking=False) else None

    barrier.wait(60)
    end = time.time() + seconds
    admits = []
    while time.time() < end:
        t = attempt()
        if t is not None:
            admits.append(t)
    Path(out).write_text("\n".join(repr(t) for t in admits))


def _worst_window(times: list[float]) -> int:
    times.sort()
    lo = worst = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - PERIOD:
            lo += 1
        worst = max(worst, hi - lo + 1)
    return worst


def _exactness_row(kind: str, label: str, url: str, seconds: float, tmp: Path) -> list[object]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    outs = [str(tmp / f"{kind}{i}.txt") for i in range(PROCESSES)]
    procs = [
        ctx.Process(target=_hammer, args=(kind, url, f"x{kind}", seconds, barrier, out))
        for out in outs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    times: list[float] = []
    for out in outs:
        text = Path(out).read_text().strip()
        times += [float(x) for x in text.splitlines()] if text else []
    allowed = int(LIMIT * seconds / PERIOD)
    worst = _worst_window(times)
    exact = "yes" if worst <= LIMIT else "NO"
    return [label, len(times), allowed, len(times) / allowed, worst, exact]


# -- langchain-redis-rate-limiter, in its own venv (it pins its own deps) --
_PEER_CODE = r"""
import json, multiprocessing, statistics, sys, time
from pathlib import Path
from langchain_redis_rate_limiter import RedisRateLimiter

url, repeat, limit, seconds, procs, tmp = sys.argv[1:7]
repeat, limit, seconds, procs = int(repeat), int(limit), float(seconds), int(procs)

def hammer(barrier, out):
    rl = RedisRateLimiter(redis_url=url, key_prefix="peer-hammer",
                          requests_per_second=limit, max_bucket_size=limit)
    rl.acquire(blocking=False)
    barrier.wait(60)
    end = time.time() + seconds
    admits = []
    while time.time() < end:
        if rl.acquire(blocking=False):
            admits.append(time.time())
    Path(out).write_text("\n".join(repr(t) for t in admits))

if __name__ == "__main__":
    rl = RedisRateLimiter(redis_url=url, key_prefix="peer-lat",
                          requests_per_second=10**9, max_bucket_size=10**9)
    for _ in range(50):
        rl.acquire(blocking=False)
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        rl.acquire(blocking=False)
        samples.append(time.perf_counter() - t)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(procs)
    outs = [f"{tmp}/peer{i}.txt" for i in range(procs)]
    ps = [ctx.Process(target=hammer, args=(barrier, o)) for o in outs]
    for p in ps: p.start()
    for p in ps: p.join(120)
    times = []
    for o in outs:
        text = Path(o).read_text().strip()
        times += [float(x) for x in text.splitlines()] if text else []
    print(json.dumps({"samples": samples, "admits": times}))
"""


def _peer(
    url: str, repeat: int, seconds: float, tmp: Path
) -> tuple[list[float], list[float]] | str:
    """Run langchain-redis-rate-limiter in its venv; samples and admit times, or why not."""
    import json

    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        return (
            "not measured: create `benchmarks/.venv-ratelimit` and "
            "`pip install langchain-redis-rate-limiter` in it"
        )
    script = tmp / "peer.py"
    script.write_text(_PEER_CODE)
    args = [url, str(repeat), str(LIMIT), str(seconds), str(PROCESSES), str(tmp)]
    result = subprocess.run(
        [str(python), str(script), *args], capture_output=True, text=True, timeout=300
    )
    if result.returncode:
        return f"failed to run: {result.stderr.strip().splitlines()[-1]}"
    data = json.loads(result.stdout)
    return data["samples"], data["admits"]


def main(full: bool) -> str:
    import tempfile

    repeat = 20_000 if full else 4_000
    seconds = 3.0
    peer_note = ""
    with bench_server() as url, tempfile.TemporaryDirectory() as tmp:
        latency = _latency_rows(url, repeat)
        exact = [
            _exactness_row("ours", "redis-agent-pack RateLimiter", url, seconds, Path(tmp)),
            _exactness_row("limits", "limits MovingWindow (redis)", url, seconds, Path(tmp)),
            _exactness_row("memory", "langchain-core InMemoryRateLimiter", url, seconds, Path(tmp)),
        ]
        peer = _peer(url, repeat, seconds, Path(tmp))
    base = next(
        row[1] for row in latency if str(row[0]).startswith("limits MovingWindow (redis, d")
    )
    name = "langchain-redis-rate-limiter 0.1.0 (token bucket, own venv, not interleaved)"
    if isinstance(peer, str):
        peer_note = f"`langchain-redis-rate-limiter`: {peer}."
    else:
        samples, admits = peer
        med = median_us(samples)
        latency.append([name, med, p99_us(samples), 1 / statistics.fmean(samples), med / base])
        allowed = int(LIMIT * seconds / PERIOD)
        worst = _worst_window(admits)
        exact.append(
            [
                "langchain-redis-rate-limiter (token bucket)",
                len(admits),
                allowed,
                len(admits) / allowed,
                worst,
                "yes" if worst <= LIMIT else "NO",
            ]
        )
    lines = [
        "# Rate limiting",
        "",
        machine_note(),
        f"Same embedded Redis (unix socket) for all; {repeat:,} calls each, interleaved in "
        "20 rounds.",
        "",
        "## Acquire latency, one client (every call admitted)",
        "",
        table(["limiter", "median µs", "p99 µs", "ops/s", "median vs limits"], latency),
        "",
        f"## {PROCESSES} processes hammering {LIMIT} requests/s for {seconds:.0f} s",
        "",
        table(
            ["limiter", "admitted", "allowed", "ratio", "worst 1 s window", "exact"],
            exact,
        ),
        "",
        "Worst window: the most admits in any sliding 1 s window, from recorded admit times "
        "(Redis server time for redis-agent-pack, client time for the others).",
    ]
    if peer_note:
        lines += ["", peer_note]
    return "\n".join(lines) + "\n"
