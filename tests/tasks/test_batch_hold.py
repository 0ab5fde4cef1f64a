"""A batch chunk the rate limiter sends back for later: its retry must not be held by a
worker past the broker's visibility timeout, or the broker hands the held message to a
worker again and the chunk runs twice (celery/celery#2599: ETA past the visibility
timeout runs a task several times)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from celery.signals import task_prerun

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks import get_batch_results, job_failures, submit_batch, wait_for_job
from redis_agent_core.tasks.app import create_app

from . import support
from .conftest import SECRET, running_worker

VISIBILITY = 3.0


def test_a_chunk_retried_for_the_rate_limit_runs_once_per_try(
    task_config: RedisAgentConfig,
) -> None:
    app = create_app(task_config, webhook_secret=SECRET, visibility_timeout=VISIBILITY)
    limiter = support.slow_limiter(task_config)
    limiter.reset()
    limiter.acquire()  # the window is taken: the chunk is told to retry in about 8 s
    runs: Counter[tuple[str, int]] = Counter()

    def count(sender: Any = None, task_id: str = "", task: Any = None, **_: Any) -> None:
        if getattr(sender, "name", "") == "rap.llm_batch":
            runs[(task_id, task.request.retries)] += 1

    task_prerun.connect(count, weak=False)
    prompt = f"held-{uuid.uuid4().hex[:8]}"
    try:
        with running_worker(app):
            job_id = submit_batch(
                [prompt], model="echo", cache=False, limiter="slow", limiter_wait=0.0,
                app=app,
            )  # fmt: skip
            job = wait_for_job(job_id, config=task_config, timeout=60)
    finally:
        task_prerun.disconnect(count)
    assert (job.status, job.done) == ("succeeded", 1), job_failures(job_id, config=task_config)
    assert get_batch_results(job_id, config=task_config)[0]["text"] == prompt.upper()
    # on main the retry waited 8 s unacked: the broker restored the message after 3 s
    # and the same try ran twice (each copy charging the limiter)
    assert runs and max(runs.values()) == 1, runs
    assert support.CALLS[prompt] == 1
