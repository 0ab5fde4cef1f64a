"""The service's model client (``OpenAIChat``) against a real HTTP endpoint in the test.

What the service relies on: the same request ``ChatOpenAI`` sends, the answer and its
token usage, retries of what the ``openai`` SDK retries (and nothing else), a timeout,
and one typed error whose message names no address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from redis_agent_service.llm import (
    LLMEndpoint,
    ModelEndpointError,
    OpenAIChat,
    build_chat_model,
)

REPLY = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi."}}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
}


class Endpoint:
    """An OpenAI-compatible endpoint answering from a script of (status, body, delay)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.script: list[tuple[int, bytes, float]] = []
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(orjson.loads(await request.read()))
        status, body, delay = self.script.pop(0) if self.script else (200, orjson.dumps(REPLY), 0)
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, body=body, content_type="application/json")


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    ep = Endpoint()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", ep.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ep.base_url = f"http://127.0.0.1:{port}/v1"
    yield ep
    await runner.cleanup()


def _client(ep: Endpoint, **kwargs: Any) -> OpenAIChat:
    return OpenAIChat(LLMEndpoint(ep.base_url, "k", "m"), **kwargs)


async def test_sends_what_chat_openai_sends_and_reads_usage(endpoint: Endpoint) -> None:
    prompt = [("system", "Be brief."), ("user", "hi"), ("assistant", "Hello."), ("user", "again")]
    client = _client(endpoint, max_tokens=32, temperature=0.0)
    try:
        completion = await client.acomplete(prompt)
    finally:
        await client.aclose()
    assert (completion.text, completion.input_tokens, completion.output_tokens) == ("Hi.", 11, 3)
    assert completion.total_tokens == 14
    model = build_chat_model(LLMEndpoint(endpoint.base_url, "k", "m"), max_tokens=32)
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    await model.ainvoke([kinds[role](text) for role, text in prompt])
    ours, langchain = endpoint.bodies
    assert ours == langchain  # cassettes recorded with ChatOpenAI replay unchanged


async def test_retries_what_the_sdk_retries_and_nothing_else(endpoint: Endpoint) -> None:
    client = _client(endpoint, max_retries=1)
    try:
        endpoint.script = [(503, b"{}", 0)]
        assert (await client.acomplete([("user", "q")])).text == "Hi."
        assert len(endpoint.bodies) == 2  # one failure, one retry

        endpoint.script = [(503, b"{}", 0), (429, b"{}", 0)]
        with pytest.raises(ModelEndpointError) as failed:
            await client.acomplete([("user", "q")])
        assert failed.value.status == 429 and len(endpoint.bodies) == 4

        endpoint.script = [(400, b'{"error": "bad"}', 0)]
        with pytest.raises(ModelEndpointError) as refused:
            await client.acomplete([("user", "q")])
        assert refused.value.status == 400 and len(endpoint.bodies) == 5  # not retried
        assert "127.0.0.1" not in str(refused.value) and "OPENAI_BASE_URL" in str(refused.value)
    finally:
        await client.aclose()


async def test_timeout_and_empty_reply_are_typed_errors(endpoint: Endpoint) -> None:
    client = _client(endpoint, timeout=0.2, max_retries=3)
    try:
        endpoint.script = [(200, orjson.dumps(REPLY), 5.0)]
        with pytest.raises(ModelEndpointError, match=r"no answer within 0\.2 s"):
            await client.acomplete([("user", "q")])
        assert len(endpoint.bodies) == 1  # a timeout is not retried

        endpoint.script = [(200, b'{"choices": []}', 0)]
        with pytest.raises(ModelEndpointError, match="without a completion"):
            await client.acomplete([("user", "q")])
    finally:
        await client.aclose()


async def test_unreachable_endpoint_is_a_typed_error() -> None:
    client = OpenAIChat(LLMEndpoint("http://127.0.0.1:9/v1", "k", "m"), max_retries=0)
    try:
        with pytest.raises(ModelEndpointError) as failed:
            await client.acomplete([("user", "q")])
    finally:
        await client.aclose()
    assert failed.value.status is None and "127.0.0.1" not in str(failed.value)


def test_construction_checks_retries() -> None:
    with pytest.raises(Exception, match="max_retries"):
        OpenAIChat(LLMEndpoint("http://x/v1", "k", "m"), max_retries=-1)
