"""The one place that maps redis-py errors to the pack's typed errors.

Three kinds of fault, each with its own message naming the cause and the fix:

- :data:`UNAVAILABLE`: the server cannot be reached or did not answer in time (down,
  paused, wrong URL, network) -> :class:`~redis_agent_core.errors.RedisUnavailableError`.
- :data:`REFUSED`: the server answered but refused a write (``maxmemory`` reached with
  ``noeviction``, a read-only replica) -> :class:`RedisWriteRefusedError`, a subclass of
  ``RedisUnavailableError`` so code written for "Redis is down" handles it too.

- :data:`TRANSIENT`: the server is up but cannot serve now (``BUSY``: a script or module
  command past ``busy-reply-threshold``; ``TRYAGAIN``, ``CLUSTERDOWN``, ``MASTERDOWN``;
  and :data:`LOADING`, a server loading its dataset) -> ``RedisUnavailableError`` as well,
  so the degrading roles degrade on it.

And one that is not an outage: :data:`DENIED`, the URL's ACL user lacks a command, key or
channel (``NOPERM``) -> :class:`~redis_agent_core.errors.RedisPermissionError`, a
deployment mistake that every role raises, degrading ones included.

A cluster node reached by a plain client (:data:`MISROUTED`: MOVED, ASK, CROSSSLOT) is a
configuration mistake too: :class:`~redis_agent_core.errors.ConfigError` naming the fix.
On a cluster client, keys of one call in several slots (:data:`CROSS_SLOT`) are a bug in
the key layout: :class:`~redis_agent_core.errors.CrossSlotError`, raised by every role.
A key holding another type of value (``WRONGTYPE``) is one more: :class:`KeyTypeError`,
a ``SchemaMismatchError`` naming the fix, raised by every role.

A client-side one: every connection of the client's pool in use (:func:`is_pool_exhausted`:
more calls at once than ``max_connections``) -> :class:`PoolExhaustedError`, a
``RedisUnavailableError`` saying that nothing was sent and how to size the pool.

A reply-level one: a RediSearch query that passed the server's ``TIMEOUT``
(``ON_TIMEOUT FAIL``: an error; ``RETURN``: partial results with a RESP3 warning) ->
:class:`SearchTimeoutError` (:func:`search_timeout_error`), a ``RedisUnavailableError`` too.

Components catch :data:`FAULTS` (all kinds) and raise :func:`map_redis_error`, or wrap
calls in :func:`translate_errors`. A write that must not apply twice is sent inside
:func:`sent_once`: the pack's clients never re-send it after a lost connection. The other
replies (:data:`REPLY`, :data:`NOSCRIPT`) and their checks (:func:`is_missing_index`,
:func:`is_nogroup`, :func:`is_unknown_command`, :func:`is_busygroup`,
:func:`is_index_exists`) live here too, so each is matched in one way everywhere: no other
module names a redis-py exception class.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

import redis
import redis.asyncio.sentinel
import redis.sentinel
from redis._parsers.base import BaseParser

from .errors import (
    ClusterURLError,
    CrossSlotError,
    PoolExhaustedError,
    RedisPermissionError,
    RedisUnavailableError,
    RedisWriteRefusedError,
    SchemaMismatchError,
    SearchTimeoutError,
)

if TYPE_CHECKING:
    from .config import RedisAgentConfig

__all__ = [
    "CLEANUP",
    "CLUSTER_CLIENT",
    "CROSS_SLOT",
    "DENIED",
    "FAULTS",
    "LOADING",
    "MISROUTED",
    "MOVING",
    "MOVING_RETRIES",
    "NOSCRIPT",
    "REFUSED",
    "REPLY",
    "RETRIED",
    "SPLIT_PASSWORD",
    "TRANSIENT",
    "UNAVAILABLE",
    "KeyTypeError",
    "RedisWriteRefusedError",
    "ServerBusyError",
    "describe_url",
    "fault_kind",
    "is_busygroup",
    "is_command_refusal",
    "is_index_exists",
    "is_missing_index",
    "is_nogroup",
    "is_pool_exhausted",
    "is_search_timeout",
    "is_slot_moving",
    "is_unknown_command",
    "is_unsupported_vector_field",
    "map_redis_error",
    "mark_sent",
    "may_resend",
    "search_timeout_error",
    "sent_once",
    "translate_errors",
    "unescaped_password",
    "write_timeout",
]

#: The server could not be reached or did not answer in time (on a cluster: no node of
#: the URL answered while the client looked up the slots, e.g. the seed node is down).
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    # (not in every redis-py the pack supports: 3.10 resolves one without it)
    *(
        (redis.exceptions.RedisClusterUnreachableError,)
        if hasattr(redis.exceptions, "RedisClusterUnreachableError")
        else ()
    ),
)
#: What redis-py's retries re-send a command after: a connection that failed, mostly a
#: pooled one the server had closed while idle. Not a timeout: the command was sent and
#: may run once the server gets to it, so re-sending a write would apply it twice (a chat
#: message stored twice); a timeout is the caller's fault to handle.
RETRIED: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError,)

# Inside sent_once(): the config's clients re-send nothing (see may_resend).
_ONCE: ContextVar[bool] = ContextVar("redis_agent_sent_once", default=False)
_SENT_ATTR = "_redis_agent_sent"  # on a fault met after its command was sent (mark_sent)


class _SentOnce:
    # a class, not @contextmanager: ~0.5 us a block instead of ~1.4 (hot write paths)
    __slots__ = ("token",)

    def __init__(self) -> None:
        self.token: Token[bool] | None = None

    def __enter__(self) -> None:
        self.token = _ONCE.set(True)

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if self.token is not None:
            _ONCE.reset(self.token)
        if exc is not None:
            mark_sent(exc)  # mapped outside the block too


#: In redis-py's text of a fault met while connecting ("Error 111 connecting to host:port",
#: "Timeout connecting to server"): nothing was sent.
_CONNECTING = "connecting to"


def mark_sent(exc: BaseException) -> None:
    """Note on a connection fault met once its command may have been sent (so it may have
    run) that :func:`map_redis_error` says so; other errors are left alone."""
    if isinstance(exc, UNAVAILABLE) and _CONNECTING not in str(exc) and not is_pool_exhausted(exc):
        setattr(exc, _SENT_ATTR, True)


#: redis-py's error when a pool has handed out all of its ``max_connections`` (its class
#: where it has one; a ``BlockingConnectionPool`` given by the app says it in words
#: after waiting its ``timeout``).
_EXHAUSTED: tuple[type[Exception], ...] = tuple(
    cls for cls in (getattr(redis.exceptions, "MaxConnectionsError", None),) if cls is not None
)
_EXHAUSTED_TEXT = ("Too many connections", "No connection available")


def is_pool_exhausted(exc: BaseException) -> bool:
    """Whether ``exc`` says every connection of the client's pool was in use (nothing
    was sent; the server is fine)."""
    return isinstance(exc, _EXHAUSTED) or (
        isinstance(exc, redis.exceptions.ConnectionError) and str(exc).startswith(_EXHAUSTED_TEXT)
    )


_RESENT = nullcontext()


def sent_once(once: bool = True) -> AbstractContextManager[None]:
    """Send the block's commands at most once: for writes that a second run would apply
    again (a chat message appended, a rate limit charged, a stream entry added).

    redis-py re-sends a command after a lost connection (:data:`RETRIED`), also when
    the server ran it and only the reply was lost: such a write would apply twice,
    silently. In the block, the clients the config builds do not (:func:`may_resend`),
    and a fault maps to a :class:`RedisUnavailableError` saying that the write may or
    may not have been applied. ``once=False``: a no-op (for callers that decide per
    command). Idempotent writes and reads keep redis-py's retries."""
    return _SentOnce() if once else _RESENT


