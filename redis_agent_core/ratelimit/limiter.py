"""Distributed rate limiter: exact sliding-window request limits and token budgets,
decided in one Lua script per call on the Redis server's clock.

Every key of one decision shares one hash tag (``shard_by`` picks it), so the script
runs unchanged on Redis Cluster:

- ``shard_by="none"`` (default): the tag is the limiter's name. User, org and global
  limits all compose exactly; the whole limiter lives in one slot (one shard). A
  Redis shard runs tens of thousands of these scripts a second, far above what LLM
  traffic needs, so this is the right default.
- ``shard_by="org"``: the tag is the org id. User and org limits compose; limiters
  spread over the cluster by org. Global limits are refused (they would need
  every org's slot). A per-user limit then counts a user's calls per org (another
  org, or none, is another slot): the org must come from authentication.
- ``shard_by="user"``: the tag is the user id. Per-user limits only.

The sync and async paths share the pure functions that build the script's arguments
and parse its reply.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Literal, NamedTuple

from .. import telemetry
from ..config import MAX_TOKENS, RedisAgentConfig, check_seconds, get_default_config
from ..errors import ConfigError
from ..fastpath import FALLBACK, FastPath, bulk
from ..faults import RedisFaults
from ..keys import KeySpace, slot_guard
from ..redis_errors import FAULTS, NOSCRIPT, map_redis_error
from ..scripts import Script
from .limits import RateLimitExceeded, RequestLimit, TokenBudget

__all__ = [
    "Decision",
    "OnUnavailable",
    "RateLimiter",
    "Reservation",
    "ShardBy",
    "build_acquire",
    "build_settle",
    "check_subject",
    "check_tokens",
    "check_wait",
    "parse_acquire",
]

logger = logging.getLogger(__name__)

Limit = RequestLimit | TokenBudget
ShardBy = Literal["none", "org", "user"]
OnUnavailable = Literal["fail_open", "fail_closed"]
GLOBAL = "*"

# ACQUIRE charges: never re-sent after a lost reply (the fast path never re-sends
# either); a peek (apply 0) writes nothing and is. SETTLE applies a reservation once
# (acquire.lua's ids): retried as usual.
ACQUIRE = Script.load(__package__, "acquire.lua", idempotent=False)
SETTLE = Script.load(__package__, "settle.lua")


# -- reservation ids: unique across processes and forks, no syscall per call --
def _new_prefix() -> str:
    return os.urandom(6).hex()


_rid_prefix = _new_prefix()
_rid_counter = itertools.count()


def _reset_rids() -> None:
    global _rid_prefix, _rid_counter
    _rid_prefix, _rid_counter = _new_prefix(), itertools.count()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_rids)


def new_reservation_id() -> str:
    """A short id unique across processes (random per process + a counter)."""
    return f"{_rid_prefix}{next(_rid_counter):x}"


@dataclass(frozen=True)
class _Plan:
    limits: tuple[Limit, ...]
    keys: tuple[tuple[str, ...], ...]
    kinds: tuple[str, ...]
    # pre-encoded KEYS and the limits' ARGV ("kind limit period_us x" per limit):
    # encoding dominates the client-side cost of a call, so it is done once per (user,
    # org). x is the key's TTL in ms (request logs, rolling budgets) or the zone's UTC
    # offset in us (fixed windows). ``spec`` is empty when an offset changes over time
    # (a daylight-saving zone): it is then rebuilt per call.
    flat_keys: tuple[bytes, ...] = field(default=(), repr=False)
    static: tuple[tuple[bytes, bytes, bytes], ...] = field(default=(), repr=False)
    extras: tuple[bytes | None, ...] = field(default=(), repr=False)
    names: tuple[str, ...] = field(default=(), repr=False)
    spec: bytes = field(default=b"", repr=False)
    needs_rid: bool = False  # a rolling budget logs the reservation id
    # for parsing replies: (name, limit, counts requests) per limit
    meta: tuple[tuple[str, int, bool], ...] = field(default=(), repr=False)
    has_fixed: bool = False
    no_windows: tuple[int, ...] = field(default=(), repr=False)
    # the EVALSHA command pre-packed in RESP (``redis_agent_core.fastpath``): the
    # part before ARGV[1] and the packed ARGV[2] (empty when ``spec`` is rebuilt per call)
    packed_head: bytes = field(default=b"", repr=False)
    packed_spec: bytes = field(default=b"", repr=False)
    # settle is applied once per reservation id: rolling budgets find it in their log,
    # fixed windows record it in a hash per limit (its key here, "" for other kinds)
    makes_rid: bool = False
    settled: tuple[str, ...] = field(default=(), repr=False)


# -- results (NamedTuples: immutable and several times cheaper to build than frozen
# dataclasses, which matters on a ~50 us hot path) --
class Reservation(NamedTuple):
    """What :meth:`RateLimiter.settle` needs to charge real usage for an admitted call."""

    rid: str  # identifies the call in rolling budgets ("" when there are none)
    tokens: int
    requests: int
    windows: tuple[int, ...]  # per limit: the fixed window reserved in (else 0)
    plan: _Plan  # the limits and keys of the decision (internal)
    admitted_us: int = 0  # server time of the admit: its entries in the request logs


class Decision(NamedTuple):
    """The outcome of one rate-limit decision.

    Attributes:
        allowed: the call was admitted (and its cost consumed, unless a peek).
        retry_after: seconds until it could be admitted (0 when allowed, ``math.inf``
            when it never can: the request is larger than a limit). Exact for request
            limits and rolling budgets: the time until enough of the oldest admits
            leave the window (at least 1 us); for fixed windows, the window's end.
        remaining: per limit name, what is left after this call, exact at the
            decision's server time (requests for request limits, tokens for budgets;
            on a refusal, what is left without this call). Admits leaving the window
            later raise it again.
        limit: name of the limit that refused the call (``None`` when allowed).
        key: Redis key of that limit.
        reservation: pass it to :meth:`RateLimiter.settle` with the real token usage.
        server_time: the Redis server's clock at the decision (seconds since epoch).
        degraded: admitted without checking because Redis was down (``fail_open``).
    """

    allowed: bool
    retry_after: float
    remaining: dict[str, int]
    limit: str | None = None
    key: str | None = None
    reservation: Reservation | None = None
    server_time: float = 0.0
    degraded: bool = False

    def exceeded(self) -> RateLimitExceeded:
        """The :class:`RateLimitExceeded` describing this refusal."""
        return RateLimitExceeded(self.limit or "?", self.key or "?", self.retry_after)


# -- pure functions shared by the sync and async paths --
def _kind(limit: Limit) -> str:
    if isinstance(limit, RequestLimit):
        return "r"
    return "t" if limit.rolling else "f"


def _tag_part(value: str) -> str:
    # '|' separates the parts of a tag: escaped inside one, so a tag splits back into
    # the (name, id) it was made of and two pairs never share a tag
    return value.replace("%", "%25").replace("|", "%7C")


def resolve_tag(name: str, shard_by: ShardBy, user: str | None, org: str | None) -> str:
    """The hash tag shared by every key of one decision. A call without the id the
    tag is sharded by gets a tag of two parts, which no id (a third part) can spell."""
    if shard_by == "none":
        return _tag_part(name)
    kind, value = ("o", org) if shard_by == "org" else ("u", user)
    head = f"{_tag_part(name)}|{kind}"
    return head if value is None else f"{head}|{_tag_part(value)}"


def _subject(limit: Limit, user: str | None, org: str | None) -> str | None:
    """Whose counter a limit charges: ``None`` for a call without that id (its own
    key, which no user or org id can name: see :meth:`KeySpace.ratelimit`)."""
    if limit.per == "global":
        return GLOBAL
    return user if limit.per == "user" else org


def build_plan(
    keyspace: KeySpace,
    name: str,
    limits: Sequence[Limit],
    shard_by: ShardBy,
    user: str | None,
    org: str | None,
) -> _Plan:
    """Resolve every limit to its keys for one (user, org)."""
    check_subject(user, "user")
    check_subject(org, "org")
    tag = resolve_tag(name, shard_by, user, org)
    keys: list[tuple[str, ...]] = []
    settled: list[str] = []
    for limit in limits:
        subject = _subject(limit, user, org)
        main = keyspace.ratelimit(tag, limit.name, subject)
        if isinstance(limit, TokenBudget) and limit.rolling:
            keys.append((main, keyspace.ratelimit_total(tag, limit.name, subject)))
        else:
            keys.append((main,))
        fixed = _kind(limit) == "f"
        settled.append(keyspace.ratelimit_settled(tag, limit.name, subject) if fixed else "")
    kinds = tuple(_kind(limit) for limit in limits)
    static = tuple(
        (kind.encode(), str(limit.limit).encode(), str(round(limit.period * 1_000_000)).encode())
        for kind, limit in zip(kinds, limits, strict=True)
    )
    extras: list[bytes | None] = []
    for limit, kind in zip(limits, kinds, strict=True):
        if kind != "f":  # TTL: the newest entry stays in the window for `period`
            extras.append(str(math.ceil(limit.period * 1000) + 1000).encode())
        elif isinstance(limit._tzinfo, timezone):  # type: ignore[union-attr]
            offset = limit.utc_offset_seconds() * 1_000_000  # type: ignore[union-attr]
            extras.append(str(offset).encode())
        else:
            extras.append(None)  # a zone with DST: its offset is looked up per call
    spec = b""
    if None not in extras:
        spec = _spec(static, extras)  # type: ignore[arg-type]
    flat_keys = tuple(k.encode() for limit_keys in keys for k in limit_keys)
    head = ACQUIRE.packed_head(len(flat_keys), 3 if "t" in kinds else 2, *flat_keys)
    return _Plan(
        tuple(limits),
        tuple(keys),
        kinds,
        flat_keys,
        static,
        tuple(extras),
        tuple(limit.name for limit in limits),
        spec,
        "t" in kinds,
        tuple(
            (limit.name, limit.limit, kind == "r")
            for limit, kind in zip(limits, kinds, strict=True)
        ),
        "f" in kinds,
        (0,) * len(limits),
        head,
        bulk(spec) if spec else b"",
        makes_rid="t" in kinds or "f" in kinds,
        settled=tuple(settled),
    )


def pack_acquire(plan: _Plan, rid: str, requests: int, tokens: int) -> bytes:
    """The whole ``EVALSHA`` of an applying acquire, packed in RESP, for the fast path."""
    if requests == 1 and tokens == 0:
        header = _PACKED_1_0
    else:
        header = bulk(b"1 %d %d" % (requests, tokens))
    spec = plan.packed_spec
    if not spec:
        spec = bulk(build_acquire(plan, rid, requests, tokens)[1][1])
    if plan.needs_rid:
        return plan.packed_head + header + spec + bulk(rid.encode())
    return plan.packed_head + header + spec


def _offsets(limit: Any) -> bytes:
    """A daylight-saving zone's ``x`` of a fixed window: its offset now in us, and when
    the window ends in another offset, ``,`` and that one (acquire.lua)."""
    now, end = limit.window_offsets()
    if now == end:
        return b"%d" % (now * 1_000_000)
    return b"%d,%d" % (now * 1_000_000, end * 1_000_000)


def _spec(static: Sequence[tuple[bytes, bytes, bytes]], extras: Sequence[bytes]) -> bytes:
    return b" ".join(b" ".join((*item, extra)) for item, extra in zip(static, extras, strict=True))


_HEADER_1_0 = b"1 1 0"  # the commonest call: one request, no tokens
_PACKED_1_0 = bulk(_HEADER_1_0)


def build_acquire(
    plan: _Plan, rid: str, requests: int, tokens: int, apply: bool = True
) -> tuple[Sequence[bytes | str], list[Any]]:
    """KEYS and ARGV of ``acquire.lua`` for one call."""
    if apply and requests == 1 and tokens == 0:
        header = _HEADER_1_0
    else:
        header = b"%d %d %d" % (apply, requests, tokens)
    spec = plan.spec
    if not spec:
        extras = [
            _offsets(limit) if extra is None else extra
            for limit, extra in zip(plan.limits, plan.extras, strict=True)
        ]
        spec = _spec(plan.static, extras)
    if plan.needs_rid:
        return plan.flat_keys, [header, spec, rid]
    return plan.flat_keys, [header, spec]


_tuple_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__


def parse_acquire(
    plan: _Plan, reply: bytes | str, rid: str, requests: int, tokens: int
) -> Decision:
    """Turn the script's reply (space-separated integers) into a :class:`Decision`.

    The script reports what each limit had used before this call; ``remaining`` is
    the limit minus that, minus this call's cost when it was admitted.
    """
    v = reply.split()
    now_us = int(v[1]) * 1_000_000 + int(v[2])
    allowed = int(v[0]) == 1
    remaining = {}
    i = 5
    for name, limit, is_request in plan.meta:
        left = limit - int(v[i])
        if allowed:
            left -= requests if is_request else tokens
        remaining[name] = left if left > 0 else 0
        i += 2
    if allowed:
        windows = tuple(map(int, v[6::2])) if plan.has_fixed else plan.no_windows
        reservation = _tuple_new(Reservation, (rid, tokens, requests, windows, plan, now_us))
        return _tuple_new(
            Decision, (True, 0.0, remaining, None, None, reservation, now_us / 1e6, False)
        )
    retry_us, denied = int(v[3]), int(v[4])
    return Decision(
        False,
        math.inf if retry_us < 0 else retry_us / 1e6,
        remaining,
        plan.names[denied - 1],
        plan.keys[denied - 1][0],
        None,
        now_us / 1e6,
    )


def build_settle(
    reservation: Reservation, actual_tokens: int, refund_requests: bool
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of ``settle.lua``; empty when there is nothing to change."""
    if not isinstance(reservation, Reservation):
        raise ConfigError(
            "settle() takes the Reservation of an admitted Decision (decision.reservation) "
            f"or None, got {type(reservation).__name__}: {reservation!r:.80}"
        )
    keys: list[str] = []
    args: list[Any] = [reservation.rid]
    delta = actual_tokens - reservation.tokens
    plan = reservation.plan
    for kind, item_keys, window, static, settled in zip(
        plan.kinds, plan.keys, reservation.windows, plan.static, plan.settled, strict=True
    ):
        if kind == "r":
            if not refund_requests or reservation.requests == 0:
                continue
            args += ["r", reservation.requests, reservation.admitted_us, static[2]]
        elif delta == 0:
            continue
        elif kind == "f":
            args += ["f", window, delta, 0]
            item_keys = (*item_keys, settled)
        else:
            args += ["t", reservation.tokens, actual_tokens, 0]
        keys.extend(item_keys)
    if delta and len(plan.kinds) > plan.kinds.count("r"):
        # a token settle declares last the key of settle.lua's first write: Redis refuses
        # it when memory is full (the rest began with a delete, allowed on a full server)
        keys.append(slot_guard(keys[0]).decode())
    return (keys, args) if len(args) > 1 else ([], [])


