"""The service's chat model: any OpenAI-compatible endpoint.

``OPENAI_BASE_URL`` set: that endpoint, with ``OPENAI_API_KEY`` and ``OPENAI_MODEL``
(default ``gpt-4o-mini``). Not set: the local SmolLM2 server from
:mod:`redis_agent_service.local_llm`, started on demand, offline.

Two clients of the same endpoint: :class:`OpenAIChat`, what ``serve`` answers with (one
``POST /chat/completions`` over aiohttp: about 0.15 ms of CPU a call, against 2.2 ms for
LangChain's ``ChatOpenAI`` and 1.4 ms for the bare ``openai`` SDK, measured on the fake
endpoint; on a loaded service that CPU is the event loop's, issue 20), and
:func:`build_chat_model`, LangChain's ``ChatOpenAI`` for agents built on the service's
model (the demo).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from langchain_openai import ChatOpenAI

from redis_agent_core.config import backoff
from redis_agent_core.errors import ConfigError
from redis_agent_core.ratelimit import reported_tokens
from redis_agent_service.local_llm import LocalLLMServer

__all__ = [
    "Completion",
    "LLMEndpoint",
    "ModelEndpointError",
    "OpenAIChat",
    "build_chat_model",
    "chat_model_from_env",
    "endpoint_from_env",
    "model_endpoint",
]

ENV_BASE_URL = "OPENAI_BASE_URL"
ENV_API_KEY = "OPENAI_API_KEY"
ENV_MODEL = "OPENAI_MODEL"
DEFAULT_REMOTE_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class LLMEndpoint:
    """Where the chat model lives: an OpenAI-compatible base URL, key and model name."""

    base_url: str
    api_key: str
    model: str
    local: bool = False


def endpoint_from_env() -> LLMEndpoint | None:
    """The endpoint named by ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL``,
    or ``None`` when ``OPENAI_BASE_URL`` is unset (then the local model is used)."""
    base_url = os.environ.get(ENV_BASE_URL)
    if not base_url:
        return None
    api_key = os.environ.get(ENV_API_KEY)
    if not api_key:
        raise ConfigError(
            f"{ENV_BASE_URL} is set but {ENV_API_KEY} is not: set the key of that endpoint "
            f"(any non-empty value for servers without auth), or unset {ENV_BASE_URL} to use "
            "the local model"
        )
    return LLMEndpoint(base_url, api_key, os.environ.get(ENV_MODEL) or DEFAULT_REMOTE_MODEL)


@dataclass(frozen=True)
class Completion:
    """One answer of the model and the tokens it counted."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    # False when the model reported no usable count: the call's estimate stays charged
    known: bool = True


