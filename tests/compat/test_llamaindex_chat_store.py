"""Coming from llama-index-storage-chat-store-redis: RedisChatStore built with its
arguments (redis_url=, redis_client=, aredis_client=, ttl=) keeps chats by key, in order,
sync and async, as ChatMemoryBuffer uses them."""

from __future__ import annotations

import redis
import redis.asyncio as aredis
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer

from llamaindex_redis_agent import RedisChatStore
from redis_agent_core.config import RedisAgentConfig

HI, HELLO, BYE = (ChatMessage(role="user", content="hi"),
                  ChatMessage(role="assistant", content="hello"),
                  ChatMessage(role="user", content="bye"))  # fmt: skip


def test_chat_store_by_url(redis_url: str, config: RedisAgentConfig) -> None:
    store = RedisChatStore(config, redis_url=redis_url)  # config: this test's namespace
    store.set_messages("u1", [HI, HELLO])
    store.add_message("u1", BYE)
    assert [m.content for m in store.get_messages("u1")] == ["hi", "hello", "bye"]
    assert store.delete_message("u1", 1) == HELLO  # the removed message, order kept
    assert store.delete_last_message("u1") == BYE
    assert [m.content for m in store.get_messages("u1")] == ["hi"]
    assert store.get_keys() == ["u1"]
    assert store.delete_messages("u1") == [HI] and store.get_messages("u1") == []


async def test_chat_store_with_clients(redis_url: str, aconfig: RedisAgentConfig) -> None:
    client, aclient = redis.Redis.from_url(redis_url), aredis.Redis.from_url(redis_url)
    try:
        store = RedisChatStore(aconfig, redis_client=client, aredis_client=aclient, ttl=60)
        await store.aset_messages("u2", [HI])
        await store.async_add_message("u2", HELLO)
        assert [m.content for m in await store.aget_messages("u2")] == ["hi", "hello"]
        assert [m.content for m in store.get_messages("u2")] == ["hi", "hello"]
        memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="u2")
        assert [m.content for m in memory.get_all()] == ["hi", "hello"]
    finally:
        client.close()
        await aclient.aclose()
