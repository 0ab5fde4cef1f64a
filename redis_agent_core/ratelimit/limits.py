"""Rate-limit policies (pure data) and the typed error raised when one is exceeded.

Two kinds of limit compose in one decision:

- :class:`RequestLimit`: at most ``limit`` requests in any ``period`` seconds (an exact
  sliding window: a log of admit times in a list, trimmed to the window).
- :class:`TokenBudget`: at most ``limit`` tokens per fixed window (daily by default,
  aligned on midnight of a configurable time zone) or per rolling window.

Each applies ``per`` user, org or globally. Nothing here touches Redis.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config import check_seconds
from ..errors import ConfigError, RedisAgentError

__all__ = [
    "Per",
    "RateLimitExceeded",
    "RequestLimit",
    "TokenBudget",
    "resolve_tz",
]

Per = Literal["user", "org", "global"]
_PERS = ("user", "org", "global")
DAY = 86_400.0
_EPOCH = datetime(1970, 1, 1)  # naive: local wall times counted like Unix time
# \Z, not $: $ also matches before a final newline, so 'name\n' passed
_NAME_RE = re.compile(r"\A[A-Za-z0-9_.\-]{1,64}\Z")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(
            f"{kind}: invalid name {name!r}: use 1-64 letters, digits, '_', '.', '-' "
            "(it is part of the Redis key)"
        )


def _check_common(kind: str, limit: int, period: float, per: str) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= 10**13:
        raise ConfigError(f"{kind}: limit must be an int in [1, 1e13], got {limit!r}")
    check_seconds(period, f"{kind}: period (1 ms to 366 days)", least=0.001, most=366 * DAY)
    if per not in _PERS:
        raise ConfigError(f"{kind}: per must be one of {_PERS}, got {per!r}")


def _fmt_period(period: float) -> str:
    for unit, size in (("d", DAY), ("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if period >= size and float(period / size).is_integer():
            return f"{int(period / size)}{unit}"
    return f"{round(period * 1000)}ms"


@dataclass(frozen=True)
class RequestLimit:
    """At most ``limit`` requests in any window of ``period`` seconds, ``per`` subject.

    Exact: the admit times are logged, so no window of ``period`` seconds (measured on
    the Redis server's clock) ever holds more than ``limit`` admits. Memory: one list
    entry (~10 bytes) per admitted request in the window.
    """

    limit: int
    period: float = 60.0
    per: Per = "user"
    name: str = ""

    def __post_init__(self) -> None:
        _check_common("RequestLimit", self.limit, self.period, self.per)
        if not self.name:
            object.__setattr__(
                self, "name", f"req-{self.per}-{self.limit}per{_fmt_period(self.period)}"
            )
        _check_name("RequestLimit", self.name)

    @classmethod
    def per_second(cls, limit: int, per: Per = "user", name: str = "") -> RequestLimit:
        """``limit`` requests per second."""
        return cls(limit, 1.0, per, name)

    @classmethod
    def per_minute(cls, limit: int, per: Per = "user", name: str = "") -> RequestLimit:
        """``limit`` requests per minute."""
        return cls(limit, 60.0, per, name)


def resolve_tz(tz: str | tzinfo | float | int) -> tzinfo:
    """A ``tzinfo`` from a zone name (``"Europe/Paris"``), a tzinfo, or a UTC offset in hours."""
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, (int, float)) and not isinstance(tz, bool):
        if not -24 < tz < 24:
            raise ConfigError(f"a UTC offset in hours must lie in (-24, 24), got {tz!r}")
        return timezone(timedelta(hours=tz))
    if isinstance(tz, str):
        if tz.upper() == "UTC":
            return timezone.utc
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"unknown time zone {tz!r}: use an IANA name such as 'Europe/Paris', "
                "'UTC', or a UTC offset in hours such as -5"
            ) from exc
    raise ConfigError(f"tz must be a zone name, a tzinfo or an offset in hours, got {tz!r}")


@dataclass(frozen=True)
class TokenBudget:
    """At most ``limit`` tokens per window, ``per`` subject.

    ``rolling=False`` (default): fixed windows of ``period`` seconds aligned on
    midnight of ``tz`` (daily by default, UTC by default; on a daylight-saving change
    day the window is the local calendar day, ending at local midnight in the offset
    then in force), counted from 1970-01-01 (a Thursday): a period that does not divide
    a day is no calendar unit (7 days reset on Thursdays). ``rolling=True``: any window
    of ``period`` seconds.

    Calls reserve an estimate first and settle the real usage after, so concurrent
    calls can overspend only by how much their real usage exceeds their estimates.
    """

    limit: int
    period: float = DAY
    per: Per = "user"
    rolling: bool = False
    tz: str | tzinfo | float | int = "UTC"
    name: str = ""
    _tzinfo: tzinfo = field(init=False, repr=False, compare=False, default=timezone.utc)

    def __post_init__(self) -> None:
        _check_common("TokenBudget", self.limit, self.period, self.per)
        object.__setattr__(self, "_tzinfo", resolve_tz(self.tz))
        if not self.name:
            kind = "roll" if self.rolling else "fixed"
            object.__setattr__(
                self,
                "name",
                f"tok-{self.per}-{kind}-{self.limit}per{_fmt_period(self.period)}",
            )
        _check_name("TokenBudget", self.name)

    @classmethod
    def daily(
        cls, limit: int, per: Per = "user", tz: str | tzinfo | float | int = "UTC", name: str = ""
    ) -> TokenBudget:
        """``limit`` tokens per calendar day of ``tz`` (reset at local midnight)."""
        return cls(limit, DAY, per, False, tz, name)

    @classmethod
    def rolling_window(
        cls, limit: int, period: float, per: Per = "user", name: str = ""
    ) -> TokenBudget:
        """``limit`` tokens in any window of ``period`` seconds."""
        return cls(limit, period, per, True, "UTC", name)

    def utc_offset_seconds(self, when: datetime | None = None) -> int:
        """The zone's offset from UTC now (or at ``when``): shifts fixed windows."""
        when = when or datetime.now(timezone.utc)
        offset = when.astimezone(self._tzinfo).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def window_offsets(self, when: datetime | None = None) -> tuple[int, int]:
        """The zone's offset now (or at ``when``), which names the window, and at the
        window's end, local midnight: they differ on the day of a daylight-saving change,
        and the window ends at that midnight in its own offset (with the offset of the
        start, a refused call was told to retry an hour late, or an hour early into the
        same day)."""
        when = when or datetime.now(timezone.utc)
        offset = self.utc_offset_seconds(when)
        window = math.floor((when.timestamp() + offset) / self.period)
        wall = _EPOCH + timedelta(seconds=(window + 1) * self.period)  # local wall time
        # a wall time in a gap (a zone springing forward at midnight) takes the offset
        # before it (fold=0): that window ends at the change itself
        end = wall.replace(tzinfo=self._tzinfo).utcoffset()
        return offset, int(end.total_seconds()) if end is not None else offset


class RateLimitExceeded(RedisAgentError):
    """A call was refused by a rate limit or token budget.

    Attributes:
        limit: name of the limit that refused the call (e.g. ``req-user-60per1m``).
        key: the Redis key of that limit for this subject.
        retry_after: seconds until the call could be admitted (``math.inf``: never, the
            request is larger than the limit itself).
    """

    def __init__(self, limit: str, key: str, retry_after: float, detail: str = "") -> None:
        self.limit = limit
        self.key = key
        self.retry_after = retry_after
        self.detail = detail
        when = (
            "it can never be admitted: the request is larger than the limit; raise the "
            "limit or lower the request/estimate"
            if math.isinf(retry_after)
            else f"retry after {retry_after:.3f} s"
        )
        extra = f" ({detail})" if detail else ""
        super().__init__(f"rate limit {limit!r} exceeded for {key}{extra}: {when}")

    def __reduce__(self) -> tuple[object, ...]:
        # keep the attributes when pickled across processes (Celery, multiprocessing)
        return (type(self), (self.limit, self.key, self.retry_after, self.detail))
