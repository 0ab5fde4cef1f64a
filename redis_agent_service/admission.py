"""Admission: how many requests of one worker do CPU work at once.

Every request in flight puts its callbacks on the one event loop; with 32 of them
ready at once, a loop turn runs them all and anything waiting (a sleep, a socket
read) waits that long: that is the loop lag of issue 20 (64 clients on 2 workers:
lag p99 41 ms on cache hits alone, 11.6 ms at 16 clients). :class:`Admission` lets at
most ``limit`` requests be in their CPU stages; the others wait in line on a future,
which costs nothing until their turn (they are not refused: a closed port or a 503
would be a worse answer than a short wait).

Waiting for the model is not a CPU stage: a request releases its slot for the call
and asks for one again after it, ahead of new requests (finishing a turn frees its
memory and answers a client; starting one only adds to the line).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Admission"]


class Admission:
    """At most ``limit`` holders of a slot at once; the rest wait first come, first
    served, those returning from the model (``resume=True``) before new ones."""

    def __init__(self, limit: int) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"an admission limit must be a positive int, got {limit!r}")
        self.limit = limit
        self.active = 0
        self.peak = 0  # most holders at once (what the tests and /stats check)
        self.waited = 0  # acquisitions that had to wait
        self._resuming: deque[asyncio.Future[None]] = deque()
        self._starting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._resuming) + len(self._starting)

    @asynccontextmanager
    async def slot(self, *, resume: bool = False) -> AsyncIterator[None]:
        """Hold a slot for the block (``resume``: a request coming back from the model)."""
        await self._acquire(resume)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, resume: bool) -> None:
        if self.active < self.limit and not self.waiting:
            self.active += 1
            self.peak = max(self.peak, self.active)
            return
        self.waited += 1
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line = self._resuming if resume else self._starting
        line.append(waiter)
        try:
            await waiter  # _release hands its slot over: self.active is unchanged
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a slot just as it was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):  # _release may have dropped it
                    line.remove(waiter)
            raise

    def _release(self) -> None:
        for line in (self._resuming, self._starting):
            while line:
                waiter = line.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self.active -= 1

    def stats(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "active": self.active,
            "waiting": self.waiting,
            "peak": self.peak,
            "waited": self.waited,
        }
