"""Reservations a framework's callback handler holds from a call's start to its end
(pure: shared by the LangChain and LlamaIndex handlers).

A call the framework never ends (LangChain: a cancelled ``ainvoke`` nobody refunds;
LlamaIndex: a stream dropped before it was read, a call another handler refused after
this one reserved) left its reservation held for the life of the process. Past a
threshold of held ones, those admitted longer ago than the limiter's longest period
(nothing can settle or refund them any more) are dropped."""

from __future__ import annotations

from collections.abc import Hashable, MutableMapping
from typing import TypeVar

from .limiter import RateLimiter, Reservation

K = TypeVar("K", bound=Hashable)

#: reservations a callback handler holds before it drops those no limit can still use
PRUNE_AT = 10_000


def horizon_us(limiter: RateLimiter) -> int:
    """Microseconds past which no limit of ``limiter`` can still settle a reservation."""
    return round(max(limit.period for limit in limiter.limits) * 1e6)


def hold(
    held: MutableMapping[K, Reservation],
    key: K,
    reservation: Reservation,
    *,
    prune_at: int,
    horizon: int,
    floor: int = PRUNE_AT,
) -> int:
    """Hold ``reservation`` under ``key``; with ``prune_at`` or more held, first drop
    those admitted more than ``horizon`` us before it (its admit is now, on the server's
    clock). Returns the next ``prune_at`` (amortised: twice those kept, at least
    ``floor``). In place from a copy of the items: rebinding the mapping lost a
    reservation another thread held meanwhile, and iterating the live one could meet
    that insert mid-way (RuntimeError)."""
    if len(held) >= prune_at:
        cutoff = reservation.admitted_us - horizon
        for old, r in list(held.items()):  # one C call: no other thread runs in it
            if r.admitted_us < cutoff:
                held.pop(old, None)
        prune_at = max(floor, 2 * len(held))
    held[key] = reservation
    return prune_at
