"""Agent middleware and workflow stores with Redis down (an expected fault): caches let
the call through, the limiter follows its policy, stores raise typed errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage

from langchain_redis_agent.middleware import (
    CACHE_MARK,
    RateLimitMiddleware,
    SemanticCacheMiddleware,
    ToolResultCacheMiddleware,
)
from llamaindex_redis_agent.workflows import RedisContextStore, RedisWorkflowStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.ratelimit import RateLimiter, RequestLimit
from redis_agent_core.server import EmbeddedRedis

from .conftest import CountingModel
from .test_middleware import weather


@pytest.fixture
def down(own_redis: EmbeddedRedis) -> Iterator[RedisAgentConfig]:
    config = RedisAgentConfig(
        url=own_redis.url, namespace="down", retries=0, socket_connect_timeout=0.5
    )
    config.get_client().ping()
    own_redis.stop()
    yield config
    config.close()


async def test_caches_let_the_agent_run_when_redis_is_down(
    down: RedisAgentConfig, model: CountingModel, embedder: CallableEmbedder
) -> None:
    agent = create_agent(
        model,
        tools=[weather],
        middleware=[
            SemanticCacheMiddleware(embedder, down, on_error="degrade"),
            ToolResultCacheMiddleware({"weather": 60}, down, on_error="degrade"),
        ],
    )
    for _ in range(2):
        out = await agent.ainvoke(
            {"messages": [HumanMessage("weather in Oslo?")]}, context={"user_id": "ada"}
        )
        assert "sunny in Oslo" in str(out["messages"][-1].content)
        assert CACHE_MARK not in out["messages"][-1].response_metadata
    assert model.calls == 4  # every call reached the model: nothing served, nothing lost


async def test_rate_limit_follows_its_policy_when_redis_is_down(
    down: RedisAgentConfig, model: CountingModel
) -> None:
    closed = RateLimiter([RequestLimit(5)], config=down, on_unavailable="fail_closed")
    agent = create_agent(model, tools=[], middleware=[RateLimitMiddleware(closed)])
    with pytest.raises(RedisUnavailableError):
        await agent.ainvoke({"messages": [HumanMessage("hi")]})
    assert model.calls == 0  # no unmetered call went out
    opened = RateLimiter([RequestLimit(5)], config=down, on_unavailable="fail_open")
    agent = create_agent(model, tools=[], middleware=[RateLimitMiddleware(opened)])
    agent.invoke({"messages": [HumanMessage("hi")]})
    assert model.calls == 1


async def test_workflow_stores_raise_typed_when_redis_is_down(down: RedisAgentConfig) -> None:
    store = RedisWorkflowStore(down)
    with pytest.raises(RedisUnavailableError):
        await store.get_ticks("r1")
    with pytest.raises(RedisUnavailableError):
        await RedisContextStore(down).adelete("c1")
