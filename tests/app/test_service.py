"""The reference service end to end: real Redis, real embeddings, LLM replayed from
cassettes recorded against the local SmolLM2 server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_service.app import AgentService, ServiceSettings, create_app
from redis_agent_service.demo import load_documents
from redis_agent_service.llm import LLMEndpoint, OpenAIChat, build_chat_model
from tests.asymmetric import DOCS, QUESTION, LangChainAsym

from .conftest import Users

pytestmark = pytest.mark.slow  # loads the embedding model

Offline = tuple[httpx.AsyncClient, AgentService]


def _llm_bodies(cassette: Any) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in cassette.requests]


async def _seed_cache(
    service: AgentService,
    prompt: str,
    answer: str,
    tokens: int,
    history: Sequence[BaseMessage] = (),
    user: str = "u",
    session: str = "s",
) -> None:
    """Store an answer as the LLM path would after ``history`` in ``user``'s
    ``session``, so a test can hit it without a model."""
    usage = {"input_tokens": tokens - 5, "output_tokens": 5, "total_tokens": tokens}
    prompt, scope = service.cache_key(prompt, history, user=user, session_id=session)
    await service.cache.aupdate(prompt, scope, json.dumps({"answer": answer}), usage=usage)


@pytest.mark.vcr
async def test_cache_hit_makes_no_http_call(
    client: httpx.AsyncClient, http_calls: Callable[[], int], users: Users
) -> None:
    first = await client.post("/chat", **users.chat("alice", "s-a", "What is Redis used for?"))
    assert first.status_code == 200, first.text
    miss = first.json()
    assert miss["cached"] is False
    assert miss["answer"]
    assert miss["usage"]["total_tokens"] > 0
    assert http_calls() == 1

    # another user, another session, same question: served by Redis, not the model
    second = await client.post("/chat", **users.chat("bob", "s-b", "What is Redis used for?"))
    hit = second.json()
    assert hit["cached"] is True
    assert hit["answer"] == miss["answer"]
    assert hit["usage"]["total_tokens"] == 0
    assert hit["usage"]["saved_tokens"] == miss["usage"]["total_tokens"]
    assert http_calls() == 1  # no request left the process

    stats = (await client.get("/stats")).json()
    assert stats["process"]["cache_hits"] == 1
    assert stats["process"]["llm_calls"] == 1
    assert stats["process"]["tokens_saved"] == miss["usage"]["total_tokens"]


async def test_paraphrase_hits_but_negation_does_not(offline_client: Offline, users: Users) -> None:
    client, service = offline_client
    await _seed_cache(service, "How do I cancel my subscription?", "Open Settings.", 40)
    hit = await client.post("/chat", **users.chat("u1", "s1", "How can I cancel my subscription?"))
    assert hit.json()["cached"] is True
    assert hit.json()["answer"] == "Open Settings."
    # a near neighbour with the opposite meaning must go to the model; the model is a
    # dead address here, so reaching it proves the cache refused (502, not a hit)
    trap = await client.post(
        "/chat", **users.chat("u2", "s2", "How do I not cancel my subscription?")
    )
    assert trap.status_code == 502
    assert trap.json()["error"] == "llm_unavailable"


async def test_follow_up_is_cached_with_its_context(offline_client: Offline, users: Users) -> None:
    client, service = offline_client
    await _seed_cache(service, "What is Redis?", "An in-memory store.", 30)
    turn = [HumanMessage("What is Redis?"), AIMessage("An in-memory store.")]
    await _seed_cache(service, "Is it fast?", "Yes, very.", 30, history=turn, user="u")
    await _seed_cache(service, "What is Memcached?", "A cache.", 30)
    for session, first in (("a", "What is Redis?"), ("b", "What is Memcached?")):
        r = await client.post("/chat", **users.chat("u", session, first))
        assert r.json()["cached"] is True
    same = await client.post("/chat", **users.chat("u", "a", "Is it fast?"))
    assert same.json()["cached"] is True
    assert same.json()["answer"] == "Yes, very."
    # the same words after another question are another question: not served
    other = await client.post("/chat", **users.chat("u", "b", "Is it fast?"))
    assert other.status_code == 502


@pytest.mark.vcr
async def test_follow_up_sends_the_history(
    client: httpx.AsyncClient, vcr: Any, http_calls: Callable[[], int], users: Users
) -> None:
    a1 = (await client.post("/chat", **users.chat("alice", "hist", "What is Redis?"))).json()
    a2 = (await client.post("/chat", **users.chat("alice", "hist", "Is it fast?"))).json()
    assert not a1["cached"] and not a2["cached"]
    assert a2["history_length"] == 4

    # the second model call carried the first turn
    roles = [(m["role"], m["content"]) for m in _llm_bodies(vcr)[1]["messages"]]
    assert ("user", "What is Redis?") in roles
    assert ("assistant", a1["answer"]) in roles
    assert roles[-1] == ("user", "Is it fast?")

    session = (await client.get("/sessions/hist", headers=users.headers("alice"))).json()
    assert session["length"] == 4
    assert [m["role"] for m in session["messages"]] == ["human", "ai", "human", "ai"]
    assert session["messages"][2]["content"] == "Is it fast?"

    assert http_calls() == 2


@pytest.mark.vcr
async def test_rag_answers_cite_ingested_documents(
    client: httpx.AsyncClient, vcr: Any, users: Users
) -> None:
    r = await client.post(
        "/documents", json={"documents": load_documents()}, headers=users.headers("carol")
    )
    assert r.status_code == 202
    assert r.json()["status"] == "done"
    assert r.json()["count"] == len(load_documents())

    reply = await client.post(
        "/chat", **users.chat("carol", "rag", "How does a semantic cache save tokens?")
    )
    body = reply.json()
    assert body["cached"] is False
    assert body["sources"][0]["source"] == "semantic-cache.md"
    assert 0 < body["sources"][0]["relevance"] <= 1
    system = _llm_bodies(vcr)[0]["messages"][0]["content"]
    assert "no tokens are spent" in system  # the passage went into the prompt


async def test_rate_limit_answers_429_with_retry_after(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    settings = ServiceSettings(use_queue=False, requests_per_minute=2)
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    await _seed_cache(service, "What is a vector index?", "An index of vectors.", 30)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for i in range(2):
            ok = await client.post(
                "/chat", **users.chat("mallory", f"m{i}", "What is a vector index?")
            )
            assert ok.status_code == 200 and ok.json()["cached"] is True
        refused = await client.post(
            "/chat", **users.chat("mallory", "m3", "What is a vector index?")
        )
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["error"] == "rate_limited"
        # limits are per user: someone else still gets an answer
        other = await client.post("/chat", **users.chat("trudy", "t1", "What is a vector index?"))
        assert other.status_code == 200
        stats = (await client.get("/stats")).json()
        assert stats["process"]["rate_limited"] == 1


async def test_token_budget_refuses_before_any_model_call(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    settings = ServiceSettings(use_queue=False, tokens_per_day=40)  # below one call's estimate
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post("/chat", **users.chat("u", "s", "Explain Redis streams."))
    assert r.status_code == 429  # not 502: the dead model was never called
    assert "tok-user" in r.json()["detail"]
    assert int(r.headers["retry-after"]) > 0


def test_a_model_built_apart_from_the_settings_is_refused(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint
) -> None:
    # review 15: the cache scope holds the settings' temperature / max_tokens; a model
    # built with others had its answers cached as the settings' (and served another's)
    for kwargs in ({"temperature": 0.9}, {"max_tokens": 200}):
        with pytest.raises(ConfigError, match=r"the model's \w+ is .* ServiceSettings"):
            AgentService(build_chat_model(dead_endpoint, **kwargs), config=config)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match="which the cache scope holds"):
            AgentService(OpenAIChat(dead_endpoint, **kwargs), config=config)  # type: ignore[arg-type]
    hot = ServiceSettings(temperature=0.9)
    AgentService(OpenAIChat(dead_endpoint, temperature=0.9), config=config, settings=hot)


async def test_redis_down_answers_503_with_a_clear_body(dead_endpoint: LLMEndpoint) -> None:
    url = "unix:///nonexistent/redis.sock"
    config = RedisAgentConfig(url=url, socket_connect_timeout=0.5, retries=0)
    service = AgentService(build_chat_model(dead_endpoint), config=config, model_name="m")
    # a well-formed key: checking it needs Redis, so the answer is 503, not 401
    auth = {"Authorization": "Bearer rak_" + "0" * 16 + "_" + "A" * 43}
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        chat = await client.post("/chat", json={"session_id": "s", "message": "hi"}, headers=auth)
        session = await client.get("/sessions/s", headers=auth)
        health = await client.get("/health")
        stats = await client.get("/stats")
        job = await client.get("/jobs/j1", headers=auth)
        queued = await client.post("/documents", json={"documents": [{"text": "x"}]}, headers=auth)
    for r in (chat, session, health, stats, job, queued):
        assert r.status_code == 503
        body = r.json()
        assert body == {"error": "redis_unavailable", "detail": body["detail"]}
        assert "REDIS_URL" in body["detail"]
        # the server's address stays in the log, never in a response
        assert "nonexistent" not in r.text and "unix://" not in r.text
        assert r.headers["retry-after"]


async def test_bad_requests_are_rejected(offline_client: Offline, users: Users) -> None:
    client, _ = offline_client
    r = await client.post("/chat", **users.chat("u", "s", ""))
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"
    assert "message" in r.json()["detail"]
    r = await client.post("/documents", json={"documents": []}, headers=users.headers("u"))
    assert r.status_code == 422
    assert (await client.get("/jobs/nope", headers=users.headers("u"))).status_code == 404


async def test_blank_fields_and_duplicate_ids_are_422_not_a_model_call(
    offline_client: Offline, users: Users
) -> None:
    client, _ = offline_client
    # whitespace-only fields would reach the model (502 on the dead one) if accepted
    for session, message in (("s", "   \n"), ("\t", "hi")):
        r = await client.post("/chat", **users.chat("u", session, message))
        assert r.status_code == 422, (session, message, r.text)
    r = await client.post(
        "/documents",
        json={"documents": [{"text": "a", "id": "x"}, {"text": "b", "id": "x"}]},
        headers=users.headers("u"),
    )
    assert r.status_code == 422
    assert "duplicate document id 'x'" in r.text


async def test_non_string_source_metadata_does_not_break_chat(
    offline_client: Offline, users: Users
) -> None:
    client, service = offline_client
    doc = {"text": "Redis streams keep an append-only log of events.", "metadata": {"source": 7}}
    r = await client.post("/documents", json={"documents": [doc]}, headers=users.headers("u"))
    assert r.status_code == 202
    hits = await service._retrieve("What do Redis streams keep?")
    assert hits, "the passage should be relevant"
    # the miss goes to the (dead) model: 502, not a 500 from building the sources list
    r = await client.post("/chat", **users.chat("u", "s", "What do Redis streams keep?"))
    assert r.status_code == 502, r.text


async def test_rag_finds_passages_with_the_query_form(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, users: Users
) -> None:
    # a model whose query form differs (E5, Cohere...): embedded as a passage, the
    # question would retrieve the cooking passage
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    model = LangChainAsym()
    settings = ServiceSettings(use_queue=False, rag_k=1)
    llm = FakeListChatModel(responses=["Use XADD."])
    service = AgentService(llm, config=config, settings=settings, embeddings=model, model_name="m")
    await service.vectors.aadd(list(DOCS.values()), ids=list(DOCS))
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post("/chat", **users.chat("u", "s", QUESTION))
    assert r.status_code == 200, r.text
    assert [s["id"] for s in r.json()["sources"]] == ["rd"]
    assert model.calls["embed_query"] == 1


async def test_concurrent_requests_keep_limits_exact(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    settings = ServiceSettings(use_queue=False, requests_per_minute=3)
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    await _seed_cache(service, "What is a stream?", "An append-only log.", 30)
    # a session per request: each is a first turn, so each may be served from the cache
    # (in one session, a turn that reads another's history is a new question)
    asks = [(user, i) for i in range(6) for user in ("ann", "bob")]
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        replies = await asyncio.gather(
            *(
                client.post("/chat", **users.chat(u, f"{u}-s{i}", "What is a stream?"))
                for u, i in asks
            )
        )
        codes = {
            u: sorted(r.status_code for r, (v, _) in zip(replies, asks, strict=True) if v == u)
            for u in ("ann", "bob")
        }
        # the limit holds exactly under concurrency: 3 admitted per user, the rest 429
        assert codes == {"ann": [200] * 3 + [429] * 3, "bob": [200] * 3 + [429] * 3}
        assert all(r.json()["cached"] for r in replies if r.status_code == 200)
        stats = (await client.get("/stats")).json()["process"]
    assert stats["requests"] == 12 and stats["cache_hits"] == 6 and stats["rate_limited"] == 6


async def test_concurrent_turns_of_one_session_are_stored_whole(
    config: RedisAgentConfig, users: Users
) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    llm = FakeListChatModel(responses=[f"answer {i}" for i in range(6)])
    service = AgentService(llm, config=config, settings=ServiceSettings(use_queue=False))
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        replies = await asyncio.gather(
            *(client.post("/chat", **users.chat("ann", "ann-s", f"question {i}")) for i in range(6))
        )
        assert [r.status_code for r in replies] == [200] * 6
        session = (await client.get("/sessions/ann-s", headers=users.headers("ann"))).json()
    # turns are stored whole: question and answer pairs never interleave
    roles = [m["role"] for m in session["messages"]]
    assert roles == ["human", "ai"] * 6
    # each reply says the session's length after its own turn (all said 2: each had
    # read the session before any of them was stored)
    assert sorted(r.json()["history_length"] for r in replies) == [2, 4, 6, 8, 10, 12]


async def test_a_turn_reads_the_window_not_the_whole_session(
    config: RedisAgentConfig, users: Users
) -> None:
    """A session grows without tokens once its window repeats (the exact tier answers a
    repeated question), and every /chat read and parsed all of it on the event loop:
    20,000 messages held each request of the worker 2.3 s. A turn reads its window."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    llm = FakeListChatModel(responses=["an answer"])
    service = AgentService(llm, config=config, settings=ServiceSettings(use_queue=False))
    long = "x" * 7_900
    await service.history("ann", "s").aadd_messages(
        [HumanMessage(long), AIMessage("an answer")] * 200
    )
    redis = config.get_client()
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        before = int(redis.info("stats")["total_net_output_bytes"])
        r = await client.post("/chat", **users.chat("ann", "s", long))
        sent = int(redis.info("stats")["total_net_output_bytes"]) - before
    assert r.status_code == 200 and r.json()["history_length"] == 402
    # the window (6 messages, ~24 KB) and the turn's replies, not the 1.6 MB session
    assert sent < 200_000


