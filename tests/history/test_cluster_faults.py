"""History (and the shared fault mapping) on a private local cluster whose nodes the
tests kill or reshard: typed errors, and no append stored twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

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
