"""LlamaIndex adapters: rate_limiter on an LLM, and the CallbackManager handler in a
query engine with a mock LLM that reports usage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from llama_index.core import Document, Settings, SummaryIndex
from llama_index.core.base.llms.types import CompletionResponse
from llama_index.core.callbacks import CallbackManager
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import ChatMessage, MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback

from llamaindex_redis_agent import (
    RateLimitCallbackHandler,
    RateLimitExceeded,
    RedisRateLimiter,
    rate_limit_subject,
)
from llamaindex_redis_agent.rate_limit import usage_from_response
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit, TokenBudget

Make = Callable[..., RateLimiter]
TOKENS = TokenBudget.daily(1000)


class UsageMockLLM(MockLLM):
    """MockLLM whose completions report OpenAI-style usage in ``raw``."""

    total_tokens: int = 30

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        usage = {"prompt_tokens": 10, "completion_tokens": self.total_tokens - 10}
        return CompletionResponse(text="mock answer", raw={"usage": usage})


class FailingLLM(MockLLM):
    """MockLLM whose provider call fails."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        raise RuntimeError("provider down")


def test_rate_limiter_on_an_llm(make_limiter: Make) -> None:
    limiter = RedisRateLimiter(make_limiter([RequestLimit(2, 60.0)]), user="svc", max_wait=0)
    llm = MockLLM()
    llm.rate_limiter = limiter  # MockLLM's __init__ does not take it; real LLMs do
    llm.complete("a")
    llm.complete("b")
    with pytest.raises(RateLimitExceeded):
        llm.complete("c")


async def test_async_rate_limiter_charges_num_tokens(make_limiter: Make) -> None:
    core = make_limiter([TokenBudget.daily(100)])
    limiter = RedisRateLimiter(core, max_wait=0)
    with rate_limit_subject("ann"):
        await limiter.async_acquire(num_tokens=60)
        with pytest.raises(RateLimitExceeded):
            await limiter.async_acquire(num_tokens=60)
    await limiter.async_acquire(num_tokens=60)  # anonymous: another bucket
    assert core.peek(user="ann").remaining["tok-user-fixed-100per1d"] == 40


