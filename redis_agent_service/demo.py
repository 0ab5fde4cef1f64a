"""``redis-agent demo``: the whole pack on one machine, offline, in about a minute.

Starts the embedded Redis and the local SmolLM2 server (or uses ``REDIS_URL`` /
``OPENAI_BASE_URL`` when set), ingests the documents shipped in ``data/`` through the
task queue, issues an API key to each scripted user, drives the reference service
in-process over HTTP (httpx's ASGI transport: the same requests a client would send,
``Authorization: Bearer`` included) for those users, and prints a report. Exits 1 if
any role did not do its job, so it doubles as a smoke test of a fresh install.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx
import redis

from redis_agent_core.capabilities import require_search
from redis_agent_core.config import RedisAgentConfig, describe_url
from redis_agent_core.errors import RedisAgentError
from redis_agent_core.search import drop_namespace_indexes
from redis_agent_core.server import EmbeddedRedis

from .app import AgentService, ServiceSettings, create_app
from .llm import chat_model_from_env

__all__ = ["DATA_DIR", "SCRIPT", "load_documents", "run_demo"]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_LIMIT_PER_MINUTE = 5  # low, so the script's last user visibly hits it

# (user, session, message): first questions repeat across users (cache hits, exact
# and paraphrased); follow-ups use the session's history; "mallory" floods.
SCRIPT: list[tuple[str, str, str]] = [
    ("alice", "alice-1", "What is a semantic cache?"),
    ("bob", "bob-1", "What is a semantic cache?"),
    ("carol", "carol-1", "What's a semantic cache?"),
    ("alice", "alice-1", "How does it save tokens?"),
    ("bob", "bob-1", "How do rate limits work?"),
    ("dave", "dave-1", "How are background tasks run?"),
    ("erin", "erin-1", "How are background tasks run?"),
    ("dave", "dave-1", "Where is chat history stored?"),
    ("erin", "erin-1", "What is a semantic cache?"),
    *[("mallory", f"mallory-{i}", "What is a semantic cache?") for i in range(6)],
]


def load_documents() -> list[dict[str, Any]]:
    """The shipped documents as ``POST /documents`` items (id = file name)."""
    return [
        {"id": p.name, "text": p.read_text(), "metadata": {"source": p.name}}
        for p in sorted(DATA_DIR.glob("*.md"))
    ]


class Progress:
    """A one-line progress bar (a line per step when the output is not a terminal)."""

    def __init__(self, total: int, out: TextIO, enabled: bool = True, width: int = 24) -> None:
        self.total, self.out, self.enabled, self.width = total, out, enabled, width
        self.done = 0
        self.tty = out.isatty()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = self.width * self.done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        line = f"[{bar}] {self.done:>2}/{self.total} {label}"
        if self.tty:
            self.out.write("\r\033[K" + line[:120])
            if self.done == self.total:
                self.out.write("\n")
        else:
            self.out.write(line + "\n")
        self.out.flush()


@dataclass
class DemoResult:
    """What the scripted run observed; :meth:`checks` turns it into pass/fail per role."""

    replies: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    limited: list[tuple[str, int, str | None]] = field(default_factory=list)
    job: dict[str, Any] | None = None
    ingest: dict[str, Any] = field(default_factory=dict)
    session: dict[str, Any] = field(default_factory=dict)
    bus_events: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    # agent state: messages a new saver reads back from a LangGraph thread (None: no extra)
    agent_thread: int | None = None

    def hits(self) -> list[dict[str, Any]]:
        return [r for *_, r in self.replies if r["cached"]]

    def misses(self) -> list[dict[str, Any]]:
        return [r for *_, r in self.replies if not r["cached"]]

    def checks(self) -> dict[str, tuple[bool, str]]:
        hits, misses = self.hits(), self.misses()
        hit_ms = statistics.median(r["latency_ms"] for r in hits) if hits else None
        miss_ms = statistics.median(r["latency_ms"] for r in misses) if misses else None
        sources = {s["source"] for r in misses for s in r["sources"]}
        job_ok = (
            self.job is not None
            and self.job.get("status") == "succeeded"
            and self.job.get("done") == self.job.get("total")
        )
        return {
            "cache": (
                bool(hits)
                and all(r["usage"]["total_tokens"] == 0 for r in hits)
                and hit_ms is not None
                and miss_ms is not None
                and hit_ms < miss_ms,
                "repeated and paraphrased questions served from Redis, no tokens, faster",
            ),
            "history": (
                self.session.get("length") == 4,
                "a two-turn session holds 4 messages",
            ),
            "vectors": (bool(sources), "answers cite retrieved passages"),
            "limits": (
                any(status == 429 and retry for _, status, retry in self.limited),
                "the flooding user gets 429 with Retry-After",
            ),
            "queue": (job_ok, "documents ingested by a Celery worker, job done"),
            "bus": (
                self.bus_events == len(self.replies),
                "one durable event per answered chat",
            ),
            "state": (
                self.agent_thread is None or self.agent_thread == 4,
                "a LangGraph agent's two turns read back by a new checkpointer"
                if self.agent_thread is not None
                else "skipped: install the langgraph extra for the agent-state role",
            ),
        }


async def _script(
    client: httpx.AsyncClient, service: AgentService, progress: Progress
) -> DemoResult:
    result = DemoResult()
    # each user authenticates with a key of their own, as a real client would
    users = sorted({user for user, _, _ in SCRIPT} | {"admin"})
    keys = {u: await service.keys.acreate(u) for u in users}
    auth = {u: {"Authorization": f"Bearer {k}"} for u, k in keys.items()}
    docs = load_documents()
    r = await client.post("/documents", json={"documents": docs}, headers=auth["admin"])
    r.raise_for_status()
    result.ingest = r.json()
    if result.ingest.get("job_id"):
        job_id = result.ingest["job_id"]
        deadline = time.monotonic() + 180  # shared CPU: be generous
        while time.monotonic() < deadline:
            state = (await client.get(f"/jobs/{job_id}", headers=auth["admin"])).json()
            if state.get("status") in ("succeeded", "partial", "failed"):
                break
            await asyncio.sleep(0.2)
        result.job = state
    progress.step(f"ingested {len(docs)} documents")

    for user, session, message in SCRIPT:
        r = await client.post(
            "/chat", json={"session_id": session, "message": message}, headers=auth[user]
        )
        if r.status_code == 429:
            result.limited.append((user, 429, r.headers.get("retry-after")))
            progress.step(f"{user}: 429 rate limited")
            continue
        r.raise_for_status()
        body = r.json()
        result.replies.append((user, session, message, body))
        kind = "cache hit" if body["cached"] else "LLM"
        progress.step(f"{user}: {kind} {body['latency_ms']:.0f} ms")

    result.agent_thread = await asyncio.to_thread(_agent_state, service)
    if result.agent_thread is not None:
        progress.step(f"agent thread: {result.agent_thread} messages in a new saver")
    result.session = (await client.get("/sessions/alice-1", headers=auth["alice"])).json()
    result.stats = (await client.get("/stats")).json()
    result.bus_events = await asyncio.to_thread(
        service.bus.topic_length, service.settings.events_topic
    )
    progress.step("collected stats")
    return result


def _agent_state(service: AgentService) -> int | None:
    """Agent state: two turns of a LangGraph agent (the service's model) with a Redis
    checkpointer, then the thread read back by a new saver, as another process would.
    ``None`` when the langgraph extra is not installed."""
    try:
        from langchain.agents import create_agent
        from langchain_core.runnables import RunnableConfig

        from langchain_redis_agent.checkpoint import RedisSaver
    except ImportError:
        return None
    from langchain_core.language_models import BaseChatModel

    llm = service.llm
    assert isinstance(llm, BaseChatModel)  # run_demo builds its service on ChatOpenAI
    agent = create_agent(llm, tools=[], checkpointer=RedisSaver(service.config))
    thread: RunnableConfig = {"configurable": {"thread_id": "demo-agent"}}
    for message in ("Hi, I'm Ada.", "What is my name?"):
        agent.invoke({"messages": [("user", message)]}, thread)
    state = create_agent(llm, tools=[], checkpointer=RedisSaver(service.config))
    return len(state.get_state(thread).values["messages"])


def _fmt_ms(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ms" if values else "n/a"


def _report(result: DemoResult, header: str, elapsed: float, out: TextIO) -> bool:
    w = out.write
    hits, misses = result.hits(), result.misses()
    hit_ms = [r["latency_ms"] for r in hits]
    miss_ms = [r["latency_ms"] for r in misses]
    w(f"\n{header}\nscripted run: {elapsed:.1f} s\n\n")
    w("Conversation (first answers):\n")
    shown: set[str] = set()
    for user, _, message, body in result.replies:
        tag = "cache" if body["cached"] else "LLM  "
        if message in shown and body["cached"]:
            continue
        shown.add(message)
        answer = body["answer"].replace("\n", " ")
        w(f"  [{tag}] {user:<6} {message}\n           -> {answer[:110]}\n")
    speedup = (
        f" ({statistics.median(miss_ms) / statistics.median(hit_ms):.0f}x faster)"
        if hit_ms and miss_ms and statistics.median(hit_ms) > 0
        else ""
    )
    saved = sum(r["usage"]["saved_tokens"] for r in hits)
    spent = sum(r["usage"]["total_tokens"] for r in misses)
    w("\n")
    w(f"Semantic cache  {len(hits)} hits / {len(misses)} misses; p50 hit {_fmt_ms(hit_ms)} ")
    w(f"vs miss {_fmt_ms(miss_ms)}{speedup}\n")
    w(f"                LLM calls saved {len(hits)}, tokens saved {saved} (spent {spent})\n")
    if result.limited:
        user, _, retry = result.limited[0]
        admitted = sum(1 for u, *_ in result.replies if u == user)
        w(f"Rate limits     {user}: {admitted} admitted, then {len(result.limited)} x 429 ")
        w(f"(Retry-After {retry} s; limit {DEMO_LIMIT_PER_MINUTE} requests/min per user)\n")
    else:
        w("Rate limits     nobody was limited\n")
    w(f"Chat history    session alice-1: {result.session.get('length')} messages\n")
    sources: dict[str, float] = {}
    for r in misses:
        for s in r["sources"]:
            sources[s["source"]] = max(sources.get(s["source"], 0.0), s["relevance"])
    cited = ", ".join(f"{k} ({v:.2f})" for k, v in sorted(sources.items(), key=lambda kv: -kv[1]))
    w(f"Vector search   {result.ingest.get('count', 0)} documents; cited: {cited or 'none'}\n")
    if result.job is not None:
        job = result.job
        w(
            f"Task queue      job {str(job.get('job_id', ''))[:12]}: {job.get('status')} "
            f"{job.get('done')}/{job.get('total')}, {job.get('failed', 0)} failed\n"
        )
    else:
        w(f"Task queue      not used (ingested inline: {result.ingest.get('status')})\n")
    w(f"Agent bus       {result.bus_events} events on durable topic 'chat-events'\n\n")
    ok_all = True
    for role, (ok, what) in result.checks().items():
        ok_all &= ok
        w(f"  {'ok  ' if ok else 'FAIL'} {role:<8} {what}\n")
    w("\n" + ("every role worked\n" if ok_all else "some roles FAILED (see above)\n"))
    out.flush()
    return ok_all


async def _run_service(
    config: RedisAgentConfig, quiet: bool, out: TextIO, redis_label: str
) -> bool:
    # the operator ("admin") loads the shipped documents; the scripted users only chat
    settings = ServiceSettings(requests_per_minute=DEMO_LIMIT_PER_MINUTE, ingest_users=["admin"])
    progress = Progress(4 + len(SCRIPT), out, enabled=not quiet)
    with chat_model_from_env(max_tokens=settings.max_tokens) as (llm, endpoint):
        progress.step(f"model ready: {endpoint.model}")
        service = AgentService(llm, config=config, settings=settings, model_name=endpoint.model)
        # load the embedding model now, so its cold start is not billed to a request
        await asyncio.to_thread(service.embeddings.embed_query, "warm up")
        progress.step("embedding model loaded")
        worker = service.start_worker()
        try:
            app = create_app(service)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://demo", timeout=300
            ) as client:
                start = time.perf_counter()
                result = await _script(client, service, progress)
                elapsed = time.perf_counter() - start
        finally:
            if worker is not None:
                worker.stop()
        where = "local, offline" if endpoint.local else describe_url(endpoint.base_url)
        header = f"redis-agent demo: Redis {redis_label}; model {endpoint.model} ({where})"
        return _report(result, header, elapsed, out)


def run_demo(*, quiet: bool = False, out: TextIO | None = None) -> int:
    """Run the demo; 0 when every role worked, 1 when one did not (or the service
    answered an error: a 502 names the model endpoint), 2 on a setup error."""
    out = out or sys.stdout
    namespace = "demo-" + uuid.uuid4().hex[:8]
    server: EmbeddedRedis | None = None
    try:
        url = os.environ.get("REDIS_URL")
        if not url:
            server = EmbeddedRedis().start()
            url = server.url
            label = "embedded"
        else:
            label = describe_url(url)
        config = RedisAgentConfig(url=url, namespace=namespace, socket_timeout=30)
        try:
            # down or without search: one line (RedisAgentError below), not a traceback
            require_search(config, "the demo")
            ok = asyncio.run(_run_service(config, quiet, out, label))
        finally:
            if server is None:  # a user's Redis: remove what the demo wrote
                with contextlib.suppress(redis.exceptions.RedisError, RedisAgentError):
                    _cleanup(config)  # best effort: must not hide the error that ended the run
            config.close()
        return 0 if ok else 1
    except httpx.HTTPStatusError as exc:  # the service refused: say what it answered
        r = exc.response
        print(
            f"demo: {r.request.method} {r.request.url.path} answered HTTP {r.status_code}: "
            f"{r.text[:500]}",
            file=sys.stderr,
        )
        return 1
    except RedisAgentError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()


def _cleanup(config: RedisAgentConfig) -> None:
    drop_namespace_indexes(config)
    client = config.get_client()
    keys = list(client.scan_iter(match=f"{config.namespace}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])
