"""A negative (or bool, or non-int) count given to a history or checkpoint read raises
:class:`ConfigError` naming the argument and the fix, sync and async, before any I/O
(the config below points at a port where nothing listens: a call that reached Redis
would raise ``RedisUnavailableError``). A negative count used to read as "none" and
return nothing, silently: ``last(-1) == []``, ``RedisSaver.list(limit=-1)`` empty, and
a checkpoint ``page=-1`` or a session ``limit=True`` were taken as 1."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from langchain_redis_agent import RedisChatMessageHistory
from langchain_redis_agent.checkpoint import RedisSaver
from llamaindex_redis_agent import RedisChatStore
from redis_agent_core.checkpoints import CheckpointStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.history import SessionStore

NOWHERE = RedisAgentConfig(url="redis://127.0.0.1:1")
THREAD = {"configurable": {"thread_id": "t"}}


async def _drain(items: Any) -> list[Any]:
    return [item async for item in items]


SYNC: dict[str, Callable[[], Any]] = {
    "SessionStore.last": lambda: SessionStore(NOWHERE).last("s", -1),
    "SessionStore.sessions": lambda: SessionStore(NOWHERE).sessions(limit=True),
    "RedisChatMessageHistory.last": lambda: RedisChatMessageHistory("s", config=NOWHERE).last(-1),
    "RedisChatStore.get_last_messages": lambda: RedisChatStore(NOWHERE).get_last_messages("k", -2),
    "CheckpointStore.list": lambda: list(CheckpointStore(NOWHERE).list("t", page=-1)),
    "RedisSaver.list": lambda: list(RedisSaver(NOWHERE).list(THREAD, limit=-1)),
    "RedisSaver.list (str)": lambda: list(RedisSaver(NOWHERE).list(THREAD, limit="5")),  # type: ignore[arg-type]
}
ASYNC: dict[str, Callable[[], Awaitable[Any]]] = {
    "SessionStore.alast": lambda: SessionStore(NOWHERE).alast("s", -1),
    "SessionStore.asessions": lambda: SessionStore(NOWHERE).asessions(limit=True),
    "RedisChatMessageHistory.alast": lambda: RedisChatMessageHistory("s", config=NOWHERE).alast(-1),
    "RedisChatStore.aget_last_messages": lambda: RedisChatStore(NOWHERE).aget_last_messages(
        "k", -2
    ),
    "CheckpointStore.alist": lambda: _drain(CheckpointStore(NOWHERE).alist("t", page=-1)),
    "RedisSaver.alist": lambda: _drain(RedisSaver(NOWHERE).alist(THREAD, limit=-1)),
}


@pytest.mark.parametrize("call", SYNC.values(), ids=SYNC.keys())
def test_a_bad_count_raises_naming_it_before_any_io(call: Callable[[], Any]) -> None:
    with pytest.raises(ConfigError, match=r"(n|limit|page)\b.* must be an int >= [01]"):
        call()


@pytest.mark.parametrize("call", ASYNC.values(), ids=ASYNC.keys())
async def test_a_bad_count_raises_naming_it_before_any_io_async(
    call: Callable[[], Awaitable[Any]],
) -> None:
    with pytest.raises(ConfigError, match=r"(n|limit|page)\b.* must be an int >= [01]"):
        await call()


async def test_a_zero_count_still_reads_nothing(config: RedisAgentConfig) -> None:
    """0 is a count (none), not an error: ``last(0)`` is ``[]`` as before."""
    store = SessionStore(config)
    store.append("s", [b'{"type":"human","data":{"content":"x"}}'])
    assert store.last("s", 0) == [] and await store.alast("s", 0) == []
    assert list(RedisSaver(config).list(THREAD, limit=0)) == []
