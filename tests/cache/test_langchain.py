"""LangChain adapters: standard suites, chat models through set_llm_cache, tool calls,
Redis stopped mid-run."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.load import dumps, load
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.stores import BaseStore
from langchain_tests.integration_tests.base_store import BaseStoreAsyncTests, BaseStoreSyncTests
from langchain_tests.integration_tests.cache import AsyncCacheTestSuite, SyncCacheTestSuite
from pydantic import BaseModel, create_model

from langchain_redis_agent import RedisByteStore, RedisCache, RedisSemanticCache
from langchain_redis_agent.cache import (
    _ALLOWED,
    dumps_generations,
    fresh_ids,
    loads_generations,
    prompt_text,
)
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder, SentenceTransformerEmbedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.server import EmbeddedRedis

from .conftest import toy_vector


@pytest.fixture(autouse=True)
def _no_global_cache() -> Iterator[None]:
    yield
    set_llm_cache(None)


class TestRedisCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, config: RedisAgentConfig) -> RedisCache:
        return RedisCache(config)


class TestRedisCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(self, aconfig: RedisAgentConfig) -> RedisCache:
        return RedisCache(aconfig)


class TestRedisSemanticCacheSync(SyncCacheTestSuite):
    @pytest.fixture
    def cache(self, config: RedisAgentConfig, toy_embedder: CallableEmbedder) -> RedisSemanticCache:
        return RedisSemanticCache(toy_embedder, config)


class TestRedisSemanticCacheAsync(AsyncCacheTestSuite):
    @pytest.fixture
    async def cache(
        self, aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder
    ) -> RedisSemanticCache:
        return RedisSemanticCache(toy_embedder, aconfig)


class TestRedisByteStoreSync(BaseStoreSyncTests[bytes]):
    @pytest.fixture
    def kv_store(self, config: RedisAgentConfig) -> BaseStore[str, bytes]:
        return RedisByteStore(config)

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"\x00\xffbuzz"


class TestRedisByteStoreAsync(BaseStoreAsyncTests[bytes]):
    @pytest.fixture
    async def kv_store(self, aconfig: RedisAgentConfig) -> BaseStore[str, bytes]:
        return RedisByteStore(aconfig)

    @pytest.fixture
    def three_values(self) -> tuple[bytes, bytes, bytes]:
        return b"foo", b"bar", b"\x00\xffbuzz"


class TestRedisByteStoreDecodingClient(TestRedisByteStoreSync):
    """A client given with decode_responses=True: values still come back as the bytes
    written (b"\\x00\\xffbuzz" raised UnicodeDecodeError)."""

    @pytest.fixture
    def kv_store(self, decoding_config: RedisAgentConfig) -> BaseStore[str, bytes]:
        return RedisByteStore(decoding_config)


class TestRedisByteStoreDecodingClientAsync(TestRedisByteStoreAsync):
    @pytest.fixture
    async def kv_store(self, decoding_config: RedisAgentConfig) -> BaseStore[str, bytes]:
        return RedisByteStore(decoding_config)


def test_byte_store_on_a_cluster(cluster_config: RedisAgentConfig) -> None:
    # keys of a store live in many slots: read with one GET each
    store = RedisByteStore(cluster_config, name="spread")
    pairs = [(f"k{i}", b"\xff%d" % i) for i in range(20)]
    store.mset(pairs)
    assert store.mget([k for k, _ in pairs] + ["missing"]) == [v for _, v in pairs] + [None]

    async def amget() -> list[bytes | None]:
        try:
            return await store.amget(["k3", "missing", "k17"])
        finally:
            await cluster_config.aclose()

    assert asyncio.run(amget()) == [b"\xff3", None, b"\xff17"]


def test_byte_store_keys_with_glob_and_brace_characters(config: RedisAgentConfig) -> None:
    store = RedisByteStore(config, name="odd")
    store.mset([("a*{1}", b"1"), ("a?[x]", b"2"), ("b", b"3")])
    assert sorted(store.yield_keys(prefix="a*")) == ["a*{1}"]
    assert sorted(store.yield_keys(prefix="a")) == ["a*{1}", "a?[x]"]
    assert store.mget(["a?[x]", "missing"]) == [b"2", None]


async def test_byte_store_refuses_a_str_of_keys(config: RedisAgentConfig) -> None:
    # review 24: a str where the list of keys belongs was read one character at a
    # time: mdelete("ab") deleted keys "a" and "b", mget("ab") returned theirs
    store = RedisByteStore(config, name="str-keys")
    store.mset([("a", b"1"), ("b", b"2"), ("ab", b"3")])
    for call in (lambda: store.mdelete("ab"), lambda: store.mget("ab")):
        with pytest.raises(ConfigError, match=r"keys must be a list, got a str .*\['ab'\]"):
            call()
    with pytest.raises(ConfigError, match="must be a list"):
        await store.amdelete("ab")
    with pytest.raises(ConfigError, match="must be a list"):
        await store.amget("ab")
    assert store.mget(["a", "b", "ab"]) == [b"1", b"2", b"3"]  # nothing deleted


def _tool_call_message() -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
        usage_metadata={"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
        response_metadata={"model_name": "fake-1", "finish_reason": "tool_calls"},
        id="run-1",
    )


def test_generations_round_trip_exactly_without_pickle() -> None:
    gens = [
        ChatGeneration(message=_tool_call_message(), generation_info={"finish_reason": "x"}),
        Generation(text="plain", generation_info={"n": 1}),
    ]
    assert loads_generations(dumps_generations(gens)) == gens
    evil = '[{"lc": 1, "type": "constructor", "id": ["langchain", "llms", "openai", "OpenAI"]}]'
    with pytest.raises(ValueError):
        loads_generations(evil)


def test_ints_beyond_64_bits_and_non_finite_floats_round_trip_exactly() -> None:
    # orjson cannot write an int beyond 64 bits (the json module does) and reads one back
    # as a float: a cached tool call's 23-digit order number came back 1.2345678901234568e+22
    big = 12345678901234567890123
    message = AIMessage(
        content="", tool_calls=[{"name": "order", "args": {"n": big, "m": [-big]}, "id": "c1"}]
    )
    for info in ({"finish_reason": "tool_calls"}, {"logprob": float("-inf")}):
        gens = [ChatGeneration(message=message, generation_info=info)]
        back = loads_generations(dumps_generations(gens))
        assert back == gens
        args = back[0].message.tool_calls[0]["args"]  # type: ignore[attr-defined]
        assert args == {"n": big, "m": [-big]} and type(args["n"]) is int
    # entries of earlier releases (no leading blank) still read
    plain = dumps_generations([Generation(text="plain")])
    assert loads_generations(plain) == [Generation(text="plain")] and plain[:1] == "["


def _shapes() -> list[list[Generation]]:
    """Generations of many shapes, for comparing loads_generations with LangChain's load."""
    escaped = {"lc": 1, "type": "constructor", "id": ["x"], "kwargs": {"a": {"lc": 2}}}
    messages: list[BaseMessage] = [
        _tool_call_message(),
        AIMessage(
            content=[{"type": "text", "text": "h\u00e9 \U0001f600"}, {"type": "image", "url": "u"}]
        ),
        AIMessageChunk(
            content="chunk", tool_call_chunks=[{"name": "f", "args": "{", "id": "1", "index": 0}]
        ),
        AIMessage(
            content="x", additional_kwargs={"raw": escaped, "deep": [[{"k": [1, {"v": None}]}]]}
        ),
        AIMessage(content='"lc": 1 inside a string', name="bot", id="m1"),
        HumanMessage(content="hi", additional_kwargs={"lc": 1}),
        HumanMessageChunk(content="h"),
        SystemMessage(content="be brief"),
        SystemMessageChunk(content="s"),
        ToolMessage(content="42", tool_call_id="call_1", artifact={"rows": [1, 2]}, status="error"),
        ToolMessageChunk(content="4", tool_call_id="c"),
        FunctionMessage(content="{}", name="fn"),
        FunctionMessageChunk(content="{", name="fn"),
        ChatMessage(content="x", role="critic"),
        ChatMessageChunk(content="x", role="critic"),
        AIMessage(content="", response_metadata={"nested": {"a": [{"b": {"c": [1.5, True]}}]}}),
    ]
    shapes: list[list[Generation]] = [[ChatGeneration(message=m)] for m in messages]
    shapes += [
        [Generation(text="plain", generation_info={"n": 1})],
        [GenerationChunk(text="part", generation_info={"lc": 1})],
        [ChatGenerationChunk(message=AIMessageChunk(content="c"))],
        [ChatGeneration(message=m, generation_info={"i": i}) for i, m in enumerate(messages[:4])],
        [Generation(text="a"), ChatGeneration(message=AIMessage(content="b"))],
        [Generation(text="", generation_info={"d": _nested(150)})],
        [],
    ]
    return shapes


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


