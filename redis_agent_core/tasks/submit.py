"""Submitting work: :func:`submit_ingestion`, :func:`submit_batch`, :func:`submit_webhook`.

Each checks its arguments, records the job and queues its tasks on ``app`` (default:
the module-level app that ``celery -A redis_agent_core.tasks.app worker`` runs). The
layer above the app: the task bodies (:mod:`.ingest`, :mod:`.batch`, :mod:`.webhooks`)
never import it nor the app, so the package has no import cycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..config import RedisAgentConfig, check_count
from ..errors import ConfigError, RedisUnavailableError
from ..ratelimit.limiter import check_subject, check_tokens, check_wait
from ..vectors.schema import VectorSchema
from ._common import agent_config
from .app import app as _module_app
from .batch import MAX_PROMPTS
from .ingest import _validate_items
from .progress import DEFAULT_JOB_TTL, create_job, discard_job, mark_items, new_job_id
from .queue import check_message_sizes, send_task
from .registry import check_name, index_name_for
from .signing import check_queueable
from .webhooks import (
    Webhook,
    check_destination,
    check_idempotency_key,
    encode_body,
    notify_job_finished,
    webhook_secret,
)

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["default_app", "submit_batch", "submit_ingestion", "submit_webhook"]


def default_app() -> Celery:
    """The module-level app that ``celery -A redis_agent_core.tasks.app worker`` runs."""
    return _module_app


def _signs(app: Celery) -> bool:
    return bool(getattr(app, "task_secret", None))


def submit_ingestion(
    index: Any,
    items: Sequence[Mapping[str, Any]],
    *,
    batch_size: int = 64,
    embedder: str | None = None,
    index_type: str | None = None,
    webhook: str | Webhook | None = None,
    job_id: str | None = None,
    job_ttl: int = DEFAULT_JOB_TTL,
    app: Celery | None = None,
    config: RedisAgentConfig | None = None,
) -> str:
    """Queue ``items`` for ``index`` and return the job id.

    Items are ``{"id", "text", "metadata"?, "vector"?}`` dicts.

    ``embedder``: name of an embedder registered on the workers
    (:func:`~.registry.register_embedder`; default: the one registered under the
    index's embedder name, else the index's own). Items with a ``vector`` skip
    embedding. ``index_type``: the name the index class is registered under on the
    workers (default: looked up by class here; ``"vector_index"`` for
    :class:`~redis_agent_core.vectors.VectorIndex`). ``webhook`` is POSTed when the
    job finishes. Progress: ``get_job(id)``.
    """
    # before the job is written: a float here failed in range() after it was, leaving
    # a job pending forever with nothing queued
    check_count(batch_size, "batch_size")
    if not callable(getattr(type(index), "from_spec", None)) or not callable(
        getattr(index, "to_spec", None)
    ):
        raise ConfigError(
            f"{type(index).__name__} cannot be rebuilt on a worker: it needs to_spec() "
            "and a from_spec() classmethod (redis_agent_core.vectors.VectorIndex has both)"
        )
    if embedder is not None:
        check_name("embedder", embedder)
    kind = check_name("index", index_type) if index_type else index_name_for(type(index))
    schema = getattr(index, "schema", None)  # a VectorIndex's: its checks apply here
    rows = _validate_items(items, schema if isinstance(schema, VectorSchema) else None)
    hook = Webhook.coerce(webhook)
    app = app or default_app()
    check_queueable(rows, "items", signed=_signs(app))
    if hook is not None:
        check_destination(app, hook)
    config = config or agent_config(app)
    job_id = job_id or new_job_id()
    spec = index.to_spec()
    job = {"index": kind, "spec": spec, "embedder": embedder}
    orjson.dumps(job)  # spec must be JSON: fail here, not on the worker
    _check_chunks(app, config, job_id, job, rows, batch_size, "batch_size")
    create_job(
        config,
        job_id,
        kind="ingest",
        total=len(rows),
        ttl=job_ttl,
        ttl_name="job_ttl",
        meta={"index": spec.get("name") if isinstance(spec, Mapping) else None},
        webhook=hook.to_dict() if hook else None,
    )
    if not rows:  # nothing to do: finish now so waiters and the webhook see it
        if mark_items(config, job_id, []).finished:
            notify_job_finished(app, config, job_id)
        return job_id
    _queue_chunks(app, config, job_id, "rap.ingest_batch", job, rows, batch_size)
    return job_id


def submit_batch(
    prompts: Sequence[str],
    *,
    model: str,
    model_kwargs: Mapping[str, Any] | None = None,
    chunk_size: int = 8,
    cache: bool | str = True,
    limiter: str | None = None,
    user: str | None = None,
    org: str | None = None,
    estimate_tokens: int = 0,
    limiter_wait: float = 5.0,
    result_ttl: int = 3600,
    webhook: str | Webhook | None = None,
    job_id: str | None = None,
    app: Celery | None = None,
    config: RedisAgentConfig | None = None,
) -> str:
    """Queue ``prompts`` for ``model`` (a name registered on the workers with
    :func:`~.registry.register_model`); return the job id.

    ``cache``: True uses the pack's exact LLM cache, False none, or the name of a
    cache registered with :func:`~.registry.register_cache`. ``limiter``: the name of
    a limiter registered with :func:`~.registry.register_limiter`, charged per call for ``user`` /
    ``org`` with ``estimate_tokens`` reserved then settled to the real usage. Results
    (``get_batch_results``) and progress expire after ``result_ttl`` seconds.
    """
    check_count(chunk_size, "chunk_size")  # before the job is written, as batch_size
    prompts = list(prompts)
    if len(prompts) > MAX_PROMPTS:
        raise ConfigError(
            f"{len(prompts):,} prompts in one batch; a batch takes at most {MAX_PROMPTS:,}: "
            "submit them as several batches"
        )
    for pos, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise ConfigError(f"prompt {pos} is {type(prompt).__name__}, expected str")
    # only the form is checked here: the names are registered on the workers
    check_name("model", model)
    if limiter is not None:
        check_name("limiter", limiter)
    if not isinstance(cache, bool):
        check_name("cache", cache)
    kwargs = dict(model_kwargs or {})
    # the limiter's own checks, which the worker applies to each call: refused here,
    # before the job is written, rather than failing every prompt later
    job = {
        "model": model,
        "model_kwargs": kwargs,
        "cache": cache,
        "limiter": limiter,
        "user": check_subject(user, "user"),
        "org": check_subject(org, "org"),
        "estimate_tokens": check_tokens(estimate_tokens, "estimate_tokens"),
        "limiter_wait": check_wait(limiter_wait, "limiter_wait"),
    }
    try:
        orjson.dumps(job)
    except TypeError as exc:
        raise ConfigError(f"model_kwargs must be JSON-serialisable ({exc})") from exc
    hook = Webhook.coerce(webhook)
    app = app or default_app()
    check_queueable(kwargs, "model_kwargs", signed=_signs(app))
    if hook is not None:
        check_destination(app, hook)
    config = config or agent_config(app)
    job_id = job_id or new_job_id()
    items = [{"id": str(i), "prompt": p} for i, p in enumerate(prompts)]
    _check_chunks(app, config, job_id, job, items, chunk_size, "chunk_size")
    create_job(
        config,
        job_id,
        kind="llm_batch",
        total=len(prompts),
        ttl=result_ttl,
        ttl_name="result_ttl",
        meta={"model": model},
        webhook=hook.to_dict() if hook else None,
    )
    if not items:
        if mark_items(config, job_id, []).finished:
            notify_job_finished(app, config, job_id)
        return job_id
    _queue_chunks(app, config, job_id, "rap.llm_batch", job, items, chunk_size)
    return job_id


def _check_chunks(
    app: Celery,
    config: RedisAgentConfig,
    job_id: str,
    job: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    size: int,
    size_name: str,
) -> None:
    """Refuse, before the job is written, a chunk whose task message is over the
    broker's limit (``config.max_value_bytes``), naming the chunk and ``size_name``."""
    starts = range(0, len(items), size)
    check_message_sizes(
        app,
        config,
        [[job_id, job, items[start : start + size]] for start in starts],
        lambda i: (
            f"the task message of items {starts[i]}-{min(starts[i] + size, len(items)) - 1} "
            f"({size_name}={size}; no job was created)"
        ),
    )


