"""A cache bucket's member set evicted while its entries stay (an evicting
``maxmemory-policy``): such an entry is an orphan, out of ``clear()`` and
``stats()``, and must never be served; a lookup that finds one drops it.

The server evicts the set itself: under ``volatile-lru`` the only key with a TTL is
the one evicted (``allkeys-lru`` evicts the same way, but picks its key by sampling).
"""

from __future__ import annotations

import pytest
import redis

from redis_agent_core.cache import ExactCache, SemanticCache, make_scope
from redis_agent_core.cache.entry import canonical_filters, entry_digest
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from tests.conftest import skip_unless
from tests.faults import evict, free_port

A = make_scope({"model": "a"})


def _digest(cache: ExactCache | SemanticCache, client: redis.Redis) -> str:
    (key,) = client.keys(cache.config.keys.cache_prefix(cache.name) + "*")
    return key.decode().rsplit(":", 1)[-1]


def _orphan(cache: ExactCache | SemanticCache, client: redis.Redis) -> None:
    """Evict the member set of the cache's one entry."""
    evict(client, _members_of(cache, _digest(cache, client)))


def _members_of(cache: ExactCache | SemanticCache, digest: str) -> str:
    """The set that holds ``digest``'s record (the semantic cache's: a part of the
    bucket's set)."""
    keys = cache.config.keys
    if isinstance(cache, SemanticCache):
        return keys.cache_member_parts(cache.name, digest[0], digest[1])[0]
    return keys.cache_members(cache.name, digest[0])


def test_an_exact_entry_whose_member_set_was_evicted_is_never_served(
    own_config: RedisAgentConfig,
) -> None:
    cache = ExactCache(own_config)
    cache.update("p", A, "x", usage={"total_tokens": 7})
    client = own_config.get_client()
    _orphan(cache, client)
    assert cache.clear() == 0  # clear() cannot see the entry
    # before: served after clear(), for good without a TTL
    assert cache.lookup("p", A) is None
    assert client.keys(own_config.keys.cache_prefix(cache.name) + "*") == []  # dropped
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.tokens_saved, stats.entries) == (0, 1, 0, 0)
    cache.update("p", A, "y")  # written again, it is a member again
    assert cache.lookup("p", A).payload == "y"  # type: ignore[union-attr]
    assert cache.clear() == 1


async def test_an_orphan_is_a_miss_on_the_async_and_generic_paths(
    own_config: RedisAgentConfig,
) -> None:
    cache = ExactCache(own_config)
    cache.update("p", A, "x")
    client = own_config.get_client()
    _orphan(cache, client)
    assert await cache.alookup("p", A) is None  # redis-py's path, not the fast one
    assert client.keys(own_config.keys.cache_prefix(cache.name) + "*") == []


def test_a_server_refusing_writes_does_not_serve_an_orphan(
    own_config: RedisAgentConfig,
) -> None:
    # an orphan left from an evicting spell, then full under noeviction: not served
    cache = ExactCache(own_config, recheck_after=0.0)
    cache.update("p", A, "x")
    client = own_config.get_client()
    _orphan(cache, client)
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", "1")
    try:
        assert cache.lookup("p", A) is None
    finally:
        client.config_set("maxmemory", "0")
    # dropped all the same: UNLINK frees memory, so a full server runs it
    assert client.keys(own_config.keys.cache_prefix(cache.name) + "*") == []


def _digest_of(prompt: str, scope: str = A) -> str:
    return entry_digest(scope, prompt, canonical_filters(None))


async def test_a_read_only_replica_does_not_serve_an_orphan(
    own_config: RedisAgentConfig,
) -> None:
    # a replica refuses the lookup's write: the entry is read without writing (peek)
    cache = ExactCache(own_config, recheck_after=0.0)
    digest = _digest_of("p")
    # an entry of another bucket, whose member set stays
    other = next(
        s
        for s in (make_scope({"model": str(i)}) for i in range(100))
        if _digest_of("p", s)[0] != digest[0]
    )
    cache.update("p", A, "x")
    cache.update("p", other, "y")
    client = own_config.get_client()
    evict(client, _members_of(cache, digest))
    client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
    try:
        assert cache.lookup("p", A) is None
        assert await cache.alookup("p", A) is None
        assert cache.lookup("p", other).payload == "y"  # type: ignore[union-attr]
    finally:
        client.execute_command("REPLICAOF", "NO", "ONE")


@pytest.fixture
def _search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


