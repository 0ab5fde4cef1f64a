"""Values a caller passes in from outside, refused before anything is read or written:

- a str where a list of ids (or texts) belongs: iterated, ``"abc"`` was the three ids
  ``"a"``, ``"b"``, ``"c"``, so ``delete("abc")`` deleted those documents and left
  ``"abc"`` in place;
- an ``ef_runtime`` that is not a positive int: -1 searched at ``k`` (the lowest recall),
  NaN and inf raised bare ``ValueError`` / ``OverflowError``;
- an empty ``$and`` / ``$or`` list: ``{"$and": []}`` matched every document."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core.schema import TextNode

from langchain_redis_agent import RedisVectorStore as LangChainStore
from llamaindex_redis_agent import RedisVectorStore as LlamaIndexStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.vectors import VectorIndex

IDS = ["a", "b", "c", "abc"]


def _core(config: RedisAgentConfig) -> VectorIndex:
    index = VectorIndex("ids", dims=2, metric="l2", algorithm="flat", config=config)
    index.add(IDS, ids=IDS, vectors=np.eye(2, dtype=np.float32)[[0, 1, 0, 1]])
    return index


def test_core_refuses_a_str_of_ids(config: RedisAgentConfig) -> None:
    index = _core(config)
    for call in (
        lambda: index.delete("abc"),
        lambda: index.get("abc"),
        lambda: index.add("xy", vectors=np.ones((2, 2), dtype=np.float32)),
        lambda: index.add(["x", "y"], ids="xy", vectors=np.ones((2, 2), dtype=np.float32)),
    ):
        with pytest.raises(ConfigError, match=r"must be a list, got a str .*\['"):
            call()
    assert sorted(h.id for h in index.get(IDS)) == sorted(IDS)  # nothing deleted
    assert index.count() == 4  # nothing added
    assert index.delete(("abc",)) == 1 and sorted(h.id for h in index.get(IDS)) == ["a", "b", "c"]


async def test_core_refuses_a_str_of_ids_async(config: RedisAgentConfig) -> None:
    index = _core(config)
    with pytest.raises(ConfigError, match="must be a list"):
        await index.adelete("abc")
    with pytest.raises(ConfigError, match="must be a list"):
        await index.aget("abc")
    with pytest.raises(ConfigError, match="must be a list"):
        await index.aadd("xy", vectors=np.ones((2, 2), dtype=np.float32))
    assert len(await index.aget(IDS)) == 4


async def test_langchain_refuses_a_str_of_ids(config: RedisAgentConfig) -> None:
    store = LangChainStore(DeterministicFakeEmbedding(size=4), index_name="lc", config=config)
    store.add_texts(IDS, ids=IDS)
    for call in (
        lambda: store.delete(ids="abc"),
        lambda: store.get_by_ids("abc"),
        lambda: store.add_texts("xy"),
        lambda: store.add_texts(["x", "y"], ids="xy"),
        lambda: store.add_texts(["x", "y"], keys="xy"),
    ):
        with pytest.raises(ConfigError, match="must be a list"):
            call()
    with pytest.raises(ConfigError, match="must be a list"):
        await store.adelete(ids="abc")
    with pytest.raises(ConfigError, match="must be a list"):
        await store.aget_by_ids("abc")
    assert sorted(d.id for d in store.get_by_ids(IDS)) == sorted(IDS)  # type: ignore[type-var]


async def test_langchain_delete_with_a_filter_of_none_deletes_nothing(
    config: RedisAgentConfig,
) -> None:
    # store.delete(filter=tenant_filter(user)) for a user whose filter came out None:
    # without ids that read as delete(), and emptied the store of every tenant
    store = LangChainStore(
        DeterministicFakeEmbedding(size=4),
        index_name="lcdel",
        config=config,
        metadata_fields={"tenant": "tag"},
    )
    store.add_texts(IDS, ids=IDS, metadatas=[{"tenant": t} for t in IDS])
    with pytest.raises(ConfigError, match=r"delete\(filter=None\) would delete every document"):
        store.delete(filter=None)
    with pytest.raises(ConfigError, match=r"call clear\(\)"):
        await store.adelete(None, filter=None)
    assert store.index.count() == 4
    assert store.delete(filter={"tenant": "a"}) is True and store.index.count() == 3
    assert store.delete() is True and store.index.count() == 0  # delete() still empties it


async def test_llamaindex_refuses_a_str_of_node_ids(config: RedisAgentConfig) -> None:
    store = LlamaIndexStore("li", dims=2, config=config)
    store.add([TextNode(text=i, id_=i, embedding=[1.0, float(n)]) for n, i in enumerate(IDS)])
    for call in (
        lambda: store.delete_nodes(node_ids="abc"),  # type: ignore[arg-type]
        lambda: store.get_nodes(node_ids="abc"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match="must be a list"):
            call()
    with pytest.raises(ConfigError, match="must be a list"):
        await store.adelete_nodes(node_ids="abc")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="must be a list"):
        await store.aget_nodes(node_ids="abc")  # type: ignore[arg-type]
    assert sorted(n.node_id for n in store.get_nodes(node_ids=IDS)) == sorted(IDS)


async def test_llamaindex_refuses_an_empty_nested_filter_group(config: RedisAgentConfig) -> None:
    # [tenant == a, OR(<the user's allowed docs>)] with no allowed docs: the empty group
    # read as "no filter", so the query returned, and delete_nodes deleted, all of a's
    from llama_index.core.vector_stores.types import (
        FilterCondition,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
    )

    store = LlamaIndexStore("linest", dims=2, config=config, metadata_fields={"tenant": "tag"})
    store.add(
        [
            TextNode(text=i, id_=i, embedding=[1.0, float(n)], metadata={"tenant": "a"})
            for n, i in enumerate(IDS)
        ]
    )
    allowed = MetadataFilters(filters=[], condition=FilterCondition.OR)
    nested = MetadataFilters(filters=[MetadataFilter(key="tenant", value="a"), allowed])
    query = VectorStoreQuery(query_embedding=[1.0, 0.0], similarity_top_k=10, filters=nested)
    with pytest.raises(ConfigError, match="nested MetadataFilters has no filters"):
        store.query(query)
    with pytest.raises(ConfigError, match="nested MetadataFilters has no filters"):
        store.delete_nodes(filters=nested)
    with pytest.raises(ConfigError, match="nested MetadataFilters has no filters"):
        await store.aquery(query)
    assert len(store.get_nodes(node_ids=IDS)) == 4
    # an empty group alone is still no filter, as in LlamaIndex
    query.filters = allowed
    assert len(store.query(query).ids or []) == 4


@pytest.mark.parametrize("ef", [-1, 0, 0.5, 5.5, True, "100", float("nan"), float("inf"), 10**7])
async def test_an_ef_runtime_that_is_not_a_positive_int_is_refused(
    config: RedisAgentConfig, ef: object
) -> None:
    index = VectorIndex("ef", dims=2, metric="l2", algorithm="hnsw", config=config)
    index.add(IDS, ids=IDS, vectors=np.eye(2, dtype=np.float32)[[0, 1, 0, 1]])
    query = np.array([1.0, 0.0], dtype=np.float32)
    with pytest.raises(ConfigError, match=r"ef_runtime must be an int in \[1, 1,000,000\]"):
        index.search(query, k=2, ef_runtime=ef)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ef_runtime must be an int"):
        await index.asearch(query, k=2, ef_runtime=ef)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="ef_runtime must be an int"):
        index.measure_recall(sample=2, k=1, ef_runtime=ef)  # type: ignore[arg-type]
    assert len(index.search(query, k=2, ef_runtime=np.int64(1))) == 2  # 1: searched at k


def test_an_empty_and_or_or_is_refused(config: RedisAgentConfig) -> None:
    # an app joining a tenant's conditions built at run time: left empty, {"$and": []}
    # matched every document of every tenant (an empty dict filter was refused already)
    index = _core(config)
    query = np.array([1.0, 0.0], dtype=np.float32)
    for spec in ({"$and": []}, {"$or": []}, {"$not": {"$and": []}}, {"$or": [{"$and": []}]}):
        with pytest.raises(ConfigError, match=r"takes a non-empty list of filters.*filter=None"):
            index.search(query, k=4, filter=spec)
        with pytest.raises(ConfigError, match="non-empty list"):
            index.delete_by_filter(spec)
    assert index.count() == 4
    assert len(index.search(query, k=4, filter=None)) == 4


def test_filters_that_read_as_their_opposite_are_refused(config: RedisAgentConfig) -> None:
    # {"$exists": "false"} ("false" is truthy) found, and deleted, the documents that
    # HAVE the field; {"$like": "%cme%"} (SQL's wildcard, PGVector's $like) looked for
    # the text "%cme%" and found nothing, which read as "no such tenant"
    index = VectorIndex("ops", dims=2, metadata_fields={"tenant": "tag"}, config=config)
    metas = [{"tenant": "acme"}, {"tenant": "globex"}, {}]
    index.add(["a", "b", "c"], ids=["a", "b", "c"], metadatas=metas, vectors=np.eye(2)[[0, 1, 0]])
    query = np.array([1.0, 0.0], dtype=np.float32)
    for spec, match in [
        ({"tenant": {"$exists": "false"}}, r"\$exists for field 'tenant' takes True or False"),
        ({"tenant": {"$exists": 1}}, "takes True or False"),
        ({"tenant": {"$is_empty": "no"}}, "is_empty for field 'tenant' takes True or False"),
        ({"tenant": {"$like": "%cme%"}}, r"'%' is not a wildcard.*e\.g\. 'cme'"),
        ({"tenant": {"$ilike": "acme%"}}, "not a wildcard"),
    ]:
        with pytest.raises(ConfigError, match=match):
            index.search(query, k=3, filter=spec)
        with pytest.raises(ConfigError, match=match):
            index.delete_by_filter(spec)
    assert index.count() == 3
    assert [h.id for h in index.search(query, k=3, filter={"tenant": {"$exists": False}})] == ["c"]
    assert [h.id for h in index.search(query, k=3, filter={"tenant": {"$like": "cme"}})] == ["a"]


@pytest.mark.parametrize("threshold", ["0.5", True, None, [0.5]])
def test_a_relevance_threshold_that_is_not_a_number_is_a_config_error(
    config: RedisAgentConfig, threshold: object
) -> None:
    # "0.5" from a query string raised a bare TypeError ('<=' between float and str),
    # and True was taken as 1.0 (LangChain's score_threshold= was checked already)
    index = _core(config)
    query = np.array([1.0, 0.0], dtype=np.float32)
    with pytest.raises(ConfigError, match=r"relevance threshold must be a number within \[0, 1\]"):
        index.search_range(query, threshold)  # type: ignore[arg-type]
    assert len(index.search_range(query, np.float32(0.5), k=4)) == 2


async def test_one_metadata_dict_or_one_node_where_a_list_belongs_is_refused(
    config: RedisAgentConfig,
) -> None:
    # a dict is iterated as its keys (ValueError from dict()), an int raised TypeError,
    # a pydantic node as its field pairs (AttributeError on a tuple)
    index = _core(config)
    vectors = np.ones((1, 2), dtype=np.float32)
    with pytest.raises(ConfigError, match=r"one dict \(or None\) per text, got one dict"):
        index.add(["x"], ids=["x"], metadatas={"k": 1}, vectors=vectors)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="metadatas #1 is 5 \\(int\\), not a dict"):
        index.add(["x", "y"], metadatas=[None, 5], vectors=np.ones((2, 2)))  # type: ignore[list-item]
    store = LangChainStore(DeterministicFakeEmbedding(size=4), index_name="lc", config=config)
    with pytest.raises(ConfigError, match="got one dict"):
        store.add_texts(["a"], metadatas={"k": 1})  # type: ignore[arg-type]
    nodes = LlamaIndexStore("li", dims=2, config=config)
    node = TextNode(text="x", id_="n1", embedding=[1.0, 0.0])
    with pytest.raises(ConfigError, match=r"takes a list of nodes, got one TextNode"):
        nodes.add(node)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="takes a list of nodes"):
        await nodes.async_add(node)  # type: ignore[arg-type]
    assert index.count() == 4 and nodes.add([node]) == ["n1"]


async def test_a_node_without_an_embedding_is_refused_naming_it_and_the_fix(
    config: RedisAgentConfig,
) -> None:
    # left26b: LlamaIndex's bare ValueError("embedding not set.") named neither the node
    # nor the fix; a batch holding one such node writes none of its nodes
    store = LlamaIndexStore("li_noemb", dims=2, config=config)
    ok = TextNode(text="x", id_="ok", embedding=[1.0, 0.0])
    bare = TextNode(text="y", id_="bare")
    for add in (store.add, store.async_add):
        with pytest.raises(ConfigError, match=r"node 'bare' has no embedding: embed it first") as e:
            result = add([ok, bare])
            if not isinstance(result, list):
                await result
        assert "embed_model=" in str(e.value) and "enqueue_add" in str(e.value)
    assert not store.index_exists() and store.get_nodes(["ok", "bare"]) == []
    assert store.add([ok]) == ["ok"]


async def test_langchain_delete_by_ids_keeps_to_the_filter(config: RedisAgentConfig) -> None:
    # review 24: delete(ids, filter=tenant) ignored the filter, so ids from a request
    # deleted another tenant's documents; now only the ids passing the filter go
    store = LangChainStore(
        DeterministicFakeEmbedding(size=4),
        index_name="lcdelids",
        config=config,
        metadata_fields={"tenant": "tag"},
    )
    store.add_texts(IDS, ids=IDS, metadatas=[{"tenant": "acme" if i < 2 else "globex"}
                                             for i in range(len(IDS))])  # fmt: skip
    assert store.delete(["a", "c", "missing"], filter={"tenant": "acme"}) is True
    assert sorted(d.id for d in store.get_by_ids(IDS)) == ["abc", "b", "c"]  # type: ignore[type-var]
    assert await store.adelete(["b", "abc"], filter={"tenant": "globex"}) is True
    assert sorted(d.id for d in store.get_by_ids(IDS)) == ["b", "c"]  # type: ignore[type-var]
    assert store.delete([], filter={"tenant": "acme"}) is True and store.index.count() == 2
    assert store.index.delete_by_filter({"tenant": "globex"}, ids=["b", "c"]) == 1


def test_a_metadata_field_named_like_the_engines_own_is_refused(config: RedisAgentConfig) -> None:
    # review 24: an indexed metadata field "__key" shadowed the document key in the
    # hybrid query's FT.AGGREGATE: every hybrid hit came back with its value as its id
    # ("zzz" for document "1"), so a document's metadata chose the id others delete by
    for make in (
        lambda: VectorIndex("k", dims=2, config=config, metadata_fields={"__key": "tag"}),
        lambda: LangChainStore(DeterministicFakeEmbedding(size=4), index_name="k",
                               config=config, metadata_fields={"__key": "tag"}),
        lambda: LlamaIndexStore("k", dims=2, config=config, metadata_fields={"__x": "tag"}),
    ):  # fmt: skip
        with pytest.raises(ConfigError, match=r"'__(key|x)' is reserved: names starting with '__'"):
            make()
    store = LangChainStore(DeterministicFakeEmbedding(size=4), index_name="k2", config=config)
    store.add_texts(["hello world"], ids=["1"], metadatas=[{"__key": "zzz"}])  # as data: fine
    assert [d.id for d, _ in store.hybrid_search("hello world", k=1)] == ["1"]


@pytest.mark.parametrize("mode", ["default", "mmr", "hybrid", "text_search", "filters only"])
async def test_llamaindex_an_empty_doc_ids_list_finds_nothing(
    config: RedisAgentConfig, mode: str
) -> None:
    # a retriever's doc_ids=<the documents this user may read>, empty for a user with
    # none: read as no restriction, the query returned every user's nodes
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo
    from llama_index.core.vector_stores.types import (
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
        VectorStoreQueryMode,
    )

    store = LlamaIndexStore("lidocs", dims=2, config=config, metadata_fields={"kind": "tag"})
    nodes = []
    for n, owner in enumerate(("alice", "bob", "carol")):
        node = TextNode(
            text=f"secret notes of {owner}", id_=f"n{n}", embedding=[1.0, float(n)],
            metadata={"kind": "notes"},
        )  # fmt: skip
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=f"{owner}-doc")
        nodes.append(node)
    store.add(nodes)
    notes = MetadataFilters(filters=[MetadataFilter(key="kind", value="notes")])
    base: dict[str, object] = {"similarity_top_k": 10}
    if mode == "filters only":
        base["filters"] = notes
    else:
        base.update(query_embedding=[1.0, 0.0], query_str="secret notes")
        base["mode"] = VectorStoreQueryMode(mode)

    def query(**restriction: object) -> VectorStoreQuery:
        return VectorStoreQuery(**base, **restriction)  # type: ignore[arg-type]

    # node_ids=[] is what VectorStoreIndex.as_retriever passes a store keeping the text
    assert store.query(query(doc_ids=["alice-doc"], node_ids=[])).ids == ["n0"]
    assert store.query(query(doc_ids=[])).ids == []
    assert (await store.aquery(query(doc_ids=[], node_ids=[]))).ids == []
    assert len(store.query(query(node_ids=[])).ids or []) == 3


async def test_a_range_on_a_text_field_is_a_filter_error(config: RedisAgentConfig) -> None:
    # {"title": {"$gt": "m"}} (or LlamaIndex's FilterOperator.GT on a text field) raised
    # UnboundLocalError from the filter compiler: no type a caller catches, no fix named
    from llama_index.core.vector_stores.types import (
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
        VectorStoreQuery,
    )

    from redis_agent_core.vectors import F, FilterError

    index = VectorIndex("text_range", dims=2, metadata_fields={"title": "text"}, config=config)
    index.add(["a", "b"], ids=["a", "b"], metadatas=[{"title": "apple"}, {"title": "pear"}],
              vectors=np.eye(2))  # fmt: skip
    query = np.array([1.0, 0.0], dtype=np.float32)
    title = F("title")
    built = {"gt": title > "m", "gte": title >= "m", "lt": title < "m", "lte": title <= "m"}
    for op, condition in built.items():
        refused = (
            f"operator '{op}' is not supported on text field 'title'; to compare by value, "
            "declare it numeric"
        )
        for spec in ({"title": {f"${op}": "m"}}, condition):
            with pytest.raises(FilterError, match=refused):
                index.search(query, k=2, filter=spec)
            with pytest.raises(FilterError, match=refused):
                await index.adelete_by_filter(spec)
        one = MetadataFilter(key="title", value="m", operator=FilterOperator[op.upper()])
        filters = MetadataFilters(filters=[one])
        store = LlamaIndexStore(index=index)
        with pytest.raises(FilterError, match=refused):
            store.query(VectorStoreQuery(query_embedding=[1.0, 0.0], filters=filters))
    assert index.count() == 2


async def test_find_refuses_a_limit_of_zero_as_it_refuses_minus_one(
    config: RedisAgentConfig,
) -> None:
    """attack28: ``find(limit=0)`` (and ``False``, ``0.0``) returned ``[]`` while ``-1``
    was "not positive": a page size computed as 0 read as "no documents match"."""
    index = _core(config)
    for limit in (0, False, 0.0, -1):
        with pytest.raises(ConfigError, match="limit must be a positive int"):
            index.find(limit=limit)
        with pytest.raises(ConfigError, match="limit must be a positive int"):
            await index.afind(limit=limit)
    assert len(index.find(limit=2)) == 2 and index.count() == 4
