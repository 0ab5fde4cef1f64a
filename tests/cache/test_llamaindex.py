"""LlamaIndex adapters: RedisCacheLLM around MockLLM (plain, streaming, async, query
engine) and RedisKVStore (collections, async, IngestionCache)."""

from __future__ import annotations

import asyncio
import datetime
import functools
import itertools
from collections.abc import Sequence
from typing import Any, ClassVar

import orjson
import pytest
import redis
import redis.asyncio as aredis
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.ingestion import IngestionCache, IngestionPipeline
from llama_index.core.llms import CustomLLM, MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.node_parser import SentenceSplitter
from pydantic import BaseModel, Field, PrivateAttr

from llamaindex_redis_agent import MiniLMEmbedding, RedisCacheLLM, RedisKVStore
from redis_agent_core.cache import ExactCache, SemanticCache
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.server import EmbeddedRedis

from .conftest import toy_vector


class CountingLLM(MockLLM):
    """MockLLM that counts calls and answers with a numbered reply."""

    # private: a field is part of the scope, read at each call
    _calls: int = PrivateAttr(default=0)

    @property
    def calls(self) -> int:
        return self._calls

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        self._calls += 1
        response = super().complete(prompt, formatted=formatted, **kwargs)
        response.text = f"answer {self._calls}"
        response.additional_kwargs = {"prompt_tokens": 5, "completion_tokens": 2}
        return response

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        self._calls += 1
        return super().stream_complete(prompt, formatted=formatted, **kwargs)

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        self._calls += 1
        return ChatResponse(
            message=ChatMessage(
                role=MessageRole.ASSISTANT,
                content=f"chat {self._calls}",
                additional_kwargs={"tool_calls": [{"id": "t1", "name": "f"}]},
            )
        )


def test_messages_json_cannot_key_exactly_go_to_the_model_uncached(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # orjson refuses an int beyond 64 bits (chat raised TypeError) and a NaN keyed as
    # null (served the answer given for None)
    for cache in (ExactCache(config), SemanticCache(config, embedder=toy_embedder)):
        inner = CountingLLM()
        llm = RedisCacheLLM(inner, cache)
        for n in (None, float("nan"), float("inf"), 12345678901234567890123):
            message = ChatMessage(role="user", content="hi", additional_kwargs={"n": n})
            assert llm.chat([message]).message.content == f"chat {inner.calls}"
        assert inner.calls == 4  # each went to the model
        assert llm.chat([ChatMessage(role="user", content="hi", additional_kwargs={"n": None})])
        assert inner.calls == 4  # None's own answer is still served


def test_complete_and_chat_are_served_from_the_cache(config: RedisAgentConfig) -> None:
    inner = CountingLLM()
    llm = RedisCacheLLM(inner, ExactCache(config))
    assert llm.complete("hello").text == "answer 1"
    hit = llm.complete("hello")
    assert hit.text == "answer 1" and hit.additional_kwargs["cache_hit"] is True
    assert llm.complete("hello", formatted=True).text == "answer 2"  # other call kind
    messages = [ChatMessage(role="user", content="hi")]
    first = llm.chat(messages)
    again = llm.chat(messages)
    assert again.message.content == first.message.content == "chat 3"
    assert again.message.additional_kwargs == {"tool_calls": [{"id": "t1", "name": "f"}]}
    assert inner.calls == 3
    assert llm.metadata == inner.metadata
    assert llm.cache.stats().tokens_saved == 7


def test_scope_follows_the_inner_llm_parameters(config: RedisAgentConfig) -> None:
    cache = ExactCache(config)
    short = RedisCacheLLM(MockLLM(max_tokens=3), cache)
    longer = RedisCacheLLM(MockLLM(max_tokens=6), cache)
    a = short.complete("x y z")
    b = longer.complete("x y z")
    assert a.text != b.text
    assert short.complete("x y z").text == a.text


class CallCountingLLM(CustomLLM):
    """A test LLM that counts the calls reaching it, named ``model`` in its metadata."""

    # private: a field is part of the scope, read at each call
    _calls: int = PrivateAttr(default=0)
    model: ClassVar[str] = "test"

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)


class FormattingLLM(CallCountingLLM):
    """Formats the prompt itself, as HuggingFaceLLM and LlamaCPP do, and says what the
    model saw."""

    temperature: float = 0.0
    model: ClassVar[str] = "echo"

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._calls += 1
        if not formatted:
            prompt = self.completion_to_prompt(prompt)
            if self.system_prompt:
                prompt = f"{self.system_prompt} {prompt}"
        return CompletionResponse(text=f"t={self.temperature} saw {prompt}")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        yield self.complete(prompt, formatted, **kwargs)


def _prefix(prefix: str, prompt: str) -> str:
    return prefix + prompt


class Prefixer:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def format(self, prompt: str) -> str:
        return self.prefix + prompt