# per call: each request is one entry pushed to the request logs (a huge count would
# stall the server); MAX_TOKENS (config) bounds token counts
MAX_REQUESTS = 100_000


def _all_keys(plan: _Plan) -> list[str]:
    # deleted one key per DEL: on a cluster a multi-key DEL must stay in one slot,
    # which holds here, but single deletes keep reset independent of shard_by
    return [key for limit_keys in plan.keys for key in limit_keys] + [
        key for key in plan.settled if key
    ]


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{what} must be an int >= 0, got {value!r}")
    return value


def check_tokens(value: object, what: str = "tokens") -> int:
    """``value`` as the tokens of one call: an int from 0 to ``MAX_TOKENS``, else
    :class:`ConfigError` naming ``what`` (shared with callers that queue a call for
    later, so they refuse what the limiter would)."""
    tokens = _check_count(value, what)
    if tokens > MAX_TOKENS:
        raise ConfigError(f"{what} must be at most {MAX_TOKENS:.0e} per call, got {tokens:,}")
    return tokens


def check_subject(value: object, what: str = "user") -> str | None:
    """``value`` as a user or org id: a str or None, else :class:`ConfigError`."""
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{what} must be a str or None, got {type(value).__name__}")
    return value


def check_wait(value: object, what: str = "max_wait") -> float:
    """``value`` as a cap on waiting: a finite number of seconds >= 0, else
    :class:`ConfigError` (NaN compares false with everything, so it would turn
    the cap off; inf would block for as long as a budget's window)."""
    return check_seconds(value, what, zero=True)


