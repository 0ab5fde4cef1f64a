"""Does one maximum-size ingestion stall unrelated cached ``/chat`` calls? (issue 12)

``redis-agent serve --workers 1`` on the embedded Redis with :mod:`benchmarks.fake_openai`
as the model. A question is cached first; then one client asks it again in a loop,
alternating the exact words (an exact-tier hit: no embedding) and a paraphrase (a
semantic hit: the question is embedded, then searched), each call also doing auth,
history, limiter, session write and bus event, first with the service idle, then
while another client posts one ``/documents`` request at the service's limits and waits
for it to finish (inline: the request returns when indexed; queue: the job is polled
until done by the in-process Celery worker).

Two shapes at the service's limits: **one large** document (1 MiB, the per-document
limit; about 1,100 passages) and **many small** ones (1,000 of 1 kB, the per-request
count limit; one passage each). Passages are embedded ``ingest_batch`` (2) per model
call on a low-priority thread with a model instance of its own, and a batch waits while a
question is being embedded.

The service's model runs on ``BENCH_INGEST_THREADS`` torch threads (default 1): on a
busy 2-core host two OpenMP threads per call collapse (a one-question embedding measured
1.5 s p50 with 2 threads vs 0.18 s with 1 at load average 9), which would drown what
this benchmark measures.

Reported: cached ``/chat`` latency p50 / p95 / max while idle and during the ingestion,
the ratio of the two p50s (target ≤ 2x), and how long the ingestion took.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from redis_agent_core.apikeys import ApiKeys
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.server import EmbeddedRedis

from .bench_service import WORDS, _free_port, _stop, _wait_http, fake_model
from .common import machine_note, table

QUESTION = "What is a semantic cache?"
PARAPHRASE = "What's a semantic cache?"  # a semantic hit: embedded, then searched
IDLE_CALLS = 40


def _text(rng: random.Random, size: int) -> str:
    """Prose-like text of ``size`` bytes (words and sentences, ASCII)."""
    out: list[str] = []
    n = 0
    while n < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 16))).capitalize()
        out.append(sentence + ". ")
        n += len(sentence) + 2
    return "".join(out)[:size]


def shapes(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    return {
        "one large (1 x 1 MiB)": [{"id": "big", "text": _text(rng, 1024 * 1024 - 64)}],
        "many small (1000 x 1 kB)": [
            {"id": f"small-{i}", "text": _text(rng, 1000)} for i in range(1000)
        ],
    }


@contextmanager
def serve(redis_url: str, model_url: str, queue: bool) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ)
    env.update(OPENAI_BASE_URL=model_url, OPENAI_API_KEY="bench", OPENAI_MODEL="fake")
    threads = os.environ.get("BENCH_INGEST_THREADS", "1")
    env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    args = [sys.executable, "-m", "redis_agent_core.cli", "serve", "--workers", "1"]
    args += ["--port", str(port), "--redis-url", redis_url]
    args += ["--requests-per-minute", str(10**9), "--tokens-per-day", str(10**12)]
    args += ["--ingest-user", "bench"]  # the key's user posts the documents
    if not queue:
        args.append("--no-queue")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, cwd=os.getcwd())
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/health", proc, 180)
        yield base
    finally:
        _stop(proc)


async def _chat(http: httpx.AsyncClient, session: int, message: str = QUESTION) -> float:
    # a new session each call: a first question, context-free, so cacheable for anyone
    sid = f"s{session}-{'p' if message == PARAPHRASE else 'q'}"
    start = time.perf_counter()
    r = await http.post("/chat", json={"session_id": sid, "message": message})
    elapsed = time.perf_counter() - start
    r.raise_for_status()
    if not r.json()["cached"]:
        raise RuntimeError("the benchmark question was not served from the cache")
    return elapsed


async def _ingest(http: httpx.AsyncClient, docs: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    r = await http.post("/documents", json={"documents": docs}, timeout=600)
    r.raise_for_status()
    job = r.json().get("job_id")
    while job:
        state = (await http.get(f"/jobs/{job}")).json()
        if state.get("status") in ("succeeded", "partial", "failed"):
            if state["status"] != "succeeded":
                raise RuntimeError(f"ingestion job ended {state}")
            break
        await asyncio.sleep(0.1)
    return time.perf_counter() - start


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def _measure(base: str, key: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as http:
        await http.post("/chat", json={"session_id": "warm", "message": QUESTION})
        for i in range(5):
            await _chat(http, i, QUESTION)
            await _chat(http, i, PARAPHRASE)
        idle: dict[str, list[float]] = {QUESTION: [], PARAPHRASE: []}
        for i in range(IDLE_CALLS):
            for message in idle:
                idle[message].append(await _chat(http, 100 + i, message))
        ingestion = asyncio.create_task(_ingest(http, docs))
        busy: dict[str, list[float]] = {QUESTION: [], PARAPHRASE: []}
        i = 0
        while not ingestion.done():
            message = (QUESTION, PARAPHRASE)[i % 2]
            busy[message].append(await _chat(http, 1000 + i, message))
            i += 1
        took = await ingestion
    return {"idle": idle, "busy": busy, "took": took}


def main(full: bool = False) -> str:
    rng = random.Random(12)
    rows = []
    port = _free_port()
    with EmbeddedRedis(port=port), fake_model(0) as model_url:
        url = f"redis://127.0.0.1:{port}"
        for mode in ("inline", "queue"):
            for shape, docs in shapes(rng).items():
                namespace = f"bi{len(rows)}"
                os.environ["REDIS_AGENT_NAMESPACE"] = namespace
                key = ApiKeys(RedisAgentConfig(url=url, namespace=namespace)).create("bench")
                with serve(url, model_url, queue=mode == "queue") as base:
                    m = asyncio.run(_measure(base, key, docs))
                for message, hit in ((QUESTION, "exact"), (PARAPHRASE, "semantic")):
                    idle = m["idle"][message]
                    idle_p50 = statistics.median(idle) * 1000
                    busy = m["busy"][message] or [float("nan")]
                    rows.append(
                        [
                            mode,
                            shape,
                            hit,
                            round(idle_p50, 1),
                            round(_ms(idle, 0.95), 1),
                            round(statistics.median(busy) * 1000, 1),
                            round(_ms(busy, 0.95), 1),
                            round(max(busy) * 1000, 1),
                            len(m["busy"][message]),
                            f"{statistics.median(busy) * 1000 / idle_p50:.2f}x",
                            round(m["took"], 1),
                        ]
                    )
                    print(rows[-1], file=sys.stderr, flush=True)
    headers = [
        "mode",
        "ingestion",
        "cache hit",
        "idle p50 ms",
        "idle p95 ms",
        "during p50 ms",
        "during p95 ms",
        "during max ms",
        "calls during",
        "p50 ratio",
        "ingestion s",
    ]
    return "\n".join(
        [
            "# Service: cached /chat during a maximum-size ingestion",
            "",
            (__doc__ or "").strip(),
            "",
            table(headers, rows),
            "",
            machine_note(),
        ]
    )


if __name__ == "__main__":
    print(main())