def test_scope_follows_the_inner_llm_prompt_formatting(config: RedisAgentConfig) -> None:
    cache = ExactCache(config)

    def answer(**fields: Any) -> str:
        return RedisCacheLLM(FormattingLLM(**fields), cache).complete("q").text

    assert answer() == "t=0.0 saw q"
    assert answer(completion_to_prompt=lambda p: "French: " + p) == "t=0.0 saw French: q"
    assert answer(completion_to_prompt=lambda p: "German: " + p) == "t=0.0 saw German: q"
    french = functools.partial(_prefix, "Fr: ")
    assert answer(completion_to_prompt=french) == "t=0.0 saw Fr: q"
    assert answer(completion_to_prompt=functools.partial(_prefix, "De: ")) == "t=0.0 saw De: q"
    assert answer(system_prompt="Pirate.") == "t=0.0 saw Pirate. q"
    assert answer(system_prompt="Pirate.") == "t=0.0 saw Pirate. q"
    assert answer(completion_to_prompt=french) == "t=0.0 saw Fr: q"  # same formatter: a hit
    assert answer(completion_to_prompt=Prefixer("Es: ").format) == "t=0.0 saw Es: q"
    assert answer(completion_to_prompt=Prefixer("It: ").format) == "t=0.0 saw It: q"
    assert cache.stats().hits == 2


def test_scope_follows_changes_to_the_inner_llm_after_wrapping(config: RedisAgentConfig) -> None:
    inner = FormattingLLM()
    llm = RedisCacheLLM(inner, ExactCache(config))
    assert llm.complete("q").text == "t=0.0 saw q"
    inner.temperature = 1.5
    assert llm.complete("q").text == "t=1.5 saw q"
    inner.system_prompt = "Be brief."
    assert llm.complete("q").text == "t=1.5 saw Be brief. q"
    assert inner.calls == 3


def test_unfingerprintable_formatter_is_refused(config: RedisAgentConfig) -> None:
    class Formatter:
        def __call__(self, prompt: str) -> str:
            return prompt

    with pytest.raises(ConfigError, match=r"completion_to_prompt.*plain function"):
        RedisCacheLLM(FormattingLLM(completion_to_prompt=Formatter()), ExactCache(config))


def test_streaming_hit_replays_as_a_stream(config: RedisAgentConfig) -> None:
    inner = CountingLLM(max_tokens=5)
    llm = RedisCacheLLM(inner, ExactCache(config))
    first = list(llm.stream_complete("p"))
    replay = list(llm.stream_complete("p"))
    assert inner.calls == 1
    streamed = "".join(r.delta or "" for r in first)  # what a streaming consumer saw
    assert "".join(r.delta or "" for r in replay) == replay[-1].text == streamed
    assert len(replay) > 1
    chat = list(llm.stream_chat([ChatMessage(role="user", content="q")]))
    chat_replay = list(llm.stream_chat([ChatMessage(role="user", content="q")]))
    assert inner.calls == 2
    assert chat_replay[-1].message.content == "".join(r.delta or "" for r in chat)


def test_abandoned_stream_is_not_stored(config: RedisAgentConfig) -> None:
    inner = CountingLLM(max_tokens=5)
    llm = RedisCacheLLM(inner, ExactCache(config))
    next(iter(llm.stream_complete("p")))
    list(llm.stream_complete("p"))
    assert inner.calls == 2


class KwargsLLM(CountingLLM):
    """CountingLLM whose answers carry the given additional_kwargs."""

    _extra: dict[str, Any] = PrivateAttr(default_factory=dict)

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        response = super().complete(prompt, formatted=formatted, **kwargs)
        response.additional_kwargs = dict(self._extra)
        return response

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        response = super().chat(messages, **kwargs)
        response.message.additional_kwargs = dict(self._extra)
        return response


