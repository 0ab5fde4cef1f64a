"""Coming from llama-index-vector-stores-redis: a RedisVectorStore built with its
arguments (schema=, overwrite=, redis_url=/redis_client=) keeps its users' keys,
fields and calls working, takes its dimension from the data when none is given, and
accepts what the peer accepted (float64 embeddings, numeric strings)."""

from __future__ import annotations

import numpy as np
import pytest
import redis
import redis.asyncio as aredis
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from redisvl.schema import IndexSchema

from llamaindex_redis_agent import RedisVectorStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, SchemaMismatchError


def node(node_id: str, vector: list[float], doc: str, **metadata: object) -> TextNode:
    return TextNode(
        id_=node_id, text=f"text of {node_id}", embedding=vector, metadata=metadata,
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=doc)},
    )  # fmt: skip


NODES = [
    node("n1", [1.0, 0.0, 0.0], "d1", genre="jazz", year=1959),
    node("n2", [0.9, 0.1, 0.0], "d1", genre="rock", year=1971),
    node("n3", [0.0, 1.0, 0.0], "d2", genre="jazz", year=2001),
]


def peer_schema(namespace: str, dims: int = 3) -> IndexSchema:
    """The layout llama-index-vector-stores-redis users declare: id, doc_id, text,
    vector, plus their filter fields; keys are prefix + "_" + node id."""
    return IndexSchema.from_dict({
        "index": {"name": "li_peer", "prefix": f"{namespace}:vector", "key_separator": "_"},
        "fields": [
            {"name": "id", "type": "tag"},
            {"name": "doc_id", "type": "tag"},
            {"name": "text", "type": "text"},
            {"name": "genre", "type": "tag"},
            {"name": "year", "type": "numeric"},
            {"name": "vector", "type": "vector",
             "attrs": {"dims": dims, "algorithm": "flat", "distance_metric": "cosine"}},
        ],
    })  # fmt: skip


def ids(result: object) -> list[str]:
    return list(result.ids or [])  # type: ignore[attr-defined]


def test_schema_keys_fields_and_ref_doc_delete(
    config: RedisAgentConfig, namespace: str, redis_client: redis.Redis
) -> None:
    store = RedisVectorStore(schema=peer_schema(namespace), config=config)
    assert store.add(NODES) == ["n1", "n2", "n3"]
    assert redis_client.exists(f"{namespace}:vector_n1") == 1
    jazz = MetadataFilters(filters=[MetadataFilter(key="genre", value="jazz")])
    found = store.query(VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=3,
                                         filters=jazz))  # fmt: skip
    assert ids(found) == ["n1", "n3"]
    recent = MetadataFilters(
        filters=[MetadataFilter(key="year", value=2000, operator=FilterOperator.GTE)]
    )
    assert [n.node_id for n in store.get_nodes(filters=recent)] == ["n3"]
    store.delete(["d1"])  # a list of source documents, as well as one id
    assert [n.node_id for n in store.get_nodes(filters=jazz)] == ["n3"]
    store.delete("d2")
    assert store.get_nodes(filters=jazz) == []
    # the schema given positionally, as the peer's first argument
    assert RedisVectorStore(peer_schema(namespace), config=config).index.prefix == (
        f"{namespace}:vector_"
    )


def test_overwrite_drops_the_index_and_its_documents_at_the_first_call(
    config: RedisAgentConfig, namespace: str
) -> None:
    RedisVectorStore(schema=peer_schema(namespace), config=config).add(NODES)
    kept = RedisVectorStore(schema=peer_schema(namespace), config=config)
    assert len(kept.get_nodes(node_ids=["n1", "n2", "n3"])) == 3
    fresh = RedisVectorStore(schema=peer_schema(namespace), config=config, overwrite=True)
    assert fresh.get_nodes(node_ids=["n1", "n2", "n3"]) == []
    fresh.add(NODES[:1])
    assert [n.node_id for n in fresh.get_nodes(node_ids=["n1", "n2"])] == ["n1"]


