"""LangChain rate limiting on Redis: a ``rate_limiter=`` for chat models and a callback
that enforces per-user request limits and token budgets.

- :class:`RedisRateLimiter` implements ``BaseRateLimiter``. LangChain consults it only
  on a cache miss and passes no user and no token count, so it enforces request
  limits for one fixed subject (global, or one user/org given at construction).
- :class:`RateLimitCallbackHandler` (sync and async calls) and
  :class:`AsyncRateLimitCallbackHandler` (async calls only) see the run's metadata
  (``config={"metadata": {"user_id": ...}}``): before each model call they charge the
  user's request limits and reserve an estimate in the token budgets, raising
  :class:`RateLimitExceeded` to stop the call (``raise_error=True``); at
  ``on_llm_end`` they settle the real usage. A cache hit (LangChain replays it with
  ``usage_metadata["total_cost"] == 0``) is refunded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.rate_limiters import BaseRateLimiter

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.ratelimit import (
    PRUNE_AT,
    RateLimiter,
    RateLimitExceeded,
    RequestLimit,
    Reservation,
    check_wait,
    checked_estimator,
    hold,
    horizon_us,
    reported_tokens,
)

__all__ = [
    "AsyncRateLimitCallbackHandler",
    "RateLimitCallbackHandler",
    "RateLimitExceeded",
    "RedisRateLimiter",
    "estimate_tokens",
    "settlement",
    "usage_from_result",
    "usage_of_messages",
]

logger = logging.getLogger(__name__)

TokenEstimator = Callable[[str, dict[str, Any]], int]


class RedisRateLimiter(BaseRateLimiter):
    """A LangChain ``rate_limiter=`` shared by every process on the same Redis.

    Args:
        limiter: the core limiter (its request limits apply; token budgets see 0
            tokens, as LangChain passes no count here).
        user, org: the fixed subject charged (``None``: the bucket of calls without one).
        max_wait: cap on a blocking wait (default: the limiter's ``max_wait``).

    ``acquire(blocking=True)`` waits for the retry-after up to ``max_wait``, then
    raises :class:`RateLimitExceeded` (LangChain ignores a ``False`` return, so
    returning it would let the call through). ``blocking=False`` returns at once.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        user: str | None = None,
        org: str | None = None,
        max_wait: float | None = None,
    ) -> None:
        self.limiter = limiter
        self.user = user
        self.org = org
        self.max_wait = None if max_wait is None else check_wait(max_wait)

    @classmethod
    def per_second(
        cls,
        requests: int,
        *,
        name: str = "langchain",
        config: RedisAgentConfig | None = None,
        max_wait: float = 30.0,
    ) -> RedisRateLimiter:
        """A global limit of ``requests`` per second, shared by all processes."""
        limiter = RateLimiter(
            [RequestLimit(requests, 1.0, per="global")],
            config=config,
            name=name,
            max_wait=max_wait,
        )
        return cls(limiter)

    def for_subject(self, user: str | None = None, org: str | None = None) -> RedisRateLimiter:
        """The same limits charged to another user/org (e.g. one model per tenant)."""
        return RedisRateLimiter(self.limiter, user=user, org=org, max_wait=self.max_wait)

    def acquire(self, *, blocking: bool = True) -> bool:
        """Take one request slot; see the class doc for blocking."""
        if not blocking:
            return self.limiter.try_acquire(user=self.user, org=self.org).allowed
        self.limiter.acquire(user=self.user, org=self.org, max_wait=self.max_wait)
        return True

    async def aacquire(self, *, blocking: bool = True) -> bool:
        """Async :meth:`acquire`."""
        if not blocking:
            return (await self.limiter.atry_acquire(user=self.user, org=self.org)).allowed
        await self.limiter.aacquire(user=self.user, org=self.org, max_wait=self.max_wait)
        return True