@pytest.mark.parametrize(
    "extra",
    [
        {"logprob": float("-inf")},
        {"scores": [1.0, float("nan")]},
        {"when": datetime.datetime(2024, 1, 1)},  # was replayed as a str
        {"big": 2**80},
    ],
    ids=["-inf", "nan", "datetime", "bigint"],
)
def test_an_answer_that_would_not_replay_as_given_is_not_cached(
    config: RedisAgentConfig, extra: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    # a hit replayed None for -inf / NaN and str() of anything else: now the answer is
    # returned as the model gave it, left out of the cache, and the skip is logged
    inner = KwargsLLM(max_tokens=4)
    inner._extra = extra
    llm = RedisCacheLLM(inner, ExactCache(config))
    with caplog.at_level("WARNING", logger="llamaindex_redis_agent.llm"):
        first = llm.complete("p")
        again = llm.complete("p")
    assert inner.calls == 2 and "cache_hit" not in again.additional_kwargs
    assert repr(first.additional_kwargs) == repr(extra)
    assert "not cached" in caplog.text
    if "big" not in extra:  # in the message's additional_kwargs too
        llm.chat([ChatMessage(role="user", content="q")])
        llm.chat([ChatMessage(role="user", content="q")])
        assert inner.calls == 4
    inner._extra = {"logprob": -0.5, "ids": [1, 2]}  # a finite answer is cached as before
    llm.complete("other")
    assert llm.complete("other").additional_kwargs == {**inner._extra, "cache_hit": True}
    assert inner.calls in (3, 5)


async def test_async_forms(aconfig: RedisAgentConfig) -> None:
    inner = CountingLLM(max_tokens=4)
    llm = RedisCacheLLM(inner, ExactCache(aconfig))
    assert (await llm.acomplete("a")).text == (await llm.acomplete("a")).text
    messages = [ChatMessage(role="user", content="b")]
    assert (await llm.achat(messages)).message.content == (
        await llm.achat(messages)
    ).message.content
    first = [r async for r in await llm.astream_complete("c")]
    again = [r async for r in await llm.astream_complete("c")]
    assert again[-1].text == "".join(r.delta or "" for r in first)
    chat = [r async for r in await llm.astream_chat(messages + messages)]
    chat_again = [r async for r in await llm.astream_chat(messages + messages)]
    assert chat_again[-1].message.content == "".join(r.delta or "" for r in chat)
    assert inner.calls == 4


def test_semantic_cache_serves_near_questions(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    inner = CountingLLM()
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None)
    llm = RedisCacheLLM(inner, cache)
    messages = [ChatMessage(role="user", content="Capital of France?")]
    llm.chat(messages)
    assert llm.chat(messages).additional_kwargs["cache_hit"] is True
    hit = cache.lookup("Capital of France?", llm._scope("chat", {}))
    assert hit is not None and hit.prompt == "Capital of France?"  # conversation text


def test_query_engine_with_settings_llm(config: RedisAgentConfig) -> None:
    inner = CountingLLM()
    llm = RedisCacheLLM(inner, ExactCache(config))
    old_llm, old_embed = Settings._llm, Settings._embed_model  # reading .llm resolves a default
    Settings.llm, Settings.embed_model = llm, MockEmbedding(embed_dim=8)
    try:
        index = VectorStoreIndex.from_documents([Document(text="Redis keeps data in memory.")])
        engine = index.as_query_engine()
        first = str(engine.query("Where does Redis keep data?"))
        second = str(engine.query("Where does Redis keep data?"))
    finally:
        Settings._llm, Settings._embed_model = old_llm, old_embed
    assert first == second
    assert inner.calls == 1


def test_redis_down_the_inner_llm_answers(
    own_redis: EmbeddedRedis, own_config: RedisAgentConfig
) -> None:
    inner = CountingLLM()
    llm = RedisCacheLLM(inner, ExactCache(own_config))
    llm.complete("p")
    own_redis.stop()
    assert llm.complete("p").text == "answer 2"


def test_kvstore_collections_and_round_trip(config: RedisAgentConfig) -> None:
    store = RedisKVStore(config)
    store.put("a", {"x": 1, "nested": {"y": [1, 2]}})
    store.put("a", {"other": True}, collection="c2")
    store.put_all([("b", {"x": 2}), ("c{1}", {"x": 3})])
    assert store.get("a") == {"x": 1, "nested": {"y": [1, 2]}}
    assert store.get("a", collection="c2") == {"other": True}
    assert store.get_all() == {
        "a": {"x": 1, "nested": {"y": [1, 2]}},
        "b": {"x": 2},
        "c{1}": {"x": 3},
    }
    assert store.delete("a") is True and store.delete("a") is False
    assert store.get("a") is None and store.get("a", collection="c2") == {"other": True}
    with pytest.raises(ConfigError):
        store.put_all([("d", {"ok": 1}), ("e", "not a dict")])  # type: ignore[list-item]
    assert store.get("d") is None  # nothing of a bad batch is written


@pytest.mark.parametrize(
    "bad", [float("nan"), float("-inf"), [1.0, float("inf")], datetime.date(2024, 1, 1)]
)
def test_kvstore_refuses_nan_and_infinities(config: RedisAgentConfig, bad: Any) -> None:
    # they were written as null and read back as None (a pandas row's NaN in a docstore),
    # a date as an ISO str
    store = RedisKVStore(config)
    with pytest.raises(ConfigError, match=r"RedisKVStore value of 'd'.*(\['price'\]|isoformat)"):
        store.put_all([("ok", {"x": 1}), ("d", {"price": bad})])
    assert store.get("ok") is None and store.get("d") is None  # nothing written


async def test_kvstore_async(aconfig: RedisAgentConfig) -> None:
    store = RedisKVStore(aconfig)
    await store.aput("a", {"x": 1})
    await store.aput_all([("b", {"x": 2})], collection="c")
    assert await store.aget("a") == {"x": 1}
    assert await store.aget_all(collection="c") == {"b": {"x": 2}}
    assert await store.adelete("b", collection="c") is True


def test_ingestion_cache_in_redis(config: RedisAgentConfig) -> None:
    cache = IngestionCache(cache=RedisKVStore(config), collection="ingest")
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=8)], cache=cache
    )
    docs = [Document(text="Redis is fast. " * 20, id_="d1")]
    nodes = pipeline.run(documents=docs)
    again = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=8)],
        cache=IngestionCache(cache=RedisKVStore(config), collection="ingest"),
    ).run(documents=docs)
    assert [n.text for n in again] == [n.text for n in nodes]
    assert RedisKVStore(config).get_all(collection="ingest")  # stored in Redis


