"""The short append script has the same effects as the general write script."""

from __future__ import annotations

import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.fastpath import MAX_LEASED
from redis_agent_core.history import SessionStore
from redis_agent_core.server import EmbeddedRedis


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
