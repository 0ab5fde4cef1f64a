"""Job progress records: idempotent marking, one finisher, typed errors (no worker)."""

from __future__ import annotations

import threading

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError, RedisUnavailableError
from redis_agent_core.tasks import (
    JobNotFoundError,
    JobTimeoutError,
    aget_job,
    get_job,
    job_failures,
    wait_for_job,
)
from redis_agent_core.tasks.progress import create_job, mark_items


def test_items_count_once_and_exactly_one_call_finishes(config: RedisAgentConfig) -> None:
    create_job(config, "j1", kind="test", total=40)
    assert get_job("j1", config=config).status == "pending"
    finishers: list[bool] = []

    def work(ids: list[str]) -> None:
        for i in ids:  # every item reported twice, from racing threads
            finishers.append(mark_items(config, "j1", [i], ok=True, values=[f"r{i}"]).finished)

    ids = [str(i) for i in range(40)]
    threads = [threading.Thread(target=work, args=(ids,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    job = get_job("j1", config=config)
    assert (job.done, job.failed, job.total, job.status) == (40, 0, 40, "succeeded")
    assert finishers.count(True) == 1
    assert job.finished and job.fraction == 1.0 and job.finished_at is not None


def test_results_are_written_once_and_failures_kept(config: RedisAgentConfig) -> None:
    create_job(config, "j2", kind="test", total=3)
    mark_items(config, "j2", ["a"], ok=True, values=["first"])
    assert mark_items(config, "j2", ["a"], ok=True, values=["second"]).added == 0
    assert mark_items(config, "j2", ["a"], ok=False, values=["late error"]).added == 0
    assert config.get_client().hget(config.keys.job_result("j2"), "a") == b"first"
    r = mark_items(config, "j2", ["b"], ok=False, values=["bad input"])
    assert not r.finished and r.status == "running"
    assert mark_items(config, "j2", ["c"], ok=True).status == "partial"
    assert job_failures("j2", config=config) == {"b": "bad input"}
    job = get_job("j2", config=config)
    assert (job.done, job.failed) == (2, 1)


def test_all_failed_is_failed_and_keys_share_the_ttl(config: RedisAgentConfig) -> None:
    create_job(config, "j3", kind="test", total=1, ttl=100)
    assert mark_items(config, "j3", ["x"], ok=False, values=["e"]).status == "failed"
    client = config.get_client()
    for key in (config.keys.job_items("j3", "failed"), config.keys.job_errors("j3")):
        assert 0 < client.ttl(key) <= 100


async def test_unknown_job_and_wait_timeout_are_typed(aconfig: RedisAgentConfig) -> None:
    with pytest.raises(JobNotFoundError, match="nope"):
        get_job("nope", config=aconfig)
    with pytest.raises(JobNotFoundError):
        await aget_job("nope", config=aconfig)
    with pytest.raises(JobNotFoundError):
        mark_items(aconfig, "nope", ["a"])
    create_job(aconfig, "j4", kind="test", total=2)
    with pytest.raises(JobTimeoutError, match="worker running"):
        wait_for_job("j4", config=aconfig, timeout=0.1)
    assert (await aget_job("j4", config=aconfig)).remaining == 2


def test_redis_down_is_a_typed_error(tmp_path) -> None:
    cfg = RedisAgentConfig(url=f"unix://{tmp_path}/none.sock", retries=0)
    with pytest.raises(RedisUnavailableError, match="reading job"):
        get_job("j", config=cfg)
    with pytest.raises(RedisUnavailableError, match="creating job"):
        create_job(cfg, "j", kind="x", total=1)


@pytest.mark.cluster
def test_progress_script_is_cluster_safe(cluster_config: RedisAgentConfig) -> None:
    create_job(cluster_config, "c1", kind="test", total=2)
    mark_items(cluster_config, "c1", ["a", "b"], ok=True, values=["1", "2"])
    assert get_job("c1", config=cluster_config).status == "succeeded"


def test_a_damaged_job_record_is_data_corruption(config: RedisAgentConfig) -> None:
    # was the parsers' own ValueError / JSONDecodeError
    from redis_agent_core.tasks import get_batch_results

    client = config.get_client()
    for field, value in (("total", "many"), ("meta", "{not json"), ("meta", "[1, 2]")):
        create_job(config, f"bad-{field}-{value}", kind="test", total=1)
        client.hset(config.keys.job(f"bad-{field}-{value}"), field, value)
        with pytest.raises(DataCorruptionError, match=f"job 'bad-{field}"):
            get_job(f"bad-{field}-{value}", config=config)
    create_job(config, "bad-result", kind="test", total=1)
    client.hset(config.keys.job_result("bad-result"), "0", "{not json")
    with pytest.raises(DataCorruptionError, match="prompt 0 of job 'bad-result'"):
        get_batch_results("bad-result", config=config)


def test_a_batch_job_record_saying_more_prompts_than_a_batch_takes_is_not_read(
    config: RedisAgentConfig,
) -> None:
    # attack27: get_batch_results trusted the record's total: a forged 10^12 was one HMGET
    # of 10^12 fields (the reader's memory, for good); a batch takes at most MAX_PROMPTS
    from redis_agent_core.tasks import get_batch_results, submit_batch
    from redis_agent_core.tasks.batch import MAX_PROMPTS

    for total in (MAX_PROMPTS + 1, -1):
        create_job(config, f"huge{total}", kind="llm_batch", total=1)
        config.get_client().hset(config.keys.job(f"huge{total}"), "total", total)
        with pytest.raises(DataCorruptionError, match=f"job 'huge{total}' says {total} prompts"):
            get_batch_results(f"huge{total}", config=config)
    with pytest.raises(ConfigError, match="several batches"):
        submit_batch(["hi"] * (MAX_PROMPTS + 1), model="m", config=config)


def test_a_job_whose_item_record_was_evicted_is_never_reported_finished(
    config: RedisAgentConfig,
) -> None:
    # an evicting maxmemory-policy drops the set of done items (eviction is the server's
    # DEL); a worker then reports an item again (a redelivery): before, it was counted
    # again and the job read "succeeded" 3/3 with item c never run
    create_job(config, "j-ev", kind="test", total=3)
    mark_items(config, "j-ev", ["a", "b"], ok=True)
    config.get_client().delete(config.keys.job_items("j-ev", "done"))
    with pytest.raises(DataCorruptionError, match="lost the record of which items finished"):
        mark_items(config, "j-ev", ["b"], ok=True)
    job = get_job("j-ev", config=config)
    assert (job.done, job.status) == (2, "running")
