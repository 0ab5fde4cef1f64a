"""Job progress in Redis: done / total / failed, readable by job id from anywhere.

A job is a hash (``keys.job``) plus sets of finished item ids and a hash of errors,
all under one hash tag. Items are marked by one Lua script that is idempotent: an
item counts once however many times a redelivered task reports it, its result is
written once (HSETNX), and exactly one caller learns that the job just finished
(so the completion webhook is sent once).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from .. import telemetry
from ..config import MAX_TTL, RedisAgentConfig, check_seconds, get_default_config
from ..errors import ConfigError, DataCorruptionError, RedisAgentError
from ..redis_errors import translate_errors
from ..scripts import Script
from ._common import clip_error

__all__ = [
    "FINAL_STATUSES",
    "JobExistsError",
    "JobNotFoundError",
    "JobProgress",
    "JobTimeoutError",
    "MarkResult",
    "aget_job",
    "await_job",
    "create_job",
    "get_job",
    "job_failures",
    "mark_items",
    "new_job_id",
    "parse_job",
    "wait_for_job",
]

DEFAULT_JOB_TTL = 7 * 24 * 3600
FINAL_STATUSES = frozenset({"succeeded", "partial", "failed"})


class JobNotFoundError(RedisAgentError, LookupError):
    """No job with this id (never created, or expired after its TTL)."""


class JobTimeoutError(RedisAgentError, TimeoutError):
    """A job did not finish within the time waited for it."""


class JobExistsError(ConfigError):
    """A job id given to ``submit_*`` / :func:`create_job` is already in use: job ids
    are never reused (that would reset another job's progress and results)."""


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class JobProgress:
    """A snapshot of one job.

    ``status``: pending (queued) → running → succeeded (no item failed), partial
    (some failed) or failed (all failed). ``webhook``: none, pending, delivered or dead.
    """

    job_id: str
    kind: str
    status: str
    total: int
    done: int
    failed: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    webhook: str
    meta: dict[str, Any]

    @property
    def finished(self) -> bool:
        """Every item is done or failed."""
        return self.status in FINAL_STATUSES

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.done - self.failed)

    @property
    def fraction(self) -> float:
        """Share of items finished (done or failed), 0..1."""
        return 1.0 if self.total == 0 else (self.done + self.failed) / self.total

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "webhook": self.webhook,
            "meta": self.meta,
        }


def new_job_id() -> str:
    return uuid.uuid4().hex


def parse_job(job_id: str, raw: Mapping[Any, Any]) -> JobProgress:
    """Build a :class:`JobProgress` from the job hash (raises if it is empty)."""
    if not raw:
        raise JobNotFoundError(
            f"no job {job_id!r}: it was never submitted to this namespace, or it expired "
            "(job records keep for job_ttl seconds after submission)"
        )
    data = {_s(k): _s(v) for k, v in raw.items()}

    def opt(name: str) -> float | None:
        return float(data[name]) if data.get(name) else None

    try:
        meta = orjson.loads(data["meta"]) if data.get("meta") else {}
        if not isinstance(meta, dict):
            raise ValueError(f"meta is a JSON {type(meta).__name__}, not an object")
        return JobProgress(
            job_id=job_id,
            kind=data.get("kind", ""),
            status=data.get("status", "pending"),
            total=int(data.get("total", 0)),
            done=int(data.get("done", 0)),
            failed=int(data.get("failed", 0)),
            created_at=float(data.get("created_at", 0)),
            started_at=opt("started_at"),
            finished_at=opt("finished_at"),
            webhook=data.get("webhook", "none"),
            meta=meta,
        )
    except ValueError as exc:  # orjson's errors are ValueErrors too
        raise DataCorruptionError(
            f"the record of job {job_id!r} is damaged ({exc}): it was written by something "
            "other than this package, or altered in Redis; submit the job again"
        ) from exc


