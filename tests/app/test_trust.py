"""Issue 12: the service never hands one user's data to another.

Real HTTP through the ASGI app, real Redis, real API keys, real embeddings; the chat
model is a small deterministic one that answers from the conversation it is sent.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from redis_agent_core.cli import main as cli_main
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import RedisUnavailableError
from redis_agent_service.app import AgentService, ServiceSettings, create_app
from redis_agent_service.llm import LLMEndpoint, build_chat_model, parse_completion

from .conftest import Users

pytestmark = pytest.mark.slow  # loads the embedding model

_LIVE = re.compile(r"I live at (.+?)\.?$")


class _InputModel(BaseChatModel):
    """A test model whose answer shows what it was sent (``_answer``); counts its calls."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "input-test-model"

    def _answer(self, messages: list[BaseMessage]) -> str:
        raise NotImplementedError

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        usage = {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25}
        message = AIMessage(self._answer(messages), usage_metadata=usage)
        return ChatResult(generations=[ChatGeneration(message=message)])


class HistoryModel(_InputModel):
    """Answers "where do I live?" from the conversation it is sent (the model input)."""

    def _answer(self, messages: list[BaseMessage]) -> str:
        question = messages[-1].text
        if question.lower().startswith("where do i live"):
            said = [
                m.group(1)
                for msg in messages[:-1]
                if isinstance(msg, HumanMessage) and (m := _LIVE.search(msg.text))
            ]
            return f"You live at {said[-1]}." if said else "You have not told me."
        return "Noted." if _LIVE.search(question) else "You're welcome."


def _app_client(service: AgentService) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(service))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def history_service(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[httpx.AsyncClient, AgentService, HistoryModel]]:
    share = getattr(request, "param", "user")
    model = HistoryModel()
    settings = ServiceSettings(use_queue=False, cache_share=share, requests_per_minute=100)
    service = AgentService(model, config=config, settings=settings, model_name="history")
    async with _app_client(service) as client:
        yield client, service, model


async def _conversation(
    client: httpx.AsyncClient, users: Users, user: str, session: str, address: str
) -> dict[str, Any]:
    for message in (f"I live at {address}.", "ok thanks", "where do I live?"):
        r = await client.post("/chat", **users.chat(user, session, message))
        assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("history_service", ["global", "user", "session"], indirect=True)
async def test_an_answer_from_history_never_reaches_another_history(
    history_service: tuple[httpx.AsyncClient, AgentService, HistoryModel], users: Users
) -> None:
    client, _, model = history_service
    a = await _conversation(client, users, "alice", "home", "12 Oak Street")
    assert a["answer"] == "You live at 12 Oak Street."
    b = await _conversation(client, users, "bob", "home", "34 Elm Road")
    # the leak: bob was served alice's address with cached: true
    assert b["answer"] == "You live at 34 Elm Road."
    assert b["cached"] is False
    # a context-free first question is still shared by every user, under every policy
    calls = model.calls
    first = [
        (await client.post("/chat", **users.chat(u, f"{u}-q", "What is Redis?"))).json()
        for u in ("alice", "bob")
    ]
    assert [r["cached"] for r in first] == [False, True]
    assert model.calls == calls + 1


async def _repeat(client: httpx.AsyncClient, users: Users, user: str, session: str) -> bool:
    """The same three-turn conversation as alice's; whether its last answer was cached."""
    reply = await _conversation(client, users, user, session, "12 Oak Street")
    assert reply["answer"] == "You live at 12 Oak Street."
    return bool(reply["cached"])


@pytest.mark.parametrize(
    ("history_service", "same_user_other_session", "other_user_same_history"),
    [("global", True, True), ("user", True, False), ("session", False, False)],
    indirect=["history_service"],
)
async def test_share_policy_decides_who_gets_a_history_dependent_hit(
    history_service: tuple[httpx.AsyncClient, AgentService, HistoryModel],
    users: Users,
    same_user_other_session: bool,
    other_user_same_history: bool,
) -> None:
    client, _, _ = history_service
    assert not await _repeat(client, users, "alice", "s1")
    assert await _repeat(client, users, "alice", "s2") is same_user_other_session
    # an identical history: the model would answer the same, but only "global" shares
    assert await _repeat(client, users, "carol", "s1") is other_user_same_history


