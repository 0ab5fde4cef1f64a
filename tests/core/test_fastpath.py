"""The shared hot-path shortcut: RESP packing, eligibility, and connection leases
borrowed from the client's pool (bounded, error-safe, fork-safe, returned on GC)."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import Callable, Iterator

import pytest
import redis
import redis.asyncio as aredis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.fastpath import (
    FALLBACK,
    AsyncFastPath,
    AsyncLease,
    FastPath,
    Lease,
    Packed,
    aeligible,
    arg_bytes,
    asend_batch,
    bulk,
    command_prefix,
    eligible,
    pack_commands,
    pooled,
    send_batch,
)
from tests.faults import FaultyRedis

LUA = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


@pytest.fixture
def client(config: RedisAgentConfig) -> redis.Redis:
    return config.get_client()


@pytest.fixture
def key(config: RedisAgentConfig) -> str:
    return config.keys.ratelimit("fastpath", "n", "x")  # in the test's namespace


def _in_use(client: redis.Redis) -> int:
    return len(client.connection_pool._in_use_connections)  # type: ignore[attr-defined]


def _incr(sha: str, key: str, by: int) -> bytes:
    return command_prefix(5, b"EVALSHA", sha.encode(), b"1") + bulk(key.encode()) + bulk(b"%d" % by)


def test_packing_equals_redis_py(client: redis.Redis) -> None:
    conn = client.connection_pool.make_connection()
    for parts in ((b"PING",), (b"SET", b"k\r\n\xff", b""), (b"EVALSHA", b"ab" * 20, b"2", b"k")):
        expected = b"".join(conn.pack_command(*parts))
        assert command_prefix(len(parts), *parts) == expected
        assert command_prefix(len(parts), parts[0]) + b"".join(map(bulk, parts[1:])) == expected
    with pytest.raises(ValueError):
        command_prefix(1, b"GET", b"k")


def test_pack_commands_matches_redis_py() -> None:
    from redis.connection import Connection

    long_name = "f" * 40  # longer than a cached token
    commands = [
        ["HSET", "k:1", "text", "héllo", "embedding", b"\x00\x01\r\n", "n", 3, "f", 2.5],
        ["EXPIRE", "k:1", 60],
        ["HDEL", "k:{x}", "tenant", long_name, "", b""],
        ["HSET", "k:2", "text", "héllo", long_name, -7, "g", 1e-300, "h", 10**20],
    ]
    expected = b"".join(Connection().pack_commands(commands))
    assert pack_commands(commands) == expected
    assert pack_commands(commands) == expected  # again, from the token cache
    assert pack_commands([]) == b""


def test_arg_bytes_is_redis_pys_encoding() -> None:
    from redis._parsers.encoders import Encoder

    encode = Encoder("utf-8", "strict", False).encode
    for value in (b"\x00\r\n", "", "ünï ✓", 0, -12, 10**30, 2.5, 1e-7, float("inf")):
        assert arg_bytes(value) == encode(value)
    assert (arg_bytes(True), arg_bytes(False)) == (b"1", b"0")  # redis-py refuses bools
    with pytest.raises(ConfigError, match="cannot send NoneType"):
        arg_bytes(None)
    with pytest.raises(ConfigError, match="cannot send dict"):
        pack_commands([["SET", "k", {}]])


def test_call_reads_replies_and_reuses_one_connection(client: redis.Redis, key: str) -> None:
    path = FastPath()
    lease = path.lease(client)
    assert lease is not None and path.lease(client) is lease
    sha = client.script_load(LUA)
    assert [lease.call(_incr(sha, key, n)) for n in (1, 2, 3)] == [1, 3, 6]
    assert lease.count == 1 and len(lease.free) == 1 and _in_use(client) == 1
    client.set(key, "not a number")
    with pytest.raises(redis.exceptions.ResponseError):
        lease.call(_incr(sha, key, 1))
    assert lease.count == 1 and len(lease.free) == 1  # the error was read: kept
    assert lease.call(command_prefix(1, b"PING")) in (b"PONG", True)
    path.close()
    assert _in_use(client) == 0


def test_meanwhile_runs_after_sending_and_a_failure_drops_the_connection(
    config: RedisAgentConfig, client: redis.Redis, key: str
) -> None:
    path = FastPath()
    lease = path.lease(client)
    assert lease is not None
    sha = client.script_load(LUA)
    seen: list[bytes | None] = []
    # the command is on the server's side when meanwhile runs: another client sees it
    other = redis.Redis.from_url(config.resolve_url())
    assert lease.call(_incr(sha, key, 2), lambda: seen.append(_applied(other, key))) == 2
    assert seen == [b"2"]

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        lease.call(_incr(sha, key, 1), fail)
    assert lease.count == 0 and not lease.free  # its reply was never read: dropped
    assert lease.call(_incr(sha, key, 1)) == 4  # the failed call's INCRBY ran too
    path.close()
    other.close()


def _applied(other: redis.Redis, key: str) -> bytes | None:
    for _ in range(1000):  # the server reads the sent command on its next loop
        value = other.get(key)
        if value is not None:
            return value
    return None


def test_script_flush_falls_back_and_keeps_the_connection(client: redis.Redis, key: str) -> None:
    path = FastPath()
    lease = path.lease(client)
    assert lease is not None
    sha = client.script_load(LUA)
    assert lease.call(_incr(sha, key, 5)) == 5
    client.script_flush()
    assert lease.call(_incr(sha, key, 5)) is FALLBACK  # NOSCRIPT: the generic path loads
    assert lease.count == 1 and len(lease.free) == 1
    client.script_load(LUA)
    assert lease.call(_incr(sha, key, 5)) == 10
    path.close()


def test_killed_connection_falls_back_once_then_recovers(client: redis.Redis, key: str) -> None:
    path = FastPath()
    lease = path.lease(client)
    assert lease is not None
    sha = client.script_load(LUA)
    assert lease.call(_incr(sha, key, 1)) == 1
    client.client_kill_filter(_type="normal", skipme=True)
    assert lease.call(_incr(sha, key, 1)) is FALLBACK  # dropped, back to the pool
    assert lease.count == 0 and not lease.free
    assert lease.call(_incr(sha, key, 1)) == 2  # borrowed a fresh one
    assert int(client.get(key)) == 2  # type: ignore[arg-type]
    path.close()
    assert _in_use(client) == 0


def test_a_reply_lost_after_sending_raises_and_the_command_runs_once(
    faulty_redis: FaultyRedis,
) -> None:
    # the server busy past the socket timeout: the command was sent and runs later, so
    # handing it back (FALLBACK) would have it sent a second time
    client = redis.Redis.from_url(faulty_redis.url, socket_timeout=0.3)
    path = FastPath()
    lease = path.lease(client)
    assert lease is not None
    sha = client.script_load(LUA)
    assert lease.call(_incr(sha, "n", 1)) == 1
    with faulty_redis.busy(0.6), pytest.raises(redis.exceptions.TimeoutError):
        lease.call(_incr(sha, "n", 1))
    assert lease.count == 0 and not lease.free  # dropped with its unread reply
    assert int(client.get("n")) == 2  # type: ignore[arg-type]  # it ran, once
    assert lease.call(_incr(sha, "n", 1)) == 3  # the same lease works again
    path.close()
    client.close()


async def test_async_reply_lost_after_sending_raises_and_the_command_runs_once(
    faulty_redis: FaultyRedis,
) -> None:
    client = aredis.Redis.from_url(faulty_redis.url, socket_timeout=0.3)
    lease = AsyncFastPath().lease(client)
    assert lease is not None
    sha = await client.script_load(LUA)
    assert await lease.call(_incr(sha, "n", 1)) == 1
    with faulty_redis.busy(0.6):
        with pytest.raises(redis.exceptions.TimeoutError):
            await lease.call(_incr(sha, "n", 1))
        assert lease.count == 0 and not lease.free
    assert int(await client.get("n")) == 2
    assert await lease.call(_incr(sha, "n", 1)) == 3
    await lease.aclose()
    await client.aclose()


def test_bounded_under_many_threads(client: redis.Redis, key: str) -> None:
    path = FastPath(max_connections=3)
    sha = client.script_load(LUA)
    barrier = threading.Barrier(16)
    fallbacks: list[int] = []
    peak = [0]

    def worker() -> None:
        lease = path.lease(client)
        assert lease is not None
        barrier.wait()
        n = 0
        for _ in range(100):
            if lease.call(_incr(sha, key, 1)) is FALLBACK:
                n += 1
                client.incr(key)  # the generic path
            peak[0] = max(peak[0], lease.count)
        fallbacks.append(n)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert int(client.get(key)) == 1600  # type: ignore[arg-type]
    lease = path.lease(client)
    assert lease is not None and peak[0] <= 3 and sum(fallbacks) < 1600
    assert lease.count == len(lease.free)  # every connection back after its reply
    path.close()
    assert _in_use(client) == 0


def test_idle_leased_connections_leave_the_pool_room(redis_url: str) -> None:
    """Leases keep a connection idle only while at most half of a bounded pool is in use:
    a burst on two components' leases no longer leaves the pool empty for every other
    call (all 6 were held before, and every generic call then failed for good)."""
    client = redis.Redis.from_url(redis_url, max_connections=6)
    ping = command_prefix(1, b"PING")

    def nested(lease: Lease, depth: int) -> object:  # `depth` calls in flight at once
        return lease.call(ping, (lambda: nested(lease, depth - 1)) if depth > 1 else None)

    paths = [FastPath(), FastPath()]
    for path in paths:
        lease = path.lease(client)
        assert lease is not None
        assert nested(lease, 3) in (b"PONG", True)
    assert _in_use(client) == 3  # the first lease kept its three; the second gave back
    assert client.ping()  # redis-py's path still gets connections
    assert sum(len(path.lease(client).free) for path in paths) == 3  # type: ignore[union-attr]
    for path in paths:
        path.close()
    assert _in_use(client) == 0
    client.close()


async def test_idle_async_leased_connections_leave_the_pool_room(redis_url: str) -> None:
    client = aredis.Redis.from_url(redis_url, max_connections=8)
    ping = command_prefix(1, b"PING")
    paths = [AsyncFastPath(), AsyncFastPath()]
    for path in paths:
        lease = path.lease(client)
        assert lease is not None
        await asyncio.gather(*(lease.call(ping) for _ in range(4)))  # four at once
    assert len(client.connection_pool._in_use_connections) == 4  # type: ignore[attr-defined]
    assert await client.ping()
    for path in paths:
        await path.aclose()
    await client.aclose()


def test_garbage_collection_returns_the_connections(client: redis.Redis) -> None:
    path = FastPath()
    lease = path.lease(client)
    assert lease is not None and lease.call(command_prefix(1, b"PING")) is not FALLBACK
    assert _in_use(client) == 1
    del path, lease
    gc.collect()
    assert _in_use(client) == 0


def test_a_new_client_renews_the_lease(redis_url: str, client: redis.Redis) -> None:
    path = FastPath()
    first = path.lease(client)
    assert first is not None and first.call(command_prefix(1, b"PING")) is not FALLBACK
    other = redis.Redis.from_url(redis_url)
    try:
        second = path.lease(other)
        assert second is not None and second is not first and first.closed
        assert _in_use(client) == 0
        path.close()
        lease = path.lease(other)  # leases again after close
        assert lease is not None and lease is not second
    finally:
        path.close()
        other.close()


def test_a_closed_lease_returns_a_connection_in_use(client: redis.Redis) -> None:
    lease = Lease(client)
    conn = client.connection_pool.get_connection()
    lease.count = 1
    lease.close()
    lease._give_back(conn)  # a call that ends after the close
    assert not lease.free and lease.count == 0 and _in_use(client) == 0
    assert lease.call(command_prefix(1, b"PING")) is FALLBACK  # borrows no more


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_leases_its_own_connections(client: redis.Redis) -> None:
    path = FastPath()
    parent = path.lease(client)
    assert parent is not None and parent.call(command_prefix(1, b"PING")) is not FALLBACK
    parent_conn = parent.free[0]
    pid = os.fork()
    if pid == 0:  # the child: never touch the parent's socket
        code = 1
        try:
            lease = path.lease(client)
            ok = lease is not None and lease is not parent and parent.closed
            reply = lease.call(command_prefix(2, b"ECHO", b"child")) if lease else None
            code = 0 if ok and reply == b"child" and parent.free == [parent_conn] else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert path.lease(client) is parent and parent.free == [parent_conn]
    assert parent.call(command_prefix(2, b"ECHO", b"parent")) == b"parent"  # still in sync
    path.close()


@pytest.fixture
def odd_clients(redis_url: str) -> Iterator[list[redis.Redis]]:
    class Sub(redis.Redis):
        pass

    made = [
        redis.Redis.from_url(redis_url, single_connection_client=True),
        redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(redis_url)),
        Sub.from_url(redis_url),
    ]
    yield made
    for c in made:
        c.close()


def test_ineligible_clients_get_no_lease(
    client: redis.Redis, odd_clients: list[redis.Redis]
) -> None:
    assert eligible(client)
    path = FastPath()
    for odd in odd_clients:
        assert not eligible(odd)
        assert path.lease(odd) is None
    assert not eligible(object())
    assert not eligible(redis.cluster.RedisCluster.__new__(redis.cluster.RedisCluster))
    assert not eligible(client.pipeline())


def test_client_side_cache_is_ineligible(redis_url: str) -> None:
    from redis.cache import CacheConfig

    cached = redis.Redis.from_url(redis_url, protocol=3, cache_config=CacheConfig())
    try:
        assert not eligible(cached)
    finally:
        cached.close()


# -- asyncio leases --
async def _async_lease(
    aconfig: RedisAgentConfig,
) -> tuple[aredis.Redis, AsyncFastPath, AsyncLease, str]:
    """The test's asyncio client, a fresh fast path, its lease of that client (one per
    client) and the SHA of :data:`LUA` on the server."""
    client = aconfig.get_async_client()
    path = AsyncFastPath()
    lease = path.lease(client)
    assert lease is not None and path.lease(client) is lease
    return client, path, lease, await client.script_load(LUA)


async def test_async_call_reads_replies_and_reuses_one_connection(
    aconfig: RedisAgentConfig, key: str
) -> None:
    client, path, lease, sha = await _async_lease(aconfig)
    assert [await lease.call(_incr(sha, key, n)) for n in (1, 2, 3)] == [1, 3, 6]
    assert lease.count == 1 and len(lease.free) == 1
    await client.set(key, "not a number")
    with pytest.raises(redis.exceptions.ResponseError):
        await lease.call(_incr(sha, key, 1))
    assert lease.count == 1 and len(lease.free) == 1  # the error was read: kept
    await client.script_flush()
    assert await lease.call(_incr(sha, key, 1)) is FALLBACK  # NOSCRIPT: kept too
    assert lease.count == 1 and len(lease.free) == 1
    await path.aclose()
    assert lease.closed and lease.count == 0
    assert len(client.connection_pool._in_use_connections) == 0  # type: ignore[attr-defined]
    assert path.lease(client) is not lease  # leases again after aclose


async def test_async_meanwhile_runs_after_sending_and_a_failure_drops_the_connection(
    aconfig: RedisAgentConfig, key: str
) -> None:
    _, path, lease, sha = await _async_lease(aconfig)
    seen: list[bytes | None] = []
    # the command is written when meanwhile runs (before the reply is awaited): another
    # client sees it applied
    other = redis.Redis.from_url(aconfig.resolve_url())
    assert await lease.call(_incr(sha, key, 2), lambda: seen.append(_applied(other, key))) == 2
    assert seen == [b"2"]

    def fail() -> None:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        await lease.call(_incr(sha, key, 1), fail)
    assert lease.count == 0 and not lease.free  # its reply was never read: dropped
    assert await lease.call(_incr(sha, key, 1)) == 4  # the failed call's INCRBY ran too
    await path.aclose()
    other.close()


async def test_async_lease_is_bounded(aconfig: RedisAgentConfig) -> None:
    client = aconfig.get_async_client()
    lease = AsyncFastPath(max_connections=2).lease(client)
    assert lease is not None
    ping = command_prefix(1, b"PING")
    replies = await asyncio.gather(*(lease.call(ping) for _ in range(6)))
    assert replies.count(FALLBACK) == 4  # two in flight at once; the rest: generic path
    assert lease.count == 2 and len(lease.free) == 2
    await lease.aclose()


def test_async_leases_belong_to_one_loop(redis_url: str) -> None:
    client = aredis.Redis.from_url(redis_url)  # one client, used by several loops
    path = AsyncFastPath()
    ping = command_prefix(1, b"PING")

    async def lease_and_ping() -> object:
        lease = path.lease(client)
        return lease if lease is None else (lease, await lease.call(ping))

    first = asyncio.new_event_loop()
    leased = first.run_until_complete(lease_and_ping())
    assert leased is not None and leased[1] in (b"PONG", True)  # type: ignore[index]
    assert asyncio.run(lease_and_ping()) is None  # the first loop is alive: generic path
    first.close()
    again = asyncio.run(lease_and_ping())  # that loop is gone: a new lease
    assert again is not None and again[0] is not leased[0]  # type: ignore[index]


@pytest.fixture
def odd_async_clients(redis_url: str) -> list[aredis.Redis]:
    class Sub(aredis.Redis):
        pass

    return [
        aredis.Redis.from_url(redis_url, single_connection_client=True),
        aredis.Redis(connection_pool=aredis.BlockingConnectionPool.from_url(redis_url)),
        Sub.from_url(redis_url),
    ]


async def test_ineligible_async_clients_get_no_lease(
    aconfig: RedisAgentConfig, odd_async_clients: list[aredis.Redis]
) -> None:
    assert aeligible(aconfig.get_async_client())
    path = AsyncFastPath()
    for odd in odd_async_clients:
        assert not aeligible(odd) and path.lease(odd) is None
    assert not aeligible(aconfig.get_client())  # a sync client
    assert not aeligible(object())
    assert not aeligible(aredis.RedisCluster.__new__(aredis.RedisCluster))


# -- batches of idempotent writes (the vector index's ingest) --
def _no_wait(attempt: int) -> float:
    return 0.0


def _waits(log: list[int]) -> Callable[[int], float]:
    """A backoff that records each retry's attempt number and does not wait."""

    def wait(attempt: int) -> float:
        log.append(attempt)
        return 0.0

    return wait


