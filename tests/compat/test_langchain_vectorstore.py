"""Coming from langchain-redis: a RedisVectorStore built with langchain-redis's
arguments behaves as its users expect (keys under their prefix, the metadata schema
they declared, range queries by distance, keys returned by from_texts), and what the
pack cannot honour raises instead of being ignored."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis
from langchain_core.embeddings import Embeddings
from redisvl.query import VectorQuery
from redisvl.schema import IndexSchema

from langchain_redis_agent import RedisVectorStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError


class AngleEmbeddings(Embeddings):
    """Texts "a0".."a90" become 2-d unit vectors at that many degrees: distances are
    known in advance (cosine distance of a0 and aN is 1 - cos N°)."""

    def _vec(self, text: str) -> list[float]:
        angle = math.radians(float(text.split()[0][1:]))
        return [math.cos(angle), math.sin(angle)]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


TEXTS = ["a0 red", "a10 green", "a40 blue", "a80 red"]
META = [
    {"colour": "Red", "year": 2020},
    {"colour": "green", "year": 2021},
    {"colour": "blue", "year": 2022},
    {"colour": "red", "year": 2023},
]


@pytest.fixture
def peer_style(config: RedisAgentConfig, redis_url: str, namespace: str) -> RedisVectorStore:
    return RedisVectorStore(
        AngleEmbeddings(),
        index_name="docs",
        redis_url=redis_url,
        config=config,  # the namespace of this test; redis_url= replaces its URL
        key_prefix=f"{namespace}:mine",
        metadata_schema=[{"name": "colour", "type": "tag"}, {"name": "year", "type": "numeric"}],
        distance_metric="COSINE",
        indexing_algorithm="FLAT",
    )


def test_keys_live_under_the_given_prefix(
    peer_style: RedisVectorStore, redis_client: redis.Redis, namespace: str
) -> None:
    ids = peer_style.add_texts(TEXTS, META, keys=["k0", "k1", "k2", "k3"])
    assert ids == ["k0", "k1", "k2", "k3"]
    assert redis_client.exists(*(f"{namespace}:mine:k{i}" for i in range(4))) == 4
    assert peer_style.key_prefix == f"{namespace}:mine"
    assert [d.id for d in peer_style.get_by_ids(["k2"])] == ["k2"]
    # the prefix is read back from the server by from_existing_index
    again = RedisVectorStore.from_existing_index(
        "docs", AngleEmbeddings(), config=peer_style.index.config
    )
    assert again.key_prefix == f"{namespace}:mine"
    assert again.similarity_search("a1", k=1)[0].id == "k0"


def test_metadata_schema_tags_are_case_insensitive_as_in_redisvl(
    peer_style: RedisVectorStore,
) -> None:
    peer_style.add_texts(TEXTS, META)
    found = peer_style.similarity_search("a0", k=4, filter={"colour": "RED"})
    assert sorted(d.page_content for d in found) == ["a0 red", "a80 red"]
    found = peer_style.similarity_search("a0", k=4, filter={"year": {"$gte": 2022}})
    assert sorted(d.metadata["year"] for d in found) == [2022, 2023]


def test_distance_threshold_is_a_range_query(peer_style: RedisVectorStore) -> None:
    peer_style.add_texts(TEXTS, META, ids=["0", "10", "40", "80"])
    # cosine distance to a0: 0, 0.015, 0.234, 0.826
    found = peer_style.similarity_search_with_score("a0", k=4, distance_threshold=0.25)
    assert [d.id for d, _ in found] == ["0", "10", "40"]
    assert found[2][1] == pytest.approx(1 - math.cos(math.radians(40)), abs=1e-5)
    assert peer_style.similarity_search("a0", k=4, distance_threshold=0.01)[0].id == "0"
    with pytest.raises(ConfigError, match="not both"):
        peer_style.similarity_search("a0", distance_threshold=0.1, score_threshold=0.9)


async def test_distance_threshold_async(peer_style: RedisVectorStore) -> None:
    await peer_style.aadd_texts(TEXTS, META, keys=["0", "10", "40", "80"])
    found = await peer_style.asimilarity_search("a0", k=4, distance_threshold=0.25)
    assert [d.id for d in found] == ["0", "10", "40"]


def test_with_vectors_and_return_metadata(peer_style: RedisVectorStore) -> None:
    peer_style.add_texts(TEXTS, META, ids=["0", "10", "40", "80"])
    doc, distance, vector = peer_style.similarity_search_with_score("a0", k=1, with_vectors=True)[0]
    assert doc.id == "0" and distance == pytest.approx(0, abs=1e-6)
    assert vector == pytest.approx([1.0, 0.0], abs=1e-6)
    bare = peer_style.similarity_search("a0", k=1, return_metadata=False, return_all=True)
    assert bare[0].metadata == {}


def test_from_texts_return_keys(config: RedisAgentConfig) -> None:
    store, keys = RedisVectorStore.from_texts(
        TEXTS, AngleEmbeddings(), META, keys=["x", "y", "z", "w"], return_keys=True,
        config=config, index_name="ft",
    )  # fmt: skip
    assert keys == ["x", "y", "z", "w"]
    assert store.similarity_search("a39", k=1)[0].id == "z"


SCHEMA = {
    "index": {"name": "from_schema", "prefix": "PLACEHOLDER", "storage_type": "json"},
    "fields": [
        {"name": "text", "type": "text"},
        {"name": "genre", "type": "tag", "attrs": {"case_sensitive": True}},
        {
            "name": "vec",
            "type": "vector",
            "attrs": {"dims": 2, "algorithm": "flat", "distance_metric": "cosine"},
        },
    ],
}


def _schema(namespace: str) -> dict:
    return {**SCHEMA, "index": {**SCHEMA["index"], "prefix": f"{namespace}:s"}}


def test_redisvl_schema_object_dict_and_yaml(
    config: RedisAgentConfig, namespace: str, tmp_path: Path, redis_client: redis.Redis
) -> None:
    schema = IndexSchema.from_dict(_schema(namespace))
    path = tmp_path / "schema.yaml"
    schema.to_yaml(str(path))
    for store in (
        RedisVectorStore(AngleEmbeddings(), schema=schema, config=config),
        RedisVectorStore(AngleEmbeddings(), index_schema=_schema(namespace), config=config),
        RedisVectorStore(AngleEmbeddings(), schema_path=str(path), config=config),
        RedisVectorStore.from_yaml(str(path), AngleEmbeddings(), config=config),
        RedisVectorStore.from_schema(schema, AngleEmbeddings(), config=config),
    ):
        index = store.index
        assert (index.name, index.prefix) == ("from_schema", f"{namespace}:s:")
        assert index.schema.storage == "json" and index.schema.vector_field == "vec"
        assert [(f.name, f.type, f.case_sensitive) for f in index.schema.metadata_fields] == [
            ("genre", "tag", True)
        ]
    store.add_texts(["a0 x", "a50 y"], [{"genre": "Jazz"}, {"genre": "jazz"}], ids=["p", "q"])
    assert redis_client.exists(f"{namespace}:s:p") == 1
    assert [d.id for d in store.similarity_search("a50", k=2, filter={"genre": "Jazz"})] == ["p"]


def test_as_redisvl_index_runs_redisvl_queries(peer_style: RedisVectorStore) -> None:
    peer_style.add_texts(TEXTS, META, ids=["0", "10", "40", "80"])
    index = peer_style.as_redisvl_index()
    rows = index.query(VectorQuery([1.0, 0.0], "embedding", return_fields=["text"], num_results=2))
    assert [r["text"] for r in rows] == ["a0 red", "a10 green"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadata_schema": [{"name": "v", "type": "vector"}]}, "use tag, text"),
        ({"metadata_schema": [{"name": "t", "type": "text", "attrs": {"no_stem": True}}]},
         "no_stem"),
        ({"metadata_schema": [{"name": "t", "type": "tag"}], "metadata_fields": {"t": "tag"}},
         "not both"),
        ({"schema": SCHEMA, "schema_path": "x.yaml"}, "one of"),
        ({"distance_metric": "cosine", "metric": "l2"}, "not both"),
        ({"vector_datatype": "FLOAT64"}, "dtype"),
        ({"legacy_key_format": False}, "legacy_key_format"),
    ],
)  # fmt: skip
def test_what_cannot_be_honoured_raises(
    config: RedisAgentConfig, kwargs: dict, message: str
) -> None:
    with pytest.raises((ConfigError, TypeError), match=message):
        RedisVectorStore(AngleEmbeddings(), config=config, **kwargs)


def test_redis_client_is_used_for_sync_and_async(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    store = RedisVectorStore(
        AngleEmbeddings(), redis_client=client, key_prefix=f"{namespace}:rc",
        index_name=f"{namespace}rc", algorithm="flat",
    )  # fmt: skip
    try:
        assert store.index.config.get_client() is client
        store.add_texts(["a0 one"], ids=["one"])
        assert client.exists(f"{namespace}:rc:one") == 1

        async def search() -> list[str]:
            docs = await store.asimilarity_search("a0", k=1)
            await store.index.config.aclose()
            return [d.id for d in docs if d.id]

        import asyncio

        assert asyncio.run(search()) == ["one"]
    finally:
        store.index.drop()
        client.close()


async def test_mmr_with_a_decoding_redis_client(redis_url: str, namespace: str) -> None:
    # langchain-redis users often build their client with decode_responses=True: MMR
    # reads the raw vectors (a0 is 1.0, 0.0: not UTF-8) and used to raise
    # UnicodeDecodeError
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    aclient = aredis.Redis.from_url(redis_url, decode_responses=True)

    def make(c: redis.Redis | aredis.Redis) -> RedisVectorStore:
        return RedisVectorStore(AngleEmbeddings(), redis_client=c, key_prefix=f"{namespace}:dc",
                                index_name=f"{namespace}dc", algorithm="flat", dims=2)  # fmt: skip

    stores = [make(client)]
    try:
        stores[0].add_texts(["a0 x", "a1 near duplicate", "a40 y"], ids=["x", "dup", "y"])
        mmr = stores[0].max_marginal_relevance_search("a0", k=2, fetch_k=3, lambda_mult=0.3)
        assert [d.id for d in mmr] == ["x", "y"]
        stores.append(make(aclient))  # an asyncio client given as redis_client=
        for store in stores:
            found = await store.amax_marginal_relevance_search(
                "a0", k=2, fetch_k=3, lambda_mult=0.3
            )
            assert [d.id for d in found] == ["x", "y"]
    finally:
        stores[0].index.drop()
        client.close()
        await aclient.aclose()


def test_a_langchain_redis_config_is_read(redis_url: str, namespace: str) -> None:
    langchain_redis = pytest.importorskip("langchain_redis")
    peer = langchain_redis.RedisConfig(
        index_name=f"{namespace}cfg", key_prefix=f"{namespace}:cfg", redis_url=redis_url,
        indexing_algorithm="FLAT", embedding_dimensions=2,
        metadata_schema=[{"name": "colour", "type": "tag"}],
    )  # fmt: skip
    store = RedisVectorStore(AngleEmbeddings(), config=peer)
    try:
        assert store.key_prefix == f"{namespace}:cfg"
        assert store.index.schema.algorithm == "flat" and store.index.schema.dims == 2
        store.add_texts(TEXTS, META, keys=["0", "10", "40", "80"])
        assert store.similarity_search("a0", k=1, filter={"colour": "red"})[0].id == "0"
        existing = langchain_redis.RedisConfig(
            index_name=f"{namespace}cfg", redis_url=redis_url, from_existing=True
        )
        again = RedisVectorStore(AngleEmbeddings(), config=existing)
        assert again.similarity_search("a40", k=1)[0].id == "40"
        with pytest.raises(ConfigError, match="legacy_key_format"):
            RedisVectorStore(AngleEmbeddings(), config=langchain_redis.RedisConfig(
                index_name="x", legacy_key_format=True))  # fmt: skip
        with pytest.raises(ConfigError, match="not both"):
            RedisVectorStore(AngleEmbeddings(), config=peer, key_prefix="other")
    finally:
        store.index.drop()


async def test_code_written_for_redisvl_index_keeps_working(
    peer_style: RedisVectorStore,
) -> None:
    """langchain-redis users count with store.index.query(CountQuery(...)), reach the
    client with store.index.client, and clean up with store.index.delete(drop=True)."""
    from redisvl.query import CountQuery
    from redisvl.query.filter import FilterExpression

    peer_style.add_texts(TEXTS, META)
    assert peer_style.index.query(CountQuery(FilterExpression("*"))) == 4
    assert await peer_style.index.aquery(CountQuery(FilterExpression("*"))) == 4
    assert peer_style.index.client.exists(peer_style.index.key("nope")) == 0
    with pytest.raises(ConfigError, match="drop=True/False"):
        peer_style.index.delete()
    peer_style.index.delete(drop=True)
    assert not peer_style.index.exists()
    assert peer_style.index.client.keys(peer_style.key_prefix + ":*") == []
