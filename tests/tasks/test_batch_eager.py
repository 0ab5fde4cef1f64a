"""A batch run eagerly (Celery's ``task_always_eager`` or ``apply()``: no worker, a retry
runs at once, inside the call)."""

from __future__ import annotations

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks import get_batch_results, get_job, job_failures, submit_batch
from redis_agent_core.tasks.app import create_app

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
