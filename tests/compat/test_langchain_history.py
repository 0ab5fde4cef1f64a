"""Coming from langchain-redis: RedisChatMessageHistory built with its arguments
(redis_url=, redis_client=, key_prefix=) and used through its names (id, len(),
delete(), search_messages)."""

from __future__ import annotations

import pytest
import redis
from langchain_core.messages import AIMessage, HumanMessage

from langchain_redis_agent import RedisChatMessageHistory
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError

TURNS = [
    HumanMessage("Tell me about machine learning"),
    AIMessage("Machine learning is a subset of AI that learns from data."),
    HumanMessage("What are neural networks?"),
    AIMessage("Neural networks are layers of units; deep learning stacks many of them."),
    HumanMessage("And the weather in Paris?"),
]


@pytest.fixture
def history(redis_url: str, namespace: str) -> RedisChatMessageHistory:
    return RedisChatMessageHistory("user-1", redis_url=redis_url, key_prefix=f"{namespace}:")


def test_id_len_delete_and_keys_under_the_prefix(
    history: RedisChatMessageHistory, redis_client: redis.Redis, namespace: str
) -> None:
    assert history.id == "user-1" and len(history) == 0
    history.add_messages(TURNS)
    assert len(history) == 5 and history.messages == TURNS
    assert redis_client.keys(f"{namespace}:*"), "the session lives under the key prefix"
    history.delete()
    assert len(history) == 0 and history.messages == []


def test_search_messages_is_full_text_within_the_session(
    history: RedisChatMessageHistory, redis_url: str, namespace: str
) -> None:
    history.add_messages(TURNS)
    other = RedisChatMessageHistory("user-2", redis_url=redis_url, key_prefix=f"{namespace}:")
    other.add_messages([HumanMessage("learning to learn, learned learners")])
    found = history.search_messages("learning", limit=10)
    assert {r["content"] for r in found} == {
        TURNS[0].content, TURNS[1].content, TURNS[3].content,
    }  # fmt: skip
    assert all(r["type"] in ("human", "ai") for r in found)
    # both terms in both messages: the shorter one ranks first (BM25), any case
    found = history.search_messages("NEURAL network", limit=5)
    assert [r["content"] for r in found] == [TURNS[2].content, TURNS[3].content]
    assert len(history.search_messages("learning", limit=2)) == 2
    assert history.search_messages("", limit=5) == []
    assert history.search_messages("cheese", limit=5) == []
    with pytest.raises(ConfigError, match="limit"):
        history.search_messages("learning", limit=-1)


async def test_async_forms(history: RedisChatMessageHistory) -> None:
    await history.aadd_messages(TURNS)
    found = await history.asearch_messages("Paris weather")
    assert [r["content"] for r in found] == [TURNS[4].content]
    await history.adelete()
    assert await history.aget_messages() == []


def test_redis_client_and_shared_config(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        a = RedisChatMessageHistory("s", redis_client=client, key_prefix=f"{namespace}:")
        b = RedisChatMessageHistory("s", redis_client=client, key_prefix=f"{namespace}:")
        assert a.store.config is b.store.config  # one pool for histories built alike
        assert a.store.config.get_client() is client
        a.add_message(HumanMessage("hello"))
        assert [m.content for m in b.messages] == ["hello"]
    finally:
        client.close()


def test_bad_peer_arguments_raise(config: RedisAgentConfig) -> None:
    with pytest.raises(ConfigError, match="not both"):
        RedisChatMessageHistory("s", redis_url="redis://x", redis_client=redis.Redis())
    with pytest.raises(ConfigError, match="key_prefix"):
        RedisChatMessageHistory("s", key_prefix=":")


def test_any_key_prefix_keeps_sessions_apart(redis_url: str, namespace: str) -> None:
    """Prefixes that are no valid namespace (long, '@', inner ':') still work and stay
    apart; index_name/overwrite_index (langchain-redis's search index) change nothing."""
    prefixes = [f"{namespace}:" + "very_long_prefix_" * 10 + ":", f"{namespace}-x@y.z:",
                f"{namespace}:app:chat:"]  # fmt: skip
    histories = [
        RedisChatMessageHistory("same", redis_url=redis_url, key_prefix=p,
                                index_name="custom_chat_index", overwrite_index=True)
        for p in prefixes
    ]  # fmt: skip
    try:
        for i, history in enumerate(histories):
            history.add_message(HumanMessage(f"under prefix {i}"))
        assert [[m.content for m in h.messages] for h in histories] == [
            ["under prefix 0"],
            ["under prefix 1"],
            ["under prefix 2"],
        ]
        assert histories[0].redis_client.ping()
        assert histories[0].search_messages("prefix", limit=0) == []
    finally:
        for history in histories:
            history.delete()
