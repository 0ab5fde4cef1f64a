"""Run a search flow: one executor per mode over the same pure flow.

A flow is a generator that yields Redis commands (argument lists) and receives their
replies; a reply error (``ResponseError``) is thrown into it at the ``yield``, so the
flow decides what an error means (a missing index, an index that already exists). The
flow returns its result. Written once, a flow runs on a sync client with :func:`run` and
on an asyncio client with :func:`arun`: the control flow is never copied per mode, and
the async path never runs sync I/O in a thread.

Connection faults are not thrown in: they leave the executor for the caller's
``translate_errors`` (the flow cannot repair a server that is down); with ``only=``,
neither are the reply errors it refuses (a probe's flow reads any error it is given as
"not available": a server that cannot serve now must not become that answer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeAlias, TypeVar

from ..redis_errors import REPLY

__all__ = ["Flow", "arun", "run"]

T = TypeVar("T")
#: yields a command, receives its reply, returns the result
Flow: TypeAlias = Generator[list[Any], Any, T]


#: Which reply errors a flow is given (the others leave the executor)
Only: TypeAlias = Callable[[BaseException], bool]


def run(execute: Callable[..., Any], flow: Flow[T], *, only: Only | None = None) -> T:
    """Drive ``flow`` with a sync ``execute`` (e.g. ``client.execute_command``)."""
    try:
        command = next(flow)
        while True:
            try:
                reply = execute(*command)
            except REPLY as exc:
                if only is not None and not only(exc):
                    flow.close()
                    raise
                command = flow.throw(exc)
            else:
                command = flow.send(reply)
    except StopIteration as stop:
        return stop.value


async def arun(
    execute: Callable[..., Awaitable[Any]], flow: Flow[T], *, only: Only | None = None
) -> T:
    """Drive ``flow`` with an async ``execute`` (e.g. an asyncio client's
    ``execute_command``)."""
    try:
        command = next(flow)
        while True:
            try:
                reply = await execute(*command)
            except REPLY as exc:
                if only is not None and not only(exc):
                    flow.close()
                    raise
                command = flow.throw(exc)
            else:
                command = flow.send(reply)
    except StopIteration as stop:
        return stop.value
