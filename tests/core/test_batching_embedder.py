"""BatchingEmbedder: concurrent aembed calls share one model call, run off the loop."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from redis_agent_core.embeddings import BatchingEmbedder, CallableEmbedder
from redis_agent_core.errors import ConfigError


class Recorder:
    """A deterministic model that records each call's texts and thread."""

    name = "recorder"
    dims = 3

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.threads: list[str] = []
        self.fail = fail

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("model exploded")
        return np.array([[len(t), i, 1.0] for i, t in enumerate(texts)], dtype=np.float32)

    async def aembed(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("a thread-bound model must not be awaited on the loop")


async def test_concurrent_calls_share_one_model_call_in_the_model_thread() -> None:
    model = Recorder()
    batcher = BatchingEmbedder(model, window=0.05)
    texts = [f"q{'x' * i}" for i in range(10)]
    rows = await asyncio.gather(*(batcher.aembed([t]) for t in texts))
    assert len(model.calls) == 1 and sorted(model.calls[0]) == sorted(texts)
    # each caller gets its own row back
    for text, row in zip(texts, rows, strict=True):
        assert row.shape == (1, 3) and row[0, 0] == len(text)
    assert model.threads[0].startswith("embed")
    assert model.threads[0] != threading.current_thread().name
    assert batcher.stats()["largest_batch"] == 10
    batcher.close()


async def test_max_batch_splits_and_later_arrivals_join_the_next_call() -> None:
    model = Recorder()
    batcher = BatchingEmbedder(model, window=0.05, max_batch=4)
    rows = await asyncio.gather(*(batcher.aembed([f"t{i}", f"u{i}"]) for i in range(5)))
    assert all(len(call) <= 4 for call in model.calls)
    assert sum(len(call) for call in model.calls) == 10
    assert [r.shape for r in rows] == [(2, 3)] * 5
    batcher.close()


async def test_model_error_reaches_every_waiter_and_the_next_call_works() -> None:
    model = Recorder(fail=True)
    batcher = BatchingEmbedder(model, window=0.01)
    calls = (batcher.aembed(["a"]) for _ in range(3))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    model.fail = False
    assert (await batcher.aembed(["ok"])).shape == (1, 3)
    batcher.close()


async def test_cancelled_caller_does_not_block_others() -> None:
    model = Recorder()
    batcher = BatchingEmbedder(model, window=0.05)
    doomed = asyncio.ensure_future(batcher.aembed(["gone"]))
    kept = asyncio.ensure_future(batcher.aembed(["kept"]))
    await asyncio.sleep(0)
    doomed.cancel()
    assert (await kept).shape == (1, 3)
    assert model.calls == [["kept"]]
    batcher.close()


async def test_native_async_inner_is_awaited_not_threaded() -> None:
    seen: list[list[str]] = []

    async def afn(texts: list[str]) -> list[list[float]]:
        seen.append(texts)
        return [[1.0, 0.0] for _ in texts]

    def fn(texts: list[str]) -> list[list[float]]:
        raise AssertionError("the sync function must not run")

    batcher = BatchingEmbedder(CallableEmbedder(fn, afn=afn, name="remote", dims=2))
    assert not batcher.offload
    out = await asyncio.gather(batcher.aembed(["a"]), batcher.aembed(["b"]))
    assert seen == [["a", "b"]] and [o.shape for o in out] == [(1, 2), (1, 2)]


async def test_awarm_runs_the_model_once_in_its_thread() -> None:
    model = Recorder()
    batcher = BatchingEmbedder(model)
    await batcher.awarm()
    assert len(model.calls) == 1 and model.threads[0].startswith("embed")
    assert batcher.name == "recorder" and batcher.dims == 3
    batcher.close()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="window"):
        BatchingEmbedder(Recorder(), window=5)
    with pytest.raises(ConfigError, match="max_batch"):
        BatchingEmbedder(Recorder(), max_batch=0)


def test_usable_from_successive_event_loops() -> None:
    model = Recorder()
    batcher = BatchingEmbedder(model)
    for _ in range(2):
        assert asyncio.run(batcher.aembed(["x"])).shape == (1, 3)
    assert len(model.calls) == 2
    batcher.close()


async def test_a_batch_wakes_its_callers_one_loop_turn_at_a_time() -> None:
    """Woken together, a batch's callers would run as one long loop turn (the loop lag
    that every other request waits behind); the loop gets a turn between each."""
    batcher = BatchingEmbedder(Recorder(), window=0.05)
    order: list[str] = []
    done = False

    async def ticker() -> None:
        while not done:
            order.append("tick")
            await asyncio.sleep(0)

    async def caller(name: str) -> None:
        await batcher.aembed([name])
        order.append(name)

    tick = asyncio.ensure_future(ticker())
    await asyncio.gather(*(caller(f"c{i}") for i in range(4)))
    done = True
    await tick
    woken = [i for i, event in enumerate(order) if event != "tick"]
    assert len(woken) == 4
    assert all(b - a > 1 for a, b in itertools.pairwise(woken))  # a tick between each
    batcher.close()
