"""Batch LLM jobs through the in-process worker: results, cache, limiter, failures."""

from __future__ import annotations

import time

import pytest
from celery import Celery

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks import (
    Webhook,
    get_batch_results,
    get_job,
    job_failures,
    submit_batch,
    wait_for_job,
)
from redis_agent_core.tasks.progress import JobNotFoundError, create_job, mark_items

from . import support
from .conftest import Hook

pytestmark = pytest.mark.usefixtures("worker")

MODEL = "echo"


def test_results_in_order_with_usage_then_served_from_cache(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    prompts = ["alpha", "beta", "gamma", "delta", "eps"]
    kwargs = {"prefix": "A:"}
    job_id = submit_batch(prompts, model=MODEL, model_kwargs=kwargs, chunk_size=2, app=task_app)
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.kind, job.status, job.done) == ("llm_batch", "succeeded", 5)
    results = get_batch_results(job_id, config=task_config)
    assert [r["text"] for r in results] == [f"A:{p.upper()}" for p in prompts]
    assert results[0]["usage"]["total_tokens"] == 8 and not results[0]["cached"]
    calls = sum(support.CALLS[p] for p in prompts)
    again = submit_batch(prompts, model=MODEL, model_kwargs=kwargs, app=task_app)
    wait_for_job(again, config=task_config, timeout=30)
    cached = get_batch_results(again, config=task_config)
    assert all(r["cached"] for r in cached)
    assert [r["text"] for r in cached] == [r["text"] for r in results]
    assert sum(support.CALLS[p] for p in prompts) == calls  # the model was not called again
    ttl = task_config.get_client().ttl(task_config.keys.job_result(job_id))
    assert 0 < ttl <= 3600


def test_other_model_kwargs_do_not_share_cache_entries(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    a = submit_batch(["shared"], model=MODEL, model_kwargs={"prefix": "1:"}, app=task_app)
    b = submit_batch(["shared"], model=MODEL, model_kwargs={"prefix": "2:"}, app=task_app)
    wait_for_job(a, config=task_config, timeout=30)
    wait_for_job(b, config=task_config, timeout=30)
    assert get_batch_results(a, config=task_config)[0]["text"] == "1:SHARED"
    assert get_batch_results(b, config=task_config)[0]["text"] == "2:SHARED"


def test_a_model_kwarg_cannot_stand_in_for_another_models_name(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # "any_kwargs" accepts a kwarg named like the scope's model field: its answer must
    # neither be cached under MODEL's scope nor be served to MODEL
    forged = submit_batch(
        ["scope-clash"], model="any_kwargs", model_kwargs={"batch_model": MODEL}, app=task_app
    )
    wait_for_job(forged, config=task_config, timeout=30)
    assert get_batch_results(forged, config=task_config)[0]["text"] == "any:SCOPE-CLASH"
    real = submit_batch(["scope-clash"], model=MODEL, app=task_app)
    wait_for_job(real, config=task_config, timeout=30)
    result = get_batch_results(real, config=task_config)[0]
    assert (result["text"], result["cached"]) == ("SCOPE-CLASH", False)


def test_a_failing_prompt_fails_alone(task_app: Celery, task_config: RedisAgentConfig) -> None:
    job_id = submit_batch(["ok1", "boom", "ok2"], model=MODEL, cache=False, app=task_app)
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.status, job.done, job.failed) == ("partial", 2, 1)
    results = get_batch_results(job_id, config=task_config)
    assert results[1] is None and results[2]["text"] == "OK2"
    assert "model failed" in job_failures(job_id, config=task_config)["1"]


@pytest.mark.parametrize("kind", list(support.ODD_USAGE))
def test_an_answer_whose_usage_is_odd_is_kept_and_charged_the_estimate(
    task_app: Celery, task_config: RedisAgentConfig, kind: str
) -> None:
    # review 18: a bare str answer settled at 0 tokens (the estimate given back: such
    # calls never counted against a budget); a negative count was a ConfigError that
    # failed every remaining prompt of the chunk, answers dropped; a set or a 30-digit
    # int in the usage failed the task after the model answered (the job never ended)
    from redis_agent_core.ratelimit import RateLimiter, TokenBudget

    budget = RateLimiter(
        [TokenBudget(1_000_000, per="global")], config=task_config, name="batch-budget"
    )
    budget.reset()
    prompts = [f"{kind}-a", f"{kind}-b"]
    job_id = submit_batch(
        prompts,
        model="odd_usage",
        model_kwargs={"kind": kind},
        limiter="budget",
        estimate_tokens=100,
        cache=False,
        app=task_app,
    )
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.status, job.done) == ("succeeded", 2), job_failures(job_id, config=task_config)
    results = get_batch_results(job_id, config=task_config)
    assert [r["text"] for r in results] == [p.upper() for p in prompts]
    usage = support.ODD_USAGE[kind]
    assert results[0]["usage"] == (usage if kind == "negative" else None)
    left = budget.peek(tokens=0, requests=0).remaining
    assert list(left.values()) == [1_000_000 - 200]  # each call keeps its estimate


