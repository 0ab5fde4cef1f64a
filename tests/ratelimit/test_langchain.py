"""LangChain adapters: rate_limiter= on a chat model, and the per-user callback in a
chain with a fake model that reports usage."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate

from langchain_redis_agent import (
    AsyncRateLimitCallbackHandler,
    RateLimitCallbackHandler,
    RateLimitExceeded,
    RedisRateLimiter,
)
from langchain_redis_agent.middleware import RateLimitMiddleware
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget

Make = Callable[..., RateLimiter]
TOKENS = TokenBudget.daily(1000)


def fake_model(total_tokens: int = 30, **kwargs: object) -> GenericFakeChatModel:
    """A fake chat model whose every answer reports ``total_tokens`` of usage."""
    usage = {"input_tokens": 10, "output_tokens": total_tokens - 10, "total_tokens": total_tokens}
    answers = itertools.repeat(AIMessage(content="ok", usage_metadata=usage))  # type: ignore[arg-type]
    return GenericFakeChatModel(messages=answers, **kwargs)


def test_rate_limiter_on_a_chat_model(config: RedisAgentConfig) -> None:
    limiter = RedisRateLimiter.per_second(2, config=config, max_wait=0)
    model = fake_model(rate_limiter=limiter)
    model.invoke("a")
    model.invoke("b")
    with pytest.raises(RateLimitExceeded) as info:
        model.invoke("c")
    assert info.value.limit == "req-global-2per1s"
    assert limiter.acquire(blocking=False) is False


async def test_rate_limiter_async_waits_then_proceeds(make_limiter: Make) -> None:
    limiter = RedisRateLimiter(make_limiter([RequestLimit(1, 0.3)]), user="tenant-1")
    model = fake_model(rate_limiter=limiter)
    await model.ainvoke("a")
    await model.ainvoke("b")  # waits ~0.3 s for the window instead of failing
    assert not await limiter.aacquire(blocking=False)
    assert await limiter.for_subject(user="tenant-2").aacquire(blocking=False)


def test_callback_stops_one_user_while_another_proceeds(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(2, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter)
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | fake_model()
    alice = {"callbacks": [handler], "metadata": {"user_id": "alice"}}
    bob = {"callbacks": [handler], "metadata": {"user_id": "bob"}}
    chain.invoke({"q": "one"}, config=alice)
    chain.invoke({"q": "two"}, config=alice)
    with pytest.raises(RateLimitExceeded) as info:
        chain.invoke({"q": "three"}, config=alice)
    assert info.value.limit == "req-user-2per1m" and info.value.key.endswith(":alice")
    assert chain.invoke({"q": "one"}, config=bob).content == "ok"
    # settled to the real usage (30 tokens a call), not the reserved estimate
    assert limiter.peek(user="alice").remaining[TOKENS.name] == 1000 - 2 * 30
    assert limiter.peek(user="bob").remaining[TOKENS.name] == 1000 - 30


def test_callback_token_budget_stops_the_call(make_limiter: Make) -> None:
    limiter = make_limiter([TokenBudget.daily(300)])
    handler = RateLimitCallbackHandler(limiter, estimator=lambda text, params: 200)
    model = fake_model(total_tokens=150)
    config = {"callbacks": [handler], "metadata": {"user_id": "carol"}}
    model.invoke("first", config=config)  # reserves 200, settles 150
    with pytest.raises(RateLimitExceeded, match="tok-user"):
        model.invoke("second", config=config)  # 150 + 200 > 300


def test_cache_hits_are_not_charged(make_limiter: Make) -> None:
    budget = TokenBudget.daily(1000)
    limiter = make_limiter([RequestLimit(2, 60.0), budget])
    handler = RateLimitCallbackHandler(limiter)
    model = fake_model(total_tokens=40, cache=InMemoryCache())
    config = {"callbacks": [handler], "metadata": {"user_id": "dave"}}
    model.invoke("same question", config=config)
    for _ in range(3):  # cache hits: replayed with total_cost=0
        model.invoke("same question", config=config)
    status = limiter.peek(user="dave", requests=0)
    assert status.remaining[budget.name] == 1000 - 40
    assert status.remaining["req-user-2per1m"] == 1  # hits got their slot back
    assert not handler._reservations  # nothing left dangling


# counts no call has: a provider's -1 for "unknown", one past 10^13, one past 64 bits
BAD_USAGE = [-1, 10**14, 10**20]


@pytest.mark.parametrize("total", BAD_USAGE)
@pytest.mark.parametrize("cls", [RateLimitCallbackHandler, AsyncRateLimitCallbackHandler])
async def test_a_usage_the_limiter_cannot_settle_keeps_the_estimate(
    make_limiter: Make, cls: Any, total: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Settling such a count raised ConfigError from on_llm_end (raise_error=True): the
    call failed after the model had answered, its answer lost."""
    budget = TokenBudget.daily(1000)
    limiter = make_limiter([budget])
    handler = cls(limiter, estimator=lambda text, params: 77)
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": total}
    model = GenericFakeChatModel(messages=itertools.repeat(AIMessage("ok", usage_metadata=usage)))
    config = {"callbacks": [handler], "metadata": {"user_id": "gus"}}
    with caplog.at_level(logging.WARNING):
        assert (await model.ainvoke("q", config=config)).content == "ok"
        if cls is RateLimitCallbackHandler:
            assert (await asyncio.to_thread(model.invoke, "q", config=config)).content == "ok"
    calls = 1 if cls is AsyncRateLimitCallbackHandler else 2
    assert limiter.peek(user="gus", requests=0).remaining[budget.name] == 1000 - 77 * calls
    assert "the estimate stays charged" in caplog.text
    assert not handler._reservations