@pytest.mark.parametrize("gens", _shapes())
def test_loads_generations_matches_langchain_load(gens: list[Generation]) -> None:
    # loads_generations builds the usual shape directly for speed: its result must be
    # exactly what LangChain's own load() gives with the same allow-list
    payload = dumps_generations(gens)
    ours = loads_generations(payload)
    assert ours == load(json.loads(payload), allowed_objects=_ALLOWED) == gens
    assert [type(g) for g in ours] == [type(g) for g in gens]


@pytest.mark.parametrize(
    "payload",
    [
        '[{"lc": 1, "type": "constructor", "id": ["langchain", "llms", "openai", "OpenAI"]}]',
        '[{"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]}]',
        '[{"lc": 1, "type": "constructor", "id": ["langchain", "prompts", "prompt", '
        '"PromptTemplate"], "kwargs": {"template": "{x}", "input_variables": ["x"]}}]',
        '[{"lc": 1, "type": "constructor", "id": ["langchain", "schema", "output", '
        '"Generation"], "kwargs": {"text": {"lc": 1, "type": "constructor", '
        '"id": ["langchain", "llms", "openai", "OpenAI"]}}}]',
        "[" * 300 + "]" * 300,
    ],
)
def test_loads_generations_refuses_what_langchain_load_refuses(payload: str) -> None:
    with pytest.raises(Exception) as library:
        value = load(json.loads(payload), allowed_objects=_ALLOWED)
        if not all(isinstance(g, Generation) for g in value):
            raise ValueError("not generations")
    with pytest.raises(type(library.value)):
        loads_generations(payload)


