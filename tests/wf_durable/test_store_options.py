"""RedisWorkflowStore's poll_interval: 0, a negative or a NaN one was taken, and a client
following a run's events read Redis in a busy loop. Refused with ConfigError naming the
accepted values; construction does no I/O either way."""

from __future__ import annotations

import pytest

from llamaindex_redis_agent.workflows import RedisWorkflowStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError


@pytest.mark.parametrize("value", [0, -1, 0.0001, float("nan"), float("inf"), True, "0.1", None])
def test_a_poll_interval_that_would_spin_is_refused(
    config: RedisAgentConfig, value: object
) -> None:
    with pytest.raises(
        ConfigError, match=r"poll_interval must be a finite number of seconds >= 0\.001"
    ):
        RedisWorkflowStore(config, poll_interval=value)  # type: ignore[arg-type]


def test_a_sound_poll_interval_is_kept(config: RedisAgentConfig) -> None:
    assert RedisWorkflowStore(config, poll_interval=2).poll_interval == 2.0
    assert RedisWorkflowStore(config).poll_interval == 0.1
