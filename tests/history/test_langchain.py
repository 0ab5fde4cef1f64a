"""LangChain RedisChatMessageHistory: fidelity, no I/O on build, async, chains."""

from __future__ import annotations

import datetime
import warnings

import pytest
import redis
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    ToolMessage,
    ToolMessageChunk,
)

from langchain_redis_agent import RedisChatMessageHistory
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError

NAN, INF = float("nan"), float("inf")

pytestmark = pytest.mark.filterwarnings("ignore:.*RunnableWithMessageHistory is deprecated")


def every_message_type() -> list[BaseMessage]:
    return [
        SystemMessage("You are terse.", id="sys-1"),
        HumanMessage("What's the weather in Paris?", name="ana", additional_kwargs={"x": 1}),
        AIMessage(
            "",
            tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "call_1"}],
            invalid_tool_calls=[
                {"name": "bad", "args": "{oops", "id": "call_2", "error": "bad json"}
            ],
            usage_metadata={
                "input_tokens": 12,
                "output_tokens": 7,
                "total_tokens": 19,
                "input_token_details": {"cache_read": 4},
            },
            response_metadata={"model_name": "gpt-x", "finish_reason": "tool_calls"},
            id="run-1",
        ),
        ToolMessage("18°C", tool_call_id="call_1", artifact={"raw": [1, 2]}, status="success"),
        FunctionMessage("42", name="calc"),
        ChatMessage("custom role text", role="critic"),
        AIMessage([{"type": "text", "text": "It is 18°C."}, {"type": "text", "text": "☀️"}]),
        AIMessageChunk(
            "partial",
            tool_call_chunks=[{"name": "f", "args": '{"a": 1}', "id": "c9", "index": 0}],
        ),
        HumanMessageChunk("chunk of human"),
        ToolMessageChunk("tool chunk", tool_call_id="c9"),
    ]


def test_every_message_type_round_trips_exactly(config: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=config)
    sent = every_message_type()
    history.add_messages(sent)
    got = history.messages
    assert got == sent
    assert [type(m) for m in got] == [type(m) for m in sent]
    ai = got[2]
    assert isinstance(ai, AIMessage)
    assert ai.tool_calls[0]["args"] == {"city": "Paris"}
    assert ai.usage_metadata is not None and ai.usage_metadata["total_tokens"] == 19
    assert ai.response_metadata["finish_reason"] == "tool_calls"


def test_big_unicode_and_empty_content(config: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=config)
    big = "x" * (1 << 20)
    sent = [HumanMessage(big), AIMessage("héllo wörld 你好 🚀 \u0000 \n\t\"'"), HumanMessage("")]
    history.add_messages(sent)
    assert history.messages == sent


def test_building_a_history_does_no_io_and_shares_the_pool(config: RedisAgentConfig) -> None:
    nowhere = RedisAgentConfig(url="redis://127.0.0.1:1", namespace="x")
    RedisChatMessageHistory("s", config=nowhere)  # would fail if it connected
    assert nowhere._sync is None  # not even a client object was built
    histories = [RedisChatMessageHistory(f"s{i}", config=config) for i in range(50)]
    for h in histories[:3]:
        h.add_user_message("hi")
    clients = {id(h.store.config.get_client()) for h in histories}
    assert clients == {id(config.get_client())}


def test_last_delete_clear_and_metadata(config: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=config, max_messages=4, ttl=60)
    for i in range(6):
        history.add_message(HumanMessage(f"m{i}"))
    assert [m.content for m in history.messages] == ["m2", "m3", "m4", "m5"]
    assert [m.content for m in history.last(2)] == ["m4", "m5"]
    removed = history.delete_message(1)
    assert removed is not None and removed.content == "m3"
    assert [m.content for m in history.messages] == ["m2", "m4", "m5"]
    history.update_metadata({"user_id": "u7", "preferences": {"units": "metric"}})
    info = history.info()
    assert info is not None and info.metadata["preferences"] == {"units": "metric"}
    assert info.message_count == 3
    history.clear()
    assert history.messages == [] and history.info() is None


async def test_native_async(aconfig: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=aconfig)
    await history.aadd_messages([HumanMessage("a"), AIMessage("b")])
    assert [m.content for m in await history.aget_messages()] == ["a", "b"]
    assert [m.content for m in await history.alast(1)] == ["b"]
    assert (await history.adelete_message(0)).content == "a"  # type: ignore[union-attr]
    await history.aupdate_metadata({"k": 1})
    assert (await history.ainfo()).metadata == {"k": 1}  # type: ignore[union-attr]
    await history.aclear()
    assert await history.aget_messages() == []