# -- pure helpers shared by the sync and async handlers --
def _text_of(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return " ".join(parts)


def estimate_tokens(text: str, invocation_params: dict[str, Any], output_tokens: int = 256) -> int:
    """Default estimate: ~4 characters a token for the prompt, plus ``max_tokens``
    from the model's parameters (else ``output_tokens``) for the answer."""
    max_tokens = invocation_params.get("max_tokens") or invocation_params.get(
        "max_completion_tokens"
    )
    answer = int(max_tokens) if isinstance(max_tokens, int) and max_tokens > 0 else output_tokens
    return (len(text) + 3) // 4 + answer


def usage_of_messages(messages: Iterable[Any]) -> tuple[int | None, bool]:
    """``(total tokens or None if unknown, is_cache_hit)`` of the messages a model call
    returned.

    A cache hit is marked by LangChain with ``usage_metadata["total_cost"] == 0`` on
    the replayed message; it costs nothing. A message whose usage names no token count,
    or one no call has (negative, past 10^13: a provider's bug, logged), makes the
    call's usage unknown, so the estimate stays charged: settling such a count raised
    ``ConfigError`` after the model had answered, and the caller lost the answer.
    """
    total = 0
    known = False
    cache_hit = False
    for message in messages:
        usage = getattr(message, "usage_metadata", None)
        if not usage:
            continue
        if usage.get("total_cost") == 0:
            cache_hit = True
            continue
        tokens = reported_tokens(usage, "a LangChain model")
        if tokens is None:
            return None, cache_hit
        total += tokens
        known = True
    if known:  # several messages' counts: their sum is checked as one
        return reported_tokens({"total_tokens": total}, "a LangChain model"), cache_hit
    return (0 if cache_hit else None), cache_hit


def usage_from_result(response: LLMResult) -> tuple[int | None, bool]:
    """``(total tokens or None if unknown, is_cache_hit)`` of a model result (its chat
    generations' :func:`usage_of_messages`, else the ``llm_output``'s token usage)."""
    messages = [
        generation.message
        for generations in response.generations
        for generation in generations
        if isinstance(generation, ChatGeneration)
    ]
    total, cache_hit = usage_of_messages(messages)
    if total is None and not cache_hit and response.llm_output:
        token_usage = response.llm_output.get("token_usage") or response.llm_output.get("usage")
        if isinstance(token_usage, Mapping):
            return reported_tokens(token_usage, "a LangChain model"), False
    return total, cache_hit


def settlement(
    usage: tuple[int | None, bool], reserved: int, refund_cache_hits: bool
) -> tuple[int, bool]:
    """``(tokens to settle at, give the request slot back)`` of a call whose
    :func:`usage_of_messages` is ``usage``: a cache hit costs nothing, unknown usage keeps
    the estimate ``reserved``."""
    total, cache_hit = usage
    if cache_hit and total == 0:
        return 0, refund_cache_hits
    return (reserved if total is None else total), False


class _HandlerCore:
    """State and pure logic shared by the sync and async callback handlers."""

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        user_key: str = "user_id",
        org_key: str = "org_id",
        estimator: TokenEstimator | None = None,
        max_wait: float = 0.0,
        refund_cache_hits: bool = True,
    ) -> None:
        self.limiter = limiter
        self.user_key = user_key
        self.org_key = org_key
        self.estimator = checked_estimator(
            estimator, estimate_tokens, f"{type(self).__name__}(estimator=...)"
        )
        self.max_wait = check_wait(max_wait)  # NaN would turn the cap off
        self.refund_cache_hits = refund_cache_hits
        self._reservations: dict[UUID, Reservation] = {}
        self._prune_at = PRUNE_AT
        # past this (us), no limit of the limiter can still be settled or refunded
        self._horizon_us = horizon_us(limiter)

    def _hold(self, run_id: UUID, reservation: Reservation) -> None:
        """Keep ``reservation`` until its run ends. A run LangChain never ends (a cancelled
        ``ainvoke`` that nobody refunds) would leave it here for good: past ``PRUNE_AT``
        held, those no limit can still use are dropped (:func:`~redis_agent_core.
        ratelimit.hold`)."""
        self._prune_at = hold(
            self._reservations, run_id, reservation,
            prune_at=self._prune_at, horizon=self._horizon_us, floor=PRUNE_AT,
        )  # fmt: skip

    def _subject(self, metadata: dict[str, Any] | None) -> tuple[str | None, str | None]:
        metadata = metadata or {}
        user, org = metadata.get(self.user_key), metadata.get(self.org_key)
        return (None if user is None else str(user)), (None if org is None else str(org))

    def _estimate(self, texts: Sequence[str], kwargs: dict[str, Any]) -> int:
        params = kwargs.get("invocation_params") or {}
        return self.estimator("\n".join(texts), params)

    def _end(self, run_id: UUID, response: LLMResult) -> tuple[Reservation, int, bool] | None:
        reservation = self._reservations.pop(run_id, None)
        if reservation is None:
            return None
        tokens, refund = settlement(
            usage_from_result(response), reservation.tokens, self.refund_cache_hits
        )
        return reservation, tokens, refund


