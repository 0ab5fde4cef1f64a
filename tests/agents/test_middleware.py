"""LangChain v1 agent middleware on the real Redis: ``create_agent`` with a chat model
that counts its calls, each behaviour run through ``invoke`` and ``ainvoke``."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
from typing import Annotated, Any, TypedDict

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import (
    AgentMiddleware,
    ModelRequest,
    ModelResponse,
    dynamic_prompt,
)
from langchain.tools import ToolRuntime
from langchain_core.caches import InMemoryCache
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import ConfigurableField, RunnableConfig, RunnableLambda
from langchain_core.tools import InjectedToolArg, InjectedToolCallId, StructuredTool, tool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_config
from langgraph.prebuilt import InjectedState
from langgraph.runtime import get_runtime
from pydantic import BaseModel, Field, create_model

from langchain_redis_agent.middleware import (
    CACHE_MARK,
    RateLimitMiddleware,
    SemanticCacheMiddleware,
    ToolResultCacheMiddleware,
    context_reads,
    model_identity,
)
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.ratelimit import RateLimiter, RateLimitExceeded, RequestLimit, TokenBudget

from .conftest import CountingModel

MODES = ["sync", "async"]


async def ask(agent: Any, mode: str, text: str, **kwargs: Any) -> dict[str, Any]:
    payload = {"messages": [HumanMessage(text)]}
    if mode == "sync":
        return await asyncio.to_thread(agent.invoke, payload, **kwargs)
    return await agent.ainvoke(payload, **kwargs)


def last(out: dict[str, Any]) -> AIMessage:
    message = out["messages"][-1]
    assert isinstance(message, AIMessage)
    return message


@pytest.mark.parametrize("mode", MODES)
async def test_semantic_cache_serves_a_repeat_and_a_paraphrase(
    mode: str, config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    cache = SemanticCacheMiddleware(embedder, config)
    agent = create_agent(model, tools=[], middleware=[cache])
    first = last(await ask(agent, mode, "What is Redis?"))
    assert first.content == "answer 1: What is Redis?"
    again = last(await ask(agent, mode, "What is Redis?"))
    assert again.content == first.content
    assert again.response_metadata[CACHE_MARK] == "exact"
    assert again.id != first.id  # a fresh id: never replaces a message of the state
    reworded = last(await ask(agent, mode, "what is redis"))
    assert reworded.content == first.content
    assert reworded.response_metadata[CACHE_MARK] == "semantic"
    other = last(await ask(agent, mode, "What is Valkey?"))
    assert other.content == "answer 2: What is Valkey?"
    assert model.calls == 2


@pytest.mark.parametrize("mode", MODES)
async def test_semantic_cache_serves_no_responses_api_id_of_the_writer(
    mode: str, config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    # ChatOpenAI(use_previous_response_id=True) continues the conversation of the last
    # AIMessage's response_metadata["id"]: a served answer with the writer's went on
    # with the writer's conversation (another user's with share="global")
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    written = AIMessage("Paris.", response_metadata={"id": "resp_writer", "status": "completed"})
    model = GenericFakeChatModel(messages=iter([written]))
    agent = create_agent(model, tools=[], middleware=[SemanticCacheMiddleware(embedder, config)])
    assert last(await ask(agent, mode, "Capital of France?")).content == "Paris."
    served = last(await ask(agent, mode, "Capital of France?"))  # the fake has no second
    assert served.response_metadata == {"status": "completed", CACHE_MARK: "exact"}


def test_semantic_cache_takes_the_band_threshold_as_the_core(
    config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    # the docs' advice for a cache where a wrong answer costs more ("turn it off:
    # band_threshold=None") was a TypeError here: the middleware did not take it
    off = SemanticCacheMiddleware(embedder, config, band_threshold=None)
    assert off.cache.band_threshold is None
    narrower = SemanticCacheMiddleware(embedder, config, name="b", band_threshold=0.4)
    assert narrower.cache.band_threshold == 0.4
    assert SemanticCacheMiddleware(embedder, config, name="d").cache.band_threshold == 0.45


@pytest.mark.parametrize("mode", MODES)
async def test_semantic_cache_never_serves_an_answer_to_another_history(
    mode: str, config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    agent = create_agent(
        model,
        tools=[],
        middleware=[SemanticCacheMiddleware(embedder, config)],
        checkpointer=InMemorySaver(),
    )

    def run(thread: str, user: str) -> dict[str, Any]:
        return {"config": {"configurable": {"thread_id": thread}}, "context": {"user_id": user}}

    await ask(agent, mode, "I live in Paris.", **run("a", "alice"))
    where_a = last(await ask(agent, mode, "Where do I live?", **run("a", "alice")))
    await ask(agent, mode, "I live in Rome.", **run("b", "bob"))
    where_b = last(await ask(agent, mode, "Where do I live?", **run("b", "bob")))
    assert where_b.content != where_a.content and CACHE_MARK not in where_b.response_metadata
    # the same history from another user is not served either (share="user")
    await ask(agent, mode, "I live in Paris.", **run("c", "carol"))
    where_c = last(await ask(agent, mode, "Where do I live?", **run("c", "carol")))
    assert CACHE_MARK not in where_c.response_metadata
    # the same user with the same history in another thread is
    await ask(agent, mode, "I live in Paris.", **run("d", "alice"))
    where_d = last(await ask(agent, mode, "Where do I live?", **run("d", "alice")))
    assert where_d.content == where_a.content and where_d.response_metadata[CACHE_MARK] == "exact"


async def test_semantic_cache_keys_on_the_system_prompt_and_tools(
    config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    cache = SemanticCacheMiddleware(embedder, config)
    model = CountingModel()
    pirate = create_agent(model, tools=[], system_prompt="Talk like a pirate.", middleware=[cache])
    plain = create_agent(model, tools=[], middleware=[cache])
    await pirate.ainvoke({"messages": [HumanMessage("Hi")]})
    out = await plain.ainvoke({"messages": [HumanMessage("Hi")]})
    assert CACHE_MARK not in last(out).response_metadata
    with_tools = create_agent(model, tools=[weather], middleware=[cache])
    out = await with_tools.ainvoke({"messages": [HumanMessage("Hi")]})
    assert CACHE_MARK not in last(out).response_metadata  # other tools, another answer
    out = await with_tools.ainvoke({"messages": [HumanMessage("Hi")]})
    assert last(out).response_metadata[CACHE_MARK] == "exact"
    assert model.calls == 3


async def test_semantic_cache_keys_on_the_user_message_name_and_kwargs(
    config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    agent = create_agent(model, tools=[], middleware=[SemanticCacheMiddleware(embedder, config)])
    for message in (
        HumanMessage("Greet me by my name.", name="alice"),
        HumanMessage("Greet me by my name.", name="bob"),
        HumanMessage("Greet me by my name.", name="bob", additional_kwargs={"lang": "fr"}),
    ):
        out = await agent.ainvoke({"messages": [message]})
        assert CACHE_MARK not in last(out).response_metadata
    out = await agent.ainvoke({"messages": [HumanMessage("Greet me by my name.", name="bob")]})
    assert last(out).response_metadata[CACHE_MARK] == "exact" and model.calls == 3


async def test_semantic_cache_keys_on_a_chat_message_role_and_invalid_tool_calls(
    config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    # review 15: the history digest dropped a ChatMessage's role and an AI message's
    # invalid tool calls (both reach the model): another input was served the answer
    agent = create_agent(model, tools=[], middleware=[SemanticCacheMiddleware(embedder, config)])
    alice = {"context": {"user_id": "alice"}}

    def bad_call(args: str) -> AIMessage:
        call = {"name": "pay", "args": args, "id": "c", "error": None}
        return AIMessage("", invalid_tool_calls=[call])  # type: ignore[list-item]

    for history in (
        [ChatMessage(role="system", content="Answer in French.")],
        [ChatMessage(role="user", content="Answer in French.")],
        [HumanMessage("Pay."), bad_call('{"amount": 1')],
        [HumanMessage("Pay."), bad_call('{"amount": 1000')],
    ):
        out = await agent.ainvoke({"messages": [*history, HumanMessage("Hi")]}, **alice)
        assert CACHE_MARK not in last(out).response_metadata
    assert model.calls == 4


class PersonaModel(BaseChatModel):
    """Answers ``<persona>: <question>``; the persona is in its LLM string."""

    persona: str = "plain"

    @property
    def _llm_type(self) -> str:
        return "persona"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"persona": self.persona}

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        text = f"{self.persona}: {messages[-1].content}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


@pytest.mark.parametrize("mode", MODES)
async def test_semantic_cache_keys_on_the_model_a_run_configures(
    mode: str, config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    # review 15: a configurable model was keyed by its defaults, so the answer of a run
    # that chose persona "pirate" was served to a run that chose "butler"
    model = PersonaModel().configurable_fields(persona=ConfigurableField(id="persona"))
    agent = create_agent(model, tools=[], middleware=[SemanticCacheMiddleware(embedder, config)])

    def run(persona: str) -> dict[str, Any]:
        return {"config": {"configurable": {"persona": persona}}}

    assert last(await ask(agent, mode, "Hi", **run("pirate"))).content == "pirate: Hi"
    butler = last(await ask(agent, mode, "Hi", **run("butler")))
    assert butler.content == "butler: Hi" and CACHE_MARK not in butler.response_metadata
    again = last(await ask(agent, mode, "Hi", **run("pirate")))
    assert again.content == "pirate: Hi" and again.response_metadata[CACHE_MARK] == "exact"


def test_model_identity_resolves_bindings_and_configurable_models() -> None:
    base = PersonaModel()
    plain = model_identity(base, None)
    assert plain is not None and "plain" in plain
    # a .bind()'s kwargs reach the model at each call: they are part of its identity
    warm, cold = base.bind(temperature=0.9), base.bind(temperature=0.0)
    assert len({plain, model_identity(warm, None), model_identity(cold, None)}) == 3
    assert model_identity(cold.bind(temperature=0.9), None) == model_identity(warm, None)
    chosen = base.configurable_fields(persona=ConfigurableField(id="persona"))
    butler = model_identity(chosen, {"configurable": {"persona": "butler"}})
    assert butler is not None and "butler" in butler
    assert model_identity(chosen, None) == plain
    assert model_identity(RunnableLambda(lambda x: x), None) is None  # not a chat model


def _answer(field: str) -> type[BaseModel]:
    """A structured-output schema named ``Answer`` with one str field: redefined with
    another field (a notebook cell run again, a new release), it keeps its name."""
    return create_model("Answer", **{field: (str, ...)})  # type: ignore[call-overload]


class SchemaModel(BaseChatModel):
    """Answers with the fields of the ``response_format`` class it is called with."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "schema"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.calls += 1
        fields = getattr(kw.get("response_format"), "model_fields", {})
        text = json.dumps(dict.fromkeys(sorted(fields), "?"))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


