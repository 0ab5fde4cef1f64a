"""A malformed Redis URL is a ConfigError naming where it came from and showing a
valid URL, never redis-py's raw ValueError (not even through a degrading cache)."""

from __future__ import annotations

import pytest

from redis_agent_core.cache import ExactCache, make_scope
from redis_agent_core.config import RedisAgentConfig, check_url
from redis_agent_core.errors import ConfigError

BAD = ["localhost:6379", "redis://host:63x", "redis://host:99999", "redis://host/abc", "unix://"]


@pytest.mark.parametrize("url", BAD)
def test_bad_url_argument_is_refused_when_the_config_is_built(url: str) -> None:
    with pytest.raises(ConfigError, match=r"url= is not a usable Redis URL.*redis://localhost"):
        RedisAgentConfig(url=url)


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


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://:pw@h:6380",
        "unix:///tmp/r.sock",
        "redis://h?cluster=true",
    ],
)
def test_good_urls_pass(url: str) -> None:
    assert check_url(url) == url
