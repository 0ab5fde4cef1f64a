"""Bad input to the vector stores fails loudly, or is served exactly (issue 13, items
2-6 and 12): never a silently empty, truncated or unfiltered result.

- redisvl ``FilterExpression``s match the same documents as the dict form (tag values
  with spaces and punctuation, lists, every operator), or are refused with the dict
  form to use.
- Unknown keyword arguments raise ``TypeError`` naming the supported alternative.
- Tag values longer than RediSearch's tag limit stay exact.
- NaN / inf query vectors, ``k`` out of range, ``fetch_k < k`` and lone surrogates are
  refused with ``ConfigError``.
"""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.indexing import InMemoryRecordManager, index
from llama_index.core import VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from redisvl.query.filter import FilterExpression, Geo, GeoRadius, Num, Tag, Text, Timestamp

from langchain_redis_agent import RedisVectorStore as LangChainStore
from llamaindex_redis_agent import RedisVectorStore as LlamaIndexStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, SchemaMismatchError
from redis_agent_core.kit import first_invalid
from redis_agent_core.search.replies import describe_info, search_rows
from redis_agent_core.tags import TAG_LIMIT
from redis_agent_core.vectors import F, FilterError, MetadataField, VectorIndex, tag_value

DIMS = 4
CITIES = ["New York", "Boston", "São Paulo", "a|b", "x}|{y", "100%", "New", "York"]
PARIS = (2.35, 48.85)


def _vectors(n: int, seed: int = 7) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIMS)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=["hash", "json"])
def cities(config: RedisAgentConfig, request: pytest.FixtureRequest) -> VectorIndex:
    index = VectorIndex(
        "cities",
        config=config,
        dims=DIMS,
        algorithm="flat",
        storage=request.param,
        metadata_fields={"city": "tag", "year": "numeric", "blurb": "text", "loc": "geo"},
    )
    index.add(
        [f"doc {c}" for c in CITIES],
        ids=[f"d{i}" for i in range(len(CITIES))],
        metadatas=[
            {
                "city": c,
                "year": 2000 + i,
                "blurb": f"the city of {c} and its river",
                "loc": (PARIS[0] + i, PARIS[1]),
            }
            for i, c in enumerate(CITIES)
        ],
        vectors=_vectors(len(CITIES)),
    )
    return index


def _cities(index: VectorIndex, filter: object) -> set[str]:
    return {h.metadata["city"] for h in index.find(filter, limit=100)}


# -- item 2: redisvl filter expressions --
def test_tag_expression_with_spaces_and_punctuation_matches_like_the_dict(
    cities: VectorIndex,
) -> None:
    for city in CITIES:
        assert _cities(cities, Tag("city") == city) == {city}, city
        assert _cities(cities, Tag("city") == city) == _cities(cities, {"city": city})
        assert _cities(cities, Tag("city") != city) == set(CITIES) - {city}
    # search goes through the same compilation
    hits = cities.search(_vectors(1, seed=3)[0], k=10, filter=Tag("city") == "New York")
    assert [h.metadata["city"] for h in hits] == ["New York"]


def test_tag_expression_lists(cities: VectorIndex) -> None:
    both = Tag("city") == ["New York", "Boston"]
    assert _cities(cities, both) == {"New York", "Boston"}
    assert _cities(cities, Tag("city") == ["a|b", "x}|{y", "São Paulo"]) == {
        "a|b",
        "x}|{y",
        "São Paulo",
    }
    assert _cities(cities, Tag("city") != ["New York", "Boston"]) == set(CITIES) - {
        "New York",
        "Boston",
    }


def test_tag_wildcard_expressions(cities: VectorIndex) -> None:
    assert _cities(cities, Tag("city") % "New*") == {"New York", "New"}
    assert _cities(cities, Tag("city") % "New Y*") == {"New York"}
    assert _cities(cities, Tag("city") % "*Paulo") == {"São Paulo"}
    assert _cities(cities, Tag("city") % ["New Y*", "Bos*"]) == {"New York", "Boston"}


def test_numeric_text_geo_and_timestamp_expressions(cities: VectorIndex) -> None:
    assert _cities(cities, Num("year") == 2001) == {"Boston"}
    assert _cities(cities, Num("year") != 2001) == set(CITIES) - {"Boston"}
    assert _cities(cities, Num("year") > 2005) == {"New", "York"}
    assert _cities(cities, Num("year") >= 2006) == {"New", "York"}
    assert _cities(cities, Num("year") < 2001) == {"New York"}
    assert _cities(cities, Num("year") <= 2001) == {"New York", "Boston"}
    assert _cities(cities, Num("year").between(2001, 2003)) == {"Boston", "São Paulo", "a|b"}
    assert _cities(cities, Num("year").between(2001, 2003, inclusive="neither")) == {"São Paulo"}
    assert _cities(cities, Timestamp("year") > 2006) == {"York"}
    assert _cities(cities, Text("blurb") == "Boston") == {"Boston"}
    assert _cities(cities, Text("blurb") % "Bost*") == {"Boston"}
    assert "Boston" not in _cities(cities, Text("blurb") != "Boston")
    near = Geo("loc") == GeoRadius(PARIS[0], PARIS[1], 50, "km")
    assert _cities(cities, near) == {"New York"}
    far = Geo("loc") != GeoRadius(PARIS[0], PARIS[1], 50, "km")
    assert _cities(cities, far) == set(CITIES) - {"New York"}
    assert _cities(cities, Tag("city").is_missing()) == set()


