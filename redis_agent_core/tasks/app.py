"""The Celery app, built from the pack's config.

Run a worker on the module-level app (it reads ``REDIS_URL``, ``REDIS_AGENT_NAMESPACE``,
``REDIS_AGENT_WEBHOOK_SECRET``, ``REDIS_AGENT_WEBHOOK_ALLOW``, ``REDIS_AGENT_TASK_SECRET``
and ``REDIS_AGENT_TASK_SECRET_FALLBACK``)::

    REDIS_URL=redis://localhost:6379 celery -A redis_agent_core.tasks.app worker -l info

or build your own with :func:`create_app` (tests and embedding apps do).

Settings that make a worker killed mid-task lose nothing: ``acks_late`` (a message is
acked after the task returns), ``task_reject_on_worker_lost`` (a task whose worker
process died is requeued), prefetch of one, and idempotent tasks (progress and results
are written once per item, see :mod:`.progress`). A message held by a worker that
vanished (SIGKILL, power loss) comes back after ``visibility_timeout`` seconds; keep it
above your longest task. JSON only: nothing read from Redis is ever unpickled.
Every broker and result key lives under ``<namespace>:celery:``.
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from celery import Celery, Task

from ..config import RedisAgentConfig, check_seconds, get_default_config
from ..errors import ConfigError
from ..redis_errors import SPLIT_PASSWORD, describe_url, unescaped_password
from . import batch, ingest, webhooks
from ._common import RETRYABLE
from .destinations import DestinationPolicy
from .inflate import bound_decompression
from .queue import send_task
from .signing import (
    ENV_TASK_SECRET,
    SIGNED_TASKS,
    TaskSignatureError,
    task_secret_fallbacks_from_env,
    task_secret_from_env,
    verify_task,
)

__all__ = ["app", "celery_url", "create_app", "send_task"]

ENV_WEBHOOK_SECRET = "REDIS_AGENT_WEBHOOK_SECRET"
log = logging.getLogger(__name__)


def celery_url(url: str) -> str:
    """The Celery broker/backend URL for a pack URL: ``unix://`` becomes
    ``redis+socket://``; ``redis://`` and ``rediss://`` are used as they are."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        # urlunparse would drop the empty host ("redis+socket:/path"): build it by hand
        return "redis+socket://" + parsed.path + (f"?{parsed.query}" if parsed.query else "")
    if parsed.scheme in ("redis", "rediss"):
        return url
    raise ConfigError(
        f"cannot use {describe_url(url)} as a Celery broker: use redis:// or unix://; with "
        "Sentinel pass create_app(..., broker_url='sentinel://host:26379', "
        "broker_transport_options={'master_name': 'mymaster'}) (kombu's form)"
    )


def _settings(
    config: RedisAgentConfig,
    visibility_timeout: float,
    result_expires: int,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    if config.is_cluster() and "broker_url" not in overrides:
        raise ConfigError(
            "Celery's Redis transport does not support Redis Cluster: give the task queue "
            "a standalone Redis with create_app(..., broker_url='redis://...', "
            "result_backend='redis://...')"
        )
    url = celery_url(config.resolve_url()) if "broker_url" not in overrides else None
    prefix = config.keys.celery_prefix()
    transport = {
        "global_keyprefix": prefix,
        "visibility_timeout": visibility_timeout,
        # check for messages of vanished workers often; cheap (one ZRANGE). kombu
        # scans only every Nth check by default (10): scan on each, so a message comes
        # back within visibility_timeout + this interval, as documented
        "unacked_restore_interval": max(1.0, min(10.0, visibility_timeout / 2)),
        "unacked_restore_throttle": 1,
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
    }
    settings: dict[str, Any] = {
        "broker_url": url,
        "result_backend": url,
        "broker_transport_options": transport,
        "result_backend_transport_options": {"global_keyprefix": prefix},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "result_expires": result_expires,
        "task_default_queue": "rap",
        "broker_connection_retry_on_startup": True,
        # fail a submit fast when Redis is down instead of retrying for seconds
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.05,
            "interval_step": 0.1,
            "interval_max": 0.2,
        },
        "worker_hijack_root_logger": False,
        "enable_utc": True,
    }
    for name in _TRANSPORT_SETTINGS:  # merged: replaced whole, they lost the prefix
        given = overrides.get(name)
        if given is not None:
            settings[name] = {**settings[name], **given}
    settings.update({k: v for k, v in overrides.items() if k not in _TRANSPORT_SETTINGS})
    return settings


