"""Partition values longer than RediSearch's 4,096-byte tag limit stay separate
partitions (issue 13 item 4): stored truncated, a tenant whose name shared its first
4,096 bytes with another's was served the other's entries."""

from __future__ import annotations

from redis_agent_core.cache import SemanticCache
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import SentenceTransformerEmbedder
from redis_agent_core.tags import TAG_LIMIT


def test_long_partition_values_do_not_share_entries(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    cache = SemanticCache(
        config, embedder=minilm, name="longparts", filter_fields=("tenant",), verifier=None
    )
    owner, other, prefix = "t" * (TAG_LIMIT + 904), "t" * (TAG_LIMIT + 1), "t" * TAG_LIMIT
    assert cache.update("What is Redis?", "s", "owner's answer", filters={"tenant": owner})
    hit = cache.lookup("What is Redis?", "s", filters={"tenant": owner})
    assert hit is not None and hit.payload == "owner's answer"
    for tenant in (other, prefix):
        assert cache.lookup("What is Redis?", "s", filters={"tenant": tenant}) is None
