"""A non-idempotent write whose reply is lost after the server ran it (the connection
died in between) is never re-sent by redis-py's retries: it is applied once, and the
call raises RedisUnavailableError saying that it may have been applied (or degrades,
where the role does), instead of applying it twice without an error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redis_agent_core.bus import AgentBus
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.history import SessionStore
from redis_agent_core.ratelimit import RateLimiter, RequestLimit
from redis_agent_core.ratelimit.limiter import ACQUIRE
from redis_agent_core.redis_errors import sent_once, translate_errors
from redis_agent_core.scripts import asend_commands
from redis_agent_core.tasks import progress
from tests.faults import FaultyRedis, ReplyCutter

MAY_HAVE_RUN = "may or may not have been applied"


@pytest.fixture
def cutter(faulty_redis: FaultyRedis) -> Iterator[ReplyCutter]:
    proxy = ReplyCutter(faulty_redis.port)
    try:
        yield proxy
    finally:
        proxy.close()


def test_history_append_is_not_applied_twice(cutter: ReplyCutter) -> None:
    config = cutter.config()
    store = SessionStore(config)
    store.append("s", ["first"])
    cutter.cut_reply_to(b"once-only")  # a str payload: redis-py's path, not the fast one
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        store.append("s", ["once-only"])
    assert cutter.cuts == 1
    assert store.read("s", 0, -1) == [b"first", b"once-only"]
    assert store.append("s", ["after"]) == 3  # the same store recovers
    config.close()


def test_fast_path_append_says_it_may_have_run(cutter: ReplyCutter) -> None:
    """A plain append on the store's leased connection was never re-sent; its error now
    says, as redis-py's path does, that the message may have been stored."""
    config = cutter.config()
    store = SessionStore(config)
    store.append("s", [b"first"])  # bytes: the fast path (after NOSCRIPT, the script cached)
    cutter.cut_reply_to(b"once-only")
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        store.append("s", [b"once-only"])
    assert store.read("s", 0, -1) == [b"first", b"once-only"]
    store.close()
    config.close()


async def test_history_aappend_is_not_applied_twice(cutter: ReplyCutter) -> None:
    config = cutter.config()
    store = SessionStore(config)
    await store.aappend("s", ["first"], metadata={"k": "v"})
    cutter.cut_reply_to(b"once-only")
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        await store.aappend("s", ["once-only"], metadata={"k": "v"})
    assert cutter.cuts == 1
    assert await store.aread("s", 0, -1) == [b"first", b"once-only"]
    await config.aclose()
    config.close()


def test_history_pop_last_is_not_applied_twice(cutter: ReplyCutter) -> None:
    config = cutter.config()
    store = SessionStore(config)
    store.append("s", ["a", "b", "c"])
    cutter.cut_reply_to(b"RPOP")
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        store.pop_last("s")
    assert store.read("s", 0, -1) == [b"a", b"b"]
    config.close()


def _used(limiter: RateLimiter) -> int:
    return 10 - limiter.peek(user="u", requests=0).remaining["requests"]


def test_rate_limit_acquire_is_not_charged_twice(
    cutter: ReplyCutter, faulty_redis: FaultyRedis
) -> None:
    config = cutter.config()
    limiter = RateLimiter(
        [RequestLimit(10, name="requests")], config=config, on_unavailable="fail_open"
    )
    assert limiter.try_acquire(user="u").allowed
    # not cached on the server: the fast path falls back to redis-py, whose EVAL (the
    # source) runs the script
    faulty_redis.admin().script_flush()
    cutter.cut_reply_to(b"One rate-limit decision")
    decision = limiter.try_acquire(user="u")
    assert cutter.cuts == 1
    assert decision.degraded  # fail_open: admitted without a verdict, as for any fault
    assert _used(limiter) == 2
    config.close()


async def test_rate_limit_atry_acquire_is_not_charged_twice(cutter: ReplyCutter) -> None:
    config = cutter.config()
    limiter = RateLimiter(
        [RequestLimit(10, name="requests")], config=config, on_unavailable="fail_closed"
    )
    assert (await limiter.atry_acquire(user="u")).allowed
    cutter.cut_reply_to(ACQUIRE.sha.encode())
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        await limiter.atry_acquire(user="u")
    assert cutter.cuts == 1
    assert _used(limiter) == 2
    await config.aclose()
    config.close()


def test_durable_publish_is_not_added_twice(cutter: ReplyCutter) -> None:
    config = cutter.config()
    bus = AgentBus(config)
    bus.publish("jobs", {"n": 0}, durable=True)
    cutter.cut_reply_to(b"XADD")
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        bus.publish("jobs", {"n": 1}, durable=True)
    assert config.get_client().xlen(bus.stream("jobs")) == 2
    config.close()