def may_resend(error: BaseException | None = None) -> bool:
    """redis-py's ``is_retryable`` check of the config's clients (and their retry count
    on a cluster): ``False`` inside :func:`sent_once` (the command may have run: never
    send it again)."""
    return not _ONCE.get()


#: The server answered but refused to write (memory full with noeviction, read-only replica).
REFUSED: tuple[type[Exception], ...] = (
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
)


class ServerBusyError(redis.exceptions.ResponseError):
    """``BUSY``: the server is running a script or module command past
    ``busy-reply-threshold`` and answers nothing else until it ends.

    redis-py has no class for it (a plain ``ResponseError``), so ``except`` could not
    tell it from a bad command; the message keeps the server's text (``BUSY ...``).
    """

    def __init__(self, message: str = "", *args: Any, **kwargs: Any) -> None:
        # the parser strips the code; put it back (once: unpickling passes the full text)
        text = message if message.startswith("BUSY") else f"BUSY {message}"
        super().__init__(text, *args, **kwargs)


# Registered with redis-py's reply parser (every connection, sync and async, hiredis or
# not, pipelines included) so that each ``except FAULTS`` site catches it by type. It is
# still a ResponseError with the same text: other code sees no difference.
_BUSY = cast(
    "type[redis.exceptions.ResponseError]",
    BaseParser.EXCEPTION_CLASSES.setdefault("BUSY", ServerBusyError),
)
# (the parser is redis-py's, shared by the application's own clients: hence "if")
_WRONGTYPE_FIX = (
    " (redis-agent-pack: if the key is under the pack's namespace, something else writes "
    "there; give this application a namespace of its own, RedisAgentConfig(namespace=...) "
    "or REDIS_AGENT_NAMESPACE, or delete that key)"
)