# Celery settings create_app fills and a caller's dict is merged into, key by key
_TRANSPORT_SETTINGS = ("broker_transport_options", "result_backend_transport_options")
# what create_app sets in them itself: the namespace's key prefix (the ACL user of the
# namespace may touch nothing else) and create_app(visibility_timeout=...)
_OWN_TRANSPORT_KEYS = ("global_keyprefix", "visibility_timeout")


def _check_transport_options(settings: dict[str, Any]) -> None:
    """:class:`ConfigError` for transport options that are no dict, or that set what
    create_app sets itself (``global_keyprefix``, ``visibility_timeout``)."""
    for name in _TRANSPORT_SETTINGS:
        given = settings.get(name)
        if given is None:
            continue
        if not isinstance(given, dict):
            raise ConfigError(f"create_app({name}=...) must be a dict, got {given!r}")
        for key in _OWN_TRANSPORT_KEYS:
            if key in given:
                fix = (
                    "pass create_app(visibility_timeout=...) instead"
                    if key == "visibility_timeout"
                    else "it is the config's namespace ('<namespace>:celery:'): give the "
                    "app a RedisAgentConfig(namespace=...) instead"
                )
                raise ConfigError(
                    f"create_app({name}={{{key!r}: ...}}): create_app sets {key} itself; "
                    f"{fix} (the other transport options are merged with the pack's)"
                )


def create_app(
    config: RedisAgentConfig | None = None,
    *,
    main: str = "redis_agent",
    webhook_secret: str | bytes | None = None,
    webhook_allow: str | Iterable[str] | None = None,
    task_secret: str | bytes | None = None,
    task_secret_fallbacks: Iterable[str | bytes] | None = None,
    visibility_timeout: float = 3600.0,
    result_expires: int = 24 * 3600,
    **celery_settings: Any,
) -> Celery:
    """A Celery app on the config's Redis with the pack's tasks registered.

    No I/O here: settings (and the embedded server, when no URL is set) are resolved
    when Celery first reads its configuration. ``celery_settings`` override any
    Celery setting (e.g. ``broker_url`` for a separate broker). ``webhook_allow``
    (default: ``REDIS_AGENT_WEBHOOK_ALLOW``) lists CIDRs and host names webhooks may
    reach besides public addresses (see :mod:`.destinations`). ``task_secret``
    (default: ``REDIS_AGENT_TASK_SECRET``) signs the tasks this app queues and makes its
    workers refuse messages not signed with it (see :mod:`.signing`); it also turns
    Celery's remote control off (``worker_enable_remote_control=True`` turns it back on).
    ``task_secret_fallbacks`` (default: ``REDIS_AGENT_TASK_SECRET_FALLBACK``, one secret)
    are secrets its workers still accept but it never signs with: the old secret while
    it is rotated out.
    Compressed messages inflate to at most 32 MiB, in every app of the process
    (:mod:`.inflate`).
    """
    # NaN passed a `<= 0` check (kombu's sweep then asked for scores below NaN), and inf
    # never gave a dead worker's message back
    visibility_timeout = check_seconds(visibility_timeout, "visibility_timeout")
    _refuse_unknown(celery_settings)
    _check_transport_options(celery_settings)
    _refuse_pickle(celery_settings)
    _refuse_split_passwords(celery_settings)
    # a compressed message is inflated before any check of ours: bound it (.inflate)
    bound_decompression()
    celery = Celery(main, set_as_current=False, task_cls=_GuardedTask)
    celery.agent_config = config
    celery.webhook_secret = (
        webhook_secret if webhook_secret is not None else os.environ.get(ENV_WEBHOOK_SECRET)
    )
    celery.task_secret = (
        (task_secret.encode() if isinstance(task_secret, str) else task_secret) or None
        if task_secret is not None
        else task_secret_from_env()
    )
    celery.task_secrets = _accepted_secrets(celery.task_secret, task_secret_fallbacks)
    if celery.task_secret:
        # remote control (ping, rate_limit, time_limit, revoke, shutdown) is no task and
        # carries no signature: a broker writer without the secret could stop every worker
        celery_settings.setdefault("worker_enable_remote_control", False)
    celery.webhook_policy = (
        DestinationPolicy.parse(webhook_allow)
        if webhook_allow is not None
        else DestinationPolicy.from_env()
    )

    def lazy() -> dict[str, Any]:
        return _settings(
            config or get_default_config(), visibility_timeout, result_expires, celery_settings
        )

    celery.add_defaults(lazy)
    register_tasks(celery)
    return celery


