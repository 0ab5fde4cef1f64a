"""Helpers for task tests, registered by name (:func:`register_all`) in every worker
the tests run: task messages carry names, never import paths.

``HashIndex`` honours the ingestion contract (to_spec / from_spec / add, idempotent
by id) on plain Redis hashes, so the queue is tested apart from the vector index;
``test_ingest_vectorindex`` covers the real VectorIndex end to end.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import redis

from redis_agent_core.config import RedisAgentConfig


class HashIndex:
    """Documents as hashes ``<namespace>:testidx:<name>:<id>``; rejects texts with BAD."""

    def __init__(self, name: str, *, config: RedisAgentConfig) -> None:
        self.name = name
        self.config = config

    def key(self, doc_id: str) -> str:
        return f"{self.config.namespace}:testidx:{self.name}:{doc_id}"

    def to_spec(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_spec(
        cls, spec: dict[str, Any], *, config: RedisAgentConfig | None = None, embedder: Any = None
    ) -> HashIndex:
        assert config is not None
        return cls(spec["name"], config=config)

    def add(
        self,
        texts: Sequence[str],
        *,
        ids: Sequence[str],
        metadatas: Sequence[dict[str, Any]] | None = None,
        vectors: Any = None,
    ) -> list[str]:
        for text in texts:
            if "BAD" in text:
                raise ValueError(f"refusing document text {text!r}")
        pipe = self.config.get_client().pipeline()
        for i, (doc_id, text) in enumerate(zip(ids, texts, strict=True)):
            pipe.hset(
                self.key(doc_id),
                mapping={"text": text, "n": (metadatas or [{}] * len(ids))[i].get("n", "")},
            )
            pipe.hincrby(f"{self.config.namespace}:testidx:{self.name}:writes", doc_id, 1)
        pipe.execute()
        return list(ids)


# -- batch models --
CALLS: Counter[str] = Counter()
CALL_TIMES: list[float] = []
_lock = threading.Lock()


def echo_model(prefix: str = "") -> Any:
    """A model answering ``prefix + prompt.upper()`` with token usage."""

    def call(prompt: str) -> Any:
        with _lock:
            CALLS[prompt] += 1
            CALL_TIMES.append(time.monotonic())
        if prompt == "boom":
            raise ValueError("the model failed on this prompt")
        if prompt.startswith("fault") and CALLS[prompt] == 1:  # a fault the task retries
            raise ConnectionError("connection lost once")
        return prefix + prompt.upper(), {
            "input_tokens": len(prompt),
            "output_tokens": 3,
            "total_tokens": len(prompt) + 3,
        }

    return call


def any_kwargs_model(**kwargs: Any) -> Any:
    """A factory taking any kwargs (as ChatOpenAI-style factories do); answers ``any:`` +
    ``prompt.upper()``."""
    return echo_model("any:")


def tight_limiter(config: RedisAgentConfig) -> Any:
    from redis_agent_core.ratelimit import RateLimiter, RequestLimit

    return RateLimiter([RequestLimit.per_second(2, per="global")], config=config, name="batch-test")


def blocking_model(url: str, namespace: str) -> Any:
    """Counts calls in Redis; the prompt 'block' waits until ``<ns>:release`` exists."""
    client = redis.Redis.from_url(url)

    def call(prompt: str) -> str:
        client.hincrby(f"{namespace}:calls", prompt, 1)
        if prompt == "block":
            client.set(f"{namespace}:started", 1)
            while not client.exists(f"{namespace}:release"):
                time.sleep(0.02)
        return f"answer to {prompt}"

    return call


# -- embedders the worker builds by name --
def fake_lc_embedder() -> Any:
    """The core embedder of LangChain's DeterministicFakeEmbedding (8-d), as the
    LangChain store names it."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from langchain_redis_agent.embeddings import to_core_embedder

    return to_core_embedder(DeterministicFakeEmbedding(size=8))


def fake_minilm_embedder() -> Any:
    """Deterministic 384-d vectors under the default model's name (no model load)."""
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from redis_agent_core.embeddings import CallableEmbedder, default_embedder_name

    fake = DeterministicFakeEmbedding(size=384)
    return CallableEmbedder(fake.embed_documents, name=default_embedder_name(), dims=384)


def register_all() -> None:
    """Register the helpers under the names the tests' messages use (idempotent)."""
    from redis_agent_core.tasks import (
        register_embedder,
        register_index,
        register_limiter,
        register_model,
    )

    register_index("hash_index", HashIndex)
    register_model("echo", echo_model)
    register_model("blocking", blocking_model)
    register_model("any_kwargs", any_kwargs_model)
    register_limiter("tight", tight_limiter)
    register_model("odd_usage", odd_usage_model)
    register_limiter("budget", budget_limiter)
    register_limiter("slow", slow_limiter)
    register_limiter("halfsec", halfsec_limiter)
    register_embedder("fake_lc", fake_lc_embedder)
    register_embedder("fake_minilm", fake_minilm_embedder)


# review 18: what batch models report as usage (see test_batch.py)
ODD_USAGE: dict[str, Any] = {
    "none": None,  # a bare str answer
    "negative": {"total_tokens": -5},
    "set": {"total_tokens": 3, "ids": {1, 2}},
    "huge_int": {"total_tokens": 3, "id": 10**30},
    "nan": {"total_tokens": float("nan")},
}


def odd_usage_model(kind: str) -> Any:
    """Answers ``prompt.upper()`` with the usage ``ODD_USAGE[kind]``."""

    def call(prompt: str) -> Any:
        usage = ODD_USAGE[kind]
        return prompt.upper() if usage is None else (prompt.upper(), usage)

    return call


def budget_limiter(config: RedisAgentConfig) -> Any:
    from redis_agent_core.ratelimit import RateLimiter, TokenBudget

    return RateLimiter([TokenBudget(1_000_000, per="global")], config=config, name="batch-budget")


def slow_limiter(config: RedisAgentConfig) -> Any:
    """One call per 8 s for everyone: a refusal tells to retry seconds later."""
    from redis_agent_core.ratelimit import RateLimiter, RequestLimit

    return RateLimiter([RequestLimit(1, 8.0, per="global")], config=config, name="batch-slow")


def halfsec_limiter(config: RedisAgentConfig) -> Any:
    """One call per 0.5 s for everyone: each prompt of a chunk after the first is refused."""
    from redis_agent_core.ratelimit import RateLimiter, RequestLimit

    return RateLimiter([RequestLimit(1, 0.5, per="global")], config=config, name="batch-half")
