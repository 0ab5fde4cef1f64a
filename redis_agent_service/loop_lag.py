"""Event-loop lag: how late the loop runs a callback that asked to run now.

A task sleeps ``interval`` seconds in a loop and records by how much each wake-up
overshoots. Anything that holds the loop (CPU work in a handler, a sync call, a
long GC pause, the GIL held by another thread) shows up here as lag, and every
request on that process waits as long. The service reports the last ``window``
seconds in ``/stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

__all__ = ["LoopLagMonitor"]


class LoopLagMonitor:
    """Samples the running loop's lag every ``interval`` s; keeps ``window`` s of samples."""

    def __init__(self, interval: float = 0.02, window: float = 5.0) -> None:
        self.interval = interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sampling on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._sample())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _sample(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            self.record(now, max(0.0, now - before - self.interval))

    def record(self, now: float, lag: float) -> None:
        self._samples.append((now, lag))
        horizon = now - self.window
        while self._samples and self._samples[0][0] < horizon:
            self._samples.popleft()

    def summary(self) -> dict[str, float] | None:
        """p50, p99 and max lag in ms over the window, or ``None`` before any sample."""
        if not self._samples:
            return None
        lags = sorted(lag for _, lag in self._samples)
        n = len(lags)
        return {
            "p50": round(lags[n // 2] * 1000, 2),
            "p99": round(lags[min(n - 1, int(n * 0.99))] * 1000, 2),
            "max": round(lags[-1] * 1000, 2),
            "samples": n,
        }
