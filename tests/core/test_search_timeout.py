"""A search that passes the server's TIMEOUT fails loudly on both ON_TIMEOUT policies:
FAIL (an error reply) and RETURN (partial results with a RESP3 warning) both raise
SearchTimeoutError, on the pack's own commands (KNN search, recall measurement, sorted
and aggregate queries) and on redisvl queries, sync and async.

The timeout is forced, not raced: a private server with TIMEOUT 1 (ms) answers queries
that must visit every document before their first row (a KNN over a FLAT index, SORTBY
on a non-sortable field, FT.AGGREGATE ... LOAD) over 30,000 documents of 768 dimensions;
each takes several ms in full here (a KNN over 30,000 x 384-d: 3.6 ms), and under RETURN
the KNN came back with 1 of its 10 rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis
from redisvl.query import FilterQuery

from redis_agent_core import CallableEmbedder, SearchTimeoutError, SemanticCache
from redis_agent_core.cli import main
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.redis_errors import translate_errors
from redis_agent_core.search.commands import aggregate_command, search_command
from redis_agent_core.search.replies import aggregate_rows, search_keys, search_rows
from redis_agent_core.server import EmbeddedRedis
from redis_agent_core.vectors import VectorIndex

DOCS = 30_000
DIMS = 768


def _policy(client: Any) -> str:
    reply = client.execute_command("FT.CONFIG", "GET", "ON_TIMEOUT")
    raw = reply[b"ON_TIMEOUT"] if isinstance(reply, dict) else reply[0][1]
    return str(raw.decode()).lower()


def test_the_embedded_server_fails_searches_that_time_out(own_redis: EmbeddedRedis) -> None:
    client = redis.Redis.from_url(own_redis.url)
    try:
        assert _policy(client) == "fail"
    finally:
        client.close()


@pytest.fixture(scope="module")
def slow() -> Iterator[tuple[RedisAgentConfig, VectorIndex]]:
    """A private server holding DOCS documents, with a 1 ms search TIMEOUT."""
    server = EmbeddedRedis().start()
    try:
        config = RedisAgentConfig(url=server.url, namespace="timeout")
        index = VectorIndex("slow", config=config, dims=DIMS, algorithm="flat",
                            metadata_fields={"n": "numeric"})  # fmt: skip
        vectors = np.random.default_rng(7).random((DOCS, DIMS), dtype=np.float32)
        index.add([f"doc {i}" for i in range(DOCS)], metadatas=[{"n": i} for i in range(DOCS)],
                  vectors=vectors)  # fmt: skip
        config.get_client().execute_command("FT.CONFIG", "SET", "TIMEOUT", 1)
        yield config, index
    finally:
        server.stop()


@pytest.fixture(params=["fail", "return"])
def timing_out(
    request: pytest.FixtureRequest, slow: tuple[RedisAgentConfig, VectorIndex]
) -> tuple[RedisAgentConfig, VectorIndex]:
    """The slow server under each ON_TIMEOUT policy (settable at run time on 2.10)."""
    config, index = slow
    client = config.get_client()
    client.execute_command("FT.CONFIG", "SET", "ON_TIMEOUT", request.param)
    assert _policy(client) == request.param
    return config, index


def _sorted(index: VectorIndex, **kw: Any) -> list[Any]:
    return search_command(index.index_name, "*", sort_by="n", limit=10, **kw)


def _aggregate(index: VectorIndex) -> list[Any]:
    return aggregate_command(index.index_name, ["*", "LOAD", 1, "@n", "GROUPBY", 1, "@n"])


def test_the_pack_s_searches_raise_instead_of_returning_partial_results(
    timing_out: tuple[RedisAgentConfig, VectorIndex],
) -> None:
    config, index = timing_out
    client = config.get_client()
    for command, parse in (
        (_sorted(index), search_rows),
        (_sorted(index, nocontent=True), search_keys),
        (_aggregate(index), aggregate_rows),
    ):
        with pytest.raises(SearchTimeoutError, match="timed out on"):
            with translate_errors(config, "searching"):
                parse(client.execute_command(*command))


async def test_the_async_path_raises_alike(
    timing_out: tuple[RedisAgentConfig, VectorIndex],
) -> None:
    config, index = timing_out
    client = config.get_async_client()
    for command, parse in ((_sorted(index), search_rows), (_aggregate(index), aggregate_rows)):
        with pytest.raises(SearchTimeoutError, match="ON_TIMEOUT"):
            with translate_errors(config, "searching"):
                parse(await client.execute_command(*command))


def _redisvl_query() -> FilterQuery:
    return FilterQuery(return_fields=["n"], num_results=10, sort_by="n")


def test_redisvl_queries_raise_too(timing_out: tuple[RedisAgentConfig, VectorIndex]) -> None:
    _, index = timing_out
    with pytest.raises(SearchTimeoutError, match="searching index"):
        index.query(_redisvl_query())


async def test_async_redisvl_queries_raise_too(
    timing_out: tuple[RedisAgentConfig, VectorIndex],
) -> None:
    _, index = timing_out
    with pytest.raises(SearchTimeoutError, match="searching index"):
        await index.aquery(_redisvl_query())


def test_a_search_within_the_timeout_still_answers(
    slow: tuple[RedisAgentConfig, VectorIndex],
) -> None:
    """The check does not refuse complete answers (a plain filter stops at its LIMIT)."""
    config, index = slow
    config.get_client().execute_command("FT.CONFIG", "SET", "TIMEOUT", 500)
    try:
        assert len(index.query(_redisvl_query())) == 10
        _, rows = search_rows(config.get_client().execute_command(*_sorted(index)))
        assert len(rows) == 10
    finally:
        config.get_client().execute_command("FT.CONFIG", "SET", "TIMEOUT", 1)


def test_doctor_states_the_policy_and_warns_when_partial_results_would_look_complete(
    own_redis: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--url", own_redis.url]) == 0
    captured = capsys.readouterr()
    assert "search timeout: ON_TIMEOUT fail, TIMEOUT 500 ms" in captured.out
    assert "WARNING" not in captured.err
    client = redis.Redis.from_url(own_redis.url)
    client.execute_command("FT.CONFIG", "SET", "ON_TIMEOUT", "return")
    client.close()
    assert main(["doctor", "--url", own_redis.url]) == 0
    assert "the pack detects them" in capsys.readouterr().out
    assert main(["doctor", "--url", f"{own_redis.url}?protocol=2"]) == 0
    assert "this RESP2 connection cannot see the warning" in capsys.readouterr().err


def test_knn_search_and_recall_measurement_raise(
    timing_out: tuple[RedisAgentConfig, VectorIndex],
) -> None:
    _, index = timing_out
    query = np.ones(DIMS, np.float32)
    with pytest.raises(SearchTimeoutError):
        index.search(query, k=10)
    with pytest.raises(SearchTimeoutError):
        index.measure_recall(sample=2)


async def test_async_knn_search_and_recall_measurement_raise(
    timing_out: tuple[RedisAgentConfig, VectorIndex],
) -> None:
    _, index = timing_out
    query = np.ones(DIMS, np.float32)
    with pytest.raises(SearchTimeoutError):
        await index.asearch(query, k=10)
    with pytest.raises(SearchTimeoutError):
        await index.ameasure_recall(sample=2)


CACHE_ENTRIES = 15_000
CACHE_DIMS = 4096  # a FLAT KNN over 15,000 x 4,096-d takes well over TIMEOUT 1 (3,000 was a race)


@pytest.fixture(scope="module")
def slow_cache() -> Iterator[tuple[RedisAgentConfig, np.ndarray]]:
    """A private server holding a FLAT semantic cache of CACHE_ENTRIES entries."""
    server = EmbeddedRedis().start()
    try:
        config = RedisAgentConfig(url=server.url, namespace="cache-timeout")
        vectors = np.random.default_rng(11).random((CACHE_ENTRIES, CACHE_DIMS), dtype=np.float32)
        cache = _cache(config, "raise")
        for i, vector in enumerate(vectors):
            cache.update(f"question {i}", "scope", f"answer {i}", vector=vector)
        yield config, vectors
    finally:
        server.stop()


def _cache(config: RedisAgentConfig, on_error: Any) -> SemanticCache:
    embedder = CallableEmbedder(lambda texts: [[0.0] * CACHE_DIMS for _ in texts], dims=CACHE_DIMS)
    return SemanticCache(config, embedder=embedder, algorithm="flat", verifier=None,
                         on_error=on_error, recheck_after=0.0)  # fmt: skip


def _set(config: RedisAgentConfig, **settings: Any) -> None:
    for name, value in settings.items():
        config.get_client().execute_command("FT.CONFIG", "SET", name.upper(), value)


ASKED = "a new wording of question 7"  # not an exact repeat: the vector search answers


@pytest.mark.parametrize("policy", ["fail", "return"])
async def test_a_semantic_cache_lookup_that_times_out_raises_or_degrades_to_a_miss(
    slow_cache: tuple[RedisAgentConfig, np.ndarray], policy: str
) -> None:
    """Never a partial candidate list taken as the answer: on_error='raise' raises
    SearchTimeoutError (sync and async); 'degrade' serves a miss and, once searches
    finish in time again, hits without a restart."""
    config, vectors = slow_cache
    raising, degrading = _cache(config, "raise"), _cache(config, "degrade")
    assert raising.lookup(ASKED, "scope", vector=vectors[7]) is not None
    _set(config, timeout=1, on_timeout=policy)
    try:
        with pytest.raises(SearchTimeoutError):
            raising.lookup(ASKED, "scope", vector=vectors[7])
        with pytest.raises(SearchTimeoutError):
            await raising.alookup(ASKED, "scope", vector=vectors[7])
        assert degrading.lookup(ASKED, "scope", vector=vectors[7]) is None
        assert await degrading.alookup(ASKED, "scope", vector=vectors[7]) is None
    finally:
        _set(config, timeout=500, on_timeout="fail")
    hit = degrading.lookup(ASKED, "scope", vector=vectors[7])
    assert hit is not None and hit.payload == "answer 7"