def test_a_failed_model_call_gives_its_token_estimate_back(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # attack25: a model that raised kept its estimate charged, so a flaky model spent a
    # day's budget with no tokens used (the service and the LangChain callback give the
    # tokens back on a failed call; the request stays counted, as there)
    from redis_agent_core.ratelimit import RateLimiter, TokenBudget

    budget = RateLimiter(
        [TokenBudget(1_000_000, per="global")], config=task_config, name="batch-budget"
    )
    budget.reset()
    job_id = submit_batch(
        ["boom", "fine"], model=MODEL, limiter="budget", estimate_tokens=500, cache=False,
        app=task_app,
    )  # fmt: skip
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.status, job.done, job.failed) == ("partial", 1, 1)
    left = budget.peek(tokens=0, requests=0).remaining
    assert list(left.values()) == [1_000_000 - len("fine") - 3]  # the answered call only


def test_a_chunk_waits_out_as_many_rate_limit_refusals_as_it_takes_and_still_retries_a_fault(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # attack25: retry(max_retries=None) reads as the task's max_retries (5), so the 6th
    # refusal failed the chunk's prompts with a MaxRetriesExceededError
    # left25: and the fault retries compared request.retries, which these waits raise,
    # with max_retries (5): the 7th prompt's one fault failed it at once
    support.halfsec_limiter(task_config).reset()
    prompts = [f"wait{i}" for i in range(6)] + ["fault-after-waits"]  # 6 refusals at least
    job_id = submit_batch(
        prompts, model=MODEL, cache=False, limiter="halfsec", limiter_wait=0.0,
        chunk_size=7, app=task_app,
    )  # fmt: skip
    job = wait_for_job(job_id, config=task_config, timeout=60)
    assert (job.status, job.done) == ("succeeded", 7), job_failures(job_id, config=task_config)
    assert support.CALLS["fault-after-waits"] == 2  # the fault, then its retry
    # and the unbounded count stays with these retries: Celery's autoretry of a Redis
    # fault in a later task reads a max_retries left on the task object
    assert "override_max_retries" not in vars(task_app.tasks["rap.llm_batch"])


def test_a_prompt_the_limiter_can_never_admit_fails_with_the_reason(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # attack25: an estimate over the budget itself was retried every hour for ever (the
    # job never finished); now its prompts fail at once, saying what to change
    job_id = submit_batch(
        ["never1", "never2"], model=MODEL, cache=False, limiter="budget",
        estimate_tokens=2_000_000, app=task_app,
    )  # fmt: skip
    job = wait_for_job(job_id, config=task_config, timeout=20)
    assert (job.status, job.failed) == ("failed", 2)
    reasons = job_failures(job_id, config=task_config)
    assert all("can never be admitted" in reason for reason in reasons.values()), reasons
    assert support.CALLS["never1"] == 0


def test_calls_go_through_the_rate_limiter(task_app: Celery, task_config: RedisAgentConfig) -> None:
    support.CALL_TIMES.clear()
    prompts = [f"rl{i}" for i in range(5)]
    job_id = submit_batch(prompts, model=MODEL, cache=False, limiter="tight", app=task_app)
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert job.done == 5
    times = support.CALL_TIMES[-5:]
    # 2 calls per second: 5 calls need 2 s of windows (the slack absorbs the delay
    # between a call's admission and the moment it is recorded on a loaded machine)
    assert times[4] - times[0] >= 1.5
    assert all(times[i + 2] - times[i] >= 0.5 for i in range(3))


def test_an_unregistered_model_fails_the_job_with_the_reason(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    job_id = submit_batch(["x", "y"], model="no_such_model", app=task_app)
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.status, job.failed) == ("failed", 2)
    error = job_failures(job_id, config=task_config)["0"]
    assert "'no_such_model' is not registered" in error and "register_model(" in error


def test_bad_arguments_are_rejected_before_queueing(task_app: Celery) -> None:
    with pytest.raises(ConfigError, match="non-empty string"):
        submit_batch(["x"], model="", app=task_app)
    with pytest.raises(ConfigError, match="JSON"):
        submit_batch(["x"], model=MODEL, model_kwargs={"o": object()}, app=task_app)
    with pytest.raises(ConfigError, match="str"):
        submit_batch([1], model=MODEL, app=task_app)  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("arg", "value", "error"),
    [
        ("estimate_tokens", -1, "estimate_tokens must be an int >= 0"),
        ("estimate_tokens", 1.9, "estimate_tokens must be an int >= 0"),  # was truncated to 1
        ("estimate_tokens", 10**14, "estimate_tokens must be at most"),
        ("user", 5, "user must be a str or None"),
        ("org", ["acme"], "org must be a str or None"),
        ("limiter_wait", float("nan"), "limiter_wait must be a finite number"),
        ("limiter_wait", -1, "limiter_wait must be a finite number"),
        # review 18: these were refused by the job script's EXPIRE after its HSET (a raw
        # ResponseError; the record stayed, pending and never expiring), or by range()
        # after the job was written (a float chunk size)
        ("result_ttl", float("nan"), "result_ttl must be a finite number"),
        ("result_ttl", float("inf"), "result_ttl must be a finite number"),
        ("result_ttl", 10**20, "result_ttl must be a finite number"),
        ("chunk_size", 1.5, "chunk_size must be an int >= 1"),
        ("chunk_size", True, "chunk_size must be an int >= 1"),
    ],
)
def test_values_the_limiter_refuses_are_refused_before_the_job_is_written(
    task_app: Celery, task_config: RedisAgentConfig, arg: str, value: object, error: str
) -> None:
    # the worker would fail every prompt on these: refused at submission instead
    job_id = f"refused-{arg}-{value!r}"
    with pytest.raises(ConfigError, match=error):
        submit_batch(
            ["x"], model=MODEL, limiter="tight", job_id=job_id, app=task_app, **{arg: value}
        )
    with pytest.raises(JobNotFoundError):
        get_job(job_id, config=task_config)


def test_a_fractional_result_ttl_rounds_up(task_app: Celery, task_config: RedisAgentConfig) -> None:
    # EXPIRE takes whole seconds: 1.5 failed inside the job script (see above)
    job_id = submit_batch([], model=MODEL, result_ttl=1.5, app=task_app)
    assert task_config.get_client().ttl(task_config.keys.job(job_id)) == 2


def test_redelivered_finished_chunk_sends_a_lost_webhook_and_a_dead_one_is_marked(
    task_app: Celery, task_config: RedisAgentConfig, hook: Hook
) -> None:
    # finished, webhook never queued (the worker died in between); the receiver refuses
    hook.statuses = [410]
    job_id = "batch-killed-before-notify"
    create_job(task_config, job_id, kind="llm_batch", total=1, webhook=Webhook(hook.url).to_dict())
    assert mark_items(task_config, job_id, ["0"], values=['{"text": "x"}']).finished
    job = {"model": MODEL, "model_kwargs": {}, "cache": False}
    task_app.tasks["rap.llm_batch"].apply(args=[job_id, job, [{"id": "0", "prompt": "p"}]]).get()
    assert len(hook.wait(1)) == 1
    assert support.CALLS["p"] == 0  # the model was not called again
    for _ in range(200):
        if get_job(job_id, config=task_config).webhook == "dead":
            break
        time.sleep(0.05)
    assert get_job(job_id, config=task_config).webhook == "dead"


def test_a_message_for_an_unknown_job_calls_no_model(task_app: Celery) -> None:
    # a forged (or expired) job id: refused before the model runs, not after
    job = {"model": MODEL, "model_kwargs": {}, "cache": False}
    task = task_app.tasks["rap.llm_batch"]
    with pytest.raises(JobNotFoundError, match="no-such-job"):
        task.apply(args=["no-such-job", job, [{"id": "0", "prompt": "forged"}]]).get()
    assert support.CALLS["forged"] == 0
