"""One settings object and the one place that builds Redis clients from it.

URL resolution: explicit ``url`` > ``REDIS_URL`` > the fallback registered with
:func:`set_url_fallback` (the embedded server: :mod:`.embedded` registers it, so this
module never imports the server). Clients are pooled and shared: building a component
never opens a new connection pool, and nothing touches the network until a command is
sent.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import reprlib
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import EqualJitterBackoff
from redis.client import NEVER_DECODE
from redis.cluster import RedisCluster
from redis.retry import Retry

from .errors import (
    ConfigError,
    EmbeddedServerError,
    RedisUnavailableError,
    RedisURLError,
    ValueTooLargeError,
)
from .fastpath import CheckedAsyncPool, check_cluster_idle_sockets
from .keys import KeySpace, validate_namespace

# describe_url and translate_errors live in redis_errors; importable from here as before
from .redis_errors import (
    LOADING,
    RETRIED,
    SPLIT_PASSWORD,
    describe_url,
    may_resend,
    translate_errors,
    unescaped_password,
)
from .sentinel import SentinelURL, is_sentinel_url, parse_sentinel_url

__all__ = [
    "ENV_URL",
    "MAX_TTL",
    "RAW_REPLY",
    "RedisAgentConfig",
    "backoff",
    "check_seconds",
    "check_size",
    "check_ttl_seconds",
    "check_url",
    "describe_url",
    "get_default_config",
    "set_default_config",
    "set_url_fallback",
    "translate_errors",
]

ENV_URL = "REDIS_URL"
# Redis's own bounds of proto-max-bulk-len (one argument of a command): its default, and
# the least it accepts (so a value up to 1 MiB fits on any server)
DEFAULT_MAX_VALUE_BYTES = 512 * 1024 * 1024
MIN_BULK_LEN = 1024 * 1024
ENV_NAMESPACE = "REDIS_AGENT_NAMESPACE"

_url_fallback: Callable[[], str] | None = None

# Longest TTL a setting accepts: 100 years. Redis refuses an EXPIRE whose milliseconds
# overflow a signed 64-bit time (ttl above ~9.2e15 s), and inside a Lua script that
# refusal comes after the script's earlier writes: they stay, without a TTL.
MAX_TTL = 100 * 365 * 24 * 3600

# Most tokens one call may count (the limiter's charge, a cache entry's usage): token
# counts must stay exact in Lua and in Redis integers
MAX_TOKENS = 10**13

# ``execute_command`` options that read a reply as bytes even on a client given with
# ``decode_responses=True`` (a peer's ``redis_client=``): vectors and serialized values
# are not UTF-8, and the pack's parsers read bytes. redis-py's own per-command switch,
# on sync, asyncio and cluster clients and their pipelines; a MULTI/EXEC decodes its
# EXEC reply regardless, so such reads run outside one.
RAW_REPLY: Mapping[str, Any] = MappingProxyType({NEVER_DECODE: True})


def check_ttl_seconds(ttl: object, what: str = "ttl") -> int | None:
    """``ttl`` if it is None or an int of seconds in ``1..MAX_TTL``, else
    :class:`ConfigError` naming ``what``."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ConfigError(f"{what} must be a positive int of seconds or None, got {ttl!r}")
    if ttl > MAX_TTL:
        raise ConfigError(
            f"{what} must be at most {MAX_TTL} seconds (100 years), got {ttl!r}; "
            "pass None for entries that never expire"
        )
    return ttl


def check_seconds(
    value: object,
    what: str,
    *,
    zero: bool = False,
    least: float | None = None,
    most: float | None = None,
    unit: str = "seconds",
) -> float:
    """``value`` as a float: a finite number of seconds > 0 (``>= 0`` with ``zero``,
    ``>= least`` if given), at most ``most`` if given, else :class:`ConfigError` naming
    ``what`` and the fix. ``unit``: what the number counts, when not seconds (LangGraph
    gives TTLs in ``"minutes"``); the bounds and the result are in it.

    The pack's one check of a duration or wait: NaN compares false with every bound (a
    cap of NaN is no cap), inf waits forever, an int beyond float range is refused (not
    a raw OverflowError), and a bool is refused (True is not 1 s).
    """
    if not isinstance(value, bool) and isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond float range
            seconds = math.inf
        if least is not None:
            low_ok = seconds >= least
        else:
            low_ok = seconds >= 0 if zero else seconds > 0
        if low_ok and seconds < math.inf and (most is None or seconds <= most):
            return seconds
    low = f">= {_bound(least)}" if least is not None else ">= 0" if zero else "> 0"
    high = "" if most is None else f" and <= {_bound(most)}"
    raise ConfigError(
        f"{what} must be a finite number of {unit} {low}{high}, got {reprlib.repr(value)}; "
        "pass an int or a float in that range (not a str or a bool)"
    )