def test_stream_replay_gives_what_the_first_stream_gave(config: RedisAgentConfig) -> None:
    # MockLLM's chunks carry a text that lags their delta; consumers (streaming query
    # engines) join the deltas: the replay must give the same words, not one fewer
    llm = RedisCacheLLM(MockLLM(max_tokens=5), ExactCache(config))
    first = list(llm.stream_complete("p"))
    replay = list(llm.stream_complete("p"))
    assert "".join(r.delta or "" for r in replay) == "".join(r.delta or "" for r in first)
    assert replay[-1].text == "".join(r.delta or "" for r in first)
    messages = [ChatMessage(role="user", content="q")]
    chat = list(llm.stream_chat(messages))
    chat_replay = list(llm.stream_chat(messages))
    joined = "".join(r.delta or "" for r in chat)
    assert "".join(r.delta or "" for r in chat_replay) == joined
    assert chat_replay[-1].message.content == joined


async def test_async_stream_replay_gives_what_the_first_stream_gave(
    aconfig: RedisAgentConfig,
) -> None:
    llm = RedisCacheLLM(MockLLM(max_tokens=5), ExactCache(aconfig))
    first = [r async for r in await llm.astream_complete("p")]
    replay = [r async for r in await llm.astream_complete("p")]
    assert "".join(r.delta or "" for r in replay) == "".join(r.delta or "" for r in first)


def test_semantic_key_keeps_images_and_tool_calls_apart(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    from llama_index.core.base.llms.types import ImageBlock, TextBlock

    inner = CountingLLM()
    llm = RedisCacheLLM(inner, SemanticCache(config, embedder=toy_embedder))

    def ask(image: bytes) -> ChatMessage:
        return ChatMessage(
            role="user", blocks=[TextBlock(text="What is in this image?"), ImageBlock(image=image)]
        )

    assert llm.chat([ask(b"cat pixels")]).message.content == "chat 1"
    assert llm.chat([ask(b"dog pixels")]).message.content == "chat 2"  # another image
    assert llm.chat([ask(b"cat pixels")]).message.content == "chat 1"

    def turn(city: str) -> list[ChatMessage]:
        call = {"id": "c1", "name": "weather", "arguments": f'{{"city": "{city}"}}'}
        return [
            ChatMessage(role="user", content="What's the weather?"),
            ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]}),
            ChatMessage(role="tool", content="sunny"),
        ]

    assert llm.chat(turn("Paris")).message.content == "chat 3"
    assert llm.chat(turn("Lima")).message.content == "chat 4"


@pytest.mark.parametrize("semantic", [False, True], ids=["exact", "semantic"])
def test_a_file_block_is_keyed_by_the_file_it_sends_not_its_path(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, tmp_path: Any, semantic: bool
) -> None:
    # review 18: an ImageBlock(path=...) keyed on its path alone, so another picture
    # saved at the same path (an upload folder) was served the first picture's answer
    from llama_index.core.base.llms.types import ImageBlock, TextBlock

    cache = SemanticCache(config, embedder=toy_embedder) if semantic else ExactCache(config)
    llm = RedisCacheLLM(CountingLLM(), cache)
    upload = tmp_path / "upload.png"

    def ask() -> list[ChatMessage]:
        image = ImageBlock(path=upload, image_mimetype="image/png")
        return [ChatMessage(role="user", blocks=[TextBlock(text="What animal?"), image])]

    upload.write_bytes(b"cat pixels")
    assert llm.chat(ask()).message.content == "chat 1"
    assert llm.chat(ask()).message.content == "chat 1"  # the same file: a hit
    upload.write_bytes(b"dog pixels")
    assert llm.chat(ask()).message.content == "chat 2"
    gone = ask()
    upload.unlink()  # a file that cannot be read: the model is asked, nothing is cached
    assert llm.chat(gone).message.content == "chat 3"
    assert llm.chat(gone).message.content == "chat 4"


