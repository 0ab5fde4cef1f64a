"""A batch run eagerly (Celery's ``task_always_eager`` or ``apply()``: no worker, a retry
runs at once, inside the call)."""

from __future__ import annotations

import gc
import weakref

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks import (
    get_batch_results,
    get_job,
    job_failures,
    register_model,
    submit_batch,
)
from redis_agent_core.tasks.app import create_app
from redis_agent_core.tasks.batch import MAX_OBJECTS
from redis_agent_core.tasks.registry import unregister

from . import support
from .conftest import SECRET


def test_an_eager_batch_waits_out_its_rate_limit(task_config: RedisAgentConfig) -> None:
    # review25: a refused prompt's retry (max_retries=inf since attack25) ran at once,
    # nested in the call, refused again: submit_batch raised a RecursionError and the job
    # stayed running (before attack25: a MaxRetriesExceededError after 5 refusals)
    app = create_app(task_config, webhook_secret=SECRET)
    app.conf.task_always_eager = True
    support.slow_limiter(task_config).reset()
    prompts = ["eager0", "eager1"]  # one admitted per 8 s: the second waits about 8 s
    job_id = submit_batch(
        prompts, model="echo", cache=False, limiter="slow", limiter_wait=0.0, app=app
    )
    job = get_job(job_id, config=task_config)
    assert (job.status, job.done) == ("succeeded", 2), job_failures(job_id, config=task_config)
    results = get_batch_results(job_id, config=task_config)
    assert [r["text"] for r in results] == [p.upper() for p in prompts]


_LIVE: weakref.WeakSet[_Model] = weakref.WeakSet()  # the models not yet collected


class _Model:
    """A model built per job's ``model_kwargs`` (as a factory taking an end-user id)."""

    def __init__(self, user: str) -> None:
        self.user = user
        _LIVE.add(self)

    def __call__(self, prompt: str) -> str:
        return f"{prompt}:{self.user}"


def test_a_worker_keeps_a_bounded_number_of_models_built_per_model_kwargs(
    task_config: RedisAgentConfig,
) -> None:
    """A worker kept every model it built, one per distinct ``model_kwargs`` (an end-user
    id or a temperature per job): one model, with its HTTP client, per value, for the
    life of the process. The least recently used are dropped past ``MAX_OBJECTS``."""
    app = create_app(task_config, webhook_secret=SECRET)
    app.conf.task_always_eager = True
    register_model("per_user", _Model, replace=True)
    try:
        jobs = MAX_OBJECTS + 20
        for i in range(jobs):
            job_id = submit_batch(
                ["hi"], model="per_user", model_kwargs={"user": f"u{i}"}, cache=False, app=app
            )
            assert get_batch_results(job_id, config=task_config)[0]["text"] == f"hi:u{i}"
        gc.collect()
        assert len(_LIVE) <= MAX_OBJECTS  # was one per job: MAX_OBJECTS + 20
    finally:
        unregister("model", "per_user")
