"""API keys: stored hashed, verified, listed and revoked; `redis-agent keys`."""

from __future__ import annotations

import pytest
import redis

from redis_agent_core.apikeys import ApiKeys
from redis_agent_core.cli import main
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError


def test_a_key_verifies_as_its_user_and_only_its_digest_is_stored(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    keys = ApiKeys(config)
    key = keys.create("alice")
    assert keys.verify(key) == "alice"
    # the whole secret: it may hold "_" (urlsafe base64), so not the text after the last
    # one (a short tail of it was found in the stored digest in 0.5% of the runs)
    prefix, key_id, secret = key.split("_", 2)
    assert (prefix, len(key_id), len(secret)) == ("rak", 16, 43)
    stored = b"".join(k + v for k, v in redis_client.hgetall(config.keys.api_keys()).items())
    assert secret.encode() not in stored  # reading Redis does not give a usable key
    # a wrong secret for a real key id, a malformed key, an unknown id: no user
    assert keys.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert keys.verify("not-a-key") is None
    assert keys.verify("rak_" + "0" * 16 + "_" + "A" * 43) is None


def test_list_and_revoke(config: RedisAgentConfig) -> None:
    keys = ApiKeys(config)
    a1, a2, b = keys.create("alice"), keys.create("alice"), keys.create("bob")
    assert [i.user for i in keys.list()] == ["alice", "alice", "bob"]
    assert keys.revoke("alice") == 2
    assert keys.verify(a1) is None and keys.verify(a2) is None
    assert keys.verify(b) == "bob"
    assert keys.revoke("alice") == 0


def test_one_key_is_revoked_alone(config: RedisAgentConfig) -> None:
    # rotating a key (or revoking a leaked one): on main revoke(user) was the only way,
    # and it took the replacement with it (the user was cut off until a third key)
    keys = ApiKeys(config)
    leaked, replacement, other = keys.create("alice"), keys.create("alice"), keys.create("bob")
    leaked_id = leaked.split("_")[1]
    assert keys.revoke("bob", leaked_id) == 0  # another user's key id: nothing revoked
    assert keys.verify(leaked) == "alice"
    assert keys.revoke("alice", leaked_id) == 1
    assert keys.verify(leaked) is None
    assert keys.verify(replacement) == "alice" and keys.verify(other) == "bob"
    assert keys.revoke("alice", leaked_id) == 0
    for bad in ("", "rak_" + leaked_id, leaked, "A" * 16, "0" * 15, "g" * 16, "*"):
        with pytest.raises(ConfigError, match="invalid key id"):
            keys.revoke("alice", bad)
    assert keys.verify(replacement) == "alice"


async def test_async_forms(aconfig: RedisAgentConfig) -> None:
    keys = ApiKeys(aconfig)
    key = await keys.acreate("carol")
    assert await keys.averify(key) == "carol"
    assert [i.user for i in await keys.alist()] == ["carol"]
    assert await keys.arevoke("carol") == 1
    assert await keys.averify(key) is None
    kept, dropped = await keys.acreate("carol"), await keys.acreate("carol")
    assert await keys.arevoke("carol", dropped.split("_")[1]) == 1
    assert await keys.averify(dropped) is None and await keys.averify(kept) == "carol"


@pytest.mark.parametrize("user", ["", "a/b", "a b", "x" * 65, "a:b"])
def test_user_names_are_checked_before_anything_is_written(
    config: RedisAgentConfig, redis_client: redis.Redis, user: str
) -> None:
    with pytest.raises(ConfigError, match="invalid user name"):
        ApiKeys(config).create(user)
    assert not redis_client.exists(config.keys.api_keys())


def test_redis_down_is_a_typed_error() -> None:
    config = RedisAgentConfig(url="unix:///nonexistent/r.sock", retries=0)
    with pytest.raises(RedisUnavailableError):
        ApiKeys(config).verify("rak_" + "0" * 16 + "_" + "A" * 43)


def test_cli_prints_the_new_key_last(
    config: RedisAgentConfig,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_AGENT_NAMESPACE", config.namespace)
    assert main(["keys", "create", "dave", "--url", redis_url]) == 0
    key = capsys.readouterr().out.splitlines()[-1]
    assert ApiKeys(config).verify(key) == "dave"
    assert main(["keys", "list", "--url", redis_url]) == 0
    listed = capsys.readouterr().out
    assert "dave" in listed and key not in listed
    second = ApiKeys(config).create("dave")
    key_id = key.split("_")[1]
    assert main(["keys", "revoke", "dave", "--key-id", key_id, "--url", redis_url]) == 0
    assert ApiKeys(config).verify(key) is None and ApiKeys(config).verify(second) == "dave"
    # an id that names no key of the user: a failure, not "revoked 0" with exit 0
    assert main(["keys", "revoke", "dave", "--key-id", key_id, "--url", redis_url]) == 1
    assert "no key" in capsys.readouterr().err
    assert main(["keys", "revoke", "dave", "--url", redis_url]) == 0
    assert ApiKeys(config).verify(second) is None


def test_cli_revoking_no_key_fails_naming_user_and_namespace(
    config: RedisAgentConfig,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `keys revoke davd` (a typo), or `keys revoke dave` without the service's
    # REDIS_AGENT_NAMESPACE, printed "revoked 0 key(s)" and exited 0: the leaked key
    # stayed valid while the command read as done
    key = ApiKeys(config).create("dave")
    monkeypatch.setenv("REDIS_AGENT_NAMESPACE", config.namespace)
    assert main(["keys", "revoke", "davd", "--url", redis_url]) == 1
    assert f"no key of davd in namespace {config.namespace!r}" in capsys.readouterr().err
    monkeypatch.setenv("REDIS_AGENT_NAMESPACE", config.namespace + "x")
    assert main(["keys", "revoke", "dave", "--url", redis_url]) == 1
    assert "REDIS_AGENT_NAMESPACE" in capsys.readouterr().err
    assert ApiKeys(config).verify(key) == "dave"


def test_cli_refuses_an_embedded_server(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a key created in this process's own server would vanish with it
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("REDIS_AGENT_EMBEDDED", "private")
    assert main(["keys", "create", "erin"]) == 2
    assert "REDIS_URL" in capsys.readouterr().err