def _accepted_secrets(
    secret: bytes | None, fallbacks: Iterable[str | bytes] | None
) -> tuple[bytes, ...]:
    """The secrets a worker verifies with: the signing one first, then the fallbacks."""
    if fallbacks is None:
        found: tuple[bytes, ...] = task_secret_fallbacks_from_env()
    elif isinstance(fallbacks, (str, bytes)):
        # a str is not a list of secrets: each character would have become one
        raise ConfigError(
            "task_secret_fallbacks is a list of secrets: pass [old_secret], not old_secret"
        )
    else:
        found = tuple(f.encode() if isinstance(f, str) else f for f in fallbacks)
    for fallback in found:
        if not isinstance(fallback, bytes) or not fallback:
            raise ConfigError(
                f"task_secret_fallbacks holds {fallback!r:.20}: each must be a non-empty str "
                "or bytes"
            )
    if not found:
        return () if secret is None else (secret,)
    if secret is None:
        # accepting only old messages while signing none would leave the workers open to
        # unsigned ones: a fallback is for rotating a secret, not instead of one
        raise ConfigError(
            "task_secret_fallbacks without a task_secret: give the new secret too "
            f"(task_secret= / {ENV_TASK_SECRET})"
        )
    return (secret, *found)


# create_app's own keywords: a misspelt one would otherwise become a Celery setting
_OWN_KEYWORDS = (
    "main",
    "webhook_secret",
    "webhook_allow",
    "task_secret",
    "task_secret_fallbacks",
    "visibility_timeout",
    "result_expires",
)


def _refuse_unknown(settings: dict[str, Any]) -> None:
    """A keyword that is neither create_app's nor a Celery setting raises
    :class:`ConfigError` naming the closest: Celery keeps any key it is given, so a
    misspelt ``task_secert=`` built an app that signed nothing and ran every message."""
    from celery.app.defaults import SETTING_KEYS

    for name in settings:
        if name in SETTING_KEYS:
            continue
        close = difflib.get_close_matches(name.lower(), [*_OWN_KEYWORDS, *SETTING_KEYS], n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"create_app() got {name!r}, which is neither one of its keywords nor a Celery "
            f"setting: {hint}(a setting of a Celery extension goes on app.conf after "
            "create_app)"
        )


_URL_SETTINGS = ("broker_url", "broker_read_url", "broker_write_url", "result_backend")


def _refuse_split_passwords(settings: dict[str, Any]) -> None:
    """:class:`ConfigError` for a broker or backend URL whose password kombu would read
    in part as the host, port or database: its ``ValueError`` or connection error then
    showed that piece (``...as 's3'``, ``connecting to cret:6379``) at the first send."""
    for name in _URL_SETTINGS:
        value = settings.get(name)
        # failover URLs: a ';'-separated str, or a list (kombu's Connection takes both)
        given = [value] if isinstance(value, str) else value
        urls = given if isinstance(given, (list, tuple)) else ()
        for url in (u for item in urls if isinstance(item, str) for u in item.split(";")):
            if unescaped_password(url.strip()):
                raise ConfigError(
                    f"create_app({name}=...) got {describe_url(url.strip())!r}: {SPLIT_PASSWORD}"
                )


_CONTENT_SETTINGS = (
    "accept_content",
    "result_accept_content",
    "task_serializer",
    "result_serializer",
)
_PICKLE = frozenset({"pickle", "application/x-python-serialize"})


