"""Optional HMAC signing of task messages with a secret shared by submitters and workers.

With ``create_app(task_secret=...)`` (or ``REDIS_AGENT_TASK_SECRET``) every pack task
the app queues carries ``HMAC-SHA256(secret, task name + canonical JSON of its args)``,
and a worker with a secret refuses a message whose signature is missing or wrong, and
any task outside :data:`SIGNED_TASKS` (Celery's built-ins, ``rap.noop``), with
:class:`TaskSignatureError` before the task touches anything. Someone who can write
to the broker but does not hold the secret can then queue nothing the worker runs.

A signature does not expire: Celery retries and redeliveries resend the same message
hours later. Replaying a genuine message redoes idempotent work (items count once).

Rotating the secret: ``create_app(task_secret=new, task_secret_fallbacks=[old])`` (or
``REDIS_AGENT_TASK_SECRET_FALLBACK``) signs with the new secret and still runs what the
old one signed (messages queued, retried or redelivered before the switch); drop the
fallback once none can remain. Without it, every such message was refused and its job
never finished.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import hmac
import os
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

from ..errors import ConfigError, RedisAgentError
from ..jsonvalues import Unreadable, find_unreadable

__all__ = [
    "ENV_TASK_SECRET",
    "ENV_TASK_SECRET_FALLBACK",
    "SIGNATURE_KWARG",
    "SIGNED_TASKS",
    "TaskSignatureError",
    "check_queueable",
    "sign_task",
    "task_secret_fallbacks_from_env",
    "task_secret_from_env",
    "verify_task",
]

ENV_TASK_SECRET = "REDIS_AGENT_TASK_SECRET"
ENV_TASK_SECRET_FALLBACK = "REDIS_AGENT_TASK_SECRET_FALLBACK"
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


def task_secret_fallbacks_from_env() -> tuple[bytes, ...]:
    value = os.environ.get(ENV_TASK_SECRET_FALLBACK)
    return (value.encode(),) if value else ()


_ODD = "a value that does not read back from JSON as itself"


def _canonical(name: str, args: Sequence[Any]) -> tuple[bytes, str | None]:
    """The bytes to sign, and what in ``args`` is not plain JSON (None if all is)."""
    # the worker sees args as decoded from the broker's JSON: sign that form, with keys
    # sorted, so both sides hash the same bytes whatever the dict order on the wire
    from kombu.utils.json import dumps, loads

    try:
        wire = loads(dumps(list(args)))
    except TypeError:  # e.g. a datetime key: no JSON for it at all
        return b"", _not_plain(list(args), "args") or _ODD
    try:
        data = orjson.dumps([name, wire], option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # e.g. a Decimal kombu decoded from a type marker
        return b"", _not_plain(wire, "args") or _ODD
    # orjson writes NaN and infinities as null, and the datetime / UUID objects kombu
    # decodes from {"__type__": ...} markers as strings: such arguments would sign like
    # other ones, so an altered message would verify. They do not read back equal.
    if orjson.loads(data)[1] != wire:
        return data, _not_plain(wire, "args") or _ODD
    return data, None


def check_queueable(value: Any, what: str, *, signed: bool) -> None:
    """:class:`ConfigError` naming the place and the fix if ``value``, queued as a task
    argument, would not reach the worker as given: a NaN or an infinity, a dict with a
    ``"__type__"`` key (kombu's decoder turns ``{"__type__": "datetime", ...}`` into an
    object), a dict key that is not a str (JSON turns 1 into "1", and a datetime key
    fails only when the message is sent, after the job was written) or, when the app
    signs its tasks (``signed``), a non-JSON object such as a datetime or a UUID; else an
    object Celery's JSON cannot encode either (a set, a dataclass: it failed only when the
    message was sent, after the job was written)."""
    found = find_unreadable(
        value, marker="__type__", objects=True, keys=True, allow=() if signed else _KOMBU_TYPES
    )
    if found is not None:
        fix = _FIXES["unencodable" if found.kind == "object" and not signed else found.kind]
        raise ConfigError(
            f"cannot queue {_describe(found, what)}: the worker would not receive it as "
            f"given; {fix} (nothing was written or queued)"
        )


# What kombu's JSON encoder (Celery's default serializer) writes and reads back itself.
_KOMBU_TYPES: tuple[type, ...] = (
    bytes,
    datetime.datetime,
    datetime.date,
    datetime.time,
    decimal.Decimal,
    uuid.UUID,
)


_FIXES = {
    "non-finite": "use a finite number, None or a string",
    "marker": "rename the '__type__' key (Celery's JSON decoder turns such a dict into an "
    "object on the worker)",
    "object": "a signed message carries JSON values only: convert it to a str first, e.g. "
    "value.isoformat() for a datetime or date, str(value) for a UUID or a Decimal",
    "unencodable": "Celery's JSON carries JSON values, datetimes, dates, times, UUIDs, "
    "Decimals and bytes: convert it first, e.g. list(value) for a set, "
    "dataclasses.asdict(value) for a dataclass",
    "key": "JSON object keys are strings: use str keys, e.g. key.isoformat() for a "
    "datetime, str(key) for a UUID or a number",
}


def _describe(found: Unreadable, where: str) -> str:
    """What :func:`find_unreadable` found and where, e.g. ``nan at items[0]['x']``."""
    at = f"{where}{found.path}"
    if found.kind == "key":
        return f"the {type(found.value).__name__} key {found.value!r} in {at}"
    if found.kind == "marker":
        return f"a dict with a '__type__' key (a kombu type marker) at {at}"
    if found.kind == "object":
        return f"a {type(found.value).__name__} object at {at}"
    return f"{found.value!r} at {at}"


def _not_plain(value: Any, where: str) -> str | None:
    """Where ``value`` first holds a NaN, an infinity, a kombu type-marker dict, a
    non-str key or a non-JSON object, and what; None if nowhere."""
    found = find_unreadable(value, marker="__type__", objects=True, keys=True)
    return None if found is None else _describe(found, where)


def sign_task(secret: bytes, name: str, args: Sequence[Any]) -> str:
    """The signature of task ``name`` called with ``args``; :class:`ConfigError` if they
    hold a NaN, an infinity or a kombu type marker, which could not be told apart."""
    data, problem = _canonical(name, args)
    if problem:
        raise ConfigError(
            f"cannot queue {name}: its arguments hold {problem}, which a signed message "
            "cannot carry (it would sign like null or a string); use finite numbers, "
            "None, strings, lists and dicts without a '__type__' key (nothing was queued)"
        )
    return _sign(secret, data)


def _sign(secret: bytes, data: bytes) -> str:
    return _VERSION + hmac.new(secret, data, hashlib.sha256).hexdigest()


def verify_task(
    secret: bytes | Sequence[bytes], name: str, args: Sequence[Any], signature: object
) -> None:
    """Raise :class:`TaskSignatureError` unless ``signature`` signs ``name(*args)`` with
    ``secret`` (or with one of several: the current secret and its fallbacks)."""
    secrets = (secret,) if isinstance(secret, bytes) else tuple(secret)
    if not isinstance(signature, str) or not signature:
        raise TaskSignatureError(
            f"refused an unsigned {name} message: this worker has a task secret "
            f"({ENV_TASK_SECRET} / create_app(task_secret=...)); give the submitter the same "
            "secret"
        )
    data, problem = _canonical(name, args)
    if problem:
        raise TaskSignatureError(
            f"refused a {name} message whose arguments hold {problem}: a signer never "
            "signs such values, so the message was altered"
        )
    given = signature.encode()
    # every secret compared (no early exit): the time does not tell which one matched
    matched = [hmac.compare_digest(given, _sign(key, data).encode()) for key in secrets]
    if not any(matched):
        raise TaskSignatureError(
            f"refused a {name} message with a wrong signature: forged, altered, or signed "
            "with another secret than this worker's"
        )
