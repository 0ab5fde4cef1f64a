"""The service when Redis refuses writes: 503 with a JSON body naming cause and fix."""

from __future__ import annotations

import httpx
import pytest

from redis_agent_core.apikeys import ApiKeys
from redis_agent_core.config import RedisAgentConfig
from redis_agent_service.app import AgentService, ServiceSettings, create_app
from redis_agent_service.llm import LLMEndpoint, build_chat_model
from tests.faults import FaultyRedis


@pytest.mark.parametrize("fault", ["oom", "readonly"])
async def test_refused_writes_answer_503_json(
    faulty_redis: FaultyRedis, dead_endpoint: LLMEndpoint, fault: str
) -> None:
    config = faulty_redis.config()
    service = AgentService(build_chat_model(dead_endpoint), config=config, model_name="m")
    auth = {"Authorization": f"Bearer {ApiKeys(config).create('u')}"}  # before the fault
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post("/chat", json={"session_id": "s", "message": "hello"}, headers=auth)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"] == "redis_write_refused"
    assert ("maxmemory" if fault == "oom" else "primary") in body["detail"]
    assert faulty_redis.url not in r.text  # the address goes to the log only
    await config.aclose()
    config.close()


async def test_a_busy_redis_answers_503_and_the_same_app_recovers(
    faulty_redis: FaultyRedis, dead_endpoint: LLMEndpoint
) -> None:
    """BUSY (a script past busy-reply-threshold) is "Redis cannot answer now": 503 with
    Retry-After, not a 500 with a traceback."""
    config = faulty_redis.config()
    service = AgentService(build_chat_model(dead_endpoint), config=config, model_name="m")
    auth = {"Authorization": f"Bearer {ApiKeys(config).create('u')}"}
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with faulty_redis.busy_replies():
            for r in (
                await client.post("/chat", json={"session_id": "s", "message": "hi"}, headers=auth),
                await client.get("/sessions/s", headers=auth),
                await client.get("/health"),
            ):
                assert r.status_code == 503, r.text
                assert r.json()["error"] == "redis_unavailable" and r.headers["Retry-After"]
        assert (await client.get("/health")).status_code == 200
    await config.aclose()
    config.close()


