"""``redis-agent serve`` / ``demo`` with an unusable Redis: one clear line and exit 2,
never a traceback; ``serve`` with Redis down starts, answers 503 and recovers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from redis_agent_core.server import EmbeddedRedis
from tests.faults import free_port, plain_redis

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("REDIS_URL", None)
    # a model address nothing listens on: these runs never reach the model
    env.update(OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY="test")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redis_agent_core.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]


SERVE = ("serve", "--insecure-no-auth", "--workers", "1")


def test_demo_with_redis_down_says_so_in_one_line() -> None:
    url = f"redis://127.0.0.1:{free_port()}"
    _one_clear_line(_cli("demo", "--quiet", env=_env(REDIS_URL=url)), url, "REDIS_URL")


def test_demo_and_serve_without_search_say_so_in_one_line() -> None:
    with plain_redis() as url:
        _one_clear_line(_cli("demo", "--quiet", env=_env(REDIS_URL=url)), "Query Engine")
        port = str(free_port())
        result = _cli(*SERVE, "--port", port, "--redis-url", url, env=_env())
        _one_clear_line(result, "Query Engine")


@pytest.fixture
def serve_on_a_dead_redis() -> Iterator[tuple[str, int]]:
    """``serve`` started while nothing listens on its Redis port: (URL of the service,
    Redis port)."""
    redis_port, http_port = free_port(), free_port()
    args = [*SERVE, "--port", str(http_port), "--redis-url", f"redis://127.0.0.1:{redis_port}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "redis_agent_core.cli", *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{http_port}", redis_port
    finally:
        proc.terminate()
        proc.wait(60)


def _get_health(base: str, want: int) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        try:
            r = httpx.get(f"{base}/health", timeout=10)
            if r.status_code == want:
                return r
        except httpx.TransportError:  # not listening yet
            pass
        assert time.monotonic() < deadline, f"/health never answered {want}"
        time.sleep(0.2)


def test_serve_with_redis_down_answers_503_then_recovers(
    serve_on_a_dead_redis: tuple[str, int],
) -> None:
    base, redis_port = serve_on_a_dead_redis
    down = _get_health(base, 503)
    assert down.json()["error"] == "redis_unavailable"
    with EmbeddedRedis(port=redis_port):
        assert _get_health(base, 200).json() == {"status": "ok"}


def test_serve_refuses_a_max_in_flight_below_one_in_one_line() -> None:
    result = _cli(*SERVE, "--max-in-flight", "0", env=_env())
    _one_clear_line(result, "max_in_flight", "positive")
