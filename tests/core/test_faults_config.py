"""A malformed Redis URL is a ConfigError naming where it came from and showing a
valid URL, never redis-py's raw ValueError (not even through a degrading cache)."""

from __future__ import annotations

import asyncio

import pytest
import redis

from redis_agent_core import KVStore, RateLimiter, RequestLimit, SessionStore
from redis_agent_core.cache import ExactCache, make_scope
from redis_agent_core.config import RedisAgentConfig, check_url, describe_url
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_service.cluster import LocalCluster

BAD = [
    "localhost:6379",
    "redis://host:63x",
    "redis://host:99999",
    "redis://host/abc",
    "unix://",
    # options redis-py does not know for the scheme: a bare TypeError at the first command
    "redis://host?sockettimeout=5",
    "redis://host?ssl_cert_reqs=none",
]


@pytest.mark.parametrize("url", BAD)
def test_bad_url_argument_is_refused_when_the_config_is_built(url: str) -> None:
    with pytest.raises(ConfigError, match=r"url= is not a usable Redis URL.*redis://localhost"):
        RedisAgentConfig(url=url)


@pytest.mark.parametrize(
    "argv", [["doctor"], ["vectors", "recall", "idx"], ["acl", "bob"], ["keys", "list"]]
)
def test_a_bad_url_option_of_the_cli_is_named_as_typed(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """attack28: ``--url http://x`` said ``url=``, a name the user never typed; an empty
    ``--url`` used REDIS_URL (or the embedded server) instead, silently."""
    from redis_agent_core.cli import main

    monkeypatch.setenv("REDIS_URL", "redis://never-used.invalid:6379")
    for url in ("http://x", ""):
        assert main([*argv, "--url", url]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --url is not a usable Redis URL"), err


@pytest.mark.parametrize("url", BAD)
def test_bad_redis_url_variable_is_named(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", url)
    config = RedisAgentConfig()
    with pytest.raises(ConfigError, match="REDIS_URL is not a usable Redis URL"):
        config.resolve_url()
    cache = ExactCache(config)  # degrades on faults, but a bad setting is not a fault
    with pytest.raises(ConfigError, match="REDIS_URL"):
        cache.lookup("q", make_scope({"model": "m"}))


def test_password_is_not_shown() -> None:
    with pytest.raises(ConfigError) as info:
        check_url("redis://:s3cret@host:63x", "REDIS_URL")
    assert "s3cret" not in str(info.value)


# a password in the userinfo, in redis-py's ?password=, Sentinel's ?sentinel_password=,
# and unescaped '#', '?' or '/' in it (urlparse then saw no password at all)
SECRET_URLS = [
    "redis://:s3cret@127.0.0.1:1/0",
    "redis://127.0.0.1:1/0?password=s3cret",
    "redis://u@127.0.0.1:1/0?db=0&password=s3cret",
    "redis+sentinel://127.0.0.1:1/mymaster?sentinel_password=s3cret",
    "redis://:ab#s3cret@127.0.0.1:1/0",
    "redis://:ab?s3cret@127.0.0.1:1/0",
    "redis://user:ab/s3cret@127.0.0.1:1/0",
]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_no_message_shows_a_password_however_it_is_written(url: str) -> None:
    """`redis-agent doctor --url redis://h?password=...`, every 'Redis at ...' fault
    message and log line, and a malformed URL's refusal printed the password whole."""
    assert "s3cret" not in describe_url(url)
    try:
        config = RedisAgentConfig(url=url, socket_connect_timeout=0.2, retries=0)
    except ConfigError as exc:  # an unescaped delimiter: refused, saying how to fix it
        assert "s3cret" not in str(exc) and "percent-encode" in str(exc)
        return
    with pytest.raises(RedisUnavailableError) as info:
        KVStore(config).mget(["k"])
    assert "s3cret" not in str(info.value) and "127.0.0.1:1" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3@cret/x@127.0.0.1:1/0",
        "redis://user:s3@cret?x@127.0.0.1:1/0",
        "redis://:s3@cret#x@127.0.0.1:1/0",
        "rediss://:s3/cret@127.0.0.1:1",
    ],
)
def test_a_password_holding_an_at_and_a_delimiter_shows_no_piece(url: str) -> None:
    """left26: ``:s3@cret/x@host`` (a password ``s3@cret/x``) parsed as the host
    ``cret`` and the database ``x@127...``: the message showed ``cret`` as the host and
    the database's text, and with ``?`` instead of ``/`` the config was accepted and
    every fault message said 'Redis at redis://:***@cret?x@...'."""
    shown = describe_url(url)
    assert "s3" not in shown and "cret" not in shown and "127.0.0.1:1" in shown
    with pytest.raises(ConfigError, match="percent-encode") as info:
        RedisAgentConfig(url=url)
    assert "s3" not in str(info.value) and "cret" not in str(info.value)


def test_a_config_printed_or_logged_does_not_show_its_password() -> None:
    # left26: the dataclass repr showed url= whole (a traceback's locals, a log line)
    config = RedisAgentConfig(url="redis://app:s3cret@127.0.0.1:1/0?db=0")
    assert "s3cret" not in repr(config) and "s3cret" not in str(config)
    assert "url='redis://app:***@127.0.0.1:1/0?db=0'" in repr(config)
    assert "namespace='rap'" in repr(config)


def test_urls_with_an_at_sign_past_the_host_are_not_mistaken_for_passwords() -> None:
    for url in (
        "redis://host:6379/0?client_name=a@b",
        "redis+sentinel://h1:26379,h2:26379/m?sentinel_password=a@b",
        "unix:///tmp/a@b.sock",
        "redis://:p%23w@host:1/0",
        "redis://:pw@host:1/0?client_name=a@b",
        "unix://user@/tmp/a@b.sock",
    ):
        assert check_url(url) == url
    assert describe_url("redis://host:6379/0?client_name=a@b") == (
        "redis://host:6379/0?client_name=a@b"
    )


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://:pw@h:6380",
        "rediss://:pw@h:6380/0?ssl_cert_reqs=none",
        "unix:///tmp/r.sock",
        "redis://h?cluster=true",
    ],
)
def test_good_urls_pass(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.cluster
def test_a_cluster_node_without_the_cluster_flag_is_named(redis_cluster: LocalCluster) -> None:
    """Every role, degrading ones included, says to add ?cluster=true: they raised raw
    MovedError / ClusterCrossSlotError (and some keys silently landed on the seed node)."""
    config = RedisAgentConfig(url=f"redis://127.0.0.1:{redis_cluster.ports[0]}", namespace="nf")
    scope = make_scope({"model": "m"})
    fix = r"Redis Cluster node.*\?cluster=true"
    cache = ExactCache(config, on_error="degrade")
    with pytest.raises(ConfigError, match=fix):
        for i in range(16):
            cache.update(f"p{i}", scope, "a")
    with pytest.raises(ConfigError, match=fix):
        for i in range(16):
            SessionStore(config).append(f"s{i}", ['"x"'])
    limiter = RateLimiter([RequestLimit(5)], config=config, on_unavailable="fail_open")
    with pytest.raises(ConfigError, match=fix):
        for i in range(16):
            limiter.try_acquire(user=f"u{i}")
    with pytest.raises(ConfigError, match=fix):
        KVStore(config).mset([(f"k{i}", b"v") for i in range(16)])

    async def aappend() -> None:
        try:
            for i in range(16):
                await SessionStore(config).aappend(f"s{i}", ['"x"'])
        finally:
            await config.aclose()

    with pytest.raises(ConfigError, match=fix):
        asyncio.run(aappend())
    for port in redis_cluster.ports:  # what the seed node held is gone with the test
        node = redis.Redis(port=port)
        for key in node.scan_iter(match="nf:*"):
            node.delete(key)
        node.close()
