"""The guards' analysis of a stored prompt is written with the cache entry, so a lookup
in any process parses only the new prompt."""

from __future__ import annotations

import orjson
import pytest

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.cache.guards import Verifier, _features, default_verifier, features
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from tests.cache.conftest import toy_vector
from tests.conftest import skip_unless

SCOPE = make_scope({"model": "m"})
STORED = "How do I descale the espresso machine before Friday's 9am meeting?"


def test_stored_features_round_trip_and_bad_data_falls_back_to_parsing() -> None:
    blob = Verifier.features_of(STORED)
    parsed = features(STORED)
    features.cache_clear()
    assert Verifier.remember(STORED, blob) and features(STORED) == parsed
    features.cache_clear()
    for bad in (b"", None, b"not json", b"[99, [], []]", orjson.dumps([[2], [], []])):
        assert not Verifier.remember(STORED, bad)
    assert features(STORED) == parsed  # parsed again, same result
    features.cache_clear()
    # damaged past its format mark: found when first needed, and the text parsed instead
    assert Verifier.remember(STORED, blob[:-9] + b"}garbage")
    assert features(STORED) == parsed


def test_a_narrowed_lookup_never_loads_the_candidates_stored_features(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # long prompts sharing a context are compared on their differing spans: loading the
    # stored analysis of the whole candidate (≈ 10 µs at 100 words) would be wasted
    context = "Our shop sells seeds, compost, hand tools, hoses and garden furniture. " * 3
    stored, asked = context + "Can I return a hose?", context + "Can I return a rake?"
    blob = Verifier.features_of(stored)
    features.cache_clear()
    loads: list[object] = []
    real = orjson.loads
    monkeypatch.setattr(orjson, "loads", lambda data: loads.append(data) or real(data))
    assert Verifier.remember(stored, blob)
    default_verifier().verify(asked, stored)
    assert loads == []


def test_a_lookup_reads_the_candidates_features_from_the_entry(
    config: RedisAgentConfig,
    capabilities: Capabilities,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")
    embedder = CallableEmbedder(lambda texts: [toy_vector("x") for _ in texts], name="one", dims=16)
    cache = SemanticCache(config, embedder=embedder, name="stored-gf", distance_threshold=0.1)
    cache.update(STORED, SCOPE, "answer")
    raw = config.get_client().hgetall(cache.lookup(STORED, SCOPE).key)  # type: ignore[union-attr]
    assert orjson.loads(raw[b"gf"])  # plain JSON, never pickle
    # another process: nothing parsed yet; only the new prompt may be parsed
    features.cache_clear()
    parsed: list[str] = []
    real_parse = _features._parse
    monkeypatch.setattr(_features, "_parse", lambda text: parsed.append(text) or real_parse(text))
    asked = "How do I descale the espresso machine before Thursday's 9am meeting?"
    assert cache.lookup(asked, SCOPE) is None  # rejected: another day
    assert parsed == [asked]
    assert cache.stats().rejections == {"number": 1}


def test_no_guards_no_stored_features(config: RedisAgentConfig) -> None:
    embedder = CallableEmbedder(lambda texts: [toy_vector(t) for t in texts], name="t", dims=16)
    for verifier in (None, Verifier([])):
        cache = SemanticCache(config, embedder=embedder, verifier=verifier)
        assert cache._guard_fields(STORED) == []
    assert default_verifier().guards