def _queue_chunks(
    app: Celery,
    config: RedisAgentConfig,
    job_id: str,
    task: str,
    job: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    size: int,
) -> None:
    """Queue ``items`` as tasks of ``size`` items. If the broker fails, no job is left
    looking live: with nothing queued its record is removed (the id may be submitted
    again); else the items not queued are marked failed, so the job ends once the queued
    ones are done. The broker's error is raised, its message saying which."""
    for start in range(0, len(items), size):
        try:
            send_task(app, task, [job_id, job, items[start : start + size]])
        except RedisUnavailableError as exc:
            # same error object (its type, .cause and chain stay), told what became of the job
            exc.args = (f"{exc} {_end_unqueued(app, config, job_id, items, start, exc)}",)
            raise


def _end_unqueued(
    app: Celery,
    config: RedisAgentConfig,
    job_id: str,
    items: Sequence[Mapping[str, Any]],
    queued: int,
    exc: Exception,
) -> str:
    """End the job whose items from ``queued`` on were not queued; say what was done."""
    rest = [str(item["id"]) for item in items[queued:]]
    reason = f"not queued: the broker failed at submit ({type(exc).__name__})"
    finished = False
    try:
        if not queued:
            discard_job(config, job_id)
            return f"Nothing was queued and job {job_id!r} was removed: submit it again."
        for at in range(0, len(rest), _MARK_CHUNK):
            ids = rest[at : at + _MARK_CHUNK]
            finished |= mark_items(
                config, job_id, ids, ok=False, values=[reason] * len(ids)
            ).finished
    except RedisUnavailableError as store_exc:  # the job store is out too (often the same server)
        return (
            f"Job {job_id!r} ({queued} of {len(items)} items queued) could not be removed or "
            f"ended ({store_exc}): it will never finish; submit all items under a new job id."
        )
    told = (
        f"{queued} of {len(items)} items were queued under job {job_id!r}; the other "
        f"{len(rest)} are marked failed ({reason!r}, see job_failures), so the job ends "
        "(partial) once workers have done the queued ones, and its webhook fires then. "
        "Submit the failed items again under a new job id."
    )
    if finished:  # the workers were done already: this call ended the job
        try:
            notify_job_finished(app, config, job_id)
        except RedisUnavailableError:
            told += (
                " Its webhook could not be queued: call redis_agent_core.tasks.webhooks."
                f"renotify_if_lost(app, config, {job_id!r}) once the broker is back."
            )
    return told


# items marked failed per script call when a submit could not queue them: one call for
# a million ids would block the server
_MARK_CHUNK = 1000


def submit_webhook(
    webhook: str | Webhook,
    payload: Any,
    *,
    idempotency_key: str | None = None,
    job_id: str | None = None,
    app: Celery | None = None,
) -> str:
    """Queue a signed delivery of ``payload``; returns its idempotency key."""
    app = app or default_app()
    hook = Webhook.coerce(webhook)
    assert hook is not None
    webhook_secret(app)  # fail now, not on the worker
    check_queueable(payload, "payload", signed=_signs(app))
    check_destination(app, hook)
    encode_body(payload)  # a non-JSON payload fails here too
    key = idempotency_key or uuid.uuid4().hex
    check_idempotency_key(key)  # a header value: CR/LF or non-ASCII fail on the worker
    args = [hook.to_dict(), payload, key, job_id]
    check_message_sizes(app, agent_config(app), [args], lambda _: "the webhook's task message")
    send_task(app, "rap.deliver_webhook", args)
    return key