def check_count(value: Any, what: str, most: int | None = None) -> int:
    """``value`` if it is an int >= 1 (not a bool) and at most ``most``, else
    :class:`ConfigError` (past what the server takes, its reply was a raw error)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{what} must be an int >= 1, got {value!r}")
    if most is not None and value > most:
        raise ConfigError(f"{what} must be at most {most:,}, got {value:,}")
    return value


def check_size(value: Any, what: str) -> int:
    """``value`` if it is an int >= 0 (not a bool: a count of items, 0 for none), else
    :class:`ConfigError` naming ``what`` and the fix (a negative count once read as
    "none" and returned nothing, silently)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(
            f"{what} must be an int >= 0 (a count; 0 for none), got {reprlib.repr(value)}"
        )
    return value


def _bound(seconds: float) -> str:
    # whole seconds in full (3153600000, not 3.1536e+09); fractions as short as they go
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry ``attempt`` (0 = the first retry): the pack's one
    backoff, redis-py's exponential with equal jitter (the one the clients' retries use
    too), in ``[half, full]`` of ``min(cap, base * 2**attempt)``: never a zero wait."""
    return float(EqualJitterBackoff(cap=cap, base=base).compute(attempt))


def set_url_fallback(fallback: Callable[[], str] | None) -> None:
    """Set what gives the URL when neither ``url=`` nor ``REDIS_URL`` is set.

    ``fallback()`` returns a URL or raises :class:`EmbeddedServerError`; ``None``
    removes it. The embedded server registers itself here on import.
    """
    global _url_fallback
    _url_fallback = fallback


def _client_name() -> str:
    """``<program>:<pid>``, e.g. ``celery:4242`` (CLIENT SETNAME allows no spaces)."""
    argv = getattr(sys, "orig_argv", sys.argv)
    if "-m" in argv[:-1]:
        program = argv[argv.index("-m") + 1]  # python -m celery: celery
    elif "-c" in argv or not sys.argv or not sys.argv[0]:
        program = "python"
    else:
        program = os.path.basename(sys.argv[0])
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', program)[:40]}:{os.getpid()}"


SyncClient = redis.Redis | RedisCluster
AsyncClient = aredis.Redis | aredis.RedisCluster


_URL_EXAMPLES = (
    "redis://localhost:6379/0, rediss://:password@host:6380/0, unix:///path/to/redis.sock "
    "or redis+sentinel://sentinel1:26379,sentinel2:26379/mymaster/0"
)


def check_url(url: object, source: str = "url=") -> str:
    """``url`` if redis-py can use it, else :class:`RedisURLError` (a ``ConfigError``)
    naming ``source`` (the argument or variable it came from) and showing valid URLs."""

    def bad(problem: str) -> RedisURLError:
        shown = describe_url(url) if isinstance(url, str) else repr(url)
        return RedisURLError(
            f"{source} is not a usable Redis URL ({problem}): got {shown!r}. "
            f"Use e.g. {_URL_EXAMPLES}."
        )

    if not isinstance(url, str) or not url.strip():
        raise bad("empty")
    if unescaped_password(url):  # any parser's message would show a piece of it
        raise bad(SPLIT_PASSWORD)
    if is_sentinel_url(url):
        try:
            parse_sentinel_url(url)
        except ConfigError as exc:
            raise bad(str(exc)) from exc
        return url
    try:
        parsed = urlparse(url)
    except ValueError as exc:  # e.g. an unbalanced '[' in the host
        raise bad(str(exc)) from exc
    if parsed.scheme not in ("redis", "rediss", "unix"):
        raise bad("it must start with redis://, rediss://, unix:// or redis+sentinel://")
    if parsed.scheme == "unix":
        if not parsed.path:
            raise bad("a unix:// URL needs the socket's path, unix:///path/to/redis.sock")
    else:
        db = parsed.path.strip("/")
        if db and not db.isdigit():
            raise bad(f"the database after the host must be a number, not {db!r}")
    try:
        # the connection object, built without I/O: redis-py hands an option it does not
        # know (a typo, ssl_cert_reqs on a redis:// URL) to it, so it raised a bare
        # TypeError at the first command instead of a ConfigError here
        options = redis.connection.parse_url(_split_cluster_flag(url)[0])
        options.pop("max_connections", None)  # the pool's, not the connection's
        options.pop("connection_class", redis.connection.Connection)(**options)
    except ValueError as exc:  # bad port, bad query value
        raise bad(str(exc)) from exc
    except TypeError as exc:
        option = str(exc).rpartition(" ")[2]
        raise bad(f"redis-py has no connection option {option} for this scheme") from exc
    return url


def _fail_once(fail: Any, error: Exception, args: tuple, kwargs: dict) -> Any:
    """redis-py's ``fail`` callback (it disconnects) as its retry loop calls it, once
    (``args`` / ``kwargs``: call_with_retry's after ``fail``)."""
    count = kwargs.get("with_failure_count", args[1] if len(args) > 1 else False)
    return fail(error, 1) if count else fail(error)


if TYPE_CHECKING:  # the mixin's super() is a redis-py retry policy (sync or asyncio)
    from redis.retry import AbstractRetry

    _RetryBase = AbstractRetry[Any]
else:
    _RetryBase = object


class _SentOnceCount(_RetryBase):
    """The retry count of both policies (sync and asyncio): none inside
    redis_errors.sent_once() (may_resend). A cluster client re-sends by it, after a
    timeout too."""

    def get_retries(self) -> int:
        return super().get_retries() if may_resend() else 0


class _Retry(_SentOnceCount, Retry):
    """The config's retry policy: none inside redis_errors.sent_once() (may_resend). A
    plain client's retry loop (call_with_retry) and a cluster client's count
    (get_retries, which it re-sends by, after a timeout too) both ask. (redis-py's own
    ``is_retryable`` hook is not used: redis-py 6.3, the oldest supported, lacks it.)"""

    def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
        if may_resend():
            return super().call_with_retry(do, fail, *args, **kwargs)
        try:
            return do()
        except self._supported_errors as error:
            _fail_once(fail, error, args, kwargs)
            raise


class _AsyncRetry(_SentOnceCount, AsyncRetry):
    """:class:`_Retry` for asyncio clients."""

    async def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
        if may_resend():
            return await super().call_with_retry(do, fail, *args, **kwargs)
        try:
            return await do()
        except self._supported_errors as error:
            await _fail_once(fail, error, args, kwargs)
            raise


class _Cluster(RedisCluster):
    """redis-py's cluster client, re-sending a command a node answered ``LOADING`` (a
    node restarting from its RDB / AOF: the command did not run) as it re-sends one
    after a connection error, and as a plain client does: ``retries`` times with the
    backoff, none inside :func:`..redis_errors.sent_once`. redis-py's own matches its
    retry list by exact class, so it raised at the first ``LOADING``."""

    # (redis-py types its list as exactly its four classes)
    ERRORS_ALLOW_RETRY = (*RedisCluster.ERRORS_ALLOW_RETRY, *LOADING)  # type: ignore[assignment]


class _AsyncCluster(aredis.RedisCluster):
    """:class:`_Cluster` for asyncio."""

    ERRORS_ALLOW_RETRY = (*aredis.RedisCluster.ERRORS_ALLOW_RETRY, *LOADING)  # type: ignore[assignment]


def _split_cluster_flag(url: str) -> tuple[str, bool]:
    """Strip a ``cluster=true`` query flag from ``url``; return the URL and the flag."""
    parsed = urlparse(url)
    query = parse_qs(parsed.query, keep_blank_values=True)
    flag = query.pop("cluster", None)
    if flag is None:
        return url, False
    value = flag[-1].lower() in ("1", "true", "yes", "on")
    return urlunparse(parsed._replace(query=urlencode(query, doseq=True))), value


@dataclass
class RedisAgentConfig:
    """Settings shared by every component of the pack.

    Args:
        url: ``redis://``, ``rediss://``, ``unix://`` or ``redis+sentinel://`` URL
            (see :mod:`.sentinel`). ``None``: ``REDIS_URL``, else the embedded server.
            Add ``?cluster=true`` (or ``cluster=True``) for Redis Cluster.
        namespace: prefix of every key and index name the pack writes.
        default_ttl: seconds before stored entries expire (``None``: never); each
            component may override it.
        socket_timeout: seconds a command may take before it fails (no hangs).
        socket_connect_timeout: seconds to establish a connection.
        retries: retries of a command after a connection error (never after a
            timeout: the command may still run, and a write would apply twice), with
            exponential backoff and jitter between ``retry_backoff_base`` and
            ``retry_backoff_cap`` seconds.
        max_connections: pool size (``None``: redis-py's default, 100). An asyncio call
            past it waits up to ``socket_timeout`` for a connection to come back, then
            raises :class:`PoolExhaustedError`; a sync call past it raises at once.
        cluster: use :class:`redis.cluster.RedisCluster`; ``None`` reads the URL flag.
        on_error: what components do when Redis is unreachable, unless given their own
            policy: ``None`` (each component's documented default: caches degrade to a
            miss, the rate limiter fails closed, history/vectors/bus raise),
            ``"raise"`` (everything raises :class:`RedisUnavailableError`) or
            ``"degrade"`` (caches miss and skip writes, the rate limiter fails open).
        max_value_bytes: the largest value one write may send: the server's
            ``proto-max-bulk-len`` (512 MiB by default; operators and managed services
            often set less: give theirs). A larger value raises
            :class:`ValueTooLargeError` before anything is sent (the server would close
            the connection, which reads as Redis down).
        client: an existing sync client to use instead of building one.
        async_client: an existing asyncio client to use instead of building one.
    """

    url: str | None = None
    namespace: str = "rap"
    default_ttl: int | None = None
    socket_timeout: float = 5.0
    socket_connect_timeout: float = 2.0
    retries: int = 2
    retry_backoff_base: float = 0.02
    retry_backoff_cap: float = 0.5
    max_connections: int | None = None
    cluster: bool | None = None
    on_error: Literal["raise", "degrade"] | None = None
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
    client: SyncClient | None = field(default=None, repr=False, compare=False)
    async_client: AsyncClient | None = field(default=None, repr=False, compare=False)

    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )
    _sync: SyncClient | None = field(default=None, init=False, repr=False, compare=False)
    _async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = field(
        default_factory=weakref.WeakKeyDictionary, init=False, repr=False, compare=False
    )
    _resolved_url: str | None = field(default=None, init=False, repr=False, compare=False)
    _from_fallback: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        if self.url is not None:
            check_url(self.url, "url=")
        check_ttl_seconds(self.default_ttl, "default_ttl")
        for name in ("socket_timeout", "socket_connect_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"{name} must be > 0 seconds, got {value!r}")
        if self.retries < 0:
            raise ConfigError(f"retries must be >= 0, got {self.retries!r}")
        if self.on_error not in (None, "raise", "degrade"):
            raise ConfigError(f"on_error must be None, 'raise' or 'degrade', got {self.on_error!r}")
        limit = self.max_value_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < MIN_BULK_LEN:
            raise ConfigError(
                f"max_value_bytes must be an int >= {MIN_BULK_LEN} (the least "
                f"proto-max-bulk-len Redis accepts), got {limit!r}"
            )

    def __repr__(self) -> str:
        # the dataclass's repr showed url= whole, password and all, wherever a config
        # was printed or logged (a traceback's locals, a component's repr)
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        if isinstance(self.url, str):
            shown["url"] = describe_url(self.url)
        return f"RedisAgentConfig({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def check_value_sizes(self, values: Iterable[bytes | str], what: str) -> None:
        """Raise :class:`ValueTooLargeError` (naming the size, the limit and the fix) for a
        value over ``max_value_bytes``, before it is sent. A length compare per value; a
        str is encoded only when it might be over (up to 4 bytes a character)."""
        limit = self.max_value_bytes
        for value in values:
            size = len(value)
            if isinstance(value, str) and size * 4 > limit:
                size = len(value.encode("utf-8", "surrogatepass"))
            if size > limit:
                self.check_value_size(size, what)

    def check_value_size(self, size: int, what: str) -> None:
        """:meth:`check_value_sizes` for a value measured by the caller (``size`` bytes),
        e.g. a message another library encodes when it sends it."""
        limit = self.max_value_bytes
        if size > limit:
            raise ValueTooLargeError(
                f"{what} is {size:,} bytes, over the {limit:,} bytes the server takes in "
                f"one value (max_value_bytes=, the server's proto-max-bulk-len): nothing "
                f"was written. Store it in smaller parts, or raise proto-max-bulk-len on "
                f"the server and max_value_bytes= with it"
            )

    @classmethod
    def from_env(cls, **overrides: Any) -> RedisAgentConfig:
        """Build a config from ``REDIS_URL`` and ``REDIS_AGENT_NAMESPACE`` plus overrides."""
        values: dict[str, Any] = {}
        if os.environ.get(ENV_NAMESPACE):
            values["namespace"] = os.environ[ENV_NAMESPACE]
        values.update(overrides)
        return cls(**values)

    def with_options(self, **changes: Any) -> RedisAgentConfig:
        """A copy with some settings changed (clients are not shared with the copy)."""
        return replace(self, **changes)

    @property
    def keys(self) -> KeySpace:
        """Key patterns of this config's namespace."""
        return KeySpace(self.namespace)

    # -- URL resolution --
    def resolve_url(self) -> str:
        """The URL in use: explicit > ``REDIS_URL`` > embedded server (started now)."""
        if self._resolved_url is not None:
            return self._resolved_url
        url = self.url or os.environ.get(ENV_URL)
        if url:
            check_url(url, "url=" if self.url else ENV_URL)
        else:
            try:
                if _url_fallback is None:
                    raise EmbeddedServerError("no embedded server is registered")
                url = _url_fallback()
                self._from_fallback = True
            except EmbeddedServerError as exc:
                raise RedisUnavailableError(
                    f"no Redis to use: no url= was given, REDIS_URL is not set, and {exc}"
                ) from exc
        self._resolved_url = url
        return url

    def is_cluster(self) -> bool:
        """Whether this config talks to a Redis Cluster."""
        if self.cluster is not None:
            return self.cluster
        if isinstance(self.client, RedisCluster):
            return True
        url = self.url or os.environ.get(ENV_URL) or ""
        return _split_cluster_flag(url)[1]

    def backoff(self, attempt: int) -> float:
        """:func:`backoff` with this config's ``retry_backoff_base`` / ``_cap``."""
        return backoff(attempt, self.retry_backoff_base, self.retry_backoff_cap)

    # -- clients --
    def _retry(self, asyncio_client: bool = False) -> Retry | AsyncRetry:
        # A bounded count (never redis-py's -1 = forever), and only after a connection
        # error (RETRIED): redis-py's default also re-sends after a timeout, when the
        # command was sent and may still run, so a write would apply twice. Nothing
        # inside redis_errors.sent_once() (may_resend). asyncio clients need
        # redis.asyncio's Retry: given the sync one they never retry.
        cls = _AsyncRetry if asyncio_client else _Retry
        return cls(
            EqualJitterBackoff(cap=self.retry_backoff_cap, base=self.retry_backoff_base),
            self.retries,
            supported_errors=RETRIED,
        )

    def _client_kwargs(self, asyncio_client: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_connect_timeout,
            "retry": self._retry(asyncio_client),
            "retry_on_error": list(RETRIED),
        }
        if self.max_connections is not None:
            kwargs["max_connections"] = self.max_connections
        if self._from_fallback:  # the shared embedded server: `redis-agent doctor` names users
            kwargs["client_name"] = _client_name()
        return kwargs

    def _sentinel(self, url: str) -> SentinelURL:
        if self.cluster:
            raise ConfigError(
                "cluster=True and a redis+sentinel:// URL exclude each other: Sentinel "
                "manages one master; for Redis Cluster give a node's redis:// URL"
            )
        return parse_sentinel_url(url)

    def get_client(self) -> SyncClient:
        """The shared, pooled sync client (built on first call, no I/O until used)."""
        if self.client is not None:
            return self.client
        with self._lock:
            if self._sync is None:
                url, flag = _split_cluster_flag(self.resolve_url())
                kwargs = self._client_kwargs()
                if is_sentinel_url(url):
                    self._sync = self._sentinel(url).client(**kwargs)
                elif self.cluster or (self.cluster is None and flag):
                    kwargs.pop("retry_on_error")
                    kwargs.pop("max_connections", None)
                    # the sync cluster client asks the URL's node for the slots right
                    # away: a node down is a RedisUnavailableError like any other (the
                    # next call tries again), not redis-py's RedisClusterUnreachableError
                    with translate_errors(self, "connecting to the Redis Cluster"):
                        self._sync = _Cluster.from_url(url, **kwargs)
                else:
                    self._sync = redis.Redis.from_url(url, **kwargs)
            return self._sync

    def get_async_client(self) -> AsyncClient:
        """The shared asyncio client for the running event loop.

        asyncio connections belong to one event loop, so one pool is kept per loop.
        """
        if self.async_client is not None:
            return self.async_client
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as exc:
            raise ConfigError(
                "get_async_client() must be called inside a running event loop"
            ) from exc
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                self._forget_closed_loops()
                url, flag = _split_cluster_flag(self.resolve_url())
                kwargs = self._client_kwargs(asyncio_client=True)
                if is_sentinel_url(url):
                    client = self._sentinel(url).async_client(**kwargs)
                elif self.cluster or (self.cluster is None and flag):
                    kwargs.pop("retry_on_error")
                    kwargs.pop("max_connections", None)
                    # its nodes' connections check an idle socket, as the pools do
                    client = check_cluster_idle_sockets(_AsyncCluster.from_url(url, **kwargs))
                else:  # Redis.from_url, with the pool that checks idle sockets and
                    # waits up to socket_timeout for a connection when all are in use
                    pool = CheckedAsyncPool.from_url(url, timeout=self.socket_timeout, **kwargs)
                    client = aredis.Redis.from_pool(pool)
                self._async[loop] = client
            return client

    def _forget_closed_loops(self) -> None:
        """Drop the clients of event loops that have closed (``asyncio.run()`` per call).
        A client refers to its loop through its connections, so its weak key never went
        and each finished loop kept its client and open sockets for good (300 runs: 900
        file descriptors). Their connections are shut down (the server frees them at
        once); the sockets close when collected (a closed loop cannot run ``aclose``)."""
        for old in [loop for loop in self._async if loop.is_closed()]:
            _shut_down(self._async.pop(old))

    def close(self) -> None:
        """Close the sync pool this config built (user-supplied clients are left open)."""
        with self._lock:
            if self._sync is not None:
                self._sync.close()
                self._sync = None

    async def aclose(self) -> None:
        """Close the asyncio pool of the running loop that this config built."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.pop(loop, None)
        if client is not None:
            await client.aclose()


def _shut_down(client: AsyncClient) -> None:
    """Shut down the sockets of an asyncio client whose event loop has closed (a
    cluster client's are left to the garbage collector)."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        return
    for conn in [*pool._available_connections, *pool._in_use_connections]:
        writer = getattr(conn, "_writer", None)
        sock = None if writer is None else writer.transport.get_extra_info("socket")
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


_default_config: RedisAgentConfig | None = None
_default_lock = threading.Lock()


def get_default_config() -> RedisAgentConfig:
    """The process-wide config used by components built without ``config=``."""
    global _default_config
    with _default_lock:
        if _default_config is None:
            _default_config = RedisAgentConfig.from_env()
        return _default_config


def set_default_config(config: RedisAgentConfig | None) -> None:
    """Replace the process-wide default config (``None`` resets it)."""
    global _default_config
    with _default_lock:
        _default_config = config
