"""Fixtures of the conversation-state tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redis_agent_core.server import EmbeddedRedis


@pytest.fixture
def own_server(tmp_path) -> Iterator[EmbeddedRedis]:  # type: ignore[no-untyped-def]
    """A private embedded server with AOF persistence, so a test may stop and restart it."""
    server = EmbeddedRedis(data_dir=tmp_path / "data")
    server.start()
    yield server
    server.stop()