async def test_durable_apublish_is_not_added_twice(cutter: ReplyCutter) -> None:
    config = cutter.config()
    bus = AgentBus(config)
    await bus.apublish("jobs", {"n": 0}, durable=True)
    cutter.cut_reply_to(b"XADD")
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        await bus.apublish("jobs", {"n": 1}, durable=True)
    assert await config.get_async_client().xlen(bus.stream("jobs")) == 2
    await config.aclose()
    config.close()


async def test_one_round_trip_of_writes_is_not_sent_twice(cutter: ReplyCutter) -> None:
    """The service's turn: a history append and a durable publish in one pipeline."""
    config = cutter.config()
    store, bus = SessionStore(config), AgentBus(config)
    await store.aappend("s", [b"first"])  # the append script is cached
    _, publish = bus.publish_command("jobs", {"n": 1})
    commands = [*store.append_commands("s", [b"m"]), publish]
    cutter.cut_reply_to(b"XADD")
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        with translate_errors(config, "a turn"):
            await asend_commands(config.get_async_client(), commands)
    assert await store.aread("s", 0, -1) == [b"first", b"m"]
    assert await config.get_async_client().xlen(bus.stream("jobs")) == 1
    await config.aclose()
    config.close()


async def test_cluster_clients_resend_nothing_inside_sent_once(
    cluster_config: RedisAgentConfig,
) -> None:
    """A cluster client re-sends after any connection fault or timeout as many times as
    its retry count says: none inside sent_once(), the config's outside."""
    sync, aio = cluster_config.get_client(), cluster_config.get_async_client()
    assert sync.retry.get_retries() == aio.retry.get_retries() == cluster_config.retries > 0
    with sent_once():
        assert sync.retry.get_retries() == aio.retry.get_retries() == 0
    await cluster_config.aclose()


def test_a_write_to_a_server_down_says_nothing_was_sent(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config()
    store = SessionStore(config)
    store.append("s", ["first"])
    faulty_redis.kill()
    with pytest.raises(RedisUnavailableError, match="could not connect") as info:
        store.append("s", ["second"])
    assert MAY_HAVE_RUN not in str(info.value)
    config.close()


def test_rate_limit_peek_is_still_retried(cutter: ReplyCutter) -> None:
    """A peek charges nothing: a lost reply is sent again, as reads are."""
    config = cutter.config()
    limiter = RateLimiter([RequestLimit(10, name="requests")], config=config)
    assert limiter.try_acquire(user="u").allowed
    cutter.cut_reply_to(b"0 0 0")  # the peek's ARGV[1]: apply 0, 0 requests, 0 tokens
    assert limiter.peek(user="u", requests=0).remaining["requests"] == 9
    assert cutter.cuts == 1
    config.close()


def test_job_creation_is_not_refused_after_a_lost_reply(cutter: ReplyCutter) -> None:
    """Re-sent, the job's creation found the job it had just created and raised
    JobExistsError (a task queue's submit failing on its own job)."""
    config = cutter.config()
    progress.create_job(config, "warm", kind="k", total=1)  # the script is cached
    cutter.cut_reply_to(b"j-once")
    with pytest.raises(RedisUnavailableError, match=MAY_HAVE_RUN):
        progress.create_job(config, "j-once", kind="k", total=2)
    assert progress.get_job("j-once", config=config).total == 2  # created, once
    config.close()


async def test_async_writes_after_a_restart_the_loop_did_not_see_go_out_on_new_connections(
    faulty_redis: FaultyRedis,
) -> None:
    """The server restarts on the same URL while the event loop is busy (sync work, a
    loop per job): the asyncio pool's idle connection looked alive (the loop had not
    read its end of file), the first write sent at most once went out on it and failed,
    "may or may not have been applied", though the new server never got it: a
    fail-closed limiter refused the request, a publish raised."""
    config = faulty_redis.config(retries=2)
    limiter = RateLimiter([RequestLimit(10)], config=config, on_unavailable="fail_closed")
    bus = AgentBus(config)
    assert (await limiter.atry_acquire(user="u")).allowed
    await bus.apublish("t", {"n": 0}, durable=True)
    faulty_redis.restart()  # blocks the loop: it never sees the old connections close
    assert (await limiter.atry_acquire(user="u")).allowed
    await bus.apublish("t", {"n": 1}, durable=True)
    assert await bus.atopic_length("t") == 1  # the restarted (empty) server's, once
    await config.aclose()
