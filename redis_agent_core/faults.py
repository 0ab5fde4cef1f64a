"""The one fault policy: what a component does when Redis is down or refuses a write.

Every role that can go on without Redis (caches, the rate limiter) holds a
:class:`RedisFaults` and hands it each redis-py fault; the errors themselves are mapped
in :mod:`redis_agent_core.redis_errors`. Two policies:

- ``"raise"``: the mapped :class:`~redis_agent_core.errors.RedisUnavailableError`
  (or :class:`~redis_agent_core.errors.RedisWriteRefusedError`) is raised.
- ``"degrade"``: the call goes on without Redis (a cache misses, a limiter admits
  unmetered), a warning is logged at most once per ``log_interval`` seconds, and
  Redis is skipped for a pause that doubles with each further failure.

A :class:`~redis_agent_core.errors.RedisPermissionError` (the ACL user lacks a command)
is raised under both: it is no outage to ride out. A
:class:`~redis_agent_core.errors.PoolExhaustedError` (more calls at once than the
client's pool holds) is none either: under ``"degrade"`` that one call goes on without
Redis but Redis is not skipped for a pause (the next call has its chance), and a
component built with ``exhausted_raises=True`` (the fail-open rate limiter: a burst is
what it meters) raises it.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from .config import RedisAgentConfig
from .errors import (
    ConfigError,
    PoolExhaustedError,
    RedisPermissionError,
    RedisUnavailableError,
    RedisWriteRefusedError,
)
from .redis_errors import map_redis_error

__all__ = ["MAX_RECHECK", "OnError", "RedisFaults"]

_cache_logger = logging.getLogger("redis_agent_core.cache")

OnError = Literal["degrade", "raise"]

#: Longest pause between probes of a Redis that keeps failing (seconds).
MAX_RECHECK = 30.0


class RedisFaults:
    """What a component does when Redis is unreachable (see the module docstring).

    ``on_error=None`` takes the pack-wide ``config.on_error``, else ``default``.
    ``recheck_after``: seconds Redis is skipped after a failure (doubled after each
    further failure up to 30 s, reset by :meth:`ok`), so a dead or hung server costs
    nothing per call instead of a timeout each time; ``0`` tries Redis on every call.
    ``degraded`` / ``refused`` say in the warning what the component does instead
    (down / write refused); ``raise_hint`` is appended to a raised error's message.
    The defaults are the caches' wording.
    """

    def __init__(
        self,
        config: RedisAgentConfig,
        what: str,
        on_error: OnError | None = None,
        *,
        log_interval: float = 60.0,
        recheck_after: float = 1.0,
        default: OnError = "degrade",
        degraded: str = "serving misses and skipping writes (on_error='degrade')",
        refused: str = "serving stored entries and skipping writes (on_error='degrade')",
        raise_hint: str = "",
        logger: logging.Logger = _cache_logger,
        exhausted_raises: bool = False,
    ) -> None:
        if on_error is None:  # the pack-wide policy, else the component's default
            on_error = config.on_error or default
        if on_error not in ("degrade", "raise"):
            raise ConfigError(f"on_error must be 'degrade' or 'raise', got {on_error!r}")
        self.config = config
        self.what = what
        self.on_error: OnError = on_error
        self.log_interval = log_interval
        self.recheck_after = recheck_after
        self._degraded = degraded
        self._refused = refused
        self._raise_hint = raise_hint
        self._logger = logger
        self._exhausted_raises = exhausted_raises
        self._down_until = 0.0
        self._refused_until = 0.0  # writes skipped until then; reads go on
        self._streak = 0  # failures since the last success: the pause doubles with each
        self._last_log = float("-inf")
        self.failures = 0  # calls degraded since creation (for tests and metrics)
        # failures to reach the server (not a refused write, nor a full pool), raised or
        # degraded: it may come back without what it held (restarted empty), so state a
        # component verified on it (a search index) is verified again when this moves
        self.outages = 0

    def available(self) -> bool:
        """False while a recent failure says Redis is down (degrade mode only)."""
        return self.on_error == "raise" or time.monotonic() >= self._down_until

    def writable(self) -> bool:
        """False while Redis is down or recently refused a write (degrade mode only)."""
        return self.available() and (
            self.on_error == "raise" or time.monotonic() >= self._refused_until
        )

    def ok(self) -> None:
        """Record a successful call: the next failure pauses ``recheck_after`` again."""
        if self._streak:
            self._streak = 0

    def error(
        self, action: str, exc: BaseException
    ) -> RedisUnavailableError | RedisPermissionError:
        """The pack error for ``exc`` met while doing ``action`` (not raised)."""
        return map_redis_error(exc, f"{self.what}: {action}", self.config)

    def failed(self, action: str, exc: BaseException) -> None:
        """Handle a connection failure: raise, or record it and log (throttled).

        A command the ACL user may not run is raised under either policy: a deployment
        mistake to fix, which degrading would hide (a cache that never stores, a
        fail-open limiter that meters nothing)."""
        error = self.error(action, exc)
        if isinstance(error, RedisPermissionError):
            raise error from exc
        exhausted = isinstance(error, PoolExhaustedError)
        if not exhausted and not isinstance(error, RedisWriteRefusedError):
            self.outages += 1
        if self.on_error == "raise" or (exhausted and self._exhausted_raises):
            if self._raise_hint and not exhausted:  # the hint is about outages
                # keep the mapped type (a refused write stays RedisWriteRefusedError)
                error.args = (f"{error} {self._raise_hint}",)
            raise error from exc
        now = time.monotonic()
        self.failures += 1
        if exhausted:  # the server is fine: only this call goes without it
            self._log(error, self._degraded, "", now)
            return
        pause = min(self.recheck_after * 2**self._streak, max(MAX_RECHECK, self.recheck_after))
        self._streak = min(self._streak + 1, 32)
        refused = isinstance(error, RedisWriteRefusedError)
        if refused:
            # the server answers: keep reading it (hits are served uncounted), skip writes
            self._refused_until = now + pause
        else:
            self._down_until = now + pause
        retry = f", retrying in {pause:.1f}s" if pause and not refused else ""
        self._log(error, self._refused if refused else self._degraded, retry, now)

    def _log(self, error: Exception, instead: str, retry: str, now: float) -> None:
        """The warning, at most once per ``log_interval``."""
        if now - self._last_log < self.log_interval:
            return
        self._last_log = now
        self._logger.warning(
            "%s; %s%s; this warning repeats at most every %.0fs",
            error,
            instead,
            retry,
            self.log_interval,
        )