def test_query_engine_stops_one_user_while_another_proceeds(
    make_limiter: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = make_limiter([RequestLimit(2, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter)
    # the response synthesizer gives the LLM Settings' callback manager
    monkeypatch.setattr(Settings, "callback_manager", CallbackManager([handler]))
    index = SummaryIndex.from_documents([Document(text="Redis keeps agent state in memory.")])
    engine = index.as_query_engine(llm=UsageMockLLM())
    with rate_limit_subject("alice"):
        engine.query("what does redis keep?")
        engine.query("and where?")
        with pytest.raises(RateLimitExceeded) as info:
            engine.query("once more")
    assert info.value.key.endswith(":alice")
    with rate_limit_subject("bob"):
        assert "mock answer" in str(engine.query("what does redis keep?"))
    # settled to the reported usage (30 tokens a call)
    assert limiter.peek(user="alice").remaining[TOKENS.name] == 1000 - 2 * 30
    assert limiter.peek(user="bob").remaining[TOKENS.name] == 1000 - 30
    assert not handler._reservations


def test_handler_default_user_and_unknown_usage(make_limiter: Make) -> None:
    limiter = make_limiter([TOKENS])
    handler = RateLimitCallbackHandler(limiter, user="batch-job", estimator=lambda text: 77)
    llm = MockLLM(callback_manager=CallbackManager([handler]))  # reports no usage
    llm.complete("hello")
    # no usage reported: the estimate stays charged
    assert limiter.peek(user="batch-job").remaining[TOKENS.name] == 1000 - 77


@pytest.mark.parametrize("sync", [True, False], ids=["acquire", "async_acquire"])
async def test_num_tokens_is_charged_as_given_or_refused(make_limiter: Make, sync: bool) -> None:
    """``num_tokens`` went through ``max(0, int(...))``: -50 charged nothing, 99.5 charged
    99 (less than asked), "30" charged 30 and NaN raised a bare ValueError."""
    core = make_limiter([RequestLimit(5, 60.0), TokenBudget.daily(100)])
    limiter = RedisRateLimiter(core, user="ann", max_wait=0)

    async def acquire(num_tokens: Any) -> None:
        if sync:
            limiter.acquire(num_tokens)
        else:
            await limiter.async_acquire(num_tokens)

    for bad in [-50, float("nan"), float("inf"), "30", True, None]:
        with pytest.raises(ConfigError, match=r"^num_tokens must be the tokens to charge"):
            await acquire(bad)
    assert core.peek(user="ann", requests=0).remaining == {
        "req-user-5per1m": 5,  # refused before anything was charged
        "tok-user-fixed-100per1d": 100,
    }
    await acquire(99.5)  # a fraction is rounded up: 100
    assert core.peek(user="ann", requests=0).remaining["tok-user-fixed-100per1d"] == 0


def test_the_estimator_is_checked(make_limiter: Make) -> None:
    """A non-callable estimator failed only at the first call (a bare TypeError), and an
    estimate that is no token count was bent by ``max(0, int(...))``: a negative one
    reserved nothing, "12" became 12, NaN raised a bare ValueError mid-call."""
    limiter = make_limiter([RequestLimit(5, 60.0), TOKENS])
    with pytest.raises(TypeError, match=r"^RateLimitCallbackHandler\(estimator=\.\.\.\) must"):
        RateLimitCallbackHandler(limiter, estimator=5)  # type: ignore[arg-type]
    for bad in [float("nan"), -50, float("inf"), "12", None]:
        handler = RateLimitCallbackHandler(limiter, user="eve", estimator=lambda text, bad=bad: bad)
        llm = UsageMockLLM(callback_manager=CallbackManager([handler]))
        with pytest.raises(ConfigError, match=r"\(estimator=\.\.\.\) .* returned"):
            llm.complete("hello")
    assert limiter.peek(user="eve", requests=0).remaining == {
        "req-user-5per1m": 5,  # refused before anything was charged
        TOKENS.name: 1000,
    }


def test_usage_parsing() -> None:
    assert usage_from_response(CompletionResponse(text="", raw={"usage": {"total_tokens": 9}})) == 9
    response = CompletionResponse(
        text="", additional_kwargs={"prompt_tokens": 3, "completion_tokens": 4}
    )
    assert usage_from_response(response) == 7
    assert usage_from_response(CompletionResponse(text="")) is None


def test_a_usage_the_limiter_cannot_settle_keeps_the_estimate(make_limiter: Make) -> None:
    """A provider's -1 (or a count past 10^13) in ``raw["usage"]``: settling it raised
    ConfigError from the callback, which failed the call after the LLM answered."""
    limiter = make_limiter([TOKENS])
    handler = RateLimitCallbackHandler(limiter, user="gus", estimator=lambda text: 77)
    for total in (-1, 10**14):
        llm = UsageMockLLM(callback_manager=CallbackManager([handler]))
        llm.total_tokens = total
        assert llm.complete("hello").text == "mock answer"
    assert limiter.peek(user="gus").remaining[TOKENS.name] == 1000 - 2 * 77
    unknown = CompletionResponse(text="", raw={"usage": {"total_tokens": -1}})
    assert usage_from_response(unknown) is None


async def test_rate_limiter_on_an_embedding(make_limiter: Make) -> None:
    limiter = RedisRateLimiter(make_limiter([RequestLimit(2, 60.0)]), user="embedder", max_wait=0)
    embed = MockEmbedding(embed_dim=4, rate_limiter=limiter)
    assert embed.get_query_embedding("a") == [0.5] * 4
    await embed.aget_query_embedding("b")
    with pytest.raises(RateLimitExceeded, match="req-user-2per1m"):
        embed.get_query_embedding("c")


def test_failed_call_refunds_tokens(make_limiter: Make) -> None:
    limiter = make_limiter([RequestLimit(5, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter, user="jo", estimator=lambda text: 300)
    llm = FailingLLM(callback_manager=CallbackManager([handler]))
    with pytest.raises(RuntimeError, match="provider down"):
        llm.complete("hello")
    status = limiter.peek(user="jo", requests=0)
    assert status.remaining == {"req-user-5per1m": 4, TOKENS.name: 1000}  # the request counts
    assert not handler._reservations


class SlowLLM(MockLLM):
    """MockLLM whose async completion takes 5 s: the test cancels it before."""

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        await asyncio.sleep(5)
        raise AssertionError("not cancelled")


async def test_a_cancelled_call_refunds_tokens(make_limiter: Make) -> None:
    # LlamaIndex ends the LLM event with the CancelledError: the handler refunds itself
    limiter = make_limiter([RequestLimit(5, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter, user="ned", estimator=lambda text: 300)
    llm = SlowLLM(callback_manager=CallbackManager([handler]))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(llm.acomplete("hello"), 0.1)
    status = limiter.peek(user="ned", requests=0)
    assert status.remaining == {"req-user-5per1m": 4, TOKENS.name: 1000}
    assert not handler._reservations


def test_a_call_the_rate_limiter_refuses_gives_the_handlers_tokens_back(
    make_limiter: Make,
) -> None:
    """LlamaIndex starts the LLM event (the handler reserves its estimate), then asks the
    LLM's rate_limiter outside the try that ends the event: a refused call got no end
    event, so its 300 tokens stayed reserved until the budget's window passed (two
    refusals, sync and async, left 100 of 1000 and the next call was refused by the
    budget). Now the refusal ends the event as a failed call: the tokens come back."""
    budget = make_limiter([TOKENS], name="budget")
    handler = RateLimitCallbackHandler(budget, user="ann", estimator=lambda text: 300)
    llm = UsageMockLLM(callback_manager=CallbackManager([handler]))
    gate = make_limiter([RequestLimit(1, 60.0)], name="gate")
    llm.rate_limiter = RedisRateLimiter(gate, user="svc", max_wait=0)
    llm.complete("one")  # admitted: settled to its 30 tokens
    for call in (
        lambda: llm.complete("two"),
        lambda: llm.chat([ChatMessage(role="user", content="two")]),
        lambda: asyncio.run(llm.acomplete("two")),
        lambda: asyncio.run(llm.achat([ChatMessage(role="user", content="two")])),
    ):
        with pytest.raises(RateLimitExceeded, match="req-user-1per1m"):  # the gate's
            call()
    assert budget.peek(user="ann", requests=0).remaining == {TOKENS.name: 1000 - 30}
    assert not handler._reservations and not handler._open


async def test_a_cancelled_rate_limiter_wait_gives_the_handlers_tokens_back(
    make_limiter: Make,
) -> None:
    budget = make_limiter([TOKENS], name="budget")
    handler = RateLimitCallbackHandler(budget, user="bea", estimator=lambda text: 300)
    llm = UsageMockLLM(callback_manager=CallbackManager([handler]))
    gate = make_limiter([RequestLimit(1, 30.0)], name="gate")
    llm.rate_limiter = RedisRateLimiter(gate, user="svc", max_wait=60)
    await llm.acomplete("one")
    with pytest.raises(asyncio.TimeoutError):  # waiting for the gate's window
        await asyncio.wait_for(llm.acomplete("two"), 0.2)
    assert budget.peek(user="bea", requests=0).remaining == {TOKENS.name: 1000 - 30}
    assert not handler._reservations and not handler._open


def test_handler_when_redis_is_down(stopped_redis: RedisAgentConfig) -> None:
    limits = [RequestLimit(1, 60.0), TOKENS]
    closed = RateLimitCallbackHandler(RateLimiter(limits, config=stopped_redis), user="kim")
    with pytest.raises(RedisUnavailableError, match="fail_open"):  # default: fail_closed
        UsageMockLLM(callback_manager=CallbackManager([closed])).complete("hi")
    limiter = RateLimiter(limits, config=stopped_redis, on_unavailable="fail_open")
    opened = RateLimitCallbackHandler(limiter, user="kim")
    llm = UsageMockLLM(callback_manager=CallbackManager([opened]))
    for _ in range(3):  # admitted unmetered, past the request limit
        assert llm.complete("hi").text == "mock answer"
    assert not opened._reservations


@pytest.mark.parametrize("wait", [float("nan"), float("inf"), -1, True, "5"])
@pytest.mark.parametrize("cls", [RedisRateLimiter, RateLimitCallbackHandler])
def test_a_wait_cap_that_is_no_cap_is_refused_when_built(
    make_limiter: Make, cls: Callable[..., object], wait: object
) -> None:
    # NaN compares false with everything: accepted, it turned the cap off at call time
    with pytest.raises(ConfigError, match="max_wait"):
        cls(make_limiter([RequestLimit(1, 60.0)]), max_wait=wait)


# MockLLM is a CustomLLM: its chat calls its own complete (and achat calls chat), each
# wrapped by LlamaIndex's callback decorator, so one call fires nested LLM events and
# calls the rate limiter once per level. Charged per event, a chat cost 2 requests and
# an achat 3 (a 10/min limit refused the 4th achat).
CALLS: dict[str, Callable[[MockLLM], Any]] = {
    "complete": lambda llm: llm.complete("hi"),
    "chat": lambda llm: llm.chat([ChatMessage(role="user", content="hi")]),
    "stream_chat": lambda llm: list(llm.stream_chat([ChatMessage(role="user", content="hi")])),
    "acomplete": lambda llm: asyncio.run(llm.acomplete("hi")),
    "achat": lambda llm: asyncio.run(llm.achat([ChatMessage(role="user", content="hi")])),
    "astream_chat": lambda llm: asyncio.run(_drain(llm)),
}


async def _drain(llm: MockLLM) -> list[Any]:
    stream = await llm.astream_chat([ChatMessage(role="user", content="hi")])
    return [chunk async for chunk in stream]


@pytest.mark.parametrize("call", CALLS)
def test_one_call_is_charged_once_by_the_handler(make_limiter: Make, call: str) -> None:
    limiter = make_limiter([RequestLimit(5, 60.0), TOKENS])
    handler = RateLimitCallbackHandler(limiter, user="una", estimator=lambda text: 100)
    CALLS[call](MockLLM(callback_manager=CallbackManager([handler])))
    status = limiter.peek(user="una", requests=0)
    assert status.remaining == {"req-user-5per1m": 4, TOKENS.name: 1000 - 100}
    assert not handler._reservations


@pytest.mark.parametrize("call", CALLS)
def test_one_call_is_charged_once_by_the_rate_limiter(make_limiter: Make, call: str) -> None:
    core = make_limiter([RequestLimit(5, 60.0)])
    llm = MockLLM()
    llm.rate_limiter = RedisRateLimiter(core, user="ula", max_wait=0)
    CALLS[call](llm)
    assert core.peek(user="ula", requests=0).remaining == {"req-user-5per1m": 4}


class RouterLLM(MockLLM):
    """An LLM whose completion asks another LLM (``inner``), which has the handler."""

    inner: Any = None

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self.inner.complete(prompt)


def test_a_call_inside_an_unmetered_llm_is_charged(make_limiter: Make) -> None:
    # nested in another LLM's call, but that call was not this handler's: charge it
    limiter = make_limiter([RequestLimit(5, 60.0)])
    handler = RateLimitCallbackHandler(limiter, user="ivo")
    inner = UsageMockLLM(callback_manager=CallbackManager([handler]))
    router = RouterLLM()  # MockLLM's __init__ takes only its own fields
    router.inner = inner
    router.complete("hi")
    assert limiter.peek(user="ivo", requests=0).remaining == {"req-user-5per1m": 4}
    inner.rate_limiter = RedisRateLimiter(limiter, user="eve", max_wait=0)
    router.complete("hi")  # the same for a rate_limiter of the inner LLM only
    assert limiter.peek(user="eve", requests=0).remaining == {"req-user-5per1m": 4}


def test_reservations_of_events_never_ended_are_not_held_for_ever(
    make_limiter: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review28: an LLM event LlamaIndex never ends (a stream dropped before it was
    read; a call a later handler of the manager refused) left its reservation and open
    mark in the handler for the life of the process, one per call. Past PRUNE_AT held,
    those older than the limiter's longest period are dropped, as LangChain's are."""
    import gc
    import time

    from llamaindex_redis_agent import rate_limit

    monkeypatch.setattr(rate_limit, "PRUNE_AT", 4, raising=False)  # main: no pruning
    limiter = make_limiter([RequestLimit(100, 0.2), TokenBudget.rolling_window(10**6, 0.2)])
    handler = RateLimitCallbackHandler(limiter, user="ned")
    refuser = RateLimitCallbackHandler(make_limiter([RequestLimit(1, 60)]), user="ned")
    refuser.limiter.acquire(user="ned")  # its one request is spent: it refuses every call
    dropping = MockLLM(callback_manager=CallbackManager([handler]))
    refused = MockLLM(callback_manager=CallbackManager([handler, refuser]))
    for _ in range(2):
        stream = dropping.stream_complete("hi")  # never read
        del stream
        with pytest.raises(RateLimitExceeded):
            refused.complete("hi")
    gc.collect()
    assert (len(handler._reservations), len(handler._open)) == (4, 4)
    time.sleep(0.3)  # past every limit's period: nothing can settle those four
    live = dropping.stream_complete("hi")  # the fifth event, held while it is read
    assert (len(handler._reservations), len(handler._open)) == (1, 1)
    assert [r.text for r in live][-1] == "hi"
    assert (handler._reservations, handler._open) == ({}, set())  # ended: settled
