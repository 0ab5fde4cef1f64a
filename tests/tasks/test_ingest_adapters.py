"""Ingestion into the real VectorIndex, and the frameworks' enqueue entry points."""

from __future__ import annotations

import re

import pytest
from celery import Celery

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks import get_job, submit_ingestion, wait_for_job
from redis_agent_core.vectors import VectorIndex
from tests.conftest import keys_matching

pytestmark = pytest.mark.usefixtures("worker")


def test_vector_index_ingestion_with_precomputed_vectors(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    index = VectorIndex("qv", config=task_config, dims=4, algorithm="flat", embedder_name="given")
    items = [
        {"id": f"v{i}", "text": f"text {i}", "metadata": {"i": i}, "vector": [1.0, i, 0.0, 1.0]}
        for i in range(30)
    ]
    job_id = submit_ingestion(index, items, batch_size=8, app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 30
    again = submit_ingestion(index, items, batch_size=8, app=task_app)
    wait_for_job(again, config=task_config, timeout=30)
    hits = index.get([f"v{i}" for i in range(30)])
    assert [h.text for h in hits] == [f"text {i}" for i in range(30)]
    assert len(keys_matching(task_config.get_client(), index.prefix + "*")) == 30


def test_what_the_vector_index_refuses_is_refused_before_queueing(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    index = VectorIndex(
        "qbad",
        config=task_config,
        dims=4,
        algorithm="flat",
        embedder_name="given",
        metadata_fields={"year": "numeric"},
    )
    client = task_config.get_client()
    jobs = set(client.scan_iter(match=f"{task_config.namespace}:job:*"))  # the module's
    good = [{"id": f"g{i}", "text": f"t{i}", "vector": [1.0, i, 0.0, 1.0]} for i in range(3)]
    bad_items = {
        "metadata: cannot be stored as JSON": {"metadata": {"n": 2**70}},
        "metadata: cannot be stored as JSON (str": {"metadata": {"s": "\ud800"}},
        "metadata: metadata 'year' is a numeric field": {"metadata": {"year": "soon"}},
        "id: id holds a lone surrogate": {"id": "\udfff"},
        "text: text holds a lone surrogate": {"text": "\ud800"},
    }
    for message, change in bad_items.items():
        bad = {"id": "b", "text": "t", "vector": [1.0, 1.0, 0.0, 1.0], **change}
        with pytest.raises(ConfigError, match="ingestion item 3 .*" + re.escape(message)):
            submit_ingestion(index, [*good, bad], app=task_app)
    # refused before the job existed: nothing was queued or written
    assert set(client.scan_iter(match=f"{task_config.namespace}:job:*")) == jobs
    assert not list(client.scan_iter(match=index.prefix + "*"))


def test_langchain_vector_store_enqueue(task_app: Celery, task_config: RedisAgentConfig) -> None:
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from langchain_redis_agent.vectorstores import RedisVectorStore

    store = RedisVectorStore(
        DeterministicFakeEmbedding(size=8), index_name="lcq", config=task_config, algorithm="flat"
    )
    docs = [Document(page_content=f"note number {i}", metadata={"i": i}) for i in range(12)]
    job_id = store.enqueue_add_documents(
        docs,
        ids=[f"n{i}" for i in range(12)],
        embedder="fake_lc",
        app=task_app,
    )
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.status, job.done) == ("succeeded", 12)
    (best,) = store.similarity_search("note number 5", k=1)
    assert (best.id, best.page_content) == ("n5", "note number 5")


def test_langchain_enqueue_without_a_worker_embedder_fails_with_the_reason(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    from langchain_core.documents import Document
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from langchain_redis_agent.vectorstores import RedisVectorStore

    store = RedisVectorStore(
        DeterministicFakeEmbedding(size=8), index_name="lcx", config=task_config
    )
    job_id = store.enqueue_add_documents([Document(page_content="x")], app=task_app)
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.status, job.failed) == ("failed", 1)
    from redis_agent_core.tasks import job_failures

    (error,) = job_failures(job_id, config=task_config).values()
    assert "embedder" in error
    assert get_job(job_id, config=task_config).finished


def test_llamaindex_vector_store_enqueue(task_app: Celery, task_config: RedisAgentConfig) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from llamaindex_redis_agent.vector_store import RedisVectorStore

    store = RedisVectorStore("liq", config=task_config, algorithm="flat")
    nodes = [TextNode(id_=f"t{i}", text=f"fact {i}") for i in range(10)]
    job_id = store.enqueue_add(nodes, embedder="fake_minilm", app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 10
    query = DeterministicFakeEmbedding(size=384).embed_query("fact 7")
    result = store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=1))
    assert result.ids == ["t7"]


def test_llamaindex_enqueue_keeps_the_nodes_own_embeddings(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    """Nodes that carry an embedding are stored with it; the worker embeds nothing (no
    embedding model could produce these 4-d vectors)."""
    from llama_index.core.schema import TextNode
    from llama_index.core.vector_stores.types import VectorStoreQuery

    from llamaindex_redis_agent.vector_store import RedisVectorStore

    store = RedisVectorStore(
        "lie", config=task_config, dims=4, algorithm="flat", embedder_name="given"
    )
    nodes = [
        TextNode(id_=f"e{i}", text=f"fact {i}", embedding=[1.0, float(i), 0.0, 1.0])
        for i in range(10)
    ]
    job = wait_for_job(store.enqueue_add(nodes, app=task_app), config=task_config, timeout=30)
    assert (job.status, job.done, job.failed) == ("succeeded", 10, 0)
    result = store.query(VectorStoreQuery(query_embedding=[1.0, 7.0, 0.0, 1.0], similarity_top_k=1))
    assert result.ids == ["e7"]


def test_langchain_embeddings_registered_under_the_store_model_name(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    """``register_embeddings`` under the name the store records serves its jobs without
    ``embedder=``."""
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings

    from langchain_redis_agent.tasks import register_embeddings
    from langchain_redis_agent.vectorstores import RedisVectorStore

    class VowelEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[t.count(v) + 0.01 for v in "aeio"] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    register_embeddings("VowelEmbeddings", VowelEmbeddings())
    store = RedisVectorStore(VowelEmbeddings(), index_name="lcv", config=task_config, dims=4)
    docs = [Document(page_content=t) for t in ("aaaa", "oooo", "eeee")]
    job_id = store.enqueue_add_documents(docs, ids=["a", "o", "e"], app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 3
    assert store.similarity_search("oo", k=1)[0].id == "o"


def test_llamaindex_embed_model_registered_by_name(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.schema import TextNode

    from llamaindex_redis_agent.tasks import register_embed_model
    from llamaindex_redis_agent.vector_store import RedisVectorStore

    register_embed_model("li-mock-4", lambda: MockEmbedding(embed_dim=4))
    store = RedisVectorStore(
        "lim", config=task_config, embed_model=MockEmbedding(embed_dim=4), algorithm="flat"
    )
    nodes = [TextNode(id_=f"m{i}", text=f"mock {i}") for i in range(3)]
    job_id = store.enqueue_add(nodes, embedder="li-mock-4", app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 3
