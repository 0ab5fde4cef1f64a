"""An all-zero vector in a cosine index: cosine compares directions and a zero vector
has none, so the server scored it NaN against everything and a search with one returned
arbitrary hits (a silent wrong result), while a zero document vector was stored and came
back last or anywhere. Refused with ZeroVectorError naming the fix, before anything is
written or sent; L2 and inner-product indexes keep taking it (it is a point there)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import redis
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery

from langchain_redis_agent import RedisVectorStore as LangChainStore
from llamaindex_redis_agent import RedisVectorStore as LlamaIndexStore
from redis_agent_core.cache import SemanticCache
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import ZeroVectorError
from redis_agent_core.vectors import VectorIndex

ZERO = [0.0, 0.0, 0.0, 0.0]
ROWS = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.6, 0.8, 0.0, 0.0]]


def _keys(config: RedisAgentConfig) -> list[bytes]:
    return redis.Redis.from_url(config.resolve_url()).keys(f"{config.namespace}:vec:*:d:*")


@pytest.mark.parametrize("algorithm", ["flat", "hnsw"])
def test_a_cosine_index_refuses_a_zero_query_and_a_zero_document(
    config: RedisAgentConfig, algorithm: str
) -> None:
    index = VectorIndex("z", config=config, dims=4, algorithm=algorithm)
    index.add(["a", "b", "c"], ids=["a", "b", "c"], vectors=ROWS)
    with pytest.raises(ZeroVectorError, match=r"query vector is all zeros.*metric='l2'"):
        index.search(ZERO, k=2)
    with pytest.raises(ZeroVectorError, match="query vector is all zeros"):
        asyncio.run(index.asearch(np.zeros(4, dtype=np.float32), k=2))
    with pytest.raises(ZeroVectorError, match=r"document 'zero' \(row 1\) is all zeros"):
        index.add(["d", "zero"], ids=["d", "zero"], vectors=[ROWS[0], ZERO])
    with pytest.raises(ZeroVectorError, match="document 'zero'"):
        asyncio.run(index.aadd(["zero"], ids=["zero"], vectors=[ZERO]))
    assert len(_keys(config)) == 3  # nothing of either write was stored
    assert [h.id for h in index.search(ROWS[0], k=2)] == ["a", "c"]


@pytest.mark.parametrize("metric", ["l2", "ip"])
def test_l2_and_ip_indexes_take_a_zero_vector(config: RedisAgentConfig, metric: str) -> None:
    index = VectorIndex("p", config=config, dims=4, algorithm="flat", metric=metric)
    index.add(["a", "zero"], ids=["a", "zero"], vectors=[ROWS[0], ZERO])
    hits = index.search(ZERO, k=2)
    assert len(hits) == 2
    if metric == "l2":
        assert hits[0].id == "zero"  # the origin is nearest to itself


def test_the_framework_stores_refuse_zero_vectors_in_a_cosine_index(
    config: RedisAgentConfig,
) -> None:
    langchain = LangChainStore(index=VectorIndex("lc", config=config, dims=4))
    langchain.add_texts_with_vectors(["a"], [ROWS[0]])
    with pytest.raises(ZeroVectorError, match="query vector is all zeros"):
        langchain.similarity_search_by_vector(ZERO, k=1)
    with pytest.raises(ZeroVectorError, match="is all zeros"):
        langchain.add_texts_with_vectors(["zero"], [ZERO])
    llama = LlamaIndexStore("li", config=config, dims=4)
    llama.add([TextNode(text="a", embedding=ROWS[0])])
    with pytest.raises(ZeroVectorError, match="query vector is all zeros"):
        llama.query(VectorStoreQuery(query_embedding=ZERO, similarity_top_k=1))
    with pytest.raises(ZeroVectorError, match="is all zeros"):
        llama.add([TextNode(text="zero", embedding=ZERO)])


def test_a_semantic_cache_never_serves_a_prompt_embedded_as_zeros(
    config: RedisAgentConfig,
) -> None:
    """The cache takes no user vectors to refuse: a model that embeds a prompt (an empty
    one) as zeros makes that prompt a miss, and its stored answer is never served (NaN
    distance is within no threshold). Documented in docs/vectors.md."""

    def embed(texts: list[str]) -> list[list[float]]:
        return [ZERO if not t.strip() else [1.0, float(len(t)), 0.5, 0.0] for t in texts]

    cache = SemanticCache(config, embedder=CallableEmbedder(embed, name="zeros", dims=4))
    cache.update("hello", "s", "answer for hello")
    assert cache.lookup("", "s") is None
    cache.update("", "s", "answer for nothing")
    assert cache.lookup("", "s") is None
    assert cache.lookup("   ", "s") is None
    hit = cache.lookup("hello", "s")
    assert hit is not None and hit.payload == "answer for hello"