class KeyTypeError(redis.exceptions.ResponseError, SchemaMismatchError):
    """``WRONGTYPE``: a key the pack uses holds a value of another type (another
    application writing under the same namespace, a key set by hand).

    Registered with redis-py's reply parser as :class:`ServerBusyError` is, so every role
    raises it (scripts, pipelines and the fast paths alike): a
    :class:`~redis_agent_core.errors.SchemaMismatchError` naming the fix, and still the
    ``ResponseError`` with the server's text that code written for redis-py expects.
    Never degraded to a miss or an admission: it is a deployment mistake, not an outage.
    """

    def __init__(self, message: str = "", *args: Any, **kwargs: Any) -> None:
        # the parser strips the code; put it back, and the fix (once: unpickling
        # passes the full text)
        text = message if message.startswith("WRONGTYPE") else f"WRONGTYPE {message}"
        if _WRONGTYPE_FIX not in text:
            text += _WRONGTYPE_FIX
        super().__init__(text, *args, **kwargs)


BaseParser.EXCEPTION_CLASSES.setdefault("WRONGTYPE", KeyTypeError)

#: The server is up but cannot serve now: BUSY (a long script), TRYAGAIN (a multi-key
#: command during resharding), CLUSTERDOWN / MASTERDOWN (a cluster without all its slots,
#: a replica cut off from its primary with replica-serve-stale-data no), and what the
#: cluster client raises for them (ClusterError "TTL exhausted": MOVED / ASK / TRYAGAIN
#: redirections ran out while a slot moves; SlotNotCoveredError: no node serves the
#: slot; and "All slots are not covered", see CLUSTER_CLIENT). Not retried by redis-py
#: (unlike UNAVAILABLE): a pipeline may have run in part.
TRANSIENT: tuple[type[Exception], ...] = (
    _BUSY,
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterError,  # ClusterDownError, MasterDownError included
    redis.exceptions.SlotNotCoveredError,
)
#: ``LOADING``: the server replays its data and runs no command until loaded. redis-py
#: makes it a ConnectionError (so in UNAVAILABLE, and re-sent by its retries: the command
#: did not run); its message says it, not "lost the connection" (map_redis_error).
LOADING: tuple[type[Exception], ...] = (redis.exceptions.BusyLoadingError,)
#: The connection's ACL user may not run a command (or touch a key or channel).
DENIED: tuple[type[Exception], ...] = (redis.exceptions.NoPermissionError,)
#: A reply naming another cluster node (MOVED / ASK; MovedError is an AskError) or
#: refusing keys of several slots (CROSSSLOT): the server is a Redis Cluster node.
MISROUTED: tuple[type[Exception], ...] = (
    redis.exceptions.AskError,
    redis.exceptions.ClusterCrossSlotError,
)
#: Keys of one call in several hash slots: the server's CROSSSLOT, and the cluster
#: client's refusal of such a transaction (of a command or script: a bare
#: RedisClusterException, see CLUSTER_CLIENT). A bug in the key layout, never retried.
CROSS_SLOT: tuple[type[Exception], ...] = (
    redis.exceptions.ClusterCrossSlotError,
    # (not in every redis-py the pack supports)
    *(
        (redis.exceptions.CrossSlotTransactionError,)
        if hasattr(redis.exceptions, "CrossSlotTransactionError")
        else ()
    ),
)
#: The cluster client's own errors, which redis-py raises as a bare RedisClusterException
#: told apart only by their text (the same since redis-py 4): a slot map with holes ("All
#: slots are not covered": at startup, or after a node was lost with no replica to take
#: over; it recovers once every slot is served) is TRANSIENT; keys of one command or
#: script in several slots ("all keys must map to the same key slot") are CROSS_SLOT. Any
#: other one is a call the client cannot route (a bug) and passes unchanged.
CLUSTER_CLIENT: tuple[type[Exception], ...] = (redis.exceptions.RedisClusterException,)
_UNCOVERED_TEXT = "All slots are not covered"
_CROSS_SLOT_TEXT = "all keys must map to the same key slot"
#: A MULTI/EXEC on a cluster met its slot being moved to another node (MOVED / ASK, or
#: TRYAGAIN half-way): queue-time errors, so EXEC ran nothing. redis-py follows MOVED but
#: not ASK (it would need ASKING before MULTI), and a slot whose keys are split between
#: two nodes cannot take the transaction until the move ends: wait and send it again.
#: (ASKING would not shorten that: the importing node answers TRYAGAIN to a transaction
#: over several keys unless it holds them all, and a checkpoint or store write creates keys.)
MOVING: tuple[type[Exception], ...] = (
    redis.exceptions.AskError,
    redis.exceptions.TryAgainError,
)
#: Resends of a call refused while its slot moves (:data:`MOVING` on a MULTI/EXEC,
#: :func:`is_slot_moving` on a command or script: it ran nothing), with the config's
#: backoff between them (about 3.5 s in all with the defaults): a resharding moves a
#: slot's keys and reassigns it in that time.
MOVING_RETRIES = 10
_REDIRECTS_RAN_OUT = "TTL exhausted"


