"""VectorIndex against a real Redis: writes, every query kind, schema checks, faults."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import numpy as np
import pytest
import redis
import redis.asyncio as aredis
from redis.cluster import RedisCluster

from redis_agent_core.capabilities import get_capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import (
    CapabilityError,
    ConfigError,
    RedisUnavailableError,
    SchemaMismatchError,
)
from redis_agent_core.search.capabilities import aget_capabilities
from redis_agent_core.vectors import (
    F,
    FilterError,
    FilterFieldMismatchError,
    PartialWriteError,
    VectorIndex,
    relevance_from_distance,
)
from redis_agent_service.cluster import LocalCluster

from .conftest import clustered

META = {"tenant": "tag", "year": "numeric", "title": "text"}


def make(config: RedisAgentConfig, name: str = "docs", dims: int = 16, **kw: object) -> VectorIndex:
    return VectorIndex(name, config=config, dims=dims, metadata_fields=META, **kw)  # type: ignore[arg-type]


def fill(index: VectorIndex, rng: np.random.Generator, n: int = 40) -> np.ndarray:
    vectors = clustered(rng, n, index.schema.dims)
    index.add(
        [f"document number {i}" for i in range(n)],
        ids=[f"d{i}" for i in range(n)],
        metadatas=[
            {"tenant": f"t{i % 4}", "year": 2000 + i, "title": f"title {i}"} for i in range(n)
        ],
        vectors=vectors,
    )
    return vectors


def test_constructor_does_no_io() -> None:
    # A dead URL: building the index must not connect; the first call fails clearly.
    config = RedisAgentConfig(url="redis://127.0.0.1:1", retries=0, socket_connect_timeout=0.2)
    index = VectorIndex("x", config=config, dims=4)
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1"):
        index.search([0.1, 0.2, 0.3, 0.4])


def test_index_created_lazily_on_first_write(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = make(config)
    assert index.search(rng.normal(size=16)) == []  # reading never creates
    assert not index.exists()
    fill(index, rng, 5)
    assert index.exists()
    assert index.count() == 5


def test_ids_returned_and_stored_exactly(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = make(config, dims=4)
    ids = [" padded ", "{tag}", "a:b", "ünï cödé", "100%", "x*y?"]
    vectors = clustered(rng, len(ids), 4)
    assert index.add(["t"] * len(ids), ids=ids, vectors=vectors) == ids
    assert [h.id for h in index.get(ids)] == ids
    found = {h.id for h in index.search(vectors[0], k=len(ids))}
    assert found == set(ids)
    assert index.delete(ids[:2]) == 2
    assert index.count() == len(ids) - 2


def test_knn_order_scores_and_metadata_round_trip(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = make(config)
    vectors = fill(index, rng)
    index.add(
        ["nested"],
        ids=["n"],
        metadatas=[{"deep": {"a": [1, 2.5, None]}, "flag": True}],
        vectors=vectors[:1],
    )
    hits = index.search(vectors[7], k=5, return_vectors=True)
    assert hits[0].id == "d7" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)  # type: ignore[type-var]
    assert all(0.0 <= h.score <= 1.0 for h in hits)  # type: ignore[operator]
    np.testing.assert_allclose(hits[0].vector, vectors[7], atol=1e-6)
    assert hits[0].metadata == {"tenant": "t3", "year": 2007, "title": "title 7"}
    assert index.get(["n"])[0].metadata == {"deep": {"a": [1, 2.5, None]}, "flag": True}


def test_readd_overwrites_and_drops_stale_indexed_fields(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = make(config, dims=4)
    v = clustered(rng, 1, 4)
    index.add(["old"], ids=["a"], metadatas=[{"tenant": "acme"}], vectors=v)
    index.add(["new"], ids=["a"], metadatas=[{}], vectors=v)
    assert index.count() == 1
    assert index.count(F("tenant") == "acme") == 0  # no stale tenant left indexed
    assert index.get(["a"])[0].text == "new"


def test_bad_input_writes_nothing(config: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(config)
    fill(index, rng, 3)
    with pytest.raises(ConfigError, match="expects 16, got 8"):
        index.add(["a", "b"], ids=["x", "y"], vectors=clustered(rng, 2, 8))
    with pytest.raises(ConfigError, match="numeric"):
        index.add(
            ["a", "b"],
            ids=["x", "y"],
            vectors=clustered(rng, 2, 16),
            metadatas=[{"year": 1}, {"year": "not a number"}],
        )
    with pytest.raises(ConfigError, match="JSON"):
        index.add(["a"], ids=["x"], vectors=clustered(rng, 1, 16), metadatas=[{"o": object()}])
    with pytest.raises(ConfigError, match="query vector"):
        index.search([1.0, 2.0])
    assert index.count() == 3
    assert index.get(["x", "y"]) == []


def test_empty_inputs_are_noops(config: RedisAgentConfig) -> None:
    index = make(config)
    assert index.add([]) == []
    assert index.delete([]) == 0
    assert index.get([]) == []
    assert not index.exists()


def test_filters_every_type(config: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(config)
    vectors = fill(index, rng)
    q = vectors[0]

    def ids(filter: object, k: int = 40) -> set[str]:
        return {h.id for h in index.search(q, k, filter=filter)}

    assert ids(F("tenant") == "t1") == {f"d{i}" for i in range(1, 40, 4)}
    assert ids({"year": {"$gte": 2035}}) == {f"d{i}" for i in range(35, 40)}
    assert ids((F("year") < 2004) | (F("year") > 2037)) == {"d0", "d1", "d2", "d3", "d38", "d39"}
    assert ids(~(F("tenant").is_in(["t0", "t1", "t2"]))) == {f"d{i}" for i in range(3, 40, 4)}
    assert ids(F("title") == "title 5") == {"d5"}
    assert ids(F("tenant").is_in([])) == set()
    assert index.count(F("tenant").not_in([])) == 40
    assert index.count(F("year").is_empty()) == 0


def test_filter_on_unknown_field_raises(config: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(config)
    fill(index, rng, 3)
    with pytest.raises(ConfigError, match=r"not an indexed field.*metadata_fields"):
        index.search(rng.normal(size=16), filter={"nope": 1})


@pytest.mark.parametrize(
    "evil",
    ["a|t1", 't1" | "t2', "-t1", "@tenant:{t1}", "t1}|{t2", "*", "t1) | (@year:[0 +inf]", "t1\\"],
)
def test_tenant_tag_with_query_syntax_never_widens(
    config: RedisAgentConfig, rng: np.random.Generator, evil: str
) -> None:
    index = make(config)
    vectors = fill(index, rng, 12)
    index.add(["victim"], ids=["evil"], metadatas=[{"tenant": evil}], vectors=vectors[:1])
    assert [h.id for h in index.search(vectors[0], 20, filter=F("tenant") == evil)] == ["evil"]
    assert index.count({"tenant": evil}) == 1
    assert index.count(F("tenant") != evil) == 12
    assert index.delete_by_filter(F("tenant") == evil) == 1
    assert index.count() == 12


def test_tags_are_case_sensitive_and_separator_safe(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = make(config, dims=4)
    v = clustered(rng, 3, 4)
    index.add(
        ["a", "b", "c"],
        ids=["1", "2", "3"],
        vectors=v,
        metadatas=[{"tenant": "Acme"}, {"tenant": "acme"}, {"tenant": "acme,evil"}],
    )
    assert index.count(F("tenant") == "acme") == 1
    assert index.count(F("tenant") == "evil") == 0
    with pytest.raises(ConfigError, match="empty value"):
        index.count(F("tenant") == "")


def test_range_search_threshold(config: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(config)
    vectors = fill(index, rng)
    all_hits = index.search(vectors[3], 40)
    threshold = all_hits[5].score
    ranged = index.search_range(vectors[3], threshold, k=40)  # type: ignore[arg-type]
    assert [h.id for h in ranged] == [h.id for h in all_hits if h.score >= threshold - 1e-6]  # type: ignore[operator]
    assert all(h.score >= threshold - 1e-6 for h in ranged)  # type: ignore[operator]


def test_mmr_diversifies(config: RedisAgentConfig) -> None:
    index = VectorIndex("mmr", config=config, dims=2)
    index.add(
        ["a", "a-dup", "b"], ids=["a", "a2", "b"], vectors=[[1.0, 0.0], [0.999, 0.01], [0.8, 0.6]]
    )
    assert [h.id for h in index.search([1.0, 0.0], 2)] == ["a", "a2"]
    assert [h.id for h in index.mmr([1.0, 0.0], 2, fetch_k=3, lambda_mult=0.3)] == ["a", "b"]
    assert [h.id for h in index.mmr([1.0, 0.0], 2, fetch_k=3, lambda_mult=1.0)] == ["a", "a2"]


@pytest.mark.parametrize("storage", ["hash", "json"])
async def test_raw_vectors_read_through_a_decoding_client(
    redis_url: str, namespace: str, storage: str
) -> None:
    # a client built with decode_responses=True (what peers' users pass as
    # redis_client=): MMR, return_vectors and recall read the stored float bytes
    # (1.0 is 00 00 80 3f, not UTF-8) and used to raise UnicodeDecodeError
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    aclient = aredis.Redis.from_url(redis_url, decode_responses=True)
    cfg = RedisAgentConfig(url=redis_url, namespace=namespace, client=client, async_client=aclient)
    index = VectorIndex("dec", config=cfg, dims=2, storage=storage)  # type: ignore[arg-type]
    try:
        index.add(["a", "a-dup", "b"], ids=["a", "a2", "b"],
                  vectors=[[1.0, 0.0], [0.999, 0.01], [0.8, 0.6]])  # fmt: skip
        assert [h.id for h in index.mmr([1.0, 0.0], 2, fetch_k=3, lambda_mult=0.3)] == ["a", "b"]
        mmr = await index.ammr([1.0, 0.0], 2, fetch_k=3, lambda_mult=0.3)
        assert [h.id for h in mmr] == ["a", "b"]
        for hit in (index.search([1.0, 0.0], 1, return_vectors=True)
                    + await index.asearch([1.0, 0.0], 1, return_vectors=True)):  # fmt: skip
            assert hit.vector is not None and list(hit.vector) == [1.0, 0.0]
        assert index.measure_recall(sample=3, k=1).recall == 1.0
        assert (await index.ameasure_recall(sample=3, k=1)).recall == 1.0
    finally:
        index.drop()
        client.close()
        await aclient.aclose()


def test_text_and_hybrid(config: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(config, dims=4)
    v = clustered(rng, 3, 4)
    index.add(
        ["redis streams consumer groups", "vector search with hnsw", "cooking pasta"],
        ids=["s", "v", "c"],
        vectors=v,
    )
    assert [h.id for h in index.text_search("pasta")] == ["c"]
    assert index.text_search("the of and") == []  # only stop words: nothing to search
    hits = index.hybrid("hnsw search", k=3, vector=v[0], alpha=0.3)
    assert hits[0].id == "v" and {h.id for h in hits} == {"s", "v", "c"}
    assert hits[0].score >= hits[-1].score  # type: ignore[operator]
    # Only stop words: falls back to a pure vector query.
    assert index.hybrid("the", k=1, vector=v[2])[0].id == "c"
    assert index.hybrid("hnsw", k=3, vector=v[0], filter=F("tenant") == "none") == []


def test_hybrid_uses_aggregate_without_ft_hybrid(config: RedisAgentConfig) -> None:
    if get_capabilities(config).hybrid:
        pytest.skip("this server has FT.HYBRID; the FT.AGGREGATE path is the fallback")
    index = make(config, dims=4)
    assert not index._hybrid_supported()


@pytest.mark.parametrize(
    ("metric", "storage", "dtype", "algorithm"),
    [
        ("l2", "hash", "float16", "flat"),
        ("ip", "json", "float32", "hnsw"),
        ("cosine", "json", "float16", "flat"),
    ],
)
def test_metrics_storages_dtypes(
    config: RedisAgentConfig,
    rng: np.random.Generator,
    metric: str,
    storage: str,
    dtype: str,
    algorithm: str,
) -> None:
    index = make(config, metric=metric, storage=storage, dtype=dtype, algorithm=algorithm)
    vectors = fill(index, rng, 20)
    hits = index.search(vectors[4], 3, filter=F("year") >= 2004, return_vectors=True)
    assert hits[0].id == "d4"
    assert hits[0].score == pytest.approx(1.0, abs=2e-3)
    assert hits[0].metadata["tenant"] == "t0"
    np.testing.assert_allclose(hits[0].vector, vectors[4], atol=2e-3)
    assert [h.id for h in index.get(["d4"])] == ["d4"]
    assert index.text_search("number 4")[0].id == "d4"


def test_relevance_mapping() -> None:
    assert relevance_from_distance(0.0, "cosine") == 1.0
    assert relevance_from_distance(2.0, "cosine") == 0.0
    assert relevance_from_distance(1.0, "ip") == 0.5
    assert relevance_from_distance(3.5, "ip") == 0.0  # clamped
    assert relevance_from_distance(4.0, "l2") == pytest.approx(1 / 3)


def test_schema_mismatch_is_reported_not_dropped(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    fill(make(config), rng, 3)
    other = VectorIndex("docs", config=config, dims=32, metadata_fields={"tenant": "numeric"})
    with pytest.raises(SchemaMismatchError) as err:
        other.search(rng.normal(size=32))
    message = str(err.value)
    assert "dims: index has 16, requested 32" in message
    assert "'tenant' type: index has 'tag', requested 'numeric'" in message
    assert "drop()" in message
    with pytest.raises(SchemaMismatchError):
        other.add(["x"], vectors=rng.normal(size=(1, 32)))
    assert make(config).count() == 3  # nothing dropped


def test_spec_round_trip_and_from_existing(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = make(config, algorithm="flat", storage="json", metric="l2")
    vectors = fill(index, rng, 5)
    spec = index.to_spec()
    import json

    rebuilt = VectorIndex.from_spec(json.loads(json.dumps(spec)), config=config)
    assert rebuilt.schema == index.schema and rebuilt.to_spec() == spec
    assert rebuilt.search(vectors[2], 1)[0].id == "d2"
    opened = VectorIndex.from_existing("docs", config=config)
    assert opened.schema.dims == 16 and opened.schema.storage == "json"
    assert {f.name: f.type for f in opened.schema.metadata_fields} == META
    assert opened.search(vectors[1], 1, filter=F("tenant") == "t1")[0].id == "d1"
    with pytest.raises(ConfigError, match="does not exist"):
        VectorIndex.from_existing("missing", config=config)


def test_delete_by_filter_clear_drop(config: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(config)
    fill(index, rng, 20)
    assert index.delete_by_filter(F("tenant") == "t0") == 5
    assert index.count() == 15
    with pytest.raises(ConfigError, match="narrowing"):
        index.delete_by_filter(None)
    assert index.clear() == 15
    assert index.count() == 0 and index.exists()
    fill(index, rng, 3)
    index.drop()
    assert not index.exists()
    assert list(config.get_client().scan_iter(match=index.prefix + "*")) == []


def test_ttl_expires_documents(config: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(config, ttl=100)
    fill(index, rng, 2)
    assert 0 < config.get_client().ttl(index.key("d0")) <= 100


def test_hnsw_default_ef_runtime_reaches_recall(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    # Embedding-like clustered vectors; exact neighbours by brute force in numpy.
    n, dims, queries = 3000, 64, 30
    vectors = clustered(rng, n, dims, clusters=30)
    index = VectorIndex("recall", config=config, dims=dims)
    index.add(["x"] * n, ids=[str(i) for i in range(n)], vectors=vectors)
    hits_total = 0
    for qi in rng.choice(n, queries, replace=False):
        query = vectors[qi] + 0.05 * rng.normal(size=dims).astype(np.float32)
        exact = set(np.argsort(-(vectors @ (query / np.linalg.norm(query))))[:10].astype(str))
        hits_total += len(exact & {h.id for h in index.search(query, 10)})
    assert hits_total / (10 * queries) >= 0.95


async def test_async_paths(aconfig: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = make(aconfig)
    vectors = clustered(rng, 10, 16)
    ids = await index.aadd(
        [f"doc {i}" for i in range(10)],
        ids=[f"a{i}" for i in range(10)],
        metadatas=[{"tenant": f"t{i % 2}"} for i in range(10)],
        vectors=vectors,
    )
    assert ids == [f"a{i}" for i in range(10)]
    assert (await index.asearch(vectors[3], 1))[0].id == "a3"
    assert {h.id for h in await index.asearch(vectors[3], 10, filter={"tenant": "t0"})} == {
        f"a{i}" for i in range(0, 10, 2)
    }
    assert (await index.asearch_range(vectors[3], 0.999, 5))[0].id == "a3"
    assert len(await index.ammr(vectors[3], 3)) == 3
    assert await index.atext_search("doc")
    assert (await index.ahybrid("doc", 2, vector=vectors[5]))[0].id == "a5"
    assert [h.id for h in await index.aget(["a1", "zz"])] == ["a1"]
    assert await index.acount() == 10
    assert len(await index.afind({"tenant": "t1"})) == 5
    assert await index.adelete_by_filter({"tenant": "t1"}) == 5
    assert await index.adelete(["a0"]) == 1
    assert await index.aclear() == 4
    await index.adrop()
    assert not await index.aexists()


def test_redis_down_raises_clear_error(own_server, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    server, cfg = own_server
    index = VectorIndex("down", config=cfg, dims=4)
    v = clustered(rng, 2, 4)
    index.add(["a", "b"], ids=["a", "b"], vectors=v)
    server.stop()
    with pytest.raises(RedisUnavailableError, match=r"could not connect|timed out"):
        index.search(v[0])
    with pytest.raises(RedisUnavailableError) as err:
        index.add(["c"], ids=["c"], vectors=v[:1])
    assert not isinstance(err.value, PartialWriteError)  # nothing was stored: plain error


def test_partial_batch_is_reported(own_server, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    server, cfg = own_server

    class StopsMidway(VectorIndex):
        batches = 0

        def _batch(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            StopsMidway.batches += 1
            if StopsMidway.batches == 3:
                server.stop()  # Redis dies after two batches were confirmed
            return super()._batch(*args, **kwargs)

    index = StopsMidway("partial", config=cfg, dims=4, batch_size=2, write_concurrency=1)
    ids = [f"p{i}" for i in range(6)]
    with pytest.raises(PartialWriteError) as err:
        index.add(["x"] * 6, ids=ids, vectors=clustered(rng, 6, 4))
    assert err.value.written_ids == ids[:4]
    assert err.value.unconfirmed_ids == ids[4:]
    assert "4 of 6" in str(err.value) and "same ids" in str(err.value)


@pytest.mark.cluster
def test_cluster_search_raises_capability_error(cluster_config: RedisAgentConfig) -> None:
    index = VectorIndex("c", config=cluster_config, dims=4)
    with pytest.raises(CapabilityError, match=r"Query Engine|cluster"):
        index.add(["a"], vectors=[[0.1, 0.2, 0.3, 0.4]])
    with pytest.raises(CapabilityError):
        index.search([0.1, 0.2, 0.3, 0.4])
    client = cluster_config.get_client()
    assert list(client.scan_iter(match=index.prefix + "*")) == []


@pytest.mark.cluster
def test_capabilities_follow_the_client_passed_in_not_the_url(
    config: RedisAgentConfig, redis_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client= cluster is probed as itself, even after the config's URL (a single node
    with search) was probed: it used to get that node's answer and search one shard."""
    assert get_capabilities(config).search and not get_capabilities(config).cluster
    cluster_client = RedisCluster.from_url(redis_cluster.url.partition("?")[0])
    try:
        given = RedisAgentConfig(url=config.url, client=cluster_client, namespace=config.namespace)
        assert get_capabilities(given).cluster
        with pytest.raises(CapabilityError):
            VectorIndex("c", config=given, dims=4).add(["a"], vectors=[[0.1, 0.2, 0.3, 0.4]])
        assert get_capabilities(config).search  # the URL's answer is untouched
        monkeypatch.delenv("REDIS_URL", raising=False)
        alone = RedisAgentConfig(client=cluster_client)
        assert get_capabilities(alone).cluster
        assert alone._resolved_url is None  # no embedded server started for a cache key
    finally:
        cluster_client.close()

    async def probe_async() -> bool:
        async_client = aredis.RedisCluster.from_url(redis_cluster.url.partition("?")[0])
        try:
            given = RedisAgentConfig(url=config.url, async_client=async_client)
            return (await aget_capabilities(given)).cluster
        finally:
            await async_client.aclose()

    assert asyncio.run(probe_async())


