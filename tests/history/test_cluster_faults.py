"""History (and the shared fault mapping) on a private local cluster whose nodes the
tests kill or reshard: typed errors, and no append stored twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis

from redis_agent_core import ExactCache, RateLimiter, RequestLimit
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.history import SessionStore
from redis_agent_service.cluster import LocalCluster

pytestmark = pytest.mark.cluster


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    """A cluster of its own: the tests kill nodes and move slots."""
    with LocalCluster() as cl:
        yield cl


def _node_index(cl: LocalCluster, key: str) -> int:
    node = redis.Redis(port=cl.ports[0])
    slot = node.execute_command("CLUSTER", "KEYSLOT", key)
    for start, end, primary, *_ in node.execute_command("CLUSTER", "SLOTS"):
        if start <= slot <= end:
            return cl.ports.index(primary[1])
    raise AssertionError("slot not served")


def _kill(cl: LocalCluster, i: int) -> None:
    cl._procs[i].kill()
    cl._procs[i].wait()


async def test_append_with_the_index_node_down_writes_nothing_sync_and_async(
    cluster: LocalCluster,
) -> None:
    cfg = RedisAgentConfig(url=cluster.url, namespace="cf")
    store = SessionStore(cfg)
    index_node = _node_index(cluster, cfg.keys.history_sessions())
    sid = next(
        s
        for s in (f"s{i}" for i in range(100))
        if _node_index(cluster, f"cf:hist:{{{s}}}:msgs") != index_node
    )
    store.append(sid, ['"m0"'])
    await store.aappend(sid, ['"m1"'])  # the async client is in use, as in a service
    _kill(cluster, index_node)
    for _ in range(2):  # a caller retrying
        with pytest.raises(RedisUnavailableError):
            await store.aappend(sid, ['"m2"'])
        with pytest.raises(RedisUnavailableError):
            store.append(sid, ['"m3"'])
    assert store.read(sid) == [b'"m0"', b'"m1"']
    assert await store.aread(sid) == [b'"m0"', b'"m1"']
    await cfg.aclose()
    cfg.close()


def test_slot_half_migrated_is_unavailable_then_the_same_store_recovers(
    cluster: LocalCluster,
) -> None:
    cfg = RedisAgentConfig(url=cluster.url, namespace="mg")
    store = SessionStore(cfg)
    store.append("s", ['"a"'], metadata={"x": 1})
    store.take_oldest("s", 0)
    nodes = [redis.Redis(port=p) for p in cluster.ports]
    ids = [n.execute_command("CLUSTER", "MYID").decode() for n in nodes]
    src = _node_index(cluster, "mg:hist:{s}:msgs")
    dst = (src + 1) % 3
    slot = nodes[src].execute_command("CLUSTER", "KEYSLOT", "mg:hist:{s}:msgs")
    keys = nodes[src].execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10)
    assert len(keys) > 1
    nodes[dst].execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[src])
    nodes[src].execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[dst])
    port = cluster.ports[dst]
    nodes[src].execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", keys[0])
    # the session's keys are split between two nodes: TRYAGAIN until redirections run out
    with pytest.raises(RedisUnavailableError, match="being moved"):
        store.append("s", ['"b"'])
    nodes[src].execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", *keys[1:])
    for n in nodes:
        n.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[dst])
    assert store.append("s", ['"b"']) == 2
    cfg.close()


async def test_seed_node_down_at_startup_is_unavailable_and_degrading_roles_degrade(
    cluster: LocalCluster,
) -> None:
    _kill(cluster, 0)  # the node the URL names
    cfg = RedisAgentConfig(url=cluster.url, namespace="sd")
    assert ExactCache(cfg, on_error="degrade").lookup("p", "m") is None
    limiter = RateLimiter([RequestLimit(5)], config=cfg, name="fo", on_unavailable="fail_open")
    assert limiter.try_acquire(user="u").allowed
    with pytest.raises(RedisUnavailableError, match="could not connect"):
        SessionStore(cfg).read("s")
    with pytest.raises(RedisUnavailableError, match="could not connect"):
        await SessionStore(cfg).aread("s")
    await cfg.aclose()


def _cluster_ok(cl: LocalCluster) -> bool:
    for port in cl.ports:
        with redis.Redis(port=port) as node:
            if b"cluster_state:ok" not in node.execute_command("CLUSTER", "INFO"):
                return False
    return True


async def test_slots_without_a_node_are_unavailable_then_the_same_objects_recover(
    cluster: LocalCluster,
) -> None:
    """A cluster with slots no node serves (at startup, or a node lost with no replica
    to take over): the cluster client's "All slots are not covered" escaped raw from
    every role, degrading ones included."""
    for port in cluster.ports:
        with redis.Redis(port=port) as node:
            node.execute_command("CLUSTER", "DELSLOTSRANGE", 0, 99)
    cfg = RedisAgentConfig(url=cluster.url, namespace="uc")
    cache = ExactCache(cfg, on_error="degrade", recheck_after=0)
    limiter = RateLimiter([RequestLimit(5)], config=cfg, name="uc", on_unavailable="fail_open")
    store = SessionStore(cfg)
    assert cache.lookup("p", "m") is None
    assert await cache.alookup("p", "m") is None
    assert limiter.try_acquire(user="u").degraded
    with pytest.raises(RedisUnavailableError, match=r"not covered.*every slot is served"):
        store.read("s")
    with pytest.raises(RedisUnavailableError, match=r"not covered.*every slot is served"):
        await store.aread("s")
    with redis.Redis(port=cluster.ports[0]) as node:  # their owner takes them back
        node.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 99)
    for _ in range(200):
        if _cluster_ok(cluster):
            break
        await asyncio.sleep(0.05)
    assert store.append("s", ['"a"']) == 1
    assert await store.aread("s") == [b'"a"']
    assert limiter.try_acquire(user="u").allowed
    assert cache.update("p", "m", "x") and await cache.alookup("p", "m") is not None
    await cfg.aclose()
    cfg.close()
