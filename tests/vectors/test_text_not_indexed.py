"""An index whose text is stored but not indexed (``index_text=False``): a text query
there matched nothing (``text_search`` returned ``[]``) and ``hybrid`` was a pure vector
query, silently. Both now raise ConfigError naming the fix before sending. And
``from_existing`` on such an index with another TEXT metadata field took that field as
the documents' text: it is refused unless ``text_field=`` says which field it is."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from langchain_redis_agent import RedisVectorStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.vectors import VectorIndex

V = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)


def _unindexed(config: RedisAgentConfig, **fields: str) -> VectorIndex:
    index = VectorIndex(
        "p4", dims=4, algorithm="flat", config=config, index_text=False,
        metadata_fields={"t": "tag", **fields},
    )  # fmt: skip
    metas = [{"t": "a", **dict.fromkeys(fields, "hello")}] * 5
    index.add([f"redis doc {i}" for i in range(5)], ids=[f"d{i}" for i in range(5)],
              metadatas=metas, vectors=V)  # fmt: skip
    return index


def test_text_and_hybrid_queries_refuse_an_index_without_indexed_text(
    config: RedisAgentConfig,
) -> None:
    index = _unindexed(config)
    fix = r"'p4'.*not indexed \(index_text=False\).*use search\(\).*index_text=True"
    with pytest.raises(ConfigError, match="text_search on vector index " + fix):
        index.text_search("redis", k=3)
    with pytest.raises(ConfigError, match="hybrid on vector index " + fix):
        index.hybrid("redis", k=3, vector=V[0])
    with pytest.raises(ConfigError, match="text_search on vector index"):
        asyncio.run(index.atext_search("redis", k=3))
    with pytest.raises(ConfigError, match="hybrid on vector index"):
        asyncio.run(index.ahybrid("redis", k=3, vector=V[0]))
    assert [h.id for h in index.search(V[0], k=1)] == ["d0"]  # vector queries still work


def test_from_existing_refuses_to_guess_the_text_field(config: RedisAgentConfig) -> None:
    _unindexed(config, body="text")
    with pytest.raises(ConfigError, match=r"TEXT fields \['body'\] but none named 'text'.*"
                       r"text_field='body'"):  # fmt: skip
        VectorIndex.from_existing("p4", config=config)
    # the text stored unindexed under "text": body stays a metadata field
    stored = VectorIndex.from_existing("p4", config=config, text_field="text")
    assert not stored.schema.index_text
    hit = stored.search(V[0], k=1)[0]
    assert (hit.id, hit.text, hit.metadata["body"]) == ("d0", "redis doc 0", "hello")
    assert [h.id for h in stored.search(V[0], k=2, filter={"body": "hello"})] == ["d0", "d1"]
    with pytest.raises(ConfigError, match="not indexed"):
        stored.text_search("redis")
    # or body taken as the documents' (indexed) text, when that is what the app means
    body = VectorIndex.from_existing("p4", config=config, text_field="body")
    assert body.schema.index_text and body.schema.text_field == "body"
    assert len(body.text_search("hello", k=10)) == 5
    with pytest.raises(ConfigError, match=r"text_field 't' .* is a tag field"):
        VectorIndex.from_existing("p4", config=config, text_field="t")
    lc = RedisVectorStore.from_existing_index(
        DeterministicFakeEmbedding(size=4), "p4", config=config, text_field="text"
    )
    assert not lc.index.schema.index_text


def test_from_existing_without_any_text_field_knows_the_text_is_not_indexed(
    config: RedisAgentConfig,
) -> None:
    _unindexed(config)
    index = VectorIndex.from_existing("p4", config=config)
    assert not index.schema.index_text
    assert index.search(V[0], k=1)[0].text == "redis doc 0"
    with pytest.raises(ConfigError, match="not indexed"):
        index.hybrid("redis", vector=V[0])


@pytest.mark.parametrize(
    "growth",
    [0, 0.5, -1, float("nan"), float("inf"), True, "2", 10**400],
    ids=["0", "0.5", "-1", "nan", "inf", "True", "str", "10**400"],
)
def test_ensure_recall_refuses_a_growth_that_is_not_a_number_at_least_one(
    config: RedisAgentConfig, growth: object
) -> None:
    index = VectorIndex("g", dims=4, config=config, algorithm="hnsw")
    with pytest.raises(ConfigError, match="growth must be a finite number >= 1"):
        index.ensure_recall(growth=growth)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="growth must be a finite number >= 1"):
        asyncio.run(index.aensure_recall(growth=growth))  # type: ignore[arg-type]


def test_the_adapters_text_and_hybrid_modes_refuse_it_too(config: RedisAgentConfig) -> None:
    from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

    from llamaindex_redis_agent import RedisVectorStore as LlamaIndexStore

    lc = RedisVectorStore(DeterministicFakeEmbedding(size=4), index=_unindexed(config))
    with pytest.raises(ConfigError, match="hybrid on vector index 'p4'"):
        lc.hybrid_search("redis", k=2)
    with pytest.raises(ConfigError, match="hybrid on vector index 'p4'"):
        asyncio.run(lc.ahybrid_search("redis", k=2))
    li = LlamaIndexStore("li", config=config, dims=4, index_text=False)
    for mode in (VectorStoreQueryMode.TEXT_SEARCH, VectorStoreQueryMode.HYBRID):
        query = VectorStoreQuery(
            query_str="redis", query_embedding=V[0].tolist(), similarity_top_k=2, mode=mode
        )
        with pytest.raises(ConfigError, match="on vector index 'li'"):
            li.query(query)
        with pytest.raises(ConfigError, match="on vector index 'li'"):
            asyncio.run(li.aquery(query))


class _PeerConfig:
    """A langchain-redis RedisConfig as the store reads it (by its attributes)."""

    to_index_schema = None  # marks a RedisConfig

    def __init__(self, **given: object) -> None:
        self.index_name, self.key_prefix, self.from_existing = "p4", None, True
        self.model_fields_set = {"redis_client", *given}
        self.redis_client = "peer"
        self.__dict__.update(given)


def test_a_redis_config_from_existing_passes_its_content_field(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_redis_agent import vectorstores

    real = vectorstores.peer_config  # the peer's client stands for this test's server

    def peer_config(owner: str, **kwargs: Any) -> Any:
        return config if kwargs.get("redis_client") == "peer" else real(owner, **kwargs)

    monkeypatch.setattr(vectorstores, "peer_config", peer_config)
    _unindexed(config, body="text")
    fake = DeterministicFakeEmbedding(size=4)
    with pytest.raises(ConfigError, match="none named 'text'"):
        RedisVectorStore(fake, config=_PeerConfig())  # type: ignore[arg-type]
    store = RedisVectorStore(fake, config=_PeerConfig(content_field="body"))  # type: ignore[arg-type]
    assert store.index.schema.text_field == "body" and store.index.schema.index_text


def test_llamaindex_opening_a_stored_index_takes_text_field(config: RedisAgentConfig) -> None:
    from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode

    from llamaindex_redis_agent import RedisVectorStore as LlamaIndexStore

    _unindexed(config, body="text")
    with pytest.raises(ConfigError, match="none named 'text'"):
        LlamaIndexStore("p4", config=config).query(VectorStoreQuery(query_embedding=V[0].tolist()))
    # body taken as the (indexed) text: a text search runs on it (no hit: the documents
    # are not LlamaIndex nodes, which only a hit would need)
    store = LlamaIndexStore("p4", config=config, text_field="body")
    mode = VectorStoreQueryMode.TEXT_SEARCH
    got = store.query(
        VectorStoreQuery(query_str="absent", query_embedding=V[0].tolist(), mode=mode)
    )
    assert got.ids == [] and store.index.schema.text_field == "body"
