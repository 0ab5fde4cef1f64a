"""A semantic cache that picks its own index (``algorithm="auto"``, the default): a new
cache starts FLAT behind an alias, moves to HNSW through the vector index's trial while
lookups keep answering, every process follows, and an existing cache keeps its index."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import numpy as np
import pytest

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.search.replies import info_name
from redis_agent_core.vectors import auto, lifecycle, recall
from tests.conftest import skip_unless

from .conftest import TOY_DIMS

A = make_scope({"model": "a"})
N = 1500


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, TOY_DIMS)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def cache_of(config: RedisAgentConfig, embedder: CallableEmbedder, **kw: object) -> SemanticCache:
    return SemanticCache(config, embedder=embedder, verifier=None, distance_threshold=0.01,
                         **kw)  # type: ignore[arg-type]  # fmt: skip


def filled(cache: SemanticCache, x: np.ndarray, start: int = 0) -> None:
    for i, v in enumerate(x, start):
        assert cache.update(f"p{i}", A, f"a{i}", vector=v)


def live(config: RedisAgentConfig, cache: SemanticCache) -> str:
    return info_name(config.get_client().execute_command("FT.INFO", cache.index_name))


def indexes(config: RedisAgentConfig) -> set[str]:
    names = {n.decode() for n in config.get_client().execute_command("FT._LIST")}
    return {n for n in names if n.startswith(config.namespace + ":")}


def served(cache: SemanticCache, x: np.ndarray, ids: range) -> list[str | None]:
    hits = [cache.lookup(f"q{i}", A, vector=x[i]) for i in ids]
    return [h.payload if h else None for h in hits]


def test_a_new_cache_starts_flat_behind_an_alias(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = cache_of(config, toy_embedder)
    assert cache.auto and cache.algorithm == "flat"
    x = unit(np.random.default_rng(1), 50)
    filled(cache, x)
    keys = config.keys.cache_index_keys(cache.name)
    assert live(config, cache) == keys.flat != cache.index_name  # the name is an alias
    assert served(cache, x, range(50)) == [f"a{i}" for i in range(50)]
    report = cache.vector_index().pick_algorithm()  # 50 entries: no trial due
    assert not report.switched and report.next_check == auto.AUTO_FIRST_CHECK
    with pytest.raises(ConfigError, match="'auto', 'hnsw' or 'flat'"):
        SemanticCache(config, embedder=toy_embedder, algorithm="ivf")  # type: ignore[arg-type]


def test_the_switch_keeps_lookups_answering_and_every_process_follows(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "AUTO_RECHECK", 0.0)
    monkeypatch.setattr("redis_agent_core.cache.semantic.AUTO_RECHECK", 0.0)
    x = unit(np.random.default_rng(2), N)
    cache = cache_of(config, toy_embedder)
    filled(cache, x)
    expected = [f"a{i}" for i in range(N)]
    # Another instance (as another process would) looks up without pause meanwhile.
    other = cache_of(config, toy_embedder)
    results: list[bool] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def look() -> None:
        while not stop.is_set():
            i = len(results) % N
            try:
                hit = other.lookup(f"q{i}", A, vector=x[i])
                results.append(hit is not None and hit.payload == expected[i])
            except BaseException as exc:  # any error fails the test below
                errors.append(exc)
                return

    thread = threading.Thread(target=look)
    thread.start()
    try:
        report = cache.vector_index().pick_algorithm(force=True, sample=50, seed=1)
    finally:
        stop.set()
        thread.join(10)
    assert not errors and results and all(results)  # no lookup missed during the switch
    assert report.switched and report.algorithm == "hnsw" and report.recall is not None
    keys = config.keys.cache_index_keys(cache.name)
    assert live(config, cache) == keys.hnsw and keys.flat not in indexes(config)
    assert served(cache, x, range(0, N, 7)) == expected[::7]
    # The looking thread may have made its last lookup before the alias moved (the
    # switch's last steps take a few round trips): the other instance follows on its
    # next lookup, asked here rather than left to the thread's timing.
    assert served(other, x, range(3, N, 7)) == expected[3::7]
    assert cache.algorithm == other.algorithm == "hnsw"
    # the trial's tuned ef_runtime (never below the cache's) is in the lookups
    assert other._tuned == report.recall.ef_runtime and (other._tuned or 0) >= 100
    assert f"EF_RUNTIME {report.recall.ef_runtime}" in other._knn
    # A new process sees HNSW from the server alone, and is served.
    script = (
        "import sys, numpy as np; from redis_agent_core.config import RedisAgentConfig; "
        "from redis_agent_core.cache import SemanticCache, make_scope; "
        "from redis_agent_core.embeddings import CallableEmbedder; "
        "e = CallableEmbedder(lambda t: [], name='toy', dims=16); "
        "c = SemanticCache(RedisAgentConfig(url=sys.argv[1], namespace=sys.argv[2]), "
        "embedder=e, verifier=None, distance_threshold=0.01); "
        "v = np.frombuffer(bytes.fromhex(sys.argv[3]), dtype=np.float32); "
        "h = c.lookup('q', make_scope({'model': 'a'}), vector=v); "
        "print(c.algorithm, h.payload if h else None)"
    )
    out = subprocess.run([sys.executable, "-c", script, config.url or "", config.namespace,
                          x[5].tobytes().hex()],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert out.stdout.split() == ["hnsw", "a5"]
    assert cache.vector_index().pick_algorithm().reason == "already HNSW"
    # Written after the switch: found.
    assert cache.update("new", A, "fresh", vector=-x[0])
    assert other.lookup("new?", A, vector=-x[0]).payload == "fresh"  # type: ignore[union-attr]
    cache.drop()
    assert not indexes(config)
    assert not config.get_client().exists(keys.state)


async def test_async_paths_follow_the_switch(
    aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    x = unit(np.random.default_rng(3), 300)
    cache = cache_of(aconfig, toy_embedder)
    for i, v in enumerate(x):
        assert await cache.aupdate(f"p{i}", A, f"a{i}", vector=v)
    report = await cache.vector_index().apick_algorithm(force=True, sample=40, seed=1)
    assert report.switched
    fresh = cache_of(aconfig, toy_embedder)
    hits = [await fresh.alookup(f"q{i}", A, vector=x[i]) for i in range(0, 300, 10)]
    assert [h.payload if h else None for h in hits] == [f"a{i}" for i in range(0, 300, 10)]
    assert fresh.algorithm == "hnsw"
    await cache.adrop()


def test_writes_past_the_size_start_the_trial(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "AUTO_FIRST_CHECK", 300)
    monkeypatch.setattr(auto, "_CHECK_EVERY", 0.0)  # look at the size after every write
    x = unit(np.random.default_rng(4), 400)
    cache = cache_of(config, toy_embedder)
    filled(cache, x[:250])
    view = cache.vector_index()
    assert view._picking is None  # 250 < 300
    for i in range(250, 400):
        assert cache.update(f"p{i}", A, f"a{i}", vector=x[i])
    assert view._picking is not None
    view._picking.join(60)
    state = config.get_client().hgetall(config.keys.cache_index_keys(cache.name).state)
    assert b"auto_reason" in state  # a trial ran, whichever way it went
    if state[b"auto_algorithm"] == b"flat":  # kept FLAT: HNSW gone, next trial at 2x
        assert int(state[b"auto_next"]) == 2 * int(state[b"auto_size"]) >= 600
        assert config.keys.cache_index_keys(cache.name).hnsw not in indexes(config)
    assert served(cache, x, range(0, 400, 9)) == [f"a{i}" for i in range(0, 400, 9)]


@pytest.mark.parametrize("algorithm", ["hnsw", "flat"])
def test_an_existing_cache_keeps_its_index(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, algorithm: str
) -> None:
    x = unit(np.random.default_rng(5), 40)
    old = cache_of(config, toy_embedder, algorithm=algorithm)  # as before auto existed
    filled(old, x)
    assert live(config, old) == old.index_name  # a plain index, no alias
    opened = cache_of(config, toy_embedder)  # the default is now auto
    assert served(opened, x, range(40)) == [f"a{i}" for i in range(40)]
    assert opened.algorithm == algorithm and opened._plain()
    assert opened.update("more", A, "m", vector=-x[0])
    assert opened.vector_index()._picking is None  # no trial on a plain index
    report = opened.vector_index().pick_algorithm(force=True)
    assert not report.switched and report.reason.startswith("a plain index")
    assert indexes(config) == {old.index_name}


def test_the_trial_measures_the_recall_a_lookup_needs(config: RedisAgentConfig) -> None:
    # Random 128-d vectors on a sparse graph: HNSW misses many of the 10 nearest (all far
    # away), but finds a near repeat's own entry: what a lookup serves.
    dims, n = 128, 3000
    x = np.random.default_rng(6).standard_normal((n, dims)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    embedder = CallableEmbedder(lambda t: [], name="r128", dims=dims)
    cache = cache_of(config, embedder, algorithm="hnsw", m=8, ef_construction=16)  # sparse
    filled(cache, x)
    view = cache.vector_index()
    assert view.recall_radius == cache.distance_threshold
    near = view.measure_recall(sample=60, ef_runtime=40, seed=1)  # measured: 1.0
    view.recall_radius = None
    knn = view.measure_recall(sample=60, ef_runtime=40, seed=1)  # measured: 0.55
    assert near.recall >= 0.95 > knn.recall + 0.2


def test_an_hnsw_cache_tunes_again_as_it_doubles(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "TUNING_RECHECK", 0.0)  # look after every write
    monkeypatch.setattr("redis_agent_core.cache.semantic.TUNING_RECHECK", 0.0)
    x = unit(np.random.default_rng(7), 700)
    cache = cache_of(config, toy_embedder)
    filled(cache, x[:300])
    view = cache.vector_index()
    assert view.pick_algorithm(force=True, sample=40, seed=1).switched
    state_key = config.keys.cache_index_keys(cache.name).state
    tuned_at = int(config.get_client().hget(state_key, "size"))
    assert 290 <= tuned_at <= 300
    for i in range(300, 700):
        assert cache.update(f"p{i}", A, f"a{i}", vector=x[i])
        if view._picking is not None:
            view._picking.join(60)
    state = {k.decode(): v.decode() for k, v in config.get_client().hgetall(state_key).items()}
    assert int(state["size"]) >= 2 * tuned_at  # tuned again once it had doubled
    assert float(state["recall"]) >= 0.95
    other = cache_of(config, toy_embedder)  # another process reads the new tuning
    assert served(other, x, range(0, 700, 13)) == [f"a{i}" for i in range(0, 700, 13)]
    assert other._tuned == int(state["ef_runtime"])


def test_wait_tuning_tunes_at_the_size_and_the_next_lookup_uses_it(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    x = unit(np.random.default_rng(8), 450)
    cache = cache_of(config, toy_embedder)
    filled(cache, x[:300])
    assert cache.vector_index().pick_algorithm(force=True, sample=40, seed=1).switched
    cache.lookup("q", A, vector=x[0])  # loads the trial's ef_runtime (kept TUNING_RECHECK s)
    filled(cache, x[300:], 300)  # grown 1.5 times: no re-tuning is due
    assert int(cache.wait_tuning()["size"]) <= 300
    state = cache.wait_tuning(grown=True)  # tunes again at this size, now
    assert 440 <= int(state["size"]) <= 450 and int(state["sample"]) > 0
    assert float(state["recall"]) >= 0.95
    config.get_client().hset(config.keys.cache_index_keys(cache.name).state, "ef_runtime", 321)
    cache.wait_tuning()  # the next lookup reads the saved ef_runtime again
    cache.lookup("q", A, vector=x[0])
    assert cache._tuned == 321 and "EF_RUNTIME 321" in cache._knn


def _count_exact_searches(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The exact (brute-force) searches a measurement builds, counted; they still run."""
    calls: list[object] = []
    real = recall.q.exact_knn_command

    def counted(*args: Any, **kwargs: Any) -> list[Any]:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(recall.q, "exact_knn_command", counted)
    return calls


