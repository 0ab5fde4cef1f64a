"""Documents whose TTL has passed while Redis has not removed their keys yet (it expires
keys lazily, on access or when its sampling finds them; the index drops a document only
then): RediSearch still ranks them and returns them without fields. A search served such
a document as a hit of empty text, no metadata and no score (on RESP2 a second hit too,
of id ``None``); now it is left out (``search.replies.search_rows``, every role's
parser). Active expiry is switched off on the test's own server to hold that window open."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np
import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.server import EmbeddedRedis
from redis_agent_core.vectors import F, VectorIndex
from redis_agent_core.vectors import query as q


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


def _expire(server: EmbeddedRedis, index: VectorIndex, keep: set[str]) -> None:
    """Every document of ``index`` but the ``keep`` ids past its TTL (1 s), its key left
    in place (no active expiry on this server)."""
    admin = redis.Redis.from_url(server.url)
    for doc in keep:
        admin.persist(index.prefix + doc)
    admin.close()
    time.sleep(1.2)


@pytest.mark.parametrize("protocol", [3, 2])
def test_keys_only_searches_leave_out_a_document_past_its_ttl(
    lazy_expiry: EmbeddedRedis, protocol: int
) -> None:
    """The keys-only searches (NOCONTENT: nothing loaded, so nothing told the expired
    apart) listed it: the recall measurement's neighbours and its exact truth, and a
    filtered listing. They now RETURN the key, which the server answers only for a
    document still there: one trip, as before."""
    url = lazy_expiry.url + ("?protocol=2" if protocol == 2 else "")
    config = RedisAgentConfig(url=url, namespace="exp")
    index = VectorIndex("docs", dims=2, config=config, ttl=1, metadata_fields={"t": "tag"})
    index.add(["short-lived", "kept"], ids=["short", "kept"], metadatas=[{"t": "a"}] * 2,
              vectors=np.array([[1, 0], [0.9, 0.1]], dtype=np.float32))  # fmt: skip
    _expire(lazy_expiry, index, {"kept"})
    vec, client = np.array([1, 0], dtype=np.float32).tobytes(), config.get_client()
    for command in (
        q.knn_command(index.index_name, index.schema, vec, 2, "*", ids_only=True),
        q.exact_knn_command(index.index_name, index.schema, vec, 2),
        q.filter_command(index.index_name, index.schema, "@t:{a}", ids_only=True),
    ):
        keys = q.parse_ids(client.execute_command(*command), index.prefix)[1]
        assert [q.doc_id(index.prefix, k) for k in keys] == ["kept"], command[2]
    config.close()


def test_delete_by_filter_goes_past_a_page_of_expired_documents(
    lazy_expiry: EmbeddedRedis,
) -> None:
    """A page (1,000) of documents past their TTL alone deleted nothing (UNLINK counts
    only live keys), which read as an index lagging behind the keyspace: the deletion
    stopped there and returned 0, the live documents after them left in place."""
    config = RedisAgentConfig(url=lazy_expiry.url, namespace="exp")
    index = VectorIndex("bulk", dims=2, config=config, ttl=1, metadata_fields={"t": "tag"})
    n = 1000  # one page; the live document is indexed after them: on the next one
    index.add(["text"] * n, ids=[str(i) for i in range(n)], metadatas=[{"t": "a"}] * n,
              vectors=np.ones((n, 2), dtype=np.float32))  # fmt: skip
    index.add(["text"], ids=["live"], metadatas=[{"t": "a"}], vectors=np.ones((1, 2)))
    _expire(lazy_expiry, index, {"live"})
    assert index.delete_by_filter(F("t") == "a") == 1
    admin = redis.Redis.from_url(lazy_expiry.url)
    assert admin.keys(index.prefix + "*") == []
    admin.close()
    config.close()


def test_a_nearest_document_past_its_ttl_does_not_stop_a_hybrid_query_short(
    lazy_expiry: EmbeddedRedis,
) -> None:
    """left27: one of the k nearest past its TTL (its key not removed yet) came back
    without fields and was left out, so fewer than k nearest were read as "every
    document passing the filter is near" and the window of the best word matches never
    widened: the best document by the hybrid score, past the first 100 by its words,
    was not returned (the test_hybrid_exact setup, alpha 0.05: it scores 0.076)."""
    config = RedisAgentConfig(url=lazy_expiry.url, namespace="exph")
    index = VectorIndex("hyb", dims=2, algorithm="flat", config=config, ttl=1)
    n = 120
    texts = ["redis"] * n + ["nothing", "nothing", "redis filler", "gone"]
    vectors = [[-1.0, 0.0]] * n + [[0.99, 0.14], [0.99, 0.14], [0.8, 0.6], [1.0, 0.0]]
    ids = [f"d{i}" for i in range(n + 4)]
    index.add(texts, ids=ids, vectors=vectors)
    _expire(lazy_expiry, index, keep=set(ids[:-1]))  # "gone", the nearest, is past its TTL
    query = {"k": 2, "vector": [1.0, 0.0], "alpha": 0.05}
    for hits in (index.hybrid("redis", **query), asyncio.run(index.ahybrid("redis", **query))):
        assert [h.id for h in hits][:1] == ["d122"], [(h.id, h.score) for h in hits]
        assert hits[1].id in {"d120", "d121"}
    config.close()
