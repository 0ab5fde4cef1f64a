"""Helpers shared by the task modules (kept apart from ``app`` to avoid import cycles)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

from ..config import RedisAgentConfig, get_default_config
from ..errors import RedisUnavailableError
from ..redis_errors import UNAVAILABLE

if TYPE_CHECKING:
    from celery import Celery, Task
    from celery.exceptions import Retry

# Faults worth retrying: the server or network, not the data.
RETRYABLE: tuple[type[BaseException], ...] = (
    RedisUnavailableError,
    *UNAVAILABLE,
    ConnectionError,
    TimeoutError,
)


def retry_later(task: Task, **options: Any) -> Retry:
    """``task.retry(**options)`` (sends the retry), returned to be raised. Celery's
    ``retry(max_retries=n)`` keeps ``n`` on the task object, shared by every later task
    of the worker, where its autoretry (of a Redis fault) reads it: meant for one
    message, it is removed here."""
    try:
        return task.retry(throw=False, **options)
    finally:
        vars(task).pop("override_max_retries", None)


def agent_config(app: Celery) -> RedisAgentConfig:
    """The pack config an app was built from (the process default for the module app)."""
    cfg = getattr(app, "agent_config", None)
    return cfg if cfg is not None else get_default_config()


#: The most of an error a failure record keeps: a model's or an index's exception may
#: quote a whole answer or document, and a record over the server's limit for one value
#: (max_value_bytes) dropped the connection, read as Redis down and retried for good.
MAX_ERROR_CHARS = 8192


def clip_error(error: str | bytes) -> str | bytes:
    """``error`` cut to :data:`MAX_ERROR_CHARS` characters, saying so."""
    if len(error) <= MAX_ERROR_CHARS:
        return error
    if isinstance(error, bytes):
        error = error.decode("utf-8", "replace")
    return f"{error[:MAX_ERROR_CHARS]}... ({len(error):,} characters, cut)"


class WorkerCache:
    """What a worker process builds for its jobs (models, indexes, limiters), the least
    recently used dropped past ``size``: kept for ever, a key that varies per job (a
    temperature, an end-user id) left the worker one object (with its connections) per
    value. Thread-safe; ``build`` runs outside the lock, and of two built at once for one
    key the first stored is kept."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The object cached under ``key``, else ``build()``'s, cached."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        obj = build()
        with self._lock:
            obj = self._items.setdefault(key, obj)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return obj