def test_an_async_call_reads_its_files_off_the_event_loop(
    config: RedisAgentConfig, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block sent by path is keyed by the SHA-256 of its file: the async methods read
    it in a thread (on the loop, a large video stalled every other request), with the
    same key as the sync methods (one's answer is the other's hit)."""
    import threading

    from llama_index.core.base.llms.types import ImageBlock, TextBlock

    from llamaindex_redis_agent import llm as module

    upload = tmp_path / "clip.png"
    upload.write_bytes(b"cat pixels" * 100_000)
    readers: list[int] = []

    def watched_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        if str(path) == str(upload):
            readers.append(threading.get_ident())
        return open(path, *args, **kwargs)

    monkeypatch.setattr(module, "open", watched_open, raising=False)
    llm = RedisCacheLLM(CountingLLM(), ExactCache(config))
    image = ImageBlock(path=upload, image_mimetype="image/png")
    messages = [ChatMessage(role="user", blocks=[TextBlock(text="What animal?"), image])]

    async def ask() -> tuple[str | None, int]:
        response = await llm.achat(messages)
        return response.message.content, threading.get_ident()

    content, loop_thread = asyncio.run(ask())
    assert content == "chat 1"
    assert readers and loop_thread not in readers  # hashed in a worker thread
    assert llm.chat(messages).message.content == "chat 1"  # the same key: a sync hit
    upload.write_bytes(b"dog pixels")
    assert asyncio.run(ask())[0] == "chat 2"  # another file: another key
    upload.unlink()  # unreadable: the model is asked, uncached
    assert asyncio.run(ask())[0] == "chat 3"
    assert asyncio.run(ask())[0] == "chat 4"


def test_a_nan_or_an_infinity_in_the_call_kwargs_is_keyed_apart_from_none(
    config: RedisAgentConfig,
) -> None:
    """JSON writes NaN and infinities as null, so temperature=NaN and temperature=None
    shared one key and each was served the other's answer. They are keyed distinctly
    (not refused: a logit bias of -inf is a real setting, it bans a token); a scope
    without them is unchanged."""
    from redis_agent_core.cache.entry import make_scope

    llm = RedisCacheLLM(CountingLLM(), ExactCache(config))
    messages = [ChatMessage(role="user", content="Pick a number")]
    nan, inf = float("nan"), float("inf")
    calls = [
        {"temperature": None},
        {"temperature": nan},
        {"temperature": inf},
        {"temperature": -inf},
        {"temperature": "NaN"},
        {"logit_bias": {"42": None}},
        {"logit_bias": {"42": -inf}},
    ]
    for n, kwargs in enumerate(calls, start=1):
        assert llm.chat(messages, **kwargs).message.content == f"chat {n}", kwargs
    for n, kwargs in enumerate(calls, start=1):  # each its own answer, again: hits
        assert llm.chat(messages, **kwargs).message.content == f"chat {n}", kwargs
    assert llm.complete("Pick", temperature=nan).text != llm.complete("Pick", temperature=None).text
    # a scope holding no NaN or infinity is the one it always was (entries stay reachable)
    assert make_scope({"model": "m", "t": None}) == "8556e9bea421bc524f0ac8f69d42a800"


def test_a_structured_output_class_in_the_call_kwargs_is_keyed_by_its_schema(
    config: RedisAgentConfig,
) -> None:
    # review 18: call kwargs were keyed by repr(): response_format=Answer was
    # "<class '...Answer'>" whatever its fields, so the class redefined with another
    # field (a notebook cell run again) was served the old schema's answer
    llm = RedisCacheLLM(CountingLLM(), ExactCache(config))
    messages = [ChatMessage(role="user", content="Describe Paris")]

    def answer_class(**fields: Any) -> type[BaseModel]:
        return type("Answer", (BaseModel,), {"__annotations__": fields, "__module__": __name__})

    first = answer_class(city=str)
    assert llm.chat(messages, response_format=first).message.content == "chat 1"
    again = answer_class(city=str)  # the same schema, another class object: a hit
    assert llm.chat(messages, response_format=again).message.content == "chat 1"
    more = answer_class(city=str, population=int)
    assert llm.chat(messages, response_format=more).message.content == "chat 2"
    # an object with no schema stays keyed by its repr: (its address) a miss, not a hit
    assert llm.chat(messages, response_format=object()).message.content == "chat 3"


def test_semantic_key_keeps_what_else_a_message_sends_the_model(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # review 13: additional_kwargs (OpenAI's "name" goes there) were left out of the
    # key, so "Who am I?" from alice was served to bob
    inner = CountingLLM()
    llm = RedisCacheLLM(inner, SemanticCache(config, embedder=toy_embedder, verifier=None))

    def ask(**kwargs: Any) -> list[ChatMessage]:
        return [
            ChatMessage(role="system", content="Greet the user by name."),
            ChatMessage(role="user", content="Who am I?", additional_kwargs=kwargs),
        ]

    assert llm.chat(ask(name="alice")).message.content == "chat 1"
    assert llm.chat(ask(name="alice")).message.content == "chat 1"  # hit
    assert llm.chat(ask(name="bob")).message.content == "chat 2"
    assert llm.chat(ask()).message.content == "chat 3"
    # a tool message's call id changes run to run and never changes the answer
    result = [
        *ask(),
        ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "a"}),
    ]
    assert llm.chat(result).message.content == "chat 4"
    result[-1] = ChatMessage(role="tool", content="sunny", additional_kwargs={"tool_call_id": "b"})
    assert llm.chat(result).message.content == "chat 4"


def test_semantic_key_keeps_one_message_apart_from_two_it_reads_like(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # review 15: a conversation was embedded as "role: content" lines, so one message
    # "a\nuser: b" (or one whose text reads as a whole conversation) had the text of
    # two messages: an identical text, served at distance 0 to another model input
    inner = CountingLLM()
    llm = RedisCacheLLM(inner, SemanticCache(config, embedder=toy_embedder, verifier=None))
    system = ChatMessage(role="system", content="Be terse.")
    two = [
        system,
        ChatMessage(role="user", content="I am Bob."),
        ChatMessage(role="user", content="Name?"),
    ]
    assert llm.chat(two).message.content == "chat 1"
    assert llm.chat(two).message.content == "chat 1"  # hit
    one = [system, ChatMessage(role="user", content="I am Bob.\nuser: Name?")]
    assert llm.chat(one).message.content == "chat 2"
    alone = [ChatMessage(role="user", content="system: Be terse.\nuser: I am Bob.\nuser: Name?")]
    assert llm.chat(alone).message.content == "chat 3"


def test_an_unknown_keyword_is_refused_not_dropped(config: RedisAgentConfig) -> None:
    # review 15: pydantic dropped unknown keywords, so filter= (for filters=) built a
    # cache without the tenant partition: acme's answer was served to globex
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'filter': pass filters="):
        RedisCacheLLM(CountingLLM(), ExactCache(config), filter={"tenant": "acme"})
    with pytest.raises(TypeError, match=r"'distance_threshold': set it on the cache"):
        RedisCacheLLM(CountingLLM(), ExactCache(config), distance_threshold=0.1)
    with pytest.raises(ConfigError, match="cache must be a core ExactCache or SemanticCache"):
        RedisCacheLLM(CountingLLM(), "redis://localhost")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unexpected keyword argument 'batch_size'"):
        MiniLMEmbedding(CallableEmbedder(lambda t: [[1.0]] * len(t), name="x"), batch_size=8)
    # its own fields are still taken
    llm = RedisCacheLLM(CountingLLM(), ExactCache(config), system_prompt="Be brief.")
    assert llm.system_prompt == "Be brief."


class _Answer(BaseModel):
    text: str


class _Other(BaseModel):
    number: int


_ANSWERS = itertools.count(1)


class _SettingsLLM(CustomLLM):
    """An LLM with a dict setting that may hold non-JSON values (a response format);
    each call's answer is new, across instances."""

    settings: dict[str, Any] = Field(default_factory=dict)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="settings")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=f"answer {next(_ANSWERS)}")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        yield self.complete(prompt, formatted, **kwargs)


