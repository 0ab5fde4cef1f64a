"""A cluster node answering LOADING (restarting from its RDB / AOF, for real: DEBUG
RELOAD of a node started with key-load-delay): the config's cluster clients re-send
as a plain client does, reads and idempotent writes ``retries`` times with the
backoff, a write sent at most once never."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.history import SessionStore
from redis_agent_service.cluster import LocalCluster

pytestmark = pytest.mark.cluster

# the server answers LOADING while it loads (not holding clients), for about a second
_SLOW_LOAD = (
    "--enable-debug-command",
    "yes",
    "--loading-process-events-interval-bytes",
    "1024",
    "--key-load-delay",
    "200",
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(server_args=_SLOW_LOAD) as cl:
        yield cl


def _loading_replies(node: redis.Redis) -> int:
    return int(node.info("errorstats").get("errorstat_LOADING", {}).get("count", 0))


@contextmanager
def _reloading(config: RedisAgentConfig, key: str) -> Iterator[redis.Redis]:
    """The node holding ``key`` restarting from its RDB (5,000 keys of its own slots,
    ≈ 1 s): yields a client of that node once it answers LOADING."""
    client = config.get_client()
    port = client.get_node_from_key(key).port  # type: ignore[union-attr]
    node = redis.Redis(port=port, retry_on_error=[], retry=None)
    own = (f"fill:{i}" for i in range(100_000))
    fill = [k for k in own if client.get_node_from_key(k).port == port][:5000]  # type: ignore[union-attr]
    pipe = node.pipeline(transaction=False)
    for k in fill:  # one slot's keys at a time on a cluster node: no MSET
        pipe.set(k, "x")
    pipe.execute()
    reload = threading.Thread(
        target=redis.Redis(port=port, socket_timeout=60).execute_command, args=("DEBUG", "RELOAD")
    )
    reload.start()
    try:
        while True:
            try:
                node.ping()
            except redis.exceptions.BusyLoadingError:
                break
        yield node
    finally:
        reload.join()
        pipe = node.pipeline(transaction=False)
        for k in fill:
            pipe.unlink(k)
        pipe.execute()
        node.close()


async def test_reads_wait_for_a_loading_node_writes_sent_once_do_not(
    cluster: LocalCluster, namespace: str
) -> None:
    # redis-py's cluster client matched its retry list by exact class: a read on a node
    # loading its data raised at the first LOADING, where a plain client re-sends it
    patient = RedisAgentConfig(
        url=cluster.url, namespace=namespace, retries=40, retry_backoff_cap=0.25
    )
    store = SessionStore(patient)
    client = patient.get_client()
    index = client.get_node_from_key(patient.keys.history_sessions())  # type: ignore[union-attr]
    # a session on another node than the session index: an append updates the index
    # first (not sent once: it would wait the load out there) and then the session
    sid = next(
        s
        for s in (f"s{i}" for i in range(100))
        if client.get_node_from_key(patient.keys.history_messages(s)) != index  # type: ignore[union-attr]
    )
    store.append(sid, ['"m0"'])
    key = patient.keys.history_messages(sid)
    with _reloading(patient, key):
        assert store.read(sid) == [b'"m0"']  # served once the node has loaded
    with _reloading(patient, key):
        assert await store.aread(sid) == [b'"m0"']
    with _reloading(patient, key) as node:
        before = _loading_replies(node)
        with pytest.raises(RedisUnavailableError, match=r"LOADING.*did not run"):
            store.append(sid, ['"m1"'])  # sent at most once: never re-sent, as before
        assert _loading_replies(node) == before + 1
    # at the default retries=2: 3 LOADING replies, then the typed error, as a plain client
    default = RedisAgentConfig(url=cluster.url, namespace=namespace)
    with _reloading(default, key) as node:
        before = _loading_replies(node)
        with pytest.raises(RedisUnavailableError, match=r"LOADING.*did not run"):
            SessionStore(default).read(sid)
        assert _loading_replies(node) == before + 3
    assert store.read(sid) == [b'"m0"']
    patient.close()
    default.close()
