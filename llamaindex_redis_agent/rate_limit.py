"""LlamaIndex rate limiting on Redis: an LLM/embedding ``rate_limiter`` and a
``CallbackManager`` handler that enforces per-user request limits and token budgets.

- :class:`RedisRateLimiter` implements ``llama_index.core.rate_limiter.BaseRateLimiter``
  (``acquire(num_tokens)`` / ``async_acquire``) for one fixed subject. LlamaIndex has
  no hook to report real usage to a rate limiter, so ``num_tokens`` is charged as is.
- :class:`RateLimitCallbackHandler` runs in the legacy ``CallbackManager``, whose
  handler exceptions propagate: at each ``CBEventType.LLM`` start it charges the
  user's request limits and reserves an estimate of the tokens, raising
  :class:`RateLimitExceeded` to stop the call; at the event's end it settles the real
  usage read from the response. The user comes from :func:`rate_limit_subject` (a
  context variable, so concurrent requests keep their own) or the handler's default.
  The newer instrumentation dispatcher swallows handler exceptions, so it could only
  account, never stop a call: this handler uses the callback manager on purpose.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.callbacks.schema import CBEventType, EventPayload
from llama_index.core.llms import callbacks as llm_callbacks
from llama_index.core.rate_limiter import BaseRateLimiter

from redis_agent_core.ratelimit import (
    PRUNE_AT,
    RateLimiter,
    RateLimitExceeded,
    Reservation,
    check_wait,
    checked_estimator,
    hold,
    horizon_us,
    reported_tokens,
    token_count,
)

__all__ = [
    "RateLimitCallbackHandler",
    "RateLimitExceeded",
    "RedisRateLimiter",
    "rate_limit_subject",
    "usage_from_response",
]

logger = logging.getLogger(__name__)

_subject: contextvars.ContextVar[tuple[str | None, str | None] | None] = contextvars.ContextVar(
    "redis_agent_rate_limit_subject", default=None
)


@contextmanager
def rate_limit_subject(user: str | None, org: str | None = None) -> Iterator[None]:
    """Charge LLM calls made inside the block to ``user`` / ``org``.

    A context variable: each thread and asyncio task sees its own subject.
    """
    token = _subject.set((user, org))
    try:
        yield
    finally:
        _subject.reset(token)


# LlamaIndex's LLM callback wrappers (llm_chat_callback, llm_completion_callback). An LLM
# whose chat calls its own complete (every CustomLLM: MockLLM, LlamaCPP, HuggingFaceLLM,
# most hand-written ones) runs one wrapper inside another: each fires an LLM event and
# calls the LLM's rate_limiter, so a call would be charged once per level (achat: three
# times). LLM events are leaf events (their parent_id is the root), so the nesting is
# read from the wrappers' frames on the stack. A LlamaIndex that renames them is only
# charged per level again, never less.
_WRAPPER_FILE = llm_callbacks.__file__
# wrapped_gen: the generator a streaming call returns, which ends the event when drained
# (CustomLLM's astream_chat runs stream_chat while it is drained)
_WRAPPERS = frozenset(
    {"wrapped_llm_chat", "wrapped_async_llm_chat", "wrapped_llm_predict",
     "wrapped_async_llm_predict", "wrapped_gen"}
)  # fmt: skip
_REMEMBERED = 1024  # LLM events a RedisRateLimiter charged, kept to recognise nested ones


def _open_llm_calls() -> Iterator[dict[str, Any]]:
    """Locals of the LLM callback wrappers on this call stack (awaiting coroutines and
    draining generators included) that have started their LLM event (``event_id`` is
    bound), innermost first."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name in _WRAPPERS and code.co_filename == _WRAPPER_FILE:
            found = frame.f_locals
            if "event_id" in found:
                yield found
        frame = frame.f_back


