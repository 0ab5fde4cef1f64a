"""Request size limits, enforced before a body is parsed into memory.

:class:`BodyLimit` is a pure ASGI middleware: a declared ``Content-Length`` over the
limit is refused before a byte is read; a body sent without one (chunked) is counted
as it streams and refused as soon as it passes the limit. Both answer 413 with the
service's ``{error, detail}`` body.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from starlette.responses import JSONResponse

from .errors import ServiceError

__all__ = ["BodyLimit", "BodyTooLarge", "too_large_detail"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def too_large_detail(limit: int, path: str | None = None) -> str:
    if path is not None:  # an endpoint's own limit
        return (
            f"the request body is over the limit of {limit} bytes of {path}, more than "
            "its fields can hold"
        )
    return (
        f"the request body is over the service's limit of {limit} bytes; split the "
        "documents into several requests (the limit is `serve --max-body-bytes`)"
    )


class BodyTooLarge(ServiceError):
    """Raised while the body streams in; FastAPI passes HTTP errors through unchanged."""

    def __init__(self, limit: int, path: str | None = None) -> None:
        super().__init__(413, "request_too_large", too_large_detail(limit, path))


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413; ``paths`` maps a path to a
    limit of its own (an endpoint whose fields hold far less than ``max_bytes``)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, paths: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.paths else None
        limit = self.max_bytes if path is None else self.paths[path]
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await self._refuse(limit, path, scope, receive, send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, path)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # read outside a route (a middleware): answer here unless a response began
            if started:
                raise
            await self._refuse(limit, path, scope, receive, send)

    async def _refuse(
        self, limit: int, path: str | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        response = JSONResponse(
            {"error": "request_too_large", "detail": too_large_detail(limit, path)},
            status_code=413,
            headers={"Connection": "close"},  # the rest of the body is never read
        )
        await response(scope, receive, send)
