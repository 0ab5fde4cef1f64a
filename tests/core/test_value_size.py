"""A value over the server's proto-max-bulk-len: the server closes the connection when it
reads the length, which redis-py reported as "Redis unavailable" (and retried, sending
it again). With ``max_value_bytes`` set to the server's limit, every write of a user
value raises ValueTooLargeError naming the size, the limit and the fix, before anything
is sent; the same config goes on working (Redis was never down)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from langchain_core.messages import HumanMessage

from langchain_redis_agent import RedisChatMessageHistory
from langchain_redis_agent.checkpoint import RedisSaver
from langchain_redis_agent.store import RedisStore
from redis_agent_core import KVStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, ValueTooLargeError
from redis_agent_core.server import EmbeddedRedis

MIB = 1024 * 1024
BIG = "x" * (2 * MIB)


@pytest.fixture(scope="module")
def small_server() -> Iterator[EmbeddedRedis]:
    """A server whose operator lowered proto-max-bulk-len to Redis's least, 1 MiB."""
    with EmbeddedRedis() as server:
        redis.Redis.from_url(server.url).config_set("proto-max-bulk-len", MIB)
        yield server


def _checkpoint(config: RedisAgentConfig, value: Any) -> None:
    saver = RedisSaver(config)
    thread = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    checkpoint = {
        "v": 4,
        "id": "1",
        "ts": "2026-01-01T00:00:00+00:00",
        "channel_values": {"big": value},
        "channel_versions": {"big": "1"},
        "versions_seen": {},
    }
    saver.put(thread, checkpoint, {}, {"big": "1"})  # type: ignore[arg-type]


WRITES: dict[str, Callable[[RedisAgentConfig, str], Any]] = {
    "kvstore": lambda c, v: KVStore(c).mset([("k", v.encode())]),
    "kvstore async": lambda c, v: asyncio.run(KVStore(c).amset([("k", v)])),
    "agent store": lambda c, v: RedisStore(config=c).put(("a",), "k", {"v": v}),
    "history": lambda c, v: RedisChatMessageHistory("s", config=c).add_messages([HumanMessage(v)]),
    "history async": lambda c, v: asyncio.run(
        RedisChatMessageHistory("s", config=c).aadd_messages([HumanMessage(v)])
    ),
    "checkpoint": _checkpoint,
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_value_over_the_servers_limit_is_refused_unsent(
    small_server: EmbeddedRedis, name: str
) -> None:
    config = RedisAgentConfig(
        url=small_server.url, namespace=name.replace(" ", "_"), max_value_bytes=MIB
    )
    with pytest.raises(ValueTooLargeError, match=r"2,0\d\d,\d{3} bytes, over the 1,048,576"):
        WRITES[name](config, BIG)
    client = redis.Redis.from_url(small_server.url)
    assert not client.keys(f"{config.namespace}:*")  # nothing written
    WRITES[name](config, "small")  # the same config and pool work on: Redis was never down
    assert client.keys(f"{config.namespace}:*")
    client.flushall()


def test_a_value_at_the_limit_is_sent_and_the_limit_is_checked(
    small_server: EmbeddedRedis,
) -> None:
    config = RedisAgentConfig(url=small_server.url, namespace="edge", max_value_bytes=MIB)
    KVStore(config).mset([("k", b"x" * MIB)])  # exactly the server's limit: taken
    assert KVStore(config).mget(["k"]) == [b"x" * MIB]
    # text is measured in UTF-8 bytes: 350k three-byte characters are over 1 MiB
    with pytest.raises(ValueTooLargeError, match="1,050,000 bytes"):
        KVStore(config).mset([("k", "€" * 350_000)])
    with pytest.raises(ConfigError, match="max_value_bytes must be an int >= 1048576"):
        RedisAgentConfig(max_value_bytes=1000)
