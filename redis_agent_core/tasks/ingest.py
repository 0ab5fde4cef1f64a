"""Background ingestion: documents embedded in batches by workers and written to a
vector index, idempotent by document id, with progress readable by job id.

The index travels as ``(registered class name, index.to_spec())`` and is rebuilt on
the worker with ``from_spec(spec, config=..., embedder=...)``; any class registered
with :func:`~.registry.register_index` that has that contract and an
``add(texts, *, ids, metadatas, vectors)`` overwriting by id works (the pack's
:class:`~redis_agent_core.vectors.VectorIndex` is built in as ``"vector_index"``).
Embedders are registered names too; nothing a message names is imported.

Redelivery (a worker died mid-batch) is safe: items already done are skipped,
``add`` overwrites by id, and each item counts once. A batch that keeps failing on a
server fault is retried with backoff; one that fails on its data is split so only
the bad documents are marked failed, with their error.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from ..config import RedisAgentConfig, backoff
from ..errors import ConfigError
from ..vectors.schema import VectorSchema, first_invalid
from ._common import RETRYABLE, WorkerCache, agent_config
from .progress import finished_items, mark_items
from .registry import lookup, resolve
from .webhooks import held_countdown, notify_job_finished, renotify_if_lost

if TYPE_CHECKING:
    from celery import Task

__all__ = ["decode_vectors", "encode_vector", "run_batch"]

log = logging.getLogger(__name__)


def encode_vector(vector: Any, dims: int | None = None, item: str = "") -> str:
    """float32 bytes in base64: a fifth of the JSON size of a float list (message size
    and the broker's JSON encoding dominate queued ingestion of given vectors). ``dims``:
    the index's, checked here (the worker would fail the item)."""
    array = np.asarray(vector, dtype="<f4")
    if array.ndim != 1 or not np.isfinite(array).all():
        raise ConfigError("an ingestion item's 'vector' must be a flat list of finite numbers")
    if dims is not None and array.shape[0] != dims:
        raise ConfigError(
            f"ingestion item {item}: 'vector' has {array.shape[0]} dimensions, the index "
            f"takes {dims} (nothing was queued)"
        )
    return base64.b64encode(array.tobytes()).decode("ascii")


def decode_vectors(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.stack([np.frombuffer(base64.b64decode(r["vector_b64"]), dtype="<f4") for r in rows])


def _validate_items(
    items: Sequence[Mapping[str, Any]], schema: VectorSchema | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for pos, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigError(f"ingestion item {pos} is not a dict with 'id' and 'text'")
        doc_id, text = item.get("id"), item.get("text")
        if not isinstance(doc_id, str) or not doc_id:
            raise ConfigError(f"ingestion item {pos} needs a non-empty string 'id'")
        if not isinstance(text, str):
            raise ConfigError(f"ingestion item {doc_id!r} needs a string 'text'")
        if doc_id in seen:
            raise ConfigError(f"ingestion item id {doc_id!r} appears twice in one job")
        seen.add(doc_id)
        row: dict[str, Any] = {
            "id": doc_id,
            "text": text,
            "metadata": dict(item.get("metadata") or {}),
        }
        if item.get("vector") is not None:
            dims = None if schema is None else schema.dims
            row["vector_b64"] = encode_vector(item["vector"], dims, f"{pos} ({doc_id[:40]!r})")
        out.append(row)
    # what the index would refuse on the worker is refused here, before the job exists
    bad = first_invalid(
        [r["id"] for r in out], [r["text"] for r in out], [r["metadata"] for r in out], schema
    )
    if bad is not None:
        pos, field, reason = bad
        raise ConfigError(f"ingestion item {pos} ({out[pos]['id'][:40]!r}): {field}: {reason}")
    return out


_indexes = WorkerCache(16)


def _index_for(config: RedisAgentConfig, job: Mapping[str, Any]) -> Any:
    """Rebuild (and cache per worker process) the job's index."""

    def build() -> Any:
        cls = resolve("index", job["index"])
        from_spec = getattr(cls, "from_spec", None)
        if not callable(from_spec) or not callable(getattr(cls, "add", None)):
            raise ConfigError(f"{job['index']!r} is not an index class (needs from_spec and add)")
        return from_spec(job["spec"], config=config, embedder=_embedder(job))

    cache_key = (id(config), orjson.dumps(job, option=orjson.OPT_SORT_KEYS).decode())
    return _indexes.get(cache_key, build)


def _embedder(job: Mapping[str, Any]) -> Any:
    """The job's embedder: the one it names, else one registered under the name the
    index's spec records, else None (the index builds its own, or says what is missing)."""
    if job.get("embedder"):
        return resolve("embedder", job["embedder"])()
    spec = job.get("spec")
    recorded = spec.get("embedder") if isinstance(spec, Mapping) else None
    factory = lookup("embedder", recorded) if isinstance(recorded, str) else None
    return factory() if factory is not None else None


def _add(index: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    vectors = decode_vectors(rows) if all("vector_b64" in r for r in rows) else None
    index.add(
        [r["text"] for r in rows],
        ids=[r["id"] for r in rows],
        metadatas=[r["metadata"] for r in rows],
        vectors=vectors,
    )


def run_batch(task: Task, job_id: str, job: dict[str, Any], items: list[dict[str, Any]]) -> int:
    """Body of ``rap.ingest_batch``: add the batch's pending items; returns how many
    this call marked done."""
    config = agent_config(task.app)
    skip = finished_items(config, job_id, [r["id"] for r in items])
    rows = [r for r in items if r["id"] not in skip]
    if not rows:  # a redelivery of finished work: only the completion webhook may be owed
        renotify_if_lost(task.app, config, job_id)
        return 0
    try:
        index = _index_for(config, job)
        _add(index, rows)
    except RETRYABLE as exc:
        if task.request.retries < (task.max_retries or 0):
            wait = held_countdown(task.app, backoff(task.request.retries, 0.5, 30.0))
            raise task.retry(exc=exc, countdown=wait) from exc
        result = mark_items(
            config, job_id, [r["id"] for r in rows], ok=False,
            values=[f"{type(exc).__name__}: {exc}"] * len(rows),
        )  # fmt: skip
        if result.finished:
            notify_job_finished(task.app, config, job_id)
        return 0
    except Exception as exc:  # bad data or a bad index: isolate the failing documents
        log.warning("ingestion batch of job %s failed (%s); retrying one by one", job_id, exc)
        return _one_by_one(task, config, job_id, job, rows)
    result = mark_items(config, job_id, [r["id"] for r in rows], ok=True)
    if result.finished:
        notify_job_finished(task.app, config, job_id)
    return result.added


def _one_by_one(
    task: Task,
    config: RedisAgentConfig,
    job_id: str,
    job: dict[str, Any],
    rows: list[dict[str, Any]],
) -> int:
    added = 0
    finished = False
    try:
        index = _index_for(config, job)
    except Exception as exc:  # the index itself cannot be built: every item fails
        result = mark_items(
            config, job_id, [r["id"] for r in rows], ok=False,
            values=[f"{type(exc).__name__}: {exc}"] * len(rows),
        )  # fmt: skip
        if result.finished:
            notify_job_finished(task.app, config, job_id)
        return 0
    for row in rows:
        try:
            _add(index, [row])
            result = mark_items(config, job_id, [row["id"]], ok=True)
            added += result.added
        except RETRYABLE:
            raise  # the server went away: let Celery redeliver (acks_late)
        except Exception as exc:
            result = mark_items(
                config, job_id, [row["id"]], ok=False, values=[f"{type(exc).__name__}: {exc}"]
            )
        finished = finished or result.finished
    if finished:
        notify_job_finished(task.app, config, job_id)
    return added