class ContextModel(_InputModel):
    """Answers with the RAG context it was sent (the model input)."""

    def _answer(self, messages: list[BaseMessage]) -> str:
        _, _, context = messages[0].text.partition("Use this context:\n")
        return f"From: {context or 'nothing'}"


async def test_a_cached_answer_follows_the_corpus(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, users: Users
) -> None:
    model = ContextModel()
    settings = ServiceSettings(use_queue=False, requests_per_minute=100, ingest_users=["op"])
    service = AgentService(model, config=config, settings=settings, model_name="context")
    question = "What do sea otters eat?"

    async def ask(user: str) -> dict[str, Any]:
        r = await client.post("/chat", **users.chat(user, f"{user}-s", question))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def ingest(text: str) -> None:
        doc = {"id": "otters", "text": text, "metadata": {"source": "otter-facts"}}
        r = await client.post("/documents", json={"documents": [doc]}, headers=users.headers("op"))
        assert r.status_code == 202 and r.json()["status"] == "done", r.text

    async with _app_client(service) as client:
        before = await ask("alice")
        assert before["answer"] == "From: nothing" and before["sources"] == []
        # a relevant document arrives: the model's input changes, so the answer does
        await ingest("Sea otters eat sea urchins, crabs and clams.")
        after = await ask("bob")
        assert after["cached"] is False, "served the answer built without the document"
        assert after["answer"] == "From: Sea otters eat sea urchins, crabs and clams."
        assert [s["id"] for s in after["sources"]] == ["otters"]
        # the same corpus: a hit, citing what the answer was built from
        hit = await ask("carol")
        assert hit["cached"] is True and hit["answer"] == after["answer"]
        assert hit["sources"] == after["sources"]
        # the document is corrected: answers built on the old text are not served
        await ingest("Sea otters eat sea urchins, crabs, clams and snails.")
        corrected = await ask("dave")
        assert corrected["cached"] is False
        assert corrected["answer"].endswith("clams and snails.")
    assert model.calls == 3


async def test_the_exact_tier_keys_the_question_as_sent(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, dead_endpoint: LLMEndpoint
) -> None:
    service = AgentService(build_chat_model(dead_endpoint), config=config, model_name="m")
    asked = "What does 'a b'.split(' ') return in Python?"
    prompt, scope = service.cache_key(asked, user="alice", session_id="s")
    await service.cache.aupdate(prompt, scope, json.dumps({"answer": "['a', 'b']"}))
    assert await service.cache.alookup_exact(prompt, scope) is not None
    # other blanks are another question (its answer is ['a', '', 'b']), for anyone
    for other in (asked.replace("a b", "a  b"), asked.replace("a b", "a\tb")):
        key = service.cache_key(other, user="bob", session_id="s")
        assert await service.cache.alookup_exact(*key) is None, repr(other)
        assert key[0] == other
        # the embeddings ignore blanks; the guards compare those inside quotes
        assert await service.cache.alookup(*key) is None, repr(other)


