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
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from .fastpath import command_prefix
from .redis_errors import NOSCRIPT

__all__ = ["Script", "as_eval", "asend_commands"]

_BY_SHA: dict[str, Script] = {}


@dataclass(frozen=True)
class Script:
    """Lua source, its name (for messages) and its SHA1."""

    name: str
    source: str
    sha: str

    @classmethod
    def of(cls, source: str, name: str = "script") -> Script:
        script = cls(name, source, hashlib.sha1(source.encode()).hexdigest())
        _BY_SHA[script.sha] = script
        return script

    @classmethod
    def load(cls, package: str, *names: str, **values: Any) -> Script:
        """The script made of the package's files ``names`` (joined in order), with
        ``$NAME`` placeholders replaced by ``values``."""
        parts = [files(package).joinpath(name).read_text(encoding="utf-8") for name in names]
        source = "\n".join(parts)
        if values:
            source = string.Template(source).substitute({k: str(v) for k, v in values.items()})
        return cls.of(source, name=f"{package}/{names[-1]}")

    # -- command tuples (pipelines, executors that take argument lists) --
    def evalsha(self, keys: Sequence[Any], args: Sequence[Any]) -> tuple[Any, ...]:
        """The ``EVALSHA`` command as arguments for ``execute_command``."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def eval(self, keys: Sequence[Any], args: Sequence[Any]) -> tuple[Any, ...]:
        """The ``EVAL`` command (sends the source; the server caches it)."""
        return ("EVAL", self.source, len(keys), *keys, *args)

    def packed_head(self, nkeys: int, nargs: int, *fixed_keys: bytes) -> bytes:
        """The RESP-packed start of this script's ``EVALSHA`` of ``nkeys`` keys and
        ``nargs`` arguments, the first keys already packed; the caller appends the
        rest with :func:`.fastpath.bulk` (the hot path of :mod:`.fastpath`)."""
        return command_prefix(
            3 + nkeys + nargs, b"EVALSHA", self.sha.encode(), b"%d" % nkeys, *fixed_keys
        )

    # -- calls --
    def __call__(self, client: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run on a sync client (or cluster client): EVALSHA, EVAL after NOSCRIPT."""
        try:
            return client.execute_command(*self.evalsha(keys, args))
        except NOSCRIPT:
            return client.execute_command(*self.eval(keys, args))

    async def acall(self, client: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """Run on an asyncio client: EVALSHA, EVAL after NOSCRIPT."""
        try:
            return await client.execute_command(*self.evalsha(keys, args))
        except NOSCRIPT:
            return await client.execute_command(*self.eval(keys, args))


def as_eval(command: Sequence[Any]) -> tuple[Any, ...]:
    """The ``EVAL`` form of an ``EVALSHA`` command tuple built by :meth:`Script.evalsha`
    (any other command is returned as is): what a pipeline re-sends after NOSCRIPT."""
    if not command or command[0] != "EVALSHA":
        return tuple(command)
    sha = command[1].decode() if isinstance(command[1], bytes) else command[1]
    return ("EVAL", _BY_SHA[sha].source, *command[2:])


async def asend_commands(client: Any, commands: Sequence[Sequence[Any]]) -> list[Any]:
    """Send ``commands`` in one round trip on an asyncio client (a pipeline without
    MULTI) and return their replies; an ``EVALSHA`` the server has not cached
    (``NOSCRIPT``) is sent again as ``EVAL``, alone: the other commands ran once
    already and are not repeated. The first error reply is raised (after every
    command ran); a connection fault raises redis-py's error (nothing is retried:
    some commands may have run)."""
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    replies = list(await pipe.execute(raise_on_error=False))
    for i, reply in enumerate(replies):
        if isinstance(reply, NOSCRIPT):
            replies[i] = await client.execute_command(*as_eval(commands[i]))
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
