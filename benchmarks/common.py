"""Helpers shared by the benchmarks: a server, timing, Markdown tables."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from redis_agent_core.server import EmbeddedRedis


@contextmanager
def bench_server() -> Iterator[str]:
    """``REDIS_URL`` if set, else a fresh embedded server for this benchmark."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with EmbeddedRedis() as server:
        yield server.url


def time_calls(
    fn: Callable[[], object],
    repeat: int,
    warmup: int = 20,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds per call of ``fn``, ``repeat`` times after ``warmup`` calls (``clock``:
    e.g. ``time.thread_time`` for the calling thread's CPU time)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = clock()
        fn()
        samples.append(clock() - start)
    return samples


def median_us(samples: Sequence[float]) -> float:
    return statistics.median(samples) * 1e6


def p99_us(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats get sensible precision."""

    def fmt(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_note() -> str:
    return (
        f"Machine: {os.cpu_count()} cores; Python {os.sys.version.split()[0]}; "
        f"run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        # the machine is often shared: say how busy it was when the table was written
        f"load average {os.getloadavg()[0]:.1f}."
    )
