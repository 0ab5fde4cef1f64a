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
from llama_index.core.schema import TextNode

from langchain_redis_agent import RedisChatMessageHistory
from langchain_redis_agent.checkpoint import RedisSaver
from langchain_redis_agent.store import RedisStore
from langchain_redis_agent.vectorstores import RedisVectorStore as LangChainVectorStore
from llamaindex_redis_agent.vector_store import RedisVectorStore as LlamaVectorStore
from redis_agent_core import KVStore, VectorIndex
from redis_agent_core.bus import AgentBus
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, ValueTooLargeError
from redis_agent_core.server import EmbeddedRedis
from redis_agent_core.tasks.app import create_app
from redis_agent_core.tasks.submit import submit_batch, submit_ingestion
from redis_agent_core.workflows import WorkflowRecords

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


def _vector_index(config: RedisAgentConfig, value: str, storage: str = "hash") -> Any:
    index = VectorIndex("v", config=config, dims=4, storage=storage, metadata_fields={"t": "tag"})
    return index.add([value], vectors=[[1.0, 0.0, 0.0, 0.0]])


def _metadata(config: RedisAgentConfig, value: str) -> Any:
    # a small text whose metadata is the big value (a tag field holds it too)
    index = VectorIndex("m", config=config, dims=4, metadata_fields={"t": "tag"})
    return index.add(["small"], metadatas=[{"t": value}], vectors=[[1.0, 0.0, 0.0, 0.0]])


def _llama_nodes(config: RedisAgentConfig, value: str) -> Any:
    store = LlamaVectorStore("l", config=config, dims=4)
    return store.add([TextNode(text=value, embedding=[1.0, 0.0, 0.0, 0.0])])


def _records(config: RedisAgentConfig) -> WorkflowRecords:
    return WorkflowRecords(config)


def _submit_batch(config: RedisAgentConfig, value: str) -> Any:
    return submit_batch([value], model="m", app=create_app(config), config=config)


def _submit_ingestion(config: RedisAgentConfig, value: str) -> Any:
    items = [{"id": "a", "text": value, "vector": [1.0, 0.0, 0.0, 0.0]}]
    app = create_app(config)
    return submit_ingestion(VectorIndex("i", config=config, dims=4), items, app=app, config=config)


