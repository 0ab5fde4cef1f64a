"""Per-process counters shared through Redis, so ``/stats`` on any worker shows all.

Each worker process keeps its own counters in memory (a request must not wait on a
shared counter) and publishes a snapshot into one Redis hash, field = process label
(``host:pid``), every ``interval`` seconds and whenever ``/stats`` is read. Readers
drop snapshots older than ``stale_after`` seconds: a stopped worker fades out. With
``on_read``, each periodic publish also reads every process's snapshot and hands them
over (the workers balance their connections on them, :mod:`.balance`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson

from redis_agent_core.config import RedisAgentConfig

__all__ = ["ProcessStats", "process_label"]

logger = logging.getLogger(__name__)


def process_label() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class ProcessStats:
    """Publishes ``snapshot()`` of this process under ``key`` and reads every process's."""

    def __init__(
        self,
        config: RedisAgentConfig,
        key: str,
        snapshot: Callable[[], dict[str, Any]],
        *,
        interval: float = 2.0,
        stale_after: float = 10.0,
        on_read: Callable[[list[dict[str, Any]]], object] | None = None,
    ) -> None:
        self.config = config
        self.key = key
        self.snapshot = snapshot
        self.on_read = on_read  # given every live process's snapshot after each publish
        self.interval = interval
        self.stale_after = stale_after
        self._task: asyncio.Task[None] | None = None

    def _entry(self) -> bytes:
        label = process_label()
        return orjson.dumps({"process": label, "at": time.time(), **self.snapshot()})

    async def publish(self) -> None:
        client = self.config.get_async_client()
        pipe = client.pipeline(transaction=False)
        pipe.hset(self.key, process_label(), self._entry())
        # the hash outlives its writers by a little, never for good
        pipe.expire(self.key, int(self.stale_after * 6))
        await pipe.execute()

    async def read_all(self) -> list[dict[str, Any]]:
        """Every live process's snapshot (this one's fresh), oldest process label first."""
        await self.publish()
        raw = await self.config.get_async_client().hgetall(self.key)
        now = time.time()
        entries = [orjson.loads(v) for v in raw.values()]
        return sorted(
            (e for e in entries if now - float(e.get("at", 0)) <= self.stale_after),
            key=lambda e: str(e.get("process")),
        )

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):  # leave no stale entry behind
            await self.config.get_async_client().hdel(self.key, process_label())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                if self.on_read is None:
                    await self.publish()
                else:
                    self.on_read(await self.read_all())
            except Exception as exc:  # Redis down: /stats says so; serving goes on
                logger.debug("publishing process stats failed: %s", exc)
