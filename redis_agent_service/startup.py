"""Starting the service against a Redis that may be down or unusable.

``serve`` refuses a Redis that answers without the Query Engine (a setting to fix:
one line, exit 2), but starts when Redis is down: every request answers 503 until it
is back, and the queue's in-process worker starts as soon as the broker answers
(instead of the whole service dying on kombu's ``OperationalError``).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

import redis

from redis_agent_core.capabilities import require_search
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisAgentError, RedisUnavailableError

if TYPE_CHECKING:
    from .app import AgentService

__all__ = ["LateWorker", "redis_ready"]

log = logging.getLogger("redis_agent_service")


def redis_ready(config: RedisAgentConfig, what: str) -> bool:
    """True when Redis answers and has search; False when it cannot be reached.

    Raises :class:`CapabilityError` when it answers without the Query Engine.
    """
    try:
        require_search(config, what)
    except RedisUnavailableError:
        return False
    return True


class LateWorker:
    """The queue's in-process worker, started in the background as soon as the broker
    answers (retrying with a growing pause, at most 10 s); :meth:`stop` stops it."""

    def __init__(self, service: AgentService) -> None:
        self._service = service
        self._stopping = threading.Event()
        self._worker: Any = None
        self._thread = threading.Thread(target=self._start, name="queue-worker-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        from kombu.exceptions import OperationalError

        pause, warned = 0.5, False
        while not self._stopping.is_set():
            try:
                self._worker = self._service.start_worker()
                if warned:
                    log.warning("the broker is back: the queue worker started")
                return
            except (OperationalError, redis.exceptions.RedisError, RedisAgentError, OSError) as exc:
                if not warned:
                    warned = True
                    log.warning("queue worker waits for the broker (%s); retrying", exc)
            self._stopping.wait(pause)
            pause = min(pause * 2, 10.0)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(60)
        if self._worker is not None:
            self._worker.stop()