def test_scope_keeps_the_plain_parts_of_a_setting_that_holds_an_object(
    config: RedisAgentConfig,
) -> None:
    # review 13: a field holding one non-JSON value was left out of the scope whole, so
    # {"seed": 2, ...} was served {"seed": 1, ...}'s answer
    cache = ExactCache(config)

    def ask(**settings: Any) -> str:
        return RedisCacheLLM(_SettingsLLM(settings=settings), cache).complete("Pick one").text

    first = ask(seed=1, response_format=_Answer)
    assert ask(seed=1, response_format=_Answer) == first  # hit
    assert ask(seed=2, response_format=_Answer) != first
    assert ask(seed=1, response_format=_Other) != first  # another schema
    assert ask(seed=1, response_format=_Answer(text="x")) != first
    assert ask(seed=1, response_format=_Answer(text="x")) == ask(
        seed=1, response_format=_Answer(text="x")
    )


async def test_kvstore_takes_the_peers_connection_arguments(
    aconfig: RedisAgentConfig, redis_url: str, namespace: str
) -> None:
    """llama-index-storage-kvstore-redis's arguments (code written for it got a TypeError
    here); a decode_responses=True client, whose str keys broke the peer's get_all
    (run-llama/llama_index#22115), works."""
    decoding = redis.Redis.from_url(redis_url, decode_responses=True)
    adecoding = aredis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisKVStore(aconfig, redis_client=decoding, async_redis_client=adecoding)
    store.put("a:1", {"x": 1})
    await store.aput("b", {"y": [1, 2]})
    both = {"a:1": {"x": 1}, "b": {"y": [1, 2]}}
    assert store.get_all() == both and await store.aget_all() == both
    assert RedisKVStore.from_redis_client(decoding, config=aconfig).get("a:1") == {"x": 1}
    by_uri = RedisKVStore(redis_url, name=f"{namespace}-kv")  # the peer's first argument
    by_uri.put("k", {"z": 0})
    assert RedisKVStore(redis_uri=redis_url, name=f"{namespace}-kv").get_all() == {"k": {"z": 0}}
    assert by_uri.delete("k")
    with pytest.raises(ConfigError, match="not both"):
        RedisKVStore(store=store.core, redis_client=decoding)
    decoding.close()
    await adecoding.aclose()


async def test_semantic_chat_never_serves_another_system_prompts_answer(
    config: RedisAgentConfig,
) -> None:
    # review 24: a system prompt was only embedded, so an answer written under "You
    # are a pirate." was served under another system prompt (with MiniLM and the
    # default guards too); here an embedder that reads only the question
    last_line = CallableEmbedder(
        lambda texts: [toy_vector(t.rsplit("\n", 1)[-1]) for t in texts], name="last", dims=16
    )
    llm = RedisCacheLLM(CountingLLM(), SemanticCache(config, embedder=last_line, verifier=None))

    def ask(system: str, role: str = "system") -> list[ChatMessage]:
        return [
            ChatMessage(role=role, content=system),
            ChatMessage(role="user", content="What is 2+2?"),
        ]

    assert llm.chat(ask("You are a pirate.")).message.content == "chat 1"
    assert llm.chat(ask("You are a pirate.")).message.content == "chat 1"  # hit
    assert llm.chat(ask("You are a helpful assistant.")).message.content == "chat 2"
    assert (await llm.achat(ask("Answer in French.", "developer"))).message.content == "chat 3"


class AnswerLLM(CallCountingLLM):
    """Gives the answer it is set to, as chat, completion and their streams (one chunk)."""

    _answer: Any = PrivateAttr(default=None)
    model: ClassVar[str] = "fixed"

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        self._calls += 1
        return self._answer

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        yield self.complete(prompt, formatted, **kwargs)

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
        self._calls += 1
        return self._answer

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
        yield self.chat(messages, **kwargs)


