"""Background ingestion through the in-process worker: progress, idempotency, failures."""

from __future__ import annotations

import datetime
import time
import types

import orjson
import pytest
from celery import Celery

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError
from redis_agent_core.tasks import Webhook, get_job, job_failures, submit_ingestion, wait_for_job
from redis_agent_core.tasks.app import create_app
from redis_agent_core.tasks.progress import JobNotFoundError, create_job, mark_items
from redis_agent_core.vectors import VectorIndex

from .conftest import Hook
from .support import HashIndex

pytestmark = pytest.mark.usefixtures("worker")


def _items(n: int, bad: set[int] | None = None) -> list[dict]:
    bad = bad or set()
    return [
        {"id": f"d{i}", "text": ("BAD " if i in bad else "") + f"doc {i}", "metadata": {"n": i}}
        for i in range(n)
    ]


def test_ingestion_reports_progress_and_writes_every_document(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    index = HashIndex("a", config=task_config)
    job_id = submit_ingestion(index, _items(150), batch_size=64, app=task_app)
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.kind, job.status, job.total, job.done, job.failed) == (
        "ingest",
        "succeeded",
        150,
        150,
        0,
    )
    assert job.meta == {"index": "a"}
    client = task_config.get_client()
    assert client.hget(index.key("d149"), "text") == b"doc 149"
    assert client.hget(index.key("d7"), "n") == b"7"


