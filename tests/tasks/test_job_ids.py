"""Job ids are never reused: an existing id is refused before anything is written."""

from __future__ import annotations

import threading

import pytest
from celery import Celery

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks import (
    JobExistsError,
    get_batch_results,
    get_job,
    job_failures,
    submit_batch,
    submit_ingestion,
    wait_for_job,
)
from redis_agent_core.tasks.progress import create_job

from .support import HashIndex

pytestmark = pytest.mark.usefixtures("worker")


def test_resubmitting_a_finished_batch_id_is_refused_and_changes_nothing(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    job_id = submit_batch(["a", "boom"], model="echo", cache=False, job_id="fixed-1", app=task_app)
    before = wait_for_job(job_id, config=task_config, timeout=30)
    results = get_batch_results(job_id, config=task_config)
    failures = job_failures(job_id, config=task_config)
    with pytest.raises(JobExistsError, match="'fixed-1' is already in use"):
        submit_batch(["other"], model="echo", job_id="fixed-1", app=task_app)
    assert get_job(job_id, config=task_config) == before
    assert get_batch_results(job_id, config=task_config) == results
    assert job_failures(job_id, config=task_config) == failures


def test_an_ingestion_id_in_use_is_refused_before_queueing(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    index = HashIndex("ids", config=task_config)
    first = submit_ingestion(index, [{"id": "d1", "text": "one"}], job_id="ing-1", app=task_app)
    wait_for_job(first, config=task_config, timeout=30)
    with pytest.raises(JobExistsError):
        submit_ingestion(index, [{"id": "d2", "text": "two"}], job_id="ing-1", app=task_app)
    # the refused items were never queued: the batch job below runs after them on the
    # solo worker, so once it finished they would have been written
    wait_for_job(submit_batch([], model="echo", app=task_app), config=task_config, timeout=30)
    client = task_config.get_client()
    assert client.exists(index.key("d1")) and not client.exists(index.key("d2"))
    assert get_job("ing-1", config=task_config).total == 1


def test_racing_claims_of_one_id_let_exactly_one_through(task_config: RedisAgentConfig) -> None:
    outcomes: list[str] = []

    def claim(n: int) -> None:
        try:
            create_job(task_config, "raced", kind="test", total=n)
            outcomes.append(f"won {n}")
        except JobExistsError:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("refused") == 7
    (won,) = [o for o in outcomes if o.startswith("won")]
    assert get_job("raced", config=task_config).total == int(won.split()[1])


def test_a_malformed_job_id_is_a_config_error(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    with pytest.raises(ConfigError, match="job id"):
        submit_batch(["x"], model="echo", job_id="x" * 201, app=task_app)
    with pytest.raises(ConfigError, match="job id"):
        create_job(task_config, "", kind="test", total=1)
