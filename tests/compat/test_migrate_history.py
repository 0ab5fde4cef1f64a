"""redis-agent migrate history: chat histories written by langchain-redis 0.2.6's
RedisChatMessageHistory (real package) and lists in llama-index-storage-chat-store-redis's
layout (ChatMessage JSON per chat key, written here as that package does) come back
through the pack's classes message for message; an interrupted run resumes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_redis_agent import RedisChatMessageHistory
from llamaindex_redis_agent import RedisChatStore
from redis_agent_core.cli import main
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError
from redis_agent_core.history import SessionStore
from redis_agent_core.migrate import migrate_history
from redis_agent_service.cluster import LocalCluster

langchain_redis = pytest.importorskip("langchain_redis", reason="extra bench: langchain-redis")

SESSIONS = {
    "alice": [SystemMessage("be brief"), HumanMessage("hi"), AIMessage("hello alice")],
    "bob": [HumanMessage("weather?"), AIMessage("sunny"), HumanMessage("thanks")],
    "carol": [HumanMessage("call the tool"),
              ToolMessage("42", tool_call_id="call-1"), AIMessage("it is 42")],
}  # fmt: skip


@pytest.fixture
def lc_peer(redis_url: str, namespace: str) -> str:
    index = f"{namespace}:idx:chat"
    # RESP2: langchain-redis 0.2.6 reads FT.INFO as a list (redis-py 8 defaults to RESP3)
    client = redis.Redis.from_url(redis_url, protocol=2)
    for session_id, messages in SESSIONS.items():
        peer = langchain_redis.RedisChatMessageHistory(
            session_id, redis_client=client, key_prefix=f"{namespace}:chat:", index_name=index
        )
        for message in messages:  # one by one: each gets its own timestamp
            peer.add_message(message)
    client.close()
    return index


def _contents(messages: list) -> list[tuple[str, object]]:
    return [(m.type, m.content) for m in messages]


def test_langchain_redis_histories_migrate(lc_peer: str, config: RedisAgentConfig) -> None:
    report = migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    assert report.verified and report.sessions == 3 and report.messages == 9
    for session_id, messages in SESSIONS.items():
        ours = RedisChatMessageHistory(session_id, config=config).messages
        assert _contents(ours) == _contents(messages)
    tool = RedisChatMessageHistory("carol", config=config).messages[1]
    assert isinstance(tool, ToolMessage) and tool.tool_call_id == "call-1"


def test_an_interrupted_history_migration_resumes(lc_peer: str, config: RedisAgentConfig) -> None:
    partial = migrate_history(peer="langchain-redis", index=lc_peer, config=config, max_sessions=1)
    assert not partial.verified and partial.messages == 3
    done = migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    assert done.resumed and done.verified and done.messages == 9
    assert len(RedisChatMessageHistory("alice", config=config)) == 3  # once, not twice


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"session_id": None, "timestamp": 2.0}, "session_id is None"),  # was session "None"
        ({"session_id": "dave", "timestamp": "soon"}, "timestamp is 'soon'"),  # a ValueError
    ],
)
def test_a_damaged_langchain_message_is_named_before_anything_is_migrated(
    lc_peer: str, config: RedisAgentConfig, redis_url: str, namespace: str,
    fields: dict, named: str,
) -> None:  # fmt: skip
    bad = f"{namespace}:chat:planted"
    client = redis.Redis.from_url(redis_url)
    doc = {"type": "human", "data": {"type": "human", "content": "x"}, **fields}
    client.execute_command("JSON.SET", bad, "$", json.dumps(doc))
    with pytest.raises(DataCorruptionError, match=f"{bad!r}.*{named}.*nothing was migrated"):
        migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    assert RedisChatMessageHistory("alice", config=config).messages == []
    assert RedisChatMessageHistory("None", config=config).messages == []
    client.delete(bad)
    client.close()
    assert migrate_history(peer="langchain-redis", index=lc_peer, config=config).verified


def test_a_source_that_holds_no_history_is_refused_not_verified(
    lc_peer: str, config: RedisAgentConfig, redis_url: str, namespace: str
) -> None:
    # review 29: another index of langchain-redis (its vector store, a typo'd name that
    # exists) migrated 0 sessions and reported verified: the user went on to retire the
    # old store. Documents under a prefix that are no message were passed over unsaid,
    # and one with a session id but no message's fields was migrated as a message
    from langchain_core.embeddings import DeterministicFakeEmbedding

    client = redis.Redis.from_url(redis_url, protocol=2)
    docs = f"{namespace}:docs"
    store = langchain_redis.RedisVectorStore(
        DeterministicFakeEmbedding(size=8), redis_client=client, index_name=docs,
        key_prefix=docs, storage_type="json",
    )  # fmt: skip
    store.add_texts(["hello", "world"])
    with pytest.raises(ConfigError, match=rf"{docs!r} is not a langchain-redis chat history"):
        migrate_history(peer="langchain-redis", index=docs, config=config)
    with pytest.raises(ConfigError, match=r"no langchain-redis chat message under.*its 2 JSON"):
        migrate_history(peer="langchain-redis", key_prefix=docs, config=config)
    bad = f"{namespace}:chat:order"
    client.execute_command("JSON.SET", bad, "$", json.dumps({"session_id": "x", "data": "paid"}))
    with pytest.raises(DataCorruptionError, match=rf"{bad!r}.*its data is 'paid'"):
        migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    client.delete(bad)
    client.close()
    assert migrate_history(peer="langchain-redis", index=lc_peer, config=config).verified


@pytest.fixture
def li_peer(redis_url: str, namespace: str) -> Iterator[str]:
    client = redis.Redis.from_url(redis_url)
    chats = {
        f"{namespace}-chat:u1": [ChatMessage(role="user", content="hi"),
                                 ChatMessage(role="assistant", content="hello")],
        f"{namespace}-chat:u2": [ChatMessage(role="user", content="bye")],
    }  # fmt: skip
    for key, messages in chats.items():
        client.rpush(key, *(m.model_dump_json() for m in messages))
    client.rpush(f"{namespace}-chat:queue", "not a chat message")
    try:
        yield f"{namespace}-chat:*"
    finally:
        client.delete(*chats, f"{namespace}-chat:queue")
        client.close()


def test_llama_index_chat_lists_migrate(
    li_peer: str, config: RedisAgentConfig, namespace: str
) -> None:
    with pytest.raises(ConfigError, match="keys="):
        migrate_history(peer="llama-index", config=config)
    report = migrate_history(peer="llama-index", keys=li_peer, config=config)
    assert report.verified and report.sessions == 2 and report.skipped_keys == 1
    store = RedisChatStore(config=config)
    assert [m.content for m in store.get_messages(f"{namespace}-chat:u1")] == ["hi", "hello"]
    assert sorted(store.get_keys()) == [f"{namespace}-chat:u1", f"{namespace}-chat:u2"]


def test_cli_history(
    lc_peer: str, redis_url: str, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["migrate", "history", "--from", "langchain-redis", "--index", lc_peer,
                 "--url", redis_url, "--namespace", namespace])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["messages"] == 9 and report["verified"]


def test_llama_index_chat_lists_migrate_from_every_cluster_node(
    redis_cluster: LocalCluster,
    cluster_config: RedisAgentConfig,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a cluster the peer's lists are spread over the primaries: each one is scanned
    (RedisCluster.scan answers a dict of cursors, which used to crash with a DataError)."""
    client = cluster_config.get_client()
    chats = [f"{namespace}-chat:u{i}" for i in range(12)]
    for key in chats:
        client.rpush(key, ChatMessage(role="user", content=key).model_dump_json())
    per_node = [len(node.redis_connection.keys(f"{namespace}-chat:*"))  # type: ignore[union-attr]
                for node in client.get_primaries()]  # type: ignore[union-attr]  # fmt: skip
    assert len([n for n in per_node if n]) > 1
    try:
        report = migrate_history(peer="llama-index", keys=f"{namespace}-chat:*",
                                 config=cluster_config)  # fmt: skip
        assert report.verified and report.sessions == len(chats)
        code = main(["migrate", "history", "--from", "llama-index", "--keys",
                     f"{namespace}-chat:*", "--url", redis_cluster.url,
                     "--namespace", namespace])  # fmt: skip
        assert code == 0 and json.loads(capsys.readouterr().out)["sessions"] == len(chats)
        store = RedisChatStore(config=cluster_config)
        assert sorted(store.get_keys()) == sorted(chats)
    finally:
        for key in chats:
            client.delete(key)


