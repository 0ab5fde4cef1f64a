"""Documents whose TTL has passed while Redis has not removed their keys yet (it expires
keys lazily, on access or when its sampling finds them; the index drops a document only
then): RediSearch still ranks them and returns them without fields. A search served such
a document as a hit of empty text, no metadata and no score (on RESP2 a second hit too,
of id ``None``); now it is left out (``search.replies.search_rows``, every role's
parser). Active expiry is switched off on the test's own server to hold that window open."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.server import EmbeddedRedis
from redis_agent_core.vectors import VectorIndex


@pytest.fixture
def lazy_expiry() -> Iterator[EmbeddedRedis]:
    """A server of the test's own that expires keys only when they are accessed."""
    with EmbeddedRedis(extra_args=("--enable-debug-command", "yes")) as server:
        admin = redis.Redis.from_url(server.url)
        admin.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
        admin.close()
        yield server


@pytest.mark.parametrize("protocol", [3, 2])
def test_a_document_past_its_ttl_is_no_hit(lazy_expiry: EmbeddedRedis, protocol: int) -> None:
    url = lazy_expiry.url + ("?protocol=2" if protocol == 2 else "")
    config = RedisAgentConfig(url=url, namespace="exp")
    index = VectorIndex("docs", dims=2, config=config, ttl=1)
    index.add(["short-lived", "kept"], vectors=np.array([[1, 0], [0.9, 0.1]], dtype=np.float32))
    admin = redis.Redis.from_url(lazy_expiry.url)
    for key in admin.scan_iter(match="exp:*", _type="hash"):
        if admin.hget(key, "text") == b"kept":
            admin.persist(key)
    admin.close()
    time.sleep(1.2)  # "short-lived" is past its TTL, its key not removed yet
    hits = index.search(np.array([1.0, 0.0], dtype=np.float32), k=2)
    assert [(h.text, h.score is not None) for h in hits] == [("kept", True)]
    config.close()