async def test_delete_index_forms(config: RedisAgentConfig, namespace: str) -> None:
    store = RedisVectorStore(schema=peer_schema(namespace), config=config)
    await store.async_add(NODES)
    assert await store.async_index_exists()
    await store.adelete_index()
    assert not await store.async_index_exists()
    await store.async_create_index()
    assert await store.async_index_exists()
    await store.async_delete_index()
    store.create_index()
    assert store.index_exists()
    store.delete_index()
    assert not store.index_exists()


def test_dimension_from_the_first_write_then_from_the_server(config: RedisAgentConfig) -> None:
    wide = [node(f"w{i}", list(np.eye(1536)[i]), "d") for i in range(3)]
    store = RedisVectorStore("wide", config=config)  # no dims, no embed_model
    empty = store.query(VectorStoreQuery(query_embedding=list(np.eye(1536)[0]), similarity_top_k=2))
    assert ids(empty) == []
    assert store.add(wide) == ["w0", "w1", "w2"]  # 1536-d: no 384 vs 1536 mismatch
    again = RedisVectorStore("wide", config=config)
    assert again.index.schema.dims == 1536
    hit = again.query(VectorStoreQuery(query_embedding=list(np.eye(1536)[1]), similarity_top_k=1))
    assert ids(hit) == ["w1"]
    with pytest.raises(SchemaMismatchError, match="dims"):  # the stored index says 1536
        RedisVectorStore("wide", config=config, dims=384).add([node("z", [1.0] * 384, "d")])


async def test_dimension_from_the_first_write_async(config: RedisAgentConfig) -> None:
    store = RedisVectorStore("wide_async", config=config)
    assert await store.async_add([node("a", [0.0] * 7 + [1.0], "d")]) == ["a"]
    found = await store.aquery(VectorStoreQuery(query_embedding=[0.0] * 7 + [1.0]))
    assert ids(found) == ["a"] and store.index.schema.dims == 8


def test_float64_embeddings_and_numeric_strings(config: RedisAgentConfig) -> None:
    store = RedisVectorStore("prices", config=config, dims=3, metadata_fields={"price": "numeric"},
                             algorithm="flat")  # fmt: skip
    vectors = np.random.default_rng(1).normal(size=(2, 3)).astype(np.float64)
    store.add([
        TextNode(id_="cheap", text="cheap", embedding=vectors[0].tolist(),
                 metadata={"price": "250"}),
        TextNode(id_="dear", text="dear", embedding=list(vectors[1]),  # numpy float64 items
                 metadata={"price": " 25000 "}),
    ])  # fmt: skip
    over = MetadataFilters(
        filters=[MetadataFilter(key="price", value=1000, operator=FilterOperator.GT)]
    )
    dear = store.get_nodes(filters=over)
    assert [n.node_id for n in dear] == ["dear"]
    assert dear[0].metadata["price"] == " 25000 "  # the metadata comes back as given
    with pytest.raises(ConfigError, match="numeric string"):
        store.add([TextNode(id_="x", text="x", embedding=[1.0, 0, 0], metadata={"price": "a lot"})])


def test_connection_arguments(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url)
    aclient = aredis.Redis.from_url(redis_url)
    try:
        store = RedisVectorStore(
            schema=peer_schema(namespace), redis_client=client, redis_client_async=aclient
        )
        config = store.index.config
        assert config.get_client() is client and config.async_client is aclient
        by_url = RedisVectorStore(schema=peer_schema(namespace), redis_url=redis_url)
        assert by_url.index.config.resolve_url() == redis_url
        with pytest.raises(ConfigError, match="sync client"):
            RedisVectorStore(redis_client=aclient, redis_client_async=client)
    finally:
        client.close()


