"""The service's chat model: LangChain's standard OpenAI client on any compatible endpoint.

``OPENAI_BASE_URL`` set: that endpoint, with ``OPENAI_API_KEY`` and ``OPENAI_MODEL``
(default ``gpt-4o-mini``). Not set: the local SmolLM2 server from
:mod:`redis_agent_service.local_llm`, started on demand, offline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from langchain_openai import ChatOpenAI

from redis_agent_core.errors import ConfigError
from redis_agent_service.local_llm import LocalLLMServer

__all__ = ["LLMEndpoint", "build_chat_model", "chat_model_from_env", "endpoint_from_env"]

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
def chat_model_from_env(
    *, max_tokens: int = 48, temperature: float = 0.0, timeout: float = 120.0
) -> Iterator[tuple[ChatOpenAI, LLMEndpoint]]:
    """Yield the configured chat model and its endpoint; a local server started here
    is stopped on exit."""
    endpoint = endpoint_from_env()
    if endpoint is not None:
        yield (
            build_chat_model(
                endpoint, max_tokens=max_tokens, temperature=temperature, timeout=timeout
            ),
            endpoint,
        )
        return
    with LocalLLMServer() as server:
        local = LLMEndpoint(server.base_url, "local", server.model, local=True)
        yield (
            build_chat_model(
                local, max_tokens=max_tokens, temperature=temperature, timeout=timeout
            ),
            local,
        )
