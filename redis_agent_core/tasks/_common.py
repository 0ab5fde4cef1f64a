"""Helpers shared by the task modules (kept apart from ``app`` to avoid import cycles)."""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import RedisAgentConfig, get_default_config
from ..errors import ConfigError, RedisUnavailableError
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


def default_app() -> Celery:
    """The module-level app that ``celery -A redis_agent_core.tasks.app worker`` runs."""
    from .app import app

    return app


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: ~base * 2**attempt, within [half, full], capped."""
    delay = min(cap, base * (2**attempt))
    return delay * (0.5 + random.random() / 2)


def load_object(ref: str, what: str) -> Any:
    """Import ``"package.module:attribute"`` (dots allowed in the attribute)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{what} must be an import path like 'package.module:name', got {ref!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{what} {ref!r}: cannot import {module_name!r} ({exc}); the worker must be "
            "able to import it (install the package or set PYTHONPATH)"
        ) from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ConfigError(f"{what} {ref!r}: {module_name} has no {attr!r}") from exc
    return obj


def import_path(obj: Callable[..., Any] | type) -> str:
    """The ``module:qualname`` path of a class or function."""
    return f"{obj.__module__}:{obj.__qualname__}"