def _count(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def completion(text: str, usage: Mapping[str, Any] | None, who: str) -> Completion:
    """A :class:`Completion` of ``text`` with the counts of the model's ``usage``
    (OpenAI or LangChain keys). A count no call has (negative, NaN, past 10^13, not a
    number: logged) makes the usage unknown (``known=False``): settling it raised
    ``ConfigError`` after the model had answered, the client got a 422 blaming its
    request, and the call's reservation was refunded (an unmetered call)."""
    total = reported_tokens(usage, who)
    if total is None or not usage:
        return Completion(text, known=False)
    get = usage.get
    prompt = _count(get("input_tokens", get("prompt_tokens")))
    answer = _count(get("output_tokens", get("completion_tokens")))
    return Completion(text, prompt, answer, total)


class ModelEndpointError(Exception):
    """The model endpoint failed: unreachable, timed out, an error status, or a reply
    without a completion. ``status`` is the HTTP status when there was one. The
    message never names the endpoint's address (the service logs it, clients get a 502)."""

    def __init__(self, what: str, status: int | None = None) -> None:
        super().__init__(
            f"the model endpoint failed ({what}): check OPENAI_BASE_URL / OPENAI_API_KEY, "
            "or unset them to use the local model"
        )
        self.what = what
        self.status = status


# what the openai SDK retries too: timeouts of the server, conflicts, limits, its faults
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class OpenAIChat:
    """``POST {base_url}/chat/completions`` through aiohttp: the service's model client.

    Sends what ``ChatOpenAI`` sends for the same settings (model, messages,
    ``max_completion_tokens``, ``temperature``, ``stream: false``) and reads the answer
    and ``usage``. A refused connection or a status the ``openai`` SDK retries (408, 409,
    429, 5xx) is retried ``max_retries`` times after the pack's backoff; a timeout is not
    (a slow model is no faster the second time, and the caller would wait twice).
    Anything else raises :class:`ModelEndpointError`.

    No I/O until called; the HTTP session is made on first use in each event loop
    (:meth:`aclose` closes it).
    """

    def __init__(
        self,
        endpoint: LLMEndpoint,
        *,
        max_tokens: int = 48,
        temperature: float = 0.0,
        timeout: float = 120.0,
        max_retries: int = 1,
    ) -> None:
        if max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {max_retries}")
        self.endpoint = endpoint
        self.model_name = endpoint.model
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout
        self.max_retries = max_retries
        self._url = endpoint.base_url.rstrip("/") + "/chat/completions"
        self._headers = {
            "Authorization": f"Bearer {endpoint.api_key}",
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        self._session: Any = None  # aiohttp.ClientSession of self._loop
        self._loop: asyncio.AbstractEventLoop | None = None

    def body(self, messages: Sequence[tuple[str, str]]) -> bytes:
        """The request body for ``messages``, (role, content) pairs with OpenAI's roles
        (``system``, ``user``, ``assistant``)."""
        return orjson.dumps(
            {
                "model": self.endpoint.model,
                "stream": False,
                "messages": [{"content": text, "role": role} for role, text in messages],
                "max_completion_tokens": self.max_tokens,
                "temperature": self.temperature,
            }
        )

    def _client(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            # limit=0: concurrency is bounded by the service (its admission), not here
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers=self._headers,
            )
            self._loop = loop
        return self._session

    async def acomplete(self, messages: Sequence[tuple[str, str]]) -> Completion:
        """The model's answer to ``messages`` ((role, content) pairs)."""
        import aiohttp

        body = self.body(messages)
        attempt = 0
        while True:
            try:
                async with self._client().post(self._url, data=body) as response:
                    status = response.status
                    raw = await response.read()
            except asyncio.TimeoutError:
                raise ModelEndpointError(f"no answer within {self.timeout:g} s") from None
            except aiohttp.ClientConnectionError as exc:
                if attempt < self.max_retries:
                    await asyncio.sleep(backoff(attempt, 0.5, 8.0))
                    attempt += 1
                    continue
                raise ModelEndpointError(type(exc).__name__) from exc
            if status < 300:
                return parse_completion(raw)
            if status in _RETRY_STATUS and attempt < self.max_retries:
                await asyncio.sleep(backoff(attempt, 0.5, 8.0))
                attempt += 1
                continue
            raise ModelEndpointError(f"HTTP {status}", status)

    async def aclose(self) -> None:
        """Close the HTTP session (a new one is made if the client is used again)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def parse_completion(raw: bytes) -> Completion:
    """A :class:`Completion` from a ``/chat/completions`` reply body; a body without an
    answer raises :class:`ModelEndpointError`."""
    try:
        reply = orjson.loads(raw)
        text = reply["choices"][0]["message"]["content"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        raise ModelEndpointError("a reply without a completion") from None
    if not isinstance(text, str):
        raise ModelEndpointError("a reply without a completion")
    usage = reply.get("usage")
    return completion(text, usage if isinstance(usage, Mapping) else None, "the model endpoint")


def build_chat_model(
    endpoint: LLMEndpoint,
    *,
    max_tokens: int = 48,
    temperature: float = 0.0,
    timeout: float = 120.0,
    max_retries: int = 1,
) -> ChatOpenAI:
    """A ``ChatOpenAI`` on ``endpoint`` (no network I/O until it is called).

    ``timeout`` is generous on purpose: a local model on a shared CPU can be slow.
    """
    return ChatOpenAI(
        model=endpoint.model,
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,  # type: ignore[arg-type]
        max_tokens=max_tokens,  # type: ignore[call-arg]
        temperature=temperature,
        timeout=timeout,
        max_retries=max_retries,
    )


@contextmanager
def model_endpoint() -> Iterator[LLMEndpoint]:
    """Yield the configured endpoint (:func:`endpoint_from_env`), else the local model
    server's, started here and stopped on exit."""
    endpoint = endpoint_from_env()
    if endpoint is not None:
        yield endpoint
        return
    with LocalLLMServer() as server:
        yield LLMEndpoint(server.base_url, "local", server.model, local=True)


@contextmanager
def chat_model_from_env(
    *, max_tokens: int = 48, temperature: float = 0.0, timeout: float = 120.0
) -> Iterator[tuple[ChatOpenAI, LLMEndpoint]]:
    """Yield LangChain's chat model on :func:`model_endpoint` and the endpoint."""
    with model_endpoint() as endpoint:
        model = build_chat_model(
            endpoint, max_tokens=max_tokens, temperature=temperature, timeout=timeout
        )
        yield model, endpoint