def _check_costs(requests: int, tokens: int) -> None:
    # the common case in two type() checks: this runs on every call
    if (
        type(requests) is int
        and type(tokens) is int
        and 0 <= requests <= MAX_REQUESTS
        and 0 <= tokens <= MAX_TOKENS
    ):
        return
    if _check_count(requests, "requests") > MAX_REQUESTS:
        raise ConfigError(
            f"requests must be at most {MAX_REQUESTS:,} per call (each is one entry in the "
            f"request log), got {requests:,}: count large units with a TokenBudget instead"
        )
    check_tokens(tokens)


class RateLimiter:
    """Request limits and token budgets shared by every process using the same Redis.

    Args:
        limits: :class:`RequestLimit` and :class:`TokenBudget` policies, all checked
            in one script per call; a call is admitted only if every one admits it
            (and then all are charged), so a refusal consumes nothing.
        config: connection settings (default: the process-wide config).
        name: names this limiter's keys; limiters with the same name and limits share
            state across processes.
        shard_by: which hash tag the keys share (see the module doc): ``"none"``
            (one slot, every composition exact), ``"org"`` or ``"user"``.
        on_unavailable: when Redis cannot be reached, ``"fail_closed"`` raises
            :class:`RedisUnavailableError` so no unmetered call goes out;
            ``"fail_open"`` admits the call (``Decision.degraded``) and logs a warning
            at most every 10 s. Default: ``"fail_closed"``, or ``"fail_open"`` when
            ``config.on_error="degrade"``. A client pool with every connection in use
            (``PoolExhaustedError``) raises under both: a burst, not an outage.
            Settlement never raises for a down Redis.
        max_wait: cap in seconds on how long a blocking :meth:`acquire` waits (finite,
            >= 0; a per-call ``max_wait`` is checked the same way).

    Calls made without a user (or org) share one bucket per limit, so leaving out the
    id never escapes a limit; it is a key of its own, which no id (``"anonymous"``
    included) can name.
    """

    def __init__(
        self,
        limits: Sequence[Limit],
        *,
        config: RedisAgentConfig | None = None,
        name: str = "default",
        shard_by: ShardBy = "none",
        on_unavailable: OnUnavailable | None = None,
        max_wait: float = 30.0,
    ) -> None:
        limits = tuple(limits)
        if not limits:
            raise ConfigError("RateLimiter needs at least one RequestLimit or TokenBudget")
        for limit in limits:
            if not isinstance(limit, (RequestLimit, TokenBudget)):
                raise ConfigError(
                    f"limits must be RequestLimit or TokenBudget, got {type(limit).__name__}"
                )
        names = [limit.name for limit in limits]
        if len(set(names)) != len(names):
            raise ConfigError(f"limit names must be unique within a limiter, got {names}")
        if shard_by not in ("none", "org", "user"):
            raise ConfigError(f"shard_by must be 'none', 'org' or 'user', got {shard_by!r}")
        allowed_per = {"none": ("user", "org", "global"), "org": ("user", "org"), "user": ("user",)}
        for limit in limits:
            if limit.per not in allowed_per[shard_by]:
                raise ConfigError(
                    f"limit {limit.name!r} is per {limit.per!r} but shard_by={shard_by!r} "
                    f"keeps one slot per {shard_by}: a {limit.per} limit would span slots. "
                    "Use shard_by='none' (one slot for the whole limiter) to compose it."
                )
        config = config or get_default_config()
        if on_unavailable is None:  # the pack-wide policy, else fail closed
            on_unavailable = "fail_open" if config.on_error == "degrade" else "fail_closed"
        if on_unavailable not in ("fail_open", "fail_closed"):
            raise ConfigError(
                f"on_unavailable must be 'fail_open' or 'fail_closed', got {on_unavailable!r}"
            )
        max_wait = check_wait(max_wait)
        KeySpace("x").ratelimit(name, "x", "x")  # validates the type of name
        self.limits = limits
        self.config = config
        self.name = name
        self.shard_by: ShardBy = shard_by
        self.on_unavailable: OnUnavailable = on_unavailable
        # the pack's one fault policy; tried on every call (recheck_after=0): an
        # admission is never decided by a pause, only by Redis or by the policy
        self.faults = RedisFaults(
            config,
            f"rate limiter {name!r}",
            "degrade" if on_unavailable == "fail_open" else "raise",
            log_interval=10.0,
            recheck_after=0.0,
            degraded="admitting calls unmetered (fail_open)",
            refused="admitting calls unmetered (fail_open)",
            raise_hint="The rate limiter is fail_closed, so the call was refused; pass "
            "on_unavailable='fail_open' to admit calls unmetered while Redis is down.",
            logger=logger,
            exhausted_raises=True,  # a burst past the pool is no outage: never unmetered
        )
        self.max_wait = max_wait
        self._keyspace = self.config.keys
        self._lock = threading.Lock()
        self._plans: dict[tuple[str | None, str | None], _Plan] = {}
        self._fast = FastPath()  # leased connections for the acquire fast path
        self._background: set[asyncio.Future[Any]] = set()  # see _keep

    def __repr__(self) -> str:
        names = ", ".join(limit.name for limit in self.limits)
        return f"RateLimiter(name={self.name!r}, limits=[{names}], shard_by={self.shard_by!r})"

    # -- helpers --
    def _cached_plan(self, user: str | None, org: str | None) -> _Plan:
        """The plan, from the cache without :meth:`_plan`'s checks when it is there (every
        call of the hot path)."""
        try:
            return self._plans.get((user, org)) or self._plan(user, org)
        except TypeError:  # an unhashable id: _plan refuses it by name
            return self._plan(user, org)

    def _plan(self, user: str | None, org: str | None) -> _Plan:
        # first: an unhashable id (a list, a dict) raised a bare TypeError at the lookup
        check_subject(user, "user")
        check_subject(org, "org")
        cache_key = (user, org)
        plan = self._plans.get(cache_key)
        if plan is None:
            plan = build_plan(self._keyspace, self.name, self.limits, self.shard_by, user, org)
            if len(self._plans) > 4096:  # bounded: ids are unbounded in number
                self._plans.clear()
            self._plans[cache_key] = plan
        return plan

    def _down(self, action: str, exc: BaseException) -> Decision:
        self.faults.failed(action, exc)  # raises when fail_closed
        return Decision(True, 0.0, {}, degraded=True)

    def _settle_failed(self, exc: BaseException) -> bool:
        logger.warning(
            "rate limiter %r could not settle a reservation; the estimate stays charged: %s",
            self.name,
            map_redis_error(exc, "settling a token reservation", self.config),
        )
        return False

    def _wait_or_raise(self, decision: Decision, deadline: float, cap: float) -> float:
        """Seconds to sleep before retrying, or raise when the cap does not allow it."""
        wait = decision.retry_after
        if math.isinf(wait) or time.monotonic() + wait > deadline:
            raise RateLimitExceeded(
                decision.limit or "?",
                decision.key or "?",
                decision.retry_after,
                detail=f"blocking acquire waits at most max_wait={cap:g} s",
            )
        # a little jitter so waiters woken by the same expiry do not collide
        return wait + random.uniform(0.0, min(0.01, wait / 10 + 0.001))

    # -- sync API --
    def try_acquire(
        self, *, user: str | None = None, org: str | None = None, tokens: int = 0, requests: int = 1
    ) -> Decision:
        """One non-blocking decision: charge ``requests`` to the request limits and
        reserve ``tokens`` in the token budgets, or charge nothing if any refuses.

        Raises :class:`ConfigError` for costs that are negative or above
        ``MAX_REQUESTS`` (100,000) / ``MAX_TOKENS`` (1e13) per call."""
        if (
            type(requests) is not int
            or type(tokens) is not int
            or not 0 <= requests <= MAX_REQUESTS
            or not 0 <= tokens <= MAX_TOKENS
        ):
            _check_costs(requests, tokens)
        plan = self._cached_plan(user, org)
        rid = new_reservation_id() if plan.makes_rid else ""
        try:
            # inside: a cluster client whose URL's node is down fails while being built
            client = self.config.get_client()
            lease = self._fast.lease(client)
            try:
                reply = FALLBACK
                if lease is not None:
                    reply = lease.call(pack_acquire(plan, rid, requests, tokens))
            except NOSCRIPT:  # the packed EVALSHA: not cached yet
                reply = FALLBACK
            if reply is FALLBACK:
                keys, args = build_acquire(plan, rid, requests, tokens)
                reply = ACQUIRE(client, keys, args, wait=self.config.backoff)
        except FAULTS as exc:
            return self._decided(self._down("rate limit check", exc))
        return self._decided(parse_acquire(plan, reply, rid, requests, tokens))

    def _decided(self, decision: Decision) -> Decision:
        telemetry.limiter_decision(self.name, decision.allowed, decision.limit)
        return decision

    @telemetry.traced("ratelimit", "acquire")
    def acquire(
        self,
        *,
        user: str | None = None,
        org: str | None = None,
        tokens: int = 0,
        requests: int = 1,
        blocking: bool = True,
        max_wait: float | None = None,
    ) -> Decision:
        """Admit the call or raise :class:`RateLimitExceeded`.

        ``blocking=True`` sleeps for the retry-after and tries again while the total
        wait stays within ``max_wait`` (default: the limiter's); a wait that would
        pass the cap raises at once, without sleeping.
        """
        cap = self.max_wait if max_wait is None else check_wait(max_wait)
        deadline = time.monotonic() + cap
        while True:
            decision = self.try_acquire(user=user, org=org, tokens=tokens, requests=requests)
            if decision.allowed:
                return decision
            if not blocking:
                raise decision.exceeded()
            time.sleep(self._wait_or_raise(decision, deadline, cap))

    def settle(
        self,
        reservation: Reservation | None,
        actual_tokens: int,
        *,
        refund_requests: bool = False,
    ) -> bool:
        """Charge ``actual_tokens`` instead of the reserved estimate.

        ``refund_requests=True`` also gives back the request slots (a call that never
        reached the provider, e.g. a cache hit). Returns False when nothing could be
        applied (no reservation, Redis down: logged, the estimate stays charged), or
        when the reservation was already settled: a retried settle changes nothing.
        """
        if reservation is None:
            return False
        _check_costs(0, actual_tokens)
        keys, args = build_settle(reservation, actual_tokens, refund_requests)
        if not args:
            return True
        try:
            reply = SETTLE(self.config.get_client(), keys, args, wait=self.config.backoff)
        except FAULTS as exc:
            return self._settle_failed(exc)
        return all(int(x) == 1 for x in reply)

    def peek(
        self, *, user: str | None = None, org: str | None = None, tokens: int = 0, requests: int = 1
    ) -> Decision:
        """Whether such a call would be admitted now, consuming nothing."""
        _check_costs(requests, tokens)
        plan = self._plan(user, org)
        keys, args = build_acquire(plan, "peek", requests, tokens, apply=False)
        client = self.config.get_client()
        try:
            # a peek charges nothing: resent
            reply = ACQUIRE(client, keys, args, resend=True, wait=self.config.backoff)
        except FAULTS as exc:
            raise map_redis_error(exc, "rate limit peek", self.config) from exc
        return parse_acquire(plan, reply, "peek", requests, tokens)._replace(reservation=None)

    def reset(self, *, user: str | None = None, org: str | None = None) -> int:
        """Delete the state of every limit for this (user, org), global ones included.
        Returns the number of keys removed."""
        plan = self._plan(user, org)
        client = self.config.get_client()
        try:
            return sum(int(client.delete(key)) for key in _all_keys(plan))
        except FAULTS as exc:
            raise map_redis_error(exc, "rate limit reset", self.config) from exc

    # -- async API --
    async def atry_acquire(
        self, *, user: str | None = None, org: str | None = None, tokens: int = 0, requests: int = 1
    ) -> Decision:
        """Async :meth:`try_acquire`."""
        _check_costs(requests, tokens)
        plan = self._cached_plan(user, org)
        rid = new_reservation_id() if plan.makes_rid else ""
        keys, args = build_acquire(plan, rid, requests, tokens)
        client = self.config.get_async_client()
        # Shielded: a caller cancelled (asyncio.wait_for, a client gone) once the script
        # was sent never gets the Reservation to settle, so the call reads its reply on
        # and gives back what it charged (else held until the window passes).
        call = asyncio.ensure_future(ACQUIRE.acall(client, keys, args, wait=self.config.backoff))
        try:
            reply = await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(
                lambda done: self._refund_cancelled(done, plan, rid, requests, tokens)
            )
            raise
        except FAULTS as exc:
            return self._decided(self._down("rate limit check", exc))
        return self._decided(parse_acquire(plan, reply, rid, requests, tokens))

    def _refund_cancelled(
        self, done: asyncio.Future[Any], plan: _Plan, rid: str, requests: int, tokens: int
    ) -> None:
        """The reply of an acquire whose caller was cancelled: refund it if admitted."""
        if done.cancelled() or done.exception() is not None:
            return  # not sent, or its reply lost: nothing known to refund
        reservation = parse_acquire(plan, done.result(), rid, requests, tokens).reservation
        if reservation is None:
            return  # refused: nothing was charged
        self._keep(asyncio.ensure_future(self.asettle(reservation, 0, refund_requests=True)))

    def _keep(self, task: asyncio.Future[Any]) -> None:
        """Hold ``task`` (a call its cancelled caller left running) until it ends."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @telemetry.traced("ratelimit", "acquire")
    async def aacquire(
        self,
        *,
        user: str | None = None,
        org: str | None = None,
        tokens: int = 0,
        requests: int = 1,
        blocking: bool = True,
        max_wait: float | None = None,
    ) -> Decision:
        """Async :meth:`acquire` (waits with ``asyncio.sleep``)."""
        cap = self.max_wait if max_wait is None else check_wait(max_wait)
        deadline = time.monotonic() + cap
        while True:
            decision = await self.atry_acquire(user=user, org=org, tokens=tokens, requests=requests)
            if decision.allowed:
                return decision
            if not blocking:
                raise decision.exceeded()
            await asyncio.sleep(self._wait_or_raise(decision, deadline, cap))

    async def asettle(
        self,
        reservation: Reservation | None,
        actual_tokens: int,
        *,
        refund_requests: bool = False,
    ) -> bool:
        """Async :meth:`settle`."""
        if reservation is None:
            return False
        _check_costs(0, actual_tokens)
        keys, args = build_settle(reservation, actual_tokens, refund_requests)
        if not args:
            return True
        client = self.config.get_async_client()
        # Shielded: a caller cancelled meanwhile (its request ended) has moved on; the
        # settle still applies (once: settling a reservation again changes nothing)
        call = asyncio.ensure_future(SETTLE.acall(client, keys, args, wait=self.config.backoff))
        try:
            reply = await asyncio.shield(call)
        except asyncio.CancelledError:
            call.add_done_callback(self._settled_late)
            self._keep(call)
            raise
        except FAULTS as exc:
            return self._settle_failed(exc)
        return all(int(x) == 1 for x in reply)

    def _settled_late(self, done: asyncio.Future[Any]) -> None:
        """The outcome of a settle whose caller was cancelled: logged when it failed."""
        if done.cancelled():
            return
        exc = done.exception()
        if isinstance(exc, FAULTS):
            self._settle_failed(exc)
        elif exc is not None:
            logger.warning("rate limiter %r: a settle failed: %r", self.name, exc)

    def settle_commands(
        self,
        reservation: Reservation | None,
        actual_tokens: int,
        *,
        refund_requests: bool = False,
    ) -> list[tuple[Any, ...]]:
        """The command of :meth:`settle` (none when there is nothing to change), for a
        caller that sends it in one round trip with other writes
        (:func:`..scripts.asend_commands`); its reply is a list of 1s when every
        counter was settled. That caller handles a failure: a settle that never ran
        leaves the estimate charged, as :meth:`settle` does when Redis is down."""
        if reservation is None:
            return []
        _check_costs(0, actual_tokens)
        keys, args = build_settle(reservation, actual_tokens, refund_requests)
        return [SETTLE.evalsha(keys, args)] if args else []

    async def apeek(
        self, *, user: str | None = None, org: str | None = None, tokens: int = 0, requests: int = 1
    ) -> Decision:
        """Async :meth:`peek`."""
        _check_costs(requests, tokens)
        plan = self._plan(user, org)
        keys, args = build_acquire(plan, "peek", requests, tokens, apply=False)
        client = self.config.get_async_client()
        try:
            # a peek charges nothing: resent
            reply = await ACQUIRE.acall(client, keys, args, resend=True, wait=self.config.backoff)
        except FAULTS as exc:
            raise map_redis_error(exc, "rate limit peek", self.config) from exc
        return parse_acquire(plan, reply, "peek", requests, tokens)._replace(reservation=None)

    async def areset(self, *, user: str | None = None, org: str | None = None) -> int:
        """Async :meth:`reset`."""
        plan = self._plan(user, org)
        client = self.config.get_async_client()
        try:
            return sum([int(await client.delete(key)) for key in _all_keys(plan)])
        except FAULTS as exc:
            raise map_redis_error(exc, "rate limit reset", self.config) from exc