def _reply(**message: Any) -> ChatResponse:
    return ChatResponse(message=ChatMessage(role="assistant", **message))


def _text_none() -> CompletionResponse:
    response = CompletionResponse(text="")
    response.text = None  # type: ignore[assignment]  # no validation on assignment
    return response


@pytest.mark.parametrize(
    "answer",
    [
        CompletionResponse(text=""),
        CompletionResponse(text=" \n"),
        _text_none(),
        _reply(content=""),
        _reply(content=None),
        _reply(blocks=[ThinkingBlock(content="the user wants...")]),
    ],
    ids=["empty", "blank", "text-none", "chat-empty", "chat-none", "thinking-only"],
)
async def test_empty_answers_are_returned_not_cached(
    aconfig: RedisAgentConfig, answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # review 25 (as LangChain's update in 24): an empty answer (a content filter, a token
    # limit spent on reasoning) was served from the cache until it expired, and a text
    # that was not a str was stored, then raised ValidationError on every later call
    inner = AnswerLLM()
    inner._answer = answer
    llm = RedisCacheLLM(inner, ExactCache(aconfig))
    messages = [ChatMessage(role="user", content="q")]
    with caplog.at_level("WARNING", logger="llamaindex_redis_agent.llm"):
        for _ in range(2):
            if isinstance(answer, ChatResponse):
                assert llm.chat(messages).message.blocks == answer.message.blocks
                assert (await llm.achat(messages)).message.blocks == answer.message.blocks
                assert [r.message.blocks for r in llm.stream_chat(messages)][-1] == (
                    answer.message.blocks
                )
            else:
                assert llm.complete("q").text == answer.text
                assert (await llm.acomplete("q")).text == answer.text
                assert [r.text for r in llm.stream_complete("q")][-1] == answer.text
    assert inner.calls == 6  # each call asked the model
    assert "response not cached" in caplog.text


@pytest.mark.parametrize("answer", [{"text": "a dict"}, None])
def test_inner_llm_giving_no_response_raises_config_error(
    config: RedisAgentConfig, answer: Any
) -> None:
    # it raised AttributeError ('dict' object has no attribute 'text') from the cache
    inner = AnswerLLM()
    inner._answer = answer
    llm = RedisCacheLLM(inner, ExactCache(config))
    with pytest.raises(ConfigError, match=r"returned a (dict|NoneType) where LlamaIndex expects"):
        llm.complete("q")
    with pytest.raises(ConfigError, match="expects a ChatResponse"):
        llm.chat([ChatMessage(role="user", content="q")])
    assert llm.cache.stats().entries == 0


def test_unbuildable_entries_are_misses_tool_calls_are_hits(config: RedisAgentConfig) -> None:
    # an entry written before the checks above (or by hand) raised ValidationError on
    # every call until it expired; now it is a logged miss and the model answers
    inner = AnswerLLM()
    inner._answer = CompletionResponse(text="fresh")
    llm = RedisCacheLLM(inner, ExactCache(config))
    for payload in ('{"text": null}', '{"text": ""}'):
        llm.cache.update(*llm._complete_key("q", False, {}), payload)
        assert llm.complete("q").text == "fresh"
    messages = [ChatMessage(role="user", content="q")]
    for message in ({"role": 5}, {"role": "assistant", "blocks": []}):
        text, scope = llm._chat_key(messages, {}, [])  # type: ignore[misc]
        llm.cache.update(text, scope, orjson.dumps({"message": message}).decode())
        inner._answer = _reply(content="fresh")
        assert llm.chat(messages).message.content == "fresh"
    assert inner.calls == 4
    # an answer that is only a tool call is an answer: cached and served
    call = ToolCallBlock(tool_call_id="c1", tool_name="lookup", tool_kwargs={"id": 7})
    for i, answer in enumerate(
        [
            _reply(blocks=[call]),
            _reply(content=None, additional_kwargs={"tool_calls": [{"id": "c1", "name": "f"}]}),
        ]
    ):
        inner._answer = answer
        asked = [ChatMessage(role="user", content=f"call {i}")]
        assert llm.chat(asked) == answer
        hit = llm.chat(asked)
        assert hit.additional_kwargs["cache_hit"] is True and hit.message == answer.message
    # a completion holding tool calls only (a chat answer turned into one keeps them)
    inner._answer = CompletionResponse(text="", additional_kwargs={"tool_calls": [{"id": "c"}]})
    assert llm.complete("call").text == ""
    assert llm.complete("call").additional_kwargs == {
        "tool_calls": [{"id": "c"}],
        "cache_hit": True,
    }
    assert inner.calls == 7


class TextStreamingLLM(CallCountingLLM):
    """Streams plain strs instead of responses (its stream methods undecorated)."""

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="ab")

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        yield from ("a", "b")

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
        yield from ("a", "b")

    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        async def gen() -> Any:
            for piece in ("a", "b"):
                yield piece

        return gen()

    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> Any:
        return await self.astream_complete("")


