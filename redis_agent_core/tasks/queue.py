"""Queueing a registered task: :func:`send_task` signs the message when the app has a
task secret and turns a broker that is down into :class:`RedisUnavailableError`, one
that refuses the write (full, read-only) into :class:`RedisWriteRefusedError`.

Below the task bodies and the app: the bodies queue follow-up tasks (webhooks) through
the app their task runs on, so nothing here imports them or the module-level app.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..config import RedisAgentConfig
from ..errors import RedisUnavailableError
from ..redis_errors import REFUSED, describe_url, map_redis_error
from .signing import SIGNATURE_KWARG, sign_task

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["check_message_sizes", "send_task"]

# what a queued message holds besides its base64 body: headers (argsrepr and kwargsrepr
# hold at most 1,024 characters each, before JSON's ASCII escapes), properties
_HEADERS_BYTES = 16 * 1024


def check_message_sizes(
    celery: Celery,
    config: RedisAgentConfig,
    messages: Sequence[Sequence[Any]],
    what: Callable[[int], str],
) -> None:
    """:class:`~redis_agent_core.errors.ValueTooLargeError` (``what(i)`` names message
    ``i``) when the broker message of a task with one of these ``messages`` (its args)
    is over ``config.max_value_bytes``: the broker would close the connection mid-write,
    which kombu reports as unreachable (after retrying the write). A bound first (JSON's
    ASCII escapes at most triple UTF-8, base64 adds a third); the messages are encoded
    as kombu will only when the bound is over."""
    limit = config.max_value_bytes
    try:
        bound = 3 * len(orjson.dumps(messages))
    except TypeError:  # bytes, datetimes, big ints: kombu's JSON encodes them
        bound = limit
    if 4 * bound // 3 + _HEADERS_BYTES <= limit:
        return
    from kombu import compression, serialization

    method = celery.conf.task_compression
    for i, args in enumerate(messages):
        body = serialization.dumps((list(args), {}, {}), celery.conf.task_serializer)[2]
        data = body.encode() if isinstance(body, str) else body
        if method:
            data = compression.compress(data, method)[0]
        config.check_value_size(4 * -(-len(data) // 3) + _HEADERS_BYTES, what(i))


def send_task(celery: Celery, name: str, args: Sequence[Any], **options: Any) -> str:
    """Queue a registered task; :class:`RedisUnavailableError` if the broker is down,
    :class:`RedisWriteRefusedError` (``.cause`` "oom" / "readonly") if it refused."""
    # Celery is an optional extra, and this module is imported by ones that load without it
    # (webhooks, for their signing helpers): kombu comes with a Celery app, when one is given
    from kombu.exceptions import OperationalError

    secret = getattr(celery, "task_secret", None)
    kwargs = {SIGNATURE_KWARG: sign_task(secret, name, args)} if secret else {}
    try:
        # progress and results live in the pack's own keys: no Celery result to track
        options.setdefault("ignore_result", True)
        return celery.tasks[name].apply_async(args=list(args), kwargs=kwargs, **options).id
    except OperationalError as exc:
        broker = celery.conf.broker_url or "(unset)"
        refused = _refusal(exc)
        if refused is not None:  # the broker answered: "unreachable" would send users astray
            action = f"queueing task {name} on the broker {describe_url(broker)} (broker_url)"
            raise map_redis_error(refused, action) from exc
        raise RedisUnavailableError(
            f"queueing task {name} failed: the broker {describe_url(broker)} is unreachable "
            f"({exc}). Check that Redis is running, or set REDIS_URL / url= to a live Redis."
        ) from exc


def _refusal(exc: BaseException) -> BaseException | None:
    """The write refusal (OOM, READONLY) that kombu wrapped in ``exc``, if any."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:  # a chain may loop
        if isinstance(link, REFUSED):
            return link
        chain.append(link)
        link = link.__cause__ or link.__context__
    return None