def test_corrupt_or_unknown_messages_name_session_and_index(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    history = RedisChatMessageHistory("sess-9", config=config)
    history.add_messages([HumanMessage("a"), AIMessage("b"), HumanMessage("c")])
    key = config.keys.history_messages("sess-9")
    redis_client.lset(key, 1, b"{not json")
    with pytest.raises(DataCorruptionError, match=r"'sess-9'.*index 1"):
        _ = history.messages
    redis_client.lset(key, 1, b'{"type": "alien", "data": {"content": "?"}}')
    with pytest.raises(DataCorruptionError, match=r"'sess-9'.*index 1"):
        _ = history.messages
    skipping = RedisChatMessageHistory("sess-9", config=config, on_corrupt="skip")
    assert [m.content for m in skipping.messages] == ["a", "c"]
    history.delete_message(1)
    assert [m.content for m in history.messages] == ["a", "c"]


def test_bad_input_is_rejected_and_stores_nothing(config: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=config)
    history.add_messages([HumanMessage("kept")])
    with pytest.raises(ConfigError, match="message 1"):
        history.add_messages([HumanMessage("x"), "not a message"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="JSON cannot store"):
        history.add_messages([HumanMessage("x", additional_kwargs={"obj": object()})])
    with pytest.raises(
        ConfigError, match=r"message 1 \(ai\) holds nan at \['data'\]\['additional_kwargs'\]\['s'\]"
    ):
        history.add_messages([HumanMessage("x"), AIMessage("y", additional_kwargs={"s": NAN})])
    with pytest.raises(ConfigError, match="JSON cannot store"):
        history.add_messages([AIMessage("y", response_metadata={"logprobs": [0.5, -INF]})])
    with pytest.raises(ConfigError, match="JSON cannot store"):
        history.update_metadata({"score": NAN})
    # a datetime read back as an ISO str (InMemoryChatMessageHistory keeps it)
    when = datetime.datetime(2024, 1, 1)
    with pytest.raises(ConfigError, match=r"message 0 \(ai\).*isoformat\(\)"):
        history.add_messages([AIMessage("y", response_metadata={"created": when})])
    with pytest.raises(ConfigError, match=r"isoformat\(\)"):
        history.update_metadata({"since": when.date()})
    assert [m.content for m in history.messages] == ["kept"]
    assert history.info() is not None and history.info().metadata == {}  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="n must be an int"):
        history.last(2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="metadata must be a mapping"):
        history.update_metadata(["x"])  # type: ignore[arg-type]
    assert [m.content for m in history.last(10**30)] == ["kept"]
    assert history.delete_message(10**30) is None
    with pytest.raises(ConfigError):
        RedisChatMessageHistory("", config=config)


async def test_one_message_where_a_list_belongs_names_the_fix(config: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("s", config=config)
    # iterated, a message is its (field, value) pairs: the error said "message 0 is a
    # tuple, not a LangChain BaseMessage", which the caller never passed
    for call in (history.add_messages, history.append_commands):
        with pytest.raises(ConfigError, match=r"got one HumanMessage; pass a list: \[message\]"):
            call(HumanMessage("x"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"got one AIMessage; pass a list"):
        await history.aadd_messages(AIMessage("y"))  # type: ignore[arg-type]
    assert history.messages == []


def test_runnable_with_message_history(config: RedisAgentConfig) -> None:
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_core.runnables.history import RunnableWithMessageHistory

    seen: list[int] = []

    class Recording(FakeMessagesListChatModel):
        def _generate(self, messages, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(len(messages))
            return super()._generate(messages, *args, **kwargs)

    model = Recording(responses=[AIMessage("Hi Ana!"), AIMessage("Your name is Ana.")])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{input}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | model,
        lambda session_id: RedisChatMessageHistory(session_id, config=config),
        input_messages_key="input",
        history_messages_key="history",
    )
    cfg = {"configurable": {"session_id": "chat-1"}}
    assert chain.invoke({"input": "I am Ana"}, config=cfg).content == "Hi Ana!"
    assert chain.invoke({"input": "Who am I?"}, config=cfg).content == "Your name is Ana."
    assert seen == [2, 4]  # the second call saw the first exchange from Redis
    stored = RedisChatMessageHistory("chat-1", config=config).messages
    assert [m.content for m in stored] == ["I am Ana", "Hi Ana!", "Who am I?", "Your name is Ana."]


async def test_runnable_with_message_history_async(aconfig: RedisAgentConfig) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langchain_core.runnables.history import RunnableWithMessageHistory

    chain = RunnableWithMessageHistory(
        FakeListChatModel(responses=["one", "two"]),
        lambda session_id: RedisChatMessageHistory(session_id, config=aconfig),
    )
    cfg = {"configurable": {"session_id": "chat-2"}}
    await chain.ainvoke("first", config=cfg)
    await chain.ainvoke("second", config=cfg)
    stored = await RedisChatMessageHistory("chat-2", config=aconfig).aget_messages()
    assert [m.content for m in stored] == ["first", "one", "second", "two"]


@pytest.mark.cluster
def test_history_on_cluster(cluster_config: RedisAgentConfig) -> None:
    sent = every_message_type()
    for i in range(6):
        history = RedisChatMessageHistory(f"c{i}", config=cluster_config, ttl=60)
        history.add_messages(sent)
        assert history.messages == sent
    RedisChatMessageHistory("c0", config=cluster_config).clear()
    assert RedisChatMessageHistory("c0", config=cluster_config).messages == []
