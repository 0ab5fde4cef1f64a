"""Core semantic cache on a real Redis with the Query Engine.

Mechanics use a deterministic toy embedder (equal text -> distance 0, else ~1);
behaviour that depends on meaning uses the real default model.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import redis

from redis_agent_core.cache import ExactCache, SemanticCache, make_scope
from redis_agent_core.cache.calibrate import SEARCH_GRID
from redis_agent_core.cache.entry import PACKED, unpack
from redis_agent_core.cache.guards import Verifier
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder, SentenceTransformerEmbedder
from redis_agent_core.errors import (
    ConfigError,
    RedisUnavailableError,
    SchemaMismatchError,
    ValueTooLargeError,
)
from redis_agent_core.search.replies import describe_info
from redis_agent_core.server import EmbeddedRedis
from tests.conftest import skip_unless

from .conftest import toy_vector

A = make_scope({"model": "a"})
B = make_scope({"model": "b"})

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


def test_threshold_is_a_cosine_distance() -> None:
    assert SemanticCache.check_threshold(0) == 0.0
    assert SemanticCache.check_threshold(2) == 2.0
    with pytest.raises(ConfigError, match="looks like a similarity"):
        SemanticCache(distance_threshold=85)
    with pytest.raises(ConfigError, match="looks like a similarity"):
        SemanticCache(distance_threshold=10**400)  # was a raw OverflowError
    with pytest.raises(ConfigError, match="must be a number"):
        SemanticCache(distance_threshold=float("nan"))
    with pytest.raises(ConfigError, match=">= 0"):
        SemanticCache(distance_threshold=-0.1)


def test_a_threshold_wider_than_the_verifier_can_judge_is_refused() -> None:
    """langchain-redis#22: distance_threshold=0.9 (a "90 % similar" habit) served one
    answer to every question; here the guards and pair scorer passed "Tell me one joke"
    for the cached "What is 1+1?" (0.80 apart). Past 0.6 a cache with a verifier raises;
    without one, the embedding alone decides at the distance the caller chose. Whatever
    ``calibrate`` may recommend, a cache takes."""
    with pytest.raises(ConfigError, match=r"'90% similar' use 0\.1"):
        SemanticCache(distance_threshold=0.9)
    with pytest.raises(ConfigError, match="verifier=None"):
        SemanticCache(distance_threshold=0.61, verifier=Verifier())
    widest = max(SEARCH_GRID)
    assert SemanticCache(distance_threshold=widest).distance_threshold == widest
    assert SemanticCache(distance_threshold=0.9, verifier=None).distance_threshold == 0.9


def test_threshold_zero_serves_identical_only(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, distance_threshold=0, verifier=None)
    cache.update("hello", A, "hi")
    assert cache.lookup("hello", A).payload == "hi"  # type: ignore[union-attr]
    near = toy_vector("hello") + 0.05 * toy_vector("other")
    assert cache.lookup("hello?", A, vector=near) is None
    loose = SemanticCache(config, embedder=toy_embedder, distance_threshold=0.1, verifier=None)
    hit = loose.lookup("hello?", A, vector=near)
    assert hit is not None and hit.prompt == "hello" and 0 < hit.distance <= 0.1


def test_entry_over_the_value_limit_is_refused_before_sending(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    config = config.with_options(max_value_bytes=MIB)  # not 512 MB of memory
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None)
    # prompt and payload share one packed field: each fits, together they do not
    with pytest.raises(ValueTooLargeError, match="over the 1,048,576 bytes"):
        cache.update("q" * (MIB // 2 + 100), A, "p" * (MIB // 2 + 100))
    assert len(cache) == 0
    assert cache.update("short", A, "ok")


def test_two_models_one_prompt_each_get_their_own(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None)
    cache.update("Name a colour", A, "red")
    cache.update("Name a colour", B, "blue")
    assert cache.lookup("Name a colour", A).payload == "red"  # type: ignore[union-attr]
    assert cache.lookup("Name a colour", B).payload == "blue"  # type: ignore[union-attr]
    assert cache.lookup("Name a colour", make_scope({"model": "c"})) is None
    assert cache.stats().entries == 2


def test_tenants_are_isolated_even_with_tricky_values(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None, filter_fields=["tenant"])
    cache.update("q", A, "acme answer", filters={"tenant": "acme,globex"})
    cache.update("q", A, "Acme answer", filters={"tenant": "Acme"})
    assert cache.lookup("q", A, filters={"tenant": "acme,globex"}).payload == "acme answer"  # type: ignore[union-attr]
    assert cache.lookup("q", A, filters={"tenant": "Acme"}).payload == "Acme answer"  # type: ignore[union-attr]
    for other in ("acme", "globex", "ACME", "acme*", "*", "acme,globex}|x"):
        assert cache.lookup("q", A, filters={"tenant": other}) is None, other
    with pytest.raises(ConfigError, match="partitioned by"):
        cache.lookup("q", A)  # a partitioned cache never searches across tenants


def test_a_cache_name_with_a_nul_is_refused_before_anything_is_written(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # review 15: RediSearch cut the index name and prefix at the NUL: cache "acme\x00x"
    # built an index over every cache named "acme..." and was served acme's entries
    acme = SemanticCache(config, embedder=toy_embedder, verifier=None, name="acme")
    acme.update("q", A, "acme answer")
    with pytest.raises(ConfigError, match=r"NUL character at position 4.*remove it"):
        SemanticCache(config, embedder=toy_embedder, name="acme\x00x")
    with pytest.raises(ConfigError, match=r"NUL character at position 4.*remove it"):
        ExactCache(config, name="acme\x00x")  # one rule for the names of both caches
    client = config.get_client()
    ours = config.keys.cache_index("acme").encode()  # the index (or its variant) of acme's
    prefix = f"{config.keys.namespace}:".encode()
    mine = [i for i in client.execute_command("FT._LIST") if i.startswith(prefix)]
    assert [i for i in mine if not i.startswith(ours)] == []
    # other characters stay what they were: part of the name
    other = SemanticCache(config, embedder=toy_embedder, verifier=None, name="acme x")
    assert other.lookup("q", A) is None


def test_filter_values_holding_the_digest_separators_keep_their_partitions(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # the entry id joined (field, value) pairs with \x1f / \x1e: org "acme\x1euser\x1fbob"
    # + user "mallory" was served (and overwrote) the entry of org "acme" + user
    # "bob\x1euser\x1fmallory"
    from redis_agent_core.cache import ExactCache

    pairs = [
        {"org": "acme", "user": "bob\x1euser\x1fmallory"},
        {"org": "acme\x1euser\x1fbob", "user": "mallory"},
        {"org": "acme\x1d", "user": "bob"},
        {"org": "acme", "user": "\x1dbob"},
    ]
    exact = ExactCache(config, name="x")
    semantic = SemanticCache(
        config, embedder=toy_embedder, verifier=None, filter_fields=["org", "user"]
    )
    for i, filters in enumerate(pairs):
        exact.update("q", A, f"answer {i}", filters=filters)
        semantic.update("q", A, f"answer {i}", filters=filters)
    for i, filters in enumerate(pairs):
        for hit in (
            exact.lookup("q", A, filters=filters),
            semantic.lookup("q", A, filters=filters),
        ):
            assert hit is not None and hit.payload == f"answer {i}", filters
    assert semantic.lookup("q", A, filters={"org": "acme", "user": "bob"}) is None


def test_verifier_rejections_are_counted_and_next_candidate_served(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    class NoNegation:
        name = "negation"

        def check(self, query: str, candidate: str) -> str | None:
            return "negation differs" if ("not" in query) != ("not" in candidate) else None

    cache = SemanticCache(
        config, embedder=toy_embedder, distance_threshold=0.5, verifier=Verifier([NoNegation()])
    )
    base = toy_vector("x")
    cache.update("do not cancel", A, "kept", vector=base)
    cache.update("cancel it", A, "cancelled", vector=base + 0.1 * toy_vector("y"))
    hit = cache.lookup("please cancel", A, vector=base)
    assert hit is not None and hit.payload == "cancelled"  # nearest was rejected
    assert cache.lookup("cancel", A, vector=toy_vector("far")) is None
    stats = cache.stats()
    assert stats.rejections == {"negation": 1}
    assert (stats.hits, stats.misses) == (1, 1)


def test_ttl_expiry_removes_entries_from_search(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None, ttl=0.2)
    cache.update("p", A, "x")
    assert cache.lookup("p", A) is not None
    time.sleep(0.35)
    assert cache.lookup("p", A) is None
    assert cache.stats().entries == 0


@pytest.mark.parametrize(("algorithm", "dtype"), [("flat", "float16"), ("hnsw", "float16")])
def test_algorithms_and_dtypes(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, algorithm: str, dtype: str
) -> None:
    cache = SemanticCache(
        config, embedder=toy_embedder, verifier=None, algorithm=algorithm, dtype=dtype
    )  # type: ignore[arg-type]
    for i in range(20):
        cache.update(f"p{i}", A, f"a{i}")
    assert cache.lookup("p7", A).payload == "a7"  # type: ignore[union-attr]
    key = cache.lookup("p7", A).key  # type: ignore[union-attr]
    assert len(config.get_client().hget(key, "vec")) == 16 * 2  # float16: 2 bytes a dim


def test_existing_index_with_other_vectors_is_refused(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    SemanticCache(config, embedder=toy_embedder, dtype="float32").ensure_index()
    with pytest.raises(SchemaMismatchError, match="another name="):
        SemanticCache(config, embedder=toy_embedder, dtype="float16").ensure_index()


def test_default_dtype_is_half_and_an_existing_cache_keeps_its_own(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    def vec_bytes(cache: SemanticCache, prompt: str) -> int:
        hit = cache.lookup(prompt, A)
        assert hit is not None and hit.payload == prompt.upper()
        return len(config.get_client().hget(hit.key, "vec"))

    fresh = SemanticCache(config, embedder=toy_embedder, verifier=None, name="new")
    fresh.update("p1", A, "P1")
    assert vec_bytes(fresh, "p1") == 16 * 2  # float16 by default
    old = SemanticCache(config, embedder=toy_embedder, verifier=None, name="old", dtype="float32")
    old.update("p1", A, "P1")
    # an upgrade opens the float32 cache with the default: it keeps float32, in the
    # vectors it writes and in an index it has to recreate
    reopened = SemanticCache(config, embedder=toy_embedder, verifier=None, name="old")
    assert vec_bytes(reopened, "p1") == 16 * 4
    reopened.update("p2", A, "P2")
    assert vec_bytes(reopened, "p2") == 16 * 4 and reopened.dtype == "float32"
    reopened.index.drop()
    reopened.ensure_index()
    info = config.get_client().execute_command("FT.INFO", reopened.index_name)
    assert describe_info(info)["fields"]["vec"]["dtype"] == "float32"


def test_wrong_vector_size_is_rejected(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder)
    with pytest.raises(ConfigError, match="dimensions"):
        cache.update("p", A, "x", vector=np.ones(3))


def test_clear_and_recreated_index(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None)
    cache.update("p", A, "x")
    cache.drop()  # index gone behind another instance's back
    other = SemanticCache(config, embedder=toy_embedder, verifier=None)
    other._index_ready = True  # it believes the index exists
    assert other.lookup("p", A) is None  # a miss, not an error
    assert other.update("p", A, "y")  # and the next use recreates it
    assert other.lookup("p", A).payload == "y"  # type: ignore[union-attr]
    assert other.clear() == 1


async def test_async_paths(aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder) -> None:
    cache = SemanticCache(aconfig, embedder=toy_embedder, verifier=Verifier([]))
    assert await cache.alookup("p", A) is None
    assert await cache.aupdate("p", A, "x", usage={"total_tokens": 9})
    hit = await cache.alookup("p", A)
    assert hit is not None and hit.payload == "x" and hit.usage == {"total_tokens": 9}
    assert (await cache.astats()).tokens_saved == 9
    assert await cache.aclear() == 1


def test_redis_down_is_a_miss(
    own_redis: EmbeddedRedis, own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(own_config, embedder=toy_embedder, recheck_after=0)
    cache.update("p", A, "x")
    own_redis.stop()
    assert cache.lookup("p", A) is None
    assert cache.lookup_exact("p", A) is None
    assert cache.update("q", A, "y") is False
    strict = SemanticCache(own_config, embedder=toy_embedder, on_error="raise")
    with pytest.raises(RedisUnavailableError):
        strict.lookup("p", A)


@pytest.mark.slow
def test_paraphrase_hits_and_unrelated_misses_with_the_default_model(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    cache = SemanticCache(config, embedder=minilm)  # defaults: guards on, threshold 0.22
    cache.update("What is the capital of France?", A, "Paris")
    cache.update("How do I reverse a list in Python?", A, "lst[::-1]")
    hit = cache.lookup("Which city is the capital of France?", A)
    assert hit is not None and hit.payload == "Paris" and hit.distance < cache.distance_threshold
    hit = cache.lookup("How can I reverse a Python list?", A)
    assert hit is not None and hit.payload == "lst[::-1]"
    assert cache.lookup("How do I bake sourdough bread?", A) is None
    assert cache.lookup("What is the capital of Germany?", A) is None
    assert cache.lookup("Which city is the capital of France?", B) is None


def test_a_paraphrase_just_above_two_tenths_is_served_and_its_traps_are_not(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    """Issue 14, false rejections: a true paraphrase a little past 0.2 is a hit at the
    default threshold, while traps nearer than it are still refused by the guards."""
    cache = SemanticCache(config, embedder=minilm)
    cache.update("How do I calm down before a job interview?", A, "breathe")
    hit = cache.lookup("Tips for staying relaxed before an interview?", A)
    assert hit is not None and hit.payload == "breathe" and 0.19 < hit.distance <= 0.22
    assert cache.lookup("How do I calm down after a job interview?", A) is None
    assert cache.lookup("How do I calm down before a driving test?", A) is None


def test_tenant_values_differing_only_in_whitespace_stay_apart(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # RediSearch trims and splits tag values on whitespace: stored raw, "a\tb" found
    # "a b"'s entry and " " could not find its own
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None, filter_fields=["tenant"])
    tenants = ["a b", "a\tb", "a\nb", " a", "a", "a ", " ", "_", "_5f", "a\x1fb", "é", "@t:{x}"]
    for i, tenant in enumerate(tenants):
        cache.update("q", A, f"answer {i}", filters={"tenant": tenant})
    for i, tenant in enumerate(tenants):
        hit = cache.lookup("q", A, filters={"tenant": tenant})
        assert hit is not None and hit.payload == f"answer {i}", repr(tenant)
    assert cache.lookup("q", A, filters={"tenant": "b"}) is None


def test_redis_refusing_writes_serves_hits_and_skips_writes(
    own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(own_config, embedder=toy_embedder, verifier=None, recheck_after=0)
    cache.update("p", A, "x")
    admin = own_config.get_client()
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    try:
        hit = cache.lookup("p", A)  # served; its hit cannot be counted
        assert hit is not None and hit.payload == "x"
        assert cache.update("q", A, "y") is False  # skipped, never an error
    finally:
        admin.config_set("maxmemory", "0")
    assert cache.lookup("p", A).payload == "x"  # type: ignore[union-attr]


class _NoModel:
    """An embedder that must not be called: the exact tier needs no embedding."""

    name = "toy"
    dims = 8

    def embed(self, texts: object) -> np.ndarray:
        raise AssertionError("the exact tier embedded a prompt")

    async def aembed(self, texts: object) -> np.ndarray:
        raise AssertionError("the exact tier embedded a prompt")


async def test_exact_tier_needs_no_embedding_and_counts_only_hits(
    aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    writer = SemanticCache(aconfig, embedder=toy_embedder, name="tiers", filter_fields=("t",))
    await writer.aupdate("p", A, "x", usage={"total_tokens": 5}, filters={"t": "1"})
    cache = SemanticCache(aconfig, embedder=_NoModel(), name="tiers", filter_fields=("t",))
    hit = await cache.alookup_exact("p", A, filters={"t": "1"})
    assert hit is not None and hit.payload == "x" and hit.distance == 0 and hit.hits == 1
    assert hit.usage == {"total_tokens": 5}
    # another scope, partition or wording is not the same entry
    assert await cache.alookup_exact("p", B, filters={"t": "1"}) is None
    assert await cache.alookup_exact("p", A, filters={"t": "2"}) is None
    assert await cache.alookup_exact("p ", A, filters={"t": "1"}) is None
    stats = await cache.astats()
    assert (stats.hits, stats.misses, stats.tokens_saved) == (1, 0, 5)  # misses: next tier's
    sync_hit = cache.lookup_exact("p", A, filters={"t": "1"})
    assert sync_hit is not None and sync_hit.hits == 2
    with pytest.raises(ConfigError, match="partitioned"):
        cache.lookup_exact("p", A)


def test_bad_update_arguments_raise_before_the_index_is_created(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None, name="untouched")
    with pytest.raises(ConfigError, match="payload must be str"):
        cache.update("p", A, {"not": "a string"})  # type: ignore[arg-type]
    listed = {
        n.decode() if isinstance(n, bytes) else n
        for n in config.get_client().execute_command("FT._LIST")
    }
    assert cache.index_name not in listed


PARSED = "Is the museum open on Sunday 12 May?"


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the guards parse from now on (their per-process memo emptied)."""
    from redis_agent_core.cache.guards import _features

    seen: list[str] = []
    real = _features._parse
    monkeypatch.setattr(_features, "_parse", lambda t: seen.append(t) or real(t))
    _features.features.cache_clear()  # type: ignore[attr-defined]
    return seen