def test_a_history_under_another_historys_prefix_is_refused(
    redis_url: str, namespace: str, config: RedisAgentConfig
) -> None:
    # "chat:" and "chat:x:": a SCAN of the first read the second's messages too, and
    # the migration merged both histories' sessions into one namespace with no word
    client = redis.Redis.from_url(redis_url, protocol=2)
    for prefix, index, session in (("chat:", "a", "alice"), ("chat:x:", "b", "bob")):
        langchain_redis.RedisChatMessageHistory(
            session, redis_client=client, key_prefix=f"{namespace}:{prefix}",
            index_name=f"{namespace}:idx:{index}",
        ).add_message(HumanMessage(f"hi from {session}"))  # fmt: skip
    client.close()
    for source in ({"index": f"{namespace}:idx:a"}, {"key_prefix": f"{namespace}:chat:"}):
        with pytest.raises(ConfigError, match=f"under '{namespace}:chat:x:'.*idx:b.*Nothing was"):
            migrate_history(peer="langchain-redis", config=config, **source)
        assert RedisChatMessageHistory("alice", config=config).messages == []
    # the longer prefix alone holds nothing of the other's: it migrates
    report = migrate_history(peer="langchain-redis", config=config, index=f"{namespace}:idx:b")
    assert report.verified and report.sessions == 1
    assert _contents(RedisChatMessageHistory("bob", config=config).messages) == [
        ("human", "hi from bob")
    ]