def test_near_repeats_are_many_and_need_no_exact_search(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A near repeat's answer is its own entry: no exact search over every entry (~36 ms
    # of server CPU each at 100k), so the sample is 400 (0/1 shares: over 100 the lower
    # bound reached 0.95 only at 2 misses or fewer, which tuned ef_runtime past need).
    x = unit(np.random.default_rng(8), 1500)
    cache = cache_of(config, toy_embedder, algorithm="hnsw")
    filled(cache, x)
    view = cache.vector_index()
    exact = _count_exact_searches(monkeypatch)
    tuned = view.tune_recall(seed=1)
    measured = view.measure_recall(ef_runtime=100, seed=1)
    assert not exact
    # tuning judges each ef_runtime on up to NEAR_LOOKS[-1] near repeats (all 1,500 here)
    assert tuned.sample >= measured.sample == recall.NEAR_SAMPLE > recall.DEFAULT_SAMPLE
    assert tuned.reached and measured.recall >= 0.95
    view.recall_radius = None  # stored vectors as queries: against their exact neighbours
    assert view.measure_recall(seed=1).sample == len(exact) == recall.DEFAULT_SAMPLE


async def test_near_repeats_need_no_exact_search_async(
    aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = unit(np.random.default_rng(9), 1500)
    cache = cache_of(aconfig, toy_embedder, algorithm="hnsw")
    for i, v in enumerate(x):
        assert await cache.aupdate(f"p{i}", A, f"a{i}", vector=v)
    view = cache.vector_index()
    exact = _count_exact_searches(monkeypatch)
    tuned = await view.atune_recall(seed=1)
    measured = await view.ameasure_recall(ef_runtime=100, seed=1)
    assert not exact
    # tuning judges each ef_runtime on up to NEAR_LOOKS[-1] near repeats (all 1,500 here)
    assert tuned.sample >= measured.sample == recall.NEAR_SAMPLE > recall.DEFAULT_SAMPLE
    assert tuned.reached and measured.recall >= 0.95
    view.recall_radius = None
    assert (await view.ameasure_recall(seed=1)).sample == len(exact) == recall.DEFAULT_SAMPLE
    await cache.adrop()