async def test_requests_without_a_valid_key_get_401(offline_client: Any, users: Users) -> None:
    client, _ = offline_client
    body = {"session_id": "s", "message": "hi"}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = await client.post("/chat", json=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    for path in ("/sessions", "/sessions/s", "/jobs/j"):
        assert (await client.get(path)).status_code == 401
    r = await client.post("/documents", json={"documents": [{"text": "x"}]})
    assert r.status_code == 401
    # a revoked key stops working
    headers = users.headers("eve")
    assert (await client.get("/sessions", headers=headers)).status_code == 200
    assert users.api_keys.revoke("eve") == 1
    assert (await client.get("/sessions", headers=headers)).status_code == 401
    # open endpoints
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/stats")).status_code == 200


async def test_the_open_endpoints_carry_no_user_data(
    history_service: tuple[httpx.AsyncClient, AgentService, HistoryModel], users: Users
) -> None:
    client, _, model = history_service
    said = {
        "ursula-qvx7": ("sess-lantern-81", "Wobblethorpe Crescent 9"),
        "vikram-jzp4": ("sess-orchard-52", "Plinkerton Mews 4"),
    }
    for user, (session, address) in said.items():
        reply = await _conversation(client, users, user, session, address)
        assert reply["answer"] == f"You live at {address}."
    assert model.calls == 6
    private = [*users.keys, *users.keys.values()]  # user ids and their API keys
    for session, address in said.values():
        private += [session, f"I live at {address}.", address, address.split()[0]]
    bodies = {}
    for path in ("/health", "/stats", "/metrics", "/dashboard"):
        r = await client.get(path)  # no key: these are open
        assert r.status_code == 200, path
        bodies[path] = r.text
    assert '"requests":6' in bodies["/stats"].replace(" ", "")  # the traffic was counted
    for path, body in bodies.items():
        leaked = [value for value in private if value.lower() in body.lower()]
        assert leaked == [], f"{path} shows {leaked}"


async def test_sessions_belong_to_their_owner(
    history_service: tuple[httpx.AsyncClient, AgentService, HistoryModel], users: Users
) -> None:
    client, _, _ = history_service
    await _conversation(client, users, "alice", "diary", "12 Oak Street")
    alice, bob = users.headers("alice"), users.headers("bob")
    mine = await client.get("/sessions/diary", headers=alice)
    assert mine.status_code == 200 and mine.json()["length"] == 6
    # bob cannot read it: the same 404 as a session nobody has
    theirs = await client.get("/sessions/diary", headers=bob)
    missing = await client.get("/sessions/no-such-session", headers=bob)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    # nor append to it, nor read its history through the model
    r = await client.post("/chat", **users.chat("bob", "diary", "where do I live?"))
    assert r.json()["answer"] == "You have not told me."
    assert r.json()["history_length"] == 2
    assert (await client.get("/sessions/diary", headers=alice)).json()["length"] == 6
    # nor list it: each lists their own
    listed_a = (await client.get("/sessions", headers=alice)).json()["sessions"]
    listed_b = (await client.get("/sessions", headers=bob)).json()["sessions"]
    assert listed_a == ["diary"] and listed_b == ["diary"]  # bob's own "diary"
    assert (await client.get("/sessions/diary", headers=bob)).json()["length"] == 2


async def test_the_body_cannot_choose_the_user(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    settings = ServiceSettings(use_queue=False, requests_per_minute=2)
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    prompt, scope = service.cache_key("What is a set?", user="m", session_id="s")
    usage = {"input_tokens": 25, "output_tokens": 5, "total_tokens": 30}
    await service.cache.aupdate(
        prompt, scope, json.dumps({"answer": "Unique members."}), usage=usage
    )
    async with _app_client(service) as client:
        key = users.headers("mallory")
        # naming someone else in the body is refused, before any limit or model
        r = await client.post(
            "/chat",
            json={"user_id": "alice", "session_id": "s", "message": "What is a set?"},
            headers=key,
        )
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
        assert "user_id" in r.json()["detail"]
        # the limit follows the key: rotating the body's user_id does not reset it
        codes = []
        for i in range(3):
            body = {"user_id": "mallory", "session_id": f"s{i}", "message": "What is a set?"}
            codes.append((await client.post("/chat", json=body, headers=key)).status_code)
        assert codes == [200, 200, 429]
        other = await client.post("/chat", **users.chat("alice", "a", "What is a set?"))
        assert other.status_code == 200


async def test_oversized_requests_get_413_before_parsing(offline_client: Any, users: Users) -> None:
    client, service = offline_client
    headers = users.headers("u")
    big = "x" * (20 * 1024 * 1024)
    r = await client.post("/documents", json={"documents": [{"text": big}]}, headers=headers)
    assert r.status_code == 413
    assert r.json()["error"] == "request_too_large"
    assert len(r.content) < 500

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"documents": [{"text": "'
        for _ in range(20):
            yield b"y" * (1024 * 1024)
        yield b'"}]}'

    r = await client.post(
        "/documents", content=chunks(), headers={**headers, "content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "request_too_large"

    # under the request limit but over the per-document one
    doc = "z" * (service.settings.max_document_bytes + 1)
    r = await client.post("/documents", json={"documents": [{"text": doc}]}, headers=headers)
    assert r.status_code == 413 and r.json()["error"] == "document_too_large"
    many = [{"text": "t"}] * (service.settings.max_documents + 1)
    r = await client.post("/documents", json={"documents": many}, headers=headers)
    assert r.status_code == 413 and r.json()["error"] == "too_many_documents"
    assert await service.vectors.acount() == 0  # nothing was written


async def test_error_bodies_never_echo_the_input(offline_client: Any, users: Users) -> None:
    client, _ = offline_client
    marker = "SECRET-INPUT-" * 1000
    bad = [
        {"session_id": "s", "message": marker * 10},  # too long
        {"session_id": ["not", "a", "string", marker], "message": "hi"},
        {"message": marker},  # missing session
    ]
    for body in bad:
        r = await client.post("/chat", json=body, headers=users.headers("u"))
        assert r.status_code == 422
        assert set(r.json()) == {"error", "detail"}
        assert "SECRET-INPUT" not in r.text
    r = await client.post(
        "/chat",
        content=b'{"session_id": "s", "message": "' + marker.encode() * 5,  # invalid JSON
        headers={**users.headers("u"), "content-type": "application/json"},
    )
    assert r.status_code == 422 and "SECRET-INPUT" not in r.text
    r = await client.get("/no-such-endpoint")
    assert r.status_code == 404 and set(r.json()) == {"error", "detail"}


@pytest.mark.parametrize("url", ["redis://127.0.0.1:1/0", "unix:///nonexistent/r.sock"])
async def test_503_bodies_never_name_the_redis_address(
    dead_endpoint: LLMEndpoint, url: str
) -> None:
    config = RedisAgentConfig(url=url, socket_connect_timeout=0.5, retries=0)
    service = AgentService(build_chat_model(dead_endpoint), config=config, model_name="m")
    auth = {"Authorization": "Bearer rak_" + "0" * 16 + "_" + "A" * 43}
    async with _app_client(service) as client:
        replies = [
            await client.get("/health"),
            await client.get("/stats"),
            await client.get("/sessions", headers=auth),
            await client.post("/chat", json={"session_id": "s", "message": "hi"}, headers=auth),
        ]
    for r in replies:
        assert r.status_code == 503
        for part in ("127.0.0.1", ":1/", "nonexistent", "redis://", "unix://"):
            assert part not in r.text


async def test_insecure_mode_is_one_local_user(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint
) -> None:
    settings = ServiceSettings(use_queue=False, auth=False)
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    async with _app_client(service) as client:
        r = await client.get("/sessions")
        assert r.status_code == 200 and r.json() == {"sessions": []}


def test_insecure_mode_refuses_a_public_bind(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["serve", "--insecure-no-auth", "--host", "0.0.0.0"]) == 2
    assert "loopback" in capsys.readouterr().err


async def test_jobs_belong_to_their_submitter(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    settings = ServiceSettings(use_queue=True, ingest_users=["alice"])
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    worker = service.start_worker()
    try:
        async with _app_client(service) as client:
            docs = {"documents": [{"id": "d1", "text": "Streams keep an append-only log."}]}
            r = await client.post("/documents", json=docs, headers=users.headers("alice"))
            assert r.status_code == 202, r.text
            job = r.json()["job_id"]
            state: dict[str, Any] = {}
            for _ in range(600):
                state = (await client.get(f"/jobs/{job}", headers=users.headers("alice"))).json()
                if state.get("status") == "succeeded":
                    break
                await asyncio.sleep(0.1)
            assert state.get("status") == "succeeded", state
            other = await client.get(f"/jobs/{job}", headers=users.headers("bob"))
            missing = await client.get("/jobs/no-such-job", headers=users.headers("bob"))
            assert other.status_code == missing.status_code == 404
            assert other.json() == missing.json()
    finally:
        assert worker is not None
        worker.stop()


class UsageModel(_InputModel):
    """Answers "ok", reporting ``total`` as its total tokens."""

    total: Any = 0

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        usage = {"input_tokens": 20, "output_tokens": 5, "total_tokens": self.total}
        message = AIMessage("ok", usage_metadata=usage)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])


@pytest.mark.parametrize("total", [-5, 10**14, 2**70])
async def test_a_token_count_no_call_has_keeps_the_estimate_charged(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, users: Users, total: Any
) -> None:
    # on main: the model had answered, but settling its count raised ConfigError, so the
    # client got 422 "invalid_request" (its request blamed), the turn was not stored and
    # the reservation was refunded (an unmetered model call)
    model = UsageModel(total=total)
    settings = ServiceSettings(use_queue=False)
    service = AgentService(model, config=config, settings=settings, model_name="usage")
    question = "How tall is the Eiffel Tower?"
    async with _app_client(service) as client:
        r = await client.post("/chat", **users.chat("alice", "s", question))
        assert r.status_code == 200, r.text
        assert r.json()["answer"] == "ok" and r.json()["usage"]["total_tokens"] == 0
        left = (await service.limiter.apeek(user="alice")).remaining[service.token_budget.name]
        estimate = service._estimate_tokens(question, [])
        assert left == settings.tokens_per_day - estimate  # the estimate stays charged
        session = await client.get("/sessions/s", headers=users.headers("alice"))
        assert session.json()["length"] == 2
        hit = await client.post("/chat", **users.chat("bob", "s", question))
        assert hit.json()["cached"] is True and hit.json()["usage"]["saved_tokens"] == 0
    assert model.calls == 1


def test_an_endpoint_reply_with_odd_usage_is_read_as_unknown() -> None:
    body = {"choices": [{"message": {"content": "ok"}}]}
    for usage in ({"total_tokens": -1}, {"prompt_tokens": "abc"}, {"total_tokens": 1e20}, []):
        reply = parse_completion(orjson.dumps({**body, "usage": usage}))
        assert (reply.text, reply.known, reply.total_tokens) == ("ok", False, 0), usage
    reply = parse_completion(
        orjson.dumps({**body, "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
    )
    assert (reply.input_tokens, reply.output_tokens, reply.total_tokens, reply.known) == (
        7,
        3,
        10,
        True,
    )


@pytest.mark.parametrize(
    ("cut", "hit"), [("cache", False), ("turn", False), ("turn", True)],
    ids=["cache-store", "turn-store", "hit-turn-store"],
)  # fmt: skip
async def test_a_turn_failing_after_the_model_answered_charges_what_it_spent(
    config: RedisAgentConfig,
    aconfig: RedisAgentConfig,
    users: Users,
    monkeypatch: pytest.MonkeyPatch,
    cut: str,
    hit: bool,
) -> None:
    # attack27: the cache store failing after the model answered refunded the turn whole
    # (its tokens and its request) although the model had spent 25 tokens: a user whose
    # turns fail there is metered for nothing. review28: the round trip storing the turn
    # (history, listing, event and the settle itself) failing left the reservation as
    # admitted: a miss charged the estimate, not the 25 tokens spent; a hit (nothing
    # spent, a failed turn) the estimate and its request
    model = UsageModel(total=25)
    settings = ServiceSettings(use_queue=False, requests_per_minute=5)
    service = AgentService(model, config=config, settings=settings, model_name="usage")

    async def refused(*args: Any, **kwargs: Any) -> None:
        raise RedisUnavailableError(f"the {cut} store was cut off")

    async with _app_client(service) as client:
        if hit:  # answered and stored once: the same window again is an exact hit
            first = await client.post("/chat", **users.chat("alice", "s0", "How tall is it?"))
            assert first.is_success, first.text
        with monkeypatch.context() as m:
            if cut == "cache":
                m.setattr(service.cache, "aupdate", refused)
            else:
                m.setattr("redis_agent_service.app.asend_commands", refused)
            r = await client.post("/chat", **users.chat("alice", "s", "How tall is it?"))
        assert r.status_code == 503, r.text
        left = (await service.limiter.apeek(user="alice")).remaining
    assert model.calls == 1
    # main: all 50,000 (cache store); int28: the estimate (49,923 turn store, 49,898 hit)
    assert left[service.token_budget.name] == settings.tokens_per_day - 25
    # the peek counts the request it asks about: 5 - 1 - 1; a miss stays counted, a
    # failed hit is refunded (main: 4 for the cache store; int28: 2 for the hit)
    assert left[service.request_limit.name] == 3
