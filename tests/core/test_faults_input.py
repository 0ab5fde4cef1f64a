"""Text that is not valid Unicode (a lone surrogate, e.g. from a ``surrogateescape``
decode) is refused with a ConfigError naming where it is, before anything is written,
instead of a raw UnicodeEncodeError from deep inside redis-py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from redis_agent_core.bus import AgentBus
from redis_agent_core.cache import ExactCache, make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.history import SessionStore
from redis_agent_core.keys import check_text
from redis_agent_core.ratelimit import RateLimiter, RequestLimit

BAD = "caf\udce9"  # b"caf\xe9".decode("utf-8", "surrogateescape")
SCOPE = make_scope({"model": "m"})

CALLS: dict[str, tuple[str, Callable[[RedisAgentConfig], Any]]] = {
    "cache prompt": ("the prompt", lambda c: ExactCache(c).update(BAD, SCOPE, "{}")),
    "cache lookup": ("the prompt", lambda c: ExactCache(c).lookup(BAD, SCOPE)),
    "cache payload": ("the payload", lambda c: ExactCache(c).update("q", SCOPE, BAD)),
    "cache filter": (
        "filter 'tenant'",
        lambda c: ExactCache(c).update("q", SCOPE, "{}", filters={"tenant": BAD}),
    ),
    "session id": ("the session id", lambda c: SessionStore(c).append(BAD, [b"{}"])),
    "history message": ("a message", lambda c: SessionStore(c).append("s", [BAD])),
    "limiter user": (
        "id or name",
        lambda c: RateLimiter([RequestLimit(5)], config=c).acquire(user=BAD),
    ),
    "bus payload": ("not JSON-serialisable", lambda c: AgentBus(c).publish("t", {"a": BAD})),
}


@pytest.mark.parametrize("case", list(CALLS))
def test_lone_surrogates_are_config_errors_and_nothing_is_written(
    case: str, config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    where, call = CALLS[case]
    with pytest.raises(ConfigError, match=where):
        call(config)
    assert list(redis_client.scan_iter(match=f"{config.namespace}:*")) == []


def test_check_text_names_the_position() -> None:
    assert check_text("café", "x") == "café"
    with pytest.raises(ConfigError, match=r"position 3.*errors='replace'"):
        check_text(BAD, "the prompt")
