"""Batch LLM calls: prompts run by workers through a user-supplied model, the pack's
LLM cache and rate limiter; results stored in Redis with a TTL.

The model is a name the worker registered (:func:`~.registry.register_model`); the
worker calls its factory with ``model_kwargs`` once per process and gets a callable
``prompt -> output`` where output is a ``str``, a ``(text, usage)`` pair or a mapping
with ``text`` and ``usage``. Messages never carry import paths: an unregistered name
fails the job and nothing is imported. The core stays framework-free;
``langchain_redis_agent.tasks.register_chat_model`` and
``llamaindex_redis_agent.tasks.register_llm`` register framework models.

Per prompt: cache lookup (scope = the model name and its kwargs) → rate limiter
(blocking up to ``limiter_wait`` s, else the task is retried after the limiter's
retry-after) → model → cache update → result written once (HSETNX) and the item
marked done in the same script. A redelivered task skips prompts already answered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ..config import RedisAgentConfig, backoff, get_default_config
from ..errors import ConfigError, DataCorruptionError, ValueTooLargeError
from ..jsonvalues import Unreadable, find_unreadable
from ..redis_errors import translate_errors
from ._common import RETRYABLE, WorkerCache, agent_config, retry_later
from .progress import finished_items, mark_items
from .registry import resolve
from .webhooks import held_countdown, notify_job_finished, renotify_if_lost

if TYPE_CHECKING:
    from celery import Task

__all__ = ["MAX_PROMPTS", "BatchResult", "get_batch_results", "normalize_output", "run_batch"]

log = logging.getLogger(__name__)

BatchResult = dict[str, Any]  # {"text": str, "usage": dict | None, "cached": bool}


def _checked_usage(usage: Any) -> dict[str, Any] | None:
    """``usage`` as a dict when it is plain JSON, else None (logged): a value JSON cannot
    hold (a set) failed the chunk's task after the model had answered, leaving the job
    unfinished; a NaN would read back as null, a datetime as a str."""
    if not isinstance(usage, Mapping):
        return None
    found = find_unreadable(usage, objects=True, keys=True)
    if found is None:
        try:
            orjson.dumps(usage)
        except TypeError as exc:  # an int beyond 64 bits
            found = Unreadable("object", exc, "")
    if found is not None:
        log.warning(
            "a batch model's usage holds %r at %s, which JSON cannot keep: stored as None, "
            "and the estimate stays charged",
            found.value,
            found.path or "the top level",
        )
        return None
    return dict(usage)


def charged_tokens(usage: Mapping[str, Any] | None, reserved: int) -> int:
    """Tokens to settle a call at: its usage's total, or ``reserved`` (the estimate)
    when the usage names no token count (a model returning a bare str: settling at 0
    gave the estimate back, so such calls never counted against a budget) or one the
    limiter refuses (negative, past 10^13: a ConfigError there failed every remaining
    prompt of the chunk, their answers dropped)."""
    from ..ratelimit import reported_tokens  # imported when used, as RateLimitExceeded

    tokens = reported_tokens(usage, "a batch model")
    return reserved if tokens is None else tokens


def normalize_output(output: Any) -> tuple[str, dict[str, Any] | None]:
    """``(text, usage)`` from what a batch model returned (usage that is not plain JSON:
    None, logged)."""
    if isinstance(output, str):
        return output, None
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[0], str):
        return output[0], _checked_usage(output[1])
    if isinstance(output, Mapping) and isinstance(output.get("text"), str):
        return output["text"], _checked_usage(output.get("usage"))
    raise ConfigError(
        f"a batch model returned {type(output).__name__}; return a str, (text, usage) "
        "or {'text': ..., 'usage': {...}}"
    )


#: The most prompts one batch job takes (``submit_batch`` refuses more); a job record
#: saying more was not written by it, and its results are not read (one HMGET a field
#: a prompt: a total of 10^12 held the reader's memory for good).
MAX_PROMPTS = 1_000_000


def get_batch_results(
    job_id: str, *, config: RedisAgentConfig | None = None
) -> list[BatchResult | None]:
    """Results in prompt order; ``None`` for a prompt not answered (yet, or failed:
    see ``job_failures``)."""
    from .progress import get_job

    config = config or get_default_config()
    job = get_job(job_id, config=config)
    if not 0 <= job.total <= MAX_PROMPTS:
        raise DataCorruptionError(
            f"the record of job {job_id!r} says {job.total} prompts; a batch job holds 0 to "
            f"{MAX_PROMPTS:,}: it was written by something other than this package, or "
            "altered in Redis"
        )
    if job.total == 0:
        return []
    with translate_errors(config, f"reading the results of job {job_id}"):
        raw = config.get_client().hmget(
            config.keys.job_result(job_id), [str(i) for i in range(job.total)]
        )
    results: list[BatchResult | None] = []
    for i, value in enumerate(raw):
        try:
            result = orjson.loads(value) if value is not None else None
        except orjson.JSONDecodeError as exc:
            raise DataCorruptionError(
                f"the result of prompt {i} of job {job_id!r} is not JSON ({exc}): it was "
                "written by something other than this package, or altered in Redis"
            ) from exc
        results.append(result)
    return results


# -- worker side --
# the models (one per name and distinct model_kwargs), caches and limiters jobs used
MAX_OBJECTS = 64
_cached = WorkerCache(MAX_OBJECTS).get


def _model_kwargs(job: Mapping[str, Any]) -> Mapping[str, Any]:
    kwargs = job.get("model_kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"model_kwargs must be a JSON object, got {type(kwargs).__name__}")
    return kwargs


def _model(job: Mapping[str, Any]) -> Callable[[str], Any]:
    kwargs = _model_kwargs(job)
    key = ("model", job["model"], orjson.dumps(kwargs, option=orjson.OPT_SORT_KEYS))
    factory = resolve("model", job["model"])

    def build() -> Any:
        try:
            return factory(**kwargs)
        except TypeError as exc:
            raise ConfigError(
                f"model {job['model']!r} cannot be built with model_kwargs {sorted(kwargs)} ({exc})"
            ) from exc

    model = _cached(key, build)
    if not callable(model):
        raise ConfigError(f"model factory {job['model']!r} returned a non-callable {model!r}")
    return model


def _cache(config: RedisAgentConfig, job: Mapping[str, Any]) -> Any:
    spec = job.get("cache")
    if not spec:
        return None
    if spec is True:
        from ..cache import ExactCache

        return _cached(("cache", id(config), True), lambda: ExactCache(config, name="batch"))
    factory = resolve("cache", spec)
    return _cached(("cache", id(config), spec), lambda: factory(config))


def _limiter(config: RedisAgentConfig, job: Mapping[str, Any]) -> Any:
    spec = job.get("limiter")
    if not spec:
        return None
    factory = resolve("limiter", spec)
    return _cached(("limiter", id(config), spec), lambda: factory(config))


def _scope(job: Mapping[str, Any]) -> str:
    from ..cache import make_scope

    # the kwargs are nested, never merged: a kwarg named "batch_model" must not stand
    # in for the model name and share (or poison) another model's entries
    return make_scope({"batch_model": job["model"], "kwargs": _model_kwargs(job)})


def _acquire(task: Task, limiter: Any, job: Mapping[str, Any]) -> Any:
    """The limiter's admission of one prompt, waiting up to the job's ``limiter_wait``;
    run eagerly (``task_always_eager``, ``apply()``), as long as the limit says. There is
    no worker to free there, and Celery runs an eager retry at once, nested in the call:
    a refusal was retried in a loop until a ``RecursionError`` escaped ``submit_batch``
    (in 2.6 s at one call per 8 s), the job left running."""
    from ..ratelimit import RateLimitExceeded

    wait = job.get("limiter_wait", 5.0)
    while True:
        try:
            return limiter.acquire(
                user=job.get("user"),
                org=job.get("org"),
                tokens=job.get("estimate_tokens", 0),
                max_wait=wait,
            )
        except RateLimitExceeded as exc:
            if not task.request.is_eager or math.isinf(exc.retry_after):
                raise
            wait = min(exc.retry_after, 3600) + 0.05  # refused again: another call took it


def _answer(
    task: Task, config: RedisAgentConfig, job: Mapping[str, Any], prompt: str
) -> BatchResult:
    cache = _cache(config, job)
    scope = _scope(job) if cache is not None else ""
    if cache is not None:
        hit = cache.lookup(prompt, scope)
        if hit is not None:
            return {"text": hit.payload, "usage": hit.usage, "cached": True}
    limiter = _limiter(config, job)
    decision = None
    if limiter is not None:
        from ..ratelimit import RateLimitExceeded

        try:
            decision = _acquire(task, limiter, job)
        except RateLimitExceeded as exc:
            if math.isinf(exc.retry_after):
                # never admitted (the estimate is over a limit): retried hourly for ever,
                # the job never finished; fails the chunk's prompts with the reason
                raise ConfigError(str(exc)) from exc
            # free the worker; Celery brings the task back when the limit allows, as
            # often as it takes (max_retries=None reads as the task's 5: the prompts
            # failed with a MaxRetriesExceededError after 5 refusals)
            wait = held_countdown(task.app, min(exc.retry_after, 3600))
            raise retry_later(task, countdown=max(0.05, wait), max_retries=math.inf) from exc
    reservation = decision.reservation if decision is not None else None
    try:
        output = _model(job)(prompt)
    except BaseException:
        # a failed call gives its tokens back (the request stays counted), as the
        # service and the callbacks do: kept, a flaky model (each retry charged anew)
        # spent a budget with no tokens used
        if limiter is not None and reservation is not None:
            limiter.settle(reservation, 0)
        raise
    text, usage = normalize_output(output)
    if limiter is not None and reservation is not None:
        limiter.settle(reservation, charged_tokens(usage, reservation.tokens))
    if cache is not None:
        cache.update(prompt, scope, text, usage=usage)
    return {"text": text, "usage": usage, "cached": False}


def run_batch(task: Task, job_id: str, job: dict[str, Any], items: list[dict[str, Any]]) -> int:
    """Body of ``rap.llm_batch``: answer the chunk's pending prompts; returns how many
    results this call wrote."""
    config = agent_config(task.app)
    skip = finished_items(config, job_id, [i["id"] for i in items])
    written = 0
    finished = False
    pending = [i for i in items if i["id"] not in skip]
    if not pending:  # a redelivery of finished work: only the completion webhook may be owed
        renotify_if_lost(task.app, config, job_id)
        return 0
    for pos, item in enumerate(pending):
        try:
            result = _answer(task, config, job, item["prompt"])
            value = orjson.dumps(result)
            # over the server's limit the write would drop the connection, read as Redis
            # down and retried for good, the job never finishing
            config.check_value_sizes((value,), f"the result of item {item['id']}")
        except RETRYABLE as exc:
            retry = retry_fault(task, exc)
            if retry is not exc:
                raise retry from exc
            mark = _fail(config, job_id, item, f"{type(exc).__name__}: {exc}")
        except ValueTooLargeError as exc:  # this answer alone (its cache entry or result)
            log.warning("batch job %s prompt %s: %s", job_id, item["id"], exc)
            mark = _fail(config, job_id, item, f"the model's answer cannot be stored: {exc}")
        except ConfigError as exc:  # a broken setup fails every remaining prompt alike
            log.error("batch job %s cannot run: %s", job_id, exc)
            rest = [i["id"] for i in pending[pos:]]
            mark = mark_items(config, job_id, rest, ok=False, values=[str(exc)] * len(rest))
            finished = finished or mark.finished
            break
        except Exception as exc:  # the model failed on this prompt
            if _is_retry(exc):
                raise
            log.warning("batch job %s prompt %s failed: %s", job_id, item["id"], exc)
            mark = _fail(config, job_id, item, f"{type(exc).__name__}: {exc}")
        else:
            mark = mark_items(config, job_id, [item["id"]], ok=True, values=[value])
            written += mark.added
        finished = finished or mark.finished
    if finished:
        notify_job_finished(task.app, config, job_id)
    return written


#: the task kwarg counting a chunk's Redis-fault retries (not signed: a forged count
#: can only end the retries sooner, a negative one reads as 0)
FAULTS_KWARG = "rap_faults"


def fault_retries(task: Task) -> int:
    """How many times this chunk was retried for a Redis fault. A count of its own:
    ``request.retries`` counts the rate-limit waits too, so a chunk refused 5+ times by
    its limiter failed a prompt on its next Redis fault without one retry."""
    n = (task.request.kwargs or {}).get(FAULTS_KWARG, 0)
    return n if type(n) is int and n > 0 else 0


def retry_fault(task: Task, exc: BaseException) -> BaseException:
    """The retry (sent) of a chunk hit by a Redis fault, with backoff, or ``exc`` once
    its ``task.max_retries`` fault retries are spent; rate-limit waits do not count."""
    faults = fault_retries(task)
    if faults >= (task.max_retries or 0):
        return exc
    wait = held_countdown(task.app, backoff(faults, 0.5, 30.0))
    kwargs = {**(task.request.kwargs or {}), FAULTS_KWARG: faults + 1}
    # Celery's own check compares request.retries (waits included): unbounded here
    return retry_later(task, exc=exc, countdown=wait, kwargs=kwargs, max_retries=math.inf)


def _fail(config: RedisAgentConfig, job_id: str, item: Mapping[str, Any], error: str) -> Any:
    return mark_items(config, job_id, [item["id"]], ok=False, values=[error])


def _is_retry(exc: BaseException) -> bool:
    from celery.exceptions import Retry

    return isinstance(exc, Retry)