def create_job(
    config: RedisAgentConfig,
    job_id: str,
    *,
    kind: str,
    total: int,
    ttl: int = DEFAULT_JOB_TTL,
    meta: Mapping[str, Any] | None = None,
    webhook: Mapping[str, Any] | None = None,
    ttl_name: str = "job ttl",
) -> None:
    """Write a new job's record (status pending). ``webhook`` is the completion hook.
    ``ttl``: finite seconds > 0, up to 100 years (a fraction rounds up), else
    :class:`ConfigError` naming ``ttl_name`` (the submitter's argument).

    :class:`JobExistsError` if a job with this id exists (nothing is written).
    """
    # checked before the script: its EXPIRE refusing a NaN, a fraction or 1e20 came after
    # its HSET, which left a record pending forever and never expiring
    seconds = math.ceil(check_seconds(ttl, ttl_name, most=MAX_TTL))
    if not isinstance(job_id, str) or not job_id or len(job_id) > 200:
        raise ConfigError(
            f"a job id must be a non-empty string of at most 200 characters, got {job_id!r}"
        )
    fields: dict[str, Any] = {
        "kind": kind,
        "status": "pending",
        "total": total,
        "done": 0,
        "failed": 0,
        "created_at": time.time(),
        "webhook": "pending" if webhook else "none",
        "meta": orjson.dumps(dict(meta or {})),
    }
    if webhook:
        fields["webhook_spec"] = orjson.dumps(dict(webhook))
    key_list = _job_keys(config, job_id)
    argv: list[Any] = [seconds]
    for name, value in fields.items():
        argv += [name, value]
    with translate_errors(config, f"creating job {job_id}"):
        created = _CREATE(config.get_client(), key_list, argv, wait=config.backoff)
    if not int(created):
        raise JobExistsError(
            f"job id {job_id!r} is already in use in namespace {config.namespace!r}: job ids "
            "are never reused; omit job_id= for a fresh one, or pick another"
        )
    telemetry.queue_job(kind, "submitted")


def _job_keys(config: RedisAgentConfig, job_id: str) -> list[str]:
    """A job's keys: state, done set, failed set, errors hash, results hash."""
    keys = config.keys
    return [
        keys.job(job_id),
        keys.job_items(job_id, "done"),
        keys.job_items(job_id, "failed"),
        keys.job_errors(job_id),
        keys.job_result(job_id),
    ]


def discard_job(config: RedisAgentConfig, job_id: str) -> None:
    """Delete a job's record, which frees its id: only for a job none of whose tasks
    was queued (a submit whose broker failed), so no worker can be updating it."""
    with translate_errors(config, f"removing job {job_id}"):
        config.get_client().delete(*_job_keys(config, job_id))


# Claim a job id atomically: refuse an existing record; otherwise clear what an
# expired job of that id may have left (its sets share its TTL) and write the record.
# KEYS: state, done set, failed set, errors hash, results hash. ARGV: ttl, field, value...
# Not re-sent after a lost reply: a re-run would refuse the job it just created.
_CREATE = Script.load(__package__, "create_job.lua", idempotent=False)


# KEYS: state, done set, failed set, errors hash, results hash
# ARGV: mode ('done'|'failed'), now, n, id_1..id_n, [value_1..value_n]
# Values: results (done) or error texts (failed); written only for newly added items.
# Not re-sent after a lost reply: a re-run would answer "nothing added, not finished",
# and the job's end would go unreported.
_MARK = Script.load(__package__, "mark_items.lua", idempotent=False)


@dataclass(frozen=True)
class MarkResult:
    """Outcome of :func:`mark_items`: how many items were new, and whether this call
    finished the job (true for exactly one call per job)."""

    added: int
    finished: bool
    status: str


def _mark_args(
    config: RedisAgentConfig,
    job_id: str,
    ids: Sequence[str],
    ok: bool,
    values: Sequence[str | bytes] | None,
) -> tuple[list[str], list[Any]]:
    if values is not None and len(values) != len(ids):
        raise ConfigError("mark_items: values must match ids one to one")
    key_list = _job_keys(config, job_id)
    argv: list[Any] = ["done" if ok else "failed", repr(time.time()), len(ids), *ids]
    if values is not None:
        argv += list(values) if ok else [clip_error(v) for v in values]
    return key_list, argv


def _not_found(job_id: str) -> JobNotFoundError:
    return JobNotFoundError(f"job {job_id!r} does not exist (expired or never created)")


_LOST_ITEMS = -2  # mark_items.lua: an item set holds fewer items than its count


def _parse_mark(job_id: str, reply: Sequence[Any]) -> MarkResult:
    added = int(reply[0])
    if added == _LOST_ITEMS:
        raise DataCorruptionError(
            f"job {job_id!r} lost the record of which items finished (a key evicted by a "
            "maxmemory-policy that evicts): counting them again could report it finished "
            "with items never run, so its progress is not updated. Submit the job again, "
            "and give the task queue a Redis with maxmemory-policy noeviction "
            "(docs/operations.md, Memory)."
        )
    if added < 0:
        raise _not_found(job_id)
    return MarkResult(added=added, finished=bool(int(reply[1])), status=_s(reply[2]))


