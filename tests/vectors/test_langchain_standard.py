"""langchain-tests' standard vector store suite, sync and async, nothing overridden, and
its retriever suite on ``as_retriever()``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests.retrievers import RetrieversIntegrationTests
from langchain_tests.integration_tests.vectorstores import VectorStoreIntegrationTests

from langchain_redis_agent import RedisVectorStore
from redis_agent_core.config import RedisAgentConfig


class TestRedisVectorStoreStandard(VectorStoreIntegrationTests):
    @pytest.fixture
    async def vectorstore(self, aconfig: RedisAgentConfig) -> AsyncIterator[VectorStore]:  # type: ignore[override]
        store = RedisVectorStore(self.get_embeddings(), index_name="std", config=aconfig)
        yield store
        store.index.drop()


class TestRedisVectorStoreStandardJSONFlat(VectorStoreIntegrationTests):
    """The same suite on JSON storage with a FLAT index."""

    @pytest.fixture
    async def vectorstore(self, aconfig: RedisAgentConfig) -> AsyncIterator[VectorStore]:  # type: ignore[override]
        store = RedisVectorStore(
            self.get_embeddings(),
            index_name="stdj",
            config=aconfig,
            storage="json",
            algorithm="flat",
        )
        yield store
        store.index.drop()


class TestRedisRetrieverStandard(RetrieversIntegrationTests):
    """langchain-tests' retriever suite on ``as_retriever()``: ``k`` given to the
    retriever and to ``invoke`` reaches the store as a keyword it accepts."""

    @pytest.fixture(autouse=True)
    def _store(self, config: RedisAgentConfig) -> Iterator[None]:
        self._vectorstore = RedisVectorStore(
            DeterministicFakeEmbedding(size=6), index_name="stdr", config=config
        )
        self._vectorstore.add_texts([f"text {i}" for i in range(5)])
        yield
        self._vectorstore.index.drop()

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        store = self._vectorstore

        def build(k: int = 4) -> BaseRetriever:
            return store.as_retriever(search_kwargs={"k": k})

        return build  # type: ignore[return-value]

    @property
    def retriever_query_example(self) -> str:
        return "text 1"
