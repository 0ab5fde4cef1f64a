"""Task fixtures: one app and in-process Celery worker per test module, on a private
namespace of the session's Redis; a loopback HTTP server for webhooks."""

from __future__ import annotations

import contextlib
import http.server
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from celery import Celery
from celery.contrib.testing.worker import start_worker

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks.app import create_app

from .support import register_all

SECRET = "test-secret"
register_all()  # the in-process workers run in this process: they see these names


def _cleanup(url: str, namespace: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


@pytest.fixture(scope="module")
def task_config(redis_url: str) -> Iterator[RedisAgentConfig]:
    namespace = "tq" + uuid.uuid4().hex[:10]
    cfg = RedisAgentConfig(url=redis_url, namespace=namespace)
    yield cfg
    cfg.close()
    _cleanup(redis_url, namespace)


@pytest.fixture(scope="module")
def task_app(task_config: RedisAgentConfig) -> Celery:
    # the test receivers listen on loopback, which webhooks may reach only when allowed
    return create_app(task_config, webhook_secret=SECRET, webhook_allow="127.0.0.1")


@contextlib.contextmanager
def running_worker(app: Celery) -> Iterator[Any]:
    """Celery's in-process worker; the root logger's level and handlers (which the
    worker sets to ERROR and a stderr handler) are put back afterwards, so later
    tests that capture warnings still see them."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as w:
            yield w
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


@pytest.fixture(scope="module")
def worker(task_app: Celery) -> Iterator[Any]:
    with running_worker(task_app) as w:
        yield w


def dead_letter_for(config: RedisAgentConfig, key: str, timeout: float = 15) -> dict[str, Any]:
    """The dead letter of delivery ``key``, waiting for it to appear."""
    from redis_agent_core.tasks import dead_letters

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in dead_letters(config=config):
            if row["idempotency_key"] == key:
                return row
        time.sleep(0.05)
    raise AssertionError(f"no dead letter for {key}")


@dataclass
class Hook:
    """A loopback webhook receiver answering with scripted statuses (then 200)."""

    url: str
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    event: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(
                {
                    "method": self.command,
                    "body": body,
                    "headers": dict(self.headers.items()),
                    "path": self.path,
                    "time": time.monotonic(),
                }
            )
            if state.delay:
                time.sleep(state.delay)
            status = state.statuses.pop(0) if state.statuses else 200
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/moved")
                self.send_header("Content-Length", "0")
                self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out first

        do_GET = do_POST  # a client following a redirect would come back with a GET

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()
