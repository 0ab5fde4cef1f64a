"""Config, key layout, capability probe, cluster fixture and the CLI."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster, key_slot

from redis_agent_core.apikeys import ApiKeys, validate_user
from redis_agent_core.cache.entry import canonical_filters
from redis_agent_core.capabilities import Capabilities, probe
from redis_agent_core.cli import main
from redis_agent_core.config import MAX_TTL, RedisAgentConfig, check_seconds
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.history import SessionStore
from redis_agent_core.keys import KeySpace, escape_part, unescape_part, validate_namespace
from redis_agent_core.ratelimit import RequestLimit
from redis_agent_core.vectors import MetadataField, VectorIndex
from redis_agent_service.cluster import LocalCluster
from tests.faults import FaultyRedis


@pytest.mark.parametrize("bad", ["", "has space", "a{b}", "x" * 65, "a:b"])
def test_bad_namespace_is_rejected_with_the_rule(bad: str) -> None:
    with pytest.raises(ConfigError, match="namespace"):
        RedisAgentConfig(namespace=bad)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_ttl", 0),
        ("default_ttl", -5),
        ("default_ttl", True),
        ("default_ttl", 10**20),  # Redis refuses the EXPIRE (ms overflow 64 bits)
        ("default_ttl", MAX_TTL + 1),
        ("socket_timeout", 0),
        ("retries", -1),
    ],
)
def test_bad_settings_are_rejected(field: str, value: int) -> None:
    with pytest.raises(ConfigError, match=field):
        RedisAgentConfig(**{field: value})


@pytest.mark.parametrize(
    ("value", "options", "rule"),
    [
        (float("nan"), {}, "> 0"),  # NaN compares false with every bound
        (float("inf"), {"zero": True}, ">= 0"),
        (10**400, {"zero": True}, ">= 0"),  # an int past float range
        (True, {"zero": True}, ">= 0"),  # True is not 1 second
        ("5", {}, "> 0"),
        (0, {}, "> 0"),
        (-1, {"zero": True}, ">= 0"),
        (86401, {"most": 86400}, "> 0 and <= 86400"),
    ],
)
def test_check_seconds_names_the_parameter_the_rule_and_the_fix(
    value: object, options: dict[str, Any], rule: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        check_seconds(value, "timeout", **options)
    message = str(caught.value)
    assert message.startswith(f"timeout must be a finite number of seconds {rule}, got ")
    assert "pass an int or a float in that range" in message


def test_check_seconds_returns_a_float_within_its_bounds() -> None:
    assert check_seconds(0, "block", zero=True) == 0.0
    assert check_seconds(3, "timeout", most=3) == 3.0
    assert type(check_seconds(3, "timeout")) is float


def test_constructing_a_config_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    # an unreachable URL is fine until a command is sent
    config = RedisAgentConfig(url="redis://127.0.0.1:1")
    client = config.get_client()
    assert config.get_client() is client, "one shared pool per config"
    with pytest.raises(redis.exceptions.ConnectionError):
        client.ping()


@pytest.mark.parametrize(
    "part", ["plain", "with{brace}", "%7B", "a%b", "}{", "ünï:code", "%3A", "a:b:", "%253A"]
)
def test_key_parts_escape_injectively_and_never_open_a_hash_tag(part: str) -> None:
    escaped = escape_part(part)
    assert "{" not in escaped and "}" not in escaped and ":" not in escaped
    assert unescape_part(escaped) == part


def test_no_name_is_a_key_prefix_of_another() -> None:
    keys = KeySpace("ns")
    assert not keys.cache_prefix("a:e:x").startswith(keys.cache_prefix("a"))
    assert keys.kv_prefix("a:b", "c") != keys.kv_prefix("a", "b:c")
    assert not keys.vector_prefix("kb:d:x").startswith(keys.vector_prefix("kb"))
    # the node cache's tag joins cache name and namespace: "a|b" + "c" was "a" + "b|c"
    assert keys.node_cache("a|b", "c", "idx") != keys.node_cache("a", "b|c", "idx")
    assert keys.node_cache("a", "c", "idx") == "ns:nc:{a|c}:idx"  # names without '|' as before


def test_one_sessions_keys_share_a_slot_and_different_ids_do_not_collide() -> None:
    keys = KeySpace("ns")
    for sid in ["s1", "user{1}", "%7B", "a b"]:
        slots = {key_slot(k.encode()) for k in (keys.history_messages(sid), keys.history_meta(sid))}
        assert len(slots) == 1
    assert keys.history_messages("{x}") != keys.history_messages("%7Bx%7D")
    assert keys.ratelimit("u1", "rpm", "u1").startswith("ns:rl:{u1}:")


def test_capability_probe_matches_the_server(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    caps = probe(client)
    modules = {m[b"name"].decode(): m[b"ver"] for m in client.module_list()}
    assert caps.search_version == modules.get("search")
    assert caps.json_version == modules.get("ReJSON")
    assert caps.redis_version == client.info("server")["redis_version"]
    # the probe leaves no throwaway index behind
    assert not [n for n in client.execute_command("FT._LIST") if b"__rap_probe" in n]
    client.close()


def test_capability_probe_on_module_less_cluster(cluster_config: RedisAgentConfig) -> None:
    caps = probe(cluster_config.get_client())
    assert isinstance(caps, Capabilities)
    assert caps.cluster and not caps.search and not caps.search_on_cluster


def test_cluster_fixture_is_a_real_cluster(cluster_config: RedisAgentConfig) -> None:
    client = cluster_config.get_client()
    assert isinstance(client, RedisCluster)
    assert len(client.get_primaries()) == 3
    with pytest.raises(redis.exceptions.RedisClusterException):
        client.eval("return 1", 2, "a", "b")  # different slots: refused
    keys = cluster_config.keys
    result = client.eval(
        "redis.call('set', KEYS[1], 1); return redis.call('set', KEYS[2], 2)",
        2,
        keys.history_messages("s"),
        keys.history_meta("s"),
    )
    assert result in (b"OK", "OK", True)


async def test_async_client_per_event_loop(config: RedisAgentConfig) -> None:
    client = config.get_async_client()
    assert await client.ping()
    assert config.get_async_client() is client
    await config.aclose()


def test_get_async_client_outside_a_loop_says_what_to_do(config: RedisAgentConfig) -> None:
    with pytest.raises(ConfigError, match="running event loop"):
        config.get_async_client()
    assert asyncio.run(_ping(config))


def test_asyncio_run_per_call_does_not_keep_connections(faulty_redis: FaultyRedis) -> None:
    """``asyncio.run()`` per call (sync code calling the async API) without ``aclose``:
    the clients of finished loops are dropped and their connections shut down. Before,
    each run kept its client and connections open for good (a client refers to its loop,
    so the weak key never went): 20 runs held 20+ connections, on to Redis's maxclients."""
    config = faulty_redis.config("loops", socket_timeout=5)
    store = SessionStore(config)

    async def call() -> None:
        await store.aappend("s", [b"m"])  # the fast path's leased connection too
        assert await store.aread("s")

    for _ in range(20):
        asyncio.run(call())
    admin = faulty_redis.admin()
    try:
        clients = int(admin.info("clients")["connected_clients"])
    finally:
        admin.close()
    assert clients <= 4  # the admin's, and the last loop's
    assert len(config._async) <= 1


