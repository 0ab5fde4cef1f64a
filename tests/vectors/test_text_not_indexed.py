"""An index whose text is stored but not indexed (``index_text=False``): a text query
there matched nothing (``text_search`` returned ``[]``) and ``hybrid`` was a pure vector
query, silently. Both now raise ConfigError naming the fix before sending. And
``from_existing`` on such an index with another TEXT metadata field took that field as
the documents' text: it is refused unless ``text_field=`` says which field it is."""

from __future__ import annotations

import asyncio

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
