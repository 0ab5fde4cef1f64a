"""Fixtures of the reference-service tests.

LLM calls are recorded once against the local SmolLM2 server and replayed from
``cassettes/`` afterwards (pytest-recording). Record with::

    .venv/bin/pytest tests/app --record-mode=once      # new cassettes only
    .venv/bin/pytest tests/app --record-mode=rewrite   # re-record everything

In replay (the default, ``--record-mode=none``) the chat model points at a closed
port, so a request missing from a cassette fails loudly instead of reaching a model.
Requests match on method, path and body: the recording server's random port does
not matter, the prompt does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from redis_agent_core.apikeys import ApiKeys
from redis_agent_core.config import RedisAgentConfig
from redis_agent_service.app import AgentService, ServiceSettings, create_app
from redis_agent_service.llm import LLMEndpoint, OpenAIChat
from redis_agent_service.local_llm import DEFAULT_MODEL_ALIAS

REPLAY_BASE_URL = "http://127.0.0.1:9/v1"  # discard port: nothing listens there


@pytest.fixture(scope="session")
def llm_endpoint(record_mode: str) -> Iterator[LLMEndpoint]:
    """The local model server when recording, a dead address when replaying."""
    if record_mode == "none":
        yield LLMEndpoint(REPLAY_BASE_URL, "local", DEFAULT_MODEL_ALIAS, local=True)
        return
    from redis_agent_service.local_llm import LocalLLMServer

    with LocalLLMServer() as server:
        yield LLMEndpoint(server.base_url, "local", server.model, local=True)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    return {
        "match_on": ["method", "path", "body"],
        "ignore_hosts": ["testserver"],  # the ASGI app under test, not the model
        "filter_headers": ["authorization", "openai-organization", "cookie"],
        "allow_playback_repeats": False,  # a second identical call must not replay
        "decode_compressed_response": True,
    }


@pytest.fixture
def http_calls(vcr: Any) -> Callable[[], int]:
    """Count of HTTP requests that went to the model so far (replayed or recorded)."""
    return lambda: int(vcr.play_count) + (len(vcr.data) if vcr.dirty else 0)


class Users:
    """Test users of the service, each with a real API key issued in the test's Redis.

    ``users.headers("alice")`` issues alice's key on first use; ``users.chat(...)`` is
    the keyword arguments of a ``POST /chat`` as that user (``client.post("/chat",
    **users.chat("alice", "s1", "hi"))``).
    """

    def __init__(self, config: RedisAgentConfig) -> None:
        self.api_keys = ApiKeys(config)
        self.keys: dict[str, str] = {}

    def key(self, user: str) -> str:
        if user not in self.keys:
            self.keys[user] = self.api_keys.create(user)
        return self.keys[user]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(user)}"}

    def chat(self, user: str, session: str, message: str) -> dict[str, Any]:
        return {
            "json": {"session_id": session, "message": message},
            "headers": self.headers(user),
        }


@pytest.fixture
def users(config: RedisAgentConfig) -> Users:
    """API keys for test users, in the test's namespace (see :class:`Users`)."""
    return Users(config)


@pytest.fixture
def settings() -> ServiceSettings:
    # "u" and "carol" add the documents (nobody may by default: ServiceSettings.ingest_users)
    return ServiceSettings(use_queue=False, ingest_users=["u", "carol"])


@pytest.fixture
def service(
    config: RedisAgentConfig, llm_endpoint: LLMEndpoint, settings: ServiceSettings
) -> AgentService:
    llm = OpenAIChat(llm_endpoint, max_tokens=settings.max_tokens, timeout=60)
    return AgentService(llm, config=config, settings=settings, model_name=llm_endpoint.model)


@pytest.fixture
async def client(
    service: AgentService, aconfig: RedisAgentConfig
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def dead_endpoint() -> LLMEndpoint:
    """A model address nothing listens on: a test using it proves the model was not
    needed (a request that reaches it answers 502)."""
    return LLMEndpoint(REPLAY_BASE_URL, "local", DEFAULT_MODEL_ALIAS, local=True)


@pytest.fixture
async def offline_client(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, settings: ServiceSettings, aconfig: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, AgentService]]:
    """The app on a dead model: only Redis can answer."""
    llm = OpenAIChat(dead_endpoint, max_tokens=settings.max_tokens, timeout=10)
    service = AgentService(llm, config=config, settings=settings, model_name=dead_endpoint.model)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c, service