async def _ping(config: RedisAgentConfig) -> bool:
    client = config.get_async_client()
    try:
        return bool(await client.ping())
    finally:
        await config.aclose()


def test_doctor_reports_search_and_json(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--url", redis_url]) == 0
    out = capsys.readouterr().out
    assert "search (RediSearch)" in out and "2." in out and "ok: search and JSON" in out


def test_doctor_fails_on_a_server_without_search(
    redis_cluster: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--url", redis_cluster.url]) == 2
    assert "lacks search, json" in capsys.readouterr().err


def test_doctor_on_unreachable_server_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--url", "redis://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "could not connect" in err and "REDIS_URL" in err


def test_console_script_doctor_with_no_environment() -> None:
    """`redis-agent doctor` with no REDIS_URL starts the embedded server itself."""
    env = {k: v for k, v in __import__("os").environ.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "redis_agent_core.cli", "doctor"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "unix://" in result.stdout and "ok: search and JSON are available" in result.stdout


def test_unavailable_error_is_a_connection_error() -> None:
    assert issubclass(RedisUnavailableError, ConnectionError)


def test_pack_wide_error_policy_sets_component_defaults() -> None:
    from redis_agent_core.cache import ExactCache
    from redis_agent_core.ratelimit import RateLimiter, RequestLimit

    limits = [RequestLimit.per_minute(5)]
    default = RedisAgentConfig(url="redis://127.0.0.1:1")
    assert ExactCache(default).faults.on_error == "degrade"
    assert RateLimiter(limits, config=default).on_unavailable == "fail_closed"
    strict = RedisAgentConfig(url="redis://127.0.0.1:1", on_error="raise")
    assert ExactCache(strict).faults.on_error == "raise"
    assert RateLimiter(limits, config=strict).on_unavailable == "fail_closed"
    lenient = RedisAgentConfig(url="redis://127.0.0.1:1", on_error="degrade")
    assert RateLimiter(limits, config=lenient).on_unavailable == "fail_open"
    # a component's own setting wins
    assert ExactCache(strict, on_error="degrade").faults.on_error == "degrade"
    with pytest.raises(ConfigError, match="on_error"):
        RedisAgentConfig(on_error="ignore")  # type: ignore[arg-type]


def test_strict_policy_makes_a_cache_raise_when_redis_is_down() -> None:
    from redis_agent_core.cache import ExactCache

    config = RedisAgentConfig(url="redis://127.0.0.1:1", on_error="raise", retries=0)
    with pytest.raises(RedisUnavailableError):
        ExactCache(config).lookup("prompt", "scope")
    assert ExactCache(config.with_options(on_error=None)).lookup("prompt", "scope") is None


@pytest.mark.parametrize(
    "build",
    [
        lambda: validate_namespace("rap\n"),
        lambda: RedisAgentConfig(namespace="rap\n"),
        lambda: validate_user("alice\n"),
        lambda: VectorIndex("docs\n", dims=4),
        lambda: MetadataField("genre\n", "tag"),
        lambda: RequestLimit(1, 1.0, name="rpm\n"),
        lambda: canonical_filters({"tenant\n": "a"}),
    ],
    ids=["namespace", "config", "user", "index", "field", "limit", "cache-filter"],
)
def test_a_name_with_a_final_newline_is_refused(build: Any) -> None:
    # Python's $ matches before a final newline: the name checks let 'name\n' through
    with pytest.raises(ConfigError, match="invalid"):
        build()
    assert ApiKeys._split("rak_" + "0" * 16 + "_" + "a" * 43 + "\n") is None