def test_resubmitting_is_idempotent_by_document_id(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    index = HashIndex("b", config=task_config)
    first = submit_ingestion(index, _items(20), app=task_app)
    wait_for_job(first, config=task_config, timeout=30)
    second = submit_ingestion(index, _items(20), app=task_app)
    assert wait_for_job(second, config=task_config, timeout=30).done == 20
    keys = list(task_config.get_client().scan_iter(match=index.key("d*")))
    assert len(keys) == 20  # overwritten by id, not duplicated


def test_bad_documents_fail_alone_with_their_error(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    index = HashIndex("c", config=task_config)
    job_id = submit_ingestion(index, _items(10, bad={3, 7}), batch_size=5, app=task_app)
    job = wait_for_job(job_id, config=task_config, timeout=30)
    assert (job.status, job.done, job.failed) == ("partial", 8, 2)
    failures = job_failures(job_id, config=task_config)
    assert set(failures) == {"d3", "d7"}
    assert "refusing document text" in failures["d3"]
    assert task_config.get_client().exists(index.key("d4"))  # its batch-mates made it


def test_completion_webhook_carries_the_job_summary(
    task_app: Celery, task_config: RedisAgentConfig, hook: Hook
) -> None:
    index = HashIndex("d", config=task_config)
    job_id = submit_ingestion(index, _items(5), webhook=hook.url, app=task_app)
    (req,) = hook.wait(1)
    body = orjson.loads(req["body"])
    assert body["event"] == "job.finished" and body["job_id"] == job_id
    assert (body["done"], body["total"], body["status"]) == (5, 5, "succeeded")
    assert req["headers"]["Idempotency-Key"] == f"job-{job_id}"
    deadline_job = get_job(job_id, config=task_config)
    for _ in range(100):
        if deadline_job.webhook == "delivered":
            break
        deadline_job = get_job(job_id, config=task_config)
    assert deadline_job.webhook == "delivered"


def _wait_webhook_state(config: RedisAgentConfig, job_id: str, state: str) -> None:
    for _ in range(200):
        if get_job(job_id, config=config).webhook == state:
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} webhook never became {state!r}")


def test_redelivery_after_finishing_sends_the_lost_completion_webhook(
    task_app: Celery, task_config: RedisAgentConfig, hook: Hook
) -> None:
    # the worker that finished the job died between marking the last item and
    # queueing the webhook: replay that state, then redeliver the batch
    job_id = "killed-before-notify"
    create_job(task_config, job_id, kind="ingest", total=2, webhook=Webhook(hook.url).to_dict())
    assert mark_items(task_config, job_id, ["d0", "d1"]).finished
    job = {"index": "hash_index", "spec": {"name": "h"}, "embedder": None}
    rows = [{"id": f"d{i}", "text": f"doc {i}", "metadata": {}} for i in range(2)]
    task = task_app.tasks["rap.ingest_batch"]
    assert task.apply(args=[job_id, job, rows]).get() == 0  # nothing re-added
    (req,) = hook.wait(1)
    assert req["headers"]["Idempotency-Key"] == f"job-{job_id}"
    assert orjson.loads(req["body"])["status"] == "succeeded"
    _wait_webhook_state(task_config, job_id, "delivered")
    task.apply(args=[job_id, job, rows]).get()  # once queued, never again
    time.sleep(0.3)
    assert len(hook.requests) == 1


def test_a_message_for_an_unknown_job_writes_nothing(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    job = {"index": "hash_index", "spec": {"name": "forged"}, "embedder": None}
    rows = [{"id": "f0", "text": "forged doc", "metadata": {}}]
    with pytest.raises(JobNotFoundError, match="no-such-job"):
        task_app.tasks["rap.ingest_batch"].apply(args=["no-such-job", job, rows]).get()
    assert not task_config.get_client().exists(HashIndex("forged", config=task_config).key("f0"))


def test_empty_job_finishes_at_once(task_app: Celery, task_config: RedisAgentConfig) -> None:
    job_id = submit_ingestion(HashIndex("e", config=task_config), [], app=task_app)
    assert get_job(job_id, config=task_config).status == "succeeded"


def test_invalid_input_is_rejected_before_queueing(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    index = HashIndex("f", config=task_config)
    with pytest.raises(ConfigError, match="twice"):
        submit_ingestion(index, [{"id": "x", "text": "a"}, {"id": "x", "text": "b"}], app=task_app)
    with pytest.raises(ConfigError, match="text"):
        submit_ingestion(index, [{"id": "x"}], app=task_app)
    with pytest.raises(ConfigError, match="from_spec"):
        submit_ingestion(object(), [], app=task_app)
    # review 18: refused by the job script after its HSET, which left the record
    # pending and never expiring
    for ttl in (float("nan"), 10**20):
        with pytest.raises(ConfigError, match="job_ttl must be a finite number"):
            submit_ingestion(index, [], job_id=f"ttl-{ttl}", job_ttl=ttl, app=task_app)
        with pytest.raises(JobNotFoundError):
            get_job(f"ttl-{ttl}", config=task_config)
    with pytest.raises(ConfigError, match="batch_size must be an int"):
        submit_ingestion(index, [{"id": "x", "text": "a"}], batch_size=2.5, app=task_app)


def test_submit_with_redis_down_is_a_typed_error(tmp_path) -> None:
    dead = RedisAgentConfig(url=f"unix://{tmp_path}/none.sock", retries=0)
    app = create_app(dead)
    with pytest.raises(RedisUnavailableError):
        submit_ingestion(HashIndex("g", config=dead), [{"id": "a", "text": "t"}], app=app)


@pytest.mark.parametrize(
    "metadata",
    [
        {"when": {"__type__": "datetime", "__value__": "2020-01-01T00:00:00"}},
        {"deep": [{"__type__": "bytes", "__value__": "aGk=", "__bytes_encoding__": "base64"}]},
        {"score": float("nan")},
        {1: "one"},  # JSON's keys are strings: it would be stored as "1"
        # kombu cannot encode a datetime key: EncodeError on send, after the job existed
        {"seen": {datetime.datetime(2020, 1, 1): True}},
        # nor a set, a dataclass or a mapping proxy: the same EncodeError, as late
        {"tags": {"a", "b"}},
        {"origin": [types.MappingProxyType({"a": 1})]},
    ],
)
def test_metadata_the_worker_would_decode_differently_is_refused_at_submit(
    task_app: Celery, task_config: RedisAgentConfig, metadata: dict
) -> None:
    # kombu's decoder on the worker turns {"__type__": ...} dicts into objects: the stored
    # metadata would silently differ from what was submitted
    index = HashIndex("kombu-markers", config=task_config)
    items = _items(2)
    items[1]["metadata"] = metadata
    before = set(task_config.get_client().scan_iter(f"{task_config.namespace}:*"))
    with pytest.raises(ConfigError, match=r"items\[1\]\['metadata'\]"):
        submit_ingestion(index, items, app=task_app)
    assert set(task_config.get_client().scan_iter(f"{task_config.namespace}:*")) == before


def test_a_vector_of_another_dimension_is_refused_at_submit(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # it was queued, and each of its items failed on the worker: the submitter saw nothing
    index = VectorIndex("dims", config=task_config, dims=4)
    items = [{"id": "ok", "text": "a", "vector": [0.1] * 4}, {"id": "short", "text": "b",
             "vector": [0.1] * 3}]  # fmt: skip
    before = set(task_config.get_client().scan_iter(f"{task_config.namespace}:*"))
    with pytest.raises(ConfigError, match=r"item 1 \('short'\).*3 dimensions.*takes 4"):
        submit_ingestion(index, items, app=task_app)
    assert set(task_config.get_client().scan_iter(f"{task_config.namespace}:*")) == before
