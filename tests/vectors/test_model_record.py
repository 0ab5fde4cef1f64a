"""Indexes record the embedding model of their vectors: vectors of two models have the
same shape, so an index opened with another model (an upgrade from the float32 MiniLM
default to the int8 one, a changed REDIS_AGENT_EMBEDDER) would search one model's
vectors with the other's, and answer with the wrong neighbours without a sign."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import SchemaMismatchError
from redis_agent_core.history.store import SessionStore
from redis_agent_core.search.capabilities import Capabilities
from redis_agent_core.vectors import VectorIndex
from tests.conftest import skip_unless

DIMS = 8


def _vector(text: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
    return v / np.linalg.norm(v)


def model(name: str) -> CallableEmbedder:
    """Same shape, another name: what two versions of one model look like to Redis."""
    return CallableEmbedder(lambda texts: [_vector(t) for t in texts], name=name, dims=DIMS)


SCOPE = make_scope({"model": "m"})


def test_a_cache_written_by_one_model_refuses_another(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "the semantic cache needs the Query Engine")
    SemanticCache(config, embedder=model("a")).update("hello there", SCOPE, "hi")
    other = SemanticCache(config, embedder=model("b"))
    with pytest.raises(SchemaMismatchError, match=r"'a'.*'b'"):
        other.lookup("hello there", SCOPE)
    with pytest.raises(SchemaMismatchError):
        other.update("another", SCOPE, "x")
    # the same model, in another process or instance, is served
    again = SemanticCache(config, embedder=model("a"))
    hit = again.lookup("hello there", SCOPE)
    assert hit is not None and hit.payload == "hi"


async def test_async_cache_refuses_another_model(
    aconfig: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "the semantic cache needs the Query Engine")
    await SemanticCache(aconfig, embedder=model("a")).aupdate("hello there", SCOPE, "hi")
    with pytest.raises(SchemaMismatchError, match=r"'a'.*'b'"):
        await SemanticCache(aconfig, embedder=model("b")).alookup("hello there", SCOPE)


def test_an_index_from_before_the_record_takes_the_first_model(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    # releases before the record wrote none: the first process to open the index
    # records its model, and a later process with another model is refused
    skip_unless(capabilities.search, "vector search needs the Query Engine")
    index = VectorIndex("old", config=config, embedder=model("a"))
    index.add(["one", "two"])
    client = config.get_client()
    assert client.hget(index.recall_key, "model") == b"a"
    client.hdel(index.recall_key, "model")  # as an older release left it
    opened = VectorIndex("old", config=config, embedder=model("b"))
    assert [h.text for h in opened.search("one", k=1)] == ["one"]
    assert client.hget(index.recall_key, "model") == b"b"
    with pytest.raises(SchemaMismatchError, match=r"'b'.*'a'"):
        VectorIndex("old", config=config, embedder=model("a")).search("one", k=1)


async def test_async_vector_index_refuses_another_model(
    aconfig: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "vector search needs the Query Engine")
    await VectorIndex("v", config=aconfig, embedder=model("a")).aadd(["one"])
    with pytest.raises(SchemaMismatchError, match=r"'a'.*'b'"):
        await VectorIndex("v", config=aconfig, embedder=model("b")).asearch("one", k=1)


def test_vectors_of_no_named_model_are_not_checked(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    # dims= and no embedder: the caller brings vectors; the pack cannot tell whose
    skip_unless(capabilities.search, "vector search needs the Query Engine")
    plain = VectorIndex("plain", config=config, dims=DIMS)
    plain.add(["one"], vectors=[_vector("one")])
    assert config.get_client().hget(plain.recall_key, "model") is None
    named = VectorIndex("plain", config=config, embedder=model("b"))
    assert [h.text for h in named.search("one", k=1)] == ["one"]


def test_history_recall_refuses_another_model(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    SessionStore(config, embedder=model("a")).append("s", [b'"x"'], texts=["lisbon"])
    with pytest.raises(SchemaMismatchError, match=r"'a'.*'b'"):
        SessionStore(config, embedder=model("b")).relevant("s", "lisbon")
