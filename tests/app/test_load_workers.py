"""``redis-agent serve --workers N``: the spec each worker process builds its app from."""

from __future__ import annotations

import pytest

from langchain_redis_agent.service import workers
from redis_agent_core.cli import build_parser
from redis_agent_core.errors import ConfigError


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