def test_a_lookup_miss_parses_the_prompt_for_the_update(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, parsed: list[str]
) -> None:
    # the usual flow is lookup -> miss -> model -> update: the lookup parses the prompt
    # while the server searches, so the write that follows stores it without parsing
    cache = SemanticCache(config, embedder=toy_embedder)
    assert cache.lookup(PARSED, A) is None
    assert parsed == [PARSED]
    assert cache.update(PARSED, A, "yes")
    assert parsed == [PARSED]  # not parsed again
    raw = config.get_client().hget(cache.entry_key(cache._prepare(PARSED, A, None)[1]), PACKED)
    assert unpack(raw) == (PARSED.encode(), b"yes", b"", 0, Verifier.features_of(PARSED))


async def test_an_async_lookup_miss_parses_the_prompt_for_the_update(
    aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder, parsed: list[str]
) -> None:
    cache = SemanticCache(aconfig, embedder=toy_embedder)
    assert await cache.alookup(PARSED, A) is None
    assert parsed == [PARSED]
    assert await cache.aupdate(PARSED, A, "yes")
    assert parsed == [PARSED]
    assert (await cache.alookup(PARSED, A)).payload == "yes"  # type: ignore[union-attr]


def test_updates_take_the_fast_path_and_survive_a_script_flush(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None)
    assert cache.update("one", A, "1", usage={"input_tokens": 3})
    lease = cache._fast._lease
    assert lease is not None and lease.count == 1  # the write went through a leased connection
    config.get_client().script_flush()  # NOSCRIPT: the generic path loads it again
    assert cache.update("two", A, "2")
    assert cache.lookup("one", A).usage == {"input_tokens": 3}  # type: ignore[union-attr]
    assert cache.lookup("two", A).payload == "2"  # type: ignore[union-attr]
    cache.close()
    assert lease.closed and not lease.free


