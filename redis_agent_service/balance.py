"""Keep-alive connections spread evenly over the workers of ``serve --workers N``.

A keep-alive connection stays with the worker that accepted it, and the workers share
one listening socket: a worker that wakes for a burst of new connections accepts every
one waiting, so 64 clients connecting at once were split 78 % / 22 % in one run of
``benchmarks/bench_service.py`` (issue 20), and the busier worker's requests waited
longer for their turn. Each worker therefore counts the connections it served lately
(distinct client addresses), publishes the count with its other counters
(:mod:`.process_stats`), and a worker holding more than its share closes the surplus
after their next response (``Connection: close``). Their clients reconnect, and the
kernel hands a new connection to whichever worker accepts it first.

Only counts published after this worker's last closing are trusted: until its peers
have counted the reconnected clients, their older counts would ask it to close again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .limits import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BalanceConnections", "ConnectionBalancer", "surplus"]


def surplus(mine: int, loads: Sequence[int], slack: int = 1) -> int:
    """Connections a worker holding ``mine`` should close when the live workers hold
    ``loads`` (``mine`` among them): its count over the even share, when that is
    more than ``slack``; 0 for a single worker."""
    if len(loads) < 2:
        return 0
    extra = mine - math.ceil(sum(loads) / len(loads))
    return extra if extra > slack else 0


class ConnectionBalancer:
    """This worker's recent connections and how many of them to close.

    ``window``: seconds a client address counts after its last request; ``slack``:
    connections over the even share that are tolerated (closing costs a reconnect).
    """

    def __init__(self, window: float = 3.0, slack: int = 1) -> None:
        self.window = window
        self.slack = slack
        self.to_close = 0
        self.closed = 0  # connections closed to rebalance (what /stats reports)
        self._seen: dict[Any, float] = {}
        self._last_close = -math.inf  # wall clock of the last rebalancing decision

    def seen(self, client: Any) -> None:
        """Note a request on the connection from ``client`` (ASGI ``scope["client"]``)."""
        if client is not None:
            self._seen[client] = time.monotonic()

    def connections(self) -> int:
        """Connections that carried a request in the last ``window`` seconds."""
        horizon = time.monotonic() - self.window
        for client in [c for c, at in self._seen.items() if at < horizon]:
            del self._seen[client]
        return len(self._seen)

    def rebalance(self, entries: Sequence[Mapping[str, Any]], label: str) -> int:
        """Set :attr:`to_close` from every live worker's published snapshot (``label``
        is this worker's; each carries ``connections`` and its time ``at``); returns it."""
        if any(float(e.get("at", 0)) < self._last_close for e in entries if e["process"] != label):
            return self.to_close  # a peer has not counted the last reconnections yet
        loads = {str(e["process"]): int(e.get("connections", 0)) for e in entries}
        if label not in loads:
            return self.to_close
        self.to_close = surplus(loads[label], list(loads.values()), self.slack)
        if self.to_close:
            self._last_close = time.time()
        return self.to_close

    def take(self, client: Any) -> bool:
        """Whether the response now starting on ``client``'s connection closes it."""
        if self.to_close <= 0 or client not in self._seen:
            return False
        self.to_close -= 1
        self.closed += 1
        del self._seen[client]  # it no longer counts here
        return True


class BalanceConnections:
    """ASGI middleware: count each request's connection in ``balancer`` and close the
    ones it gives up (``Connection: close`` on their response)."""

    def __init__(self, app: ASGIApp, balancer: ConnectionBalancer) -> None:
        self.app = app
        self.balancer = balancer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        balancer = self.balancer
        balancer.seen(client)

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                closing = any(name.lower() == b"connection" for name, _ in headers)
                if not closing and balancer.take(client):
                    headers.append((b"connection", b"close"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, closing_send)
