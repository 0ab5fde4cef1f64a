"""What langchain-redis users rely on (learned from its integration tests, written in
our words), through the peer-style constructors: redisvl filter expressions on a
metadata_schema store, MMR with filters, metadata round trips, keys; chat histories
scoped by session, any session id, any content."""

from __future__ import annotations

import math

import pytest
import redis
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from redisvl.query.filter import FilterExpression, Num, Tag, Text

from langchain_redis_agent import RedisChatMessageHistory, RedisVectorStore
from redis_agent_core.config import RedisAgentConfig


class Radians(Embeddings):
    """A number is an angle on the unit circle; any other text the first axis."""

    def embed_query(self, text: str) -> list[float]:
        try:
            angle = float(text)
        except ValueError:
            return [1.0, 0.0]
        return [math.cos(angle), math.sin(angle)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]


PEOPLE = [
    {"name": "joe", "num": 1, "val": "foo", "category": ["a", "b"]},
    {"name": "john", "num": 2, "val": "bar", "category": ["a", "c"]},
    {"name": "jane", "num": 3, "val": "baz", "category": ["b", "c", "a"]},
]
SCHEMA = [
    {"name": "name", "type": "tag"},
    {"name": "num", "type": "numeric"},
    {"name": "val", "type": "text"},
    {"name": "category", "type": "tag"},
]


@pytest.fixture
def people(config: RedisAgentConfig, namespace: str) -> RedisVectorStore:
    docs = [Document(page_content="foo", metadata=m) for m in PEOPLE]
    return RedisVectorStore.from_documents(
        docs, Radians(), config=config, index_name="people", key_prefix=f"{namespace}:p",
        metadata_schema=SCHEMA,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        (Text("val") == "foo", {"joe"}),
        (Text("val") % "ba*", {"john", "jane"}),
        (Num("num") > 2, {"jane"}),
        (Num("num") <= 2, {"joe", "john"}),
        (Num("num") != 2, {"joe", "jane"}),
        (Tag("category") == "b", {"joe", "jane"}),
        (Tag("category") == ["b", "c"], {"joe", "john", "jane"}),
        (Tag("name") == "JOHN", {"john"}),  # declared tags are case-insensitive
        ((Num("num") >= 2) & (Tag("category") == "b"), {"jane"}),
    ],
)
def test_redisvl_filter_expressions(
    people: RedisVectorStore, expression: FilterExpression, names: set[str]
) -> None:
    found = people.similarity_search("foo", k=3, filter=expression)
    assert {d.metadata["name"] for d in found} == names
    mmr = people.max_marginal_relevance_search("foo", k=3, fetch_k=5, filter=expression)
    assert {d.metadata["name"] for d in mmr} == names


def test_metadata_round_trips_with_its_types(people: RedisVectorStore) -> None:
    found = people.similarity_search("foo", k=3, filter=Tag("name") == "jane")
    assert found[0].metadata == PEOPLE[2]  # lists and numbers as given, not strings
    assert found[0].page_content == "foo" and found[0].id  # the pack sets Document.id


def test_nearest_first_with_distances(config: RedisAgentConfig) -> None:
    store = RedisVectorStore.from_texts(["0", "0.5", "1.5"], Radians(), config=config,
                                        index_name="angles", redis_url=None)  # fmt: skip
    scored = store.similarity_search_with_score("0.1", k=3)
    assert [d.page_content for d, _ in scored] == ["0", "0.5", "1.5"]
    assert scored[0][1] == pytest.approx(1 - math.cos(0.1), abs=1e-6)
    store.add_texts(["0"])  # the same text again is another document
    assert [d.page_content for d in store.similarity_search("0", k=2)] == ["0", "0"]


def test_custom_keys_name_the_redis_keys(
    config: RedisAgentConfig, namespace: str, redis_client: redis.Redis
) -> None:
    store, keys = RedisVectorStore.from_texts(
        ["1", "2"], Radians(), config=config, key_prefix=f"{namespace}:k",
        keys=["first", "second"], return_keys=True, index_name="keys",
    )  # fmt: skip
    assert keys == ["first", "second"]
    assert redis_client.exists(f"{namespace}:k:first", f"{namespace}:k:second") == 2
    store.delete(["first"])
    assert [d.id for d in store.get_by_ids(["first", "second"])] == ["second"]


@pytest.fixture
def history(config: RedisAgentConfig) -> RedisChatMessageHistory:
    return RedisChatMessageHistory(session_id="550e8400-e29b-41d4-a716-446655440000",
                                   config=config)  # fmt: skip


def test_history_order_types_and_length(history: RedisChatMessageHistory) -> None:
    turns = [SystemMessage("sys"), HumanMessage("Message 1"), AIMessage("Response 1")]
    for message in turns:
        history.add_message(message)
    assert [type(m) for m in history.messages] == [SystemMessage, HumanMessage, AIMessage]
    assert [m.content for m in history.messages] == ["sys", "Message 1", "Response 1"]
    assert len(history) == 3


def test_history_content_of_any_size_and_script(history: RedisChatMessageHistory) -> None:
    contents = ["", "x" * 100_000, "Hello 世界! 🌍 αβγ ñá", 'quotes " { } \\ @ | * :']
    history.add_messages([HumanMessage(c) for c in contents])
    assert [m.content for m in history.messages] == contents
    assert [r["content"] for r in history.search_messages("quotes")] == [contents[3]]
    assert history.search_messages("nonexistent") == []


def test_sessions_are_separate_and_shared_by_id(config: RedisAgentConfig) -> None:
    one = RedisChatMessageHistory("session_测试_🚀", config=config)
    two = RedisChatMessageHistory("session-2", config=config)
    one.add_message(HumanMessage("for one"))
    two.add_message(HumanMessage("for two"))
    RedisChatMessageHistory("session_测试_🚀", config=config).add_message(AIMessage("again"))
    assert [m.content for m in one.messages] == ["for one", "again"]
    one.clear()
    assert one.messages == [] and [m.content for m in two.messages] == ["for two"]


@pytest.mark.parametrize("session_id", ["", None])
def test_history_needs_a_session_id(session_id: object, config: RedisAgentConfig) -> None:
    with pytest.raises(ValueError):
        RedisChatMessageHistory(session_id=session_id, config=config)  # type: ignore[arg-type]


def test_ttl_is_set_on_the_session(config: RedisAgentConfig) -> None:
    history = RedisChatMessageHistory("short", config=config, ttl=60)
    history.add_message(HumanMessage("will expire"))
    info = history.info()
    assert info is not None and info.ttl is not None and 0 < info.ttl <= 60


def test_wildcard_tag_filter(config: RedisAgentConfig) -> None:
    store = RedisVectorStore(Radians(), config=config, index_name="shop",
                             metadata_schema=[{"name": "category", "type": "tag"}])  # fmt: skip
    store.add_texts(["1", "2", "3"], [{"category": "electronics"}, {"category": "Electrical"},
                                      {"category": "garden"}])  # fmt: skip
    found = store.similarity_search("1", k=5, filter=Tag("category") % "elec*")
    assert sorted(d.metadata["category"] for d in found) == ["Electrical", "electronics"]