def test_server_error_is_not_swallowed(config: RedisAgentConfig) -> None:
    index = make(config, dims=4)
    index.add(["a"], vectors=[[0.1, 0.2, 0.3, 0.4]])
    with pytest.raises(redis.exceptions.ResponseError):
        index._run(["FT.SEARCH", index.index_name, "@year:[abc", "DIALECT", 2])


async def test_many_batches_in_flight(aconfig: RedisAgentConfig, rng: np.random.Generator) -> None:
    index = VectorIndex("many", config=aconfig, dims=8, batch_size=7, write_concurrency=3)
    vectors = clustered(rng, 100, 8)
    ids = [f"m{i}" for i in range(100)]
    assert index.add([f"t{i}" for i in range(100)], ids=ids, vectors=vectors) == ids
    assert await index.aadd(["x"] * 100, ids=ids, vectors=vectors[::-1]) == ids
    assert index.count() == 100
    assert [h.text for h in index.get(["m0", "m99"])] == ["x", "x"]
    assert index.search(vectors[0], 1)[0].id == "m99"  # the async re-add won


async def test_redis_down_async(own_server, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    server, cfg = own_server
    index = VectorIndex("adown", config=cfg, dims=4)
    v = clustered(rng, 2, 4)
    await index.aadd(["a", "b"], ids=["a", "b"], vectors=v)
    server.stop()
    with pytest.raises(RedisUnavailableError):
        await index.asearch(v[0])
    with pytest.raises(RedisUnavailableError):
        await index.aadd(["c"], ids=["c"], vectors=v[:1])
    await cfg.aclose()


def test_to_matrix_matches_numpy_on_lists() -> None:
    from redis_agent_core.vectors.schema import to_matrix

    rows = np.random.default_rng(5).normal(size=(50, 7)).tolist()
    rows[3][2] = 1e-50  # float32 underflow and rounding: the same bits as numpy
    got = to_matrix(rows)
    assert got.dtype == np.float32 and got.shape == (50, 7)
    assert got.tobytes() == np.asarray(rows, dtype=np.float32).tobytes()
    assert np.isinf(to_matrix([[1e39, 0.0]])).any()  # out of range: inf, like numpy
    assert np.isnan(to_matrix([[float("nan"), 0.0]])).any()
    assert to_matrix([[1, 2], [3, 4]]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError):
        to_matrix([[1.0, 2.0], [3.0]])  # ragged: numpy's error, as before


def test_list_vectors_with_nan_or_overflow_write_nothing(config: RedisAgentConfig) -> None:
    index = VectorIndex("listvec", config=config, dims=2)
    for bad in ([[0.1, 0.2], [float("nan"), 0.0]], [[0.1, 0.2], [1e39, 0.0]]):
        with pytest.raises(ConfigError, match="NaN or infinity"):
            index.add(["a", "b"], ids=["a", "b"], vectors=bad)
    assert index.count() == 0
    assert index.add(["a"], ids=["a"], vectors=[[0.6, 0.8]]) == ["a"]
    assert index.get(["a"])[0].text == "a"


def test_ragged_vectors_name_the_dimension_and_write_nothing(config: RedisAgentConfig) -> None:
    # One wrong-size vector among good ones (an embedding API hiccup): a ConfigError
    # naming expected and got, not numpy's "inhomogeneous shape" ValueError.
    index = VectorIndex("ragged", config=config, dims=3)
    for bad in ([[0.1, 0.2, 0.3], [0.1, 0.2]], [np.ones(3), np.ones(4)]):
        with pytest.raises(ConfigError, match=r"expects 3, got 2|expects 3, got 4") as err:
            index.add(["a", "b"], ids=["a", "b"], vectors=bad)
        assert "row 1" in str(err.value) and "nothing was written" in str(err.value)
    assert index.count() == 0


def test_concurrent_adds_from_threads_store_exact_bytes(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    # Several add() calls at once on one index, each with two writer threads and many
    # batches: every stored vector and field must be exactly what its caller sent.
    from concurrent.futures import ThreadPoolExecutor

    dims, per, callers = 8, 120, 4
    index = VectorIndex(
        "conc", config=config, dims=dims, metadata_fields=META, batch_size=16, algorithm="flat"
    )
    data = [clustered(rng, per, dims).astype(np.float64) for _ in range(callers)]

    def add(c: int) -> list[str]:
        ids = [f"c{c}:{i}" for i in range(per)]
        meta = [{"tenant": f"t{c}", "year": i} for i in range(per)]
        return index.add([f"text {c} {i}" for i in range(per)], ids=ids, metadatas=meta,
                         vectors=data[c])  # fmt: skip

    with ThreadPoolExecutor(callers) as pool:
        results = list(pool.map(add, range(callers)))
    assert results == [[f"c{c}:{i}" for i in range(per)] for c in range(callers)]
    assert index.count() == per * callers
    client = config.get_client()
    for c in range(callers):
        assert index.count(F("tenant") == f"t{c}") == per
        for i in (0, per // 2, per - 1):
            key = index.key(f"c{c}:{i}")
            stored = client.hget(key, "embedding")
            assert stored == data[c][i].astype(np.float32).tobytes()
            assert client.hget(key, "year") == str(i).encode()


async def test_concurrent_aadds_store_exact_bytes(
    aconfig: RedisAgentConfig, rng: np.random.Generator
) -> None:
    import asyncio

    dims, per, callers = 8, 90, 4
    index = VectorIndex("aconc", config=aconfig, dims=dims, batch_size=10, algorithm="flat")
    data = [clustered(rng, per, dims) for _ in range(callers)]
    ids = [[f"a{c}:{i}" for i in range(per)] for c in range(callers)]
    got = await asyncio.gather(
        *(index.aadd(["x"] * per, ids=ids[c], vectors=data[c]) for c in range(callers))
    )
    assert got == ids
    assert await index.acount() == per * callers
    client = aconfig.get_async_client()
    for c in range(callers):
        stored = await client.hget(index.key(ids[c][-1]), "embedding")
        assert stored == data[c][-1].tobytes()


@pytest.mark.parametrize(
    "text", ["alpha | beta", "secret) | (*", "what is a|b?", "C++ (and) C#", "-beta ~ @x:{y}"]
)
async def test_text_and_hybrid_queries_with_query_syntax(
    aconfig: RedisAgentConfig, text: str
) -> None:
    # User questions may hold RediSearch syntax; redisvl leaves a bare '|' unescaped
    # (a syntax error) and 'a|b' as an OR. Words are searched as the server indexed
    # them (punctuation splits words), and the filter still holds.
    index = make(aconfig, dims=2)
    index.add(
        ["alpha secret", "beta public b", "gamma c"],
        ids=["a", "b", "c"],
        metadatas=[{"tenant": "x"}, {"tenant": "y"}, {"tenant": "y"}],
        vectors=[[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]],
    )
    only_y = F("tenant") == "y"
    for hits in (
        index.text_search(text, 5, filter=only_y),
        await index.atext_search(text, 5, filter=only_y),
        index.hybrid(text, 5, vector=[1.0, 0.0], filter=only_y),
        await index.ahybrid(text, 5, vector=[1.0, 0.0], filter=only_y),
    ):
        assert {h.id for h in hits} <= {"b", "c"}
    assert {h.id for h in index.text_search("alpha|beta", 5)} == {"a", "b"}


def test_ttl_must_be_positive_seconds_or_none(config: RedisAgentConfig) -> None:
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ConfigError, match="ttl must be a positive int of seconds or None"):
            VectorIndex("ttl", config=config, dims=2, ttl=bad)  # type: ignore[arg-type]
    assert VectorIndex("ttl", config=config, dims=2, ttl=None).ttl is None
    # review 18: Redis refused it in the write batch, after the documents were written
    # (they stayed, never expiring, behind a raw ResponseError)
    with pytest.raises(ConfigError, match="at most 3153600000 seconds"):
        VectorIndex("ttl", config=config, dims=2, ttl=10**20)


@pytest.mark.parametrize("ttl", [None, 300])
def test_packed_writes_match_general_encoding(
    config: RedisAgentConfig, rng: np.random.Generator, ttl: int | None
) -> None:
    """The per-batch RESP fast path stores exactly what the general path stores."""
    fields = {"tag": "tag", "n": "numeric", "loc": "geo", "title": "text"}
    opts: dict = dict(config=config, dims=4, metadata_fields=fields, ttl=ttl, batch_size=2)
    fast = VectorIndex("fast", **opts)
    slow = VectorIndex("slow", **opts)
    metas = [
        {"tag": "a", "n": 1, "loc": (2.35, 48.85), "title": "t", "extra": {"x": [1, 2]}},
        {"tag": ["a", "b"], "n": True, "loc": "2.0,1.0", "title": "ü"},
        {"tag": "", "n": 2.5},  # absent / empty declared fields
        None,
        {1: "non-str key", "tag": 7},
    ]
    texts = ["plain", "ünïcode ✓", "", "x" * 3000, "{braces}"]
    ids = ["i1", "{tagged}", "100%", "with space", "é"]
    v = clustered(rng, len(texts), 4)
    fast.add(texts, ids=ids, metadatas=metas, vectors=v)
    # the general path: every document encoded up front (a non-dict mapping forces it)
    from types import MappingProxyType

    slow.add(texts, ids=ids, metadatas=[MappingProxyType(m or {}) for m in metas], vectors=v)
    client = config.get_client()
    for doc_id in ids:
        a = client.hgetall(fast.key(doc_id))
        b = client.hgetall(slow.key(doc_id))
        assert a == b and a
        assert (client.ttl(fast.key(doc_id)) > 0) == (ttl is not None)
    # re-adding without a declared field removes its old indexed value (HDEL)
    fast.add(["plain"], ids=["i1"], metadatas=[{"n": 3}], vectors=v[:1])
    assert b"tag" not in client.hgetall(fast.key("i1"))
    assert [d.id for d in fast.get(ids)] == ids
    assert fast.get(["i1"])[0].metadata == {"n": 3}
    assert fast.get(["é"])[0].metadata == {"1": "non-str key", "tag": 7}


@pytest.mark.parametrize(
    ("texts", "bad_meta", "match"),
    [
        (None, {"o": object()}, "JSON-serialisable"),
        # a datetime was stored as an ISO string and read back as a str
        (None, {"published": datetime.datetime(2024, 1, 1)}, r"isoformat\(\)"),
        (None, {"tenant": {"not": "a tag"}}, "tag field"),
        (None, {"year": float("nan")}, "numeric field"),
        (["ok"] * 9 + [b"bytes"], {}, "texts must be str"),
    ],
)
def test_bad_last_document_of_many_batches_writes_nothing(
    config: RedisAgentConfig, rng: np.random.Generator, texts: Any, bad_meta: Any, match: str
) -> None:
    index = make(config, batch_size=2)
    metas = [{"tenant": "t", "year": 1}] * 9 + [bad_meta]
    with pytest.raises(ConfigError, match=match):
        index.add(
            texts or ["ok"] * 10,
            ids=[f"d{i}" for i in range(10)],
            metadatas=metas,
            vectors=clustered(rng, 10, 16),
        )
    assert index.get([f"d{i}" for i in range(10)]) == []


# -- pipelined batches return their pooled connection on every path --
def test_error_mid_batch_returns_the_connection_disconnected(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = VectorIndex("midway", config=config, dims=4)
    v = clustered(rng, 3, 4)
    index.add(["a"], ids=["d0"], vectors=v[:1])
    client = config.get_client()
    client.set(index.key("d1"), "not a hash")  # its HSET answers WRONGTYPE mid-batch
    pool = client.connection_pool
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        index.add(["a", "b", "c"], ids=["d0", "d1", "d2"], vectors=v)
    assert not pool._in_use_connections  # type: ignore[attr-defined]
    # d2's reply was never read: that connection went back disconnected, not reused as is
    assert any(c._sock is None for c in pool._available_connections)  # type: ignore[attr-defined]
    index.add(["a", "x", "c"], ids=["d0", "dx", "d2"], vectors=v)  # no stray reply is read
    assert [h.text for h in index.get(["d0", "dx", "d2"])] == ["a", "x", "c"]


async def test_error_mid_batch_returns_the_connection_disconnected_async(
    aconfig: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = VectorIndex("amidway", config=aconfig, dims=4)
    v = clustered(rng, 3, 4)
    await index.aadd(["a"], ids=["d0"], vectors=v[:1])
    client = aconfig.get_async_client()
    await client.set(index.key("d1"), "not a hash")
    pool = client.connection_pool
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        await index.aadd(["a", "b", "c"], ids=["d0", "d1", "d2"], vectors=v)
    assert not pool._in_use_connections  # type: ignore[attr-defined]
    assert any(not c.is_connected for c in pool._available_connections)  # type: ignore[attr-defined]
    await index.aadd(["a", "x", "c"], ids=["d0", "dx", "d2"], vectors=v)
    assert [h.text for h in await index.aget(["d0", "dx", "d2"])] == ["a", "x", "c"]


def test_timeout_mid_reply_returns_the_connection(own_server, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    server, cfg = own_server
    index = VectorIndex("stalled", config=cfg, dims=4)
    v = clustered(rng, 2, 4)
    index.add(["a"], ids=["a"], vectors=v[:1])
    pool = cfg.get_client().connection_pool
    admin = redis.Redis.from_url(server.url)
    admin.client_pause(5000, all=False)  # writes wait: the reply outlasts socket_timeout
    try:
        with pytest.raises(RedisUnavailableError):
            index.add(["b"], ids=["b"], vectors=v[1:])
    finally:
        admin.client_unpause()
        admin.close()
    assert not pool._in_use_connections  # type: ignore[attr-defined]
    assert all(c._sock is None for c in pool._available_connections)  # type: ignore[attr-defined]
    index.add(["c"], ids=["c"], vectors=v[:1])
    assert [h.text for h in index.get(["a", "c"])] == ["a", "c"]


async def test_cancelled_aadd_returns_the_connection(own_server, rng: np.random.Generator) -> None:  # type: ignore[no-untyped-def]
    server, cfg = own_server
    index = VectorIndex("cancelled", config=cfg, dims=4)
    v = clustered(rng, 2, 4)
    await index.aadd(["a"], ids=["a"], vectors=v[:1])
    pool = cfg.get_async_client().connection_pool
    admin = redis.Redis.from_url(server.url)
    admin.client_pause(5000, all=False)  # writes wait: aadd is cancelled mid-read
    try:
        task = asyncio.create_task(index.aadd(["b"], ids=["b"], vectors=v[1:]))
        await asyncio.sleep(0.3)
        assert len(pool._in_use_connections) == 1  # type: ignore[attr-defined]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        admin.client_unpause()
        admin.close()
    assert not pool._in_use_connections  # type: ignore[attr-defined]
    assert not any(c.is_connected for c in pool._available_connections)  # type: ignore[attr-defined]
    await index.aadd(["c"], ids=["c"], vectors=v[:1])
    assert [h.text for h in await index.aget(["a", "c"])] == ["a", "c"]
    await cfg.aclose()


def _opened_without_fields(config: RedisAgentConfig, rng: np.random.Generator) -> VectorIndex:
    fill(make(config), rng, 3)  # the index has tenant (tag), year (numeric), title (text)
    return VectorIndex("docs", config=config, dims=16, metadata_fields={"year": "numeric"})


def _assert_names_both_schemas(err: pytest.ExceptionInfo[SchemaMismatchError]) -> None:
    message = str(err.value)
    assert "'tenant'" in message and "index" in message
    assert "'tenant': 'tag'" in message and "'title': 'text'" in message  # the index's
    assert "{'year': 'numeric'}" in message  # the store's
    assert "from_existing" in message and "metadata_fields=" in message  # the fix
    assert isinstance(err.value, FilterFieldMismatchError)  # a FilterError too


def test_filter_on_a_field_only_the_index_has_names_the_schema_mismatch(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    # It said "Declare it with metadata_fields when creating the index": the index has it.
    index = _opened_without_fields(config, rng)
    for call in (
        lambda: index.search(rng.normal(size=16), filter=F("tenant") == "t0"),
        lambda: index.find(F("tenant") == "t0"),
        lambda: index.count({"tenant": "t0"}),
        lambda: index.delete_by_filter(F("tenant") == "t0"),
    ):
        with pytest.raises(SchemaMismatchError) as err:
            call()
        _assert_names_both_schemas(err)
    assert make(config).count() == 3  # nothing deleted
    with pytest.raises(FilterError, match="Declare it with metadata_fields"):
        index.find(F("colour") == "red")  # in neither: the store's wording stays


async def test_async_filter_on_a_field_only_the_index_has_names_the_schema_mismatch(
    aconfig: RedisAgentConfig, rng: np.random.Generator
) -> None:
    index = _opened_without_fields(aconfig, rng)
    with pytest.raises(SchemaMismatchError) as err:
        await index.asearch(rng.normal(size=16), filter=F("tenant") == "t0")
    _assert_names_both_schemas(err)
    with pytest.raises(SchemaMismatchError) as err:
        await index.adelete_by_filter(F("tenant") == "t0")
    _assert_names_both_schemas(err)
    assert await make(aconfig).acount() == 3