def test_combined_expressions(cities: VectorIndex) -> None:
    expr = ((Tag("city") == "New York") | (Tag("city") == "São Paulo")) & (Num("year") > 2000)
    assert _cities(cities, expr) == {"São Paulo"}
    expr = (Tag("city") == ["New York", "Boston"]) | (Num("year") >= 2007)
    assert _cities(cities, expr) == {"New York", "Boston", "York"}
    assert _cities(cities, (Tag("city") != "New York") & (Num("year") < 2002)) == {"Boston"}
    # mixed with the pack's own filters, either way round
    assert _cities(cities, (Tag("city") == ["New York", "Boston"]) & (F("year") > 2000)) == {
        "Boston"
    }
    assert _cities(cities, (F("year") > 2000) & (Tag("city") == ["New York", "Boston"])) == {
        "Boston"
    }


def test_expressions_are_checked_like_dict_filters(cities: VectorIndex) -> None:
    with pytest.raises(FilterError, match="not an indexed field"):
        cities.find(Tag("country") == "France")
    with pytest.raises(FilterError, match="numeric field"):
        cities.find(Tag("year") == "2001")
    for hand_written in (
        "@city:{New York} | garbage",
        "@city:{New York} @year:[1 2]",
        "@city:{a} @city:{b}",
        '@blurb:("a") @blurb:("b")',
        "@blurb:(a) (@city:{x})",
    ):
        with pytest.raises(FilterError, match="dict form"):
            cities.find(FilterExpression(hand_written))


def test_langchain_accepts_expressions(config: RedisAgentConfig) -> None:
    store = LangChainStore(
        DeterministicFakeEmbedding(size=DIMS),
        index_name="lc_expr",
        config=config,
        metadata_fields={"city": "tag"},
        algorithm="flat",
    )
    store.add_texts(CITIES, metadatas=[{"city": c} for c in CITIES])
    docs = store.similarity_search("x", k=10, filter=Tag("city") == ["New York", "Boston"])
    assert {d.metadata["city"] for d in docs} == {"New York", "Boston"}


def test_f_and_expression_compile_alike(cities: VectorIndex) -> None:
    assert cities.compile_filter(Tag("city") == "New York") == cities.compile_filter(
        F("city") == "New York"
    )


# -- item 3: unknown keyword arguments --
@pytest.fixture
def lc_store(config: RedisAgentConfig) -> LangChainStore:
    store = LangChainStore(
        DeterministicFakeEmbedding(size=DIMS), index_name="lc_kw", config=config, algorithm="flat"
    )
    store.add_texts(["alpha", "beta", "gamma"], ids=["a", "b", "c"])
    return store


def test_unknown_search_keywords_raise_naming_the_alternative(lc_store: LangChainStore) -> None:
    store = lc_store
    # distance_threshold (langchain-redis) is a range query: tests/compat
    with pytest.raises(ConfigError, match="distance_threshold must be a distance"):
        store.similarity_search("alpha", k=3, distance_threshold=-0.1)
    for name in ("sort_by", "with_vectors"):  # with_vectors: similarity_search_with_score
        with pytest.raises(TypeError, match=name):
            store.similarity_search("alpha", **{name: True})
    with pytest.raises(TypeError, match="MMR only"):
        store.similarity_search("alpha", fetch_k=10)
    with pytest.raises(TypeError, match="unexpected keyword argument 'fetch_kk'"):
        store.max_marginal_relevance_search("alpha", fetch_kk=10)
    with pytest.raises(TypeError, match="add_texts_with_vectors"):
        store.add_texts(["delta"], embeddings=[[1.0, 0, 0, 0]])
    assert store.get_by_ids(["delta"]) == []


async def test_unknown_keywords_raise_in_async_methods_too(lc_store: LangChainStore) -> None:
    store = lc_store
    with pytest.raises(TypeError, match="use k="):
        await store.asimilarity_search("alpha", top_k=3)
    with pytest.raises(TypeError, match="add_texts_with_vectors"):
        await store.aadd_texts(["delta"], vectors=[[1.0, 0, 0, 0]])
    scored = await store.asimilarity_search_with_relevance_scores("alpha", 3, score_threshold=0.99)
    assert [(d.id, round(score, 3)) for d, score in scored] == [("a", 1.0)]
    assert [d.id for d in await store.asimilarity_search("alpha", 3, score_threshold=0.99)] == ["a"]


def test_keywords_langchain_itself_passes_still_work(lc_store: LangChainStore) -> None:
    store = lc_store
    # retrievers pass the user's search_kwargs; score_threshold is a real range query
    retriever = store.as_retriever(
        search_type="similarity_score_threshold", search_kwargs={"score_threshold": 0.99, "k": 3}
    )
    assert [d.id for d in retriever.invoke("alpha")] == ["a"]
    docs = store.similarity_search_with_score("alpha", k=3, score_threshold=0.99)
    assert [d.id for d, _ in docs] == ["a"]
    assert len(store.similarity_search_with_score("alpha", k=3)) == 3
    # index() passes batch_size= to add_documents and deletes ids in cleanup, some of
    # which may be gone already: delete must return True for them (False raises)
    manager = InMemoryRecordManager("ns")
    manager.create_schema()
    docs_in = [Document("one", metadata={"source": "s"}), Document("two", metadata={"source": "s"})]
    result = index(docs_in, manager, store, cleanup="full", source_id_key="source")
    assert result["num_added"] == 2
    store.delete(manager.list_keys()[:1])  # gone behind index()'s back
    result = index([], manager, store, cleanup="full", source_id_key="source")
    assert result["num_deleted"] == 2
    assert store.delete(["missing"]) is True
    assert store.delete([]) is True


