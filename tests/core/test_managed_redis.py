"""Managed Redis: capability detection where MODULE is refused, and Sentinel URLs
with a real failover (master + replica + sentinel from the embedded wheels)."""

from __future__ import annotations

import asyncio

import pytest
import redis

from redis_agent_core import RedisAgentConfig
from redis_agent_core.capabilities import module_versions, probe
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.kvstore import KVStore
from redis_agent_core.search.capabilities import modules_flow
from redis_agent_core.search.executor import run
from redis_agent_core.sentinel import parse_sentinel_url

from .topology import SERVICE, master_port, topology, wait_failover, wait_replicated

# -- capability detection without MODULE LIST --


def _probe_port(port: int, **kwargs: object) -> object:
    client = redis.Redis(port=port, **kwargs)  # type: ignore[arg-type]
    try:
        return probe(client)
    finally:
        client.close()


def test_renamed_module_command_still_finds_search_and_json_with_versions() -> None:
    with topology() as topo:
        normal = topo.server(modules=True)
        renamed = topo.server("--rename-command", "MODULE", "", modules=True)
        with pytest.raises(redis.ResponseError, match="unknown command"):
            redis.Redis(port=renamed).execute_command("MODULE LIST")
        assert _probe_port(renamed) == _probe_port(normal)
        caps = _probe_port(renamed)
        assert caps.search and caps.json and caps.search_version and caps.json_version  # type: ignore[attr-defined]


def test_a_user_denied_module_and_info_still_detects_search() -> None:
    with topology() as topo:
        port = topo.server(modules=True)
        admin = redis.Redis(port=port)
        expected = module_versions(admin)
        admin.acl_setuser(
            "app",
            enabled=True,
            passwords=["+pw"],
            keys=["*"],
            commands=["+@all", "-module", "-info"],
        )
        client = redis.Redis(port=port, username="app", password="pw")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.execute_command("MODULE LIST")
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.info("server")
        # HELLO (which no ACL can deny: clients need it to connect) names them
        assert module_versions(client) == expected
        assert probe(client) == probe(admin)


def test_modules_found_by_their_commands_when_nothing_lists_them() -> None:
    """The last resort (e.g. search built into the server, listed nowhere): a keyless
    command of each module. The flow's decisions, driven by scripted replies."""

    def execute(*command: str) -> object:
        name = " ".join(command)
        if name in ("MODULE LIST", "JSON.DEBUG HELP"):
            raise redis.ResponseError(f"unknown command '{command[0]}'")
        if name == "HELLO":
            return {b"server": b"redis", b"version": b"8.2.1", b"modules": []}
        if name == "INFO search":
            return {"search_version": "8.2.1"}
        if name == "INFO modules":
            return {}
        if name == "FT._LIST":
            return []
        raise AssertionError(f"unexpected command {command}")

    assert run(execute, modules_flow()) == {"search": 80201}


def test_a_server_without_modules_and_without_module_command_has_no_search() -> None:
    with topology() as topo:
        port = topo.server("--rename-command", "MODULE", "")
        caps = _probe_port(port)
        assert not caps.search and not caps.json  # type: ignore[attr-defined]


# -- Sentinel URLs --


def test_sentinel_url_parsing_and_errors() -> None:
    url = parse_sentinel_url(
        "rediss+sentinel://u:p%40ss@s1:26380,[::1],s3/mymaster/2?sentinel_password=sp"
    )
    assert url.sentinels == (("s1", 26380), ("::1", 26379), ("s3", 26379))
    assert (url.service, url.db, url.username, url.password) == ("mymaster", 2, "u", "p@ss")
    assert url.ssl and url.sentinel_password == "sp"
    for bad, problem in [
        ("redis+sentinel://s1:26379", "service name"),
        ("redis+sentinel://s1:26379/m/x", "must be a number"),
        ("redis+sentinel://s1:99999/m", "bad port"),
        ("redis+sentinel:///m", "at least one sentinel"),
        ("redis+sentinel://s1/m?sentinel_pasword=x", "unknown Sentinel URL option"),
    ]:
        with pytest.raises(ConfigError, match=problem):
            RedisAgentConfig(url=bad)
    with pytest.raises(ConfigError, match="exclude each other"):
        RedisAgentConfig(url="redis+sentinel://s1/m", cluster=True).get_client()


def test_sentinel_url_follows_a_failover_without_restart() -> None:
    with topology() as topo:
        master = topo.server()
        replica = topo.server("--replicaof", "127.0.0.1", str(master))
        sentinel = topo.sentinel(master)
        wait_replicated(sentinel, replica)
        config = RedisAgentConfig(
            url=f"redis+sentinel://127.0.0.1:{sentinel}/{SERVICE}",
            namespace="sentinel",
            socket_timeout=1.0,
            socket_connect_timeout=0.5,
        )
        store = KVStore(config=config)
        store.mset([("before", b"1")])
        client = config.get_client()
        client.wait(1, 2000)  # the replica has the write before the master dies
        topo.kill(master)
        new_master = wait_failover(sentinel, master)
        assert new_master == replica == master_port(sentinel)
        # the same objects, no restart: the next calls reach the promoted replica
        assert store.mget(["before"]) == [b"1"]
        store.mset([("after", b"2")])
        assert redis.Redis(port=replica).get(store.key("after", "data")) == b"2"

        async def from_async() -> list[bytes | None]:
            return await store.amget(["before", "after"])

        assert asyncio.run(from_async()) == [b"1", b"2"]


async def test_a_sentinel_refusing_the_credentials_says_so_and_how_to_give_them() -> None:
    """review28: a wrong or missing Sentinel password read as "could not connect ...
    check that the server is running" (redis-py keeps each sentinel's error only as the
    text of its MasterNotFoundError). Now the sentinels' refusal and the URL option."""
    with topology() as topo:
        sentinel = topo.sentinel(topo.server(), requirepass="right")
        base = f"redis+sentinel://127.0.0.1:{sentinel}/{SERVICE}"
        for query, said in [
            ("?sentinel_password=wrong", "refused this client's credentials"),
            ("", "requires a password and none was given"),
        ]:
            config = RedisAgentConfig(
                url=base + query, namespace="sentinel", retries=0, socket_connect_timeout=0.5
            )
            store = KVStore(config=config)
            with pytest.raises(RedisUnavailableError) as sync_error:
                store.mset([("k", b"1")])
            with pytest.raises(RedisUnavailableError) as async_error:
                await store.amset([("k", b"1")])
            for error in (sync_error, async_error):
                text = str(error.value)
                assert f"the sentinels of Redis at {base}" in text and said in text, text
                assert "sentinel_password=..." in text and "wrong" not in text
                assert "could not connect" not in text
            await config.aclose()
        right = RedisAgentConfig(url=base + "?sentinel_password=right", namespace="sentinel")
        store = KVStore(config=right)
        store.mset([("k", b"1")])
        assert store.mget(["k"]) == [b"1"]
