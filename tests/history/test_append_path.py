"""The short append script has the same effects as the general write script."""

from __future__ import annotations

import asyncio

import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.fastpath import MAX_LEASED, AsyncLease
from redis_agent_core.history import SessionStore
from redis_agent_core.history.store import _afast_path
from redis_agent_core.server import EmbeddedRedis
from tests.faults import FaultyRedis


def _state(client: redis.Redis, store: SessionStore, session: str) -> dict[str, object]:
    msgs, meta, _ = store._session_keys(session)
    fields = client.hgetall(meta)
    return {
        "msgs": client.lrange(msgs, 0, -1),
        "seq": fields.get(b"seq"),
        "has_times": {b"created_at", b"updated_at"} <= set(fields),
        "ttl_set": 0 < client.ttl(msgs) <= 60 and 0 < client.ttl(meta) <= 60,
        "indexed": client.zscore(store.keys.history_sessions(), session) is not None,
    }


def test_append_script_matches_general_write(config: RedisAgentConfig) -> None:
    store = SessionStore(config, ttl=60, max_messages=3)
    client = config.get_client()
    for i in range(5):
        store.append("fast", [b'"%d"' % i])  # plain append: the short script
        store.append("general", [b'"%d"' % i], metadata={"x": 1})  # the general one
    fast, general = _state(client, store, "fast"), _state(client, store, "general")
    assert fast == general
    assert fast["msgs"] == [b'"2"', b'"3"', b'"4"'] and fast["seq"] == b"5"
    assert store.append("fast", [b'"5"', "six"]) == 3  # several, str payloads
    assert store.read("fast") == [b'"4"', b'"5"', b"six"]
    info = store.info("fast")
    assert info is not None and info.message_count == 3 and info.ttl is not None


def test_append_script_reloads_after_script_flush(own_redis: EmbeddedRedis) -> None:
    # a private server: SCRIPT FLUSH must not disturb other tests' scripts
    config = RedisAgentConfig(url=own_redis.url, namespace="flush")
    store = SessionStore(config, ttl=None)
    store.append("s", [b"1"])
    config.get_client().script_flush()
    assert store.append("s", [b"2"]) == 2  # NOSCRIPT: falls back to EVAL
    assert store.read("s") == [b"1", b"2"] and store.info("s").ttl is None  # type: ignore[union-attr]
    config.close()


