"""The one way the pack runs Lua: :class:`Script`.

Every script is a ``.lua`` file shipped beside the module that uses it, loaded with
:meth:`Script.load` (files are concatenated, so shared Lua functions live in files of
their own; ``$NAME`` placeholders take constants from Python, as :class:`string.Template`
does; Lua itself never uses ``$``). The SHA1 is computed locally, so the first call is
an ``EVALSHA`` with no ``SCRIPT LOAD`` round trip; a server that has not cached the
script yet (``NOSCRIPT``: first use, restart, ``SCRIPT FLUSH``, a failover) gets the
``EVAL`` form once, which caches it. Sync and asyncio clients, pipelines and pre-built
command tuples all go through this module: ``EVALSHA`` is spelled nowhere else
(``fastpath`` packs the same command in RESP for the two hottest calls).

A script whose second run would apply its write again (an append, a charge) is loaded
with ``idempotent=False``: it is sent inside :func:`..redis_errors.sent_once`, never
re-sent after a lost connection (:func:`resendable` tells it for command tuples).
A script that reads keys it cannot declare is loaded with ``undeclared=True``: its
calls declare :func:`..keys.slot_guard` last (``KEYS[#KEYS]``), so Redis refuses it while
its slot moves between cluster nodes instead of running it where part of its keys are.
"""

from __future__ import annotations

import asyncio
import hashlib
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from .fastpath import command_prefix
from .keys import slot_guard
from .redis_errors import FAULTS, MOVING_RETRIES, NOSCRIPT, is_slot_moving, sent_once

__all__ = [
    "NOT_RESENT",
    "Script",
    "arun_command",
    "as_eval",
    "asend_commands",
    "resendable",
    "run_command",
]

_BY_SHA: dict[str, Script] = {}


@dataclass(frozen=True)
class Script:
    """Lua source, its name (for messages), its SHA1, whether running it twice leaves
    what one run does (``False``: never re-sent after a lost connection), and whether it
    reads keys it does not declare (``True``: calls declare the slot guard last)."""

    name: str
    source: str
    sha: str
    idempotent: bool = True
    undeclared: bool = False

    @classmethod
    def of(
        cls, source: str, name: str = "script", *, idempotent: bool = True, undeclared: bool = False
    ) -> Script:
        sha = hashlib.sha1(source.encode()).hexdigest()
        script = cls(name, source, sha, idempotent, undeclared)
        _BY_SHA[script.sha] = script
        return script

    @classmethod
    def load(
        cls,
        package: str,
        *names: str,
        idempotent: bool = True,
        undeclared: bool = False,
        **values: Any,
    ) -> Script:
        """The script made of the package's files ``names`` (joined in order), with
        ``$NAME`` placeholders replaced by ``values``."""
        parts = [files(package).joinpath(name).read_text(encoding="utf-8") for name in names]
        source = "\n".join(parts)
        if values:
            source = string.Template(source).substitute({k: str(v) for k, v in values.items()})
        name = f"{package}/{names[-1]}"
        return cls.of(source, name=name, idempotent=idempotent, undeclared=undeclared)

    # -- command tuples (pipelines, executors that take argument lists) --
    def _keys(self, keys: Sequence[Any]) -> Sequence[Any]:
        # the guard of the first key's slot (every key of a script shares it)
        return [*keys, slot_guard(keys[0])] if self.undeclared else keys

    def evalsha(self, keys: Sequence[Any], args: Sequence[Any]) -> tuple[Any, ...]:
        """The ``EVALSHA`` command as arguments for ``execute_command``."""
        keys = self._keys(keys)
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def eval(self, keys: Sequence[Any], args: Sequence[Any]) -> tuple[Any, ...]:
        """The ``EVAL`` command (sends the source; the server caches it)."""
        keys = self._keys(keys)
        return ("EVAL", self.source, len(keys), *keys, *args)

    def packed_head(self, nkeys: int, nargs: int, *fixed_keys: bytes) -> bytes:
        """The RESP-packed start of this script's ``EVALSHA`` of ``nkeys`` keys and
        ``nargs`` arguments, the first keys already packed; the caller appends the
        rest with :func:`.fastpath.bulk` (the hot path of :mod:`.fastpath`)."""
        return command_prefix(
            3 + nkeys + nargs, b"EVALSHA", self.sha.encode(), b"%d" % nkeys, *fixed_keys
        )

    # -- calls --
    def __call__(
        self,
        client: Any,
        keys: Sequence[Any],
        args: Sequence[Any],
        *,
        resend: bool | None = None,
        wait: Callable[[int], float] | None = None,
    ) -> Any:
        """Run on a sync client (or cluster client): :func:`run_command`."""
        return run_command(client, self.evalsha(keys, args), resend=resend, wait=wait)

    async def acall(
        self,
        client: Any,
        keys: Sequence[Any],
        args: Sequence[Any],
        *,
        resend: bool | None = None,
        wait: Callable[[int], float] | None = None,
    ) -> Any:
        """Run on an asyncio client: :func:`arun_command`."""
        return await arun_command(client, self.evalsha(keys, args), resend=resend, wait=wait)


