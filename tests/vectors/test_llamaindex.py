"""LlamaIndex RedisVectorStore: nodes, every filter operator and condition, query modes,
and a VectorStoreIndex query engine over the default embedding model."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from llamaindex_redis_agent import MiniLMEmbedding, RedisVectorStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import SentenceTransformerEmbedder
from redis_agent_core.errors import CapabilityError, ConfigError
from redis_agent_core.server import EmbeddedRedis

DIMS = 4
FIELDS = {"author": "tag", "year": "numeric", "tags": "tag", "summary": "text", "note": "tag"}


def node(i: int, **meta: object) -> TextNode:
    vec = [1.0, i / 10, (i % 3) / 10, 0.1]
    return TextNode(id_=f"n{i}", text=f"node text {i}", embedding=vec, metadata=meta)


@pytest.fixture(params=["hash", "json"])
def store(config: RedisAgentConfig, request: pytest.FixtureRequest) -> RedisVectorStore:
    return _filled_store(config, request.param)


def _filled_store(config: RedisAgentConfig, storage: str) -> RedisVectorStore:
    store = RedisVectorStore(
        "li", config=config, dims=DIMS, metadata_fields=FIELDS, storage=storage
    )
    nodes = [
        node(0, author="ann", year=2001, tags=["a", "b"], summary="Quick Brown fox", note="x"),
        node(1, author="bob", year=2002, tags=["b"], summary="lazy dog sleeps"),
        node(2, author="ann", year=2003, tags=["c"], summary="brown bear", note="Hello World"),
        node(3, author="cy", year=2004, tags=[], summary="no tags here"),
    ]
    for i, n in enumerate(nodes):
        n.relationships = {}
        if i < 2:
            from llama_index.core.schema import NodeRelationship, RelatedNodeInfo

            n.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id="docA")
    assert store.add(nodes) == ["n0", "n1", "n2", "n3"]
    return store


def ids(store: RedisVectorStore, filters: MetadataFilters, k: int = 10) -> set[str]:
    q = VectorStoreQuery(query_embedding=[1.0, 0.0, 0.0, 0.1], similarity_top_k=k, filters=filters)
    return set(store.query(q).ids or [])


def one(key: str, op: FilterOperator, value: object) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, operator=op, value=value)])


@pytest.mark.parametrize(
    ("key", "op", "value", "expected"),
    [
        ("author", FilterOperator.EQ, "ann", {"n0", "n2"}),
        ("author", FilterOperator.NE, "ann", {"n1", "n3"}),
        ("year", FilterOperator.GT, 2002, {"n2", "n3"}),
        ("year", FilterOperator.LT, 2002, {"n0"}),
        ("year", FilterOperator.GTE, 2003, {"n2", "n3"}),
        ("year", FilterOperator.LTE, 2001, {"n0"}),
        ("author", FilterOperator.IN, ["bob", "cy"], {"n1", "n3"}),
        ("author", FilterOperator.NIN, ["bob", "cy"], {"n0", "n2"}),
        ("tags", FilterOperator.ANY, ["a", "c"], {"n0", "n2"}),
        ("tags", FilterOperator.ALL, ["a", "b"], {"n0"}),
        ("tags", FilterOperator.CONTAINS, "b", {"n0", "n1"}),
        ("note", FilterOperator.TEXT_MATCH, "llo Wor", {"n2"}),
        ("note", FilterOperator.TEXT_MATCH, "hello", set()),
        ("summary", FilterOperator.TEXT_MATCH, "brown", {"n0", "n2"}),
        ("summary", FilterOperator.TEXT_MATCH_INSENSITIVE, "BROWN", {"n0", "n2"}),
        ("tags", FilterOperator.IS_EMPTY, None, {"n3"}),
        ("note", FilterOperator.IS_EMPTY, None, {"n1", "n3"}),
        ("year", FilterOperator.IN, [2001, 2004], {"n0", "n3"}),
    ],
)
def test_every_operator(
    store: RedisVectorStore, key: str, op: FilterOperator, value: object, expected: set[str]
) -> None:
    assert ids(store, one(key, op, value)) == expected


def test_conditions_nested_and_not(store: RedisVectorStore) -> None:
    ann = MetadataFilter(key="author", value="ann")
    late = MetadataFilter(key="year", operator=FilterOperator.GTE, value=2003)
    assert ids(store, MetadataFilters(filters=[ann, late])) == {"n2"}
    assert ids(store, MetadataFilters(filters=[ann, late], condition=FilterCondition.OR)) == {
        "n0",
        "n2",
        "n3",
    }
    # NOT means "none of these match" (the peer store turns it into OR).
    assert ids(store, MetadataFilters(filters=[ann, late], condition=FilterCondition.NOT)) == {"n1"}
    nested = MetadataFilters(
        filters=[
            MetadataFilter(key="tags", operator=FilterOperator.CONTAINS, value="b"),
            MetadataFilters(filters=[ann], condition=FilterCondition.NOT),
        ]
    )
    assert ids(store, nested) == {"n1"}


@pytest.mark.parametrize("condition", list(FilterCondition))
def test_an_empty_filter_list_is_no_filter(
    store: RedisVectorStore, condition: FilterCondition
) -> None:
    # as in SimpleVectorStore: OR over [] matched nothing
    assert ids(store, MetadataFilters(filters=[], condition=condition)) == {"n0", "n1", "n2", "n3"}


def test_numbers_in_a_tag_field_compare_as_numbers(config: RedisAgentConfig) -> None:
    # a float is indexed as str(): 1.0 as "1.0", which a filter for 1 did not find
    store = RedisVectorStore("li_num", config=config, dims=DIMS, metadata_fields={"n": "tag"})
    values = {"a": 1.0, "b": 1, "c": 0.0, "d": [2, 3.5], "e": 2**60 + 1}
    store.add([TextNode(id_=k, text=k, embedding=[1.0, 0, 0, 0], metadata={"n": v})
               for k, v in values.items()])  # fmt: skip
    eq, ne, in_, nin = FilterOperator.EQ, FilterOperator.NE, FilterOperator.IN, FilterOperator.NIN
    assert ids(store, one("n", eq, 1)) == ids(store, one("n", eq, 1.0)) == {"a", "b"}
    assert ids(store, one("n", eq, 0)) == ids(store, one("n", eq, -0.0)) == {"c"}
    assert ids(store, one("n", FilterOperator.CONTAINS, 2.0)) == {"d"}
    assert ids(store, one("n", FilterOperator.ALL, [2.0, 3.5])) == {"d"}
    assert ids(store, one("n", in_, [0, 3.5])) == {"c", "d"}
    assert ids(store, one("n", ne, 1.0)) == ids(store, one("n", nin, [1])) == {"c", "d", "e"}
    assert ids(store, one("n", eq, 2**60 + 1)) == {"e"}
    assert ids(store, one("n", eq, 2**60)) == set()  # not a float's neighbour


def test_unknown_field_and_injection(store: RedisVectorStore) -> None:
    with pytest.raises(ConfigError, match="not an indexed field"):
        ids(store, one("missing", FilterOperator.EQ, "x"))
    assert ids(store, one("author", FilterOperator.EQ, "ann} | @author:{bob")) == set()


def test_ids_kept_exactly_and_node_round_trip(config: RedisAgentConfig) -> None:
    store = RedisVectorStore("raw", config=config, dims=DIMS)
    odd = TextNode(
        id_="  spaced id\n",
        text="hello",
        embedding=[0.1, 0.2, 0.3, 0.4],
        metadata={"nested": {"a": 1}},
    )
    assert store.add([odd]) == ["  spaced id\n"]
    got = store.get_nodes(node_ids=["  spaced id\n"])
    assert got[0].node_id == "  spaced id\n" and got[0].get_content() == "hello"
    assert got[0].metadata == {"nested": {"a": 1}}
    flat = RedisVectorStore("flat", config=config, dims=DIMS, flat_metadata=True)
    with pytest.raises(ValueError):
        flat.add([odd])


def test_delete_get_clear(store: RedisVectorStore) -> None:
    assert {
        n.node_id for n in store.get_nodes(filters=one("author", FilterOperator.EQ, "ann"))
    } == {
        "n0",
        "n2",
    }
    store.delete("docA")
    assert store.index.count() == 2
    store.delete_nodes(["n2", "n3"], filters=one("author", FilterOperator.EQ, "ann"))
    assert {n.node_id for n in store.get_nodes(filters=MetadataFilters(filters=[]))} == {"n3"}
    store.delete_nodes(filters=one("author", FilterOperator.EQ, "cy"))
    assert store.index.count() == 0
    store.add([node(9)])
    store.clear()
    assert store.index.count() == 0


def test_delete_nodes_without_ids_or_filters_is_refused(store: RedisVectorStore) -> None:
    # it deleted nothing, silently (LlamaIndex's SimpleVectorStore deletes every node
    # there): refused before anything is deleted, naming clear()
    before = store.index.count()
    with pytest.raises(ConfigError, match=r"neither node_ids nor filters.*clear\(\)"):
        store.delete_nodes()
    with pytest.raises(ConfigError, match="neither node_ids nor filters"):
        asyncio.run(store.adelete_nodes(filters=None))
    assert store.index.count() == before > 0
    store.delete_nodes([])  # an empty list of ids deletes nothing, as asked
    assert store.index.count() == before


@pytest.fixture(params=["hash", "json"])
def fresh_store(own_redis: EmbeddedRedis, request: pytest.FixtureRequest) -> RedisVectorStore:
    """The ``store`` nodes on a server of their own: late in a full suite run, the shared
    server has twice ranked text matches differently (BM25 scores of the same three
    documents differing run to run); text ranking is asserted on a fresh server."""
    return _filled_store(RedisAgentConfig(url=own_redis.url, namespace="li"), request.param)


def test_query_modes(fresh_store: RedisVectorStore) -> None:
    store = fresh_store
    emb = [1.0, 0.3, 0.0, 0.1]
    default = store.query(VectorStoreQuery(query_embedding=emb, similarity_top_k=2))
    assert default.ids == ["n3", "n2"] and all(0 <= s <= 1 for s in default.similarities or [])
    mmr = store.query(
        VectorStoreQuery(
            query_embedding=emb,
            similarity_top_k=2,
            mode=VectorStoreQueryMode.MMR,
            mmr_threshold=0.5,
        )
    )
    assert len(mmr.ids or []) == 2
    text = store.query(
        VectorStoreQuery(
            query_str="text 1", similarity_top_k=1, mode=VectorStoreQueryMode.TEXT_SEARCH
        )
    )
    assert text.ids == ["n1"]
    hybrid = store.query(
        VectorStoreQuery(
            query_str="node text",
            query_embedding=emb,
            similarity_top_k=2,
            mode=VectorStoreQueryMode.HYBRID,
            alpha=0.5,
        )
    )
    assert hybrid.ids == ["n3", "n2"]
    by_doc = store.query(
        VectorStoreQuery(query_embedding=emb, similarity_top_k=5, doc_ids=["docA"])
    )
    assert set(by_doc.ids or []) == {"n0", "n1"}
    for mode in (
        VectorStoreQueryMode.SVM,
        VectorStoreQueryMode.SPARSE,
        VectorStoreQueryMode.SEMANTIC_HYBRID,
    ):
        with pytest.raises(CapabilityError, match="not supported"):
            store.query(VectorStoreQuery(query_embedding=emb, mode=mode))
    with pytest.raises(CapabilityError, match="node_ids"):
        store.query(VectorStoreQuery(query_embedding=emb, node_ids=["n1"]))


async def test_async(aconfig: RedisAgentConfig) -> None:
    store = RedisVectorStore("la", config=aconfig, dims=DIMS, metadata_fields={"author": "tag"})
    assert await store.async_add([node(1, author="a"), node(2, author="b")]) == ["n1", "n2"]
    res = await store.aquery(
        VectorStoreQuery(query_embedding=[1.0, 0.1, 0.1, 0.1], similarity_top_k=1)
    )
    assert res.ids == ["n1"]
    got = await store.aget_nodes(filters=one("author", FilterOperator.EQ, "b"))
    assert [n.node_id for n in got] == ["n2"]
    await store.adelete_nodes(["n2"])
    assert await store.index.acount() == 1
    await store.aclear()
    assert await store.index.acount() == 0


def test_vector_store_index_query_engine(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    store = RedisVectorStore("qe", config=config)
    docs = [
        Document(
            text="The Rhine flows through Switzerland, Germany and the Netherlands.", id_="rhine"
        ),
        Document(
            text="Photosynthesis turns light, water and CO2 into sugar in plants.", id_="photo"
        ),
        Document(text="Redis Cluster splits the keyspace into 16384 hash slots.", id_="cluster"),
    ]
    index = VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=MiniLMEmbedding(minilm),
    )
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = engine.query("How many hash slots does a Redis cluster have?")
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["cluster"]
    assert Settings is not None
    index.delete_ref_doc("cluster")
    assert store.index.count() == 2


def test_embed_model_sets_dims_and_spec(config: RedisAgentConfig) -> None:
    from llama_index.core.embeddings import MockEmbedding

    store = RedisVectorStore("mock", config=config, embed_model=MockEmbedding(embed_dim=8))
    assert store.index.schema.dims == 8  # probed lazily, not in the constructor
    assert store.index.to_spec()["embedder"] == MockEmbedding(embed_dim=8).model_name
    assert RedisVectorStore("plain", config=config).index.schema.dims == 384
