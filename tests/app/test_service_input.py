"""Bad input to the service is refused whole, with a 422 naming the field, before
anything is embedded, written or queued (review 11 of the service).

Real HTTP through the ASGI app, real Redis, real API keys, a dead model (nothing here
may need it).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_service.app import AgentService, ServiceSettings, create_app
from redis_agent_service.llm import LLMEndpoint, build_chat_model

from .conftest import Users

pytestmark = pytest.mark.slow  # loads the embedding model

Offline = tuple[httpx.AsyncClient, AgentService]

_GOOD = [{"id": f"d{i}", "text": f"Fact number {i} about otters."} for i in range(4)]
# valid JSON each, but nothing Redis can store: a 70-bit integer, lone surrogates
_BAD_DOCS = {
    "metadata": '{"id": "d4", "text": "beavers", "metadata": {"n": 1180591620717411303424}}',
    "metadata-str": '{"id": "d4", "text": "beavers", "metadata": {"source": "\\ud800"}}',
    "id": '{"id": "\\udfff", "text": "beavers"}',
    # review 15: a search hit of "d0\x00x" read document "d0"'s text and metadata
    "id-nul": '{"id": "d0\\u0000x", "text": "beavers"}',
}


def _body(bad: str) -> bytes:
    good = ", ".join(f'{{"id": "{d["id"]}", "text": "{d["text"]}"}}' for d in _GOOD)
    return f'{{"documents": [{good}, {bad}]}}'.encode()


def _service(config: RedisAgentConfig, endpoint: LLMEndpoint, **settings: Any) -> AgentService:
    settings.setdefault("ingest_users", ["alice", "u", "m", "o"])  # the tests' writers
    return AgentService(
        build_chat_model(endpoint),
        config=config,
        settings=ServiceSettings(**settings),
        model_name="m",
    )


def _client(service: AgentService) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(service))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.mark.parametrize("use_queue", [False, True], ids=["inline", "queue"])
async def test_one_bad_document_refuses_the_batch_before_anything_is_written(
    config: RedisAgentConfig,
    aconfig: RedisAgentConfig,
    dead_endpoint: LLMEndpoint,
    users: Users,
    use_queue: bool,
) -> None:
    service = _service(config, dead_endpoint, use_queue=use_queue)
    headers = {**users.headers("alice"), "content-type": "application/json"}
    async with _client(service) as client:
        for case, bad in _BAD_DOCS.items():
            r = await client.post("/documents", content=_body(bad), headers=headers)
            assert r.status_code == 422, (case, r.text)
            field = case.split("-")[0]
            assert r.json()["error"] == "invalid_request"
            assert r.json()["detail"].startswith(f"documents[4].{field}: "), r.json()
        # nothing indexed, queued or recorded as a job
        assert await service.vectors.acount() == 0
        assert service.counters.jobs_submitted == service.counters.documents_ingested == 0
        keys = [k async for k in aconfig.get_async_client().scan_iter(f"{config.namespace}:*")]
        assert not [k for k in keys if b":job:" in k], keys


async def test_a_value_the_pack_refuses_is_a_422_not_a_500() -> None:
    from fastapi import FastAPI

    from redis_agent_core.errors import ConfigError
    from redis_agent_service.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refuse")
    async def refuse() -> None:
        raise ConfigError("metadata 'year' is a numeric field: " + "x" * 5000)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.get("/refuse")
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"
    assert r.json()["detail"].startswith("metadata 'year' is a numeric field")
    assert len(r.content) < 400  # the message is cut, as validation messages are


async def test_unknown_fields_are_refused_naming_them(
    offline_client: Offline, users: Users
) -> None:
    client, service = offline_client
    headers = users.headers("u")
    bad = {
        "/documents": [
            ({"documents": [{"text": "Blue whales eat krill.", "meta": {"source": "wiki"}}]},
             "documents.0.meta"),
            ({"documents": [{"text": "Blue whales eat krill."}], "webhook": "x"}, "webhook"),
        ],
        "/chat": [
            ({"session_id": "s", "message": "hi", "user": "bob"}, "user"),
            ({"session_id": "s", "message": "hi", "stream": True}, "stream"),
        ],
    }  # fmt: skip
    for path, cases in bad.items():
        for body, field in cases:
            r = await client.post(path, json=body, headers=headers)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["detail"].startswith(f"{field}: Extra inputs are not permitted")
    assert await service.vectors.acount() == 0
    assert service.counters.requests == 0


async def test_too_many_documents_are_counted_before_any_is_validated(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    service = _service(config, dead_endpoint, use_queue=False, max_documents=3)
    # a 4th item that would fail validation: the count answers first, without looking
    many = [{"text": "a"}] * 3 + [{"no": "text"}]
    async with _client(service) as client:
        r = await client.post("/documents", json={"documents": many}, headers=users.headers("u"))
        assert r.status_code == 413, r.text
        assert r.json() == {
            "error": "too_many_documents",
            "detail": "4 documents in one request; the limit is 3: send them in several requests",
        }
        ok = await client.post(
            "/documents", json={"documents": many[:3]}, headers=users.headers("u")
        )
        assert ok.status_code == 202, ok.text


async def test_a_request_without_a_valid_key_is_refused_before_its_body_is_parsed(
    offline_client: Offline, users: Users
) -> None:
    client, _ = offline_client
    # FastAPI parsed a route's body before the key's dependency ran: malformed JSON
    # answered 422, and a large array held the event loop for its 401
    malformed = b'{"session_id": "s", "message": "x", "junk": [' + b"0," * 30_000
    for path in ("/chat", "/documents"):
        for headers in ({}, {"Authorization": "Bearer rak_unknown"}):
            r = await client.post(
                path, content=malformed, headers={**headers, "content-type": "application/json"}
            )
            assert r.status_code == 401, r.text
            assert r.json()["error"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
    # with a key, the same route reads its body as before
    ok = await client.post("/chat", json={"session_id": "s"}, headers=users.headers("u"))
    assert ok.status_code == 422 and ok.json()["detail"].startswith("message: Field required")


async def test_chat_bodies_are_capped_near_what_its_fields_hold(
    offline_client: Offline, users: Users
) -> None:
    client, service = offline_client
    headers = users.headers("u")
    junk = {"session_id": "s", "message": "x" * 8000, "pad": [0] * 100_000}  # 300 kB
    r = await client.post("/chat", json=junk, headers=headers)
    assert r.status_code == 413, r.text
    assert r.json()["error"] == "request_too_large"
    assert "/chat" in r.json()["detail"]
    # the largest legitimate message, every character escaped in the JSON, still fits
    widest = '{"session_id": "s", "message": "' + "\\ud83d\\ude00" * 8000 + '"}'
    r = await client.post(
        "/chat", content=widest.encode(), headers={**headers, "content-type": "application/json"}
    )
    assert r.status_code != 413, r.text
    assert service.settings.max_body_bytes > 300_000  # other routes keep the service's limit


async def test_a_session_id_with_a_slash_is_refused(offline_client: Offline, users: Users) -> None:
    client, service = offline_client
    # "a/b" was stored and listed, but GET /sessions/a%2Fb reached no route (404)
    r = await client.post("/chat", **users.chat("u", "a/b", "hi"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("session_id: Value error, a session id cannot hold '/'")
    assert (await client.get("/sessions", headers=users.headers("u"))).json()["sessions"] == []
    assert service.counters.requests == 0
    # other characters a path can carry still round-trip (the review's control characters)
    from langchain_core.messages import AIMessage, HumanMessage

    sid = "s\n\r\x1b[31m %?#"
    await service.history("u", sid).aadd_messages([HumanMessage("hi"), AIMessage("hello")])
    r = await client.get("/sessions/" + quote(sid, safe=""), headers=users.headers("u"))
    assert r.status_code == 200 and r.json()["session_id"] == sid, r.text


async def test_429_names_the_limit_not_its_redis_key(
    config: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    service = _service(config, dead_endpoint, use_queue=False, tokens_per_day=40)
    async with _client(service) as client:
        r = await client.post("/chat", json={"session_id": "s", "message": "Explain streams."},
                              headers=users.headers("alice"))  # fmt: skip
    assert r.status_code == 429 and r.headers["retry-after"] == "86400"
    detail = r.json()["detail"]
    assert detail.startswith("rate limit 'tok-user-") and "the request alone is over it" in detail
    assert config.namespace not in detail and ":rl:" not in detail and "alice" not in detail


async def test_no_open_api_pages(offline_client: Offline) -> None:
    client, _ = offline_client
    for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
        r = await client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"] == "not_found"


async def test_a_document_is_sized_as_stored_metadata_and_id_in_every_passage(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    # review 13: metadata was not counted and is copied into every passage: a 1.1 MB
    # request (110 KB of text, 1 MB of metadata) grew Redis by 124 MB (114 passages)
    service = _service(config, dead_endpoint, use_queue=False, max_document_bytes=64 * 1024)
    text = ". ".join(f"Sentence {i} about otters" for i in range(1500))  # ~34 KB, 35 passages
    headers = users.headers("u")
    async with _client(service) as client:
        for doc in (
            {"text": text, "metadata": {"pad": "p" * 4000}},  # 34 KB + 35 x 4 KB
            {"text": text, "id": "i" * 4000},  # the id is in every passage too
            {"text": "short", "metadata": {"pad": "p" * 70_000}},  # one passage
        ):
            r = await client.post("/documents", json={"documents": [doc]}, headers=headers)
            assert r.status_code == 413, r.text
            assert r.json()["error"] == "document_too_large"
            assert "metadata" in r.json()["detail"] and "passage" in r.json()["detail"]
        assert await service.vectors.acount() == 0  # nothing was written
        # within the limit once stored: accepted (the ids the service assigns do not count)
        near = ". ".join(f"Otter fact {i}" for i in range(4600))[: 64 * 1024 - 8]
        for ok in ({"text": text, "metadata": {"source": "otters.txt"}}, {"text": near}):
            r = await client.post("/documents", json={"documents": [ok]}, headers=headers)
            assert r.status_code == 202, r.text


async def test_documents_count_against_the_request_limit(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    # review 13: only /chat was metered; one user posted 30 x /documents at 2 requests/min
    service = _service(config, dead_endpoint, use_queue=False, requests_per_minute=2)
    async with _client(service) as client:
        post = [{"text": "Otters hold hands while they sleep."}]
        codes = []
        for _ in range(3):
            r = await client.post(
                "/documents", json={"documents": post}, headers=users.headers("m")
            )
            codes.append(r.status_code)
        assert codes == [202, 202, 429], r.text
        assert r.json()["error"] == "rate_limited" and r.headers["Retry-After"]
        assert await service.vectors.acount() == 2  # the refused one wrote nothing
        # a refused batch (bad input) costs nothing; another user has their own budget
        bad = {"documents": [{"text": "x", "meta": {}}]}
        other = users.headers("o")
        assert (await client.post("/documents", json=bad, headers=other)).status_code == 422
        for _ in range(2):
            r = await client.post("/documents", json={"documents": post}, headers=other)
            assert r.status_code == 202, r.text
        # one budget per user: the chat of the user who spent it is refused too
        r = await client.post("/chat", **users.chat("m", "s", "hi"))
        assert r.status_code == 429


@pytest.mark.parametrize("text", ["   \n\n  ", "\u0000", "\t\u0001\u007f "])
async def test_a_document_without_visible_text_is_refused(
    offline_client: Offline, users: Users, text: str
) -> None:
    # review 13: blank and control-only documents were indexed, and reached every
    # user's prompt as RAG context (MiniLM ranks them close to short questions)
    client, service = offline_client
    docs = {"documents": [{"text": "Otters hold hands."}, {"text": text}]}
    r = await client.post("/documents", json=docs, headers=users.headers("u"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("documents.1.text: ")
    assert await service.vectors.acount() == 0


async def test_only_the_ingest_users_add_to_the_shared_corpus(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    # review 13: the corpus is every user's prompt context and any key could add to it
    # or replace a document by id; docs/trust.md advised "ingestion keys" that did not exist
    service = _service(config, dead_endpoint, use_queue=False, ingest_users=["op"])
    docs = {"documents": [{"id": "handbook", "text": "Refunds take 30 days."}]}
    async with _client(service) as client:
        r = await client.post("/documents", json=docs, headers=users.headers("mallory"))
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden" and "--ingest-user" in r.json()["detail"]
        assert await service.vectors.acount() == 0
        r = await client.post("/documents", json=docs, headers=users.headers("op"))
        assert r.status_code == 202, r.text
    with pytest.raises(ConfigError, match="ingest_users"):
        ServiceSettings(ingest_users=["a/b"])


async def test_nobody_adds_documents_unless_the_operator_says_so(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, dead_endpoint: LLMEndpoint, users: Users
) -> None:
    # session 14: every user with a key could add to (or replace by id in) the corpus
    # every user's model reads, unless the operator thought to pass --ingest-user
    docs = {"documents": [{"id": "handbook", "text": "Refunds take 30 days."}]}
    closed = AgentService(build_chat_model(dead_endpoint), config=config,
                          settings=ServiceSettings(use_queue=False), model_name="m")  # fmt: skip
    async with _client(closed) as client:
        r = await client.post("/documents", json=docs, headers=users.headers("u"))
        assert r.status_code == 403 and r.json()["error"] == "forbidden", r.text
        assert await closed.vectors.acount() == 0
    open_ = _service(config, dead_endpoint, use_queue=False, ingest_users=None)
    async with _client(open_) as client:  # --ingest-any-user
        r = await client.post("/documents", json=docs, headers=users.headers("anyone"))
        assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    "knob",
    [
        {"max_tokens": -5},
        {"max_tokens": 0},
        {"rag_k": 0},
        {"history_window": -1},
        {"temperature": -0.5},
        {"temperature": float("nan")},
    ],
)
def test_settings_a_model_call_cannot_honour_are_refused(knob: dict[str, Any]) -> None:
    """`serve --max-tokens -5` started a service whose every miss was a 502."""
    with pytest.raises(ConfigError, match=next(iter(knob))):
        ServiceSettings(**knob)


def test_serve_refuses_a_port_outside_tcp(capsys: pytest.CaptureFixture[str]) -> None:
    from redis_agent_core.cli import main

    # uvicorn took 99999 and said it was running on it
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--port", "99999"])
    assert exit_info.value.code == 2 and "0-65535" in capsys.readouterr().err


@pytest.mark.parametrize("header", ["", "Bearer rak_unknown"])
async def test_a_refused_request_whose_body_never_comes_is_answered(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch, header: str
) -> None:
    # a client declaring a body it never sends held its connection, before any key
    # was checked, for as long as it liked: the 401 waited for the body
    from redis_agent_core.apikeys import ApiKeys
    from redis_agent_service import auth

    monkeypatch.setattr(auth, "DRAIN_SECONDS", 0.2)
    reached: list[str] = []

    async def route(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    async def never() -> dict[str, Any]:
        await asyncio.Event().wait()  # the body that never arrives
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
    if header:
        headers.append((b"authorization", header.encode()))
    scope = {"type": "http", "method": "POST", "path": "/chat", "headers": headers}
    middleware = auth.RequireKey(route, ApiKeys(config), lambda scope: True)
    await asyncio.wait_for(middleware(scope, never, send), 10)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 401
    assert not reached
