"""``redis-agent serve --workers N``: the spec each worker process builds its app from."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from redis_agent_core.cli import build_parser
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_service import workers
from redis_agent_service.app import ServiceSettings
from redis_agent_service.cli import ingest_users

from .conftest import Users


def test_torch_threads_split_the_cores_among_workers() -> None:
    assert workers.torch_threads(1, cores=8) == 7  # one core left for loops and Redis
    assert workers.torch_threads(2, cores=8) == 3
    assert workers.torch_threads(1, cores=2) == 1
    assert workers.torch_threads(4, cores=2) == 1  # never zero


def test_spec_round_trips_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = workers.ServeSpec(
        redis_url="redis://127.0.0.1:1/0",
        base_url="http://127.0.0.1:9/v1",
        api_key="k",
        model="m",
        settings={"requests_per_minute": 7, "use_queue": False},
        threads=1,
    )
    monkeypatch.setenv(workers.ENV_SPEC, spec.to_env())
    assert workers.ServeSpec.from_env() == spec
    service = workers.build_service(spec)  # no I/O: nothing listens at either address
    assert service.settings.requests_per_minute == 7 and not service.settings.use_queue
    assert service.model_name == "m"
    # every setting travels as JSON, the users who may ingest included (serve --ingest-user)
    settings = dataclasses.asdict(ServiceSettings(ingest_users=["op", "admin"]))
    spec = dataclasses.replace(spec, settings=settings)
    monkeypatch.setenv(workers.ENV_SPEC, spec.to_env())
    service = workers.build_service(workers.ServeSpec.from_env())
    assert service.settings.ingest_users == ("admin", "op")


def test_missing_or_broken_spec_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(workers.ENV_SPEC, raising=False)
    with pytest.raises(ConfigError, match="redis-agent serve --workers"):
        workers.ServeSpec.from_env()
    monkeypatch.setenv(workers.ENV_SPEC, "{not json")
    with pytest.raises(ConfigError, match="not a serve spec"):
        workers.ServeSpec.from_env()


def test_cli_takes_workers_and_defaults_to_the_cores() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve", "--workers", "3"]).workers == 3
    assert parser.parse_args(["serve"]).workers is None  # resolved to the cores at start
    args = parser.parse_args(["serve", "--ingest-user", "op", "--ingest-user", "admin"])
    assert args.ingest_user == ["op", "admin"] and ingest_users(args) == ("op", "admin")
    # nobody may add to the shared corpus unless the operator says so
    assert ingest_users(parser.parse_args(["serve"])) == ()
    assert ingest_users(parser.parse_args(["serve", "--ingest-any-user"])) is None
    with pytest.raises(ConfigError, match="not both"):
        ingest_users(parser.parse_args(["serve", "--ingest-any-user", "--ingest-user", "op"]))


@pytest.mark.slow
def test_serve_with_two_workers_shares_state_through_redis(
    redis_url: str, config: RedisAgentConfig, users: Users
) -> None:
    """``redis-agent serve --workers 2`` end to end, on a fake model endpoint: both
    workers start (each warms its own model), answer on one port, and each one's
    counters are visible in ``/stats`` from either."""
    root = Path(__file__).resolve().parents[2]
    model_port, port = _free_port(), _free_port()
    env = {
        **os.environ,
        "REDIS_AGENT_NAMESPACE": config.namespace,  # the test's keys, cleaned after it
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model_port}/v1",
        "OPENAI_API_KEY": "test",
        "OPENAI_MODEL": "fake",
        "PYTHONPATH": str(root),
    }
    model = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fake_openai", "--port", str(model_port)], cwd=root
    )
    serve = subprocess.Popen(
        [
            *(sys.executable, "-m", "redis_agent_core.cli", "serve", "--no-queue"),
            *("--workers", "2", "--port", str(port), "--redis-url", redis_url),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        processes = _wait_for_processes(base, serve, 2)
        assert len(processes) == 2
        headers = users.headers("ann")
        with httpx.Client(base_url=base, timeout=60) as client:
            for i in range(6):
                body = {"session_id": f"s{i}", "message": "What is a stream?"}
                r = client.post("/chat", json=body, headers=headers)
                assert r.status_code == 200, r.text
                assert r.json()["cached"] is (i > 0)  # the cache is shared: one miss
        # each worker publishes its counters every few seconds: wait for the sum
        processes = _wait_for_processes(base, serve, 2, requests=6, lag=True)
        assert all(p["loop_lag_ms"] is not None for p in processes)
    finally:
        for proc in (serve, model):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_processes(
    base: str, proc: subprocess.Popen[bytes], count: int, requests: int = 0, lag: bool = False
) -> list[Any]:
    """The ``processes`` of ``/stats`` once ``count`` workers have published, counting
    ``requests`` between them (and with ``lag``, each a loop-lag summary: a worker's first
    snapshot, published at start-up, can precede its lag monitor's first sample)."""
    deadline = time.monotonic() + 240  # two model loads on a busy 2-core machine
    processes: list[Any] = []
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited with {proc.returncode}"
        try:
            processes = httpx.get(base + "/stats", timeout=10).json()["processes"]
        except httpx.HTTPError:
            processes = []
        if (
            len(processes) >= count
            and sum(p["requests"] for p in processes) == requests
            and not (lag and any(p["loop_lag_ms"] is None for p in processes))
        ):
            return processes
        time.sleep(0.5)
    raise AssertionError(f"{count} workers, {requests} requests: not seen in 240 s: {processes}")
