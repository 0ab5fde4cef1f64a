"""An OpenAI-compatible chat endpoint that answers after a fixed delay (benchmarks only).

``python -m benchmarks.fake_openai --port P --delay-ms D`` serves
``POST /v1/chat/completions`` on loopback: every call sleeps ``D`` ms (a model's
latency, without its CPU) and returns a short answer with token usage, so a
service benchmark measures the service, not a model.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_ids = itertools.count()


def build_app(delay_s: float) -> Starlette:
    async def completions(request: Request) -> Response:
        body = orjson.loads(await request.body())
        if delay_s:
            await asyncio.sleep(delay_s)
        n = next(_ids)
        reply = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"Answer number {n}."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48},
        }
        return Response(orjson.dumps(reply), media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m benchmarks.fake_openai")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.delay_ms / 1000),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
