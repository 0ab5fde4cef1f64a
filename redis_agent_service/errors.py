"""Every error the service answers has one shape, ``{"error": code, "detail": text}``.

Bodies never echo the request (a 5 MB invalid body must not come back) and never name
internal addresses (the Redis URL, the model endpoint): the full cause goes to the
log, the client gets what failed and what to check.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from redis_agent_core.errors import (
    ClusterURLError,
    ConfigError,
    RedisPermissionError,
    RedisURLError,
)
from redis_agent_core.ratelimit import RateLimitExceeded
from redis_agent_core.redis_errors import FAULTS, RedisWriteRefusedError, map_redis_error

from .llm import ModelEndpointError

__all__ = [
    "REDIS_FAULTS",
    "ServiceError",
    "error_response",
    "install_error_handlers",
    "misconfigured_response",
    "redis_fault_response",
]

logger = logging.getLogger("redis_agent_service")

_MAX_ERRORS = 5  # validation errors listed in one detail
_MAX_MSG = 200  # characters of one validation message

REDIS_DOWN_DETAIL = (
    "Redis is unavailable; the service recovers by itself when it is back. "
    "Check that the server is running and REDIS_URL points at it."
)
# what the operator must fix when Redis answers but refuses writes (the address stays out)
REFUSED_DETAIL = {
    "oom": "Redis refused the write: it reached maxmemory with noeviction. Raise maxmemory "
    "or delete data; reads keep working meanwhile (an eviction policy would silently drop "
    "rate-limit counts and history).",
    "readonly": "Redis refused the write: it is a read-only replica. Point REDIS_URL at the "
    "primary (or promote this server).",
}

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid_request",
}


class ServiceError(HTTPException):
    """An HTTP error with the service's code, e.g. ``ServiceError(404, "not_found", ...)``."""

    def __init__(
        self, status: int, error: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.error = error


def error_response(status: int, error: str, detail: str, **headers: str) -> JSONResponse:
    """The ``{error, detail}`` response."""
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


#: Redis faults, typed and raw redis-py ones, the core's one list: answered 503 (down,
#: paused, busy, full, read-only), or 500 when the ACL user lacks a command
REDIS_FAULTS: tuple[type[Exception], ...] = FAULTS

MISCONFIGURED_DETAIL = (
    "the service's Redis URL names a Redis Cluster node but is not a cluster one: the "
    "operator must add ?cluster=true; the cause is in the log."
)
BAD_URL_DETAIL = (
    "the service's Redis URL is not one it can use: the operator must fix it (url= or "
    "REDIS_URL); the cause is in the log."
)
DENIED_DETAIL = (
    "Redis refused a command to the service's ACL user: the operator must grant it the "
    "rules `redis-agent acl USER --namespace NS` prints; the cause is in the log."
)


def redis_fault_response(method: str, path: str, exc: Exception) -> JSONResponse:
    """The 503 of a Redis fault (a route's, or the API key check's before the route);
    a 500 for a missing ACL permission, which waiting does not fix."""
    # the full message names the server's address: log it, never send it
    error = map_redis_error(exc, "the request")
    if isinstance(error, RedisPermissionError):
        logger.error("%s %s: %s", method, path, error)
        return error_response(500, "redis_permission_denied", DENIED_DETAIL)
    logger.warning("%s %s: %s", method, path, exc)
    retry = {"Retry-After": "5"}
    if isinstance(error, RedisWriteRefusedError):
        detail = REFUSED_DETAIL.get(error.cause, "Redis refused the write; reads keep working.")
        return error_response(503, "redis_write_refused", detail, **retry)
    return error_response(503, "redis_unavailable", REDIS_DOWN_DETAIL, **retry)


def misconfigured_response(method: str, path: str, exc: RedisURLError) -> JSONResponse:
    """The 500 of the service's own Redis URL (a route's, or the API key check's): a
    malformed URL, or a cluster node's without ``?cluster=true``. Not the client's 422:
    the message names the Redis host, so it goes to the log only."""
    logger.error("%s %s: %s", method, path, exc)
    detail = MISCONFIGURED_DETAIL if isinstance(exc, ClusterURLError) else BAD_URL_DETAIL
    return error_response(500, "redis_misconfigured", detail)


def _validation_detail(exc: RequestValidationError) -> str:
    # location and message only: pydantic's "input" (the client's data) is left out
    parts = []
    for err in exc.errors()[:_MAX_ERRORS]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid"))[:_MAX_MSG]
        parts.append(f"{loc}: {msg}")
    more = len(exc.errors()) - _MAX_ERRORS
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error raised in ``app`` with the ``{error, detail}`` shape."""

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        error = getattr(exc, "error", None) or _CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else error.replace("_", " ")
        return error_response(exc.status_code, error, detail, **(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_detail(exc))

    @app.exception_handler(RedisURLError)
    async def _misconfigured(request: Request, exc: RedisURLError) -> JSONResponse:
        return misconfigured_response(request.method, request.url.path, exc)

    @app.exception_handler(ConfigError)
    async def _refused(_: Request, exc: ConfigError) -> JSONResponse:
        # the pack refused a value of the request before writing it: the client's to fix
        return error_response(422, "invalid_request", str(exc)[:_MAX_MSG])

    @app.exception_handler(RateLimitExceeded)
    async def _limited(_: Request, exc: RateLimitExceeded) -> JSONResponse:
        never = math.isinf(exc.retry_after)
        retry = "86400" if never else str(max(1, math.ceil(exc.retry_after)))
        when = "the request alone is over it" if never else f"retry after {retry} s"
        # the limit's name, not str(exc): that names the Redis key (namespace and layout)
        detail = f"rate limit {exc.limit!r} exceeded: {when}"
        return error_response(429, "rate_limited", detail, **{"Retry-After": retry})

    async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
        return redis_fault_response(request.method, request.url.path, exc)

    for fault in REDIS_FAULTS:
        app.add_exception_handler(fault, _redis_down)

    try:
        import openai
    except ImportError:  # another chat model: its errors fall to the generic handler
        pass
    else:

        @app.exception_handler(openai.APIConnectionError)
        @app.exception_handler(openai.APIStatusError)
        async def _llm_down(request: Request, exc: Exception) -> JSONResponse:
            logger.warning(
                "%s %s: model endpoint failed: %s", request.method, request.url.path, exc
            )
            status: Any = getattr(exc, "status_code", None)
            what = f"HTTP {status}" if status else type(exc).__name__
            return error_response(
                502,
                "llm_unavailable",
                f"the model endpoint failed ({what}). Check OPENAI_BASE_URL / OPENAI_API_KEY, "
                "or unset them to use the local model.",
            )

    @app.exception_handler(ModelEndpointError)
    async def _model_down(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(502, "llm_unavailable", str(exc))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(
            500, "internal_error", "the service failed to answer; the cause is in its log"
        )
