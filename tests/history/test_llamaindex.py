"""LlamaIndex RedisChatStore (BaseChatStore) and RedisAsyncChatStore (AsyncDBChatStore)."""

from __future__ import annotations

import datetime

import pytest
import redis
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.storage.chat_store.base_db import MessageStatus

from llamaindex_redis_agent import RedisAsyncChatStore, RedisChatStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError


def msg(text: str, role: str = "user") -> ChatMessage:
    return ChatMessage(role=role, content=text)


def texts(messages: list[ChatMessage]) -> list[str | None]:
    return [m.content for m in messages]


def rich_messages() -> list[ChatMessage]:
    return [
        ChatMessage(role=MessageRole.SYSTEM, content="be brief"),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[TextBlock(text="part one"), TextBlock(text="part two")],
            additional_kwargs={"tool_calls": [{"id": "c1", "function": {"name": "f"}}]},
        ),
        ChatMessage(role=MessageRole.TOOL, content="42", additional_kwargs={"tool_call_id": "c1"}),
        ChatMessage(role=MessageRole.USER, content=""),
        ChatMessage(role=MessageRole.USER, content="ünïcödé 你好 🚀"),
        ChatMessage(role=MessageRole.USER, content="y" * (1 << 20)),
    ]


def test_base_chat_store_sync(config: RedisAgentConfig) -> None:
    store = RedisChatStore(config, ttl=60)
    rich = rich_messages()
    store.set_messages("k1", rich)
    assert store.get_messages("k1") == rich
    store.set_messages("k1", [msg("a"), msg("b"), msg("c"), msg("d")])
    store.add_message("k1", msg("e", "assistant"))
    assert texts(store.get_messages("k1")) == ["a", "b", "c", "d", "e"]
    removed = store.delete_message("k1", 1)
    assert removed is not None and removed.content == "b"
    # order kept (the llama-index-storage-chat-store-redis package reverses it here)
    assert texts(store.get_messages("k1")) == ["a", "c", "d", "e"]
    assert store.delete_message("k1", 42) is None
    last = store.delete_last_message("k1")
    assert last is not None and last.content == "e" and last.role == MessageRole.ASSISTANT
    assert texts(store.get_last_messages("k1", 2)) == ["c", "d"]
    store.add_message("k2", msg("x"))
    assert set(store.get_keys()) == {"k1", "k2"}
    deleted = store.delete_messages("k1")
    assert deleted is not None and texts(deleted) == ["a", "c", "d"]
    assert store.get_messages("k1") == [] and store.get_keys() == ["k2"]
    assert store.delete_last_message("nothing") is None


async def test_add_message_at_a_position_is_refused_naming_the_alternative(
    config: RedisAgentConfig,
) -> None:
    # SimpleChatStore.add_message(key, message, idx=1) inserts; here it was a TypeError
    store = RedisChatStore(config)
    store.add_messages("k", [msg("a"), msg("b")])
    with pytest.raises(ConfigError, match=r"idx=1.*set_messages"):
        store.add_message("k", msg("x"), idx=1)
    with pytest.raises(ConfigError, match=r"idx=0.*set_messages"):
        await store.async_add_message("k", msg("x"), idx=0)
    assert texts(store.get_messages("k")) == ["a", "b"]  # nothing written
    store.add_message("k", msg("c"), idx=None)
    await store.async_add_message("k", msg("d"), idx=None)
    assert texts(store.get_messages("k")) == ["a", "b", "c", "d"]


async def test_nan_or_infinity_in_a_message_is_refused_not_stored_as_null(
    aconfig: RedisAgentConfig,
) -> None:
    store, astore = RedisChatStore(aconfig), RedisAsyncChatStore(aconfig)
    store.add_message("k", msg("kept"))
    for bad in (float("nan"), float("inf"), [1.0, float("-inf")]):
        message = ChatMessage(role="user", content="x", additional_kwargs={"s": bad})
        with pytest.raises(ConfigError, match=r"message 0 \(user\) holds .*JSON cannot store"):
            store.add_message("k", message)
        with pytest.raises(ConfigError, match="JSON cannot store"):
            store.set_messages("k", [msg("a"), message])
        with pytest.raises(ConfigError, match="JSON cannot store"):
            await astore.add_message("k", message)
    assert texts(store.get_messages("k")) == ["kept"]
    # a null of the message's own still goes through
    store.add_message("k", ChatMessage(role="user", content="n", additional_kwargs={"s": None}))
    assert store.get_messages("k")[-1].additional_kwargs == {"s": None}