class RedisRateLimiter(BaseRateLimiter):
    """A LlamaIndex ``rate_limiter`` shared by every process on the same Redis.

    Args:
        limiter: the core limiter; its request limits take one slot per call and its
            token budgets are charged ``num_tokens`` (never settled: LlamaIndex
            reports no usage back to a rate limiter).
        user, org: the fixed subject (``None``: the current :func:`rate_limit_subject`,
            else the bucket shared by calls without one).
        max_wait: cap on the wait (default: the limiter's); past it,
            :class:`RateLimitExceeded` is raised, as ``acquire`` cannot return "no".
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
        self._charged: dict[str, None] = {}  # recent LLM event ids, oldest first
        self._lock = threading.Lock()

    def _who(self) -> tuple[str | None, str | None]:
        if self.user is not None or self.org is not None:
            return self.user, self.org
        return _subject.get() or (None, None)

    def _call(self) -> tuple[bool, dict[str, Any] | None]:
        """``(nested, the wrapper's locals)`` of the LLM call asking: nested when
        LlamaIndex calls this from inside a call it already charged (a CustomLLM's chat
        -> complete); else the calling LLM event is remembered. The locals are None when
        this is not an LLM's own acquire (an embedding, or called directly)."""
        calls = _open_llm_calls()
        current = next(calls, None)
        if current is None or getattr(current.get("_self"), "rate_limiter", None) is not self:
            return False, None
        if any(outer["event_id"] in self._charged for outer in calls):
            return True, current
        with self._lock:
            self._charged[current["event_id"]] = None
            if len(self._charged) > _REMEMBERED:  # forgotten: charged again, never less
                del self._charged[next(iter(self._charged))]
        return False, current

    def acquire(self, num_tokens: int = 0) -> None:
        """Wait (up to ``max_wait``) until one request with ``num_tokens`` fits (once
        per call: the inner calls of an LLM's own methods are not charged again).
        ``num_tokens`` is a number from 0 to 10^13 (a fraction is rounded up); anything
        else raises ``ConfigError`` before anything is charged."""
        nested, call = self._call()
        if nested:
            return
        user, org = self._who()
        try:
            tokens = token_count(num_tokens, "num_tokens")
            self.limiter.acquire(user=user, org=org, tokens=tokens, max_wait=self.max_wait)
        except BaseException as exc:
            _end_refused(call, exc)
            raise

    async def async_acquire(self, num_tokens: int = 0) -> None:
        """Async :meth:`acquire`."""
        nested, call = self._call()
        if nested:
            return
        user, org = self._who()
        try:
            tokens = token_count(num_tokens, "num_tokens")
            await self.limiter.aacquire(user=user, org=org, tokens=tokens, max_wait=self.max_wait)
        except BaseException as exc:  # a cancelled wait too
            _end_refused(call, exc)
            raise


def _end_refused(call: dict[str, Any] | None, exc: BaseException) -> None:
    """End the LLM event of a call its ``rate_limiter`` refused, with the refusal.

    LlamaIndex starts the event (its handlers reserve: :class:`RateLimitCallbackHandler`
    an estimate of the tokens) and then asks the rate limiter outside the ``try`` that
    ends the event on an exception: a refused call left its start without an end, and
    the handler's reservation charged until its budget's window passed. Ended here as a
    failed call, every handler sees it end (this one gives the tokens back)."""
    if call is None or call.get("callback_manager") is None:
        return
    manager = call["callback_manager"]
    try:
        manager.on_event_end(
            CBEventType.LLM, payload={EventPayload.EXCEPTION: exc}, event_id=call["event_id"]
        )
    except Exception:  # another handler's failure must not hide the refusal
        logger.warning("a callback handler failed at a refused LLM call's end", exc_info=True)


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


_COUNTS = ("total_tokens", "prompt_tokens", "completion_tokens", "input_tokens", "output_tokens")


def _total(usage: Any) -> int | None:
    """The tokens ``usage`` (a dict or a provider's usage object) counts, or None: none
    named, or a count no call has (a provider's -1 or 10^20, logged): settling it raised
    ``ConfigError`` from the callback, which failed the query after the LLM answered."""
    if usage is None:
        return None
    if not isinstance(usage, Mapping):
        usage = {name: _get(usage, name) for name in _COUNTS}
    return reported_tokens(usage, "a LlamaIndex LLM")


def usage_from_response(response: Any) -> int | None:
    """Total tokens of a LlamaIndex ``ChatResponse`` / ``CompletionResponse``, or None.

    Looks at ``raw["usage"]`` (OpenAI-style), ``raw["usage_metadata"]`` and the
    ``additional_kwargs`` token counts that LlamaIndex integrations fill.
    """
    if response is None:
        return None
    raw = _get(response, "raw")
    if raw is not None:
        for name in ("usage", "usage_metadata"):
            total = _total(_get(raw, name))
            if total is not None:
                return total
    return _total(_get(response, "additional_kwargs"))


def _prompt_text(payload: dict[str, Any]) -> str:
    prompt = payload.get(EventPayload.PROMPT)
    if isinstance(prompt, str):
        return prompt
    messages = payload.get(EventPayload.MESSAGES) or []
    return "\n".join(str(getattr(m, "content", "") or "") for m in messages)


def estimate_tokens(text: str, output_tokens: int = 256) -> int:
    """Default estimate: ~4 characters a token for the prompt plus ``output_tokens``."""
    return (len(text) + 3) // 4 + output_tokens


class RateLimitCallbackHandler(BaseCallbackHandler):
    """Enforce per-user request limits and token budgets at LLM events.

    Add it to a ``CallbackManager`` (``Settings.callback_manager`` or an LLM's own)
    and run calls inside ``with rate_limit_subject("alice"):``.

    Args:
        limiter: the core limiter.
        user, org: default subject when no :func:`rate_limit_subject` is active.
        estimator: ``prompt_text -> tokens`` reserved before the call.
        max_wait: seconds to wait for a slot before raising (0: raise at once).

    Unknown usage at the end keeps the estimate charged. An event that ends with an
    exception gets its tokens back. Redis down: the limiter's ``on_unavailable``
    decides at the start; settling never raises. The callback manager is sync only,
    so this handler calls Redis synchronously in async flows too.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        user: str | None = None,
        org: str | None = None,
        estimator: Callable[[str], int] | None = None,
        max_wait: float = 0.0,
    ) -> None:
        ignore: list[CBEventType] = [t for t in CBEventType if t is not CBEventType.LLM]
        super().__init__(event_starts_to_ignore=ignore, event_ends_to_ignore=ignore)
        self.limiter = limiter
        self.user = user
        self.org = org
        self.estimator = checked_estimator(
            estimator, estimate_tokens, "RateLimitCallbackHandler(estimator=...)"
        )
        self.max_wait = check_wait(max_wait)
        self._reservations: dict[str, Reservation] = {}
        self._open: set[str] = set()  # LLM events this handler charged, not yet ended
        self._prune_at = PRUNE_AT
        self._horizon_us = horizon_us(limiter)

    def _who(self) -> tuple[str | None, str | None]:
        current = _subject.get()
        return current if current is not None else (self.user, self.org)

    def on_event_start(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        parent_id: str = "",
        **kwargs: Any,
    ) -> str:
        """At an LLM event: charge the request, reserve the estimate, or raise."""
        if event_type is CBEventType.LLM:
            if any(w["event_id"] in self._open for w in _open_llm_calls()):
                return event_id  # inside a call this handler charged: the same call
            user, org = self._who()
            tokens = self.estimator(_prompt_text(payload or {}))
            decision = self.limiter.acquire(
                user=user,
                org=org,
                tokens=tokens,
                blocking=self.max_wait > 0,
                max_wait=self.max_wait,
            )
            if decision.reservation is not None:
                self._hold(event_id, decision.reservation)
            self._open.add(event_id)
        return event_id

    def _hold(self, event_id: str, reservation: Reservation) -> None:
        """Keep ``reservation`` until its event ends. An LLM event LlamaIndex never ends
        (a stream dropped before it was read; a call another handler of the manager
        refused after this one reserved) left it, and its open mark, here for good: past
        ``PRUNE_AT`` held, those no limit can still use are dropped
        (:func:`~redis_agent_core.ratelimit.hold`), and so are the open marks of events
        no longer held (a call still running past that only has its nested calls
        charged again: more, never less)."""
        held = self._reservations
        pruning = max(len(held), len(self._open)) >= self._prune_at
        self._prune_at = hold(
            held, event_id, reservation,
            prune_at=self._prune_at, horizon=self._horizon_us, floor=PRUNE_AT,
        )  # fmt: skip
        if pruning:
            for open_id in list(self._open):
                if open_id not in held:
                    self._open.discard(open_id)

    def on_event_end(
        self,
        event_type: CBEventType,
        payload: dict[str, Any] | None = None,
        event_id: str = "",
        **kwargs: Any,
    ) -> None:
        """At an LLM event's end: settle the real usage (refund on an exception)."""
        if event_type is not CBEventType.LLM:
            return
        self._open.discard(event_id)
        reservation = self._reservations.pop(event_id, None)
        if reservation is None:
            return
        payload = payload or {}
        if EventPayload.EXCEPTION in payload:
            self.limiter.settle(reservation, 0)
            return
        response = payload.get(EventPayload.RESPONSE) or payload.get(EventPayload.COMPLETION)
        total = usage_from_response(response)
        if total is not None:
            self.limiter.settle(reservation, total)

    def start_trace(self, trace_id: str | None = None) -> None:
        """Nothing to do per trace."""

    def end_trace(
        self,
        trace_id: str | None = None,
        trace_map: dict[str, list[str]] | None = None,
    ) -> None:
        """Nothing to do per trace."""