@pytest.mark.parametrize(
    "payload", ["[" * 100_000 + "]" * 100_000, ' {"a":' * 5_000 + "1" + "}" * 5_000]
)
async def test_an_entry_nested_past_the_recursion_limit_is_a_miss(
    config: RedisAgentConfig, payload: str
) -> None:
    # another writer's entry deeper than orjson reads (1,024 levels) went to the json
    # module, whose RecursionError escaped lookup(): every call of that prompt raised
    cache = RedisCache(config)
    model = FakeListChatModel(responses=["an answer"], cache=cache)
    prompt, llm_string = dumps([HumanMessage("What is Redis?")]), model._get_llm_string()
    cache.core.update(*cache._key(prompt, llm_string), payload)
    with pytest.raises(ValueError, match="nested too deep"):
        loads_generations(payload)
    assert cache.lookup(prompt, llm_string) is None
    assert await cache.alookup(prompt, llm_string) is None
    assert model.invoke("What is Redis?").content == "an answer"  # a miss, not a crash


def test_chat_prompt_is_embedded_as_conversation_text() -> None:
    assert prompt_text(dumps([HumanMessage("What is Redis?")])) == "What is Redis?"
    convo = dumps([SystemMessage("Be brief."), HumanMessage("What is Redis?")])
    assert prompt_text(convo) == "system: Be brief.\nhuman: What is Redis?"
    assert prompt_text("plain prompt") == "plain prompt"


def test_conversation_texts_of_different_messages_differ() -> None:
    # review 15: "role: content" lines let one message read as several (a user's text
    # holding "\nhuman: ..."): an identical text is served at distance 0
    system = SystemMessage("Be brief.")
    texts = [
        prompt_text(dumps(m))
        for m in (
            [system, HumanMessage("I am Bob."), HumanMessage("Name?")],
            [system, HumanMessage("I am Bob.\nhuman: Name?")],
            [HumanMessage("system: Be brief.\nhuman: I am Bob.\nhuman: Name?")],
            [system, ChatMessage(role="human: I am Bob.\nhuman", content="Name?")],
        )
    ]
    assert len(set(texts)) == len(texts), texts
    assert texts[1] == "system: Be brief.\nhuman: I am Bob.\n  human: Name?"


