"""Background work on Celery over Redis (role 5): ingestion into vector indexes,
batch LLM calls, signed webhooks, and job progress readable by job id.

Start a worker with ``celery -A redis_agent_core.tasks.app worker`` (it reads
``REDIS_URL``), or build an app from a config with :func:`create_app` in a module of
your own that also registers what the worker may run (``register_model`` ...): task
messages carry names, never import paths.
Importing this package does not import Celery: the names load on first use.
"""

from __future__ import annotations

from typing import Any

from .destinations import DestinationPolicy, DestinationRefusedError
from .progress import (
    JobExistsError,
    JobNotFoundError,
    JobProgress,
    JobTimeoutError,
    aget_job,
    await_job,
    get_job,
    job_failures,
    wait_for_job,
)
from .registry import (
    NotRegisteredError,
    register_adapted,
    register_cache,
    register_embedder,
    register_index,
    register_limiter,
    register_model,
    registered,
)
from .signing import TaskSignatureError
from .webhooks import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Webhook,
    dead_letters,
    sign_payload,
    verify_signature,
)

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "DestinationPolicy",
    "DestinationRefusedError",
    "JobExistsError",
    "JobNotFoundError",
    "JobProgress",
    "JobTimeoutError",
    "NotRegisteredError",
    "TaskSignatureError",
    "Webhook",
    "aget_job",
    "await_job",
    "celery_url",
    "create_app",
    "dead_letters",
    "get_batch_results",
    "get_job",
    "job_failures",
    "register_adapted",
    "register_cache",
    "register_embedder",
    "register_index",
    "register_limiter",
    "register_model",
    "registered",
    "sign_payload",
    "submit_batch",
    "submit_ingestion",
    "submit_webhook",
    "verify_signature",
    "wait_for_job",
]

_LAZY = {
    "celery_url": ".app",
    "create_app": ".app",
    "submit_ingestion": ".submit",
    "submit_batch": ".submit",
    "get_batch_results": ".batch",
    "submit_webhook": ".submit",
}


def __getattr__(name: str) -> Any:
    # Celery is an optional extra: import it only when a task function is used
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module, __name__), name)
