"""Every role across a Redis restart, on the objects built before it: the server is
killed mid-use (SIGKILL), a call during the outage raises the typed error (caches with
``on_error="raise"``, the limiter failing closed; ``"degrade"`` is the other documented
answer, tested in each role's own fault tests), and the server comes back empty on the
same address: the next call, sync and async, succeeds without rebuilding anything (a
search index, a script cache, pooled connections all gone). The semantic cache failed
this: its index, verified before the outage, was still taken for verified, so the
update after the restart stored an entry under no index and the lookup after it missed.
The bus and the checkpoint savers have tests of their own (tests/bus/test_faults.py,
tests/checkpoints/test_faults.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from redis_agent_core import ExactCache
from redis_agent_core.agent_store import ItemStore, NodeCacheStore
from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.history import OwnedSessions, SessionStore
from redis_agent_core.kvstore import KVStore
from redis_agent_core.ratelimit import RateLimiter, RequestLimit
from redis_agent_core.tasks.progress import aget_job, create_job, get_job
from redis_agent_core.vectors import VectorIndex
from redis_agent_core.workflows import WorkflowRecords
from tests.faults import FaultyRedis

SCOPE = make_scope({"model": "m"})
Round = Callable[[RedisAgentConfig, int, bool], Awaitable[None]]


def _toy() -> CallableEmbedder:
    def embed(texts: list[str]) -> list[np.ndarray]:
        out = []
        for t in texts:
            v = np.random.default_rng(sum(map(ord, t))).standard_normal(16)
            out.append((v / np.linalg.norm(v)).astype(np.float32))
        return out

    return CallableEmbedder(embed, name="toy", dims=16)


async def _maybe(value: Any) -> Any:
    return await value if asyncio.iscoroutine(value) else value


def _roles() -> dict[str, Callable[[RedisAgentConfig], Round]]:
    def exact(config: RedisAgentConfig) -> Round:
        cache = ExactCache(config, on_error="raise")

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            if aio:
                assert await cache.aupdate(f"q{n}", SCOPE, "a")
                assert await cache.alookup(f"q{n}", SCOPE) is not None
            else:
                assert cache.update(f"q{n}", SCOPE, "a")
                assert cache.lookup(f"q{n}", SCOPE) is not None

        return round_

    def semantic(config: RedisAgentConfig) -> Round:
        cache = SemanticCache(config, embedder=_toy(), verifier=None, on_error="raise")

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            if aio:
                await cache.aupdate(f"q{n}", SCOPE, "a")
                assert await cache.alookup(f"q{n}", SCOPE) is not None
            else:
                cache.update(f"q{n}", SCOPE, "a")
                assert cache.lookup(f"q{n}", SCOPE) is not None

        return round_

    def history(config: RedisAgentConfig) -> Round:
        store = SessionStore(config)

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            msg = b'{"n":%d}' % n
            if aio:
                await store.aappend("s", [msg])
                assert (await store.aread("s"))[-1] == msg
            else:
                store.append("s", [msg])
                assert store.read("s")[-1] == msg

        return round_

    def owned(config: RedisAgentConfig) -> Round:
        owned = OwnedSessions(config)

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            if aio:
                await owned.aadd("alice", f"s{n}")
            else:
                owned.add("alice", f"s{n}")

        return round_

    def vectors(config: RedisAgentConfig) -> Round:
        index = VectorIndex("docs", config=config, dims=2)
        vec = np.array([[1.0, 0.0]])

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            if aio:
                await index.aadd([f"d{n}"], ids=[f"d{n}"], vectors=vec)
                assert await index.asearch(vec[0], k=5)
            else:
                index.add([f"d{n}"], ids=[f"d{n}"], vectors=vec)
                assert index.search(vec[0], k=5)

        return round_

    def ratelimit(config: RedisAgentConfig) -> Round:
        limiter = RateLimiter([RequestLimit(1000)], config=config, on_unavailable="fail_closed")

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            if aio:
                assert (await limiter.atry_acquire(user="u")).allowed
            else:
                assert limiter.try_acquire(user="u").allowed

        return round_

    def agent_store(config: RedisAgentConfig) -> Round:
        store = ItemStore(config)

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            put = [(("users", "u"), f"k{n}", {"v": n}, None)]
            if aio:
                await store.aput(put)
                got = await store.aget([(("users", "u"), f"k{n}")])
            else:
                store.put(put)
                got = store.get([(("users", "u"), f"k{n}")])
            assert got[0] is not None

        return round_

    def node_cache(config: RedisAgentConfig) -> Round:
        cache = NodeCacheStore(config, on_error="raise")

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            pairs = [((("a",), f"k{n}"), ("json", b"1"), None)]
            if aio:
                await cache.aset(pairs)
                assert await cache.aget([(("a",), f"k{n}")])
            else:
                cache.set(pairs)
                assert cache.get([(("a",), f"k{n}")])

        return round_

    def kv(config: RedisAgentConfig) -> Round:
        store = KVStore(config)

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            if aio:
                await store.amset([(f"k{n}", b"v")])
                assert await store.amget([f"k{n}"]) == [b"v"]
            else:
                store.mset([(f"k{n}", b"v")])
                assert store.mget([f"k{n}"]) == [b"v"]

        return round_

    def jobs(config: RedisAgentConfig) -> Round:
        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            create_job(config, f"j{n}-{aio}", kind="test", total=1)
            if aio:
                assert (await aget_job(f"j{n}-{aio}", config=config)).status == "pending"
            else:
                assert get_job(f"j{n}-{aio}", config=config).status == "pending"

        return round_

    def workflows(config: RedisAgentConfig) -> Round:
        records = WorkflowRecords(config)

        async def round_(config: RedisAgentConfig, n: int, aio: bool) -> None:
            await records.save_state(f"r{n}", "", b"x")
            assert await records.load_state(f"r{n}", "") == b"x"

        return round_

    return {
        "exact": exact,
        "semantic": semantic,
        "history": history,
        "owned": owned,
        "vectors": vectors,
        "ratelimit": ratelimit,
        "agent_store": agent_store,
        "node_cache": node_cache,
        "kv": kv,
        "jobs": jobs,
        "workflows": workflows,
    }


ROLES = _roles()


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("role", list(ROLES))
async def test_a_role_answers_again_after_redis_restarts(
    faulty_redis: FaultyRedis, role: str, aio: bool
) -> None:
    config = faulty_redis.config(namespace="r")
    round_ = ROLES[role](config)
    await round_(config, 0, aio)
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError):
        await round_(config, 1, aio)
    faulty_redis.restart()  # empty, on the same address
    await round_(config, 2, aio)
    await round_(config, 3, not aio)
    config.close()
    await config.aclose()


@pytest.mark.parametrize("aio", [False, True], ids=["sync", "async"])
async def test_the_semantic_cache_second_pass_serves_again_after_a_restart(
    faulty_redis: FaultyRedis, minilm: Any, aio: bool
) -> None:
    """The default guards and the second pass (a misspelt prompt, served only through
    it) on the cache object that lived through the outage: the update after the restart
    recreates the index (it stored an entry no lookup found: the index was taken for
    verified), and the misspelt lookup is served."""
    config = faulty_redis.config(namespace="r")
    cache = SemanticCache(config, embedder=minilm, on_error="raise")
    assert cache.respell_threshold is not None
    stored, misspelt = "How do I reset my password?", "How do I resett my pasword?"
    cache.update(stored, SCOPE, "answer")
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError):
        await _maybe(cache.alookup(misspelt, SCOPE) if aio else cache.lookup(misspelt, SCOPE))
    faulty_redis.restart()  # empty: the entry and the index are gone
    if aio:
        assert await cache.aupdate(stored, SCOPE, "answer again")
        hit = await cache.alookup(misspelt, SCOPE)
    else:
        assert cache.update(stored, SCOPE, "answer again")
        hit = cache.lookup(misspelt, SCOPE)
    assert hit is not None and hit.payload == "answer again" and hit.distance > 0.1
    config.close()
    await config.aclose()
