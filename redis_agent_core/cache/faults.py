"""What a cache does when Redis is unreachable or refuses writes: :class:`RedisFaults`."""

from __future__ import annotations

import logging
import time
from typing import Literal

from ..config import RedisAgentConfig
from ..errors import ConfigError, RedisUnavailableError, RedisWriteRefusedError
from ..redis_errors import map_redis_error

__all__ = ["MAX_RECHECK", "OnError", "RedisFaults"]

logger = logging.getLogger("redis_agent_core.cache")

OnError = Literal["degrade", "raise"]

#: Longest pause between probes of a Redis that keeps failing (seconds).
MAX_RECHECK = 30.0


class RedisFaults:
    """What a cache does when Redis is unreachable.

    ``degrade`` (default): the failing call acts as a miss / skipped write, a warning
    is logged at most once per ``log_interval`` seconds, and Redis is not tried again
    for ``recheck_after`` seconds, doubled after each further failure up to 30 s and
    reset by a success (so a dead or hung server costs nothing per LLM call, instead of
    a timeout each time). ``raise``: :class:`RedisUnavailableError`.
    """

    def __init__(
        self,
        config: RedisAgentConfig,
        what: str,
        on_error: OnError | None = None,
        *,
        log_interval: float = 60.0,
        recheck_after: float = 1.0,
    ) -> None:
        if on_error is None:  # the pack-wide policy, else the caches' default
            on_error = config.on_error or "degrade"
        if on_error not in ("degrade", "raise"):
            raise ConfigError(f"on_error must be 'degrade' or 'raise', got {on_error!r}")
        self.config = config
        self.what = what
        self.on_error = on_error
        self.log_interval = log_interval
        self.recheck_after = recheck_after
        self._down_until = 0.0
        self._refused_until = 0.0  # writes skipped until then; reads go on
        self._streak = 0  # failures since the last success: the pause doubles with each
        self._last_log = float("-inf")
        self.failures = 0  # calls degraded since creation (for tests and metrics)

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

    def _error(self, action: str, exc: BaseException) -> RedisUnavailableError:
        return map_redis_error(exc, f"{self.what}: {action}", self.config)

    def failed(self, action: str, exc: BaseException) -> None:
        """Handle a connection failure: raise, or record it and log (throttled)."""
        error = self._error(action, exc)
        if self.on_error == "raise":
            raise error from exc
        now = time.monotonic()
        self.failures += 1
        pause = min(self.recheck_after * 2**self._streak, max(MAX_RECHECK, self.recheck_after))
        self._streak = min(self._streak + 1, 32)
        if isinstance(error, RedisWriteRefusedError):
            # the server answers: keep reading it (hits are served uncounted), skip writes
            self._refused_until = now + pause
            if now - self._last_log >= self.log_interval:
                self._last_log = now
                logger.warning(
                    "%s; serving stored entries and skipping writes (on_error='degrade'); "
                    "this warning repeats at most every %.0fs",
                    error,
                    self.log_interval,
                )
            return
        self._down_until = now + pause
        if now - self._last_log >= self.log_interval:
            self._last_log = now
            logger.warning(
                "%s; serving misses and skipping writes (on_error='degrade'), retrying in "
                "%.1fs; this warning repeats at most every %.0fs",
                error,
                pause,
                self.log_interval,
            )