class SettingsFromContext(AgentMiddleware):
    """Puts the run's ``context["settings"]`` into the request's ``model_settings``."""

    def wrap_model_call(self, request: ModelRequest, handler: Any) -> Any:
        return handler(request.override(model_settings=request.runtime.context["settings"]))

    async def awrap_model_call(self, request: ModelRequest, handler: Any) -> Any:
        return await handler(request.override(model_settings=request.runtime.context["settings"]))


class KwargsModel(PersonaModel):
    """A chat model with a field of provider kwargs, as ``ChatOpenAI.model_kwargs``."""

    model_kwargs: dict[str, Any] = Field(default_factory=dict)

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"persona": self.persona, "model_kwargs": self.model_kwargs}


class Mood(enum.Enum):
    CALM = 1


@pytest.mark.parametrize("mode", MODES)
async def test_semantic_cache_keys_a_schema_class_in_the_settings_by_its_schema(
    mode: str, config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    # left26b: model_settings were keyed by repr, so a class was "<class 'Answer'>"
    # whatever its fields: the answer for one schema was served to another of its name
    model = SchemaModel()
    cache = SemanticCacheMiddleware(embedder, config)
    agent = create_agent(model, tools=[], middleware=[SettingsFromContext(), cache])

    async def run(settings: dict[str, Any]) -> AIMessage:
        return last(await ask(agent, mode, "Where?", context={"settings": settings}))

    city = await run({"response_format": _answer("city")})
    assert city.content == '{"city": "?"}'
    country = await run({"response_format": _answer("country")})
    assert country.content == '{"country": "?"}' and CACHE_MARK not in country.response_metadata
    # the same schema from another class object (another process) is served
    same = await run({"response_format": _answer("city")})
    assert same.content == city.content and same.response_metadata[CACHE_MARK] == "exact"
    nested = {"text": {"format": _answer("city")}, "types": [int]}  # a builtin: by its name
    assert CACHE_MARK not in (await run(nested)).response_metadata
    nested["text"] = {"format": _answer("city")}
    assert (await run(nested)).response_metadata[CACHE_MARK] == "exact"
    assert model.calls == 3
    # a class with no schema to key it by (an Enum's members are not in one) goes uncached
    for _ in range(2):
        await run({"response_format": _answer("city"), "mood": Mood})
    assert model.calls == 5


def test_model_identity_keys_a_bound_schema_class_by_its_schema() -> None:
    base = PersonaModel()
    city = model_identity(base.bind(response_format=_answer("city")), None)
    assert city is not None and "'city'" in city
    assert model_identity(base.bind(response_format=_answer("country")), None) != city
    assert model_identity(base.bind(response_format=_answer("city")), None) == city
    for make in (
        lambda field: dataclasses.make_dataclass("Answer", [(field, str)]),
        lambda field: TypedDict("Answer", {field: str}),  # type: ignore[operator]
    ):
        bound = [model_identity(base.bind(response_format=make(f)), None) for f in ("a", "b")]
        assert None not in bound and bound[0] != bound[1]
    assert model_identity(base.bind(response_format=Mood), None) is None
    # a class in a field of the model itself: LangChain's string names it only
    field = KwargsModel(model_kwargs={"response_format": _answer("city")})
    assert model_identity(field, None) is None
    assert model_identity(KwargsModel(model_kwargs={"response_format": dict}), None)
    assert model_identity(base.bind(response_format=dict), None) is not None  # builtins


@dynamic_prompt
def personal(request: ModelRequest) -> str:
    """A system prompt per user: the model's input differs by who asks."""
    return f"The user's name is {request.runtime.context['user_name']}."


@pytest.mark.parametrize("mode", MODES)
async def test_semantic_cache_keys_on_what_a_dynamic_prompt_gives_the_model(
    mode: str, config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    agent = create_agent(
        model, tools=[], middleware=[personal, SemanticCacheMiddleware(embedder, config)]
    )
    alice = last(await ask(agent, mode, "What is my name?", context={"user_name": "Alice"}))
    bob = last(await ask(agent, mode, "What is my name?", context={"user_name": "Bob"}))
    assert CACHE_MARK not in bob.response_metadata and model.calls == 2
    again = last(await ask(agent, mode, "What is my name?", context={"user_name": "Alice"}))
    assert again.content == alice.content and again.response_metadata[CACHE_MARK] == "exact"


@pytest.mark.parametrize("mode", MODES)
async def test_semantic_cache_before_a_request_shaping_middleware_is_refused(
    mode: str, config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    agent = create_agent(
        model, tools=[], middleware=[SemanticCacheMiddleware(embedder, config), personal]
    )
    with pytest.raises(ConfigError, match=r"personal.*last among"):
        await ask(agent, mode, "What is my name?", context={"user_name": "Alice"})
    assert model.calls == 0
    assert not list(config.get_client().scan_iter(match=f"{config.namespace}:*"))
    # the rate limiter never changes the request: it may sit inside the cache
    limited = create_agent(
        model,
        tools=[],
        middleware=[
            SemanticCacheMiddleware(embedder, config),
            RateLimitMiddleware(_limiter(config)),
        ],
    )
    await ask(limited, mode, "What is Redis?", context={"user_id": "ada"})
    out = last(await ask(limited, mode, "What is Redis?", context={"user_id": "ada"}))
    assert out.response_metadata[CACHE_MARK] == "exact" and model.calls == 1


def test_an_unknown_langchain_handler_layout_is_refused(
    config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    """A LangChain release that renamed how create_agent nests handlers must make the
    cache refuse, not take every inner layer for the model call and key blind."""

    def renamed(request: ModelRequest) -> ModelResponse:
        raise AssertionError("never called")

    renamed.__module__, renamed.__name__ = "langchain.agents.factory", "inner_call"
    cache = SemanticCacheMiddleware(embedder, config)
    with pytest.raises(ConfigError, match="last among"):
        cache._check_innermost(renamed)
    renamed.__name__ = "_execute_model_sync"  # the model call itself, as 1.x names it
    cache._check_innermost(renamed)
    renamed.__module__ = __name__  # a handler passed by hand is the model
    renamed.__name__ = "inner_call"
    cache._check_innermost(renamed)


async def test_semantic_cache_history_needs_a_user(
    config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    agent = create_agent(
        model,
        tools=[],
        middleware=[SemanticCacheMiddleware(embedder, config)],
        checkpointer=InMemorySaver(),
    )
    thread = {"configurable": {"thread_id": "t"}}
    await agent.ainvoke({"messages": [HumanMessage("hello")]}, thread)
    with pytest.raises(ConfigError, match="user_id"):
        await agent.ainvoke({"messages": [HumanMessage("again")]}, thread)
    shared = create_agent(
        model,
        tools=[],
        middleware=[SemanticCacheMiddleware(embedder, config, share="global")],
        checkpointer=InMemorySaver(),
    )
    await shared.ainvoke({"messages": [HumanMessage("hello")]}, thread)
    await shared.ainvoke({"messages": [HumanMessage("again")]}, thread)


def _limiter(config: RedisAgentConfig, requests: int = 2, tokens: int = 10_000) -> RateLimiter:
    return RateLimiter(
        [RequestLimit(requests, 60.0, name="rpm"), TokenBudget(tokens, 3600.0, name="tph")],
        config=config,
        name="agent",
    )


@pytest.mark.parametrize("mode", MODES)
async def test_rate_limit_refuses_a_user_over_the_limit(
    mode: str, config: RedisAgentConfig, model: CountingModel
) -> None:
    limiter = _limiter(config)
    agent = create_agent(model, tools=[], middleware=[RateLimitMiddleware(limiter)])
    alice = {"context": {"user_id": "alice"}}
    await ask(agent, mode, "one", **alice)
    await ask(agent, mode, "two", **alice)
    with pytest.raises(RateLimitExceeded) as refused:
        await ask(agent, mode, "three", **alice)
    assert refused.value.limit == "rpm" and refused.value.retry_after > 0
    assert model.calls == 2  # the refused call never reached the model
    # another user (here through the config's metadata) has a limit of their own
    await ask(agent, mode, "one", config={"metadata": {"user_id": "bob"}})
    assert model.calls == 3
    # the real usage (10 tokens a call) replaced the estimates
    remaining = limiter.peek(user="alice", requests=0).remaining
    assert remaining["tph"] == 10_000 - 20


@pytest.mark.parametrize("mode", MODES)
async def test_rate_limit_token_budget_and_cache_hits_are_free(
    mode: str, config: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    limiter = _limiter(config, requests=100)
    agent = create_agent(
        model,
        tools=[],
        middleware=[RateLimitMiddleware(limiter), SemanticCacheMiddleware(embedder, config)],
    )
    alice = {"context": {"user_id": "alice"}}
    await ask(agent, mode, "What is Redis?", **alice)
    await ask(agent, mode, "What is Redis?", **alice)  # served: refunded whole
    decision = limiter.peek(user="alice", requests=0)
    assert decision.remaining["tph"] == 10_000 - 10
    assert decision.remaining["rpm"] == 99
    # an estimate above the budget is refused before the call
    small = create_agent(
        model,
        tools=[],
        middleware=[RateLimitMiddleware(_limiter(config, tokens=100), estimator=lambda t, p: 500)],
    )
    with pytest.raises(RateLimitExceeded, match="tph"):
        await ask(small, mode, "anything", **alice)


class UsageModel(CountingModel):
    """Answers with the usage it is given (the counting model's otherwise)."""

    total: int = 10

    def _generate(self, *args: Any, **kw: Any) -> ChatResult:
        result = super()._generate(*args, **kw)
        usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": self.total}
        message = result.generations[0].message.model_copy(update={"usage_metadata": usage})
        return ChatResult(generations=[ChatGeneration(message=message)])


@pytest.mark.parametrize("mode", MODES)
async def test_rate_limit_a_usage_it_cannot_settle_keeps_the_estimate(
    mode: str, config: RedisAgentConfig
) -> None:
    """A provider's -1 or a count past 10^13: settling it raised ConfigError after the
    model had answered, so the agent's run failed and the answer was lost."""
    limiter = _limiter(config, requests=100)
    for total in (-1, 10**14, 10**20):
        model = UsageModel(total=total)
        middleware = RateLimitMiddleware(limiter, estimator=lambda t, p: 77)
        agent = create_agent(model, tools=[], middleware=[middleware])
        out = await ask(agent, mode, "What is Redis?", context={"user_id": "gus"})
        assert last(out).content == "answer 1: What is Redis?"
    assert limiter.peek(user="gus", requests=0).remaining["tph"] == 10_000 - 3 * 77


@pytest.mark.parametrize("mode", MODES)
async def test_rate_limit_an_answer_from_the_models_own_cache_is_free(
    mode: str, config: RedisAgentConfig
) -> None:
    """LangChain replays a cached answer with its usage and ``total_cost == 0`` (the
    callback handler refunds it); the middleware charged its tokens and request again."""
    limiter = _limiter(config, requests=100)
    model = CountingModel(cache=InMemoryCache())
    agent = create_agent(model, tools=[], middleware=[RateLimitMiddleware(limiter)])
    for _ in range(3):
        await ask(agent, mode, "What is Redis?", context={"user_id": "hal"})
    assert model.calls == 1
    assert limiter.peek(user="hal", requests=0).remaining == {"rpm": 99, "tph": 10_000 - 10}


BAD_ESTIMATES = [float("nan"), -50, float("inf"), "12", None]


@pytest.mark.parametrize("mode", MODES)
async def test_rate_limit_estimator_is_checked(
    mode: str, config: RedisAgentConfig, model: CountingModel
) -> None:
    """A non-callable estimator failed only at the first call (a bare TypeError), and
    an estimate that is no token count was bent by ``max(0, int(...))``: a negative one
    reserved nothing, "12" became 12, NaN raised a bare ValueError mid-call."""
    limiter = _limiter(config)
    with pytest.raises(TypeError, match=r"RateLimitMiddleware\(estimator=\.\.\.\) must be a call"):
        RateLimitMiddleware(limiter, estimator=5)  # type: ignore[arg-type]
    for bad in BAD_ESTIMATES:
        middleware = RateLimitMiddleware(limiter, estimator=lambda t, p, bad=bad: bad)
        agent = create_agent(model, tools=[], middleware=[middleware])
        with pytest.raises(ConfigError, match=r"estimator=\.\.\.\) \(.*<lambda>\) returned"):
            await ask(agent, mode, "anything", context={"user_id": "alice"})
    assert model.calls == 0  # refused before the model, and nothing was charged
    assert limiter.peek(user="alice", requests=0).remaining == {"rpm": 2, "tph": 10_000}


async def test_rate_limit_waits_when_told(config: RedisAgentConfig, model: CountingModel) -> None:
    limiter = RateLimiter([RequestLimit(1, 0.2, name="burst")], config=config, name="wait")
    agent = create_agent(model, tools=[], middleware=[RateLimitMiddleware(limiter, max_wait=5)])
    await agent.ainvoke({"messages": [HumanMessage("one")]})
    await agent.ainvoke({"messages": [HumanMessage("two")]})  # waits for the window
    assert model.calls == 2
    with pytest.raises(ConfigError):
        RateLimitMiddleware(limiter, max_wait=-1)


runs: list[dict[str, str]] = []


@tool
def weather(city: str, unit: str) -> str:
    """The weather in a city."""
    runs.append({"city": city, "unit": unit})
    return f"sunny in {city} ({len(runs)})"


def _forecast(city: str, unit: str) -> str:
    runs.append({"forecast": city})
    return f"rain in {city}"


# marked cacheable by its own metadata
forecast = StructuredTool.from_function(
    _forecast, name="forecast", description="A forecast.", metadata={"cache_ttl": 30}
)


@pytest.mark.parametrize("mode", MODES)
async def test_tool_results_are_cached_per_tool_and_arguments(
    mode: str, config: RedisAgentConfig, model: CountingModel
) -> None:
    runs.clear()
    middleware = ToolResultCacheMiddleware({"weather": 60}, config)
    agent = create_agent(model, tools=[weather], middleware=[middleware])
    first = await ask(agent, mode, "weather in Paris?")
    again = await ask(agent, mode, "weather in Paris?")
    assert last(first).content == last(again).content == "tool said sunny in Paris (1)"
    served = next(m for m in again["messages"] if isinstance(m, ToolMessage))
    assert served.response_metadata[CACHE_MARK] == "exact"
    assert served.tool_call_id == again["messages"][1].tool_calls[0]["id"]
    await ask(agent, mode, "weather in Rome?")
    assert runs == [{"city": "Paris", "unit": "C"}, {"city": "Rome", "unit": "C"}]
    keys = list(config.get_client().scan_iter(match=f"{config.namespace}:*"))
    ttls = [config.get_client().pttl(k) for k in keys]
    assert any(0 < t <= 60_000 for t in ttls)  # the entries expire with the tool's TTL


async def test_tool_marked_by_metadata_is_cached_others_are_not(
    config: RedisAgentConfig, model: CountingModel
) -> None:
    runs.clear()
    agent = create_agent(
        model, tools=[weather, forecast], middleware=[ToolResultCacheMiddleware(config=config)]
    )
    for _ in range(2):
        await agent.ainvoke({"messages": [HumanMessage("forecast in Oslo?")]})
        await agent.ainvoke({"messages": [HumanMessage("weather in Oslo?")]})
    assert runs.count({"forecast": "Oslo"}) == 1
    assert runs.count({"city": "Oslo", "unit": "C"}) == 2  # not marked: runs every time


def _search_tool(description: str, found: str) -> StructuredTool:
    def search(city: str, unit: str) -> str:
        runs.append({"search": description})
        return found

    return StructuredTool.from_function(search, name="search", description=description)


async def test_tools_of_one_name_over_different_data_do_not_share_results(
    config: RedisAgentConfig,
) -> None:
    runs.clear()
    hr = _search_tool("Search the HR knowledge base.", "salary bands")
    public = _search_tool("Search the public website.", "we are hiring")
    for tool_, found in ((hr, "salary bands"), (public, "we are hiring"), (hr, "salary bands")):
        agent = create_agent(
            CountingModel(),
            tools=[tool_],
            middleware=[ToolResultCacheMiddleware({"search": 60}, config)],
        )
        out = await agent.ainvoke({"messages": [HumanMessage("search in Oslo?")]})
        assert last(out).content == f"tool said {found}"
    assert len(runs) == 2  # the HR tool ran once, the public one ran on its own


async def test_tool_cache_key_ignores_argument_order(config: RedisAgentConfig) -> None:
    from langchain_redis_agent.middleware import canonical_json

    assert canonical_json({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical_json(
        {"a": [1, {"c": 3, "d": 2}], "b": 1}
    )
    with pytest.raises(ConfigError, match="weather"):
        ToolResultCacheMiddleware({"weather": 0}, config)


async def test_an_unreadable_tool_result_is_a_miss(config: RedisAgentConfig) -> None:
    from langchain_redis_agent.middleware import canonical_json
    from redis_agent_core.cache import ExactCache, make_scope

    runs.clear()
    cache = ExactCache(config, name="tools")
    args = canonical_json({"city": "Oslo", "unit": "C"})
    assert args is not None
    spec = convert_to_openai_tool(weather)
    cache.update(args, make_scope({"tool": "weather", "spec": spec}), "not json")
    agent = create_agent(
        CountingModel(),
        tools=[weather],
        middleware=[ToolResultCacheMiddleware({"weather": 60}, config)],
    )
    out = await agent.ainvoke({"messages": [HumanMessage("weather in Oslo?")]})
    assert last(out).content == "tool said sunny in Oslo (1)" and len(runs) == 1


@pytest.mark.parametrize("ttl", [float("nan"), float("inf"), True, 10**12, 0, -1, "60"])
def test_a_tool_ttl_the_cache_cannot_set_is_refused_when_built(
    config: RedisAgentConfig, ttl: object
) -> None:
    # NaN, True and ttls past 100 years were accepted, and failed in the first tool call
    with pytest.raises(ConfigError, match="ttl"):
        ToolResultCacheMiddleware({"weather": ttl}, config)  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="ttl"):
        ToolResultCacheMiddleware(["weather"], config)  # type: ignore[arg-type]
    assert ToolResultCacheMiddleware({"weather": 1.5, "news": None}, config).ttl["weather"] == 1.5


def _balance(city: str, unit: str, runtime: ToolRuntime) -> str:
    return f"balance of {runtime.context['user_id']}"


def _notes(city: str, unit: str, state: Annotated[dict[str, Any], InjectedState]) -> str:
    return f"notes of {state['messages'][0].content}"


def _orders(city: str, unit: str, config: RunnableConfig) -> str:
    return f"orders of {config['configurable']['user_id']}"


def _mine(city: str, unit: str, user: Annotated[str, InjectedToolArg]) -> str:
    return f"mine of {user}"


def _wallet(city: str, unit: str) -> str:
    return f"wallet of {get_runtime().context['user_id']}"


def _inbox(city: str, unit: str) -> str:
    def owner() -> str:  # inside a nested function too
        return str(get_config()["configurable"]["user_id"])

    return f"inbox of {owner()}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("function", [_balance, _notes, _orders, _mine, _wallet, _inbox])
async def test_a_cacheable_tool_that_reads_injected_state_is_refused(
    mode: str, config: RedisAgentConfig, function: Any
) -> None:
    # ToolNode injects state, runtime, config and InjectedToolArg after wrap_tool_call:
    # the key never saw them, and bob was served "balance of alice" (review 15: so was
    # "wallet of alice" through get_runtime() / get_config() called in the tool's body)
    marked = StructuredTool.from_function(
        function, name="balance", description="The caller's data.", metadata={"cache_ttl": 60}
    )
    agent = create_agent(
        CountingModel(), tools=[marked], middleware=[ToolResultCacheMiddleware(config=config)]
    )
    for user in ("alice", "bob"):
        run = {"context": {"user_id": user}, "config": {"configurable": {"user_id": user}}}
        with pytest.raises(ConfigError, match=r"'balance' is marked cacheable but (takes|calls)"):
            await ask(agent, mode, "balance in Oslo?", **run)
    assert not list(config.get_client().scan_iter(match=f"{config.namespace}:*"))


def test_a_user_key_that_names_no_one_is_refused(
    config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    # review 15: user_key="" made every run anonymous, user_key=5 failed at the first call
    for bad in ("", 5, None):
        with pytest.raises(ConfigError, match="user_key must be a non-empty str"):
            SemanticCacheMiddleware(embedder, config, user_key=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="user_key must be a non-empty str"):
            ToolResultCacheMiddleware({"weather": 60}, config, user_key=bad)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="org_key must be a non-empty str"):
            RateLimitMiddleware(_limiter(config), org_key=bad)  # type: ignore[arg-type]


def test_injected_arguments_are_those_the_model_does_not_give() -> None:
    from langchain_redis_agent.middleware import injected_arguments

    def injected(function: Any) -> list[str]:
        return injected_arguments(StructuredTool.from_function(function, description="d"))

    assert injected_arguments(weather) == []
    assert injected(_balance) == ["runtime"] and injected(_notes) == ["state"]
    assert injected(_orders) == ["config"] and injected(_mine) == ["user"]
    assert injected_arguments({"name": "a dict spec"}) == []
    assert context_reads(weather) == [] and context_reads(_wallet) == []  # not a tool
    assert context_reads(StructuredTool.from_function(_inbox, description="d")) == ["get_config()"]

    class Narrow(BaseModel):
        city: str

    def narrowed(city: str, unit: str = "C", *, callbacks: Any = None) -> str:
        return city  # a default the schema leaves out is no injection

    spec = StructuredTool.from_function(narrowed, description="d", args_schema=Narrow)
    assert injected_arguments(spec) == []

    def with_call_id(city: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
        return city  # served results carry the new call's id anyway

    assert injected(with_call_id) == []


class _OrderModel(CountingModel):
    """Calls the ``order`` tool with ``number`` (as a provider's parser may give it:
    OpenAI's reads NaN and 23-digit ints), then answers with its result."""

    number: Any = None

    def _generate(
        self, messages: list[Any], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        self.calls += 1
        last = messages[-1]
        if isinstance(last, HumanMessage):
            call = {"name": "order", "args": {"number": self.number}, "id": f"c{self.calls}"}
            message = AIMessage(content="", tool_calls=[call])
        else:
            message = AIMessage(content=f"tool said {last.content}")
        return ChatResult(generations=[ChatGeneration(message=message)])


def _order(number: Any) -> str:
    runs.append({"order": repr(number)})
    return f"order {number!r}"


@pytest.mark.parametrize("mode", MODES)
async def test_tool_arguments_json_cannot_key_exactly_are_not_cached(
    mode: str, config: RedisAgentConfig, embedder: CallableEmbedder
) -> None:
    # orjson refuses an int beyond 64 bits (the run crashed with TypeError) and writes
    # NaN / Infinity as null (NaN was served the result of null)
    runs.clear()
    order = StructuredTool.from_function(_order, name="order", description="An order.")
    tools = ToolResultCacheMiddleware({"order": 60}, config)
    semantic = SemanticCacheMiddleware(embedder, config, share="global")
    numbers = [None, float("nan"), float("inf"), 12345678901234567890123, 12345678901234567890123]
    for number in numbers:
        agent = create_agent(_OrderModel(number=number), tools=[order], middleware=[tools])
        assert last(await ask(agent, mode, "order?")).content == f"tool said order {number!r}"
        agent = create_agent(_OrderModel(number=number), tools=[order], middleware=[semantic])
        await ask(agent, mode, f"order {number!r}?")  # its history holds the number
    assert [r["order"] for r in runs[::2]] == [repr(n) for n in numbers]
    # the semantic cache: the answer after a tool call with NaN is not the one after None
    model = _OrderModel()
    agent = create_agent(model, tools=[order], middleware=[semantic])
    for number in (None, float("nan"), None):
        call = {"name": "order", "args": {"number": number}, "id": "c1"}
        history = [
            HumanMessage("order again?"),
            AIMessage(content="", tool_calls=[call]),
            ToolMessage(content="found", tool_call_id="c1"),
        ]
        if mode == "sync":
            await asyncio.to_thread(agent.invoke, {"messages": history})
        else:
            await agent.ainvoke({"messages": history})
    assert model.calls == 2  # NaN's history is not None's; None's answer served again


@pytest.mark.parametrize("mode", MODES)
async def test_a_server_auth_identity_is_read_only_where_the_server_writes_it(
    mode: str, config: RedisAgentConfig
) -> None:
    # LangGraph Server's auth sets configurable["langgraph_auth_user_id"]; a client sends
    # the context, and context came first: claiming the victim served their result
    runs.clear()
    agent = create_agent(
        CountingModel(),
        tools=[weather],
        middleware=[
            ToolResultCacheMiddleware(
                {"weather": 60}, config, per_user=True, user_key="langgraph_auth_user_id"
            )
        ],
    )
    victim = {"configurable": {"langgraph_auth_user_id": "victim"}}
    await ask(agent, mode, "weather in Oslo?", config=victim)
    claimed = {"langgraph_auth_user_id": "victim"}
    forged = {"configurable": {"langgraph_auth_user_id": "mallory"}, "metadata": claimed}
    await ask(agent, mode, "weather in Oslo?", config=forged, context=claimed)
    assert len(runs) == 2  # mallory's call ran the tool: nothing of the victim's served
    await ask(agent, mode, "weather in Oslo?", config=victim)
    assert len(runs) == 2  # the victim's own result is still served to the victim


@pytest.mark.parametrize("mode", MODES)
async def test_a_blank_user_id_names_no_one(
    mode: str, config: RedisAgentConfig, model: CountingModel
) -> None:
    # an app passing "" for its anonymous callers: read as a user, "" made them all one
    # user, and a per_user result of one (their orders, their balance) was served to all
    runs.clear()
    middleware = ToolResultCacheMiddleware({"weather": 60}, config, per_user=True)
    agent = create_agent(model, tools=[weather], middleware=[middleware])
    for _ in range(2):
        with pytest.raises(ConfigError, match="per_user=True needs 'user_id'"):
            await ask(agent, mode, "weather in Oslo?", context={"user_id": ""})
    assert runs == []  # refused before the tool ran: nothing kept, nothing served
    # blank in the context is no one: not read on into the config, which a client may
    # write (an anonymous caller naming "ada" there would get ada's results)
    await ask(agent, mode, "weather in Oslo?", config=_who("ada"))
    with pytest.raises(ConfigError, match="per_user=True needs"):
        await ask(agent, mode, "weather in Oslo?", context={"user_id": ""}, config=_who("ada"))
    await ask(agent, mode, "weather in Oslo?", config=_who("ada"))
    await ask(agent, mode, "weather in Oslo?", config=_who("bob"))
    assert len(runs) == 2  # ada's second call served, bob's ran the tool


def _who(user: str) -> RunnableConfig:
    return {"metadata": {"user_id": user}}