def test_an_entry_stores_only_what_lookups_read(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # every hash field costs ~70 B an entry beside its value (hashtable encoding: the
    # vector is longer than a listpack value): all that is not indexed is packed in one
    cache = SemanticCache(config, embedder=toy_embedder, filter_fields=("tenant",))
    cache.update("one", A, "1", usage={"input_tokens": 3}, filters={"tenant": "t"})
    key = cache.entry_key(cache._prepare("one", A, {"tenant": "t"})[1])
    client = config.get_client()
    assert set(client.hkeys(key)) == {b"scope", b"tenant", b"vec", PACKED.encode()}
    features = Verifier.features_of("one")
    assert unpack(client.hget(key, PACKED)) == (b"one", b"1", b'{"input_tokens":3}', 3, features)
    hit = cache.lookup("one", A, filters={"tenant": "t"})
    assert hit is not None and (hit.prompt, hit.payload, hit.usage) == (
        "one",
        "1",
        {"input_tokens": 3},
    )
    unguarded = SemanticCache(config, embedder=toy_embedder, name="plain", verifier=None)
    unguarded.update("one", A, "1")
    key = unguarded.entry_key(unguarded._prepare("one", A, None)[1])
    assert set(client.hkeys(key)) == {b"scope", b"vec", PACKED.encode()}
    assert unpack(client.hget(key, PACKED)) == (b"one", b"1", b"", 0, b"")
    assert unguarded.lookup("one", A).prompt == "one"  # type: ignore[union-attr]


async def test_async_updates_take_the_fast_path_and_survive_a_script_flush(
    aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(aconfig, embedder=toy_embedder, verifier=None)
    assert await cache.aupdate("one", A, "1")
    lease = cache._afast.lease(aconfig.get_async_client())
    assert lease is not None and lease.count == 1  # the write went through a leased connection
    await aconfig.get_async_client().script_flush()  # NOSCRIPT: the generic path loads it
    assert await cache.aupdate("two", A, "2")
    assert (await cache.alookup("one", A)).payload == "1"  # type: ignore[union-attr]
    assert (await cache.alookup("two", A)).payload == "2"  # type: ignore[union-attr]
    await cache.aclose()
    assert not lease.free


@pytest.mark.parametrize("decoded", [False, True])
def test_packed_values_keep_any_text(
    redis_url: str, namespace: str, toy_embedder: CallableEmbedder, decoded: bool
) -> None:
    # the packed field: lengths first, then usage and features (no newline), then the
    # prompt and the payload, which may hold anything
    client = redis.Redis.from_url(redis_url, decode_responses=decoded)
    cfg = RedisAgentConfig(url=redis_url, namespace=namespace, client=client)
    try:
        cache = SemanticCache(cfg, embedder=toy_embedder)
        prompt, payload = "line 1\n\nline 2: é 12 ", '{"a": "x\\n"}\n\n0 0\nü'
        usage = {"total_tokens": 12, "note": "a\nb"}
        for p, answer in ((prompt, payload), ("empty", "")):
            assert cache.update(p, A, answer, usage=usage)
            exact = cache.lookup_exact(p, A)
            assert exact is not None and (exact.payload, exact.usage) == (answer, usage)
            hit = cache.lookup(p, A)
            assert hit is not None and (hit.prompt, hit.payload, hit.usage) == (p, answer, usage)
        assert cache.stats().tokens_saved == 4 * 12
        assert cache.clear() == 2
        cache.drop()
    finally:
        client.close()


def test_the_exact_tier_reads_packed_entries_when_writes_are_refused(
    own_config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(own_config, embedder=toy_embedder, recheck_after=0)
    cache.update("p\nq", A, "x\ny", usage={"total_tokens": 3})
    admin = own_config.get_client()
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    try:
        hit = cache.lookup_exact("p\nq", A)  # read, its hit not counted
        assert hit is not None and (hit.payload, hit.usage, hit.hits) == (
            "x\ny",
            {"total_tokens": 3},
            0,
        )
    finally:
        admin.config_set("maxmemory", "0")


# A retrieved passage in a QA template, the shape RAG prompts have: the shared part
# dominates the embedding (past 256 tokens both prompts get one vector).
PASSAGE = (
    "Harbor Lines shipping report. Freight volume rose nine percent to 3.1 million "
    "containers, led by the northern routes. The firm added terminals in Rotterdam and "
    "Busan. Omar Haddad has chaired the board since 2021. Fuel costs are expected to "
    "fall next season as the new vessels enter service. "
)


def qa_prompt(question: str, repeat: int) -> str:
    return (
        f"Context information is below.\n---\n{PASSAGE * repeat}\n---\nGiven the context "
        f"and not prior knowledge, answer the query.\nQuery: {question}\nAnswer:"
    )


@pytest.mark.parametrize("repeat", [3, 6])  # 0.10 apart whole; past the window: 0.0
def test_a_shared_context_does_not_make_another_question_a_hit(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder, repeat: int
) -> None:
    cache = SemanticCache(config, embedder=minilm, verifier=Verifier())
    cache.update(qa_prompt("How much did freight volume grow?", repeat), A, "nine percent")
    # another question of the same kind (the question-word guard reads "who" / "how
    # much" apart before the span check runs) that the rules let through
    asked = qa_prompt("How many terminals did the firm add?", repeat)
    # the whole prompts are near (identical vectors past the window): the spans are not
    assert cache.lookup(asked, A) is None
    assert cache.stats().rejections.get("span") == 1
    reworded = qa_prompt("By how much did the freight volume grow?", repeat)
    hit = cache.lookup(reworded, A)
    assert hit is not None and hit.payload == "nine percent"


async def test_a_shared_context_does_not_make_another_question_a_hit_async(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    cache = SemanticCache(config, embedder=minilm, verifier=Verifier())
    await cache.aupdate(qa_prompt("How much did freight volume grow?", 6), A, "nine percent")
    assert await cache.alookup(qa_prompt("Who chairs the board?", 6), A) is None
    hit = await cache.alookup(qa_prompt("By how much did the freight volume grow?", 6), A)
    assert hit is not None and hit.payload == "nine percent"