#: Plain commands the pack sends whose second run applies again (or answers otherwise:
#: RPOP pops another element); sent inside sent_once() (see :func:`resendable`).
NOT_RESENT = frozenset({"RPOP", "LPOP", "RPUSH", "LPUSH", "XADD", "PUBLISH", "INCRBY", "HINCRBY"})


def run_command(
    client: Any,
    command: Sequence[Any],
    *,
    resend: bool | None = None,
    wait: Callable[[int], float] | None = None,
    **options: Any,
) -> Any:
    """Send one command tuple on a sync (or cluster) client and return its reply: an
    ``EVALSHA`` the server has not cached is sent again as ``EVAL``; a command that is
    not :func:`resendable` is sent at most once (:func:`..redis_errors.sent_once`).
    ``resend``: whether it may be sent again after all (``None``: :func:`resendable`),
    for a script call that writes nothing with these arguments (the limiter's peek).
    ``wait``: the pause before resend ``n`` (``config.backoff``) of a call refused while
    its cluster slot moves (:func:`..redis_errors.is_slot_moving`: it ran nothing, so a
    write sent at most once is sent again too), :data:`..redis_errors.MOVING_RETRIES`
    times at most, as a MULTI/EXEC is; ``None``: the refusal is raised at once.
    ``options``: redis-py's options of the command (``RAW_REPLY``)."""
    with sent_once(not (resendable(command) if resend is None else resend)):
        attempt = 0
        while True:
            try:
                try:
                    return client.execute_command(*command, **options)
                except NOSCRIPT:
                    return client.execute_command(*as_eval(command), **options)
            except FAULTS as exc:
                if wait is None or attempt == MOVING_RETRIES or not is_slot_moving(exc):
                    raise
                time.sleep(wait(attempt))
            attempt += 1


async def arun_command(
    client: Any,
    command: Sequence[Any],
    *,
    resend: bool | None = None,
    wait: Callable[[int], float] | None = None,
    **options: Any,
) -> Any:
    """:func:`run_command` on an asyncio client."""
    with sent_once(not (resendable(command) if resend is None else resend)):
        attempt = 0
        while True:
            try:
                try:
                    return await client.execute_command(*command, **options)
                except NOSCRIPT:
                    return await client.execute_command(*as_eval(command), **options)
            except FAULTS as exc:
                if wait is None or attempt == MOVING_RETRIES or not is_slot_moving(exc):
                    raise
                await asyncio.sleep(wait(attempt))
            attempt += 1


def resendable(command: Sequence[Any]) -> bool:
    """Whether a command tuple may be sent again after a lost connection: not an
    ``EVALSHA`` / ``EVAL`` of a script loaded with ``idempotent=False``, nor one of
    :data:`NOT_RESENT`."""
    name = _text(command[0]).upper()
    if name == "EVALSHA":
        script = _BY_SHA.get(_text(command[1]))
    elif name == "EVAL":
        script = _BY_SHA.get(hashlib.sha1(_text(command[1]).encode()).hexdigest())
    else:
        return name not in NOT_RESENT
    return script is None or script.idempotent


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def as_eval(command: Sequence[Any]) -> tuple[Any, ...]:
    """The ``EVAL`` form of an ``EVALSHA`` command tuple built by :meth:`Script.evalsha`
    (any other command is returned as is): what a pipeline re-sends after NOSCRIPT."""
    if not command or command[0] != "EVALSHA":
        return tuple(command)
    sha = command[1].decode() if isinstance(command[1], bytes) else command[1]
    return ("EVAL", _BY_SHA[sha].source, *command[2:])


async def asend_commands(
    client: Any,
    commands: Sequence[Sequence[Any]],
    *,
    wait: Callable[[int], float] | None = None,
) -> list[Any]:
    """Send ``commands`` in one round trip on an asyncio client (a pipeline without
    MULTI) and return their replies; an ``EVALSHA`` the server has not cached
    (``NOSCRIPT``) is sent again as ``EVAL``, alone: the other commands ran once
    already and are not repeated. ``wait``: a command refused while its cluster slot
    moves (it ran nothing) is sent again alone the same way, as :func:`arun_command`
    does (``config.backoff``; ``None``: raised), so the batch lands whole. The first
    error reply is raised (after every command ran); a connection fault raises
    redis-py's error, and is not retried when a command is not :func:`resendable` (it
    may have run)."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    with sent_once(not all(map(resendable, commands))):
        replies = list(await pipe.execute(raise_on_error=False))
    for i, reply in enumerate(replies):
        if isinstance(reply, NOSCRIPT):
            replies[i] = await client.execute_command(*as_eval(commands[i]))
        elif wait is not None and is_slot_moving(reply):
            replies[i] = await arun_command(client, commands[i], wait=wait)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
