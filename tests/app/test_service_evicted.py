"""The user's session listing lost to an evicting server (allkeys-* policies): listed
whole again, never silently short (it listed only the sessions written since)."""

from __future__ import annotations

import json

import httpx
from redis.asyncio import Redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.history import SessionStore
from redis_agent_service.app import AgentService

from .conftest import Users

Offline = tuple[httpx.AsyncClient, AgentService]


async def _seed(service: AgentService) -> None:
    # a first-turn answer is shared by every session: each turn below is a cache hit
    prompt, scope = service.cache_key("What is a hash?", (), user="u", session_id="s")
    usage = {"input_tokens": 25, "output_tokens": 5, "total_tokens": 30}
    await service.cache.aupdate(prompt, scope, json.dumps({"answer": "A map."}), usage=usage)


async def _turn(client: httpx.AsyncClient, users: Users, session: str) -> None:
    r = await client.post("/chat", **users.chat("u", session, "What is a hash?"))
    assert r.status_code == 200 and r.json()["cached"] is True, r.text


async def _listed(client: httpx.AsyncClient, users: Users) -> httpx.Response:
    return await client.get("/sessions", headers=users.headers("u"))


async def test_a_lost_listing_is_rebuilt_whole(
    offline_client: Offline, users: Users, config: RedisAgentConfig
) -> None:
    client, service = offline_client
    await _seed(service)
    for s in ("s1", "s2", "s3"):
        await _turn(client, users, s)
    assert (await _listed(client, users)).json()["sessions"] == ["s3", "s2", "s1"]
    r: Redis = config.get_async_client()
    listing = config.keys.owned_sessions("u")
    await r.delete(listing)  # what an evicting policy does
    # no turn since: it listed nothing
    assert (await _listed(client, users)).json()["sessions"] == ["s3", "s2", "s1"]
    await r.delete(listing)
    await _turn(client, users, "s4")  # a turn recreates the listing: it listed s4 alone
    assert (await _listed(client, users)).json()["sessions"] == ["s4", "s3", "s2", "s1"]
    # rebuilt once: the listing is whole again, with its TTL
    assert await r.zscore(listing, "") is not None
    assert 0 < await r.ttl(listing) <= service.settings.history_ttl
    # another user's listing is untouched
    assert await r.exists(config.keys.owned_sessions("v")) == 0


async def test_listing_and_history_index_both_lost(
    offline_client: Offline, users: Users, config: RedisAgentConfig
) -> None:
    client, service = offline_client
    await _seed(service)
    for s in ("s1", "s2"):
        await _turn(client, users, s)
    r: Redis = config.get_async_client()
    await r.delete(config.keys.owned_sessions("u"), config.keys.history_sessions())
    await _turn(client, users, "s3")
    # the history index holds s3 alone: told, not listed short
    lost = await _listed(client, users)
    assert lost.status_code == 503 and lost.json()["error"] == "sessions_lost", lost.text
    assert "rebuild_sessions()" in lost.json()["detail"]
    assert "u:" not in lost.json()["detail"]  # no key names
    ok = await client.get("/sessions/s1", headers=users.headers("u"))
    assert ok.status_code == 200  # the sessions themselves are readable
    # the operator's fix, then the listing is whole, without a restart
    assert await SessionStore(config).arebuild_sessions() >= 2
    assert (await _listed(client, users)).json()["sessions"] == ["s3", "s2", "s1"]


async def test_an_expired_listing_starts_over(
    offline_client: Offline, users: Users, config: RedisAgentConfig
) -> None:
    # every session expired with the listing and its marker: a new turn is a new listing
    client, service = offline_client
    await _seed(service)
    await _turn(client, users, "s1")
    r: Redis = config.get_async_client()
    owned = [config.keys.owned_sessions("u"), config.keys.owned_sessions_marker("u")]
    assert await r.ttl(owned[0]) == await r.ttl(owned[1]) > 0
    history = service.history("u", "s1")
    await history.aclear()
    await r.delete(*owned)  # expired together (one script set both TTLs)
    await _turn(client, users, "s2")
    assert (await _listed(client, users)).json()["sessions"] == ["s2"]


async def test_a_listing_of_an_earlier_version_is_adopted(
    offline_client: Offline, users: Users, config: RedisAgentConfig
) -> None:
    # written before the marker existed (no '', no marker): taken as whole, not rebuilt
    client, service = offline_client
    await _seed(service)
    await _turn(client, users, "s1")
    r: Redis = config.get_async_client()
    listing, marker = config.keys.owned_sessions("u"), config.keys.owned_sessions_marker("u")
    await r.zrem(listing, "")
    await r.delete(marker)
    assert (await _listed(client, users)).json()["sessions"] == ["s1"]
    assert await r.zscore(listing, "") is not None
    assert 0 < await r.ttl(marker) <= service.settings.history_ttl


async def test_a_listing_lost_with_its_marker_is_told_by_an_old_session(
    offline_client: Offline, users: Users, config: RedisAgentConfig
) -> None:
    # the listing and its marker evicted together: the user looks new. The next turn on a
    # session that held messages finds it missing from the listing: lost, then rebuilt
    client, service = offline_client
    r: Redis = config.get_async_client()
    keys = config.keys
    listing, marker = keys.owned_sessions("u"), keys.owned_sessions_marker("u")
    await _seed(service)
    for n in range(1, 4):
        await _turn(client, users, f"s{n}")
    await r.delete(listing, marker)  # what an evicting policy may do to both
    await _turn(client, users, "s4")  # a new session: not told (the documented limit)
    assert (await _listed(client, users)).json()["sessions"] == ["s4"]
    # the follow-up's answer, cached under its scope (the session's window)
    window = service.window(await service.history("u", "s1").alast(6))
    prompt, scope = service.cache_key("What is a hash?", window, user="u", session_id="s1")
    await service.cache.aupdate(prompt, scope, json.dumps({"answer": "A map."}))
    await _turn(client, users, "s1")  # an old one: the listing lacked it
    assert (await _listed(client, users)).json()["sessions"] == ["s1", "s4", "s3", "s2"]
    assert await r.zscore(listing, "") is not None  # whole again, with its TTL
    assert 0 < await r.ttl(marker) <= service.settings.history_ttl
