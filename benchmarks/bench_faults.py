"""What each component does under a Redis fault, and how long one call blocks with the
default settings (``RedisAgentConfig()``: socket timeout 5 s, connect timeout 2 s,
2 retries with backoff).

Faults, each on a fresh private server on a loopback port (tests/faults.py): killed
(nothing listens), paused (SIGSTOP: connections open, nothing answers), out of memory
(``maxmemory`` below use, ``noeviction``), a read-only replica, and restarted empty on
the same address. Every component is built and used once before the fault, so pooled
connections exist, as in a running app. The docs' fault tables are taken from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from redis_agent_core.bus import AgentBus
from redis_agent_core.cache import ExactCache, SemanticCache, make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.history import SessionStore
from redis_agent_core.ratelimit import RateLimiter, RequestLimit
from redis_agent_core.vectors import VectorIndex
from tests.faults import FaultyRedis

from .common import table

SCOPE = make_scope({"model": "bench"})
FAULTS = ("killed", "paused", "oom", "read-only", "restarted empty")


def _toy() -> CallableEmbedder:
    def embed(texts: list[str]) -> list[np.ndarray]:
        out = []
        for t in texts:
            v = np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(16)
            out.append((v / np.linalg.norm(v)).astype(np.float32))
        return out

    return CallableEmbedder(embed, name="toy", dims=16)


def _components(config: RedisAgentConfig) -> list[tuple[str, str, Callable[[], object]]]:
    exact = ExactCache(config)
    semantic = SemanticCache(config, embedder=_toy(), verifier=None)
    history = SessionStore(config, ttl=3600)
    bus = AgentBus(config)
    consumer = bus.consumer("jobs", "workers")
    closed = RateLimiter([RequestLimit(1000)], config=config, name="closed")
    opened = RateLimiter(
        [RequestLimit(1000)], config=config, name="open", on_unavailable="fail_open"
    )
    vectors = VectorIndex("docs", config=config, dims=2)
    vec = np.array([[1.0, 0.0]])
    return [
        ("vectors", "add", lambda: vectors.add(["a"], ids=["a"], vectors=vec)),
        ("vectors", "search", lambda: len(vectors.search(vec[0], k=5))),
        ("cache", "exact lookup", lambda: exact.lookup("q", SCOPE)),
        ("cache", "exact update", lambda: exact.update("q", SCOPE, '"a"')),
        ("cache", "semantic lookup", lambda: semantic.lookup("q", SCOPE)),
        ("cache", "semantic update", lambda: semantic.update("q", SCOPE, '"a"')),
        ("cache", "semantic lookup again", lambda: semantic.lookup("q", SCOPE)),
        ("history", "append", lambda: history.append("s", [b'{"m":1}'])),
        ("history", "read", lambda: len(history.read("s"))),
        ("bus", "publish (durable)", lambda: bus.publish("jobs", {"n": 1}, durable=True).stream_id),
        ("bus", "consumer read", lambda: len(consumer.read(count=10))),
        ("ratelimit", "try_acquire (fail_closed)", lambda: closed.try_acquire(user="u").allowed),
        (
            "ratelimit",
            "try_acquire (fail_open)",
            lambda: "degraded" if opened.try_acquire(user="u").degraded else "metered",
        ),
    ]


def _outcome(fn: Callable[[], object]) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        result = fn()
        if result is None:
            text = "None (miss)"
        elif hasattr(result, "payload"):  # a CacheHit
            text = f"hit (hits={result.hits})"
        else:
            text = repr(result)
    except Exception as exc:
        text = type(exc).__name__
        cause = getattr(exc, "cause", "")
        if cause:
            text += f" ({cause})"
    return text, time.perf_counter() - start


def _run_fault(fault: str) -> dict[tuple[str, str], tuple[str, float]]:
    server = FaultyRedis().start()
    config = RedisAgentConfig(url=server.url, namespace="faults")
    try:
        ops = _components(config)
        for _, _, op in ops:  # warm: pooled connections, index, group, scripts
            op()
        inject = {
            "killed": server.kill,
            "paused": server.pause,
            "oom": server.fill_memory,
            "read-only": server.make_read_only,
            "restarted empty": server.restart,
        }[fault]
        inject()
        return {(role, name): _outcome(op) for role, name, op in ops}
    finally:
        server.stop()
        config.close()


def main(full: bool = False) -> str:
    results = {fault: _run_fault(fault) for fault in FAULTS}
    keys = list(results[FAULTS[0]])
    rows = []
    for role, name in keys:
        row = [role, name]
        for fault in FAULTS:
            outcome, seconds = results[fault][(role, name)]
            row.append(f"{outcome}, {seconds:.2f} s")
        rows.append(row)
    lines = [
        "# Faults: what one call does, and how long it blocks (default settings)",
        "",
        "Each cell: the call's result or exception, and its wall time. Calls run in",
        "the order shown on one set of components built before the fault.",
        "",
        table(["role", "call", *FAULTS], rows),
    ]
    return "\n".join(lines) + "\n"
