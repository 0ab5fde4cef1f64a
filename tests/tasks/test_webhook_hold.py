"""A webhook message a worker would hold past the broker's visibility timeout, queued
without the submit check (before it existed, or by an older submitter): the worker cuts
the retry wait, or refuses a request that alone outlasts it, and never sends twice."""

from __future__ import annotations

import time
import uuid

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks.app import create_app

from .conftest import SECRET, Hook, running_worker
from .conftest import dead_letter_for as _dead_for

VISIBILITY = 3.0


def test_a_queued_hook_held_past_the_visibility_timeout_is_sent_once(
    task_config: RedisAgentConfig, hook: Hook
) -> None:
    app = create_app(
        task_config, webhook_secret=SECRET, webhook_allow="127.0.0.1",
        visibility_timeout=VISIBILITY,
    )  # fmt: skip
    deliver = app.tasks["rap.deliver_webhook"]
    hook.statuses = [503]  # then 200
    # the retry would wait 4-8 s (backoff 8, jittered), unacked: past 3 s the broker
    # handed the message to the worker again and the second try was POSTed twice, on main
    slow = {"url": hook.url, "backoff": 8.0, "backoff_cap": 60.0, "max_attempts": 3, "timeout": 1.0}
    key = f"held-{uuid.uuid4().hex}"
    # a request alone longer than the visibility timeout: refused before any POST
    long_key = f"long-{uuid.uuid4().hex}"
    with running_worker(app):
        deliver.apply_async(args=[slow, {"n": 1}, key, None])
        reqs = hook.wait(2, timeout=15)
        time.sleep(VISIBILITY + 3)  # past the visibility timeout and a restore sweep
        reqs = list(hook.requests)
        assert [r["headers"]["X-Redis-Agent-Attempt"] for r in reqs] == ["1", "2"]
        # wait 1 s (3 - 1 - 1) instead of 4-8 s; the bound leaves room for a slow machine
        assert reqs[1]["time"] - reqs[0]["time"] < VISIBILITY
        deliver.apply_async(args=[{"url": hook.url, "timeout": 5.0}, {"n": 2}, long_key, None])
        dead = _dead_for(task_config, long_key)
    assert "visibility_timeout (3 s)" in dead["error"] and dead["attempts"] == 1
    assert len(hook.requests) == 2  # the long one was never POSTed
