"""langchain-tests' standard vector store suite, sync and async, nothing overridden."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from langchain_core.vectorstores import VectorStore
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
