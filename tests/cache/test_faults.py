"""Semantic caches partitioned differently never silently share one index (default
names differ, an explicit name reused with other fields is refused), and a Redis that
refuses writes still serves the entries it holds."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.outputs import Generation

from langchain_redis_agent import RedisSemanticCache
from redis_agent_core.cache import ExactCache, SemanticCache, make_scope
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import SchemaMismatchError
from tests.conftest import skip_unless
from tests.faults import FaultyRedis

SCOPE = make_scope({"model": "m"})


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


def test_docs_order_unpartitioned_then_tenant_cache_hits(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # docs/cache.md: RedisSemanticCache(...) first, then RedisSemanticCache(filters=...)
    plain = RedisSemanticCache(toy_embedder, config)
    plain.update("q", "llm", [Generation(text="plain")])
    acme = RedisSemanticCache(toy_embedder, config, filters={"tenant": "acme"})
    acme.update("q", "llm", [Generation(text="acme")])
    assert acme.lookup("q", "llm") == [Generation(text="acme")]
    assert plain.lookup("q", "llm") == [Generation(text="plain")]
    globex = RedisSemanticCache(toy_embedder, config, filters={"tenant": "globex"})
    assert globex.lookup("q", "llm") is None


def test_core_default_names_follow_the_partition_fields(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    assert SemanticCache(config, embedder=toy_embedder).name == "semantic"
    by_two = SemanticCache(config, embedder=toy_embedder, filter_fields=("user", "tenant"))
    assert by_two.name == "semantic-by-tenant-user"
    plain = SemanticCache(config, embedder=toy_embedder, verifier=None)
    plain.update("q", SCOPE, "plain")
    tenant = SemanticCache(config, embedder=toy_embedder, verifier=None, filter_fields=("tenant",))
    assert tenant.update("q", SCOPE, "acme", filters={"tenant": "acme"})
    hit = tenant.lookup("q", SCOPE, filters={"tenant": "acme"})
    assert hit is not None and hit.payload == "acme"


@pytest.mark.parametrize(
    ("first", "second"), [((), ("tenant",)), (("tenant",), ()), (("tenant",), ("user",))]
)
def test_one_name_with_other_partition_fields_is_refused(
    config: RedisAgentConfig,
    toy_embedder: CallableEmbedder,
    first: tuple[str, ...],
    second: tuple[str, ...],
) -> None:
    old = SemanticCache(config, embedder=toy_embedder, name="shared", filter_fields=first)
    old.update("q", SCOPE, "x", filters={f: "acme" for f in first})
    new = SemanticCache(config, embedder=toy_embedder, name="shared", filter_fields=second)
    with pytest.raises(SchemaMismatchError, match="partitioned by") as info:
        new.update("q", SCOPE, "y", filters={f: "acme" for f in second})
    assert "name=" in str(info.value) and "drop" in str(info.value)
    with pytest.raises(SchemaMismatchError):
        new.lookup("q", SCOPE, filters={f: "acme" for f in second})


async def test_async_refuses_too(aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder) -> None:
    SemanticCache(aconfig, embedder=toy_embedder, name="shared").ensure_index()
    new = SemanticCache(aconfig, embedder=toy_embedder, name="shared", filter_fields=("t",))
    with pytest.raises(SchemaMismatchError):
        await new.aupdate("q", SCOPE, "y", filters={"t": "acme"})


@pytest.mark.parametrize("fault", ["oom", "readonly"])
async def test_full_or_read_only_redis_still_serves_stored_entries(
    faulty_redis: FaultyRedis, toy_embedder: CallableEmbedder, fault: str
) -> None:
    config = faulty_redis.config()
    # writes are skipped for recheck_after once refused: short here so recovery shows
    exact = ExactCache(config, recheck_after=0.01)
    semantic = SemanticCache(config, embedder=toy_embedder, verifier=None, recheck_after=0.01)
    for cache in (exact, semantic):
        assert cache.update("q", SCOPE, '"stored"')
        assert cache.lookup("q", SCOPE) is not None  # counted: hits = 1
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    for cache in (exact, semantic):
        assert cache.update("new", SCOPE, '"x"') is False  # the write is skipped
        hit = cache.lookup("q", SCOPE)  # ... but what Redis holds is still served
        assert hit is not None and hit.payload == '"stored"'
        ahit = await cache.alookup("q", SCOPE)
        assert ahit is not None and ahit.payload == '"stored"'
        assert cache.lookup("new", SCOPE) is None
    exact_first_tier = semantic.lookup_exact("q", SCOPE)
    assert exact_first_tier is not None and exact_first_tier.payload == '"stored"'
    if fault == "oom":
        faulty_redis.free_memory()
    else:
        faulty_redis.make_primary()
    await asyncio.sleep(0.1)  # past recheck_after
    for cache in (exact, semantic):
        assert cache.update("new", SCOPE, '"x"')  # recovers without a new cache
        assert cache.lookup("new", SCOPE) is not None
    await config.aclose()
    config.close()


def test_update_writes_nothing_on_a_full_redis(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    cache = ExactCache(config)
    faulty_redis.fill_memory()
    assert cache.update("q", SCOPE, '"x"') is False
    faulty_redis.free_memory()
    assert cache.lookup("q", SCOPE) is None  # the refused update left no entry
    config.close()