def is_slot_moving(exc: BaseException) -> bool:
    """Whether the cluster client gave up on a command or script because its slot is
    being moved: every try was redirected (MOVED / ASK) or refused (TRYAGAIN: the
    importing node cannot tell a key that is absent from one not carried over yet), so
    it ran nothing and may be sent again, a write sent at most once included."""
    return type(exc) is redis.exceptions.ClusterError and str(exc).startswith(_REDIRECTS_RAN_OUT)


#: Every fault that :func:`map_redis_error` turns into a pack error (already mapped
#: errors included, so a caller can catch one tuple around nested calls).
FAULTS: tuple[type[Exception], ...] = (
    *UNAVAILABLE,
    *TRANSIENT,
    *REFUSED,
    *DENIED,
    *MISROUTED,
    *CROSS_SLOT,
    *CLUSTER_CLIENT,
    RedisUnavailableError,
    RedisPermissionError,
)
#: An error reply of the server (a bad argument, an unknown command or index, a script's
#: error). The fault replies above are ResponseErrors too: catch FAULTS first where the
#: two differ.
REPLY: tuple[type[Exception], ...] = (redis.exceptions.ResponseError,)
#: EVALSHA of a script the server does not hold (first use, a restart, SCRIPT FLUSH, a
#: failover): the script did not run; send it again as EVAL.
NOSCRIPT: tuple[type[Exception], ...] = (redis.exceptions.NoScriptError,)
#: What a best-effort cleanup (closing a subscription, shutting a server down) ignores.
CLEANUP: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)


def fault_kind(exc: BaseException) -> str:
    """``"loading"`` (the server replays its data), ``"busy"`` (:data:`TRANSIENT`),
    ``"timeout"``, ``"down"``, ``"refused"`` (a write refused) or ``"other"``: for
    probes and retry decisions."""
    if isinstance(exc, LOADING):
        return "loading"
    if _is_transient(exc):
        return "busy"
    if isinstance(exc, redis.exceptions.TimeoutError):
        return "timeout"
    if isinstance(exc, REFUSED):
        return "refused"
    if isinstance(exc, UNAVAILABLE):
        return "down"
    return "other"


def _is_transient(exc: BaseException) -> bool:
    """A :data:`TRANSIENT` fault, or the cluster client's slot map with holes."""
    return isinstance(exc, TRANSIENT) or (
        isinstance(exc, CLUSTER_CLIENT) and str(exc).startswith(_UNCOVERED_TEXT)
    )


def _is_cross_slot(exc: BaseException) -> bool:
    """Keys of one call in several slots (:data:`CROSS_SLOT`), as the server or the
    cluster client says it."""
    return isinstance(exc, CROSS_SLOT) or (
        isinstance(exc, CLUSTER_CLIENT) and _CROSS_SLOT_TEXT in str(exc)
    )


def write_timeout() -> redis.exceptions.TimeoutError:
    """redis-py's fault for a write that did not finish in time, for code that times a
    socket write itself (the asyncio fast path's flow control): one of :data:`FAULTS`."""
    return redis.exceptions.TimeoutError("Timeout writing to socket")


# a query value whose name holds "password" (redis-py's ?password=, ?sentinel_password=)
_SECRET_QUERY = re.compile(r"([?&][^=&#]*password[^=&#]*=)[^&#]*", re.IGNORECASE)


