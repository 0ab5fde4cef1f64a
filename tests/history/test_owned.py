"""Per-owner session lists (OwnedSessions): the reference service's listing, in the core.
A list lost to eviction is told and rebuilt from the history's session index, also when
its marker went with it (a session that held messages turns up missing)."""

from __future__ import annotations

import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError
from redis_agent_core.history import OwnedSessions, SessionStore


def _turn(store: SessionStore, owned: OwnedSessions, owner: str, session: str) -> None:
    """What a service turn does: the history append, then the list (had it messages?)."""
    stored = owned.stored_id(owner, session)
    had = store.count(stored) > 0
    store.append(stored, [b"q", b"a"])
    owned.add(owner, session, had_messages=had)


def test_bad_input_is_refused_before_anything_is_written(config: RedisAgentConfig) -> None:
    owned = OwnedSessions(config, ttl=60)
    with pytest.raises(ConfigError, match="owner must be a non-empty str without '/'"):
        owned.add("a/b", "s")
    with pytest.raises(ConfigError, match="owner must be"):
        owned.sessions("")
    with pytest.raises(ConfigError, match="session_id must be a non-empty str"):
        owned.add("u", "")
    with pytest.raises(ConfigError, match="limit must be an int >= 0"):
        owned.sessions("u", -1)
    with pytest.raises(ConfigError, match="ttl must be an int of seconds"):
        OwnedSessions(config, ttl=-5)
    assert config.get_client().keys(config.keys.owned_sessions("*")[:-1] + "*") == []


def test_a_list_lost_with_its_marker_is_told_by_an_old_session(config: RedisAgentConfig) -> None:
    store, owned = SessionStore(config, ttl=60), OwnedSessions(config, ttl=60)
    for s in ("s1", "s2", "s3"):
        _turn(store, owned, "u", s)
    _turn(store, owned, "v", "s1")  # another owner's
    assert owned.sessions("u") == ["s3", "s2", "s1"]
    client = config.get_client()
    client.delete(config.keys.owned_sessions("u"), config.keys.owned_sessions_marker("u"))
    _turn(store, owned, "u", "s4")  # a new session: the owner looks new (not told)
    assert owned.sessions("u") == ["s4"]
    _turn(store, owned, "u", "s2")  # a session with messages missing: the list was lost
    assert owned.sessions("u") == ["s2", "s4", "s3", "s1"]
    assert owned.sessions("u", 2) == ["s2", "s4"]
    assert owned.sessions("v") == ["s1"]
    assert 0 < client.ttl(config.keys.owned_sessions_marker("u")) <= 60


async def test_rebuild_reads_only_the_owners_sessions(aconfig: RedisAgentConfig) -> None:
    # owners' names holding glob characters match only themselves in the index's ZSCAN
    store, owned = SessionStore(aconfig, ttl=None), OwnedSessions(aconfig)
    for owner in ("a*", "ab", "a[b]"):
        await store.aappend(owned.stored_id(owner, "s"), [b"x"])
        await owned.aadd(owner, "s")
    client = aconfig.get_async_client()
    await client.delete(*(aconfig.keys.owned_sessions(o) for o in ("a*", "ab", "a[b]")))
    assert await owned.arebuild("a*") == 1
    assert await owned.asessions("a[b]") == ["s"]  # rebuilt on read
    assert await client.ttl(aconfig.keys.owned_sessions("a*")) == -1  # ttl None: none


async def test_a_lost_list_and_a_lost_history_index_are_told(aconfig: RedisAgentConfig) -> None:
    store, owned = SessionStore(aconfig, ttl=60), OwnedSessions(aconfig, ttl=60)
    for s in ("s1", "s2"):
        await store.aappend(owned.stored_id("u", s), [b"x"])
        await owned.aadd("u", s)
    client = aconfig.get_async_client()
    await client.delete(aconfig.keys.owned_sessions("u"), aconfig.keys.history_sessions())
    await store.aappend(owned.stored_id("u", "s3"), [b"x"])
    await owned.aadd("u", "s3")
    with pytest.raises(DataCorruptionError, match=r"rebuild_sessions\(\) once"):
        await owned.asessions("u")
    assert await store.arebuild_sessions() == 2
    assert await owned.asessions("u") == ["s3", "s2", "s1"]


def test_expired_sessions_leave_the_list(config: RedisAgentConfig) -> None:
    store, owned = SessionStore(config, ttl=60), OwnedSessions(config, ttl=60)
    for s in ("s1", "s2"):
        _turn(store, owned, "u", s)
    store.clear(owned.stored_id("u", "s1"))  # as its expiry would
    assert owned.sessions("u") == ["s2"]
    assert config.get_client().zscore(config.keys.owned_sessions("u"), "s1") is None


@pytest.mark.cluster
async def test_a_lost_list_is_rebuilt_on_the_cluster(cluster_config: RedisAgentConfig) -> None:
    # the list and its marker share a slot (the marker's hash tag is the list's name);
    # the rebuild reads the history index, in another slot, with commands of its own
    store, owned = SessionStore(cluster_config, ttl=60), OwnedSessions(cluster_config, ttl=60)
    listing = cluster_config.keys.owned_sessions("u")
    marker = cluster_config.keys.owned_sessions_marker("u")
    assert redis.cluster.key_slot(listing.encode()) == redis.cluster.key_slot(marker.encode())
    for s in ("s1", "s2"):
        await store.aappend(owned.stored_id("u", s), [b"x"])
        await owned.aadd("u", s)
    cluster_config.get_client().delete(listing, marker)  # both, as eviction may
    await store.aappend(owned.stored_id("u", "s1"), [b"y"])
    await owned.aadd("u", "s1", had_messages=True)
    assert await owned.asessions("u") == ["s1", "s2"]
    assert owned.sessions("u") == ["s1", "s2"]
