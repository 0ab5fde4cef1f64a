"""Replies of a server that is up but cannot serve now (BUSY: a script past
busy-reply-threshold; MASTERDOWN: a replica cut off from its primary; CLUSTERDOWN: slots
no node serves) are Redis faults like "down": a ``RedisUnavailableError`` naming the
cause and the fix, the degrading roles degrade, and the same objects work again once
the server serves. A command the ACL user may not run (NOPERM) is no outage: every
role raises RedisPermissionError."""

from __future__ import annotations

import pytest
import redis
from redis._parsers import BaseParser

from redis_agent_core import AgentBus, ExactCache, RateLimiter, RequestLimit, SessionStore
from redis_agent_core.cli import main
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import (
    RedisPermissionError,
    RedisUnavailableError,
    RedisWriteRefusedError,
)
from redis_agent_core.redis_errors import fault_kind, mark_sent, translate_errors
from redis_agent_core.search import capabilities
from redis_agent_core.server import EmbeddedRedis
from tests.core.topology import free_port, topology
from tests.faults import FaultyRedis

MESSAGE = [b'{"type":"human","data":{"content":"hi"}}']


async def test_busy_server_is_unavailable_and_degrading_roles_degrade(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config("busy")
    cache = ExactCache(config, recheck_after=0)
    strict = ExactCache(config, name="strict", on_error="raise")
    limits = [RequestLimit(limit=100, period=60)]
    closed = RateLimiter(limits, config=config, name="closed")
    opened = RateLimiter(limits, config=config, name="open", on_unavailable="fail_open")
    history = SessionStore(config)
    bus = AgentBus(config)
    cache.update("p", "s", "stored")
    history.append("sess", MESSAGE)
    with faulty_redis.busy_replies():
        assert cache.lookup("p", "s") is None  # a miss: the LLM call goes on
        assert await cache.alookup("p", "s") is None
        assert cache.update("p2", "s", "x") is False
        assert opened.try_acquire(user="u").degraded
        assert (await opened.atry_acquire(user="u")).degraded
        for call in (
            lambda: strict.lookup("p", "s"),
            lambda: closed.try_acquire(user="u"),
            lambda: history.append("sess", MESSAGE),
            lambda: history.read("sess"),
            lambda: bus.publish("t", {"n": 1}),
            lambda: bus.publish("t", {"n": 1}, durable=True),
        ):
            with pytest.raises(RedisUnavailableError, match=r"BUSY.*SCRIPT KILL") as info:
                call()
            assert not isinstance(info.value, RedisWriteRefusedError)
            assert fault_kind(info.value.__cause__) == "busy"  # type: ignore[arg-type]
        with pytest.raises(RedisUnavailableError, match="BUSY"):
            await history.aread("sess")
    # the same objects, without a restart
    hit = cache.lookup("p", "s")
    assert hit is not None and hit.payload == "stored"
    assert closed.try_acquire(user="u").allowed
    assert len(history.read("sess")) == 1
    await config.aclose()
    config.close()


async def test_a_busy_server_is_no_capability_answer(
    faulty_redis: FaultyRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The capability probe (cached for the process) read any error reply as "not
    here": on a BUSY server its throwaway FT.CREATEs got BUSY and it cached "no
    SVS-VAMANA, no INT8 vectors" whatever the server has (a missing module's probe
    command would have read as present). Now it raises, caches nothing, and probes
    again once the server serves."""
    config = faulty_redis.config("caps")
    monkeypatch.setattr(capabilities, "_by_url", {})  # this process has not probed yet
    with faulty_redis.busy_replies():
        with pytest.raises(RedisUnavailableError, match="BUSY"):
            capabilities.get_capabilities(config)
        with pytest.raises(RedisUnavailableError, match="BUSY"):
            await capabilities.aget_capabilities(config)
    found = capabilities.get_capabilities(config)
    assert found.search_version is not None and found.search_version > 0
    assert not found.hybrid  # no FT.HYBRID on this server (Redis 8.2)
    await config.aclose()
    config.close()


async def test_a_refused_test_index_is_no_capability_answer(
    faulty_redis: FaultyRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full server (OOM), a read-only replica (READONLY) and an ACL user without
    FT.CREATE refuse the probe's throwaway FT.CREATEs for reasons that say nothing about
    SVS-VAMANA or INT8: the probe cached "no SVS-VAMANA, no INT8 vectors" for the
    process. Now those two read unknown (None, the reply kept), the answer is not cached
    and search keeps working; the next probe on a writable server answers and is kept."""
    config = faulty_redis.config("caps")
    memo: dict[object, capabilities.Capabilities] = {}
    monkeypatch.setattr(capabilities, "_by_url", memo)  # this process has not probed yet
    admin = faulty_redis.admin()
    admin.acl_setuser("noindex", enabled=True, passwords=["+pw"], keys=["*"],
                      commands=["+@all", "-FT.CREATE"])  # fmt: skip
    runtime = config.with_options(url=f"redis://noindex:pw@127.0.0.1:{faulty_redis.port}")
    for cfg, refuse, undo, reply in (
        (config, faulty_redis.fill_memory, faulty_redis.free_memory, "maxmemory"),
        (config, faulty_redis.make_read_only, faulty_redis.make_primary, "read only replica"),
        (runtime, lambda: None, lambda: None, "no permissions"),
    ):
        refuse()
        for found in (
            capabilities.get_capabilities(cfg),
            await capabilities.aget_capabilities(cfg),
        ):
            assert found.search and found.svs_vamana is None and found.int8_vectors is None
            assert reply in (found.probe_refusal or "")
            assert dict(found.table())["SVS-VAMANA vectors"].startswith("unknown (")
            assert not memo  # not kept: the next call probes again
        capabilities.require_search(cfg, "a search")  # search is not refused for it
        undo()
    found = capabilities.get_capabilities(config)
    # RediSearch 2.10 (the embedded server) has neither: known now, and kept
    assert found.svs_vamana is False and found.int8_vectors is False
    assert found.probe_refusal is None and list(memo.values()) == [found]
    admin.close()
    await runtime.aclose()
    runtime.close()
    await config.aclose()
    config.close()


def test_replica_cut_off_from_its_primary_is_unavailable(faulty_redis: FaultyRedis) -> None:
    config = faulty_redis.config("stale")
    history = SessionStore(config)
    history.append("sess", MESSAGE)
    faulty_redis.make_stale_replica()
    with pytest.raises(RedisUnavailableError, match=r"MASTERDOWN.*primary"):
        history.read("sess")
    assert ExactCache(config).lookup("p", "s") is None  # degrades
    faulty_redis.make_primary()
    assert len(history.read("sess")) == 1
    config.close()


def test_cluster_without_its_slots_is_unavailable() -> None:
    """A cluster node whose slots no node serves answers CLUSTERDOWN."""
    with topology() as topo:
        bus = str(free_port())  # the default, port + 10000, may be past 65535
        port = topo.server("--cluster-enabled", "yes", "--cluster-port", bus,
                           "--cluster-config-file", "nodes.conf")  # fmt: skip
        config = RedisAgentConfig(url=f"redis://127.0.0.1:{port}", namespace="down", cluster=False)
        with pytest.raises(RedisUnavailableError, match=r"CLUSTERDOWN.*slots"):
            SessionStore(config).read("sess")
        config.close()


async def test_a_command_the_acl_user_lacks_raises_a_permission_error_everywhere(
    faulty_redis: FaultyRedis,
) -> None:
    """NOPERM is a deployment mistake: every role raises RedisPermissionError naming
    the fix, degrading ones too (a fail-open limiter must not meter nothing for ever)."""
    admin = faulty_redis.admin()
    admin.acl_setuser("ro", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                      commands=["+@read", "+@connection"])  # fmt: skip
    url = f"redis://ro:pw@127.0.0.1:{faulty_redis.port}"
    config = faulty_redis.config("perm").with_options(url=url)
    cache = ExactCache(config)  # on_error="degrade"
    opened = RateLimiter(
        [RequestLimit(limit=9, period=60)], config=config, on_unavailable="fail_open"
    )
    history = SessionStore(config)
    for call in (
        lambda: cache.update("p", "s", "x"),
        lambda: cache.lookup("p", "s"),
        lambda: opened.try_acquire(user="u"),
        lambda: history.append("sess", MESSAGE),
        lambda: AgentBus(config).publish("t", {"n": 1}, durable=True),
    ):
        with pytest.raises(RedisPermissionError, match="redis-agent acl ro --namespace perm"):
            call()
    with pytest.raises(RedisPermissionError, match="no permissions"):
        await cache.alookup("p", "s")
    with pytest.raises(RedisPermissionError):
        await opened.atry_acquire(user="u")
    admin.acl_setuser("ro", commands=["+@all"])  # granted: the same objects work
    assert cache.update("p", "s", "x") is True
    assert not opened.try_acquire(user="u").degraded
    assert history.append("sess", MESSAGE) == 1
    admin.close()
    await config.aclose()
    config.close()


@pytest.mark.parametrize("sent", [False, True])
def test_a_server_loading_its_dataset_says_so_and_that_nothing_ran(sent: bool) -> None:
    """``-LOADING``: a server replaying its RDB / AOF (or a replica's full sync) runs no
    command until loaded. Reproduced for real only with a large dataset (a 66 MB RDB of 2M
    keys answered LOADING for 8 s; a small one, DEBUG RELOAD and key-load-delay held
    clients until loaded instead), so the reply's text goes through redis-py's own
    parser and the one error wrapper. Before: "lost the connection ... The write may or
    may not have been applied", though the command never ran."""
    exc = BaseParser.parse_error("LOADING Redis is loading the dataset in memory")
    assert fault_kind(exc) == "loading"
    if sent:
        mark_sent(exc)  # a write sent at most once met it, as the clients mark it
    config = RedisAgentConfig(url="redis://127.0.0.1:6379", namespace="ld")
    with pytest.raises(RedisUnavailableError) as raised, translate_errors(config, "appending"):
        raise exc
    message = str(raised.value)
    assert "LOADING Redis is loading the dataset in memory" in message
    assert "did not run" in message and "retry" in message
    assert "may or may not" not in message and "lost the connection" not in message


async def test_a_server_refusing_the_credentials_says_so_and_how_to_give_them(
    own_redis: EmbeddedRedis, capsys: pytest.CaptureFixture[str]
) -> None:
    # a password missing from the URL, or a wrong one, read "could not connect ...
    # Check that the server is running and reachable": the server answered
    url = own_redis.url
    admin = redis.Redis.from_url(url)
    admin.config_set("requirepass", "s3cret-pw")
    for given in (url, f"{url}?password=wrong-pw"):
        # none given (NOAUTH) is not a refusal of credentials
        said = "refused this client's credentials" if "password=" in given else "none was given"
        config = RedisAgentConfig(url=given, retries=0)
        store = SessionStore(config)
        for call in (lambda: store.append("s", MESSAGE), config.get_client().ping):  # noqa: B023
            with pytest.raises(RedisUnavailableError) as caught:
                with translate_errors(config, "pinging"):
                    call()
            message = str(caught.value)
            assert said in message, message
            assert (
                "redis://user:password@host" in message and "running and reachable" not in message
            )
            assert "wrong-pw" not in message
        with pytest.raises(RedisUnavailableError, match=said):
            await SessionStore(config).aappend("s", MESSAGE)
        assert main(["doctor", "--url", given]) == 2
        assert said in capsys.readouterr().err
    good = RedisAgentConfig(url=f"{url}?password=s3cret-pw")
    SessionStore(good).append("s", MESSAGE)
    assert SessionStore(good).count("s") == 1
    good.get_client().config_set("requirepass", "")  # the fixture stops it with SHUTDOWN


def test_a_server_asking_for_a_password_none_was_given_says_none_was_given(
    own_redis: EmbeddedRedis,
) -> None:
    # NOAUTH: the client sent no credentials, so none were "refused"
    admin = redis.Redis.from_url(own_redis.url)
    admin.config_set("requirepass", "s3cret-pw")
    try:
        config = RedisAgentConfig(url=own_redis.url, retries=0)
        with pytest.raises(RedisUnavailableError) as caught:
            with translate_errors(config, "pinging"):
                config.get_client().ping()
        message = str(caught.value)
        assert "requires a password" in message and "none was given" in message, message
        assert "redis://:password@host" in message
    finally:
        redis.Redis.from_url(own_redis.url, password="s3cret-pw").config_set("requirepass", "")