WRITES: dict[str, Callable[[RedisAgentConfig, str], Any]] = {
    "kvstore": lambda c, v: KVStore(c).mset([("k", v.encode())]),
    "kvstore async": lambda c, v: asyncio.run(KVStore(c).amset([("k", v)])),
    "agent store": lambda c, v: RedisStore(config=c).put(("a",), "k", {"v": v}),
    "history": lambda c, v: RedisChatMessageHistory("s", config=c).add_messages([HumanMessage(v)]),
    "history async": lambda c, v: asyncio.run(
        RedisChatMessageHistory("s", config=c).aadd_messages([HumanMessage(v)])
    ),
    "checkpoint": _checkpoint,
    "vector index": _vector_index,
    "vector index json": lambda c, v: _vector_index(c, v, "json"),
    "vector index async": lambda c, v: asyncio.run(
        VectorIndex("v", config=c, dims=4).aadd([v], vectors=[[1.0, 0.0, 0.0, 0.0]])
    ),
    "vector metadata": _metadata,
    "langchain vectors": lambda c, v: LangChainVectorStore(
        index=VectorIndex("lc", config=c, dims=4)
    ).add_texts_with_vectors([v], [[1.0, 0.0, 0.0, 0.0]]),
    "llamaindex vectors": _llama_nodes,
    "bus stream": lambda c, v: AgentBus(c).publish("t", v, durable=True),
    "bus stream async": lambda c, v: asyncio.run(AgentBus(c).apublish("t", v, durable=True)),
    "workflow handler": lambda c, v: asyncio.run(_records(c).put_handler("h", "r", v.encode())),
    "workflow event": lambda c, v: asyncio.run(_records(c).append("events", "r", v.encode())),
    "workflow state": lambda c, v: asyncio.run(_records(c).save_state("r", "", v.encode())),
    "task batch": _submit_batch,
    "task ingestion": _submit_ingestion,
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_value_over_the_servers_limit_is_refused_unsent(
    small_server: EmbeddedRedis, name: str
) -> None:
    config = RedisAgentConfig(
        url=small_server.url, namespace=name.replace(" ", "_"), max_value_bytes=MIB
    )
    with pytest.raises(ValueTooLargeError, match=r"is [23],\d{3},\d{3} bytes, over the 1,048,576"):
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


def test_a_pubsub_message_over_the_limit_is_refused_unsent(small_server: EmbeddedRedis) -> None:
    config = RedisAgentConfig(url=small_server.url, namespace="pubsub", max_value_bytes=MIB)
    bus = AgentBus(config)
    with pytest.raises(ValueTooLargeError, match="a message on bus topic 't'"):
        bus.publish("t", BIG)
    assert bus.publish("t", "small").receivers == 0  # the same pool works on


def test_a_task_chunk_over_the_limit_names_the_chunk_size(small_server: EmbeddedRedis) -> None:
    """Prompts each under the limit, eight to a message over it: refused before the job
    is written, naming the chunk and chunk_size=; one a message they are queued."""
    config = RedisAgentConfig(url=small_server.url, namespace="chunks", max_value_bytes=MIB)
    client = redis.Redis.from_url(small_server.url)
    prompts = ["y" * 300_000] * 8
    with pytest.raises(ValueTooLargeError, match=r"items 0-7 \(chunk_size=8; no job"):
        submit_batch(prompts, model="m", chunk_size=8, app=create_app(config), config=config)
    assert not client.keys("chunks:*")
    submit_batch(prompts, model="m", chunk_size=1, app=create_app(config), config=config)
    assert client.keys("chunks:*")
    client.flushall()


def _big_answer(size: int = 2 * MIB) -> Callable[[str], str]:
    """A batch model whose answer to "big" is over a 1 MiB server's limit."""
    return lambda prompt: "z" * size if prompt == "big" else prompt.upper()


@pytest.mark.parametrize("cache", [False, True])
def test_a_worker_result_over_the_limit_is_a_recorded_failure(
    small_server: EmbeddedRedis, cache: bool
) -> None:
    """The worker wrote the result unchecked: the server dropped the connection, read as
    Redis down and retried until the task gave up, the job never finishing; through the
    cache, its ValueTooLargeError (a ConfigError) failed every remaining prompt."""
    from celery.contrib.testing.worker import start_worker

    from redis_agent_core.tasks import (
        get_batch_results,
        job_failures,
        register_model,
        wait_for_job,
    )

    register_model("big_answer", _big_answer, replace=True)
    config = RedisAgentConfig(
        url=small_server.url, namespace=f"worker{int(cache)}", max_value_bytes=MIB
    )
    app = create_app(config)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        job_id = submit_batch(["a", "big", "b"], model="big_answer", cache=cache, chunk_size=3,
                              app=app, config=config)  # fmt: skip
        job = wait_for_job(job_id, config=config, timeout=20)
    assert (job.status, job.done, job.failed) == ("partial", 2, 1)
    assert [r and r["text"] for r in get_batch_results(job_id, config=config)] == ["A", None, "B"]
    error = job_failures(job_id, config=config)["1"]
    assert "answer cannot be stored" in error and "over the 1,048,576 bytes" in error


def test_a_dead_letter_payload_over_the_limit_is_recorded_without_it(
    small_server: EmbeddedRedis,
) -> None:
    # the broker may be another server (it took the message): the XADD of the whole
    # payload dropped the data server's connection, and the delivery was retried
    from redis_agent_core.tasks import dead_letters
    from redis_agent_core.tasks.webhooks import record_dead_letter

    config = RedisAgentConfig(url=small_server.url, namespace="dead", max_value_bytes=MIB)
    record_dead_letter(
        config, url="https://example.com/h", key="k1", payload={"big": BIG},
        error="e" * 20_000, status=500, attempts=3, job_id=None,
    )  # fmt: skip
    (row,) = dead_letters(config=config)
    assert row["payload"]["payload_not_kept"] == (
        "2,097,162 bytes, over max_value_bytes (1,048,576)"
    )
    assert row["payload"]["head"].startswith('{"big":"xxx')
    assert row["error"].endswith("(20,000 characters, cut)") and row["attempts"] == 3
