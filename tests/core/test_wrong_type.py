"""A key of the pack's namespace holding another type of value (another application
writing under the same namespace, a key set by hand): every role raises
SchemaMismatchError naming the fix (it was redis-py's bare ResponseError "WRONGTYPE
Operation against a key holding the wrong kind of value", naming neither), degrading
roles included (it is a deployment mistake, not an outage), and works again once the
key is gone, without a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from langchain_redis_agent.checkpoint import RedisSaver
from redis_agent_core import AgentBus, ExactCache, RateLimiter, RequestLimit, SessionStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import SchemaMismatchError

MESSAGE = [b'{"type":"human","data":{"content":"hi"}}']
FIX = "namespace of its own"


def _spoil(client: redis.Redis, config: RedisAgentConfig) -> list[bytes]:
    """Every key of the namespace replaced by a value of another type."""
    keys = list(client.scan_iter(f"{config.namespace}:*"))
    for key in keys:
        kind = client.type(key)
        client.delete(key)
        if kind in (b"string", "string"):
            client.hset(key, "x", "1")
        else:
            client.set(key, "x")
    return keys


def _raises_typed(call: Callable[[], Any]) -> None:
    with pytest.raises(SchemaMismatchError, match=FIX) as info:
        call()
    assert "WRONGTYPE" in str(info.value)
    assert isinstance(info.value, redis.exceptions.ResponseError)  # what redis-py code catches


async def test_every_role_names_a_key_of_another_type(config: RedisAgentConfig) -> None:
    client = config.get_client()
    limiter = RateLimiter([RequestLimit(5, 60)], config=config, on_unavailable="fail_open")
    cache = ExactCache(config)  # on_error="degrade": still raises
    history = SessionStore(config)
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "g", claim_idle=None)
    saver = RedisSaver(config)
    thread: Any = {"configurable": {"thread_id": "t"}}
    assert limiter.try_acquire(user="u").allowed
    cache.update("p", "s", "stored")
    history.append("sess", MESSAGE)
    bus.publish("jobs", {"n": 0}, durable=True)
    assert len(consumer.read()) == 1
    assert saver.get_tuple(thread) is None
    client.set(config.keys.checkpoint_index("t"), "x")
    keys = _spoil(client, config)

    _raises_typed(lambda: limiter.try_acquire(user="u"))
    _raises_typed(lambda: cache.lookup("p", "s"))
    _raises_typed(lambda: history.append("sess", MESSAGE))
    _raises_typed(lambda: history.read("sess"))
    _raises_typed(lambda: bus.publish("jobs", {"n": 1}, durable=True))
    _raises_typed(lambda: saver.get_tuple(thread))
    with pytest.raises(SchemaMismatchError, match=FIX):
        await limiter.atry_acquire(user="u")
    with pytest.raises(SchemaMismatchError, match=FIX):
        await history.aappend("sess", MESSAGE)
    with pytest.raises(SchemaMismatchError, match=FIX):
        await saver.aget_tuple(thread)

    client.delete(*keys)  # the same objects work again
    assert limiter.try_acquire(user="u").allowed
    assert cache.lookup("p", "s") is None
    history.append("sess", MESSAGE)
    bus.publish("jobs", {"n": 2}, durable=True)
    assert saver.get_tuple(thread) is None
    await config.aclose()
