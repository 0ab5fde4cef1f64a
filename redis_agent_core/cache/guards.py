"""Verification of semantic-cache candidates (issue 9).

CONTRACT (shared by the cache and the guards; keep these names and signatures):

- ``Rejection(guard: str, reason: str)``: why a candidate was refused; ``guard`` is a
  short category used as a stats counter name (``negation``, ``number``, ``entity``, ...).
- ``Guard`` protocol: ``name: str`` and ``check(query: str, candidate: str) -> str | None``
  (``None`` = passes; else a human-readable reason).
- ``Verifier(guards=None, *, extra=None)``: ``guards=None`` means :func:`default_guards`;
  ``extra`` is a user verifier ``(query, candidate) -> bool`` or an async one; ``verify``
  and ``averify`` return the first :class:`Rejection` or ``None``.
- ``default_guards()`` and ``default_verifier()``.

This file is a placeholder with the contract only; the guards engineer fills it in.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, Protocol

__all__ = ["Guard", "Rejection", "Verifier", "default_guards", "default_verifier"]


class Rejection(NamedTuple):
    guard: str
    reason: str


class Guard(Protocol):
    name: str

    def check(self, query: str, candidate: str) -> str | None: ...


ExtraVerifier = Callable[[str, str], bool | Awaitable[bool]]


def default_guards() -> list[Guard]:
    return []


class Verifier:
    def __init__(
        self, guards: Sequence[Guard] | None = None, *, extra: ExtraVerifier | None = None
    ) -> None:
        self.guards = list(default_guards() if guards is None else guards)
        self.extra = extra

    def _run_guards(self, query: str, candidate: str) -> Rejection | None:
        for guard in self.guards:
            reason = guard.check(query, candidate)
            if reason is not None:
                return Rejection(guard.name, reason)
        return None

    def verify(self, query: str, candidate: str) -> Rejection | None:
        rejection = self._run_guards(query, candidate)
        if rejection is None and self.extra is not None:
            result = self.extra(query, candidate)
            if inspect.isawaitable(result):
                raise TypeError("an async extra verifier needs averify()")
            if not result:
                return Rejection("custom", "rejected by the extra verifier")
        return rejection

    async def averify(self, query: str, candidate: str) -> Rejection | None:
        rejection = self._run_guards(query, candidate)
        if rejection is None and self.extra is not None:
            result = self.extra(query, candidate)
            if inspect.isawaitable(result):
                result = await result
            if not result:
                return Rejection("custom", "rejected by the extra verifier")
        return rejection


def default_verifier() -> Verifier:
    return Verifier()