def test_send_batch_reads_every_reply_and_returns_the_connection(
    client: redis.Redis, key: str
) -> None:
    commands = [["HSET", f"{key}:{i}", "n", i] for i in range(50)]
    send_batch(client, commands, retries=0, backoff=_no_wait)
    send_batch(client, Packed(pack_commands([["SET", key, "v"]]), 1), retries=0, backoff=_no_wait)
    assert [client.hget(f"{key}:{i}", "n") for i in (0, 49)] == [b"0", b"49"]
    assert client.get(key) == b"v"
    assert _in_use(client) == 0
    assert client.ping()  # the pooled connection has no reply left unread


def test_send_batch_reply_error_raises_and_drops_the_connection(
    client: redis.Redis, key: str
) -> None:
    client.set(key, "not a hash")
    pool = client.connection_pool
    idle = pool._available_connections  # type: ignore[attr-defined]
    assert [c._sock is not None for c in idle] == [True]  # the one SET used, connected
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        send_batch(
            client, [["HSET", key, "a", 1], ["SET", f"{key}:x", 1]], retries=3, backoff=_no_wait
        )
    # the second reply was never read: the connection came back disconnected
    assert [c._sock is None for c in idle] == [True]
    assert client.ping() and _in_use(client) == 0


def test_send_batch_retries_a_server_that_comes_back(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    client = config.get_client()
    faulty_redis.kill()
    waits: list[int] = []

    def back_again(attempt: int) -> float:
        waits.append(attempt)
        faulty_redis.restart()
        return 0.0

    send_batch(client, [["SET", "k", "v"]], retries=2, backoff=back_again)
    assert waits == [0] and client.get("k") == b"v"
    faulty_redis.kill()
    waits.clear()
    with pytest.raises(redis.exceptions.ConnectionError):
        send_batch(client, [["SET", "k", "v"]], retries=2, backoff=_waits(waits))
    assert waits == [0, 1]  # retried ``retries`` times, then raised


def test_send_batch_does_not_retry_a_timeout(faulty_redis: FaultyRedis) -> None:
    client = faulty_redis.config().get_client()
    assert client.ping()
    waits: list[int] = []
    with faulty_redis.pausing(), pytest.raises(redis.exceptions.TimeoutError):
        send_batch(client, [["SET", "k", "v"]], retries=2, backoff=_waits(waits))
    assert waits == []  # a hung server: redis-py already waited its timeout


async def test_asend_batch_matches_send_batch(aconfig: RedisAgentConfig, key: str) -> None:
    aclient = aconfig.get_async_client()
    assert pooled(aclient)
    await asend_batch(
        aclient, [["HSET", key, "n", 1], ["EXPIRE", key, 60]], retries=0, backoff=_no_wait
    )
    await asend_batch(
        aclient, Packed(pack_commands([["HSET", key, "m", 2]]), 1), retries=0, backoff=_no_wait
    )
    assert await aclient.hgetall(key) == {b"n": b"1", b"m": b"2"}
    await aclient.set(f"{key}:s", "x")
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        await asend_batch(
            aclient, [["HSET", f"{key}:s", "a", 1], ["PING"]], retries=2, backoff=_no_wait
        )
    assert await aclient.ping()


async def test_asend_batch_retries_a_server_that_comes_back(faulty_redis: FaultyRedis) -> None:
    aclient = faulty_redis.config().get_async_client()
    faulty_redis.kill()
    waits: list[int] = []

    def back_again(attempt: int) -> float:
        waits.append(attempt)
        faulty_redis.restart()
        return 0.0

    await asend_batch(aclient, [["SET", "k", "v"]], retries=2, backoff=back_again)
    assert waits == [0] and await aclient.get("k") == b"v"


@pytest.mark.cluster
def test_send_batch_on_a_cluster_routes_per_slot(cluster_config: RedisAgentConfig) -> None:
    client = cluster_config.get_client()
    assert not pooled(client)
    keys = [cluster_config.keys.ratelimit("batch", "n", str(i)) for i in range(20)]
    send_batch(client, [["SET", k, i] for i, k in enumerate(keys)], retries=0, backoff=_no_wait)
    assert [client.get(k) for k in keys] == [str(i).encode() for i in range(20)]
    with pytest.raises(ConfigError, match="pooled client"):
        send_batch(client, Packed(b"", 0), retries=0, backoff=_no_wait)


def _transaction(*commands: list) -> list[list]:
    return [["MULTI"], *commands, ["EXEC"]]


async def test_an_error_inside_a_batchs_transaction_is_raised(
    client: redis.Redis, aconfig: RedisAgentConfig, key: str
) -> None:
    """``EXEC`` answers its commands' errors inside its array; read as a reply, the
    batch passed as written (a re-add onto a key of another type stored nothing)."""
    client.set(key, "not a hash")
    batch = [*_transaction(["HDEL", key, "a"], ["HSET", key, "a", 1]), ["SET", f"{key}:x", 1]]
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        send_batch(client, batch, retries=2, backoff=_no_wait)
    aclient = aconfig.get_async_client()
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        await asend_batch(aclient, batch, retries=2, backoff=_no_wait)
    assert client.get(key) == b"not a hash"
    assert client.ping() and await aclient.ping()  # the unread replies went with the connection


@pytest.mark.cluster
async def test_a_batchs_transactions_on_a_cluster_run_each_on_its_keys_slot(
    cluster_config: RedisAgentConfig,
) -> None:
    client = cluster_config.get_client()
    aclient = cluster_config.get_async_client()
    keys = [cluster_config.keys.ratelimit("batch", "tx", str(i)) for i in range(12)]
    plain = keys[-1] + ":plain"

    def batch(n: int) -> list[list]:
        tx = [_transaction(["HDEL", k, "old"], ["HSET", k, "n", n + i]) for i, k in enumerate(keys)]
        return [["SET", plain, n], *(c for t in tx for c in t)]

    client.hset(keys[0], mapping={"old": 1, "n": 0})
    send_batch(client, batch(0), retries=0, backoff=_no_wait)
    assert [client.hgetall(k) for k in keys] == [{b"n": b"%d" % i} for i in range(12)]
    await asend_batch(aclient, batch(100), retries=0, backoff=_no_wait)
    assert [client.hget(k, "n") for k in keys] == [b"%d" % (100 + i) for i in range(12)]
    assert client.get(plain) == b"100"
    client.set(keys[0], "not a hash")
    refused = _transaction(["HSET", keys[0], "a", 1])
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        send_batch(client, refused, retries=0, backoff=_no_wait)
    with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
        await asend_batch(aclient, refused, retries=0, backoff=_no_wait)
