"""The semantic cache's hand-built lookup (one FT.SEARCH built and parsed by the search
layer) against redisvl's own ``VectorQuery`` on the same index: same entries, same
order, same distances, on many queries, scopes and partitions, in RESP2 and RESP3."""

from __future__ import annotations

import numpy as np
import pytest
import redis
from redisvl.index import SearchIndex
from redisvl.query import VectorQuery
from redisvl.query.filter import Tag

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.search.replies import search_rows
from redis_agent_core.tags import tag_value
from tests.conftest import skip_unless

DIMS = 12
SCOPES = [make_scope({"model": m}) for m in ("a", "b", "c")]
TENANTS = ["acme", "Acme", "a b", "ünï,code"]


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIMS)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("algorithm", ["flat", "hnsw"])
def test_lookup_matches_redisvl(config: RedisAgentConfig, algorithm: str) -> None:
    rng = np.random.default_rng(7)
    embedder = CallableEmbedder(lambda texts: _unit(rng, len(texts)), name="rand", dims=DIMS)
    cache = SemanticCache(
        config,
        embedder=embedder,
        verifier=None,
        distance_threshold=2.0,
        candidates=5,
        filter_fields=("tenant",),
        algorithm=algorithm,  # type: ignore[arg-type]
        dtype="float32",  # the query blobs below are float32, as redisvl's
        ef_runtime=500,  # exact on this small index, so both sides agree on the order
    )
    stored = _unit(rng, 240)
    for i, vector in enumerate(stored):
        scope, tenant = SCOPES[i % 3], TENANTS[i % 4]
        cache.update(f"p{i}", scope, f"a{i}", filters={"tenant": tenant}, vector=vector)
    reference = SearchIndex(cache.index_schema(), redis_client=config.get_client())
    clients = {
        protocol: redis.Redis.from_url(config.resolve_url(), protocol=protocol)
        for protocol in (2, 3)
    }
    queries = np.vstack([stored[:20] + 0.05 * _unit(rng, 20), _unit(rng, 40)])
    for n, query in enumerate(queries):
        scope, tenant = SCOPES[n % 3], TENANTS[(n // 3) % 4]
        expected = reference.query(
            VectorQuery(
                vector=query.tolist(),
                vector_field_name="vec",
                return_fields=["prompt"],
                filter_expression=(Tag("scope") == scope) & (Tag("tenant") == tag_value(tenant)),
                num_results=5,
                ef_runtime=500 if algorithm == "hnsw" else None,
            )
        )
        want = [(row["id"], float(row["vector_distance"])) for row in expected]
        assert want  # every scope and tenant holds entries
        blob = query.astype(np.float32).tobytes()
        args = cache._search_args(scope, (("tenant", tenant),), blob)
        for protocol, client in clients.items():
            _, rows = search_rows(client.execute_command(*args))
            got = [(key, float(fields["_d"])) for key, _, fields in rows]
            assert [k for k, _ in got] == [k for k, _ in want], (protocol, n)
            assert np.allclose([d for _, d in got], [d for _, d in want], atol=1e-5)
        hit = cache.lookup("q", scope, filters={"tenant": tenant}, vector=query)
        assert hit is not None and hit.key == want[0][0]
        assert hit.distance == pytest.approx(max(0.0, want[0][1]), abs=1e-5)
    for client in clients.values():
        client.close()
