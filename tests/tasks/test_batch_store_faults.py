"""A batch chunk whose job store (a server of its own, the broker up on another) fails
outside the per-prompt loop, where ``run_batch`` reads which prompts are finished: the
``rap.llm_batch`` wrapper retries it for the fault with backoff, a bounded number of
times (the task's ``max_retries``, 5), counted apart from rate-limit waits
(``rap_faults``), and the job finishes once the store is back (docs/tasks.md)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from celery.signals import task_failure, task_prerun

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_core.tasks import batch, get_batch_results, get_job, submit_batch
from redis_agent_core.tasks.app import celery_url, create_app
from tests.faults import FaultyRedis

from . import support
from .conftest import SECRET, running_worker


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FaultyRedis]:
    """The job store: restarted on the same port with its data (AOF, each write synced)."""
    server = FaultyRedis(data_dir=tmp_path).start()
    server._admin_call("CONFIG", "SET", "appendfsync", "always")
    try:
        yield server
    finally:
        server.stop()


def _app(store: FaultyRedis, task_config: RedisAgentConfig) -> tuple[Celery, RedisAgentConfig]:
    config = store.config(namespace="bsf" + uuid.uuid4().hex[:8])
    broker = celery_url(task_config.resolve_url())  # the session's Redis: never broken here
    app = create_app(config, webhook_secret=SECRET, broker_url=broker, result_backend=None)
    return app, config


def _runs(store: FaultyRedis, restart_at: int | None) -> tuple[list[int], Any]:
    """Count the chunk's runs (each one's fault count); the first kills the job store,
    run ``restart_at`` brings it back first."""
    runs: list[int] = []

    def before(sender: Any = None, task: Any = None, **_: Any) -> None:
        if getattr(sender, "name", "") != "rap.llm_batch":
            return
        runs.append(batch.fault_retries(task))
        if len(runs) == 1:
            store.kill()
        elif len(runs) == restart_at:
            store.restart()

    return runs, before


def _finished(job_id: str, config: RedisAgentConfig, timeout: float = 60) -> Any:
    """The job once finished, polling through the store's outage."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            job = get_job(job_id, config=config)
        except RedisUnavailableError:  # the store is down for now
            job = None
        if job is not None and job.status not in ("pending", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_chunk_whose_job_store_is_down_is_retried_and_finishes_once_it_is_back(
    store: FaultyRedis, task_config: RedisAgentConfig
) -> None:
    app, config = _app(store, task_config)
    runs, before = _runs(store, restart_at=3)
    prompts = [f"store-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
    task_prerun.connect(before, weak=False)
    try:
        job_id = submit_batch(prompts, model="echo", cache=False, chunk_size=3, app=app)
        with running_worker(app):
            job = _finished(job_id, config)
    finally:
        task_prerun.disconnect(before)
    assert (job.status, job.done) == ("succeeded", 3)
    assert runs == [0, 1, 2]  # two fault retries, each counted, then the run that worked
    assert [r["text"] for r in get_batch_results(job_id, config=config)] == [
        p.upper() for p in prompts
    ]
    assert [support.CALLS[p] for p in prompts] == [1, 1, 1]  # the faults came before the model


def test_a_chunk_whose_job_store_stays_down_gives_up_after_its_fault_retries(
    store: FaultyRedis, task_config: RedisAgentConfig
) -> None:
    app, config = _app(store, task_config)
    app.tasks["rap.llm_batch"].max_retries = 2  # the bound (5 by default), kept short here
    runs, before = _runs(store, restart_at=None)
    failed = threading.Event()

    def on_failure(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "name", "") == "rap.llm_batch":
            failed.set()

    prompt = f"store-down-{uuid.uuid4().hex[:8]}"
    task_prerun.connect(before, weak=False)
    task_failure.connect(on_failure, weak=False)
    try:
        job_id = submit_batch([prompt], model="echo", cache=False, app=app)
        with running_worker(app):
            assert failed.wait(60), runs
            time.sleep(1.5)  # longer than another retry's backoff would wait: none comes
    finally:
        task_prerun.disconnect(before)
        task_failure.disconnect(on_failure)
    assert runs == [0, 1, 2]  # the first try and max_retries fault retries, no more
    assert support.CALLS[prompt] == 0
    store.restart()
    # documented: the prompts stay pending (their chunk gave up while the record could not
    # be written); the record expires with the job's result_ttl; resubmit the job
    job = get_job(job_id, config=config)
    assert (job.status, job.done, job.failed, job.total) == ("pending", 0, 0, 1)