def mark_items(
    config: RedisAgentConfig,
    job_id: str,
    ids: Sequence[str],
    *,
    ok: bool = True,
    values: Sequence[str | bytes] | None = None,
) -> MarkResult:
    """Record items as done (with optional results) or failed (with optional errors).

    Idempotent per item: an item already done or failed is not counted again and
    its result is never overwritten.
    """
    key_list, argv = _mark_args(config, job_id, ids, ok, values)
    with translate_errors(config, f"updating the progress of job {job_id}"):
        reply = _MARK(config.get_client(), key_list, argv, wait=config.backoff)
    result = _parse_mark(job_id, reply)
    if result.finished:  # once per job: its kind and age for the job metrics
        kind, created = config.get_client().hmget(key_list[0], ["kind", "created_at"])
        age = time.time() - float(created) if created else None
        telemetry.queue_job(_s(kind) if kind else "job", result.status, age)
    return result


def finished_items(config: RedisAgentConfig, job_id: str, ids: Sequence[str]) -> set[str]:
    """The ids among ``ids`` already done or failed (to skip on redelivery).

    :class:`JobNotFoundError` if the job does not exist: a task body calls this first,
    so a message for an unknown (forged or expired) job runs no model and writes nothing.
    """
    keys = config.keys
    with translate_errors(config, f"reading the progress of job {job_id}"):
        pipe = config.get_client().pipeline(transaction=False)
        pipe.exists(keys.job(job_id))
        if ids:
            pipe.smismember(keys.job_items(job_id, "done"), list(ids))
            pipe.smismember(keys.job_items(job_id, "failed"), list(ids))
        exists, *found = pipe.execute()
    if not exists:
        raise _not_found(job_id)
    if not ids:
        return set()
    done, failed = found
    return {i for i, a, b in zip(ids, done, failed, strict=True) if a or b}


def get_job(job_id: str, *, config: RedisAgentConfig | None = None) -> JobProgress:
    """Progress of a job; :class:`JobNotFoundError` if unknown or expired."""
    config = config or get_default_config()
    with translate_errors(config, f"reading job {job_id}"):
        raw = config.get_client().hgetall(config.keys.job(job_id))
    return parse_job(job_id, raw)


async def aget_job(job_id: str, *, config: RedisAgentConfig | None = None) -> JobProgress:
    """Async :func:`get_job`."""
    config = config or get_default_config()
    with translate_errors(config, f"reading job {job_id}"):
        raw = await config.get_async_client().hgetall(config.keys.job(job_id))
    return parse_job(job_id, raw)


def job_failures(job_id: str, *, config: RedisAgentConfig | None = None) -> dict[str, str]:
    """Failed item ids of a job and their errors."""
    config = config or get_default_config()
    with translate_errors(config, f"reading the failures of job {job_id}"):
        raw = config.get_client().hgetall(config.keys.job_errors(job_id))
    return {_s(k): _s(v) for k, v in raw.items()}


def wait_for_job(
    job_id: str,
    *,
    config: RedisAgentConfig | None = None,
    timeout: float = 60.0,
    poll: float = 0.05,
) -> JobProgress:
    """Poll until the job finished; :class:`JobTimeoutError` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(job_id, config=config)
        if job.finished:
            return job
        if time.monotonic() >= deadline:
            raise JobTimeoutError(
                f"job {job_id} not finished after {timeout:g}s ({job.done} done, "
                f"{job.failed} failed of {job.total}): is a worker running "
                "(celery -A redis_agent_core.tasks.app worker) on the same Redis?"
            )
        time.sleep(poll)


async def await_job(
    job_id: str,
    *,
    config: RedisAgentConfig | None = None,
    timeout: float = 60.0,
    poll: float = 0.05,
) -> JobProgress:
    """Async :func:`wait_for_job`."""
    import asyncio

    deadline = time.monotonic() + timeout
    while True:
        job = await aget_job(job_id, config=config)
        if job.finished:
            return job
        if time.monotonic() >= deadline:
            raise JobTimeoutError(
                f"job {job_id} not finished after {timeout:g}s ({job.done} done, "
                f"{job.failed} failed of {job.total}): is a worker running "
                "(celery -A redis_agent_core.tasks.app worker) on the same Redis?"
            )
        await asyncio.sleep(poll)