def _refuse_pickle(settings: dict[str, Any]) -> None:
    """A setting that would make workers or result readers unpickle what the broker or
    backend holds (anyone who writes there could run code) raises :class:`ConfigError`."""
    for name in _CONTENT_SETTINGS:
        value = settings.get(name)
        kinds = [value] if isinstance(value, str) else list(value or ())
        if any(str(kind).lower() in _PICKLE for kind in kinds):
            raise ConfigError(
                f"{name}={value!r} would unpickle messages or results read from Redis: the "
                "pack's task apps are JSON only (nothing read from a queue is unpickled); "
                f"drop the {name} setting or keep it to 'json'"
            )


class _GuardedTask(Task):
    """Base of every task on the pack's apps, Celery's built-ins included (they are
    created from the app's task class): with a task secret, a task that carries no
    signature (anything but :data:`SIGNED_TASKS`) is refused before its body runs."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # the worker's tracer calls a task through a custom __call__, so this runs before
        # any body; a Celery signal (task_prerun) can log but not stop a task
        if getattr(self.app, "task_secret", None) and self.name not in SIGNED_TASKS:
            exc = TaskSignatureError(
                f"refused a {self.name} message: this worker has a task secret and runs "
                f"only the pack's signed tasks ({', '.join(sorted(SIGNED_TASKS))})"
            )
            log.error("%s (message id %s)", exc, self.request.id)
            raise exc
        return super().__call__(*args, **kwargs)


def register_tasks(celery: Celery) -> None:
    """Register the pack's tasks on ``celery`` (names start with ``rap.``)."""

    @celery.task(name="rap.noop", bind=True, shared=False, ignore_result=True)
    def noop(self: Task, value: Any = None) -> Any:
        return value

    # A Redis fault escaping a task body (e.g. writing progress) is retried with backoff
    # by Celery; the bodies are idempotent, so a retry redoes only what is missing.
    durable = {
        "bind": True,
        "shared": False,
        "ignore_result": True,
        "autoretry_for": RETRYABLE,
        "retry_backoff": 1,  # seconds, doubled per try (Celery wants an int)
        "retry_backoff_max": 30,
        "retry_jitter": True,
    }

    # a signature problem is not retried: the same message would fail the same way
    @celery.task(name="rap.ingest_batch", max_retries=5, **durable)
    def ingest_batch(
        self: Task,
        job_id: str,
        job: dict[str, Any],
        items: list[dict[str, Any]],
        rap_signature: str | None = None,
    ) -> int:
        _check_signature(self, [job_id, job, items], rap_signature)
        return ingest.run_batch(self, job_id, job, items)

    @celery.task(name="rap.llm_batch", max_retries=5, **durable)
    def llm_batch(
        self: Task,
        job_id: str,
        job: dict[str, Any],
        items: list[dict[str, Any]],
        rap_signature: str | None = None,
        rap_faults: int = 0,  # batch.fault_retries reads it from the request
    ) -> int:
        _check_signature(self, [job_id, job, items], rap_signature)
        try:
            return batch.run_batch(self, job_id, job, items)
        except RETRYABLE as exc:
            # before the autoretry, which counts the rate-limit waits as tries
            retry = batch.retry_fault(self, exc)
            if retry is exc:
                raise
            raise retry from exc

    @celery.task(name="rap.deliver_webhook", max_retries=None, **durable)
    def deliver_webhook(
        self: Task,
        hook: dict[str, Any],
        payload: Any,
        key: str,
        job_id: str | None,
        rap_signature: str | None = None,
    ) -> str:
        _check_signature(self, [hook, payload, key, job_id], rap_signature)
        return webhooks.run_delivery(self, hook, payload, key, job_id)


def _check_signature(task: Task, args: list[Any], signature: str | None) -> None:
    """On a worker with a task secret: refuse (and log) a message not signed with it."""
    secrets = getattr(task.app, "task_secrets", None)
    if not secrets:
        return
    try:
        verify_task(secrets, task.name, args, signature)
    except TaskSignatureError as exc:
        log.error("%s (message id %s)", exc, task.request.id)
        raise


# `celery -A redis_agent_core.tasks.app worker` runs this one.
app = create_app()