def test_failed_call_refunds_tokens(make_limiter: Make) -> None:
    budget = TokenBudget.daily(1000)
    limiter = make_limiter([budget])
    handler = RateLimitCallbackHandler(limiter)
    model = GenericFakeChatModel(messages=iter([]))  # raises StopIteration-based error
    with pytest.raises(Exception):  # noqa: B017 - the fake model's own error
        model.invoke("boom", config={"callbacks": [handler], "metadata": {"user_id": "e"}})
    assert limiter.peek(user="e").remaining[budget.name] == 1000


class SlowChatModel(BaseChatModel):
    """A chat model whose answer takes 5 s: the tests cancel it before."""

    @property
    def _llm_type(self) -> str:
        return "slow"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        await asyncio.sleep(5)
        raise AssertionError("not cancelled")

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        await asyncio.sleep(5)
        yield ChatGenerationChunk(message=AIMessageChunk(content="late"))


async def _cancelled(call: Any) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(call, 0.1)


async def test_a_cancelled_call_is_refunded_by_hand_and_a_cancelled_stream_by_itself(
    make_limiter: Make,
) -> None:
    limiter = make_limiter([RequestLimit(5, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter, estimator=lambda text, params: 300)
    run_id = uuid.uuid4()
    config: Any = {"callbacks": [handler], "metadata": {"user_id": "lee"}, "run_id": run_id}
    await _cancelled(SlowChatModel().ainvoke("hi", config=config))
    # LangChain calls neither on_llm_end nor on_llm_error for a cancelled ainvoke
    assert limiter.peek(user="lee", requests=0).remaining[TOKENS.name] == 700
    assert handler.refund(run_id) and not handler.refund(run_id)  # once
    assert limiter.peek(user="lee", requests=0).remaining[TOKENS.name] == 1000

    async def stream() -> None:
        async for _ in SlowChatModel().astream("hi", config={**config, "run_id": None}):
            pass

    await _cancelled(stream())  # a cancelled stream gets on_llm_error: refunded
    assert limiter.peek(user="lee", requests=0).remaining == {
        "req-user-5per1m": 3,  # the requests stay counted
        TOKENS.name: 1000,
    }
    assert not handler._reservations


async def test_async_handler_refunds_a_cancelled_call_by_hand(make_limiter: Make) -> None:
    limiter = make_limiter([TOKENS])
    handler = AsyncRateLimitCallbackHandler(limiter, estimator=lambda text, params: 300)
    run_id = uuid.uuid4()
    config: Any = {"callbacks": [handler], "metadata": {"user_id": "max"}, "run_id": run_id}
    await _cancelled(SlowChatModel().ainvoke("hi", config=config))
    assert limiter.peek(user="max", requests=0).remaining[TOKENS.name] == 700
    assert await handler.refund(run_id) and not await handler.refund(run_id)
    assert limiter.peek(user="max", requests=0).remaining[TOKENS.name] == 1000


@pytest.mark.parametrize("cls", [RateLimitCallbackHandler, AsyncRateLimitCallbackHandler])
async def test_reservations_no_limit_can_use_are_not_held_for_ever(
    make_limiter: Make, cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled ainvoke nobody refunds left its reservation in the handler for the
    life of the process (one per cancelled call). Past PRUNE_AT held, those older than
    the limiter's longest period (nothing can settle them) are dropped."""
    from langchain_redis_agent import rate_limit

    monkeypatch.setattr(rate_limit, "PRUNE_AT", 4, raising=False)  # old code: no pruning
    limiter = make_limiter([RequestLimit(100, 0.2), TokenBudget.rolling_window(10**6, 0.2)])
    handler = cls(limiter)
    config: Any = {"callbacks": [handler], "metadata": {"user_id": "ned"}}
    for _ in range(4):
        await _cancelled(SlowChatModel().ainvoke("hi", config=config))
    assert len(handler._reservations) == 4
    await asyncio.sleep(0.3)  # past every limit's period
    run_id = uuid.uuid4()
    await _cancelled(SlowChatModel().ainvoke("hi", config={**config, "run_id": run_id}))
    assert list(handler._reservations) == [run_id]  # the fresh one is still refundable
    refunded = handler.refund(run_id)
    assert (await refunded) if cls is AsyncRateLimitCallbackHandler else refunded


async def test_async_callback_handler(make_limiter: Make, aconfig: RedisAgentConfig) -> None:
    limiter = make_limiter([RequestLimit(1, 60.0), TOKENS])
    handler = AsyncRateLimitCallbackHandler(limiter, user_key="uid")
    model = fake_model(total_tokens=25)
    await model.ainvoke("hi", config={"callbacks": [handler], "metadata": {"uid": "fay"}})
    with pytest.raises(RateLimitExceeded):
        await model.ainvoke("hi", config={"callbacks": [handler], "metadata": {"uid": "fay"}})
    await model.ainvoke("hi", config={"callbacks": [handler], "metadata": {"uid": "gus"}})
    assert (await limiter.atry_acquire(user="gus", requests=0)).remaining[TOKENS.name] == 975


BAD_ESTIMATES = [float("nan"), -50, float("inf"), "12", None]


@pytest.mark.parametrize("cls", [RateLimitCallbackHandler, AsyncRateLimitCallbackHandler])
async def test_the_estimator_is_checked(make_limiter: Make, cls: Any) -> None:
    """A non-callable estimator failed only at the first call (a bare TypeError), and an
    estimate that is no token count was bent by ``max(0, int(...))``: a negative one
    reserved nothing, "12" became 12, NaN raised a bare ValueError mid-call."""
    limiter = make_limiter([RequestLimit(5, 60.0), TOKENS])
    name = cls.__name__
    with pytest.raises(TypeError, match=rf"^{name}\(estimator=\.\.\.\) must be a callable"):
        cls(limiter, estimator=5)
    for bad in BAD_ESTIMATES:
        handler = cls(limiter, estimator=lambda text, params, bad=bad: bad)
        config: Any = {"callbacks": [handler], "metadata": {"user_id": "eve"}}
        with pytest.raises(ConfigError, match=rf"^{name}\(estimator=\.\.\.\) .* returned"):
            await fake_model().ainvoke("hi", config=config)
    assert limiter.peek(user="eve", requests=0).remaining == {
        "req-user-5per1m": 5,  # refused before anything was charged
        TOKENS.name: 1000,
    }


def test_callback_on_a_completion_llm(make_limiter: Make) -> None:
    """``on_llm_start`` (text LLMs) enforces too; no usage reported keeps the estimate."""
    limiter = make_limiter([RequestLimit(2, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter, estimator=lambda text, params: 50)
    llm = FakeListLLM(responses=["fine"])
    config = {"callbacks": [handler], "metadata": {"user_id": "hal"}}
    assert llm.invoke("a", config=config) == "fine"
    llm.invoke("b", config=config)
    with pytest.raises(RateLimitExceeded, match="req-user-2per1m"):
        llm.invoke("c", config=config)
    assert llm.invoke("a", config={**config, "metadata": {"user_id": "ivy"}}) == "fine"
    assert limiter.peek(user="hal", requests=0).remaining[TOKENS.name] == 1000 - 2 * 50
    assert not handler._reservations


def test_callback_when_redis_is_down(
    stopped_redis: RedisAgentConfig, caplog: pytest.LogCaptureFixture
) -> None:
    chain = ChatPromptTemplate.from_messages([("human", "{q}")]) | fake_model()
    limits = [RequestLimit(2, 60.0), TOKENS]
    closed = RateLimitCallbackHandler(RateLimiter(limits, config=stopped_redis))
    config = {"callbacks": [closed], "metadata": {"user_id": "kim"}}
    with pytest.raises(RedisUnavailableError, match="fail_open"):  # default: fail_closed
        chain.invoke({"q": "hi"}, config=config)
    limiter = RateLimiter(limits, config=stopped_redis, on_unavailable="fail_open")
    opened = RateLimitCallbackHandler(limiter)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):  # admitted unmetered, past the request limit
            result = chain.invoke({"q": "hi"}, config={**config, "callbacks": [opened]})
            assert result.content == "ok"
    assert "unmetered" in caplog.text
    assert not opened._reservations


async def test_rate_limiter_when_redis_is_down(stopped_redis: RedisAgentConfig) -> None:
    closed = RedisRateLimiter.per_second(1, config=stopped_redis)
    with pytest.raises(RedisUnavailableError):
        await fake_model(rate_limiter=closed).ainvoke("hi")
    opened = RedisRateLimiter(
        RateLimiter([RequestLimit(1, 1.0)], config=stopped_redis, on_unavailable="fail_open")
    )
    for _ in range(3):
        assert (await fake_model(rate_limiter=opened).ainvoke("hi")).content == "ok"


async def test_sync_handler_enforces_in_async_calls(make_limiter: Make) -> None:
    """The sync handler also stops ``ainvoke`` (LangChain runs it inline and honours
    ``raise_error``); the async handler cannot stop a sync ``invoke``: LangChain logs
    and swallows async handlers' errors there, as documented."""
    limiter = make_limiter([RequestLimit(1, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter)
    config = {"callbacks": [handler], "metadata": {"user_id": "lou"}}
    model = fake_model(total_tokens=20)
    await model.ainvoke("hi", config=config)
    with pytest.raises(RateLimitExceeded):
        await model.ainvoke("hi", config=config)
    status = await limiter.apeek(user="lou", requests=0)
    assert status.remaining[TOKENS.name] == 1000 - 20


@pytest.mark.parametrize("wait", [float("nan"), float("inf"), -1, True, "5"])
@pytest.mark.parametrize(
    "build",
    [
        lambda limiter, wait: RedisRateLimiter(limiter, max_wait=wait),
        lambda limiter, wait: RateLimitCallbackHandler(limiter, max_wait=wait),
        lambda limiter, wait: AsyncRateLimitCallbackHandler(limiter, max_wait=wait),
        lambda limiter, wait: RateLimitMiddleware(limiter, max_wait=wait),
    ],
    ids=["rate_limiter", "handler", "async_handler", "middleware"],
)
def test_a_wait_cap_that_is_no_cap_is_refused_when_built(
    make_limiter: Make, build: Callable[[RateLimiter, object], object], wait: object
) -> None:
    # NaN compares false with everything: accepted, it turned the cap off at call time
    with pytest.raises(ConfigError, match="max_wait"):
        build(make_limiter([RequestLimit(1, 60.0)]), wait)


def test_a_fractional_estimate_reserves_its_ceiling() -> None:
    # len(text) / 4, the usual rule of thumb, is a float: it reserves at least as much
    from redis_agent_core.ratelimit import checked_estimator

    estimate = checked_estimator(lambda t, p: len(t) / 4, lambda t, p: 0, "estimator=")
    assert estimate("abcdefghij", {}) == 3
    assert estimate("abcd", {}) == 1


class _InlineHandler(BaseCallbackHandler):
    """A handler LangChain runs inline, as LangSmith's tracer (LangChainTracer) is."""

    run_inline = True


async def test_a_waiting_sync_handler_beside_an_inline_one_still_meters_a_completion_llm(
    make_limiter: Make,
) -> None:
    """review27: langchain-core's async on_llm_start (text LLMs) calls the handlers that
    are not run_inline only when none is (langchain-ai/langchain#39633): a sync handler
    with max_wait > 0 moved off the loop (c96ecf8) was skipped beside an inline handler
    (LangSmith tracing on), and every ainvoke of a completion LLM went through unmetered,
    past the limit. It stays inline."""
    limiter = make_limiter([RequestLimit(2, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter, estimator=lambda text, params: 50, max_wait=0.5)
    llm = FakeListLLM(responses=["fine"])
    config = {"callbacks": [_InlineHandler(), handler], "metadata": {"user_id": "hal"}}
    await llm.ainvoke("a", config=config)
    await llm.ainvoke("b", config=config)
    with pytest.raises(RateLimitExceeded):
        await llm.ainvoke("c", config=config)
    status = await limiter.apeek(user="hal", requests=0)
    assert status.remaining[TOKENS.name] == 1000 - 2 * 50


def test_a_reservation_held_while_another_thread_prunes_is_kept(
    make_limiter: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review27: past PRUNE_AT held, ``_hold`` rebound the handler's dict to the ones it
    kept; a reservation another thread held between that read and the rebinding went
    into the dict being dropped: its run's settle and refund found nothing (the estimate
    charged for good). The other thread's insert is made at that very point here."""
    from langchain_redis_agent import rate_limit

    monkeypatch.setattr(rate_limit, "PRUNE_AT", 2, raising=False)
    limiter = make_limiter([TOKENS])
    handler = RateLimitCallbackHandler(limiter)

    def reserve() -> Any:
        return limiter.acquire(user="ola", tokens=100, blocking=False).reservation

    for _ in range(2):
        handler._hold(uuid.uuid4(), reserve())
    raced, late = uuid.uuid4(), reserve()

    class Racing(dict):  # type: ignore[type-arg]
        def items(self) -> Any:  # the prune reads the held ones: another thread holds one
            seen = list(super().items())
            self[raced] = late
            return seen

    handler._reservations = Racing(handler._reservations)
    handler._hold(uuid.uuid4(), reserve())
    assert handler.refund(raced)  # main: False, the 100 tokens charged for good
    assert limiter.peek(user="ola", requests=0).remaining[TOKENS.name] == 1000 - 300
