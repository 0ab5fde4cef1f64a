"""Helpers shared by the task modules (kept apart from ``app`` to avoid import cycles)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import RedisAgentConfig, get_default_config
from ..errors import RedisUnavailableError
from ..redis_errors import UNAVAILABLE

if TYPE_CHECKING:
    from celery import Celery

# Faults worth retrying: the server or network, not the data.
RETRYABLE: tuple[type[BaseException], ...] = (
    RedisUnavailableError,
    *UNAVAILABLE,
    ConnectionError,
    TimeoutError,
)


def agent_config(app: Celery) -> RedisAgentConfig:
    """The pack config an app was built from (the process default for the module app)."""
    cfg = getattr(app, "agent_config", None)
    return cfg if cfg is not None else get_default_config()
