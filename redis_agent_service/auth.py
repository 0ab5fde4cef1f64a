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

from fastapi import Request

from redis_agent_core.apikeys import ApiKeys

from .errors import ServiceError

__all__ = ["LOCAL_USER", "is_loopback", "principal_dependency", "warn_insecure"]

logger = logging.getLogger("redis_agent_service")

#: The one principal of a service running without auth.
LOCAL_USER = "local"

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


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


def principal_dependency(keys: ApiKeys, *, required: bool) -> Callable[[Request], Awaitable[str]]:
    """A FastAPI dependency returning the caller's user name (401 without a valid key)."""

    async def principal(request: Request) -> str:
        if not required:
            return LOCAL_USER
        header = request.headers.get("authorization", "")
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

    return principal
