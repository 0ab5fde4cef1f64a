"""Optional HMAC signing of task messages with a secret shared by submitters and workers.

With ``create_app(task_secret=...)`` (or ``REDIS_AGENT_TASK_SECRET``) every pack task
the app queues carries ``HMAC-SHA256(secret, task name + canonical JSON of its args)``,
and a worker with a secret refuses a message whose signature is missing or wrong, and
any task outside :data:`SIGNED_TASKS` (Celery's built-ins, ``rap.noop``), with
:class:`TaskSignatureError` before the task touches anything. Someone who can write
to the broker but does not hold the secret can then queue nothing the worker runs.

A signature does not expire: Celery retries and redeliveries resend the same message
hours later. Replaying a genuine message redoes idempotent work (items count once).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from typing import Any

import orjson

from ..errors import RedisAgentError

__all__ = [
    "ENV_TASK_SECRET",
    "SIGNATURE_KWARG",
    "SIGNED_TASKS",
    "TaskSignatureError",
    "sign_task",
    "task_secret_from_env",
    "verify_task",
]

ENV_TASK_SECRET = "REDIS_AGENT_TASK_SECRET"
SIGNATURE_KWARG = "rap_signature"
_VERSION = "v1="
# the tasks that carry a signature; a worker with a secret runs no other task (Celery's
# built-ins such as celery.chord_unlock and rap.noop included), see app._GuardedTask
SIGNED_TASKS = frozenset({"rap.ingest_batch", "rap.llm_batch", "rap.deliver_webhook"})


class TaskSignatureError(RedisAgentError):
    """A task message is unsigned or its signature does not match this worker's secret
    (forged, altered, or signed with another secret); the task did nothing."""


def task_secret_from_env() -> bytes | None:
    value = os.environ.get(ENV_TASK_SECRET)
    return value.encode() if value else None


def _canonical(name: str, args: Sequence[Any]) -> bytes:
    # the worker sees args as decoded from the broker's JSON: sign that form, with keys
    # sorted, so both sides hash the same bytes whatever the dict order on the wire
    from kombu.utils.json import dumps, loads

    wire = loads(dumps(list(args)))
    return orjson.dumps([name, wire], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def sign_task(secret: bytes, name: str, args: Sequence[Any]) -> str:
    """The signature of task ``name`` called with ``args``."""
    return _VERSION + hmac.new(secret, _canonical(name, args), hashlib.sha256).hexdigest()


def verify_task(secret: bytes, name: str, args: Sequence[Any], signature: object) -> None:
    """Raise :class:`TaskSignatureError` unless ``signature`` signs ``name(*args)``."""
    if not isinstance(signature, str) or not signature:
        raise TaskSignatureError(
            f"refused an unsigned {name} message: this worker has a task secret "
            f"({ENV_TASK_SECRET} / create_app(task_secret=...)); give the submitter the same "
            "secret"
        )
    if not hmac.compare_digest(signature.encode(), sign_task(secret, name, args).encode()):
        raise TaskSignatureError(
            f"refused a {name} message with a wrong signature: forged, altered, or signed "
            "with another secret than this worker's"
        )