async def test_llamaindex_unknown_query_keywords_and_filter_expression(
    config: RedisAgentConfig,
) -> None:
    store = LlamaIndexStore(
        "li_kw", config=config, dims=DIMS, metadata_fields={"city": "tag"}, algorithm="flat"
    )
    vectors = _vectors(len(CITIES))
    store.add(
        [
            TextNode(id_=f"n{i}", text=c, metadata={"city": c}, embedding=vectors[i].tolist())
            for i, c in enumerate(CITIES)
        ]
    )
    query = VectorStoreQuery(query_embedding=vectors[0].tolist(), similarity_top_k=10)
    for result in (
        store.query(query, filter=Tag("city") == ["New York", "Boston"]),
        await store.aquery(query, filter={"city": ["New York", "Boston"]}),
    ):
        assert {n.metadata["city"] for n in result.nodes} == {"New York", "Boston"}
    # through a retriever: LlamaIndex passes vector_store_kwargs to query()
    index = VectorStoreIndex.from_vector_store(store, embed_model=MockEmbedding(embed_dim=DIMS))
    for mode, options in (("default", {}), ("mmr", {"mmr_threshold": 0.3})):
        retriever = index.as_retriever(
            similarity_top_k=10,
            vector_store_query_mode=mode,
            vector_store_kwargs={"filter": Tag("city") == ["New York", "Boston"], **options},
        )
        assert {n.metadata["city"] for n in retriever.retrieve("x")} == {"New York", "Boston"}
    with pytest.raises(TypeError, match=r"distance_threshold.*score_threshold"):
        store.query(query, distance_threshold=0.1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'unknown'"):
        store.add([], unknown=1)


# -- items 5, 6, 12: vectors, k, MMR, surrogates --
def test_nan_or_inf_query_vector_is_refused(cities: VectorIndex) -> None:
    for bad in ([float("nan"), 0, 0, 0], [float("inf"), 0, 0, 0], [1e39, 0, 0, 0]):
        with pytest.raises(ConfigError, match="NaN or infinity"):
            cities.search(bad, k=2)
        with pytest.raises(ConfigError, match="NaN or infinity"):
            cities.mmr(bad, k=2)
        with pytest.raises(ConfigError, match="NaN or infinity"):
            cities.search_range(bad, 0.5)


async def test_k_is_checked_the_same_everywhere(cities: VectorIndex) -> None:
    v = _vectors(1)[0]
    calls = [
        lambda k: cities.search(v, k),
        lambda k: cities.search_range(v, 0.1, k),
        lambda k: cities.mmr(v, k),
        lambda k: cities.mmr(v, 2, fetch_k=k),
        lambda k: cities.text_search("city", k),
        lambda k: cities.hybrid("city", k, vector=v),
        lambda k: cities.find(limit=k or -1),  # find(limit=0) is a valid empty page
    ]
    for call in calls:
        for k in (0, -1, 2.5, True):
            with pytest.raises(ConfigError, match="positive int"):
                call(k)
        with pytest.raises(ConfigError, match="maximum of 1,000,000"):
            call(10**9)
    with pytest.raises(ConfigError, match="positive int"):
        await cities.ammr(v, 0)
    with pytest.raises(ConfigError, match="maximum"):
        await cities.asearch(v, 10**9)
    with pytest.raises(ConfigError, match="offset"):
        cities.find(offset=10**9)


def test_mmr_returns_at_most_fetch_k(cities: VectorIndex) -> None:
    v = _vectors(1)[0]
    assert len(cities.mmr(v, 5, fetch_k=2)) == 2
    assert len(cities.mmr(v, 2, fetch_k=5)) == 2
    nearest = [h.id for h in cities.search(v, 2)]
    assert {h.id for h in cities.mmr(v, 5, fetch_k=2)} == set(nearest)


def test_an_id_holding_a_nul_is_refused_before_anything_is_written(cities: VectorIndex) -> None:
    # review 15: RediSearch loads a hit's fields from its key cut at the NUL: the hit of
    # "d0\x00x" (another city) came back with the text and metadata of document "d0"
    before = cities.count()
    with pytest.raises(ConfigError, match=r"document id 'd0\\x00x' holds a NUL.*position 2"):
        cities.add(["ok", "other"], ids=["fine", "d0\x00x"], vectors=_vectors(2))
    assert cities.count() == before and cities.get(["fine"]) == []
    with pytest.raises(ConfigError, match="holds a NUL"):
        cities.get(["d0\x00x"])
    found = first_invalid(["fine", "d0\x00x"], ["ok", "other"], [{}, {}])
    assert found is not None and found[:2] == (1, "id") and "d0" not in found[2]


def test_lone_surrogates_are_config_errors(cities: VectorIndex) -> None:
    bad = "caf\udce9"
    with pytest.raises(ConfigError, match="surrogate"):
        cities.add([bad], ids=["s1"], vectors=_vectors(1))
    with pytest.raises(ConfigError, match="surrogate"):
        cities.add(["ok"], ids=[bad], vectors=_vectors(1))
    with pytest.raises(ConfigError, match="surrogate"):
        cities.add(["ok"], ids=["s2"], metadatas=[{"city": bad}], vectors=_vectors(1))
    assert cities.get(["s1", "s2"]) == []
    with pytest.raises(ConfigError, match="surrogate"):
        cities.search(bad, 2)
    with pytest.raises(ConfigError, match="surrogate"):
        cities.text_search(bad, 2)
    with pytest.raises(ConfigError, match="surrogate"):
        cities.find({"city": bad})
    with pytest.raises(ConfigError, match="surrogate"):
        cities.find(Text("blurb") == bad)
    with pytest.raises(ConfigError, match="surrogate"):
        cities.get([bad])
    with pytest.raises(ConfigError, match="surrogate"):
        cities.delete([bad])


# -- item 4: tag values longer than RediSearch's tag limit --
def test_long_tag_values_stay_exact(config: RedisAgentConfig) -> None:
    head = "a" * TAG_LIMIT
    values = {
        "a4095": "a" * (TAG_LIMIT - 1),
        "a4096": head,
        "a4097": head + "a",
        "a4097b": head + "b",
        "a5000": "a" * 5000,
        "accents": "é" * 1400,  # 2,800 UTF-8 bytes, 8,400 escaped
        "accents+": "é" * 1400 + "!",
        "spaces": "New York " * 600,
    }
    index = VectorIndex(
        "longtags",
        config=config,
        dims=DIMS,
        algorithm="flat",
        metadata_fields=[
            MetadataField("t"),
            MetadataField("ci", "tag", case_sensitive=False),
            MetadataField("many"),
        ],
    )
    index.add(
        list(values),
        ids=list(values),
        metadatas=[{"t": v, "ci": v.upper(), "many": [v, "x"]} for v in values.values()],
        vectors=_vectors(len(values)),
    )
    for name, value in values.items():
        assert [h.id for h in index.find({"t": value})] == [name], name
        assert [h.id for h in index.find(Tag("t") == value)] == [name], name
        assert [h.id for h in index.find({"ci": value.lower()})] == [name], name
        assert [h.id for h in index.find({"many": value})] == [name], name
        assert index.get([name])[0].metadata["t"] == value  # the original comes back
    assert index.count({"t": {"$ne": head}}) == len(values) - 1
    assert {h.id for h in index.find({"t": {"$in": [head, head + "a"]}})} == {"a4096", "a4097"}
    assert len(tag_value(head + "a")) <= TAG_LIMIT
    assert tag_value(head + "a") != tag_value(head + "b")
    with pytest.raises(FilterError, match="longer than"):
        index.find(F("t").text_match("a" * 4000))


def test_foreign_store_options_name_the_option_to_use(config: RedisAgentConfig) -> None:
    with pytest.raises(TypeError, match=r"'url'.*config=RedisAgentConfig"):
        LangChainStore(DeterministicFakeEmbedding(size=DIMS), url="redis://x:6379")
    with pytest.raises(TypeError, match=r"distance_metric.*metric="):
        LlamaIndexStore("li_opts", config=config, distance_metric="COSINE")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        LangChainStore(DeterministicFakeEmbedding(size=DIMS), colour="blue")


async def test_a_lower_server_maximum_is_a_config_error_too(
    own_server: tuple[object, RedisAgentConfig],
) -> None:
    cfg = own_server[1]
    cfg.get_client().execute_command("FT.CONFIG", "SET", "MAXSEARCHRESULTS", "100")
    index = VectorIndex("lowmax", config=cfg, dims=DIMS, algorithm="flat")
    index.add(["a", "b"], vectors=_vectors(2))
    assert len(index.search(_vectors(1)[0], 100)) == 2
    with pytest.raises(ConfigError, match="MAXSEARCHRESULTS"):
        index.search(_vectors(1)[0], 101)
    with pytest.raises(ConfigError, match="MAXSEARCHRESULTS"):
        await index.afind(limit=101)


# -- review11 finding 1: a redisvl clause whose value is empty, None or [] --
# redisvl renders it as "*"; served as is, an empty tenant id matched (and deleted)
# every tenant's documents, even ANDed with other clauses.
def _star_leaves() -> list[FilterExpression]:
    return [
        Tag("city") == "",
        Tag("city") == None,  # noqa: E711 (redisvl's operator, not a comparison)
        Tag("city") == [],
        Tag("city") != "",
        Tag("city") % "",
        Text("blurb") == "",
        Text("blurb") % "",
        Num("year") == None,  # noqa: E711
        FilterExpression("*"),
    ]


def test_a_redisvl_clause_rendered_as_match_all_is_refused(cities: VectorIndex) -> None:
    v = _vectors(1)[0]
    for leaf in _star_leaves():
        for flt in (
            leaf,
            leaf & (Num("year") >= 2000),
            (Tag("city") == "Boston") & leaf,
            leaf | (Tag("city") == "Boston"),
            (F("year") > 0) & leaf,
        ):
            with pytest.raises(FilterError, match="filter=None"):
                cities.find(flt)
            with pytest.raises(FilterError, match="filter=None"):
                cities.search(v, k=10, filter=flt)
        with pytest.raises(FilterError, match="filter=None"):
            cities.delete_by_filter(leaf & (Num("year") >= 2000))
    assert cities.count() == len(CITIES)  # nothing was deleted
    assert cities.count(None) == len(CITIES)  # "no filter" is filter=None


def test_adapters_refuse_an_empty_tenant_in_a_redisvl_filter(config: RedisAgentConfig) -> None:
    docs = [
        Document("acme plan", metadata={"tenant": "acme", "kind": "draft"}, id="acme-1"),
        Document("globex secret", metadata={"tenant": "globex", "kind": "draft"}, id="globex-1"),
    ]
    lc = LangChainStore(
        DeterministicFakeEmbedding(size=DIMS),
        index_name="lc_empty_tenant",
        config=config,
        metadata_fields={"tenant": "tag", "kind": "tag"},
        algorithm="flat",
    )
    lc.add_documents(docs)
    for tenant in ("", None, []):
        flt = (Tag("tenant") == tenant) & (Tag("kind") == "draft")
        with pytest.raises(FilterError, match="filter=None"):
            lc.similarity_search("plan", k=10, filter=flt)
        with pytest.raises(FilterError, match="filter=None"):
            lc.delete(filter=flt)
    assert {d.id for d in lc.get_by_ids(["acme-1", "globex-1"])} == {"acme-1", "globex-1"}
    assert [d.id for d in lc.similarity_search("plan", k=10, filter=Tag("tenant") == "acme")] == [
        "acme-1"
    ]

    li = LlamaIndexStore(
        "li_empty_tenant",
        config=config,
        dims=DIMS,
        metadata_fields={"tenant": "tag", "kind": "tag"},
        algorithm="flat",
    )
    vectors = _vectors(2)
    li.add(
        [
            TextNode(id_=d.id, text=d.page_content, metadata=d.metadata, embedding=v.tolist())
            for d, v in zip(docs, vectors, strict=True)
        ]
    )
    query = VectorStoreQuery(query_embedding=vectors[0].tolist(), similarity_top_k=10)
    with pytest.raises(FilterError, match="filter=None"):
        li.query(query, filter=(Tag("tenant") == "") & (Tag("kind") == "draft"))
    assert len(li.query(query).nodes) == 2


# -- review11 finding 2: Text % pattern is interpolated raw by redisvl --
def test_text_patterns_cannot_leave_their_clause(cities: VectorIndex) -> None:
    boston = Tag("city") == "Boston"
    for user_text in (
        "zzz)|(river",  # closed the clause: every city's river
        "zzz) | -(zzz",
        "zzz) | (*",  # was a raw ResponseError
        "(river)",
        "river)",
        "-river",
        "a-b",
        'river" | "city',
        "$river",
        "~river",
        "river=>{$weight:2}",
        "_",
        "*",
        "%%%%river%%%%",
        "%river",
        "river**",
        "a||b",
        "|river",
        "river\tcity",
        "river\n",
        "   ",
    ):
        for flt in (boston & (Text("blurb") % user_text), Text("blurb") % user_text):
            with pytest.raises(FilterError, match=r"Text % accepts|dict form"):
                cities.find(flt)
            with pytest.raises(FilterError, match=r"Text % accepts|dict form"):
                cities.search(_vectors(1)[0], k=10, filter=flt)
    # the grammar redisvl documents still works, inside the tenant's clause
    for pattern, expected in (
        ("river", {"Boston"}),
        ("Bost*", {"Boston"}),
        ("*oston", {"Boston"}),
        ("*osto*", {"Boston"}),
        ("%Bostn%", {"Boston"}),
        ("%%Bstn%%", {"Boston"}),
        ("%%%Bostonxyz%%%", {"Boston"}),
        ("city river", {"Boston"}),
        ("Boston|nowhere", {"Boston"}),
        ("nowhere | Bost*", {"Boston"}),
        ("nowhere", set()),
        ("São*", set()),
        ("x_y", set()),
        ('"river"', {"Boston"}),  # a quoted phrase: read as Text == "river"
    ):
        assert _cities(cities, boston & (Text("blurb") % pattern)) == expected, pattern
    assert _cities(cities, Text("blurb") % "São* | York") == {"São Paulo", "New York", "York"}


# -- review11 finding 4: text values match the words their documents were indexed as --
BODIES = {
    "dollar": "costs $5 each",
    "path": "C:\\path\\file",
    "lines": "first line\nsecond line",
    "plain": "free of charge",
}


@pytest.fixture
def bodies(config: RedisAgentConfig) -> VectorIndex:
    index = VectorIndex(
        "bodies", config=config, dims=DIMS, algorithm="flat", metadata_fields={"body": "text"}
    )
    index.add(
        list(BODIES.values()),
        ids=list(BODIES),
        metadatas=[{"body": b} for b in BODIES.values()],
        vectors=_vectors(len(BODIES)),
    )
    return index


def _ids(index: VectorIndex, filter: object) -> set[str]:
    return {h.id for h in index.find(filter)}


def test_text_filters_with_dollar_backslash_or_newline_match(bodies: VectorIndex) -> None:
    every = set(BODIES)
    for value, doc in (
        ("costs $5 each", "dollar"),
        ("$5", "dollar"),
        ("C:\\path\\file", "path"),
        ("pathfile", "path"),
        ("first line\nsecond", "lines"),
    ):
        assert _ids(bodies, {"body": value}) == {doc}, value
        assert _ids(bodies, Text("body") == value) == {doc}, value
        assert _ids(bodies, {"body": {"$in": [value, "charge"]}}) == {doc, "plain"}, value
        # the exclusions exclude it (they excluded nothing: the phrase never matched)
        assert _ids(bodies, {"body": {"$ne": value}}) == every - {doc}, value
        assert _ids(bodies, {"body": {"$nin": [value]}}) == every - {doc}, value
        assert _ids(bodies, {"$not": {"body": value}}) == every - {doc}, value
        assert _ids(bodies, Text("body") != value) == every - {doc}, value
    # the BM25 query text is split the same way
    assert bodies.text_search("C:\\path\\file", k=1)[0].id == "path"
    assert bodies.text_search("line\nsecond", k=1)[0].id == "lines"


def test_text_filters_that_cannot_match_are_refused(bodies: VectorIndex) -> None:
    for value in ("$", "\\", "--", "\n"):
        with pytest.raises(FilterError, match=r"no words|empty value"):
            bodies.find({"body": {"$ne": value}})
    for value in ("x\\,y", "a\\\\b", "p\\ q"):  # indexed as "x,y", "a\\b", "p q"
        with pytest.raises(FilterError, match="backslash"):
            bodies.find({"body": {"$ne": value}})
        with pytest.raises(FilterError, match="backslash"):
            bodies.find(Text("body") != value)


def test_llamaindex_text_exclusions_exclude(config: RedisAgentConfig) -> None:
    store = LlamaIndexStore(
        "li_bodies", config=config, dims=DIMS, metadata_fields={"body": "text"}, algorithm="flat"
    )
    vectors = _vectors(len(BODIES))
    store.add(
        [
            TextNode(id_=name, text=body, metadata={"body": body}, embedding=v.tolist())
            for (name, body), v in zip(BODIES.items(), vectors, strict=True)
        ]
    )

    def ids(*filters: MetadataFilter, condition: FilterCondition = FilterCondition.AND) -> set:
        query = VectorStoreQuery(
            query_embedding=vectors[0].tolist(),
            similarity_top_k=10,
            filters=MetadataFilters(filters=list(filters), condition=condition),
        )
        return {n.id_ for n in store.query(query).nodes}

    ne = MetadataFilter(key="body", value="costs $5 each", operator=FilterOperator.NE)
    assert ids(ne) == set(BODIES) - {"dollar"}
    assert ids(MetadataFilter(key="body", value="$5"), condition=FilterCondition.NOT) == set(
        BODIES
    ) - {"dollar"}
    assert ids(MetadataFilter(key="body", value="C:\\path\\file")) == {"path"}
    assert ids(MetadataFilter(key="body", value="$5", operator=FilterOperator.TEXT_MATCH)) == {
        "dollar"
    }


# -- review11 finding 8: NaN / infinity in metadata (orjson writes them as null) --
def test_nan_or_inf_in_metadata_is_refused_before_writing(
    cities: VectorIndex, config: RedisAgentConfig
) -> None:
    nan, inf = float("nan"), float("inf")
    for meta in (
        {"score": nan},
        {"score": -inf},
        {"city": "Oslo", "nested": {"list": [1.0, inf]}},
        {"pairs": [(1, nan)]},
    ):
        with pytest.raises(ConfigError, match="NaN or infinity"):
            cities.add(["t"], ids=["nan1"], metadatas=[meta], vectors=_vectors(1))
        # a batch: the bad document is named, none of the batch is written
        with pytest.raises(ConfigError, match="metadata #1 holds NaN or infinity"):
            cities.add(
                ["a", "b"], ids=["ok1", "nan2"], metadatas=[{"x": None}, meta], vectors=_vectors(2)
            )
    assert cities.get(["nan1", "ok1", "nan2"]) == []
    # None and finite floats are values like any other
    cities.add(["t"], ids=["fine"], metadatas=[{"x": None, "y": 1.5}], vectors=_vectors(1))
    assert cities.get(["fine"])[0].metadata == {"x": None, "y": 1.5}

    lc = LangChainStore(
        DeterministicFakeEmbedding(size=DIMS), index_name="lc_nan", config=config, algorithm="flat"
    )
    with pytest.raises(ConfigError, match="NaN or infinity"):
        lc.add_texts(["x"], metadatas=[{"score": nan}], ids=["l1"])
    assert lc.get_by_ids(["l1"]) == []
    li = LlamaIndexStore("li_nan", config=config, dims=DIMS, algorithm="flat")
    node = TextNode(id_="n1", text="x", metadata={"score": nan}, embedding=[1.0, 0, 0, 0])
    with pytest.raises(ConfigError, match="NaN or infinity"):
        li.add([node])  # LlamaIndex's node_to_metadata_dict would write it as null
    assert li.get_nodes(["n1"]) == []


# -- review12 finding 1: numbers a double cannot hold (snowflake ids on a numeric field) --
ALICE, MALLORY = 1234567890123456789, 1234567890123456790  # one double to the index


def test_ints_beyond_2_53_are_refused_on_numeric_fields(
    cities: VectorIndex, config: RedisAgentConfig
) -> None:
    for value in (MALLORY, -MALLORY, 2**53 + 1, str(MALLORY), f" {MALLORY}"):
        with pytest.raises(ConfigError, match=r"'year' is numeric.*2\*\*53.*tag field"):
            cities.add(
                ["a", "b"], ids=["big1", "big2"], metadatas=[{"year": 1}, {"year": value}],
                vectors=_vectors(2),
            )  # fmt: skip
    assert cities.get(["big1", "big2"]) == []  # nothing of the batch was written
    for flt in ({"year": MALLORY}, {"year": {"$ne": -MALLORY}}, {"year": {"$in": [1, MALLORY]}},
                {"year": {"$gte": 2**53 + 1}}, F("year") < MALLORY, Num("year") == MALLORY,
                Num("year") != MALLORY):  # fmt: skip
        with pytest.raises(FilterError, match=r"'year' is numeric.*2\*\*53"):
            cities.find(flt)
    # the limit itself, floats (doubles already) and float strings stay accepted
    edge = {"year": 2**53}
    cities.add(["e", "f", "g"], ids=["edge", "float", "str"], vectors=_vectors(3),
               metadatas=[edge, {"year": 1.5e30}, {"year": "1e30"}])  # fmt: skip
    assert _ids(cities, edge) == {"edge"}
    assert _ids(cities, {"year": {"$gt": -(2**53)}}) >= {"edge", "float"}
    assert _ids(cities, {"year": 1.5e30}) == {"float"}
    assert _ids(cities, {"year": 1e30}) == {"str"}

    # the adapters write and filter through the same checks
    lc = LangChainStore(DeterministicFakeEmbedding(size=DIMS), index_name="lc_big", config=config,
                        algorithm="flat", metadata_fields={"user_id": "numeric"})  # fmt: skip
    with pytest.raises(ConfigError, match="2\\*\\*53"):
        lc.add_texts(["alice", "mallory"], metadatas=[{"user_id": ALICE}, {"user_id": MALLORY}])
    lc.add_texts(["bob"], metadatas=[{"user_id": 7}], ids=["bob"])
    with pytest.raises(FilterError, match="2\\*\\*53"):
        lc.delete(filter={"user_id": MALLORY})
    assert [d.id for d in lc.similarity_search("bob", k=5)] == ["bob"]
    li = LlamaIndexStore("li_big", config=config, dims=DIMS, algorithm="flat",
                         metadata_fields={"user_id": "numeric"})  # fmt: skip
    node = TextNode(id_="m", text="x", metadata={"user_id": MALLORY}, embedding=[1.0, 0, 0, 0])
    with pytest.raises(ConfigError, match="2\\*\\*53"):
        li.add([node])
    assert li.get_nodes(["m"]) == []
    query = VectorStoreQuery(
        query_embedding=[1.0, 0, 0, 0], similarity_top_k=5,
        filters=MetadataFilters(filters=[MetadataFilter(key="user_id", value=MALLORY)]),
    )  # fmt: skip
    with pytest.raises(FilterError, match="2\\*\\*53"):
        li.query(query)


# -- review12 finding 2: text filter values holding stop words --
TITLES = {
    "godfather_the": "The Godfather",
    "godfather": "Godfather",
    "wind": "Gone with the Wind",
    "lotr": "The Lord of the Rings",
    "lotr_punct": "Lord, of the Rings!",
    "reversed": "Rings of the Lord",
    "elf": "Lord elf Rings",
}
# Candidates for the server's default stop words: common English function words.
CANDIDATES = """i me my we our you your he him his she her it its they them their what which
who whom this that these those am is are was were be been being have has had do does did a
an the and but if or because as until while of at by for with about against between into
through during before after above below to from up down in out on off over under again then
once here there when where why how all any both each few more most other some such no nor not
only own same so than too very can will just should now would could shall may might must
also yet""".split()


@pytest.fixture
def films(config: RedisAgentConfig) -> VectorIndex:
    index = VectorIndex(
        "films", config=config, dims=DIMS, algorithm="flat", metadata_fields={"title": "text"}
    )
    index.add(
        ["film"] * len(TITLES),
        ids=list(TITLES),
        metadatas=[{"title": t} for t in TITLES.values()],
        vectors=_vectors(len(TITLES)),
    )
    return index


def test_default_stopwords_are_the_servers(config: RedisAgentConfig) -> None:
    from redis_agent_core.vectors.checks import DEFAULT_STOPWORDS

    client, name = config.get_client(), f"{config.namespace}:sw_probe"
    client.execute_command("FT.CREATE", name, "PREFIX", 1, f"{name}:", "SCHEMA", "t", "TEXT")
    words = sorted(set(CANDIDATES) | DEFAULT_STOPWORDS)
    for i, word in enumerate(words):
        client.hset(f"{name}:{i}", "t", f"zz {word} yy")
    dropped = set()
    for word in words:
        reply = client.execute_command(
            "FT.SEARCH", name, f'@t:("zz {word} yy")', "NOCONTENT", "DIALECT", 2
        )
        if search_rows(reply)[0] == 0:  # the word is not in the index
            dropped.add(word)
    assert dropped == DEFAULT_STOPWORDS


def test_text_filters_leave_stop_words_out(films: VectorIndex) -> None:
    every = set(TITLES)
    # the index holds no stop word: "The Godfather" is the phrase "Godfather", and the
    # words around a stop word are adjacent ("lord rings"); word order still counts
    cases = {
        "The Godfather": {"godfather_the", "godfather"},
        "Gone with the Wind": {"wind"},
        "the lord of the rings": {"lotr", "lotr_punct"},
        "Lord Rings": {"lotr", "lotr_punct"},
        "rings of the lord": {"reversed"},
    }
    for value, docs in cases.items():
        assert _ids(films, {"title": value}) == docs, value
        assert _ids(films, F("title") == value) == docs, value
        assert _ids(films, Text("title") == value) == docs, value
        assert _ids(films, {"title": {"$in": [value, "elf"]}}) == docs | {"elf"}, value
        assert _ids(films, {"title": {"$ne": value}}) == every - docs, value
        assert _ids(films, {"title": {"$nin": [value]}}) == every - docs, value
        assert _ids(films, {"$not": {"title": value}}) == every - docs, value
        assert _ids(films, Text("title") != value) == every - docs, value
    assert _ids(films, Text("title") % "the wind") == {"wind"}
    # a value of stop words only cannot be matched: refused, not "nothing" / "everything"
    for value in ("The", "to be or not to be", "it is, as it was"):
        for flt in ({"title": value}, {"title": {"$ne": value}}, {"$not": {"title": value}},
                    {"title": {"$in": ["Godfather", value]}}, Text("title") != value):  # fmt: skip
            with pytest.raises(FilterError, match="only stop words"):
                films.find(flt)
    with pytest.raises(FilterError, match="only stop words"):
        films.find(Text("title") % "the|a")


def test_llamaindex_text_filters_leave_stop_words_out(config: RedisAgentConfig) -> None:
    store = LlamaIndexStore(
        "li_films", config=config, dims=DIMS, metadata_fields={"title": "text"}, algorithm="flat"
    )
    titles = {"d0": "The Godfather", "d1": "Gone with the Wind", "d2": "Casablanca"}
    store.add([TextNode(id_=i, text="film", metadata={"title": t}, embedding=[1.0, 0, 0, 0])
               for i, t in titles.items()])  # fmt: skip

    def ids(*filters: MetadataFilter, condition: FilterCondition = FilterCondition.AND) -> set:
        query = VectorStoreQuery(
            query_embedding=[1.0, 0, 0, 0], similarity_top_k=10,
            filters=MetadataFilters(filters=list(filters), condition=condition),
        )  # fmt: skip
        return {n.id_ for n in store.query(query).nodes}

    assert ids(MetadataFilter(key="title", value="The Godfather")) == {"d0"}
    wind = MetadataFilter(key="title", value="with the Wind", operator=FilterOperator.TEXT_MATCH)
    assert ids(wind) == {"d1"}
    ne = MetadataFilter(key="title", value="The Godfather", operator=FilterOperator.NE)
    assert ids(ne) == {"d1", "d2"}
    gone = MetadataFilter(key="title", value="Gone with the Wind")
    assert ids(gone, condition=FilterCondition.NOT) == {"d0", "d2"}
    with pytest.raises(FilterError, match="only stop words"):
        ids(MetadataFilter(key="title", value="The"), condition=FilterCondition.NOT)


def test_text_filters_use_the_index_stop_words(config: RedisAgentConfig) -> None:
    # an index with no stop words (STOPWORDS 0) holds "the": phrases keep it
    plain = VectorIndex("films0", config=config, dims=DIMS, algorithm="flat",
                        metadata_fields={"title": "text"}, stopwords=[])  # fmt: skip
    plain.add(["film", "film"], ids=["the", "bare"], vectors=_vectors(2),
              metadatas=[{"title": "The Godfather"}, {"title": "Godfather"}])  # fmt: skip
    info = describe_info(config.get_client().execute_command("FT.INFO", plain.index_name))
    assert info["stopwords"] == []
    assert _ids(plain, {"title": "The Godfather"}) == {"the"}
    assert _ids(plain, {"title": {"$ne": "The Godfather"}}) == {"bare"}
    assert _ids(plain, {"title": "The"}) == {"the"}
    # opened from the server or a spec, it keeps its list; opened as a default-list
    # index, it is refused (its text filters would leave out words it holds)
    for again in (
        VectorIndex.from_existing("films0", config=config),
        VectorIndex.from_spec(plain.to_spec(), config=config),
    ):
        assert again.schema.stopwords == ()
        assert _ids(again, {"title": "The Godfather"}) == {"the"}
    with pytest.raises(SchemaMismatchError, match="stop words: index has \\[\\], requested"):
        VectorIndex("films0", config=config, dims=DIMS, algorithm="flat",
                    metadata_fields={"title": "text"}).count()  # fmt: skip
    # a list of one's own: its words are left out, "the" is kept
    own = VectorIndex("films1", config=config, dims=DIMS, metadata_fields={"title": "text"},
                      stopwords=["Lord"])  # fmt: skip
    own.add(["film", "film"], ids=["lotr", "rings"], vectors=_vectors(2),
            metadatas=[{"title": "The Lord of the Rings"}, {"title": "of the rings"}])  # fmt: skip
    assert _ids(own, {"title": "Lord of the rings"}) == {"lotr", "rings"}
    with pytest.raises(FilterError, match="only stop words"):
        own.find({"title": "LORD"})
    # the HNSW index the auto index switches to is created with the same list
    assert own.pick_algorithm(force=True, sample=2, seed=1).switched
    live = describe_info(config.get_client().execute_command("FT.INFO", own.index_name))
    assert live["stopwords"] == ["lord"]
    # a redisvl schema's stop words are kept by the adapters (here STOPWORDS 0)
    schema = {
        "index": {"name": "lc_films", "prefix": "lcf", "stopwords": []},
        "fields": [
            {"name": "text", "type": "text"},
            {"name": "title", "type": "text"},
            {"name": "embedding", "type": "vector",
             "attrs": {"dims": DIMS, "algorithm": "flat", "distance_metric": "cosine"}},
        ],
    }  # fmt: skip
    lc = LangChainStore(DeterministicFakeEmbedding(size=DIMS), config=config, index_schema=schema)
    lc.add_texts(["film", "film"], metadatas=[{"title": "The Godfather"}, {"title": "Godfather"}],
                 ids=["the", "bare"])  # fmt: skip
    assert {d.id for d in lc.similarity_search("film", k=5, filter={"title": "The Godfather"})} == {
        "the"
    }