async def test_a_session_is_read_a_page_at_a_time(offline_client: Offline, users: Users) -> None:
    """GET /sessions/{id} read and parsed the whole session on the event loop, on a route
    no limit counts: the newest 100 messages by default, ?limit= (up to 1000) and
    ?offset= (from the newest) page back, ``length`` is the whole session's."""
    client, service = offline_client
    await service.history("ann", "s").aadd_messages(
        [HumanMessage(f"q{i}") if i % 2 == 0 else AIMessage(f"a{i}") for i in range(250)]
    )
    headers = users.headers("ann")

    async def page(query: str = "") -> Any:
        return await client.get(f"/sessions/s{query}", headers=headers)

    first = (await page()).json()
    assert first["length"] == 250 and len(first["messages"]) == 100
    assert first["messages"][0]["content"] == "q150" and first["messages"][-1]["content"] == "a249"
    older = (await page("?limit=3&offset=2")).json()
    assert [m["content"] for m in older["messages"]] == ["a245", "q246", "a247"]
    assert (await page("?offset=250")).json() == {"session_id": "s", "length": 250, "messages": []}
    for bad in ("?limit=0", "?limit=1001", "?offset=-1", "?limit=x"):
        r = await page(bad)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request", bad
    # another user's session of that id is still a 404
    assert (await client.get("/sessions/s", headers=users.headers("bob"))).status_code == 404


async def test_model_down_answers_502_and_refunds_the_request(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    settings = ServiceSettings(use_queue=False, requests_per_minute=1)
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    await _seed_cache(service, "What is a hash?", "A field-value map.", 30)
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        failed = await client.post("/chat", **users.chat("u", "s1", "Explain Redis streams."))
        assert failed.status_code == 502
        assert failed.json()["error"] == "llm_unavailable"
        assert "OPENAI_BASE_URL" in failed.json()["detail"]
        assert "127.0.0.1:9" not in failed.text  # the endpoint's address stays in the log
        # the failed call gave its request back: the user's one request a minute is intact
        ok = await client.post("/chat", **users.chat("u", "s2", "What is a hash?"))
        assert ok.status_code == 200 and ok.json()["cached"] is True
        # and the failed turn was not written to the session
        assert (await client.get("/sessions/s1", headers=users.headers("u"))).status_code == 404