async def test_mmr_with_a_decoding_redis_client(redis_url: str, namespace: str) -> None:
    # the peer's users often pass decode_responses=True clients: MMR reads the raw
    # vectors (1.0 is 00 00 80 3f, not UTF-8) and used to raise UnicodeDecodeError
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    aclient = aredis.Redis.from_url(redis_url, decode_responses=True)
    store = RedisVectorStore(
        schema=peer_schema(namespace), redis_client=client, redis_client_async=aclient
    )
    try:
        store.add(NODES)
        query = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0], similarity_top_k=2,
                                 mode="mmr", mmr_threshold=0.3)  # fmt: skip
        assert store.query(query).ids == ["n1", "n3"]
        assert (await store.aquery(query)).ids == ["n1", "n3"]
    finally:
        store.index.drop()
        client.close()
        await aclient.aclose()


def test_node_ids_come_back_exactly(config: RedisAgentConfig) -> None:
    """An id sharing characters with the key prefix is returned and stored unchanged."""
    schema = IndexSchema.from_dict({
        "index": {"name": "sc", "prefix": f"{config.namespace}:semantic_cache_doc"},
        "fields": [{"name": "text", "type": "text"},
                   {"name": "vector", "type": "vector", "attrs": {"dims": 4, "algorithm": "flat"}}],
    })  # fmt: skip
    store = RedisVectorStore(schema=schema, config=config)
    node_id = "e7b95ae7-6369-404d-8287-1f4504121563"
    assert store.add([TextNode(id_=node_id, text="x", embedding=[0.1, 0.2, 0.3, 0.4])]) == [node_id]
    assert [n.node_id for n in store.get_nodes(node_ids=[node_id])] == [node_id]


async def test_adding_nothing_touches_nothing() -> None:
    store = RedisVectorStore(redis_url="redis://127.0.0.1:1")  # nothing listens there
    assert await store.async_add([]) == [] and store.add([]) == []


def test_float16_schema(config: RedisAgentConfig, namespace: str) -> None:
    schema = peer_schema(namespace).to_dict()
    schema["fields"][-1]["attrs"]["datatype"] = "float16"
    store = RedisVectorStore(schema=schema, config=config)
    store.add(NODES)
    found = store.query(VectorStoreQuery(query_embedding=[0.0, 1.0, 0.0], similarity_top_k=1))
    assert ids(found) == ["n3"] and store.index.schema.dtype == "float16"


def test_a_schema_without_a_vector_field_is_refused(config: RedisAgentConfig) -> None:
    schema = {"index": {"name": "novec", "prefix": "novec"},
              "fields": [{"name": "text", "type": "text"}]}  # fmt: skip
    with pytest.raises(ConfigError, match="exactly one vector field"):
        RedisVectorStore(schema=schema, config=config)


async def test_a_query_of_filters_only_returns_the_nodes_they_match(
    config: RedisAgentConfig,
) -> None:
    """run-llama/llama_index#20359: the peer answers a query with filters and no
    embedding (a metadata lookup); it raised here."""
    store = RedisVectorStore("lookup", config=config, dims=3, algorithm="flat",
                             metadata_fields={"genre": "tag", "year": "numeric"})  # fmt: skip
    store.add(NODES)
    jazz = MetadataFilters(filters=[MetadataFilter(key="genre", value="jazz")])
    found = store.query(VectorStoreQuery(filters=jazz, similarity_top_k=5))
    assert sorted(ids(found)) == ["n1", "n3"] and found.similarities == [1.0, 1.0]
    assert sorted(n.metadata["year"] for n in found.nodes or []) == [1959, 2001]
    few = await store.aquery(VectorStoreQuery(filters=jazz, similarity_top_k=1))
    assert len(ids(few)) == 1 and ids(few)[0] in ("n1", "n3")
    with pytest.raises(ConfigError, match="needs query_embedding"):  # nothing to match on
        store.query(VectorStoreQuery(similarity_top_k=5))
