"""Vector writes under Redis faults: refused writes (memory full, read-only replica)
raise a typed error; an index lost in a restart is recreated by the next add, and one
dropped behind the app's back by the next read, which answers from the documents kept."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import redis

from redis_agent_core.acl import acl_setuser_command, server_commands
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import (
    PartialWriteError,
    RedisAgentError,
    RedisUnavailableError,
    RedisWriteRefusedError,
    SchemaMismatchError,
)
from redis_agent_core.search import lifecycle
from redis_agent_core.vectors import VectorIndex
from redis_agent_service.errors import redis_fault_response
from tests.faults import FaultyRedis


def _eventually(search: Callable[[], list[Any]], want: int = 1) -> list[str]:
    """Texts found, polling briefly until ``want`` are: FT.CREATE indexes existing
    documents in the background (an empty result for ever is the bug), one by one (a
    poll may see the first before the second)."""
    deadline = time.monotonic() + 10
    while True:
        texts = [hit.text for hit in search()]
        if len(texts) >= want or time.monotonic() > deadline:
            return texts
        time.sleep(0.05)


@pytest.mark.parametrize("fault", ["oom", "readonly"])
async def test_refused_add_is_typed(faulty_redis: FaultyRedis, fault: str) -> None:
    config = faulty_redis.config()
    index = VectorIndex("docs", config=config, dims=2)
    index.add(["a"], vectors=np.array([[1.0, 0.0]]))
    if fault == "oom":
        faulty_redis.fill_memory()
    else:
        faulty_redis.make_read_only()
    with pytest.raises(RedisWriteRefusedError) as info:
        index.add(["b"], vectors=np.array([[0.0, 1.0]]))
    assert info.value.cause == fault
    with pytest.raises(RedisWriteRefusedError):
        await index.aadd(["b"], vectors=np.array([[0.0, 1.0]]))
    assert [hit.text for hit in index.search(np.array([1.0, 0.0]), k=5)] == ["a"]
    await config.aclose()
    config.close()


async def test_add_after_redis_restarted_empty_recreates_the_index(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config()
    index = VectorIndex("docs", config=config, dims=2)
    index.add(["a"], vectors=np.array([[1.0, 0.0]]))
    faulty_redis.restart()  # same URL, no data, no index
    index.add(["b"], vectors=np.array([[0.0, 1.0]]))
    reader = VectorIndex("docs", config=faulty_redis.config(), dims=2)  # another process
    assert _eventually(lambda: reader.search(np.array([0.0, 1.0]), k=5)) == ["b"]
    faulty_redis.restart()
    await index.aadd(["c"], vectors=np.array([[1.0, 1.0]]))
    assert _eventually(lambda: reader.search(np.array([1.0, 1.0]), k=5)) == ["c"]
    await config.aclose()
    config.close()


def _drop_indexes(server: FaultyRedis) -> None:
    """FT.DROPINDEX every index, keeping the documents (as an operator might)."""
    admin = server.admin()
    for name in admin.execute_command("FT._LIST"):
        admin.execute_command("FT.DROPINDEX", name)
    admin.close()


async def test_reads_after_the_index_was_dropped_rebuild_it_and_answer_from_the_documents(
    faulty_redis: FaultyRedis,
) -> None:
    config = faulty_redis.config()
    index = VectorIndex("docs", config=config, dims=2, metadata_fields={"tenant": "tag"})
    x, y = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    index.add(["a", "b", "c"], vectors=np.array([x, y, x + y]), ids=["a", "b", "c"],
              metadatas=[{"tenant": "t1"}, {"tenant": "t1"}, {"tenant": "t2"}])  # fmt: skip
    reads: list[tuple[Callable[[], Any], Any]] = [
        (lambda: [h.id for h in index.search(x, k=1)], ["a"]),
        (lambda: index.count(), 3),
        (lambda: sorted(h.id for h in index.find({"tenant": "t1"})), ["a", "b"]),
        (lambda: [h.id for h in index.text_search("b", k=1)], ["b"]),
        (lambda: [h.id for h in index.hybrid("b", vector=y, k=1)], ["b"]),
    ]
    for read, expected in reads:  # each read finds the index gone, not an empty one
        _drop_indexes(faulty_redis)
        assert read() == expected
    _drop_indexes(faulty_redis)
    assert [h.id for h in await index.asearch(y, k=1)] == ["b"]
    _drop_indexes(faulty_redis)
    assert await index.acount() == 3
    _drop_indexes(faulty_redis)  # an erase by tenant erases, it does not report 0
    assert index.delete_by_filter({"tenant": "t1"}) == 2
    assert [h.id for h in index.get(["a", "b", "c"])] == ["c"]
    _drop_indexes(faulty_redis)
    assert await index.adelete_by_filter({"tenant": "t2"}) == 1
    faulty_redis.restart()  # empty: nothing to find is then the true answer
    assert index.search(x, k=1) == [] and index.count() == 0
    await config.aclose()
    config.close()


async def test_a_fresh_object_rebuilds_an_index_dropped_before_it_first_used_it(
    faulty_redis: FaultyRedis,
) -> None:
    """Another process's object, new, finds the index dropped (documents kept): the
    index's record (kept beside the documents) says it was made, so the read rebuilds it
    and answers from the documents; it read "nothing found". Dropped through the pack,
    or never made: read as empty, nothing created."""
    configs = [faulty_redis.config() for _ in range(6)]
    x, y = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    VectorIndex("docs", config=configs[0], dims=2).add(["a", "b"], vectors=np.array([x, y]),
                                                       ids=["a", "b"])  # fmt: skip
    _drop_indexes(faulty_redis)
    assert [h.id for h in VectorIndex("docs", config=configs[1], dims=2).search(x, k=1)] == ["a"]
    _drop_indexes(faulty_redis)
    assert await VectorIndex("docs", config=configs[2], dims=2).acount() == 2
    VectorIndex("docs", config=configs[3], dims=2).drop(delete_documents=False)  # on purpose
    fresh = VectorIndex("docs", config=configs[4], dims=2)
    assert fresh.search(x, k=1) == [] and await fresh.acount() == 0 and not fresh.exists()
    never = VectorIndex("never", config=configs[5], dims=2)
    assert never.search(y, k=1) == [] and not never.exists()
    for config in configs:
        await config.aclose()
        config.close()


def test_a_dropped_index_still_rebuilding_raises_rather_than_answer_from_part(
    faulty_redis: FaultyRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = faulty_redis.config()
    index = VectorIndex("docs", config=config, dims=2)
    index.add(["a"], vectors=np.array([[1.0, 0.0]]))
    pipe = faulty_redis.admin().pipeline(transaction=False)
    vector = np.array([0.0, 1.0], dtype=np.float32).tobytes()
    for i in range(50_000):  # FT.CREATE takes these in over many event-loop turns
        pipe.hset(index.key(f"n{i}"), mapping={"text": "n", "embedding": vector})
    pipe.execute()
    _drop_indexes(faulty_redis)
    monkeypatch.setattr(lifecycle, "REBUILD_WAIT", 0.0)
    with pytest.raises(RedisUnavailableError, match="being rebuilt"):
        index.count()
    monkeypatch.setattr(lifecycle, "REBUILD_WAIT", 30.0)
    assert index.count() == 50_001  # the same object, once indexed
    config.close()


def test_a_runtime_user_without_ft_create_is_told_it_cannot_rebuild_a_dropped_index(
    faulty_redis: FaultyRedis,
) -> None:
    admin = faulty_redis.admin()
    VectorIndex("docs", config=faulty_redis.config("t1"), dims=2).add(
        ["a"], vectors=np.array([[1.0, 0.0]])
    )
    line = acl_setuser_command("app", "t1", index_admin=False,
                               server_commands=server_commands(admin))  # fmt: skip
    admin.execute_command(line + " >pw")
    config = RedisAgentConfig(url=f"redis://app:pw@127.0.0.1:{faulty_redis.port}/0",
                              namespace="t1", retries=0)  # fmt: skip
    index = VectorIndex("docs", config=config, dims=2)
    assert [h.text for h in index.search(np.array([1.0, 0.0]), k=1)] == ["a"]
    _drop_indexes(faulty_redis)
    with pytest.raises(RedisAgentError, match="may not create indexes") as info:
        index.search(np.array([1.0, 0.0]), k=1)
    assert isinstance(info.value.__cause__, redis.exceptions.NoPermissionError)
    admin.close()
    config.close()


@pytest.mark.parametrize("fault", ["oom", "readonly"])
async def test_add_refused_part_way_is_a_refused_write(
    faulty_redis: FaultyRedis, fault: str
) -> None:
    """A refusal after some batches were stored: a PartialWriteError that is also a
    RedisWriteRefusedError with its cause (the service answers redis_write_refused)."""
    config = faulty_redis.config()

    class RefusedMidway(VectorIndex):
        batches = 0

        def _batch(self, *args: Any, **kwargs: Any) -> Any:
            RefusedMidway.batches += 1
            if RefusedMidway.batches % 3 == 0:  # two batches confirmed, then the refusal
                if fault == "oom":
                    faulty_redis.fill_memory()
                else:
                    faulty_redis.make_read_only()
            return super()._batch(*args, **kwargs)

    index = RefusedMidway("docs", config=config, dims=2, batch_size=2, write_concurrency=1)
    vectors = np.array([[1.0, float(i)] for i in range(6)])
    ids = [f"p{i}" for i in range(6)]
    for add in (index.add, index.aadd):
        with pytest.raises(PartialWriteError) as info:
            result = add(["x"] * 6, ids=ids, vectors=vectors)
            if not isinstance(result, list):
                await result
        error = info.value
        assert isinstance(error, RedisWriteRefusedError) and error.cause == fault
        assert error.written_ids == ids[:4] and error.unconfirmed_ids == ids[4:]
        body = json.loads(bytes(redis_fault_response("POST", "/ingest", error).body))
        assert body["error"] == "redis_write_refused"
        faulty_redis.free_memory()
        faulty_redis.make_primary()
    await config.aclose()
    config.close()


async def test_a_dropped_index_reopened_with_other_dims_raises_rather_than_find_nothing(
    faulty_redis: FaultyRedis,
) -> None:
    """The index dropped behind the app (documents kept), then opened with other dims
    (a new embedder, no model on record): the read created the index over documents it
    cannot take, and every search answered [] with 2 documents in Redis."""
    config = faulty_redis.config()
    x = np.array([1.0, 0.0])
    VectorIndex("docs", config=config, dims=2).add(["a", "b"], vectors=np.array([x, x]))
    _drop_indexes(faulty_redis)
    wider = VectorIndex("docs", config=config, dims=3)
    with pytest.raises(SchemaMismatchError, match=r"2 documents .*\(dims="):
        wider.search(np.ones(3), k=1)
    with pytest.raises(SchemaMismatchError, match="do not fit its schema"):
        await wider.acount()  # every query, until fixed
    wider.drop(delete_documents=False)  # created again as they were written, it answers
    narrow = VectorIndex("docs", config=config, dims=2)
    narrow.create()
    assert sorted(_eventually(lambda: narrow.search(x, k=2), want=2)) == ["a", "b"]
    await config.aclose()
    config.close()
