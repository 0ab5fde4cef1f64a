"""History under Redis faults (refused writes are typed, reads keep working, a lost
recall index is rebuilt) and the sessions index staying proportional to live sessions."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import numpy as np
import pytest
import redis

from langchain_redis_agent import RedisChatMessageHistory
from llamaindex_redis_agent import RedisChatStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import RedisAgentError, RedisUnavailableError, RedisWriteRefusedError
from redis_agent_core.history import SessionStore
from redis_agent_core.history.scripts import PRUNE_BATCH, PRUNE_EVERY
from tests.faults import FaultyRedis


@pytest.mark.parametrize("fault", ["oom", "readonly"])
def test_refused_append_is_typed_and_reads_still_work(
    faulty_redis: FaultyRedis, fault: str
) -> None:
    config = faulty_redis.config()
    store = SessionStore(config)
    store.append("s", [b'{"n":0}'])
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    with pytest.raises(RedisWriteRefusedError) as info:
        store.append("s", [b'{"n":1}'])
    assert info.value.cause == fault
    assert ("maxmemory" if fault == "oom" else "primary") in str(info.value)
    assert store.read("s") == [b'{"n":0}']  # reads are served meanwhile
    if fault == "oom":
        faulty_redis.free_memory()
    else:
        faulty_redis.make_primary()
    assert store.append("s", [b'{"n":1}']) == 2  # recovers without a new store
    config.close()


async def test_refused_async_append_is_typed(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    store = SessionStore(config)
    faulty_redis.fill_memory()
    with pytest.raises(RedisWriteRefusedError):
        await store.aappend("s", [b"{}"])
    await config.aclose()


def test_killed_server_is_unavailable_then_recovers(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    store = SessionStore(config)
    store.append("s", [b"{}"])
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError) as info:
        store.read("s")
    assert not isinstance(info.value, RedisWriteRefusedError)
    faulty_redis.restart()  # same URL, empty
    assert store.read("s") == []
    assert store.append("s", [b"{}"]) == 1
    config.close()


def _seed_expired(client: Any, index: str, n: int) -> None:
    """``n`` index entries of sessions last written an hour ago (their keys are gone)."""
    old = int(time.time() * 1000) - 3_600_000
    client.zadd(index, {f"gone-{i}": old + i for i in range(n)})


def test_appends_prune_when_a_session_joins_the_index_and_every_few_messages(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    store = SessionStore(config, ttl=60)
    index = config.keys.history_sessions()
    _seed_expired(redis_client, index, 250)
    store.append("new", [b"{}"])  # the index grows only here: this append prunes
    assert redis_client.zcard(index) == 1 + 250 - PRUNE_BATCH  # bounded work per call
    for _ in range(PRUNE_EVERY - 2):  # messages 2..15: no prune
        store.append("new", [b"{}"])
    assert redis_client.zcard(index) == 1 + 250 - PRUNE_BATCH
    store.append("new", [b"{}"])  # the 16th message prunes
    assert redis_client.zcard(index) == 1 + 250 - 2 * PRUNE_BATCH
    store.append("new", [b"{}"] * PRUNE_EVERY)  # one call passing the next 16th: once
    assert [m.decode() for m in redis_client.zrange(index, 0, -1)] == ["new"]
    store.append("another", [b"{}"])
    assert redis_client.zcard(index) == 2


@pytest.mark.parametrize("write", ["update_metadata", "take_oldest"])
def test_writes_prune_expired_sessions_from_the_index_in_bounded_steps(
    config: RedisAgentConfig, redis_client: redis.Redis, write: str
) -> None:
    store = SessionStore(config, ttl=60)
    index = config.keys.history_sessions()
    store.append("live", [b"{}", b"{}", b"{}", b"{}"])
    _seed_expired(redis_client, index, 250)
    calls = {
        "update_metadata": lambda: store.update_metadata("live", {"k": "v"}),
        "take_oldest": lambda: store.take_oldest("live", 1),
    }
    calls[write]()
    # bounded work per call ('' at +inf: the index is whole, never pruned)
    assert redis_client.zcard(index) == 2 + 250 - PRUNE_BATCH
    calls[write]()
    calls[write]()
    assert [m.decode() for m in redis_client.zrange(index, 0, -1)] == ["live", ""]


def test_index_without_ttl_is_not_pruned(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    store = SessionStore(config)  # no TTL: sessions never expire, entries stay
    index = config.keys.history_sessions()
    _seed_expired(redis_client, index, 5)
    store.append("live", [b"{}"])
    assert redis_client.zcard(index) == 6


@pytest.mark.cluster
def test_cluster_writes_prune_the_index_too(cluster_config: RedisAgentConfig) -> None:
    store = SessionStore(cluster_config, ttl=60)
    client = cluster_config.get_client()
    index = cluster_config.keys.history_sessions()
    store.append("live", [b"{}", b"{}"])  # scripts cached: one attempt per call
    _seed_expired(client, index, 150)
    store.append("live", [b"{}"])
    assert client.zcard(index) == 2 + 150 - PRUNE_BATCH  # and '' (the index is whole)
    store.take_oldest("live", 1)
    assert [m.decode() for m in client.zrange(index, 0, -1)] == ["live", ""]


@pytest.mark.parametrize("write", ["replace", "archive_oldest"])
def test_writes_that_start_by_deleting_are_refused_too_when_memory_is_full(
    faulty_redis: FaultyRedis, write: str
) -> None:
    # Redis checks maxmemory only up to a script's first write: a DEL or LTRIM first
    # would let the rest of the script write past a full server
    config = faulty_redis.config()
    store = SessionStore(config)
    store.append("s", [b'{"n":0}', b'{"n":1}'])
    faulty_redis.fill_memory()
    with pytest.raises(RedisWriteRefusedError):
        if write == "replace":
            store.replace("s", [b'{"n":9}'])
        else:
            store.take_oldest("s", 1, archive=True)
    assert store.read("s") == [b'{"n":0}', b'{"n":1}']  # nothing changed
    config.close()


def _words(texts: list[str]) -> np.ndarray:
    """A toy embedding: one dimension per word hash (same words, distance 0)."""
    out = np.zeros((len(texts), 16), dtype=np.float32)
    for row, text in zip(out, texts, strict=True):
        for word in text.lower().split():
            row[int(hashlib.md5(word.encode()).hexdigest(), 16) % 16] += 1
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _msg(text: str) -> bytes:
    return json.dumps({"type": "human", "data": {"content": text}}).encode()


async def test_recall_rebuilds_an_index_lost_to_a_drop_or_an_empty_restart(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config()
    store = SessionStore(config, embedder=CallableEmbedder(_words, name="words", dims=16))
    tea = "I drink green tea"
    store.append("s", [_msg(tea), _msg("I live in Oslo")], texts=[tea, "I live in Oslo"])
    admin = faulty_redis.admin()
    index = config.keys.history_recall_index()
    admin.execute_command("FT.DROPINDEX", index)  # the documents stay
    assert [r.seq for r in store.relevant("s", tea, k=1)] == [0]
    admin.execute_command("FT.DROPINDEX", index)
    assert [r.seq for r in await store.arelevant("s", tea, k=1)] == [0]
    chat = RedisChatMessageHistory("s", store=store)  # the adapters share the recall
    admin.execute_command("FT.DROPINDEX", index)
    assert [m.content for m in chat.relevant(tea, k=1)] == [tea]
    admin.execute_command("FT.DROPINDEX", index)
    assert len(await RedisChatStore(store=store).arelevant("s", tea, k=1)) == 1
    admin.execute_command("FT.DROPINDEX", index)  # clearing still finds what to forget
    store.clear("s")
    assert not admin.keys(config.keys.history_recall_prefix() + "*")
    admin.close()
    faulty_redis.restart()  # empty, no index: the same object recovers
    store.append("s", [_msg(tea)], texts=[tea])
    assert [r.seq for r in store.relevant("s", tea, k=1)] == [0]
    faulty_redis.restart()
    assert await store.arelevant("s", tea, k=1) == []  # true: nothing is stored
    await config.aclose()
    config.close()


@pytest.mark.parametrize("use_async", [False, True])
async def test_a_recall_write_refused_after_the_append_says_the_messages_are_stored(
    faulty_redis: FaultyRedis, use_async: bool
) -> None:
    """The recall document is written after the message (another call): when only it is
    refused (here an ACL user lacking its key pattern; memory filling up in between does
    the same), the error read like the append had failed ("index messages for recall
    failed"), so a caller appended again and stored the message twice."""
    embedder = CallableEmbedder(_words, name="words", dims=16)
    admin = faulty_redis.admin()
    keys = faulty_redis.config().keys
    SessionStore(faulty_redis.config(), embedder=embedder).append("s", [_msg("a")], texts=["a"])
    patterns = [keys.history_messages("*"), keys.history_meta("*"), keys.history_archive("*")]
    patterns += [keys.history_sessions(), keys.history_sessions_marker()]
    patterns += [keys.history_recall_index(), keys.history_recall_state()]  # not its documents
    admin.acl_setuser("app", enabled=True, passwords=["+pw"], commands=["+@all"], keys=patterns)
    url = f"redis://app:pw@127.0.0.1:{faulty_redis.port}"
    config = RedisAgentConfig(url=url, namespace="faults", socket_timeout=2, retries=0)
    store = SessionStore(config, embedder=embedder)
    append = store.aappend if use_async else store.append
    with pytest.raises(RedisAgentError, match="ARE in the session's history") as info:
        result = append("s", [_msg("b")], texts=["b"])
        if use_async:
            await result  # type: ignore[misc]
    assert "appending them again would store them twice" in str(info.value)
    assert len(SessionStore(faulty_redis.config()).read("s")) == 2  # stored, once
    await config.aclose()
    config.close()
    admin.close()
