"""Tag filters match exactly the documents whose value is the same string.

RediSearch trims, splits and normalises raw TAG values: stored raw, a document of tenant
``"a\\tb"`` was returned for ``"a b"``, ``" a"`` matched ``"a"`` and ``" "`` never matched
itself. For a multi-tenant store that is an isolation bug, checked here through the core
filters, the LangChain dict filters and the LlamaIndex MetadataFilters.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from langchain_redis_agent import RedisVectorStore as LangChainStore
from llamaindex_redis_agent import RedisVectorStore as LlamaIndexStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import SchemaMismatchError
from redis_agent_core.vectors import F, FilterError, MetadataField, VectorIndex, tag_value

NFC = unicodedata.normalize("NFC", "é")
NFD = unicodedata.normalize("NFD", "é")

# Pairwise different strings that raw RediSearch tags confuse (or drop) in some way.
TENANTS = [
    "a b", "a\tb", "a  b", "a\nb", " a", "a", "a ", " ", "  ", "\t",
    "A", "Acme", "acme", "ACME",
    "a,b", "a|b", "a;b", "a\x1fb", "a\x1eb", ",", "|", "a.b", "a-b", "a:b", "a*", "*",
    NFC, NFD, "É", "_", "_5f", "_20", "a_20b", "@t:{x}", "x}|{y", "100%", "ünï cödé", "🙂",
]  # fmt: skip
DIMS = 4


def test_the_tenant_values_are_all_different() -> None:
    assert len(set(TENANTS)) == len(TENANTS)
    assert NFC != NFD


def test_tag_value_is_injective_and_cheap_for_plain_values() -> None:
    encoded = [tag_value(t) for t in TENANTS]
    assert len(set(encoded)) == len(encoded)
    assert all(e.isascii() and e.replace("_", "").isalnum() for e in encoded)
    assert tag_value("acme42") == "acme42"
    assert tag_value("a b") == "a_20b"


def _vectors(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    v = rng.normal(size=(n, DIMS)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture(params=["hash", "json"])
def index(config: RedisAgentConfig, request: pytest.FixtureRequest) -> VectorIndex:
    index = VectorIndex(
        "tags",
        config=config,
        dims=DIMS,
        storage=request.param,
        metadata_fields=[
            MetadataField("tenant"),
            MetadataField("ci", "tag", case_sensitive=False),
            MetadataField("labels"),
        ],
    )
    index.add(
        [f"doc {i}" for i in range(len(TENANTS))],
        ids=[f"d{i}" for i in range(len(TENANTS))],
        metadatas=[{"tenant": t, "ci": t, "labels": [t, "common"]} for t in TENANTS],
        vectors=_vectors(len(TENANTS)),
    )
    return index


def _ids(index: VectorIndex, filter: object) -> set[str]:
    found = {h.id for h in index.find(filter, limit=1000)}  # type: ignore[arg-type]
    searched = {h.id for h in index.search(np.ones(DIMS), 1000, filter=filter)}  # type: ignore[arg-type]
    assert found == searched
    assert index.count(filter) == len(found)  # type: ignore[arg-type]
    return found


def _doc(value: str) -> str:
    return f"d{TENANTS.index(value)}"


ALL_DOCS = {f"d{i}" for i in range(len(TENANTS))}


@pytest.mark.parametrize("tenant", TENANTS)
def test_core_filters_match_exactly_the_same_string(index: VectorIndex, tenant: str) -> None:
    me = {_doc(tenant)}
    assert _ids(index, F("tenant") == tenant) == me
    assert _ids(index, F("tenant") != tenant) == ALL_DOCS - me
    assert _ids(index, F("tenant").is_in([tenant])) == me
    assert _ids(index, F("tenant").not_in([tenant])) == ALL_DOCS - me
    assert _ids(index, F("tenant").is_in([tenant, "a"])) == me | {_doc("a")}
    assert _ids(index, F("tenant").not_in([tenant, "a"])) == ALL_DOCS - me - {_doc("a")}
    assert _ids(index, F("labels").any([tenant])) == me
    assert _ids(index, F("labels").contains(tenant)) == me
    assert _ids(index, F("labels").all([tenant, "common"])) == me
    if len(tag_value(tenant)) >= 2:  # RediSearch ignores 1-character infixes (MINPREFIX)
        assert _ids(index, F("tenant").text_match(tenant)) >= me


@pytest.mark.parametrize("tenant", TENANTS)
def test_dict_filters_match_exactly_the_same_string(index: VectorIndex, tenant: str) -> None:
    me = {_doc(tenant)}
    assert _ids(index, {"tenant": tenant}) == me
    assert _ids(index, {"tenant": {"$eq": tenant}}) == me
    assert _ids(index, {"tenant": {"$ne": tenant}}) == ALL_DOCS - me
    assert _ids(index, {"tenant": [tenant]}) == me
    assert _ids(index, {"tenant": {"$in": [tenant]}}) == me
    assert _ids(index, {"tenant": {"$nin": [tenant]}}) == ALL_DOCS - me
    assert _ids(index, {"$not": {"tenant": tenant}}) == ALL_DOCS - me


def test_metadata_comes_back_as_given(index: VectorIndex) -> None:
    for hit in index.get([f"d{i}" for i in range(len(TENANTS))]):
        tenant = TENANTS[int(hit.id[1:])]
        assert hit.metadata == {"tenant": tenant, "ci": tenant, "labels": [tenant, "common"]}
    hit = index.search(np.ones(DIMS), 1, filter=F("tenant") == " ")[0]
    assert hit.metadata["tenant"] == " "


def test_case_insensitive_tags_fold_case_only(index: VectorIndex) -> None:
    acme = {_doc("Acme"), _doc("acme"), _doc("ACME")}
    assert _ids(index, F("ci") == "aCmE") == acme
    assert _ids(index, F("ci") == "É") == {_doc("É"), _doc(NFC)}
    assert _ids(index, F("ci") == "a b") == {_doc("a b")}
    assert _ids(index, F("ci") == " a") == {_doc(" a")}
    assert _ids(index, F("ci") == "a") == {_doc("a"), _doc("A")}
    assert _ids(index, F("ci") == NFD) == {_doc(NFD)}
    assert _ids(index, F("ci").text_match("CM", case_sensitive=False)) == acme


def test_text_match_on_tags_is_a_substring_of_the_original(index: VectorIndex) -> None:
    assert _ids(index, F("tenant").text_match("a b")) == {_doc("a b")}
    assert _ids(index, F("tenant").text_match("a\tb")) == {_doc("a\tb")}
    assert _ids(index, F("tenant").text_match("  ")) == {_doc("a  b"), _doc("  ")}
    assert _ids(index, F("tenant").text_match("cme")) == {_doc("Acme"), _doc("acme")}
    assert _ids(index, F("tenant").text_match("*")) == {_doc("a*"), _doc("*")}
    assert _ids(index, F("tenant").text_match(NFD)) == {_doc(NFD)}
    assert _ids(index, F("tenant").text_match(",")) == {_doc("a,b"), _doc(",")}
    assert _ids(index, F("tenant").text_match("|{")) == {_doc("x}|{y")}
    expected = {_doc(t) for t in TENANTS if "}|" in t}
    assert _ids(index, F("tenant").text_match("}|")) == expected


def test_text_match_on_tags_known_overmatch(index: VectorIndex) -> None:
    # Documented: a text starting with a hex digit (0-9, a-f) can also match where that
    # digit ends the "_hh" escape of a non-alphanumeric byte: "{" is "_7b", so "x}|{y"
    # ("x_7d_7c_7by") is found by text_match("by"). Texts starting otherwise are exact.
    found = _ids(index, F("tenant").text_match("by"))
    assert found - {_doc(t) for t in TENANTS if "by" in t} == {_doc("x}|{y")}


def test_empty_string_is_absent_and_refused_in_filters(index: VectorIndex) -> None:
    index.add(["empty"], ids=["e"], metadatas=[{"tenant": ""}], vectors=_vectors(1))
    assert "e" in _ids(index, F("tenant").is_empty())
    assert _ids(index, F("tenant").is_empty()) == {"e"}
    for bad in (F("tenant") == "", F("tenant") != "", F("tenant").is_in(["a", ""])):
        with pytest.raises(FilterError, match="empty value"):
            index.count(bad)


def test_delete_by_filter_removes_only_the_same_string(index: VectorIndex) -> None:
    assert index.delete_by_filter(F("tenant") == " a") == 1
    assert index.delete_by_filter(F("tenant") == " ") == 1
    assert index.count() == len(TENANTS) - 2
    assert _ids(index, F("tenant") == "a") == {_doc("a")}


def test_separators_in_values_are_accepted(config: RedisAgentConfig) -> None:
    index = VectorIndex("sep", config=config, dims=DIMS, metadata_fields={"tenant": "tag"})
    index.add(["x", "y"], ids=["x", "y"], metadatas=[{"tenant": "a\x1fb"}, {"tenant": ["a", "b"]}],
              vectors=_vectors(2))  # fmt: skip
    assert _ids(index, F("tenant") == "a\x1fb") == {"x"}
    assert _ids(index, F("tenant") == "a") == {"y"}
    assert _ids(index, F("tenant").all(["a", "b"])) == {"y"}


def test_an_index_opened_from_the_server_keeps_each_tag_fields_case(index: VectorIndex) -> None:
    # Over RESP3 FT.INFO lists CASESENSITIVE in a "flags" array (RESP2: a bare word). Read
    # as case-insensitive, from_existing lower-cased every value that is not plain ASCII
    # alphanumeric, in filters and in writes: "Acme Inc" and "É" were found by nothing.
    opened = VectorIndex.from_existing("tags", config=index.config)
    cases = {f.name: f.case_sensitive for f in opened.schema.metadata_fields}
    assert cases == {"tenant": True, "ci": False, "labels": True}
    for tenant in TENANTS:
        for field in ("tenant", "ci"):
            assert _ids(opened, F(field) == tenant) == _ids(index, F(field) == tenant)
    opened.add(["new"], ids=["new"], metadatas=[{"tenant": "Zed Co", "ci": "Zed Co",
               "labels": ["Zed Co"]}], vectors=_vectors(1))  # fmt: skip
    assert _ids(index, F("tenant") == "Zed Co") == {"new"}
    assert _ids(index, F("labels").contains("Zed Co")) == {"new"}


@pytest.mark.parametrize("case_sensitive", [True, False])
def test_opening_a_tag_field_under_another_case_rule_is_refused(
    index: VectorIndex, case_sensitive: bool
) -> None:
    # "tenant" is case-sensitive and "ci" is not: one of the two differs either way, and
    # its filters would miss what the index holds (values are folded before escaping)
    fields = [MetadataField(n, "tag", case_sensitive=case_sensitive) for n in ("tenant", "ci")]
    other = VectorIndex("tags", config=index.config, dims=DIMS, storage=index.schema.storage,
                        metadata_fields=[*fields, MetadataField("labels")])  # fmt: skip
    with pytest.raises(SchemaMismatchError, match="case_sensitive"):
        other.search(np.ones(DIMS), 1)


# -- adapters --
LC_TENANTS = ["a b", "a\tb", " a", "a", " ", "a,b", "a|b", "a;b", "Acme", "acme", NFC, NFD]


def test_langchain_dict_filters(config: RedisAgentConfig) -> None:
    store = LangChainStore(
        DeterministicFakeEmbedding(size=DIMS),
        index_name="lc_tags",
        config=config,
        metadata_fields={"tenant": "tag"},
    )
    store.add_texts(
        [f"text {i}" for i in range(len(LC_TENANTS))],
        [{"tenant": t} for t in LC_TENANTS],
        ids=[f"p{i}" for i in range(len(LC_TENANTS))],
    )
    everyone = {f"p{i}" for i in range(len(LC_TENANTS))}
    k = len(LC_TENANTS) + 5
    for i, tenant in enumerate(LC_TENANTS):
        me = {f"p{i}"}

        def ids(filter: object) -> set[str]:
            return {d.id for d in store.similarity_search("q", k=k, filter=filter)}  # type: ignore[misc]

        assert ids({"tenant": tenant}) == me, repr(tenant)
        assert ids({"tenant": {"$ne": tenant}}) == everyone - me, repr(tenant)
        assert ids({"tenant": {"$in": [tenant]}}) == me, repr(tenant)
        assert ids({"tenant": {"$nin": [tenant]}}) == everyone - me, repr(tenant)
        docs = store.similarity_search("q", k=k, filter={"tenant": tenant})
        assert [d.metadata["tenant"] for d in docs] == [tenant]


def test_llamaindex_metadata_filters(config: RedisAgentConfig) -> None:
    store = LlamaIndexStore(
        "li_tags", config=config, dims=DIMS, metadata_fields={"tenant": "tag", "tags": "tag"}
    )
    nodes = [
        TextNode(id_=f"n{i}", text=f"node {i}", embedding=[1.0, i / 10, 0.1, 0.1],
                 metadata={"tenant": t, "tags": [t, "common"]})
        for i, t in enumerate(LC_TENANTS)
    ]  # fmt: skip
    store.add(nodes)
    everyone = {f"n{i}" for i in range(len(LC_TENANTS))}

    def ids(key: str, op: FilterOperator, value: object) -> set[str]:
        filters = MetadataFilters(filters=[MetadataFilter(key=key, operator=op, value=value)])
        q = VectorStoreQuery(
            query_embedding=[1.0, 0.0, 0.1, 0.1], similarity_top_k=50, filters=filters
        )
        return set(store.query(q).ids or [])

    for i, tenant in enumerate(LC_TENANTS):
        me = {f"n{i}"}
        assert ids("tenant", FilterOperator.EQ, tenant) == me, repr(tenant)
        assert ids("tenant", FilterOperator.NE, tenant) == everyone - me, repr(tenant)
        assert ids("tenant", FilterOperator.IN, [tenant]) == me, repr(tenant)
        assert ids("tenant", FilterOperator.NIN, [tenant]) == everyone - me, repr(tenant)
        assert ids("tags", FilterOperator.ANY, [tenant]) == me, repr(tenant)
        assert ids("tags", FilterOperator.ALL, [tenant, "common"]) == me, repr(tenant)
        assert ids("tags", FilterOperator.CONTAINS, tenant) == me, repr(tenant)
        if len(tag_value(tenant)) >= 2:  # 1-character infixes match nothing (MINPREFIX)
            assert me <= ids("tenant", FilterOperator.TEXT_MATCH, tenant), repr(tenant)
    assert ids("tenant", FilterOperator.TEXT_MATCH, "a\tb") == {"n1"}
    assert ids("tenant", FilterOperator.TEXT_MATCH, "a b") == {"n0"}
    assert ids("tenant", FilterOperator.TEXT_MATCH, " ") == {"n0", "n2", "n4"}