async def test_a_command_the_acl_user_lacks_answers_500_naming_the_fix(
    faulty_redis: FaultyRedis, dead_endpoint: LLMEndpoint
) -> None:
    """NOPERM is the operator's to fix, not a fault to wait out: 500 with its own code."""
    admin = faulty_redis.admin()
    admin.acl_setuser("ro", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                      commands=["+@read", "+@connection"])  # fmt: skip
    key = ApiKeys(faulty_redis.config()).create("u")  # as the admin
    url = f"redis://ro:pw@127.0.0.1:{faulty_redis.port}"
    config = faulty_redis.config().with_options(url=url)
    service = AgentService(build_chat_model(dead_endpoint), config=config, model_name="m")
    transport = httpx.ASGITransport(app=create_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post(
            "/chat",
            json={"session_id": "s", "message": "hi"},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 500, r.text
    assert r.json()["error"] == "redis_permission_denied" and "redis-agent acl" in r.text
    assert "Retry-After" not in r.headers and faulty_redis.url not in r.text
    admin.close()
    await config.aclose()
    config.close()


def test_a_cluster_url_mistake_is_the_services_500_not_the_clients_422() -> None:
    # a ConfigError from a Redis reply (a cluster node's URL without ?cluster=true) is the
    # deployment's mistake: a 500 whose body does not name the Redis host; a value the
    # client sent that the pack refuses stays a 422
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from redis_agent_core.errors import ClusterURLError, ConfigError
    from redis_agent_service.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/misrouted")
    def misrouted() -> None:
        raise ClusterURLError("redis://10.1.2.3:7000 is a Redis Cluster node: add ?cluster=true")

    @app.get("/refused")
    def refused() -> None:
        raise ConfigError("ttl must be a finite number")

    with TestClient(app) as client:
        r = client.get("/misrouted")
        assert r.status_code == 500 and r.json()["error"] == "redis_misconfigured"
        assert "10.1.2.3" not in r.text and "?cluster=true" in r.text
        assert client.get("/refused").status_code == 422


async def test_a_malformed_redis_url_is_the_services_500_and_names_no_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app factory on a config whose REDIS_URL is malformed (read lazily): the open
    routes answered anyone a 422 "invalid_request" naming the Redis host, and the keyed
    ones a bare internal_error."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    monkeypatch.setenv("REDIS_URL", "redis://:s3cret@redis.internal.example:63x/0")
    settings = ServiceSettings(use_queue=False)
    service = AgentService(FakeListChatModel(responses=["a"]), config=RedisAgentConfig(),
                           settings=settings)  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(service))
    bearer = {"Authorization": "Bearer rak_0123456789abcdef_" + "a" * 43}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for method, path in (("GET", "/health"), ("GET", "/stats"), ("POST", "/chat")):
            r = await client.request(
                method, path, json={"session_id": "s", "message": "m"}, headers=bearer
            )
            assert r.status_code == 500 and r.json()["error"] == "redis_misconfigured", path
            assert "redis.internal.example" not in r.text and "REDIS_URL" in r.text


async def test_documents_whose_job_owner_cannot_be_recorded_are_not_queued_nor_charged(
    faulty_redis: FaultyRedis, dead_endpoint: LLMEndpoint
) -> None:
    """attack25: the job was queued first and its owner recorded after. When that write
    failed the client got an error for a job that ran all the same (its documents added
    to every user's corpus, its id never told, a retry adding them again)."""
    admin = faulty_redis.admin()
    admin.acl_setuser("noset", enabled=True, passwords=["+pw"], keys=["*"], channels=["*"],
                      commands=["+@all", "-set"])  # fmt: skip
    key = ApiKeys(faulty_redis.config()).create("alice")  # as the admin
    config = faulty_redis.config().with_options(
        url=f"redis://noset:pw@127.0.0.1:{faulty_redis.port}"
    )
    # left25: one request a minute: the failed one kept it charged
    settings = ServiceSettings(use_queue=True, ingest_users=["alice"], requests_per_minute=1)
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    transport = httpx.ASGITransport(app=create_app(service))
    docs = {"documents": [{"id": "d1", "text": "Streams keep an append-only log."}]}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post("/documents", json=docs, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 500, r.text
    assert r.json()["error"] == "redis_permission_denied"
    jobs = list(admin.scan_iter(match=f"{config.namespace}:job:*"))
    assert jobs == [], jobs  # nothing queued nor recorded: the client may simply retry
    # ... and its request slot was given back, as a failed /chat turn's is
    assert (await service.limiter.apeek(user="alice")).allowed
    admin.close()
    await config.aclose()
    config.close()


async def test_documents_queued_in_part_name_their_job_and_stay_charged(
    faulty_redis: FaultyRedis, dead_endpoint: LLMEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review25: a request is a task per ingest_batch (2) passages. The queue failing
    after the first answered the generic 503 (the job id only in the log) while that
    task's documents were added, and gave the request back."""
    from redis_agent_core.errors import RedisUnavailableError
    from redis_agent_core.tasks import submit

    sent: list[object] = []

    def first_only(app: object, name: str, args: list[object], **options: object) -> str:
        if sent:
            raise RedisUnavailableError("the broker is down (test)")
        sent.append(args)
        return "task-id"

    monkeypatch.setattr(submit, "send_task", first_only)
    config = faulty_redis.config()
    key = ApiKeys(config).create("alice")
    settings = ServiceSettings(use_queue=True, ingest_users=["alice"], requests_per_minute=1)
    service = AgentService(
        build_chat_model(dead_endpoint), config=config, settings=settings, model_name="m"
    )
    transport = httpx.ASGITransport(app=create_app(service))
    docs = {"documents": [{"id": f"d{i}", "text": f"Document {i}."} for i in range(3)]}
    bearer = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post("/documents", json=docs, headers=bearer)
        assert r.status_code == 503 and r.json()["error"] == "partly_queued", r.text
        job_id = r.json()["detail"].split("under job ")[1].split()[0]
        job = (await client.get(f"/jobs/{job_id}", headers=bearer)).json()
    assert (job["total"], job["failed"]) == (3, 1), job  # the one not queued
    assert len(sent) == 1
    # part of it ran: the request stays counted
    assert not (await service.limiter.apeek(user="alice")).allowed
    await config.aclose()
    config.close()