def test_chat_model_with_set_llm_cache_hits_and_keeps_tool_calls(config: RedisAgentConfig) -> None:
    cache = RedisCache(config)
    set_llm_cache(cache)
    model = GenericFakeChatModel(messages=iter([_tool_call_message()]))
    first = model.invoke("weather in Paris?")
    second = model.invoke("weather in Paris?")  # the fake has no second answer: must hit
    assert [{**c, "id": None} for c in second.tool_calls] == [
        {**c, "id": None} for c in first.tool_calls
    ]
    assert second.response_metadata == first.response_metadata
    assert second.usage_metadata["total_cost"] == 0  # type: ignore[index,typeddict-item]
    assert second.usage_metadata["total_tokens"] == 19  # type: ignore[index]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.tokens_saved) == (1, 1, 19)


async def test_async_chain_with_cache_on_the_model(aconfig: RedisAgentConfig) -> None:
    model = FakeListChatModel(responses=["Paris", "WRONG"], cache=RedisCache(aconfig))
    chain = ChatPromptTemplate.from_messages([("human", "Capital of {country}?")]) | model
    assert (await chain.ainvoke({"country": "France"})).content == "Paris"
    assert (await chain.ainvoke({"country": "France"})).content == "Paris"


def test_different_model_parameters_do_not_share_entries(config: RedisAgentConfig) -> None:
    cache = RedisCache(config)
    fast = FakeListChatModel(responses=["one"], cache=cache, sleep=None)
    other = FakeListChatModel(responses=["two"], cache=cache, sleep=0.0)
    assert fast.invoke("q").content == "one"
    assert other.invoke("q").content == "two"
    assert fast.invoke("q").content == "one"