async def test_a_stream_of_strs_is_a_config_error_naming_the_response_type(
    aconfig: RedisAgentConfig,
) -> None:
    """left26: a stream yielding str failed inside the wrapper with a bare
    AttributeError ('str' object has no attribute 'delta'). An inner LLM whose stream
    method LlamaIndex's callback decorator wraps fails in LlamaIndex before the cache
    sees a chunk (a pydantic ValidationError): docs/cache.md."""
    cache = ExactCache(aconfig)
    llm = RedisCacheLLM(TextStreamingLLM(), cache)
    messages = [ChatMessage(role="user", content="q")]
    calls = {
        "stream_complete": lambda: list(llm.stream_complete("p")),
        "stream_chat": lambda: list(llm.stream_chat(messages)),
    }
    for method, call in calls.items():
        with pytest.raises(ConfigError, match=rf"TextStreamingLLM\.{method}\(\) yielded a str"):
            call()
    with pytest.raises(ConfigError, match=r"astream_complete\(\) yielded a str.*CompletionResp"):
        [r async for r in await llm.astream_complete("p")]
    with pytest.raises(ConfigError, match=r"astream_chat\(\) yielded a str, not a ChatResponse"):
        [r async for r in await llm.astream_chat(messages)]
    assert await cache.alookup(*llm._complete_key("p", False, {})) is None  # nothing cached


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _multiply(a: int, b: int) -> int:
    """Multiply two numbers."""
    return a * b


async def test_function_calling_agents_run_on_the_cache_and_tools_are_in_its_scope(
    aconfig: RedisAgentConfig,
) -> None:
    # RedisCacheLLM passed on the inner LLM's is_function_calling_model=True but had no
    # chat_with_tools: a FunctionAgent (or structured_predict) raised AttributeError
    from llama_index.core.agent.workflow import FunctionAgent
    from llama_index.core.base.llms.types import ToolCallBlock
    from llama_index.core.llms.mock import MockFunctionCallingLLM
    from llama_index.core.tools import FunctionTool

    from redis_agent_core.errors import CapabilityError

    calls: list[list[str]] = []

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        calls.append([t.metadata.name for t in kwargs.get("tools") or ()])
        if any(m.role.value == "tool" for m in messages):
            return ChatMessage(role="assistant", content="3")
        block = ToolCallBlock(tool_call_id="c1", tool_name="_add", tool_kwargs={"a": 1, "b": 2})
        return ChatMessage(role="assistant", blocks=[block])

    inner = MockFunctionCallingLLM(response_generator=respond)
    llm = RedisCacheLLM(inner, ExactCache(aconfig))
    add, multiply = FunctionTool.from_defaults(_add), FunctionTool.from_defaults(_multiply)
    first = await llm.achat_with_tools([add], user_msg="add 1 and 2")
    again = llm.chat_with_tools([add], user_msg="add 1 and 2")
    assert calls == [["_add"]]  # the second from the cache
    assert again.additional_kwargs.get("cache_hit") is True
    selected = llm.get_tool_calls_from_response(again)
    assert selected == inner.get_tool_calls_from_response(first)
    assert [(s.tool_name, s.tool_kwargs) for s in selected] == [("_add", {"a": 1, "b": 2})]
    llm.chat_with_tools([multiply], user_msg="add 1 and 2")  # other tools: another input
    assert calls == [["_add"], ["_multiply"]]
    agent = FunctionAgent(tools=[add], llm=llm)
    assert str(await agent.run("add 1 and 2")) == "3"
    from llama_index.core.prompts import PromptTemplate

    class Sum(BaseModel):
        a: int = 0
        b: int = 0

    plain = RedisCacheLLM(MockFunctionCallingLLM(), ExactCache(aconfig))
    assert plain.structured_predict(Sum, PromptTemplate("add {x}"), x="1 and 2") == Sum()
    with pytest.raises(CapabilityError, match="does not call tools"):
        RedisCacheLLM(MockLLM(), ExactCache(aconfig)).chat_with_tools([add], user_msg="x")


class _PlainAnswerLLM(CallCountingLLM):
    """A plain (not function-calling) LLM answering in text, as a CodeActAgent needs."""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self._calls += 1
        return CompletionResponse(text="It is 3.")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
        self._calls += 1
        yield CompletionResponse(text="It is 3.", delta="It is 3.")


@pytest.mark.parametrize("streaming", [False, True])
async def test_code_act_agent_runs_on_the_cache_over_a_plain_llm(
    aconfig: RedisAgentConfig, streaming: bool
) -> None:
    # CodeActAgent reads an LLM's tool calls when it is a FunctionCallingLLM (which
    # RedisCacheLLM now always is): over a plain LLM that raised CapabilityError at the
    # first step, where main's RedisCacheLLM ran the agent
    from llama_index.core.agent.workflow import CodeActAgent

    inner = _PlainAnswerLLM()
    llm = RedisCacheLLM(inner, ExactCache(aconfig))
    agent = CodeActAgent(code_execute_fn=lambda code: {}, llm=llm, streaming=streaming)
    assert str(await agent.run("add 1 and 2")) == "It is 3."
    assert str(await agent.run("add 1 and 2")) == "It is 3."
    assert inner.calls == 1  # the second run from the cache
