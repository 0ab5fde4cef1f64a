"""Search queries take the embedding model's query form, stored texts its document
form: models that embed a query differently from a passage (E5, BGE, Cohere, Voyage)
found the wrong neighbours when a query was embedded as a document."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from langchain_redis_agent import MiniLMEmbeddings
from langchain_redis_agent import RedisVectorStore as LangChainStore
from langchain_redis_agent import to_core_embedder as lc_core
from llamaindex_redis_agent import MiniLMEmbedding
from llamaindex_redis_agent import to_core_embedder as li_core
from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import (
    BatchingEmbedder,
    CallableEmbedder,
    Embedder,
    aembed_query,
    embed_query,
    has_query_form,
)
from redis_agent_core.errors import ConfigError
from redis_agent_core.search.capabilities import Capabilities
from redis_agent_core.vectors import VectorIndex
from tests.asymmetric import (
    DOCS,
    QUESTION,
    CoreAsym,
    CoreDocumentsOnly,
    LangChainAsym,
    LlamaIndexAsym,
    document_row,
    query_row,
)
from tests.conftest import skip_unless


def _ids(hits: list) -> list[str]:
    return [h.id for h in hits]


def _index(config: RedisAgentConfig, embedder: Embedder) -> VectorIndex:
    index = VectorIndex("qf", config=config, embedder=embedder)
    index.add(list(DOCS.values()), ids=list(DOCS))
    return index


async def test_core_search_embeds_the_query_in_its_query_form(
    aconfig: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "vector search needs the Query Engine")
    model = CoreAsym()
    index = _index(aconfig, model)
    stored = model.calls["embed"]
    assert _ids(index.search(QUESTION, k=1)) == ["rd"]
    assert _ids(index.mmr(QUESTION, k=1)) == ["rd"]
    assert _ids(index.search_range(QUESTION, 0.9, k=3)) == ["rd"]
    assert _ids(await index.asearch(QUESTION, k=1)) == ["rd"]
    assert _ids(await index.ammr(QUESTION, k=1)) == ["rd"]
    assert model.calls["embed"] == stored  # no query went through the document form
    assert model.calls["embed_query"] == 5


async def test_an_embedder_with_embed_only_still_serves_queries(
    aconfig: RedisAgentConfig, capabilities: Capabilities
) -> None:
    # user embedders written before the query form: queries use embed() / aembed()
    skip_unless(capabilities.search, "vector search needs the Query Engine")
    model = CoreDocumentsOnly()
    assert isinstance(model, Embedder) and not has_query_form(model)
    index = _index(aconfig, model)
    assert _ids(index.search("redis", k=1)) == ["rd"]
    assert _ids(await index.asearch("cooking", k=1)) == ["ck"]
    assert model.calls["aembed"] == 1
    assert embed_query(model, ["python"]).tolist() == [query_row("python")]


def test_callable_embedder_query_form() -> None:
    plain = CallableEmbedder(lambda ts: [document_row(t) for t in ts])
    assert not has_query_form(plain)
    assert plain.embed_query([QUESTION]).tolist() == [document_row(QUESTION)]
    both = CallableEmbedder(
        lambda ts: [document_row(t) for t in ts], query_fn=lambda ts: [query_row(t) for t in ts]
    )
    assert has_query_form(both)
    assert both.embed_query([QUESTION]).tolist() == [query_row(QUESTION)]
    assert asyncio.run(aembed_query(both, [QUESTION])).tolist() == [query_row(QUESTION)]
    assert both.embed([QUESTION]).tolist() == [document_row(QUESTION)]

    async def rows(texts: list[str]) -> list[list[float]]:
        return [query_row(t) for t in texts]

    with pytest.raises(ConfigError, match="query_afn needs query_fn"):
        CallableEmbedder(lambda ts: [], query_afn=rows)


def test_langchain_store_embeds_queries_with_embed_query(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "vector search needs the Query Engine")
    model = LangChainAsym()
    store = LangChainStore(model, index_name="qf", config=config)
    store.add_texts(list(DOCS.values()), ids=list(DOCS))
    stored = model.calls["embed_documents"]
    assert [d.id for d in store.similarity_search(QUESTION, k=1)] == ["rd"]
    assert [d.id for d in store.max_marginal_relevance_search(QUESTION, k=1)] == ["rd"]
    assert [d.id for d in asyncio.run(store.asimilarity_search(QUESTION, k=1))] == ["rd"]
    assert model.calls["embed_documents"] == stored
    assert model.calls["embed_query"] == 3


def test_framework_wrappers_route_queries_to_the_query_form() -> None:
    lc = lc_core(LangChainAsym())
    li = li_core(LlamaIndexAsym(model_name="asym"))
    for core in (lc, li):
        assert has_query_form(core)
        assert core.embed([QUESTION]).tolist() == [document_row(QUESTION)]
        assert embed_query(core, [QUESTION]).tolist() == [query_row(QUESTION)]
        assert asyncio.run(aembed_query(core, [QUESTION])).tolist() == [query_row(QUESTION)]
    # and the reverse: the pack's framework objects over a core model with a query form
    lc_model, li_model = MiniLMEmbeddings(CoreAsym()), MiniLMEmbedding(CoreAsym())
    assert lc_model.embed_query(QUESTION) == query_row(QUESTION)
    assert asyncio.run(lc_model.aembed_query(QUESTION)) == query_row(QUESTION)
    assert lc_model.embed_documents([QUESTION]) == [document_row(QUESTION)]
    assert li_model.get_query_embedding(QUESTION) == query_row(QUESTION)
    assert asyncio.run(li_model.aget_query_embedding(QUESTION)) == query_row(QUESTION)
    assert li_model.get_text_embedding(QUESTION) == document_row(QUESTION)


async def test_batching_embedder_keeps_the_query_form() -> None:
    batching = BatchingEmbedder(CoreAsym())
    assert batching.query_form
    queries, docs = await asyncio.gather(
        batching.aembed_query([QUESTION]), batching.aembed([QUESTION])
    )
    assert queries.tolist() == [query_row(QUESTION)]
    assert docs.tolist() == [document_row(QUESTION)]
    assert batching.embed_query([QUESTION]).tolist() == [query_row(QUESTION)]
    batching.close()
    # a model with one form: queries share the stored texts' batches
    single = BatchingEmbedder(CoreDocumentsOnly(), offload=False)
    assert not single.query_form
    both = await asyncio.gather(single.aembed_query(["redis"]), single.aembed(["python"]))
    assert np.vstack(both).tolist() == [query_row("redis"), query_row("python")]
    assert single.calls == 1


def test_the_semantic_cache_compares_prompts_in_one_form(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    # prompt against stored prompt: one form on both sides, as entries from before were
    skip_unless(capabilities.search, "the semantic cache needs the Query Engine")
    model = CoreAsym()
    scope = make_scope({"model": "m"})
    cache = SemanticCache(config, embedder=model)
    cache.update(QUESTION, scope, "answer")
    hit = cache.lookup(QUESTION, scope)
    assert hit is not None and hit.payload == "answer"
    assert model.calls["embed_query"] == 0