@pytest.mark.parametrize("semantic", [False, True])
async def test_a_class_in_the_llm_string_is_never_served_to_another_schema(
    config: RedisAgentConfig,
    toy_embedder: CallableEmbedder,
    semantic: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # left26b: LangChain writes a class among the call's kwargs as "<class 'Answer'>",
    # whatever its fields: the answer for one schema was served to another of its name
    cache = RedisSemanticCache(toy_embedder, config) if semantic else RedisCache(config)
    model = FakeListChatModel(responses=["a", "b", "c", "d"], cache=cache)

    def answer(field: str) -> type[BaseModel]:
        return create_model("Answer", **{field: (str, ...)})  # type: ignore[call-overload]

    assert model.invoke("q", response_format=answer("city")).content == "a"
    assert model.invoke("q", response_format=answer("country")).content == "b"
    assert (await model.ainvoke("q", response_format=answer("city"))).content == "c"
    assert "model_json_schema()" in caplog.text and "with_structured_output" in caplog.text
    assert cache.core.stats().entries == 0  # nothing written under such a string
    # a builtin class is one class per name: keyed as before
    assert model.invoke("q", response_format=dict).content == "d"
    assert (await model.ainvoke("q", response_format=dict)).content == "d"


def test_tenant_partitions(config: RedisAgentConfig, toy_embedder: CallableEmbedder) -> None:
    acme = RedisSemanticCache(toy_embedder, config, filters={"tenant": "acme"})
    globex = RedisSemanticCache(toy_embedder, config, filters={"tenant": "globex"})
    acme.update("q", "llm", [Generation(text="acme")])
    assert acme.lookup("q", "llm") == [Generation(text="acme")]
    assert globex.lookup("q", "llm") is None


async def test_clear_of_one_partition_never_empties_the_others(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # review 24: partitions of one cache name share its store, so acme's clear()
    # removed globex's entries too; it is refused, and .core.clear() clears them all
    for make in (
        lambda tenant: RedisCache(config, filters={"tenant": tenant}),
        lambda tenant: RedisSemanticCache(toy_embedder, config, filters={"tenant": tenant}),
    ):
        acme, globex = make("acme"), make("globex")
        globex.update("q", "llm", [Generation(text="globex")])
        with pytest.raises(ConfigError, match=r"every partition .*\.core\.clear\(\)"):
            acme.clear()
        with pytest.raises(ConfigError, match="Nothing was removed"):
            await acme.aclear()
        assert globex.lookup("q", "llm") == [Generation(text="globex")]
        acme.core.clear()
        assert globex.lookup("q", "llm") is None


def test_chain_still_answers_when_redis_stops_mid_run(
    own_redis: EmbeddedRedis, own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    models = [
        FakeListChatModel(responses=["a1", "a2", "a3"], cache=cache)
        for cache in (RedisCache(own_config), RedisSemanticCache(toy_embedder, own_config))
    ]
    for model in models:
        assert model.invoke("q").content == "a1"
        assert model.invoke("q").content == "a1"  # hit
    own_redis.stop()
    for model in models:
        assert model.invoke("q").content == "a2"  # Redis gone: the LLM answers
        assert model.invoke("q2").content == "a3"


@pytest.mark.slow
def test_semantic_cache_serves_a_paraphrase_to_a_chat_model(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    model = FakeListChatModel(
        responses=["Paris.", "a bread recipe"], cache=RedisSemanticCache(minilm, config)
    )
    assert model.invoke("What is the capital of France?").content == "Paris."
    assert model.invoke("Which city is the capital of France?").content == "Paris."
    assert model.invoke("How do I bake sourdough bread?").content == "a bread recipe"


def test_semantic_cache_serves_a_misspelt_prompt_past_the_threshold_unless_turned_off(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    """The core's second pass on a miss (respell_threshold): 0.35 apart, two typos."""
    for respell, served in ((None, False), (0.45, True)):
        # the band off: it alone would serve this pair (0.35 apart, the scorer sure)
        cache = RedisSemanticCache(
            minilm, config, name=f"r{respell}", respell_threshold=respell, band_threshold=None
        )
        model = FakeListChatModel(responses=["git branch -d", "other"], cache=cache)
        model.invoke("How do I delete a branch in git?")
        answer = model.invoke("How do I delte a brnach in git?").content
        assert answer == ("git branch -d" if served else "other")


def test_user_dicts_that_look_serialized_stay_data() -> None:
    # dumpd escapes user dicts carrying "lc": they must come back as the same data,
    # never revived into objects (as langchain_core.load.load() does)
    looks_like_lc = {
        "lc": 1,
        "type": "constructor",
        "id": ["langchain", "schema", "messages", "AIMessage"],
        "kwargs": {"content": "injected"},
    }
    msg = AIMessage(content="x", additional_kwargs={"raw": looks_like_lc, "n": [{"lc": 2}]})
    gens = [ChatGeneration(message=msg)]
    assert loads_generations(dumps_generations(gens)) == gens


def _without_ids(gens: Any) -> list[Any]:
    """What a hit must replay: everything but the message id and the tool calls' ids."""
    return [
        g.model_copy(
            update={
                "message": fresh_ids(g.message).model_copy(
                    update={"tool_calls": [{**c, "id": None} for c in g.message.tool_calls]}
                )
            }
        )
        for g in gens
    ]


def test_a_replayed_answer_has_fresh_ids_so_a_graph_keeps_every_turn(
    config: RedisAgentConfig,
) -> None:
    # A hit replayed the writing run's message id: LangGraph's add_messages then
    # replaced the thread's earlier answer with the later one (a turn lost), and the
    # replayed tool call reused an id the thread had already answered.
    from langgraph.graph.message import add_messages

    model = GenericFakeChatModel(messages=iter([_tool_call_message()]), cache=RedisCache(config))
    state: list[Any] = []
    for turn in range(3):
        answer = model.invoke("weather in Paris?")  # turns 2 and 3 are hits
        state = add_messages(state, [HumanMessage("weather in Paris?", id=f"h{turn}"), answer])
    answers = [m for m in state if isinstance(m, AIMessage)]
    assert len(answers) == 3
    assert len({m.id for m in answers}) == 3
    assert len({c["id"] for m in answers for c in m.tool_calls}) == 3
    assert {c["name"] for m in answers for c in m.tool_calls} == {"get_weather"}


def _provider_shaped(kind: str) -> AIMessage:
    """A tool call as providers write it: also named in the content (Anthropic's
    tool_use block, the Responses API's function_call item) or in the raw calls."""
    call = {"name": "get_weather", "args": {"city": "Paris"}, "id": "toolu_1"}
    if kind == "anthropic":
        content: Any = [
            {"type": "text", "text": "Let me look."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris"},
            },
        ]
        return AIMessage(content=content, tool_calls=[call])
    if kind == "responses":
        content = [
            {"type": "function_call", "id": "fc_1", "call_id": "toolu_1",
             "name": "get_weather", "arguments": '{"city": "Paris"}'},
        ]  # fmt: skip
        return AIMessage(content=content, tool_calls=[call])
    raw = {"id": "toolu_1", "type": "function",
           "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}  # fmt: skip
    return AIMessage(content="", tool_calls=[call], additional_kwargs={"tool_calls": [raw]})


@pytest.mark.parametrize("kind", ["anthropic", "responses", "chat-completions"])
def test_a_replayed_tool_call_has_one_id_wherever_the_provider_names_it(
    config: RedisAgentConfig, kind: str
) -> None:
    # A hit gave the tool calls fresh ids but left the old one in the content blocks
    # (and raw calls): langchain-anthropic and langchain-openai's Responses input send
    # a call found there and not in tool_calls as one more call, so the model got the
    # call twice, the old id with no result (a 400 on the next turn of the agent).
    cache = RedisCache(config)
    cache.update("p", "m", [ChatGeneration(message=_provider_shaped(kind))])
    replayed = cache.lookup("p", "m")[0].message  # type: ignore[index,union-attr]
    (call,) = replayed.tool_calls
    assert call["id"] != "toolu_1"
    blocks = replayed.content if isinstance(replayed.content, list) else []
    raw = replayed.additional_kwargs.get("tool_calls", [])
    named = [b.get("call_id", b.get("id")) for b in blocks if b.get("type") != "text"]
    named += [c["id"] for c in raw]
    assert named == [call["id"]]
    assert [b.get("id") for b in blocks if b.get("type") == "function_call"] in ([], ["fc_1"])


def test_a_replayed_answer_does_not_continue_the_writers_responses_conversation(
    config: RedisAgentConfig,
) -> None:
    # ChatOpenAI(use_previous_response_id=True) sends the last AIMessage's
    # response_metadata["id"] (resp_...) as previous_response_id and only the messages
    # after it: replayed with the writer's id, the next turn continued the writer's
    # conversation on OpenAI's side (another user's, in a shared cache), this thread's
    # own history left out
    cache = RedisCache(config)
    written = AIMessage(
        "Paris.",
        response_metadata={"id": "resp_writer", "model_name": "gpt-x", "status": "completed"},
    )
    cache.update("p", "m", [ChatGeneration(message=written)])
    replayed = cache.lookup("p", "m")[0].message  # type: ignore[index,union-attr]
    assert replayed.response_metadata == {"model_name": "gpt-x", "status": "completed"}
    other = AIMessage("Paris.", response_metadata={"id": "chatcmpl-1", "model_name": "gpt-x"})
    cache.update("q", "m", [ChatGeneration(message=other)])
    kept = cache.lookup("q", "m")[0].message  # type: ignore[index,union-attr]
    assert kept.response_metadata == other.response_metadata  # nothing else is touched


def test_a_replayed_chunk_renames_its_tool_call_chunks_too() -> None:
    # an AIMessageChunk rebuilds its tool calls from its chunks when added to another
    chunk = AIMessageChunk(
        content="",
        tool_call_chunks=[{"name": "get_weather", "args": '{"city": "Paris"}', "id": "c1",
                           "index": 0}],
    )  # fmt: skip
    replayed = fresh_ids(chunk)
    merged = replayed + AIMessageChunk(content="")
    assert [c["id"] for c in merged.tool_calls] == [c["id"] for c in replayed.tool_calls]
    assert replayed.tool_calls[0]["id"] != "c1"


def test_hits_are_fresh_objects_each_time(config: RedisAgentConfig) -> None:
    cache = RedisCache(config)
    gens = [ChatGeneration(message=_tool_call_message())]
    cache.update("p", "m", gens)
    first = cache.lookup("p", "m")
    assert _without_ids(first) == _without_ids(gens)
    # what LangChain does on a hit, plus a caller mutating nested data
    first[0].message = first[0].message.model_copy(update={"usage_metadata": None})
    second = cache.lookup("p", "m")
    assert _without_ids(second) == _without_ids(gens)
    second[0].message.tool_calls[0]["args"]["city"] = "changed"
    second[0].message.response_metadata.clear()
    assert _without_ids(cache.lookup("p", "m")) == _without_ids(gens)
    # Redis stays authoritative: a new answer, a cleared cache
    other = [ChatGeneration(message=AIMessage(content="new answer"))]
    cache.update("p", "m", other)
    assert cache.lookup("p", "m") == other
    cache.clear()
    assert cache.lookup("p", "m") is None


def test_hits_replay_nan_and_infinities_as_stored(config: RedisAgentConfig) -> None:
    # orjson wrote them as null: a hit replayed None where the model gave -inf
    cache = RedisCache(config)
    info = {"logprob": float("-inf"), "top": float("inf"), "n": float("nan")}
    meta = {"logprobs": [float("-inf")]}
    gens = [
        Generation(text="x", generation_info=info),
        ChatGeneration(message=AIMessage(content="y", response_metadata=meta)),
    ]
    cache.update("p", "m", gens)
    hit = cache.lookup("p", "m")
    assert hit is not None and hit[0].generation_info is not None
    assert hit[0].generation_info["logprob"] == float("-inf")
    assert hit[0].generation_info["top"] == float("inf")
    assert math.isnan(hit[0].generation_info["n"])
    assert hit[1].message.response_metadata == meta  # type: ignore[attr-defined]


def test_semantic_text_keeps_images_and_tool_calls_apart(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    def ask(url: str) -> str:
        block = {"type": "image_url", "image_url": {"url": url}}
        return dumps([HumanMessage([{"type": "text", "text": "What is in this image?"}, block])])

    cat, dog = prompt_text(ask("data:image/png;base64,Y2F0")), prompt_text(ask("data:,ZG9n"))
    assert cat != dog and "What is in this image?" in cat
    assert prompt_text(ask("data:image/png;base64,Y2F0")) == cat  # stable

    def turn(city: str) -> str:
        call = {"name": "weather", "args": {"city": city}, "id": "c1"}
        return dumps([HumanMessage("Weather?"), AIMessage("", tool_calls=[call])])

    assert prompt_text(turn("Paris")) != prompt_text(turn("Lima"))
    assert "Paris" in prompt_text(turn("Paris"))
    cache = RedisSemanticCache(toy_embedder, config)  # default guards on
    cache.update(ask("data:,Y2F0"), "m", [Generation(text="a cat")])
    assert cache.lookup(ask("data:,ZG9n"), "m") is None
    assert cache.lookup(ask("data:,Y2F0"), "m") == [Generation(text="a cat")]


def test_semantic_cache_keys_on_what_else_a_message_sends_the_model(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # review 13: a message's name (sent to the provider) was left out of the key, so
    # "Who am I?" from alice was served to bob
    def ask(**fields: Any) -> str:
        return dumps(
            [SystemMessage("Greet the user by name."), HumanMessage("Who am I?", **fields)]
        )

    cache = RedisSemanticCache(toy_embedder, config, verifier=None)
    cache.update(ask(name="alice"), "m", [Generation(text="You are alice.")])
    assert cache.lookup(ask(name="alice"), "m") == [Generation(text="You are alice.")]
    for other in (
        {"name": "bob"},
        {},
        {"additional_kwargs": {"name": "bob"}},
        {"name": "alice", "additional_kwargs": {"cache_control": {"type": "ephemeral"}}},
    ):
        assert cache.lookup(ask(**other), "m") is None, other
    # what changes run to run and never reaches the model still matches
    cache.update(ask(), "m", [Generation(text="Who knows.")])
    assert cache.lookup(ask(id="run-2"), "m") == [Generation(text="Who knows.")]
    # through a chat model, as in the report
    model = FakeListChatModel(responses=["You are alice.", "You are bob."], cache=cache)
    asks = [SystemMessage("Be kind."), HumanMessage("Who am I?", name="alice")]
    assert model.invoke(asks).content == "You are alice."
    asks[1] = HumanMessage("Who am I?", name="bob")
    assert model.invoke(asks).content == "You are bob."


def _last_line_embedder() -> CallableEmbedder:
    """An embedder that reads only a prompt's last line (the question): the system
    prompt barely moves a real model's vector (MiniLM served "You are a pirate."'s
    answer to "You are a helpful assistant." with the default guards)."""
    return CallableEmbedder(
        lambda texts: [toy_vector(t.rsplit("\n", 1)[-1]) for t in texts], name="last", dims=16
    )


async def test_semantic_cache_never_serves_another_system_prompts_answer(
    config: RedisAgentConfig,
) -> None:
    # review 24: a system prompt was only embedded, so an answer written under "You
    # are a pirate." was served to a request under another system prompt
    def ask(system: str) -> str:
        return dumps([SystemMessage(system), HumanMessage("What is 2+2?")])

    cache = RedisSemanticCache(_last_line_embedder(), config, verifier=None)
    cache.update(ask("You are a pirate."), "m", [Generation(text="Arr, four.")])
    assert cache.lookup(ask("You are a pirate."), "m") == [Generation(text="Arr, four.")]
    assert cache.lookup(ask("You are a helpful assistant."), "m") is None
    assert await cache.alookup(ask("Answer in French."), "m") is None
    developer = ChatMessage(role="developer", content="Answer in French.")
    assert cache.lookup(dumps([developer, HumanMessage("What is 2+2?")]), "m") is None
    # a plain conversation keeps its scope: entries written before still match
    four = [Generation(text="4")]
    cache.update(dumps([HumanMessage("Hi"), HumanMessage("What is 2+2?")]), "m", four)
    assert cache.lookup(dumps([HumanMessage("Hello"), HumanMessage("What is 2+2?")]), "m") == four


_NOT_GENERATIONS = [
    pytest.param(Generation(text="Paris"), id="one-generation"),
    pytest.param("Paris", id="str"),
    pytest.param(["Paris"], id="list-of-str"),
    pytest.param({"text": "Paris"}, id="dict"),
    pytest.param([], id="empty-list"),
]


def _namespace_keys(config: RedisAgentConfig) -> set[bytes]:
    return set(config.get_client().scan_iter(match=f"{config.namespace}:*"))


@pytest.mark.parametrize("semantic", [False, True], ids=["exact", "semantic"])
@pytest.mark.parametrize("bad", _NOT_GENERATIONS)
def test_update_refuses_what_is_not_a_list_of_generations_before_writing(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, semantic: bool, bad: Any
) -> None:
    # Stored, such a value came back later as an unreadable entry: logged, then a miss.
    cache = RedisSemanticCache(toy_embedder, config) if semantic else RedisCache(config)
    cache.update("warm", "llm", [Generation(text="warm")])  # index and stats exist already
    before = _namespace_keys(config)
    with pytest.raises(ConfigError, match=r"list of Generation.*got") as err:
        cache.update("q", "llm", bad)
    assert type(bad).__name__ in str(err.value)
    assert _namespace_keys(config) == before
    assert cache.lookup("q", "llm") is None
    assert cache.lookup("warm", "llm") == [Generation(text="warm")]


@pytest.mark.parametrize("semantic", [False, True], ids=["exact", "semantic"])
@pytest.mark.parametrize("bad", _NOT_GENERATIONS)
async def test_aupdate_refuses_what_is_not_a_list_of_generations_before_writing(
    aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder, semantic: bool, bad: Any
) -> None:
    cache = RedisSemanticCache(toy_embedder, aconfig) if semantic else RedisCache(aconfig)
    await cache.aupdate("warm", "llm", [Generation(text="warm")])
    before = _namespace_keys(aconfig)
    with pytest.raises(ConfigError, match=r"list of Generation.*got") as err:
        await cache.aupdate("q", "llm", bad)
    assert type(bad).__name__ in str(err.value)
    assert _namespace_keys(aconfig) == before
    assert await cache.alookup("q", "llm") is None
