"""An index that picks itself: ``algorithm="auto"`` starts FLAT behind an alias, moves
to HNSW beside it without a gap in answers, and every process agrees which is live."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading

import numpy as np
import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.search.replies import info_name
from redis_agent_core.vectors import VectorIndex, auto, lifecycle
from redis_agent_core.vectors.auto import AutoReport, _decide
from redis_agent_core.vectors.recall import RecallReport, saved_tunings

from .conftest import clustered

N, DIMS = 2000, 32


def filled(config: RedisAgentConfig, x: np.ndarray, **kw: object) -> VectorIndex:
    index = VectorIndex("auto", config=config, dims=x.shape[1], **kw)  # type: ignore[arg-type]
    index.add([f"doc {i}" for i in range(len(x))], ids=[str(i) for i in range(len(x))], vectors=x)
    return index


def live(config: RedisAgentConfig, index: VectorIndex) -> str:
    return info_name(config.get_client().execute_command("FT.INFO", index.index_name))


def answers(index: VectorIndex, queries: np.ndarray, k: int = 5) -> list[list[str]]:
    return [[h.id for h in index.search(v, k)] for v in queries]


def test_default_starts_flat_behind_an_alias(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    x = clustered(rng, 300, DIMS)
    index = filled(config, x)
    assert index.auto and index.schema.algorithm == "flat"
    assert live(config, index) == config.keys.vector_index_variant("auto", "flat")
    assert [h.id for h in index.search(x[3], 1)] == ["3"]  # exact
    report = index.pick_algorithm()  # 300 documents: no trial due
    assert not report.switched and report.algorithm == "flat"
    assert report.next_check == auto.AUTO_FIRST_CHECK
    assert index.to_spec()["schema"]["algorithm"] == "auto"
    assert VectorIndex.from_spec(index.to_spec(), config=config).auto


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]))


def test_small_set_answers_identical_after_the_switch(
    config: RedisAgentConfig, rng: np.random.Generator
) -> None:
    x = clustered(rng, 300, DIMS)
    index = filled(config, x, recall_target=1.0)  # tuned until HNSW is exact here
    before = answers(index, x[:50])
    assert index.pick_algorithm(force=True, sample=50, seed=1).switched
    assert index.schema.algorithm == "hnsw" and answers(index, x[:50]) == before


def test_switch_keeps_answering(
    config: RedisAgentConfig, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "AUTO_RECHECK", 0.0)
    x = clustered(rng, N, DIMS)
    index = filled(config, x)
    queries = x[rng.choice(N, 40, replace=False)]
    before = answers(index, queries)
    # Another instance (as another process would) searches without pause meanwhile.
    other = VectorIndex("auto", config=config, dims=DIMS)
    seen: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            try:
                seen.append(len(other.search(queries[len(seen) % 40], 5)))
            except BaseException as exc:  # any error fails the test below
                errors.append(exc)
                return

    thread = threading.Thread(target=search)
    thread.start()
    try:
        report = index.pick_algorithm(force=True, sample=50, seed=1)
    finally:
        stop.set()
        thread.join(10)
    assert not errors and seen and set(seen) == {5}
    assert report.switched and report.algorithm == "hnsw" and report.recall is not None
    assert report.flat_ms is not None and report.hnsw_ms is not None
    assert report.recall.ef_runtime >= 100  # never below the schema's: the sample flatters
    assert live(config, index) == config.keys.vector_index_variant("auto", "hnsw")
    assert index.schema.algorithm == "hnsw"
    names = {n.decode() for n in config.get_client().execute_command("FT._LIST")}
    assert config.keys.vector_index_variant("auto", "flat") not in names
    assert overlap(answers(index, queries), before) >= 0.9  # HNSW tuned to recall 0.95
    # The searching instance and a new one agree: HNSW, at the tuned ef_runtime.
    other.search(queries[0], 5)
    fresh = VectorIndex("auto", config=config, dims=DIMS)
    for view in (other, fresh):
        assert view.measure_recall(sample=20, seed=2).ef_runtime == report.recall.ef_runtime
        assert view.schema.algorithm == "hnsw"
    assert answers(fresh, queries) == answers(index, queries)
    # Another process reads the same from the server alone.
    script = (
        "import sys; from redis_agent_core.config import RedisAgentConfig; "
        "from redis_agent_core.vectors import VectorIndex; "
        "i = VectorIndex('auto', config=RedisAgentConfig(url=sys.argv[1], namespace=sys.argv[2]),"
        " dims=32); r = i.measure_recall(sample=5); print(i.schema.algorithm, r.ef_runtime)"
    )
    out = subprocess.run([sys.executable, "-c", script, config.url or "", config.namespace],
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert out.stdout.split() == ["hnsw", str(report.recall.ef_runtime)]
    assert VectorIndex.from_existing("auto", config=config).auto
    assert saved_tunings(config)["auto"]["auto_algorithm"] == "hnsw"  # doctor lists it
    assert index.pick_algorithm().reason == "already HNSW"
    # Written after the switch: found.
    index.add(["new"], ids=["new"], vectors=x[:1] * -1)
    assert [h.id for h in fresh.search(x[0] * -1, 1)] == ["new"]
    index.drop()
    assert not [n for n in config.get_client().execute_command("FT._LIST")
                if n.decode().startswith(config.namespace)]  # fmt: skip


async def test_async_switch(aconfig: RedisAgentConfig, rng: np.random.Generator) -> None:
    x = clustered(rng, 500, DIMS)
    index = VectorIndex("aauto", config=aconfig, dims=DIMS, recall_target=1.0)
    await index.aadd([f"d{i}" for i in range(500)], ids=[str(i) for i in range(500)], vectors=x)
    before = [[h.id for h in await index.asearch(v, 5)] for v in x[:20]]
    assert (await index.apick_algorithm()).reason == "below the next check size"
    report = await index.apick_algorithm(force=True, sample=40, seed=1)
    assert report.switched and index.schema.algorithm == "hnsw"
    assert [[h.id for h in await index.asearch(v, 5)] for v in x[:20]] == before
    await index.adrop()


async def test_a_cancelled_async_trial_releases_its_lock(
    aconfig: RedisAgentConfig, rng: np.random.Generator
) -> None:
    """A trial cancelled at every await (anyio's cancel scopes do so; a client gone, a
    timeout) had its lock release in ``finally`` cancelled too: the lock held every
    next trial off ("another process is on it") for its whole 120 s lease."""
    x = clustered(rng, 500, DIMS)
    index = VectorIndex("acancel", config=aconfig, dims=DIMS)
    await index.aadd([f"d{i}" for i in range(500)], ids=[str(i) for i in range(500)], vectors=x)
    client, lock = aconfig.get_client(), index._keys.lock
    task = asyncio.create_task(index.apick_algorithm(force=True, sample=20, seed=1))
    for _ in range(10_000):  # until the trial holds its lock
        if client.exists(lock) or task.done():
            break
        await asyncio.sleep(0.001)
    assert client.exists(lock)
    while not task.done():
        task.cancel()
        await asyncio.sleep(0)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for _ in range(1000):  # the release runs on in its own task: one round trip or two
        if not client.exists(lock):
            break
        await asyncio.sleep(0.01)
    assert not client.exists(lock)
    report = await index.apick_algorithm(force=True, sample=20, seed=1)
    assert report.reason != "another process is on it"
    await index.adrop()


def test_a_trial_starts_after_writes_past_the_size(
    config: RedisAgentConfig, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auto, "AUTO_FIRST_CHECK", 500)
    x = clustered(rng, 600, DIMS)
    index = filled(config, x[:400])
    assert index._picking is None  # 400 < 500
    index._last_size_check = 0.0
    index.add(["more"] * 200, ids=[str(i) for i in range(400, 600)], vectors=x[400:])
    assert index._picking is not None
    index._picking.join(60)
    state = config.get_client().hgetall(index.recall_key)
    assert b"auto_reason" in state  # a trial ran, whichever way it went
    algorithm = state[b"auto_algorithm"].decode()
    if algorithm == "flat":  # kept FLAT: the HNSW index is gone, next trial at 2x
        assert int(state[b"auto_next"]) == 1200
        names = {n.decode() for n in config.get_client().execute_command("FT._LIST")}
        assert config.keys.vector_index_variant("auto", "hnsw") not in names
    assert VectorIndex("auto", config=config, dims=DIMS).exists()
    assert [h.id for h in index.search(x[7], 1)] == ["7"]


def test_explicit_algorithms_and_plain_indexes_stay(config: RedisAgentConfig) -> None:
    x = clustered(np.random.default_rng(3), 50, DIMS)
    fixed = filled(config, x, algorithm="hnsw")
    with pytest.raises(ConfigError, match="only algorithm='auto'"):
        fixed.pick_algorithm()
    assert live(config, fixed) == fixed.index_name  # no alias: a plain index
    opened = VectorIndex("auto", config=config, dims=DIMS)  # auto over a plain index
    assert opened.exists() and opened.schema.algorithm == "hnsw"
    report = opened.pick_algorithm(force=True)
    assert not report.switched and report.reason.startswith("a plain index")
    with pytest.raises(ConfigError, match="algorithm must be one of auto, hnsw, flat"):
        VectorIndex("bad", config=config, dims=4, algorithm="ivf")


def test_decision(config: RedisAgentConfig) -> None:
    # The trial tunes past the target: stored vectors as queries flatter the recall.
    assert VectorIndex("t", config=config, dims=4)._trial_target() == pytest.approx(0.975)
    # Near-repeat samples (a cache's index) are not flattered: the target itself.
    near = VectorIndex("t", config=config, dims=4)
    near.recall_radius = 0.2
    assert near._trial_target() == pytest.approx(0.95)
    tuned = RecallReport(0.97, 10, 100, 20_000, "hnsw", 40, 0.95, True)
    missed = RecallReport(0.80, 10, 100, 20_000, "hnsw", 2560, 0.95, False)
    assert _decide(2.0, 0.7, tuned, False)[0]
    assert not _decide(0.8, 0.7, tuned, False)[0]  # not enough faster
    keep, why = _decide(9.0, 5.0, missed, False)
    assert not keep and "does not reach recall 0.95" in why
    assert _decide(0.5, 5.0, missed, True)[0]
    assert AutoReport("flat", False, "x", 1).to_dict()["algorithm"] == "flat"
