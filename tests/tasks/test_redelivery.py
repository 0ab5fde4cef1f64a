"""A worker process killed mid-task: the task is redelivered, results written once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks import get_batch_results, get_job, submit_batch, wait_for_job
from redis_agent_core.tasks.app import create_app

from .conftest import running_worker

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY = 2.0


@pytest.mark.slow
def test_killed_worker_task_is_redelivered_and_written_once(
    redis_url: str, task_config: RedisAgentConfig, tmp_path: Path
) -> None:
    ns = task_config.namespace
    client = task_config.get_client()
    app = create_app(task_config, visibility_timeout=VISIBILITY)
    job_id = submit_batch(
        ["a", "block", "c"],
        model="blocking",
        model_kwargs={"url": redis_url, "namespace": ns},
        chunk_size=3,  # one task holds all three prompts
        cache=False,
        app=app,
    )
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "REDIS_AGENT_NAMESPACE": ns,
        "RAP_TEST_VT": str(VISIBILITY),
    }
    log = tmp_path / "worker.log"  # a file, not a pipe: a full pipe would stall the worker
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tests.tasks.kill_app", "worker", "--pool=solo",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
            cwd=ROOT, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        # waits on a fact the worker writes (no fixed sleep): the task is mid-way
        deadline = time.monotonic() + 60
        while not client.exists(f"{ns}:started"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the subprocess worker never started the task"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # mid-task, no chance to ack or clean up
        proc.wait(10)
    assert get_job(job_id, config=task_config).done == 1  # "a" finished before the kill
    client.set(f"{ns}:release", 1)
    with running_worker(app):
        job = wait_for_job(job_id, config=task_config, timeout=60)
    assert (job.status, job.done, job.failed) == ("succeeded", 3, 0)
    assert [r["text"] for r in get_batch_results(job_id, config=task_config)] == [
        "answer to a", "answer to block", "answer to c",
    ]  # fmt: skip
    calls = {k.decode(): int(v) for k, v in client.hgetall(f"{ns}:calls").items()}
    # "a" was not recomputed, "block" ran again after the kill, "c" ran once
    assert calls == {"a": 1, "block": 2, "c": 1}
    assert client.hlen(task_config.keys.job_result(job_id)) == 3