async def test_datetimes_and_lone_surrogates_are_refused_like_langchains(
    aconfig: RedisAgentConfig,
) -> None:
    # pydantic wrote a datetime in additional_kwargs as an ISO str (read back as a str)
    # and raised its own PydanticSerializationError for a lone surrogate
    store, astore = RedisChatStore(aconfig), RedisAsyncChatStore(aconfig)
    store.add_message("k", msg("kept"))
    when = [datetime.datetime(2024, 1, 1), datetime.date(2024, 1, 1), datetime.time(1)]
    dated = [ChatMessage(role="user", content="x", additional_kwargs={"at": [w]}) for w in when]
    for message in dated:
        with pytest.raises(ConfigError, match=r"message 0 \(user\).*isoformat"):
            store.add_message("k", message)
        with pytest.raises(ConfigError, match="isoformat"):
            await astore.add_message("k", message)
    broken = [
        msg("a\udcff"),
        ChatMessage(role="user", content="x", additional_kwargs={"s": "b\udcff"}),
        ChatMessage(role="user", blocks=[TextBlock(text="t"), TextBlock(text="\ud800")]),
    ]
    for message in broken:
        with pytest.raises(ConfigError, match="surrogate"):
            store.add_message("k", message)
        with pytest.raises(ConfigError, match="surrogate"):
            store.set_messages("k", [msg("a"), message])
        with pytest.raises(ConfigError, match="surrogate"):
            await astore.add_message("k", message)
    assert texts(store.get_messages("k")) == ["kept"]  # nothing written


async def test_base_chat_store_async(aconfig: RedisAgentConfig) -> None:
    store = RedisChatStore(aconfig)
    await store.aset_messages("k", [msg("a"), msg("b")])
    await store.async_add_message("k", msg("c"))
    await store.aadd_messages("k", [msg("d"), msg("e")])
    assert texts(await store.aget_messages("k")) == ["a", "b", "c", "d", "e"]
    assert (await store.adelete_message("k", 0)).content == "a"  # type: ignore[union-attr]
    assert (await store.adelete_last_message("k")).content == "e"  # type: ignore[union-attr]
    assert texts(await store.aget_last_messages("k", 1)) == ["d"]
    assert await store.aget_keys() == ["k"]
    assert texts(await store.adelete_messages("k")) == ["b", "c", "d"]  # type: ignore[arg-type]
    assert await store.aget_keys() == []


def test_chat_memory_buffer_and_chat_engine(config: RedisAgentConfig) -> None:
    from llama_index.core.chat_engine import SimpleChatEngine
    from llama_index.core.llms import MockLLM
    from llama_index.core.memory import ChatMemoryBuffer

    store = RedisChatStore(config)
    memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="user-1")
    engine = SimpleChatEngine.from_defaults(llm=MockLLM(max_tokens=8), memory=memory)
    engine.chat("Hello there")
    engine.chat("And again")
    stored = store.get_messages("user-1")
    assert [m.role for m in stored] == [MessageRole.USER, MessageRole.ASSISTANT] * 2
    assert stored[0].content == "Hello there" and stored[2].content == "And again"
    # a new buffer over the same store sees the conversation (it lives in Redis)
    again = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="user-1")
    assert again.get_all() == stored
    assert store.get_keys() == ["user-1"]


