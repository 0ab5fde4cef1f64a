"""Who is calling: the principal comes from the API key (``Authorization: Bearer``),
never from the request body.

Keys are issued with ``redis-agent keys create USER`` and verified against their
SHA-256 in Redis (:class:`redis_agent_core.apikeys.ApiKeys`). With auth off
(``serve --insecure-no-auth``, loopback only) every caller is :data:`LOCAL_USER`.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from collections.abc import Awaitable, Callable

import anyio
from fastapi import Request
from starlette.datastructures import Headers

from redis_agent_core.apikeys import ApiKeys
from redis_agent_core.errors import RedisURLError

from .errors import (
    REDIS_FAULTS,
    ServiceError,
    error_response,
    misconfigured_response,
    redis_fault_response,
)
from .limits import ASGIApp, Receive, Scope, Send

__all__ = [
    "LOCAL_USER",
    "RequireKey",
    "authenticate",
    "is_loopback",
    "principal_dependency",
    "warn_insecure",
]

logger = logging.getLogger("redis_agent_service")
#: How long a refused request's body is read (and dropped) before its error is sent: a
#: client that declares a body and never sends it held its connection open, waiting for
#: the 401, for as long as it liked (one idle socket each, before any key was checked).
DRAIN_SECONDS = 2.0

#: The one principal of a service running without auth.
LOCAL_USER = "local"

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_PRINCIPAL = "rap.principal"  # the scope key of the user RequireKey authenticated


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def warn_insecure() -> None:
    """The loud warning of a service running without authentication."""
    line = "!" * 78
    msg = (
        f"{line}\n"
        "WARNING: authentication is OFF (--insecure-no-auth). Every caller is the same\n"
        f"user {LOCAL_USER!r} and sees every session. Local experiments only; never expose\n"
        "this service beyond this machine.\n"
        f"{line}"
    )
    print(msg, file=sys.stderr, flush=True)
    logger.warning("authentication is off: every caller is %r", LOCAL_USER)


async def authenticate(keys: ApiKeys, header: str) -> str:
    """The user of an ``Authorization`` header's key; a 401 :class:`ServiceError`
    without a valid one."""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ServiceError(
            401,
            "unauthorized",
            "send an API key as 'Authorization: Bearer <key>' (issue one with "
            "`redis-agent keys create USER`)",
            headers=_CHALLENGE,
        )
    user = await keys.averify(key.strip())
    if user is None:
        raise ServiceError(
            401,
            "unauthorized",
            "the API key is unknown or revoked; issue a new one with "
            "`redis-agent keys create USER`",
            headers=_CHALLENGE,
        )
    return user


class RequireKey:
    """ASGI middleware: a request to a route that needs a key is authenticated before
    its body is parsed. FastAPI parses a route's body before its dependencies run, so an
    unauthenticated 8 MiB JSON body held the event loop ~0.4 s for its 401 (every user
    waited); refused here, the body is received and dropped unparsed. ``needs_key(scope)``
    says which requests; the user reaches :func:`principal_dependency` through the scope."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, needs_key: Callable[[Scope], bool]) -> None:
        self.app = app
        self.keys = keys
        self.needs_key = needs_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.needs_key(scope):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        try:
            user = await authenticate(self.keys, header)
        except ServiceError as exc:  # outside the routes: their handlers do not apply
            headers = exc.headers or {}
            response = error_response(exc.status_code, exc.error, str(exc.detail), **headers)
        except REDIS_FAULTS as exc:
            response = redis_fault_response(scope["method"], scope["path"], exc)
        except RedisURLError as exc:  # the service's own URL: a 500, the host in the log
            response = misconfigured_response(scope["method"], scope["path"], exc)
        else:
            scope[_PRINCIPAL] = user
            await self.app(scope, receive, send)
            return
        await _drop_body(receive)
        await response(scope, receive, send)


async def _drop_body(receive: Receive) -> None:
    """Receive the rest of a request body without keeping or parsing it (cheap, and
    capped by :class:`~.limits.BodyLimit`), so the client gets its error rather than a
    reset, on a connection that can carry its next request; at most
    :data:`DRAIN_SECONDS` (a body still unsent then: the error goes out and the server
    closes that connection, as it cannot carry another request)."""
    with anyio.move_on_after(DRAIN_SECONDS):
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return


def principal_dependency(keys: ApiKeys, *, required: bool) -> Callable[[Request], Awaitable[str]]:
    """A FastAPI dependency returning the caller's user name (401 without a valid key):
    the one :class:`RequireKey` found, else checked here."""

    async def principal(request: Request) -> str:
        if not required:
            return LOCAL_USER
        user = request.scope.get(_PRINCIPAL)
        if isinstance(user, str):
            return user
        return await authenticate(keys, request.headers.get("authorization", ""))

    return principal