def test_a_second_run_never_replaces_messages_written_since(
    lc_peer: str, config: RedisAgentConfig
) -> None:
    # review 24: each session is replaced whole, so running the migration again (to
    # catch messages the old application wrote meanwhile) replaced what the pack's
    # application wrote since the first run, and the report said verified
    assert migrate_history(peer="langchain-redis", index=lc_peer, config=config).verified
    history = RedisChatMessageHistory("bob", config=config)
    history.add_message(HumanMessage("written in the pack"))
    with pytest.raises(ConfigError, match=r"'bob' \(4 messages\).*Nothing was migrated"):
        migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    assert history.messages[-1].content == "written in the pack"
    assert len(RedisChatMessageHistory("alice", config=config)) == 3
    # a session holding the start of its source (the peer went on) is caught up
    history.clear()
    SessionStore(config).pop_last("alice")
    report = migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    assert report.verified and report.messages == 9
    assert _contents(RedisChatMessageHistory("alice", config=config).messages) == _contents(
        SESSIONS["alice"]
    )


def test_a_message_written_to_the_pack_during_the_run_is_never_replaced_away(
    lc_peer: str, config: RedisAgentConfig
) -> None:
    # review 29: the check above ran before the first write, then each session was
    # replaced whole: a message the live application wrote to a later session while the
    # run went on was replaced by the source's copy, and the run reported verified
    live = RedisChatMessageHistory("carol", config=config)

    def progress(copied: int, total: int) -> None:
        if copied == 3:  # alice's 3 messages are in; carol's turn has not come
            live.add_message(HumanMessage("written in the pack during the run"))

    with pytest.raises(ConfigError, match=r"'carol'.*left as it is.*\(2 in this run\)"):
        migrate_history(peer="langchain-redis", index=lc_peer, config=config, progress=progress)
    assert _contents(live.messages) == [("human", "written in the pack during the run")]
    assert _contents(RedisChatMessageHistory("bob", config=config).messages) == _contents(
        SESSIONS["bob"]
    )
    # the rerun resumes after bob and names carol before writing anything
    with pytest.raises(ConfigError, match=r"'carol' \(1 messages\).*Nothing was migrated"):
        migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    live.clear()
    report = migrate_history(peer="langchain-redis", index=lc_peer, config=config)
    assert report.resumed and report.verified and report.messages == 9
    assert _contents(live.messages) == _contents(SESSIONS["carol"])


async def test_replace_extending_writes_only_over_the_start_of_its_payloads(
    aconfig: RedisAgentConfig,
) -> None:
    store = SessionStore(aconfig)
    a, b, c = b'{"n": 1}', b'{"n": 2}', b'{"n": 3}'
    assert store.replace("s", [a, b], extending=True) == 2  # a new session
    assert await store.areplace("s", [a, b, c], extending=True) == 3  # its start is held
    assert store.replace("s", [a, b], extending=True) == -1  # it holds more
    assert await store.areplace("s", [a, c, b], extending=True) == -1  # it holds others
    assert store.read("s") == [a, b, c]
    assert store.replace("s", [c]) == 1  # a plain replace still replaces


def test_history_reads_go_in_pages_of_sessions(
    redis_url: str, namespace: str, config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # review 25: the pack's copy of each session was read (before) and counted (after)
    # in a round trip of its own: 2 x 2,000 for 2,000 sessions; now a pipeline per 100
    peer = redis.Redis.from_url(redis_url)
    chats = [f"{namespace}-chat:u{i:03}" for i in range(250)]
    pipe = peer.pipeline(transaction=False)
    for key in chats:
        pipe.rpush(key, ChatMessage(role="user", content=key).model_dump_json())
    pipe.execute()
    client = config.get_client()
    sent: list[str] = []
    one = client.execute_command

    def execute_command(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return one(*args, **options)

    monkeypatch.setattr(client, "execute_command", execute_command)
    try:
        report = migrate_history(peer="llama-index", keys=f"{namespace}-chat:*", config=config)
        assert report.verified and report.sessions == 250 and report.messages == 250
        assert [c for c in sent if c in ("LRANGE", "LLEN")] == []  # were 500
        # same results: a session of a later page that holds more than its source is named
        SessionStore(config).append(chats[230], [b'{"role": "user", "content": "new"}'])
        with pytest.raises(ConfigError, match=rf"1 session\(s\).*'{chats[230]}' \(2 messages"):
            migrate_history(peer="llama-index", keys=f"{namespace}-chat:*", config=config)
    finally:
        peer.delete(*chats)
        peer.close()
