"""LangChain RedisVectorStore beyond the standard suite: filters, scores, retrievers,
constructors, and an LCEL RAG chain over the default embedding model."""

from __future__ import annotations

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from langchain_redis_agent import MiniLMEmbeddings, RedisVectorStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import SentenceTransformerEmbedder
from redis_agent_core.vectors import F

PASSAGES = [
    ("Redis Streams keep an append-only log with consumer groups.", "redis"),
    ("HNSW builds a layered proximity graph for approximate nearest neighbours.", "vectors"),
    ("Sourdough bread needs a starter, flour, water and salt.", "cooking"),
    ("The Eiffel Tower is in Paris and was finished in 1889.", "travel"),
    ("Celery workers pull tasks from a broker such as Redis.", "redis"),
]


@pytest.fixture
def store(config: RedisAgentConfig, minilm: SentenceTransformerEmbedder) -> RedisVectorStore:
    store = RedisVectorStore(
        MiniLMEmbeddings(minilm),
        index_name="kb",
        config=config,
        metadata_fields={"topic": "tag", "n": "numeric"},
    )
    store.add_texts(
        [p for p, _ in PASSAGES],
        [{"topic": t, "n": i} for i, (_, t) in enumerate(PASSAGES)],
        ids=[f"p{i}" for i in range(len(PASSAGES))],
    )
    return store


def test_meaningful_search_filters_and_scores(store: RedisVectorStore) -> None:
    docs = store.similarity_search("how are approximate nearest neighbour graphs built?", k=1)
    assert docs[0].id == "p1" and docs[0].metadata == {"topic": "vectors", "n": 1}
    redis_only = store.similarity_search("bread baking", k=5, filter={"topic": "redis"})
    assert {d.id for d in redis_only} == {"p0", "p4"}
    core = store.similarity_search("bread", k=5, filter=(F("n") >= 3))
    assert {d.id for d in core} == {"p3", "p4"}
    scored = store.similarity_search_with_relevance_scores("sourdough starter", k=5)
    assert scored[0][0].id == "p2"
    assert all(0 <= s <= 1 for _, s in scored) and scored[0][1] > scored[-1][1]
    distances = store.similarity_search_with_score("sourdough starter", k=2)
    assert distances[0][1] < distances[1][1]  # raw distances: lower is closer


def test_retriever_search_types(store: RedisVectorStore) -> None:
    sim = store.as_retriever(search_kwargs={"k": 2}).invoke("message broker for tasks")
    assert sim[0].id == "p4" and len(sim) == 2
    top = store.similarity_search_with_relevance_scores("message broker for tasks", k=5)
    cut = (top[1][1] + top[2][1]) / 2
    thr = store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"k": 5, "score_threshold": cut},
    ).invoke("message broker for tasks")
    assert [d.id for d in thr] == [d.id for d, _ in top[:2]]
    mmr = store.as_retriever(search_type="mmr", search_kwargs={"k": 3, "fetch_k": 5}).invoke(
        "Redis"
    )
    assert len(mmr) == 3 and len({d.id for d in mmr}) == 3


async def test_async_retriever_and_hybrid(
    store: RedisVectorStore, aconfig: RedisAgentConfig
) -> None:
    docs = await store.as_retriever(search_kwargs={"k": 1}).ainvoke("Paris landmark")
    assert docs[0].id == "p3"
    hybrid = await store.ahybrid_search("consumer groups", k=2)
    assert hybrid[0][0].id == "p0"
    assert store.hybrid_search("consumer groups", k=1)[0][0].id == "p0"


def test_from_texts_and_from_existing_index(config: RedisAgentConfig) -> None:
    emb = DeterministicFakeEmbedding(size=8)
    RedisVectorStore.from_documents(
        [
            Document(page_content="alpha", metadata={"k": "a"}, id="a"),
            Document(page_content="beta"),
        ],
        emb,
        index_name="fx",
        config=config,
        metadata_fields={"k": "tag"},
    )
    reopened = RedisVectorStore.from_existing_index(emb, "fx", config=config)
    assert reopened.similarity_search("alpha", k=1, filter={"k": "a"})[0].id == "a"
    assert len(reopened.get_by_ids(["a", "missing"])) == 1
    assert reopened.delete(None, filter={"k": "a"})
    assert reopened.index.count() == 1


def test_lcel_rag_chain_retrieves_the_right_passage(store: RedisVectorStore) -> None:
    seen: list[str] = []

    def fmt(docs: list[Document]) -> str:
        seen.extend(d.id or "" for d in docs)
        return "\n".join(d.page_content for d in docs)

    prompt = ChatPromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    llm = FakeListChatModel(responses=["It was finished in 1889."])
    chain = (
        {
            "context": store.as_retriever(search_kwargs={"k": 1}) | fmt,
            "question": RunnablePassthrough(),
        }
        | prompt
        | llm
        | StrOutputParser()
    )
    assert chain.invoke("When was the tower in Paris completed?") == "It was finished in 1889."
    assert seen == ["p3"]
