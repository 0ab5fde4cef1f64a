"""``redis-agent serve --workers N``: one app per worker process, all on the same Redis.

uvicorn starts each worker as a fresh process that imports :func:`app_from_env`
(a factory) and builds its own service from the :class:`ServeSpec` the parent put
in ``REDIS_AGENT_SERVE_SPEC``: the same Redis URL, model endpoint and settings.
Everything the workers must agree on (limits, cache, sessions, counters) lives in
Redis, so any worker may answer any request.

Each worker embeds on its own CPU threads: with N workers on C cores torch gets
``max(1, (C - 1) // N)`` threads, so the workers do not fight over the cores. More threads
than cores is much worse than slow: OpenMP's threads wait for each other at every
layer, and one busy neighbour stalls them all (measured on 2 busy cores: one short
question took 870 ms to embed with 2 threads, 43 ms with 1).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ENV_SPEC",
    "ServeSpec",
    "app_from_env",
    "available_cores",
    "build_service",
    "run",
    "torch_threads",
]

ENV_SPEC = "REDIS_AGENT_SERVE_SPEC"
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def torch_threads(workers: int, cores: int | None = None) -> int:
    """CPU threads for one worker's embedding model: the cores but one (left for the
    event loops, Redis and the OS) split among the workers, at least one."""
    return max(1, ((cores or available_cores()) - 1) // max(1, workers))


@dataclass(frozen=True)
class ServeSpec:
    """What a worker needs to build the same service as its siblings (JSON in the env)."""

    redis_url: str
    base_url: str
    api_key: str
    model: str
    settings: dict[str, Any] = field(default_factory=dict)
    threads: int = 0  # torch threads per worker; 0 leaves torch's default

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> ServeSpec:
        from redis_agent_core.errors import ConfigError

        raw = os.environ.get(ENV_SPEC)
        if not raw:
            raise ConfigError(
                f"{ENV_SPEC} is not set: start workers with `redis-agent serve --workers N`, "
                "which sets it for them"
            )
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{ENV_SPEC} is not a serve spec ({exc}): start workers with redis-agent serve"
            ) from exc


def build_service(spec: ServeSpec) -> Any:
    """The :class:`AgentService` described by ``spec`` (no I/O)."""
    from redis_agent_core.config import RedisAgentConfig

    from .app import AgentService, ServiceSettings
    from .llm import LLMEndpoint, OpenAIChat

    settings = ServiceSettings(**spec.settings)
    endpoint = LLMEndpoint(spec.base_url, spec.api_key, spec.model)
    llm = OpenAIChat(endpoint, max_tokens=settings.max_tokens, temperature=settings.temperature)
    config = RedisAgentConfig.from_env(url=spec.redis_url)
    return AgentService(llm, config=config, settings=settings, model_name=spec.model)


def _limit_threads(threads: int) -> None:
    # OpenMP reads these once, when torch loads; an explicit OMP_NUM_THREADS wins
    if threads > 0:
        for var in _THREAD_VARS:
            os.environ.setdefault(var, str(threads))
        torch = sys.modules.get("torch")
        if torch is not None:  # already loaded in this process: tell it directly
            torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def app_from_env() -> Any:
    """uvicorn's app factory in each worker process."""
    from .app import create_app

    spec = ServeSpec.from_env()
    _limit_threads(spec.threads)
    return create_app(build_service(spec))


def run(spec: ServeSpec, *, host: str, port: int, workers: int, access_log: bool = False) -> None:
    """Serve the app: in this process when ``workers == 1``, else in ``workers``
    processes sharing the listening socket (blocks until stopped)."""
    import uvicorn

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "access_log": access_log,  # a log line per request costs the loop at high rates
        "backlog": 2048,
    }
    if workers == 1:
        _limit_threads(spec.threads)
        from .app import create_app

        uvicorn.run(create_app(build_service(spec)), **options)
        return
    os.environ[ENV_SPEC] = spec.to_env()
    _limit_threads(spec.threads)  # inherited by the worker processes
    uvicorn.run(
        f"{__name__}:app_from_env",
        factory=True,
        workers=workers,
        **options,
    )