def _userinfo_at(rest: str) -> int | None:
    """Where the userinfo of ``rest`` (a URL past its ``scheme://``) ends: the index of
    its ``@``, or ``None`` without one. A password holding an unescaped ``/``, ``?``,
    ``#`` or ``@`` ends the authority early for a parser, which then reads a piece of
    it as the host, the port, the path or the query: the userinfo then runs to the last
    ``@`` that a well-formed URL would not hold there (one in the path, or in a query or
    fragment part before any ``=``: ``?client_name=a@b`` is a value), unless no host
    follows the first (``unix://user@/tmp/a@b.sock``)."""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:  # well formed up to there; a stray @ further on extends it
        at = len(authority) - len(authority.rpartition("@")[2]) - 1
        tail = rest[len(authority) :]
        if at == len(authority) - 1:
            return at
        path = re.split(r"[?#]", tail, maxsplit=1)[0]
        if "@" in path:
            at = len(authority) + path.rindex("@")
        for part in re.finditer(r"[?&#]([^?&#]*)", tail[len(path) :]):
            head = part.group(1).partition("=")[0]
            if "@" in head:
                at = len(authority) + len(path) + part.start(1) + head.rindex("@")
        return at
    if "@" not in rest:
        return None
    for item in authority.split(","):  # a Sentinel URL lists hosts
        host, colon, port = re.sub(r"\[[^\]]*\]", "[]", item).rpartition(":")
        if colon and (not host or not port.isdigit()):
            return rest.rindex("@")  # the host or port is a piece of the password
    return None


# what check_url and create_app say of a URL for which unescaped_password is true
SPLIT_PASSWORD = (
    "its password holds '/', '?', '#' (or '@' and one of them): percent-encode them as "
    "%2F, %3F, %23, %40"
)


def unescaped_password(url: str) -> bool:
    """Whether ``url``'s password holds an unescaped ``/``, ``?`` or ``#`` (``redis://
    :a#b@host``, ``redis://:a@b/c@host``): the authority then ends inside it, and a
    parser reads a piece of the password as the host, the port or the database, which
    its error message shows."""
    rest = url.partition("://")[2]
    at = _userinfo_at(rest)
    return at is not None and bool(re.search(r"[/?#]", rest[:at]))


