"""Pipelined plans and their two drivers (sync and asyncio).

A *plan* is a generator: it yields ``(transaction, queue)`` steps, ``queue(pipe)``
putting commands on a pipeline (a MULTI/EXEC one when ``transaction``), is sent each
step's replies and returns the result. The same plan runs on a sync client with
:func:`run_plan` and on an asyncio client with :func:`arun_plan`, so both paths issue
the same commands (used by the checkpoint store and the agent store).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from .config import RAW_REPLY, RedisAgentConfig
from .redis_errors import MOVING, MOVING_RETRIES, NOSCRIPT, is_slot_moving, translate_errors
from .scripts import arun_command, as_eval, run_command

__all__ = ["MOVING_RETRIES", "Plan", "ScriptStep", "Step", "arun_plan", "raw_replies", "run_plan"]

T = TypeVar("T")
Step = tuple[bool, Callable[[Any], Any]]
"""(MULTI/EXEC or not, a function queuing commands on a pipeline)."""
Plan = Generator[Step, Any, T]


class ScriptStep:
    """The queue function of a step sending one script call (an ``EVALSHA`` command
    tuple from :meth:`..scripts.Script.evalsha`): when the server has not cached the
    script (``NOSCRIPT``: it did not run, nor did anything else, the step holding only
    it) the drivers send the step again with the ``EVAL`` form, once. Cheaper than an
    ``EVAL`` in every step, which sends the whole source each time."""

    __slots__ = ("command",)

    def __init__(self, command: tuple[Any, ...]) -> None:
        self.command = command

    def __call__(self, pipe: Any) -> Any:
        return pipe.execute_command(*self.command)

    def as_eval(self, error: BaseException) -> ScriptStep:
        """This step with the ``EVAL`` form (re-raises ``error`` if it has it already)."""
        evaled = as_eval(self.command)
        if evaled[0] == self.command[0]:  # sent as EVAL already
            raise error
        return ScriptStep(evaled)


def _on_noscript(queue: Callable[[Any], Any], error: BaseException) -> Callable[[Any], Any]:
    if not isinstance(queue, ScriptStep):
        raise error
    return queue.as_eval(error)


def raw_replies(pipe: Any) -> Any:
    """``pipe`` with the replies of every command queued on it read as bytes
    (``RAW_REPLY``), as the plans' parsers expect, also on a client given with
    ``decode_responses=True``: checkpoint values, node cache entries and vectors are not
    UTF-8. A redis-py pipeline (sync, asyncio, cluster) queues every command method
    through ``execute_command``, so wrapping it covers them all. Not for a MULTI/EXEC
    pipeline, whose EXEC reply decodes regardless (its steps write)."""
    queue = pipe.execute_command

    def execute_command(*args: Any, **options: Any) -> Any:
        return queue(*args, **{**options, **RAW_REPLY})

    pipe.execute_command = execute_command
    return pipe


Call = tuple[tuple[Any, ...], dict[str, Any]]


def _recorded(pipe: Any, calls: list[Call]) -> Any:
    """``pipe`` noting every command queued on it (arguments and options) in ``calls``,
    so one refused while its cluster slot moves can be sent again alone."""
    queue = pipe.execute_command

    def execute_command(*args: Any, **options: Any) -> Any:
        calls.append((args, options))
        return queue(*args, **options)

    pipe.execute_command = execute_command
    return pipe


def _moving(replies: list[Any]) -> list[int]:
    """The positions of the commands of a pipeline (no MULTI) that the cluster client
    gave up on because their slot was moving (:func:`..redis_errors.is_slot_moving`:
    they ran nothing; the others ran)."""
    return [i for i, reply in enumerate(replies) if is_slot_moving(reply)]


def _first_error(replies: list[Any]) -> list[Any]:
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies


def _resends(config: RedisAgentConfig, transaction: bool) -> int:
    return MOVING_RETRIES if transaction and config.is_cluster() else 0


def run_plan(config: RedisAgentConfig, plan: Plan[T], action: str) -> T:
    """Run ``plan`` on the config's sync client; faults raise pack errors naming ``action``."""
    client = config.get_client()
    with translate_errors(config, action):
        try:
            transaction, queue = next(plan)
            while True:
                attempt = 0
                while True:
                    try:
                        calls: list[Call] = []
                        with client.pipeline(transaction=transaction) as pipe:
                            queue(pipe if transaction else _recorded(raw_replies(pipe), calls))
                            replies = pipe.execute(raise_on_error=transaction)
                        # a command refused while its slot moved ran nothing (the others
                        # ran): it alone is sent again once the move lets it, so a write
                        # of several slots lands whole (a node cache write of namespaces)
                        for i in _moving(replies):
                            args, options = calls[i]
                            replies[i] = run_command(client, args, wait=config.backoff, **options)
                        replies = _first_error(replies)
                        break
                    except MOVING:
                        if attempt == _resends(config, transaction):
                            raise
                        time.sleep(config.backoff(attempt))
                        attempt += 1
                    except NOSCRIPT as exc:
                        queue = _on_noscript(queue, exc)
                transaction, queue = plan.send(replies)
        except StopIteration as done:
            result: T = done.value
            return result


async def arun_plan(config: RedisAgentConfig, plan: Plan[T], action: str) -> T:
    """Run ``plan`` on the config's asyncio client (see :func:`run_plan`)."""
    client = config.get_async_client()
    with translate_errors(config, action):
        try:
            transaction, queue = next(plan)
            while True:
                attempt = 0
                while True:
                    try:
                        calls: list[Call] = []
                        # always under `async with`: redis-py 8.1's asyncio cluster MULTI/EXEC
                        # outside it fails now and then with "Event loop is closed"
                        async with client.pipeline(transaction=transaction) as pipe:
                            queue(pipe if transaction else _recorded(raw_replies(pipe), calls))
                            replies = await pipe.execute(raise_on_error=transaction)
                        for i in _moving(replies):
                            args, options = calls[i]
                            replies[i] = await arun_command(
                                client, args, wait=config.backoff, **options
                            )
                        replies = _first_error(replies)
                        break
                    except MOVING:
                        if attempt == _resends(config, transaction):
                            raise
                        await asyncio.sleep(config.backoff(attempt))
                        attempt += 1
                    except NOSCRIPT as exc:
                        queue = _on_noscript(queue, exc)
                transaction, queue = plan.send(replies)
        except StopIteration as done:
            result: T = done.value
            return result
