"""Signed webhook delivery with retries and a dead-letter stream.

A delivery is a JSON POST with these headers:

- ``X-Redis-Agent-Signature: sha256=<hex>``: HMAC-SHA256 with the shared secret over
  ``"<timestamp>." + body``; receivers check it with :func:`verify_signature`.
- ``X-Redis-Agent-Timestamp``: Unix seconds when signed (refuse stale ones: replay).
- ``Idempotency-Key``: the same on every try of one delivery; receivers dedupe on it.

Destinations are checked by :mod:`.destinations` at submit time and before every try
on the worker (loopback, private, link-local, ... refused unless allowlisted); the
POST goes to the checked address. A refused destination is dead-lettered at once.
Timeouts, connection errors, 5xx and 429 are retried with exponential backoff and
jitter through Celery's own retry (``self.retry(countdown=...)``); other 4xx are not
retried, nor are redirects (not followed: a redirected POST would lose its body, and
its target was never checked).
After the last try the delivery is appended to the dead-letter stream
(``keys.dead_letters()``) with the error; :func:`dead_letters` reads it back.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import socket
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import orjson

from ..config import RedisAgentConfig, backoff, check_seconds, get_default_config
from ..errors import ConfigError
from ..redis_errors import describe_url, sent_once, translate_errors
from ..scripts import Script
from ._common import agent_config, clip_error, retry_later
from .destinations import (
    DestinationPolicy,
    DestinationRefusedError,
    send,
    split_url,
)
from .queue import send_task

if TYPE_CHECKING:
    from celery import Celery, Task

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Webhook",
    "dead_letters",
    "run_delivery",
    "sign_payload",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Redis-Agent-Signature"
TIMESTAMP_HEADER = "X-Redis-Agent-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEAD_LETTER_MAXLEN = 10_000
_QUEUED_FIELD = "webhook_queued"  # job hash field: the completion webhook was queued


log = logging.getLogger(__name__)

MAX_ATTEMPTS = 100  # beyond ~1000 retries the backoff's 2**n overflows a float
MAX_WAIT = 24 * 3600  # seconds: bound for backoff, backoff_cap and timeout


def _check_visible_ascii(text: str, what: str, fix: str) -> None:
    """``text`` goes on the HTTP request line or in a header: visible ASCII only (no
    space, CR/LF or non-ASCII, which http.client refuses only on the worker)."""
    bad = next((c for c in text if not "!" <= c <= "~"), None)
    if bad is not None:
        raise ConfigError(f"{what} has the character {bad!r} ({text!r}); {fix}")


def check_idempotency_key(key: object) -> None:
    """An ``Idempotency-Key`` header value: 1-200 visible ASCII characters."""
    if not isinstance(key, str) or not 1 <= len(key) <= 200:
        raise ConfigError(f"webhook idempotency_key must be a str of 1-200 characters, got {key!r}")
    _check_visible_ascii(
        key, "webhook idempotency_key", "use letters, digits and punctuation (no spaces)"
    )


@dataclass(frozen=True)
class Webhook:
    """Where and how to deliver: ``max_attempts`` tries, waits of about
    ``backoff * 2**n`` seconds (capped at ``backoff_cap``), ``timeout`` per request
    (in total: connect, send and answer, however slowly the target drips it)."""

    url: str
    max_attempts: int = 5
    backoff: float = 1.0
    backoff_cap: float = 300.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        # Everything the worker would trip on is refused here, before a job is written
        # or a message queued: an error there would lose the delivery.
        if not isinstance(self.url, str):
            raise ConfigError(f"webhook url must be a str, got {self.url!r}")
        parsed, _ = split_url(self.url)
        _check_visible_ascii(
            parsed.path + parsed.query,
            "webhook url path",
            "percent-encode it (urllib.parse.quote), e.g. ' ' as %20",
        )
        attempts = self.max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise ConfigError(f"webhook max_attempts must be an int, got {attempts!r}")
        if not 1 <= attempts <= MAX_ATTEMPTS:
            raise ConfigError(
                f"webhook max_attempts must be in [1, {MAX_ATTEMPTS}], got {attempts}"
            )
        # NaN / inf would only fail on the worker (socket timeout, Celery's ETA)
        check_seconds(self.backoff, "webhook backoff", zero=True, most=MAX_WAIT)
        check_seconds(self.backoff_cap, "webhook backoff_cap", most=MAX_WAIT)
        check_seconds(self.timeout, "webhook timeout", most=MAX_WAIT)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def coerce(cls, value: str | Webhook | Mapping[str, Any] | None) -> Webhook | None:
        if value is None or isinstance(value, Webhook):
            return value
        if isinstance(value, str):
            return cls(value)
        return cls(**dict(value))


def _secret_bytes(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign_payload(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` signed at ``timestamp``."""
    mac = hmac.new(_secret_bytes(secret), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str | bytes,
    body: bytes,
    headers: Mapping[str, str],
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> bool:
    """Receiver side: True if the body is signed with ``secret`` and not older than
    ``tolerance`` seconds. Header names are matched case-insensitively."""
    lower = {k.lower(): v for k, v in headers.items()}
    signature = lower.get(SIGNATURE_HEADER.lower())
    stamp = lower.get(TIMESTAMP_HEADER.lower())
    if not signature or not stamp:
        return False
    try:
        ts = int(stamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(signature, sign_payload(secret, ts, body))


def encode_body(payload: Any) -> bytes:
    """Canonical JSON body (sorted keys) so a retry signs the same bytes."""
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def build_headers(secret: str | bytes, body: bytes, key: str, attempt: int) -> dict[str, str]:
    ts = int(time.time())
    return {
        "Content-Type": "application/json",
        "User-Agent": "redis-agent-pack-webhooks/1",
        SIGNATURE_HEADER: sign_payload(secret, ts, body),
        TIMESTAMP_HEADER: str(ts),
        IDEMPOTENCY_HEADER: key,
        "X-Redis-Agent-Attempt": str(attempt),
    }


@dataclass(frozen=True)
class PostOutcome:
    """Result of one POST: ``status`` (None when no response) and whether to retry."""

    status: int | None
    error: str | None
    retry: bool

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def classify(status: int | None, error: str | None) -> PostOutcome:
    """Retry on no response (timeout, refused), 5xx and 429; not on other 4xx nor on
    a 3xx (redirects are not followed: give the final URL)."""
    if status is None:
        return PostOutcome(None, error, True)
    if 200 <= status < 300:
        return PostOutcome(status, None, False)
    return PostOutcome(status, error or f"HTTP {status}", status >= 500 or status == 429)


def policy(app: Celery) -> DestinationPolicy:
    """The app's webhook destination policy (public addresses plus its allowlist)."""
    found = getattr(app, "webhook_policy", None)
    return found if isinstance(found, DestinationPolicy) else DestinationPolicy.from_env()


def check_destination(app: Celery, hook: Webhook) -> None:
    """Submit side: refuse a forbidden destination now, with a clear error. A name that
    does not resolve here passes: the worker checks again (it may see other DNS).
    Also refuses (:class:`ConfigError`) a hook a worker could hold past the broker's
    visibility timeout (:func:`check_hold`)."""
    check_hold(app, hook)
    try:
        policy(app).check(hook.url)
    except (socket.gaierror, UnicodeError):
        pass


# kombu's Redis transport (and its Sentinel form) hands an unacked message to another
# worker once it has been held longer than the visibility timeout (default 3600 s)
_VISIBILITY_SCHEMES = ("redis://", "rediss://", "redis+socket://", "sentinel://")
_KOMBU_VISIBILITY = 3600.0


def visibility_timeout(app: Celery) -> float | None:
    """Seconds after which the app's broker hands a held, unacked message to a worker
    again; ``None`` for a transport without one."""
    conf = app.conf
    broker = conf.broker_url
    if not isinstance(broker, str) or not broker.startswith(_VISIBILITY_SCHEMES):
        return None  # another transport: no visibility timeout redelivers a held message
    options = conf.broker_transport_options or {}
    return float(options.get("visibility_timeout", _KOMBU_VISIBILITY))


def held_countdown(app: Celery, wait: float) -> float:
    """A task retry's countdown ``wait`` cut to half the broker's visibility timeout. A
    worker holds a message waiting for its countdown unacknowledged; held past the
    timeout, the broker hands it to a worker again and the task runs twice (measured: a
    batch chunk's try run 3 times for a rate limit's 8 s wait under a 3 s timeout). The
    other half is left for the task's own run; a task still refused retries again."""
    visibility = visibility_timeout(app)
    return wait if visibility is None else min(wait, visibility / 2)


def retry_wait(visibility: float | None, hook: Webhook, wait: float) -> float:
    """Worker side: ``wait`` (a retry's countdown) cut so that the wait plus the request
    stays under the broker's visibility timeout, by min(1 s, half the room). A message
    queued before submit refused such hooks (:func:`check_hold`), or by an older
    submitter, is otherwise held past it: the broker hands it to another worker too and
    the webhook is POSTed twice. ``visibility``: :func:`visibility_timeout`, which the
    caller read to check that the timeout alone fits."""
    if visibility is None or wait + hook.timeout < visibility:
        return wait
    room = visibility - hook.timeout
    return max(0.0, room - min(1.0, room / 2))


def longest_hold(hook: Webhook) -> float:
    """The longest a worker holds one delivery message unacknowledged: a retry waits
    for its countdown on the worker (at most ``min(backoff_cap, backoff * 2**(n-2))``
    before try ``n``), then sends for up to ``timeout``."""
    wait = 0.0
    if hook.max_attempts > 1:
        wait = min(hook.backoff_cap, hook.backoff * 2.0 ** (hook.max_attempts - 2))
    return wait + hook.timeout


def check_hold(app: Celery, hook: Webhook) -> None:
    """:class:`ConfigError` when a delivery message of ``hook`` could be held on a worker
    for the broker's visibility timeout or longer. The broker then gives the held
    message to another worker too: both POST, both retry, and each retry's copies double
    again (measured: 7 POSTs for a 3-try hook whose waits passed the timeout)."""
    visibility = visibility_timeout(app)
    if visibility is None:
        return
    hold = longest_hold(hook)
    if hold >= visibility:
        raise ConfigError(
            f"webhook backoff_cap={hook.backoff_cap:g} / timeout={hook.timeout:g} let a "
            f"worker hold a delivery message {hold:g} s (its longest retry wait plus the "
            f"request), not under the broker's visibility_timeout ({visibility:g} s): the "
            "broker would hand the message to another worker too, and the webhook would "
            "be POSTed (and retried) several times. Lower backoff_cap or timeout, or raise "
            "create_app(visibility_timeout=...) (nothing was written or queued)"
        )


def post(
    app: Celery, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> PostOutcome:
    """Check ``url`` against the app's policy, then one POST to the checked address;
    never raises for HTTP or network errors. :class:`DestinationRefusedError` if refused."""
    try:
        destination = policy(app).check(url)
    except (socket.gaierror, UnicodeError) as exc:
        return classify(None, f"cannot resolve the webhook host ({type(exc).__name__}: {exc})")
    try:
        status, reason = send(destination, body, headers, timeout)
    except (OSError, http.client.HTTPException) as exc:  # no (valid) answer: retried
        return classify(None, f"{type(exc).__name__}: {exc}")
    return classify(status, None if 200 <= status < 300 else f"HTTP {status} {reason}")


# HSET only on a live job record: a plain HSET after the record expired would
# recreate it without a TTL (a key that never goes away).
_SET_IF_EXISTS = Script.load(__package__, "set_if_exists.lua")


def _set_job_field(config: RedisAgentConfig, job_id: str, name: str, value: str) -> None:
    _SET_IF_EXISTS(config.get_client(), [config.keys.job(job_id)], [name, value])


def record_dead_letter(
    config: RedisAgentConfig,
    *,
    url: str,
    key: str,
    payload: Any,
    error: str,
    status: int | None,
    attempts: int,
    job_id: str | None,
) -> None:
    try:
        body = encode_body(payload)
    except TypeError:  # a forged message's payload (e.g. an int over 64 bits): keep a trace
        body = encode_body(repr(payload))
    if len(body) > config.max_value_bytes - _ENTRY_SLACK:
        body = _payload_not_kept(body, config.max_value_bytes)
    entry: dict[Any, Any] = {  # redis-py's xadd takes a dict of its own key/value union
        "url": clip_error(describe_url(url)),
        "idempotency_key": clip_error(key),
        "job_id": job_id or "",
        "error": clip_error(error),
        "status": "" if status is None else str(status),
        "attempts": str(attempts),
        "time": repr(time.time()),
        "payload": body,
    }
    with translate_errors(config, "writing a webhook dead letter"):
        client = config.get_client()
        with sent_once():  # a second XADD would record the dead letter twice
            client.xadd(
                config.keys.dead_letters(), entry, maxlen=DEAD_LETTER_MAXLEN, approximate=True
            )
        if job_id:
            _set_job_field(config, job_id, "webhook", "dead")


# what a dead letter's fields besides its payload may take (each clipped to 8,192 characters)
_ENTRY_SLACK = 64 * 1024


def _payload_not_kept(body: bytes, limit: int) -> bytes:
    """What a dead letter keeps of a payload over the server's limit for one value: its
    size and its first 1,024 bytes. The whole payload dropped the connection mid-XADD,
    read as Redis down: the delivery task was retried (POSTing again) and the dead
    letter never written (the broker may be another server, taking the message)."""
    return encode_body({
        "payload_not_kept": f"{len(body):,} bytes, over max_value_bytes ({limit:,})",
        "head": body[:1024].decode("utf-8", "replace"),
    })  # fmt: skip


def dead_letters(
    *, config: RedisAgentConfig | None = None, count: int = 100
) -> list[dict[str, Any]]:
    """The latest dead-lettered deliveries, newest first (payload decoded). An entry
    this module did not write (a field missing or not what it holds) is skipped with a
    warning naming its id and how to delete it, as the bus treats corrupt entries: it
    raised a raw ``KeyError`` / ``JSONDecodeError``, hiding every other dead letter."""
    config = config or get_default_config()
    key = config.keys.dead_letters()
    with translate_errors(config, "reading webhook dead letters"):
        rows = config.get_client().xrevrange(key, count=count)
    out = []
    for entry_id, fields in rows or ():
        item = _parse_dead_letter(entry_id, fields)
        if isinstance(item, str):
            log.warning(
                "skipping webhook dead letter %s of %r, which this pack did not write (%s); "
                "delete it with XDEL %s %s",
                _text(entry_id), key, item, key, _text(entry_id),
            )  # fmt: skip
            continue
        out.append(item)
    return out


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _parse_dead_letter(entry_id: Any, fields: Mapping[Any, Any] | None) -> dict[str, Any] | str:
    """One dead letter's fields as :func:`dead_letters` returns them, or why they are
    not a dead letter this module wrote."""
    item: dict[str, Any] = {_text(k): _text(v) for k, v in (fields or {}).items()}
    item["id"] = _text(entry_id)
    try:
        item["payload"] = orjson.loads(item["payload"])
        item["attempts"] = int(item["attempts"])
        item["status"] = int(item["status"]) if item["status"] else None
    except KeyError as exc:
        return f"no field {exc}"
    except ValueError as exc:  # orjson.JSONDecodeError is one
        return f"a field is not what it holds: {exc}"
    return item


def webhook_secret(app: Celery) -> bytes:
    """The app's signing secret, or a :class:`ConfigError` saying how to set one."""
    secret = getattr(app, "webhook_secret", None)
    if not secret:
        raise ConfigError(
            "webhooks are signed with HMAC-SHA256 and this app has no secret: pass "
            "create_app(webhook_secret=...) or set REDIS_AGENT_WEBHOOK_SECRET for the "
            "submitter and the worker"
        )
    return _secret_bytes(secret)


def run_delivery(
    task: Task, hook_spec: dict[str, Any], payload: Any, key: str, job_id: str | None
) -> str:
    """Body of the ``rap.deliver_webhook`` task. Returns delivered / dead / skipped.

    A delivery ends ``delivered`` or dead-lettered, never lost: a message the worker
    cannot send (bad settings or header in a forged message, an unexpected error while
    sending) is dead-lettered at once, as retrying would fail the same way."""
    app = task.app
    config = agent_config(app)
    attempt = task.request.retries + 1

    def dead(url: str, error: str, status: int | None = None) -> str:
        record_dead_letter(
            config, url=url, key=str(key), payload=payload, error=error, status=status,
            attempts=attempt, job_id=job_id,
        )  # fmt: skip
        return "dead"

    try:
        hook = Webhook(**hook_spec)
        check_idempotency_key(key)
    except (ConfigError, TypeError) as exc:
        spec_url = hook_spec.get("url") if isinstance(hook_spec, dict) else None
        return dead(str(spec_url), f"undeliverable message: {exc}")
    if job_id:
        with translate_errors(config, f"reading job {job_id}"):
            state = config.get_client().hget(config.keys.job(job_id), "webhook")
        if state in (b"delivered", "delivered"):
            return "skipped"  # a redelivered task after a successful POST: don't resend
    try:
        secret = webhook_secret(app)
    except ConfigError as exc:
        return dead(hook.url, str(exc))
    visibility = visibility_timeout(app)
    if visibility is not None and hook.timeout >= visibility:
        # one request alone may outlast the broker's hold: it would hand the message to
        # another worker mid-POST, which POSTs again (submit refuses such hooks now)
        return dead(
            hook.url,
            f"undeliverable message: webhook timeout={hook.timeout:g} s is not under the "
            f"broker's visibility_timeout ({visibility:g} s): a slow answer would have the "
            "message sent by two workers. Not sent; lower the hook's timeout or raise "
            "create_app(visibility_timeout=...)",
        )
    try:  # checked again on every try: what a name resolves to may have changed
        body = encode_body(payload)
        headers = build_headers(secret, body, key, attempt)
        outcome = post(app, hook.url, body, headers, hook.timeout)
    except DestinationRefusedError as exc:  # policy, not a fault: no retry
        return dead(hook.url, str(exc))
    except Exception as exc:  # not a network fault (those are outcomes): would recur
        return dead(hook.url, f"cannot send: {type(exc).__name__}: {exc}")
    if outcome.ok:
        if job_id:
            with translate_errors(config, f"updating job {job_id}"):
                _set_job_field(config, job_id, "webhook", "delivered")
        return "delivered"
    if outcome.retry and attempt < hook.max_attempts:
        wait = retry_wait(visibility, hook, backoff(attempt - 1, hook.backoff, hook.backoff_cap))
        raise retry_later(task, countdown=wait, max_retries=hook.max_attempts - 1)
    return dead(hook.url, outcome.error or "unknown error", outcome.status)


def notify_job_finished(app: Celery, config: RedisAgentConfig, job_id: str) -> str | None:
    """Queue the completion webhook of a job that just finished, if it has one.

    Called by the one task whose :func:`~.progress.mark_items` finished the job. The
    payload is the job's progress; the idempotency key is ``job-<id>``.
    """
    from .progress import get_job

    with translate_errors(config, f"reading job {job_id}"):
        spec = config.get_client().hget(config.keys.job(job_id), "webhook_spec")
    if not spec:
        return None
    job = get_job(job_id, config=config)
    payload = {"event": "job.finished", **job.as_dict()}
    key = f"job-{job_id}"
    send_task(app, "rap.deliver_webhook", [orjson.loads(spec), payload, key, job_id])
    with translate_errors(config, f"updating job {job_id}"):
        _set_job_field(config, job_id, _QUEUED_FIELD, "1")
    return key


def renotify_if_lost(app: Celery, config: RedisAgentConfig, job_id: str) -> str | None:
    """Queue the completion webhook of a finished job if it was never queued.

    A redelivered task whose items are all finished calls this: the worker that
    finished the job may have died between marking the last item and queueing the
    webhook. Queueing twice is harmless (same idempotency key; a delivered hook is
    not resent), losing it is not.
    """
    from .progress import FINAL_STATUSES

    with translate_errors(config, f"reading job {job_id}"):
        status, spec, queued = config.get_client().hmget(
            config.keys.job(job_id), ["status", "webhook_spec", _QUEUED_FIELD]
        )
    if not spec or queued or status is None or _text(status) not in FINAL_STATUSES:
        return None
    return notify_job_finished(app, config, job_id)