class RateLimitCallbackHandler(_HandlerCore, BaseCallbackHandler):
    """Enforce per-user request limits and token budgets around each model call.

    Args:
        limiter: the core limiter (request limits and token budgets).
        user_key, org_key: metadata keys naming the user and org of a run.
        estimator: ``(prompt_text, invocation_params) -> tokens`` reserved before
            the call (default :func:`estimate_tokens`).
        max_wait: seconds to wait for a slot before raising (0: raise at once).
        refund_cache_hits: a cache hit also gets its request slot back (it never
            reached the provider); its tokens are always refunded.

    Raises :class:`RateLimitExceeded` from ``on_llm_start`` / ``on_chat_model_start``,
    which stops the call (``raise_error = True``). Redis down: the limiter's
    ``on_unavailable`` policy decides (``fail_closed`` raises
    :class:`~redis_agent_core.errors.RedisUnavailableError`); settling never raises.
    A cancelled ``ainvoke`` gets no callback from LangChain: :meth:`refund` it.
    """

    raise_error = True
    # Inline even with max_wait > 0, whose wait (time.sleep) then stops the event loop in
    # ainvoke: off the loop, langchain-core's async on_llm_start skips it whenever an
    # inline handler is there (LangSmith's tracer; langchain-ai/langchain#39633), and a
    # completion LLM's calls went through unmetered. Async code: AsyncRateLimitCallbackHandler.
    run_inline = True

    def _start(self, texts: list[str], run_id: UUID, metadata: Any, kwargs: Any) -> None:
        user, org = self._subject(metadata)
        decision = self.limiter.acquire(
            user=user,
            org=org,
            tokens=self._estimate(texts, kwargs),
            blocking=self.max_wait > 0,
            max_wait=self.max_wait,
        )
        if decision.reservation is not None:
            self._hold(run_id, decision.reservation)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Charge the request and reserve the estimate, or raise."""
        texts = [_text_of(m) for batch in messages for m in batch]
        self._start(texts, run_id, metadata, kwargs)

    def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Charge the request and reserve the estimate, or raise."""
        self._start(list(prompts), run_id, metadata, kwargs)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Settle the real usage (a cache hit costs nothing)."""
        ended = self._end(run_id, response)
        if ended is not None:
            reservation, actual, refund = ended
            self.limiter.settle(reservation, actual, refund_requests=refund)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A failed call gives its reserved tokens back (the request stays counted)."""
        self.refund(run_id)

    def refund(self, run_id: UUID) -> bool:
        """Give back the tokens reserved for run ``run_id`` (the request stays counted).

        For a run that ends with neither ``on_llm_end`` nor ``on_llm_error``: LangChain
        calls neither when an ``ainvoke`` is cancelled (``task.cancel()``, a timeout
        around it), so pass ``config={"run_id": ...}`` and call this where you catch the
        cancellation. False when nothing is reserved for it (settled, or never charged).
        """
        reservation = self._reservations.pop(run_id, None)
        return reservation is not None and self.limiter.settle(reservation, 0)


class AsyncRateLimitCallbackHandler(_HandlerCore, AsyncCallbackHandler):
    """The asyncio form of :class:`RateLimitCallbackHandler` (native async Redis calls).

    Enforces only in async calls (``ainvoke``, ``astream``, ...). In a sync ``invoke``
    LangChain runs async handlers' coroutines itself and logs and swallows their
    errors whatever ``raise_error`` says, so a refusal would not stop the call: for
    code that calls models both ways use :class:`RateLimitCallbackHandler`, which
    stops both (in async calls it makes a short blocking Redis call).
    """

    raise_error = True
    run_inline = True

    async def _astart(self, texts: list[str], run_id: UUID, metadata: Any, kwargs: Any) -> None:
        user, org = self._subject(metadata)
        decision = await self.limiter.aacquire(
            user=user,
            org=org,
            tokens=self._estimate(texts, kwargs),
            blocking=self.max_wait > 0,
            max_wait=self.max_wait,
        )
        if decision.reservation is not None:
            self._hold(run_id, decision.reservation)

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Charge the request and reserve the estimate, or raise."""
        texts = [_text_of(m) for batch in messages for m in batch]
        await self._astart(texts, run_id, metadata, kwargs)

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Charge the request and reserve the estimate, or raise."""
        await self._astart(list(prompts), run_id, metadata, kwargs)

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Settle the real usage (a cache hit costs nothing)."""
        ended = self._end(run_id, response)
        if ended is not None:
            reservation, actual, refund = ended
            await self.limiter.asettle(reservation, actual, refund_requests=refund)

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A failed call gives its reserved tokens back (the request stays counted)."""
        await self.refund(run_id)

    async def refund(self, run_id: UUID) -> bool:
        """Async :meth:`RateLimitCallbackHandler.refund`: for a cancelled ``ainvoke``."""
        reservation = self._reservations.pop(run_id, None)
        return reservation is not None and await self.limiter.asettle(reservation, 0)