def test_corrupt_message_is_named_and_skippable(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    store = RedisChatStore(config)
    store.set_messages("k", [msg("a"), msg("b"), msg("c")])
    redis_client.lset(config.keys.history_messages("k"), 2, b'{"role": "alien", "blocks": []}')
    with pytest.raises(DataCorruptionError, match=r"'k'.*index 2"):
        store.get_messages("k")
    assert texts(RedisChatStore(config, on_corrupt="skip").get_messages("k")) == ["a", "b"]
    assert store.delete_message("k", 2) is None  # removed even though undecodable
    assert texts(store.get_messages("k")) == ["a", "b"]
    with pytest.raises(ConfigError, match="not a LlamaIndex ChatMessage"):
        store.add_message("k", "text")  # type: ignore[arg-type]
    assert texts(store.get_messages("k")) == ["a", "b"]


async def test_one_message_where_a_list_belongs_names_the_fix(
    config: RedisAgentConfig,
) -> None:
    store, db = RedisChatStore(config), RedisAsyncChatStore(config)
    # iterated, a ChatMessage is its (field, value) pairs: "message 0 is a tuple"
    with pytest.raises(ConfigError, match=r"got one ChatMessage; pass a list: \[message\]"):
        store.set_messages("k", msg("a"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"pass a list: \[message\]"):
        store.add_messages("k", msg("a"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"pass a list: \[message\]"):
        await db.add_messages("k", msg("a"))  # type: ignore[arg-type]
    assert store.get_messages("k") == []


async def test_async_db_chat_store_methods(aconfig: RedisAgentConfig) -> None:
    store = RedisAsyncChatStore(aconfig)
    await store.add_messages("k", [msg(str(i)) for i in range(6)])
    await store.add_message("k", msg("6"))
    assert await store.count_messages("k") == 7
    assert texts(await store.get_messages("k", limit=2, offset=1)) == ["1", "2"]
    assert texts(await store.archive_oldest_messages("k", 3)) == ["0", "1", "2"]
    assert texts(await store.get_messages("k")) == ["3", "4", "5", "6"]
    assert texts(await store.get_messages("k", status=MessageStatus.ARCHIVED)) == ["0", "1", "2"]
    all_messages = await store.get_messages("k", status=None)
    assert texts(all_messages) == [str(i) for i in range(7)]
    assert texts(await store.get_messages("k", status=None, offset=2, limit=3)) == ["2", "3", "4"]
    assert await store.count_messages("k", status=None) == 7
    assert await store.count_messages("k", status=MessageStatus.ARCHIVED) == 3
    assert texts(await store.delete_oldest_messages("k", 1)) == ["3"]
    assert (await store.delete_message("k", 1)).content == "5"  # type: ignore[union-attr]
    assert texts(await store.get_messages("k")) == ["4", "6"]
    await store.add_message("k", msg("old"), status=MessageStatus.ARCHIVED)
    assert await store.count_messages("k", status=MessageStatus.ARCHIVED) == 4
    await store.set_messages("k", [msg("x")], status=MessageStatus.ARCHIVED)
    assert texts(await store.get_messages("k", status=None)) == ["x", "4", "6"]
    await store.delete_messages("k", status=MessageStatus.ACTIVE)
    assert texts(await store.get_messages("k", status=None)) == ["x"]
    assert await store.get_keys() == ["k"]
    await store.delete_messages("k")
    assert await store.count_messages("k", status=None) == 0
    assert await store.get_keys() == []
    with pytest.raises(ConfigError, match="limit"):
        await store.get_messages("k", limit=-1)


async def test_memory_end_to_end_archives_and_keeps(aconfig: RedisAgentConfig) -> None:
    from llama_index.core.memory import Memory

    store = RedisAsyncChatStore(aconfig)
    memory = Memory.from_defaults(
        session_id="agent-1", chat_store=store, token_limit=60, token_flush_size=20
    )
    sent = []
    for i in range(12):
        sent += [msg(f"question number {i} about redis"), msg(f"answer number {i}", "assistant")]
        await memory.aput_messages(sent[-2:])
    active = await store.get_messages("agent-1")
    archived = await store.get_messages("agent-1", status=MessageStatus.ARCHIVED)
    assert archived, "Memory should have flushed the oldest messages to the archive"
    assert archived + active == sent  # nothing lost, order kept
    assert await memory.aget() == active
    assert await memory.aget_all() == sent
    again = Memory.from_defaults(session_id="agent-1", chat_store=RedisAsyncChatStore(aconfig))
    assert await again.aget_all() == sent  # state lives in Redis
    await memory.areset()
    assert await store.count_messages("agent-1", status=None) == 0


@pytest.mark.cluster
async def test_chat_stores_on_cluster(cluster_config: RedisAgentConfig) -> None:
    sync_store = RedisChatStore(cluster_config, ttl=60)
    for i in range(6):
        sync_store.set_messages(f"k{i}", rich_messages()[:3])
    assert sorted(sync_store.get_keys()) == [f"k{i}" for i in range(6)]
    assert sync_store.get_messages("k3") == rich_messages()[:3]
    store = RedisAsyncChatStore(cluster_config)
    await store.add_messages("a", [msg(str(i)) for i in range(5)])
    assert texts(await store.archive_oldest_messages("a", 2)) == ["0", "1"]
    assert texts(await store.get_messages("a", status=None)) == ["0", "1", "2", "3", "4"]
    await cluster_config.aclose()
