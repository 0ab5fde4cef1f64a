"""The service under concurrency: the mechanisms behind issue 20's stalls, asserted
through the ASGI app with its startup run (no timings).

- the model loads at startup, never inside a request (the 4.5-12 s stalls were every
  first concurrent request waiting for a lazy load);
- a repeated question is answered by the exact tier: no embedding at all;
- a new question is embedded in the model's thread, never on the event loop, and
  concurrent questions share model calls;
- per-process counters reach ``/stats`` through Redis, with the loop's lag;
- at most ``max_in_flight`` requests of a worker are in their CPU stages at once, the
  others wait (none refused), and a request waiting for the model holds no slot.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from redis.asyncio.connection import AbstractConnection

from langchain_redis_agent.embeddings import MiniLMEmbeddings
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import SentenceTransformerEmbedder
from redis_agent_core.fastpath import AsyncLease
from redis_agent_service.app import AgentService, ServiceSettings, create_app

from .conftest import Users

pytestmark = pytest.mark.slow  # loads the embedding model

CLIENTS = 24


class ThreadRecorder:
    """The real model, recording which thread runs each call and its batch size."""

    def __init__(self, model: SentenceTransformerEmbedder) -> None:
        self.model = model
        self.name = model.name
        self.dims = model.dims
        self.calls: list[tuple[str, int]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append((threading.current_thread().name, len(texts)))
        return self.model.embed(texts)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("the service awaited the model on the event loop")


@pytest.fixture
async def running(
    config: RedisAgentConfig, aconfig: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> AsyncIterator[tuple[httpx.AsyncClient, AgentService, ThreadRecorder]]:
    """The app after its startup (lifespan) ran, on a model that answers instantly."""
    recorder = ThreadRecorder(minilm)
    llm = FakeListChatModel(responses=["An answer."])
    settings = ServiceSettings(use_queue=False, requests_per_minute=10_000)
    service = AgentService(
        llm,
        config=config,
        settings=settings,
        embeddings=MiniLMEmbeddings(recorder),
        model_name="fake",
    )
    app: FastAPI = create_app(service)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c, service, recorder


async def _ask(
    client: httpx.AsyncClient, users: Users, questions: Sequence[str]
) -> list[dict[str, Any]]:
    # each in a session of its own: a first turn, which the cache may serve anyone
    replies = await asyncio.gather(
        *(
            client.post("/chat", **users.chat(f"user{i % 4}", uuid.uuid4().hex, q))
            for i, q in enumerate(questions)
        )
    )
    assert [r.status_code for r in replies] == [200] * len(questions), replies[0].text
    return [r.json() for r in replies]


async def test_model_loads_at_startup_and_repeated_questions_never_embed(
    running: tuple[httpx.AsyncClient, AgentService, ThreadRecorder], users: Users
) -> None:
    client, _service, recorder = running
    # startup ran the model once, in its own thread: no request waits for a load
    assert len(recorder.calls) == 1 and recorder.calls[0][0].startswith("embed")
    first = await _ask(client, users, ["What is a semantic cache?"])
    assert first[0]["cached"] is False
    calls_after_miss = len(recorder.calls)
    # concurrent repeats in fresh sessions: exact tier, no model (other blanks are
    # another exact key: the model would read them)
    replies = await _ask(client, users, ["What is a semantic cache?"] * CLIENTS)
    assert all(r["cached"] for r in replies)
    assert len(recorder.calls) == calls_after_miss


class RoundTrips:
    """Counts the writes to Redis sockets of this process's asyncio clients: one per
    command, one per pipeline, one per leased call (a round trip each)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        send = AbstractConnection.send_packed_command

        async def counting(conn: AbstractConnection, *args: Any, **kwargs: Any) -> None:
            self.count += 1
            await send(conn, *args, **kwargs)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
        # the caches' leased connections write the packed command on the stream itself
        lease_call = AsyncLease.call

        async def counting_lease(lease: AsyncLease, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await lease_call(lease, *args, **kwargs)

        monkeypatch.setattr(AsyncLease, "call", counting_lease)


async def test_a_turn_stores_its_writes_in_one_round_trip(
    running: tuple[httpx.AsyncClient, AgentService, ThreadRecorder],
    users: Users,
    aconfig: RedisAgentConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, service, _recorder = running
    question = "What is a vector index?"
    await _ask(client, users, [question])  # cached now; the key of user0 issued
    before = await service.limiter.apeek(user="user0")
    trips = RoundTrips(monkeypatch)
    session = uuid.uuid4().hex
    reply = await client.post("/chat", **users.chat("user0", session, question))
    assert reply.status_code == 200 and reply.json()["cached"] is True
    # key, history, limits, exact tier, then settle + history + listing + event as one
    # (they were four round trips of their own: 8 in all)
    assert trips.count == 5
    # every write of the turn landed
    budget = service.token_budget.name
    after = await service.limiter.apeek(user="user0")
    assert after.remaining[budget] == before.remaining[budget]  # a hit spends 0 tokens
    listed = await client.get("/sessions", headers=users.headers("user0"))
    assert session in listed.json()["sessions"]
    stored = await client.get(f"/sessions/{session}", headers=users.headers("user0"))
    assert stored.json()["length"] == 2
    event = await aconfig.get_async_client().xrevrange(
        service.bus.stream(service.settings.events_topic), count=1
    )
    assert session.encode() in next(iter(event[0][1].values()))


async def test_new_questions_are_embedded_off_the_loop_in_shared_calls(
    running: tuple[httpx.AsyncClient, AgentService, ThreadRecorder], users: Users
) -> None:
    client, service, recorder = running
    loop_thread = threading.current_thread().name
    warm = len(recorder.calls)
    questions = [f"Which river flows through city number {i}?" for i in range(CLIENTS)]
    replies = await _ask(client, users, questions)
    assert not any(r["cached"] for r in replies)
    calls = recorder.calls[warm:]
    assert sum(size for _, size in calls) == CLIENTS  # each question embedded once
    assert all(thread.startswith("embed") and thread != loop_thread for thread, _ in calls)
    # requests that wait together share a model call
    assert len(calls) < CLIENTS
    stats = service._embedder.stats()
    assert stats["largest_batch"] > 1


async def test_stats_show_every_process_with_its_loop_lag(
    running: tuple[httpx.AsyncClient, AgentService, ThreadRecorder], users: Users
) -> None:
    client, _service, _recorder = running
    await _ask(client, users, ["What is a stream?"] * 3)
    await asyncio.sleep(0.1)  # a few lag samples
    stats = (await client.get("/stats")).json()
    mine = stats["process"]
    assert mine["requests"] == 3
    assert mine["loop_lag_ms"]["samples"] >= 1
    assert mine["loop_lag_ms"]["p99"] >= 0
    # this process's snapshot went through Redis, under its label
    listed = {p["process"]: p for p in stats["processes"]}
    assert listed[mine["process"]]["requests"] == 3


async def test_metrics_scrape_in_prometheus_text_format(
    running: tuple[httpx.AsyncClient, AgentService, ThreadRecorder], users: Users
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    client, _service, _recorder = running
    for _ in range(3):  # one after another: the first misses, the others hit
        await _ask(client, users, ["What is a stream?"])
    # the loop-lag gauge exists once the monitor has sampled (every 20 ms): three fast
    # cache hits can all finish before its first wake-up
    await asyncio.sleep(0.1)
    reply = await client.get("/metrics")  # open, like /stats: no API key
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }
    process = (await client.get("/stats")).json()["process"]["process"]
    assert samples[("rap_service_requests_total", (("process", process),))] == 3
    assert samples[("rap_service_cache_hits_total", (("process", process),))] == 2
    assert samples[("rap_cache_hits_total", ())] >= 2
    assert ("rap_service_loop_lag_ms", (("process", process), ("stat", "p99"))) in samples


class RendezvousModel(BaseChatModel):
    """Answers only once ``expected`` calls are waiting at the same time: if a call held
    an admission slot, fewer could ever meet, and the calls would fail."""

    expected: int
    waiting: int = 0
    most: int = 0
    met: Any = None

    @property
    def _llm_type(self) -> str:
        return "rendezvous"

    def _generate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        raise AssertionError("the service calls the model asynchronously")

    async def _agenerate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        if self.met is None:
            self.met = asyncio.Event()
        self.waiting += 1
        self.most = max(self.most, self.waiting)
        if self.waiting >= self.expected:
            self.met.set()
        await asyncio.wait_for(self.met.wait(), 30)
        self.waiting -= 1
        return ChatResult(generations=[ChatGeneration(message=AIMessage("An answer."))])


async def test_cpu_stages_are_bounded_and_model_calls_hold_no_slot(
    config: RedisAgentConfig,
    aconfig: RedisAgentConfig,
    minilm: SentenceTransformerEmbedder,
    users: Users,
) -> None:
    llm = RendezvousModel(expected=CLIENTS)
    settings = ServiceSettings(use_queue=False, requests_per_minute=10_000, max_in_flight=2)
    service = AgentService(
        llm, config=config, settings=settings, embeddings=MiniLMEmbeddings(minilm), model_name="rv"
    )
    app = create_app(service)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            questions = [f"Which bird nests on cliff number {i}?" for i in range(CLIENTS)]
            replies = await _ask(c, users, questions)  # every one answered (200)
    assert not any(r["cached"] for r in replies)
    assert llm.most == CLIENTS  # every request was waiting for the model at once
    admission = service.admission.stats()
    assert admission["peak"] == 2 and admission["waited"] > 0  # the rest waited in line
    assert admission["active"] == 0 and admission["waiting"] == 0
