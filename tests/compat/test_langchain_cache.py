"""Coming from langchain-redis: RedisCache / RedisSemanticCache built with its
arguments (redis_url=, redis_client=, prefix=, ttl=) cache per prompt and model string,
separately per prefix."""

from __future__ import annotations

import redis
from langchain_core.outputs import Generation

from langchain_redis_agent import RedisCache, RedisSemanticCache
from redis_agent_core.config import RedisAgentConfig

LLM = "model=fake-llm temperature=0"


def test_exact_cache_by_url_and_prefix(redis_url: str, config: RedisAgentConfig) -> None:
    one = RedisCache(config, redis_url=redis_url, prefix="one", ttl=60)
    two = RedisCache(config, redis_url=redis_url, prefix="two")
    one.update("What is Redis?", LLM, [Generation(text="A data store.")])
    assert one.lookup("What is Redis?", LLM) == [Generation(text="A data store.")]
    assert one.lookup("What is Redis?", "model=other") is None  # per model string
    assert two.lookup("What is Redis?", LLM) is None  # separate caches per prefix
    one.clear()
    assert one.lookup("What is Redis?", LLM) is None


def test_semantic_cache_with_a_client(redis_url: str, config: RedisAgentConfig) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        cache = RedisSemanticCache(config=config, redis_client=client, name="sem")
        assert cache.core.config.get_client() is client
        cache.update("What is the capital of France?", LLM, [Generation(text="Paris")])
        assert cache.lookup("What is the capital of France?", LLM) == [Generation(text="Paris")]
        assert cache.lookup("What is the capital of France?", "model=other") is None
        cache.clear()
    finally:
        client.close()