def test_plain_append_skips_the_generic_call_and_survives_a_dropped_connection(
    own_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a private server: CLIENT KILL must not drop other tests' connections
    config = RedisAgentConfig(url=own_redis.url, namespace="lease")
    store = SessionStore(config, ttl=60, max_messages=2)
    client = config.get_client()
    store.append("s", [b"0"])  # first call: NOSCRIPT on the lease, loaded by the generic path
    calls: list[tuple[object, ...]] = []
    generic = client.execute_command
    monkeypatch.setattr(
        client, "execute_command", lambda *a, **k: calls.append(a) or generic(*a, **k)
    )
    assert store.append("s", [b"1", b"2"]) == 2  # trimmed to max_messages
    assert calls == []  # sent on the leased connection
    client.client_kill_filter(_type="normal", skipme=True)  # drops the leased connection
    calls.clear()
    assert store.append("s", [b"3"]) == 2  # the generic path reconnects, sends once
    assert len(calls) == 1 and calls[0][0] == "EVALSHA"
    monkeypatch.undo()
    assert store.read("s") == [b"2", b"3"]
    assert client.hget(store.keys.history_meta("s"), "seq") == b"4"  # each message once
    store.close()
    config.close()


def test_live_stores_of_one_config_share_the_leased_connections(
    config: RedisAgentConfig,
) -> None:
    # the LangChain adapter builds a store per session object: 50 live ones must not
    # keep 50 connections out of the pool
    stores = [SessionStore(config, ttl=60) for _ in range(50)]
    for i, store in enumerate(stores):
        store.append(f"s{i}", [b"1"])
        store.append(f"s{i}", [b"2"])
    pool = config.get_client().connection_pool
    assert len(pool._in_use_connections) <= MAX_LEASED  # type: ignore[attr-defined]
    assert all(store.count(f"s{i}") == 2 for i, store in enumerate(stores))


# -- async appends: the same script, pre-packed on a connection leased per event loop --
def _lease(config: RedisAgentConfig) -> AsyncLease:
    lease = _afast_path(config).lease(config.get_async_client())
    assert lease is not None
    return lease


async def test_async_plain_append_skips_the_generic_call_and_survives_a_dropped_connection(
    own_redis: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a private server: CLIENT KILL must not drop other tests' connections
    config = RedisAgentConfig(url=own_redis.url, namespace="alease")
    store = SessionStore(config, ttl=60, max_messages=2)
    client = config.get_async_client()
    await store.aappend("s", [b"0"])  # NOSCRIPT on the lease: the generic path loads it
    calls: list[tuple[object, ...]] = []
    generic = client.execute_command

    async def spy(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return await generic(*args, **kwargs)

    monkeypatch.setattr(client, "execute_command", spy)
    assert await store.aappend("s", [b"1", b"2"]) == 2  # trimmed to max_messages
    assert calls == []  # sent on the leased connection
    assert _lease(config).count == 1 and len(_lease(config).free) == 1
    config.get_client().client_kill_filter(_type="normal", skipme=True)  # drops it
    assert await store.aappend("s", [b"3"]) == 2  # the generic path reconnects, sends once
    assert len(calls) == 1 and calls[0][0] == "EVALSHA"
    assert await store.aappend("s", [b"4"]) == 2  # a fresh lease again
    assert len(calls) == 1
    monkeypatch.undo()
    assert await store.aread("s") == [b"3", b"4"]
    assert await client.hget(store.keys.history_meta("s"), "seq") == b"5"  # each message once
    await store.aclose()
    assert _lease(config).count == 0
    await config.aclose()
    config.close()


async def test_async_append_reloads_after_script_flush(own_redis: EmbeddedRedis) -> None:
    config = RedisAgentConfig(url=own_redis.url, namespace="aflush")
    store = SessionStore(config, ttl=None)
    await store.aappend("s", [b"1"])
    await store.aappend("s", [b"2"])  # on the lease
    await config.get_async_client().script_flush()
    assert await store.aappend("s", [b"3"]) == 3  # NOSCRIPT: falls back to EVAL
    assert _lease(config).count == 1 and len(_lease(config).free) == 1  # kept: in sync
    assert await store.aappend("s", [b"4"]) == 4  # the lease again, script loaded
    assert await store.aread("s") == [b"1", b"2", b"3", b"4"]
    await config.aclose()


async def _leased_store(url: str, namespace: str) -> tuple[RedisAgentConfig, SessionStore]:
    """A store on ``url`` whose next plain append goes on a leased connection."""
    config = RedisAgentConfig(url=url, namespace=namespace)
    store = SessionStore(config, ttl=60)
    await store.aappend("s", [b"0"])  # NOSCRIPT on the lease: the generic path loads it
    await store.aappend("s", [b"1"])  # on the lease
    return config, store


async def test_cancelled_async_append_drops_its_connection_and_is_written_once(
    own_redis: EmbeddedRedis,
) -> None:
    config, store = await _leased_store(own_redis.url, "acancel")
    lease = _lease(config)
    task = asyncio.create_task(store.aappend("s", [b"2"]))
    await asyncio.sleep(0)  # the task sends its command and waits for the reply
    assert lease.count == 1 and not lease.free  # the connection is in the call
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lease.count == 0 and not lease.free  # dropped with its unread reply
    # the next append reads its own reply (4 messages), not the cancelled call's (3)
    assert await store.aappend("s", [b"3"]) == 4
    # the cancelled command had left the client: Redis ran it, once
    assert await store.aread("s") == [b"0", b"1", b"2", b"3"]
    await config.aclose()


def _clients(admin: redis.Redis) -> int:
    return len(admin.client_list(_type="normal"))


async def test_timed_out_async_append_on_a_paused_server_is_not_written(
    own_redis: EmbeddedRedis,
) -> None:
    config, store = await _leased_store(own_redis.url, "atimeout")
    admin = redis.Redis.from_url(own_redis.url)
    before = _clients(admin)
    admin.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")  # holds the script call
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(store.aappend("s", [b"2"]), 0.2)
        assert _lease(config).count == 0  # dropped: its reply never read
        for _ in range(500):  # until the server has seen that connection close
            if _clients(admin) < before:
                break
            await asyncio.sleep(0.01)
        assert _clients(admin) == before - 1
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    assert await store.aappend("s", [b"3"]) == 3  # its own reply
    # the held command went with its connection: never run
    assert await store.aread("s") == [b"0", b"1", b"3"]
    admin.close()
    await config.aclose()


async def test_async_leases_stay_bounded_under_concurrent_appends(
    aconfig: RedisAgentConfig,
) -> None:
    stores = [SessionStore(aconfig, ttl=60) for _ in range(20)]
    await stores[0].aappend("warm", [b"0"])  # loads the script
    for _ in range(3):
        await asyncio.gather(*(s.aappend(f"s{i}", [b"x"]) for i, s in enumerate(stores)))
    lease = _lease(aconfig)
    assert lease.count <= MAX_LEASED and lease.count == len(lease.free)
    pool = aconfig.get_async_client().connection_pool
    assert len(pool._in_use_connections) == lease.count  # type: ignore[attr-defined]
    assert [await s.acount(f"s{i}") for i, s in enumerate(stores)] == [3] * 20
    await stores[0].aclose()
    assert len(pool._in_use_connections) == 0  # type: ignore[attr-defined]


async def test_commands_of_several_roles_share_one_round_trip_after_script_flush(
    own_redis: EmbeddedRedis,
) -> None:
    # what the service sends at the end of a turn: a history append, a settle, an event
    from redis_agent_core.bus import AgentBus
    from redis_agent_core.errors import ConfigError
    from redis_agent_core.ratelimit import RateLimiter, TokenBudget
    from redis_agent_core.scripts import asend_commands

    config = RedisAgentConfig(url=own_redis.url, namespace="batch")  # SCRIPT FLUSH: private
    store = SessionStore(config, ttl=60)
    limiter = RateLimiter([TokenBudget.daily(1000)], config=config, name="b")
    bus = AgentBus(config, sender="t", maxlen=5)
    decision = await limiter.aacquire(user="u", tokens=100)
    await store.aappend("s", [b'"0"'])
    config.get_client().script_flush()  # both scripts: NOSCRIPT, sent again as EVAL
    _, xadd = bus.publish_command("t", {"n": 1})
    commands = [
        *store.append_commands("s", [b'"1"', b'"2"']),
        xadd,
        *limiter.settle_commands(decision.reservation, 30),
    ]
    replies = await asend_commands(config.get_async_client(), commands)
    assert replies[0][0] == 3 and replies[-1] == [1]
    assert await store.aread("s") == [b'"0"', b'"1"', b'"2"']  # appended once
    peek = await limiter.apeek(user="u")
    assert peek.remaining[limiter.limits[0].name] == 970  # settled: 30 spent, not 100
    assert config.get_client().xlen(bus.stream("t")) == 1  # the event, once
    assert limiter.settle_commands(None, 5) == []
    with pytest.raises(ConfigError, match="at least one payload"):
        store.append_commands("s", [])
    await config.get_async_client().aclose()
    config.close()


def test_an_append_whose_reply_is_lost_raises_and_is_written_once(
    faulty_redis: FaultyRedis,
) -> None:
    # another client keeps the server busy past the socket timeout: the append was sent
    # and runs later, so sending it again (the generic path, whose retries last until
    # the server is free) would store it twice
    config = faulty_redis.config("busy", socket_timeout=0.3, retries=10)
    store = SessionStore(config, ttl=60)
    store.append("s", [b"0"])
    with faulty_redis.busy(0.5), pytest.raises(RedisUnavailableError, match="timed out"):
        store.append("s", [b"1"])
    assert store.read("s") == [b"0", b"1"]
    assert store.append("s", [b"2"]) == 3  # the same store works again
    assert store.read("s") == [b"0", b"1", b"2"]
    store.close()
    config.close()


def test_a_timed_out_write_on_redis_pys_path_is_not_re_sent(faulty_redis: FaultyRedis) -> None:
    # an append with metadata takes redis-py's path, whose retries re-sent a command after
    # a timeout: the first copy ran once the server was free, and the message was stored
    # twice with no error. Timeouts are not retried now: one copy and a typed error.
    config = faulty_redis.config("meta", socket_timeout=0.3, retries=2)
    store = SessionStore(config, ttl=60)
    store.append("s", [b"0"], metadata={"n": "0"})
    with faulty_redis.busy(0.8), pytest.raises(RedisUnavailableError, match="timed out"):
        store.append("s", [b"1"], metadata={"n": "1"})
    assert store.read("s") == [b"0", b"1"]
    assert store.append("s", [b"2"], metadata={"n": "2"}) == 3  # the same store works again
    store.close()
    config.close()


BIG = b'"' + b"x" * (32 << 20) + b'"'  # larger than the socket buffers


@pytest.mark.parametrize(
    ("payload", "error", "stored"),
    [(b"2", "Timeout reading", [[b"2"]]), (BIG, "Timeout writing", [[], [BIG]])],
    ids=["reply lost", "write unfinished"],
)
async def test_async_append_cut_off_by_a_busy_server_raises_and_is_never_repeated(
    faulty_redis: FaultyRedis, payload: bytes, error: str, stored: list[list[bytes]]
) -> None:
    # the append left the client whole (its reply is lost: it runs once the server is
    # free) or in part (the busy server reads nothing: the rest may still go out as the
    # connection closes), so it is not sent again
    config = faulty_redis.config("abusy", socket_timeout=0.3, retries=10)
    store = SessionStore(config, ttl=60)
    await store.aappend("s", [b"0"])
    await store.aappend("s", [b"1"])  # on the lease
    with faulty_redis.busy(0.5):
        with pytest.raises(RedisUnavailableError, match=error):
            await store.aappend("s", [payload])
    messages = await store.aread("s")
    for _ in range(20):  # the rest of a cut-off write may land a moment later: let it settle
        await asyncio.sleep(0.5)
        settled = await store.aread("s")
        if settled == messages:
            break
        messages = settled
    assert messages[:2] == [b"0", b"1"] and messages[2:] in stored  # never twice
    assert await store.aappend("s", [b"3"]) == len(messages) + 1  # the same store works
    await store.aclose()
    await config.aclose()
    config.close()