@pytest.mark.usefixtures("_search")
def test_a_semantic_entry_whose_member_part_was_evicted_is_never_served(
    own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(own_config, embedder=toy_embedder, verifier=None)
    cache.update("p", A, "x", usage={"total_tokens": 7})
    client = own_config.get_client()
    _orphan(cache, client)
    assert cache.clear() == 0
    assert cache.stats().entries == 0
    assert cache.lookup_exact("p", A) is None  # the first tier
    cache.update("q", A, "y")
    _orphan(cache, client)  # the one entry now
    assert cache.lookup("q", A) is None  # the search tier
    assert client.keys(own_config.keys.cache_prefix(cache.name) + "*") == []  # both dropped
    assert cache.lookup("q", A) is None
    stats = cache.stats()
    assert (stats.hits, stats.tokens_saved, stats.entries) == (0, 0, 0)


@pytest.mark.usefixtures("_search")
async def test_an_async_semantic_lookup_drops_an_orphan(
    own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(own_config, embedder=toy_embedder, verifier=None)
    await cache.aupdate("p", A, "x")
    client = own_config.get_client()
    _orphan(cache, client)
    assert await cache.alookup("p", A) is None
    assert await cache.alookup_exact("p", A) is None
    assert client.keys(own_config.keys.cache_prefix(cache.name) + "*") == []


@pytest.mark.usefixtures("_search")
async def test_entries_recorded_before_the_member_parts_are_still_served(
    own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # before 2026-12-04 a semantic entry's record was in its bucket's own set: an
    # upgraded pack serves it on every tier, counts its hits, and clear() removes it
    cache = SemanticCache(own_config, embedder=toy_embedder, verifier=None)
    cache.update("p", A, "x", usage={"total_tokens": 7})
    client = own_config.get_client()
    digest = _digest(cache, client)
    part, own = _members_of(cache, digest), own_config.keys.cache_members(cache.name, digest[0])
    score = client.zscore(part, digest)
    client.zrem(part, digest)
    client.zadd(own, {digest: score})  # the layout an older pack wrote
    assert cache.lookup("p", A).payload == "x"  # type: ignore[union-attr]
    assert cache.lookup_exact("p", A).payload == "x"  # type: ignore[union-attr]
    assert (await cache.alookup("p", A)).payload == "x"  # type: ignore[union-attr]
    assert (await cache.alookup_exact("p", A)).payload == "x"  # type: ignore[union-attr]
    stats = cache.stats()
    assert (stats.hits, stats.tokens_saved, stats.entries) == (4, 28, 1)
    assert cache.clear() == 1
    assert cache.lookup_exact("p", A) is None


def _two_buckets() -> tuple[str, str]:
    """Two scopes whose entries for prompt "p" fall in different buckets."""
    first = _digest_of("p")[0]
    other = next(
        s
        for s in (make_scope({"model": str(i)}) for i in range(100))
        if _digest_of("p", s)[0] != first
    )
    return A, other


def test_drop_orphans_deletes_the_entries_no_lookup_reached(
    own_config: RedisAgentConfig,
) -> None:
    # before: an orphan no lookup met stayed until its TTL (for good without one), out
    # of clear() and stats(); the only way out was redis-cli --scan and UNLINK
    cache = ExactCache(own_config)
    kept, lost = _two_buckets()
    cache.update("p", kept, "x")
    cache.update("p", lost, "y")
    cache.lookup("p", lost)  # a hit count, dropped with the entry
    client = own_config.get_client()
    evict(client, _members_of(cache, _digest_of("p", lost)))
    other = ExactCache(own_config, name="other")
    other.update("p", lost, "z")  # another cache's entries are not looked at
    assert cache.drop_orphans() == 1
    assert cache.drop_orphans() == 0
    prefix = own_config.keys.cache_prefix(cache.name)
    left = [k.decode() for k in client.keys(prefix + "*")]
    assert left == [cache.entry_key(_digest_of("p", kept))]
    assert client.hgetall(own_config.keys.cache_hits(cache.name, _digest_of("p", lost)[0])) == {}
    assert cache.lookup("p", kept).payload == "x"  # type: ignore[union-attr]
    assert other.lookup("p", lost).payload == "z"  # type: ignore[union-attr]


@pytest.mark.usefixtures("_search")
async def test_adrop_orphans_on_a_semantic_cache(
    own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(own_config, embedder=toy_embedder, verifier=None)
    for i in range(30):
        await cache.aupdate(f"prompt {i}", A, f"answer {i}")
    client = own_config.get_client()
    digests = [
        k.decode().rsplit(":", 1)[-1]
        for k in client.keys(own_config.keys.cache_prefix(cache.name) + "*")
    ]
    lost = _members_of(cache, digests[0])
    orphans = [d for d in digests if _members_of(cache, d) == lost]
    evict(client, lost)
    assert cache.stats().entries == 30 - len(orphans)
    assert await cache.adrop_orphans() == len(orphans)
    left = client.keys(own_config.keys.cache_prefix(cache.name) + "*")
    assert len(left) == 30 - len(orphans) == cache.stats().entries
    assert cache.clear() == 30 - len(orphans)