def describe_url(url: str) -> str:
    """The URL without its secrets, for messages and logs: the userinfo's password and
    every ``...password=`` query value, also in a malformed URL (a password holding an
    unescaped ``#``, ``?``, ``/`` or ``@`` ends the authority early for ``urlparse``,
    which then saw no password or a piece of it as the host, and the message showed it)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    at = _userinfo_at(rest)
    if at is not None and ":" in rest[:at]:
        rest = f"{rest[:at].partition(':')[0]}:***{rest[at:]}"
    return _SECRET_QUERY.sub(r"\1***", f"{scheme}{sep}{rest}")


def _where(config: RedisAgentConfig | None) -> str:
    if config is None:
        return "Redis"
    try:
        return f"Redis at {describe_url(config.resolve_url())}"
    except RedisUnavailableError:
        return "Redis (no server)"


#: NOAUTH's texts (redis-py drops the prefix): a command, or RESP3's HELLO, sent
#: before any AUTH: the client gave no credentials, none were refused
_NO_CREDENTIALS = ("Authentication required", "HELLO must be called with the client already")


def _auth_problem(exc: BaseException | str) -> str:
    """What an :class:`~redis.exceptions.AuthenticationError` (or its text) says went
    wrong."""
    if str(exc).startswith(_NO_CREDENTIALS):
        return "requires a password and none was given"
    return "refused this client's credentials"


_SENTINEL_AUTH = "AuthenticationError: "


def _sentinel_auth_reply(exc: BaseException) -> str | None:
    """A sentinel's refusal of the credentials inside redis-py's MasterNotFoundError
    (it keeps each sentinel's error as text only, so it read as "could not connect"):
    the reply's text, else None."""
    if not isinstance(
        exc, (redis.sentinel.MasterNotFoundError, redis.asyncio.sentinel.MasterNotFoundError)
    ):
        return None
    text = str(exc)
    at = text.find(_SENTINEL_AUTH)
    if at < 0:
        return None
    reply = text[at + len(_SENTINEL_AUTH) :]
    return reply.split(", <", 1)[0].rstrip(" .") or None


def map_redis_error(
    exc: BaseException, action: str, config: RedisAgentConfig | None = None
) -> RedisUnavailableError | RedisPermissionError:
    """The pack error for a redis-py fault met while doing ``action``.

    Returns (does not raise) :class:`RedisWriteRefusedError` for refused writes,
    :class:`RedisPermissionError` for a command the ACL user may not run and
    :class:`RedisUnavailableError` for everything else; an error that is already one
    of these is returned as is. Use as ``raise map_redis_error(exc, ...) from exc``.

    Raises :class:`ConfigError` for a :data:`MISROUTED` reply to a config that is not a
    cluster one (a missing ``?cluster=true``) and :class:`CrossSlotError` for keys of one
    call in several slots on a cluster (:data:`CROSS_SLOT`, a bug): no degrading policy
    should hide either. Another cluster client error (:data:`CLUSTER_CLIENT`) that is no
    fault is raised unchanged.
    """
    if isinstance(exc, (RedisUnavailableError, RedisPermissionError)):
        return exc
    if isinstance(exc, DENIED):
        return _denied_error(exc, action, config)
    if isinstance(exc, MISROUTED):
        return _misrouted_error(exc, action, config)
    if _is_cross_slot(exc):
        raise _cross_slot_error(exc, action, config) from exc
    if is_search_timeout(exc):
        return search_timeout_error(action, config, failed=True)
    where = _where(config)
    if is_pool_exhausted(exc):
        return _exhausted_error(exc, action, config, where)
    if isinstance(exc, redis.exceptions.OutOfMemoryError):
        return RedisWriteRefusedError(
            f"{action} failed: {where} refused the write because it reached maxmemory "
            f"with maxmemory-policy noeviction ({exc}). Raise maxmemory or delete data; "
            "reads keep working meanwhile. Keep noeviction unless this server holds caches "
            "only: a policy that evicts would silently drop rate-limit counts, checkpoints, "
            "history and bus messages (docs/operations.md, Memory).",
            cause="oom",
        )
    if isinstance(exc, redis.exceptions.ReadOnlyError):
        return RedisWriteRefusedError(
            f"{action} failed: {where} is a read-only replica ({exc}). Point url= / "
            "REDIS_URL at the primary (or promote this server with REPLICAOF NO ONE).",
            cause="readonly",
        )
    refused = _sentinel_auth_reply(exc)
    if refused is not None:
        return RedisUnavailableError(
            f"{action} failed: the sentinels of {where} {_auth_problem(refused)} "
            f"({refused}): they are up and need credentials they accept, given apart "
            "from the data nodes' password: redis+sentinel://:password@host:26379/"
            "mymaster?sentinel_password=...&sentinel_username=... (as REDIS_URL / url=)."
        )
    if _is_transient(exc) or isinstance(exc, LOADING):
        return _transient_error(exc, action, where)
    if isinstance(exc, redis.exceptions.AuthenticationError):
        # the server answered: "check that it is running and reachable" misled
        return RedisUnavailableError(
            f"{action} failed: {where} {_auth_problem(exc)} ({exc}): the server is up and "
            "needs a user and password it accepts. Put them in the URL "
            "(redis://user:password@host:6379/0, redis://:password@host:6379/0 for the "
            "default user, unix:///path/redis.sock?password=...) given as REDIS_URL / url=."
        )
    if isinstance(exc, CLUSTER_CLIENT) and not isinstance(exc, UNAVAILABLE):
        raise exc  # a call the cluster client cannot route: a bug, not a fault
    sent = bool(getattr(exc, _SENT_ATTR, False))
    if isinstance(exc, redis.exceptions.TimeoutError):
        kind = "timed out"
    elif sent:
        kind = "lost the connection"
    else:
        kind = "could not connect"
    note = (
        " The write may or may not have been applied (its reply was lost; it is never "
        "sent twice): check before repeating it."
        if sent
        else ""
    )
    return RedisUnavailableError(
        f"{action} failed: {where} {kind} ({exc}).{note} Check that the server is running "
        "and reachable, or set REDIS_URL / url= to a live Redis."
    )


def _exhausted_error(
    exc: BaseException, action: str, config: RedisAgentConfig | None, where: str
) -> PoolExhaustedError:
    """All connections of the pool in use: nothing was sent; size the pool or the load."""
    size = getattr(config, "max_connections", None)
    setting = f"max_connections={size}" if size else "the pool's max_connections, 100 by default"
    waited = getattr(config, "socket_timeout", None)
    sizing = "RedisAgentConfig(max_connections=...)"
    if any(getattr(config, name, None) is not None for name in ("client", "async_client")):
        # the app's own pool: its size and its wait (redis-py's timeout), not the config's
        setting = "the max_connections (and timeout) of the pool of the client you gave"
        sizing, waited = "that pool's max_connections", None
    if waited is not None and str(exc).startswith("No connection available"):
        setting += f"; none came back within {waited:g} s (socket_timeout)"
    return PoolExhaustedError(
        f"{action} failed: every connection of the client's pool to {where} was in use "
        f"({exc}; {setting}), so nothing was sent; the server is fine. Raise "
        f"{sizing} above the calls you run at once, or bound them (e.g. an "
        "asyncio.Semaphore)."
    )


def _denied_error(
    exc: BaseException, action: str, config: RedisAgentConfig | None
) -> RedisPermissionError:
    """The error of a NOPERM reply: who lacks what, and the command that prints the fix."""
    user, namespace = "USER", "NAMESPACE"
    if config is not None:
        namespace = config.namespace
        with suppress(RedisUnavailableError, ValueError):
            user = urlparse(config.resolve_url()).username or "default"
    return RedisPermissionError(
        f"{action} failed: {_where(config)} refused a command to this connection's ACL user "
        f"({exc}). Grant the user the rules the pack needs: `redis-agent acl {user} "
        f"--namespace {namespace}` prints its ACL SETUSER line (see 'Least privilege' in "
        "docs/operations.md); or connect as a user that has them."
    )


# What to do about each TRANSIENT reply, most specific class first; redis-py strips the
# reply's code from the message of the classes it knows, so it is named here.
_TRANSIENT_FIXES: tuple[tuple[type[Exception], str, str], ...] = (
    (
        redis.exceptions.BusyLoadingError,
        "LOADING",
        "It is loading its dataset into memory (a restart replaying its RDB / AOF, or a "
        "replica's full sync) and runs no command meanwhile, so this one did not run: "
        "retry once it has loaded (INFO persistence: loading:0).",
    ),
    (
        redis.exceptions.MasterDownError,
        "MASTERDOWN",
        "It is a replica that lost its primary (replica-serve-stale-data no): it answers "
        "again once the link is back; or point url= / REDIS_URL at the primary.",
    ),
    (
        redis.exceptions.ClusterDownError,
        "CLUSTERDOWN",
        "The cluster lacks a node for some slots: it answers again once they are served.",
    ),
    (
        redis.exceptions.TryAgainError,
        "TRYAGAIN",
        "The keys are being moved between cluster nodes: retry in a moment.",
    ),
    (
        redis.exceptions.ClusterError,
        "",
        "The keys' slot is being moved between cluster nodes and the redirections ran out: "
        "retry in a moment.",
    ),
    (
        redis.exceptions.SlotNotCoveredError,
        "",
        "No cluster node serves the keys' slot now: it answers again once a node does "
        "(check CLUSTER INFO / CLUSTER SLOTS).",
    ),
    (  # the slot map with holes (_is_transient): no other one gets here
        redis.exceptions.RedisClusterException,
        "",
        "Some slots have no cluster node (at startup, or a node lost with no replica to take "
        "over): it answers again once every slot is served (check CLUSTER INFO / CLUSTER "
        "SLOTS).",
    ),
    (
        _BUSY,
        "BUSY",
        "A script or module command runs past busy-reply-threshold: the server answers "
        "again when it ends. End a runaway one with SCRIPT KILL (FUNCTION KILL for a "
        "function), or keep such scripts shorter.",
    ),
)


def _transient_error(exc: BaseException, action: str, where: str) -> RedisUnavailableError:
    """The error of a :data:`TRANSIENT` reply: its code and text, and what to do."""
    code, fix = next((c, f) for cls, c, f in _TRANSIENT_FIXES if isinstance(exc, cls))
    text = str(exc) if not code or str(exc).startswith(code) else f"{code} {exc}"
    return RedisUnavailableError(f"{action} failed: {where} cannot serve now ({text}). {fix}")


def _misrouted_error(
    exc: BaseException, action: str, config: RedisAgentConfig | None
) -> RedisUnavailableError:
    """A plain client's MISROUTED reply raises ConfigError naming the fix; a cluster
    client's CROSSSLOT raises CrossSlotError (a bug); its MOVED / ASK (keys moved while a
    transaction ran) is transient."""
    if config is not None and not config.is_cluster():
        raise ClusterURLError(
            f"{action} failed: {_where(config)} is a Redis Cluster node ({exc}); a plain "
            "client reaches only the keys that node holds. Add ?cluster=true to the URL "
            "(or pass cluster=True, or client=RedisCluster(...))."
        ) from exc
    if _is_cross_slot(exc):
        raise _cross_slot_error(exc, action, config) from exc
    return RedisUnavailableError(
        f"{action} failed: {_where(config)} moved the keys to another cluster node meanwhile "
        f"(a resharding: {exc}). Retry in a moment."
    )


def _cross_slot_error(
    exc: BaseException, action: str, config: RedisAgentConfig | None
) -> CrossSlotError:
    return CrossSlotError(
        f"{action} failed: {_where(config)} refused a call whose keys fall in different "
        f"cluster hash slots ({exc}). The keys of one command, script or transaction must "
        "share a hash tag: a bug in the key layout, which no retry fixes. Please report it "
        "with this message."
    )


@contextmanager
def translate_errors(config: RedisAgentConfig | None, action: str) -> Iterator[None]:
    """Re-raise redis-py faults inside the block as pack errors (see :func:`map_redis_error`).

    Works around sync and async code alike (``with translate_errors(...):``) and as a
    decorator of sync functions.
    """
    try:
        yield
    except FAULTS as exc:
        mapped = map_redis_error(exc, action, config)
        if mapped is exc:
            raise
        raise mapped from exc
    except redis.exceptions.ResponseError as exc:
        if not is_search_timeout(exc):
            raise
        raise search_timeout_error(action, config, failed=True) from exc


#: What RediSearch says when a query passes its TIMEOUT: the error of ``ON_TIMEOUT FAIL``
#: and the RESP3 warning of ``ON_TIMEOUT RETURN`` (partial results) alike.
SEARCH_TIMEOUT_TEXT = "timeout limit was reached"


def is_search_timeout(exc: BaseException | str) -> bool:
    """Whether an error (or a reply warning) says a RediSearch query passed the server's
    TIMEOUT; wrapped errors (redisvl's ``RedisSearchError``) are matched by their text
    or their cause."""
    while isinstance(exc, BaseException):
        if SEARCH_TIMEOUT_TEXT in str(exc).lower():
            return True
        if exc.__cause__ is None:
            return False
        exc = exc.__cause__
    return SEARCH_TIMEOUT_TEXT in exc.lower()


def search_timeout_error(
    action: str = "a search", config: RedisAgentConfig | None = None, *, failed: bool = False
) -> SearchTimeoutError:
    """The error of a search that passed the server's TIMEOUT: ``failed`` when the server
    refused it (ON_TIMEOUT FAIL), else it returned partial results (ON_TIMEOUT RETURN)."""
    outcome = (
        "failed (ON_TIMEOUT FAIL)"
        if failed
        else "returned partial results (ON_TIMEOUT RETURN), which the pack refuses to use"
    )
    return SearchTimeoutError(
        f"{action} failed: the search timed out on {_where(config)} (its TIMEOUT, 500 ms by "
        f"default) and {outcome}. Raise the TIMEOUT (CONFIG SET search-timeout <ms> on "
        "Redis 8, FT.CONFIG SET TIMEOUT <ms> on Redis Stack), simplify the query (a narrower "
        "filter, a smaller k or LIMIT) or lower the server's load; and set ON_TIMEOUT FAIL "
        "(search-on-timeout fail) on servers you run, so a timeout is always an error."
    )


def is_missing_index(exc: BaseException) -> bool:
    """Whether a RediSearch reply error says the index does not exist."""
    text = str(exc).lower()
    return "no such index" in text or "unknown index name" in text or "unknown index" in text


def is_nogroup(exc: BaseException) -> bool:
    """Whether a stream command failed because the consumer group (or the stream) is gone,
    e.g. after Redis restarted without its data."""
    return isinstance(exc, redis.exceptions.ResponseError) and str(exc).startswith("NOGROUP")


def is_unknown_command(exc: BaseException) -> bool:
    """Whether a reply error says the server does not know the command (a module absent)."""
    return isinstance(exc, REPLY) and "unknown command" in str(exc).lower()


#: How RediSearch refuses a vector field it cannot build: an algorithm or a TYPE it does
#: not know ("Bad arguments for vector similarity algorithm: Unknown argument", "... FLAT
#: index type: Unknown argument"; Redis 8 prefixes "SEARCH_PARSE_ARGS"), or no VECTOR
#: field type at all (before RediSearch 2.4: "Invalid field type for field `v`").
_UNSUPPORTED_VECTOR_TEXTS = ("bad arguments for vector similarity", "invalid field type")


def is_unsupported_vector_field(exc: BaseException) -> bool:
    """Whether FT.CREATE failed because the server cannot build this vector field (its
    algorithm or type is unknown there): an answer about support. Any other refusal (a
    read-only replica, memory full, NOPERM) says nothing about it."""
    text = str(exc).lower()
    return isinstance(exc, REPLY) and any(t in text for t in _UNSUPPORTED_VECTOR_TEXTS)


def is_busygroup(exc: BaseException) -> bool:
    """Whether XGROUP CREATE failed because the consumer group already exists."""
    return isinstance(exc, REPLY) and "BUSYGROUP" in str(exc)


def is_index_exists(exc: BaseException) -> bool:
    """Whether FT.CREATE failed because the index already exists (another process won)."""
    return isinstance(exc, REPLY) and "already exists" in str(exc).lower()


def is_command_refusal(exc: BaseException) -> bool:
    """Whether an error reply refuses the command itself (unknown, wrong arguments, not
    allowed: NOPERM, a write refused), which a probe may read as "not available"; not a
    server that cannot serve now (:data:`TRANSIENT`: BUSY, TRYAGAIN, ...) or the wrong
    node (:data:`MISROUTED`), whose answer would be wrong and then kept."""
    return isinstance(exc, REPLY) and not isinstance(exc, (*TRANSIENT, *MISROUTED))
