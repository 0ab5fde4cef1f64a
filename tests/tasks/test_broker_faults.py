"""A submit whose broker (a separate server, the documented ``broker_url=`` setting)
fails leaves no job that looks live: nothing queued, the record is gone and the id free;
partly queued, the rest is marked failed and the job ends with its webhook."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from celery import Celery

from redis_agent_core.acl import acl_setuser_command, server_commands
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, RedisUnavailableError, RedisWriteRefusedError
from redis_agent_core.tasks import (
    get_job,
    job_failures,
    submit_batch,
    submit_ingestion,
    wait_for_job,
)
from redis_agent_core.tasks.app import create_app
from redis_agent_core.tasks.progress import JobNotFoundError
from tests.faults import FaultyRedis

from .conftest import SECRET, Hook, running_worker
from .support import HashIndex


@pytest.fixture
def broker_app(task_config: RedisAgentConfig, faulty_redis: FaultyRedis) -> Iterator[Celery]:
    """The job store on the session's Redis, the broker on a server the test breaks."""
    app = create_app(
        task_config,
        webhook_secret=SECRET,
        webhook_allow="127.0.0.1",
        broker_url=faulty_redis.url,
        result_backend=None,
        broker_connection_timeout=1,
    )
    yield app
    app.close()


def _queued(faulty_redis: FaultyRedis) -> int:
    """Messages waiting on the broker (its queues are lists)."""
    admin = faulty_redis.admin()
    try:
        return sum(admin.llen(k) for k in admin.scan_iter() if admin.type(k) == b"list")
    finally:
        admin.close()


def _items(n: int) -> list[dict[str, str]]:
    return [{"id": f"d{i}", "text": f"doc {i} " + "x" * 200} for i in range(n)]


@pytest.mark.parametrize("fault", ["down", "oom", "readonly"])
def test_a_submit_the_broker_fails_leaves_no_job_and_the_id_can_be_retried(
    broker_app: Celery, task_config: RedisAgentConfig, faulty_redis: FaultyRedis, fault: str
) -> None:
    faults: dict[str, tuple[Callable[[], None], Callable[[], None]]] = {
        "down": (faulty_redis.kill, faulty_redis.restart),
        "oom": (faulty_redis.fill_memory, faulty_redis.free_memory),
        "readonly": (faulty_redis.make_read_only, faulty_redis.make_primary),
    }
    index = HashIndex(f"bf-{fault}", config=task_config)
    job_id, batch_id = f"retry-me-{fault}", f"retry-batch-{fault}"
    do, undo = faults[fault]
    do()
    error = RedisUnavailableError if fault == "down" else RedisWriteRefusedError
    with pytest.raises(error, match="Nothing was queued") as info:
        submit_ingestion(index, _items(5), batch_size=2, job_id=job_id, app=broker_app)
    with pytest.raises(error, match="Nothing was queued"):
        submit_batch(["a", "b"], model="echo", job_id=batch_id, app=broker_app)
    if fault != "down":  # a refusal is named as one, with its cause, not "unreachable"
        assert isinstance(info.value, RedisWriteRefusedError) and info.value.cause == fault
        assert "unreachable" not in str(info.value)
    for gone in (job_id, batch_id):
        with pytest.raises(JobNotFoundError):
            get_job(gone, config=task_config)
    undo()
    assert submit_ingestion(index, _items(5), batch_size=2, job_id=job_id, app=broker_app)
    assert submit_batch(["a", "b"], model="echo", job_id=batch_id, app=broker_app)
    assert _queued(faulty_redis) == 3 + 1
    assert get_job(job_id, config=task_config).status == "pending"


def test_a_submit_the_broker_refuses_part_way_ends_partial_with_its_webhook(
    broker_app: Celery, task_config: RedisAgentConfig, faulty_redis: FaultyRedis, hook: Hook
) -> None:
    admin = faulty_redis.admin()
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory-policy", "noeviction")  # room for part of the messages
    admin.config_set("maxmemory", used + 256 * 1024)
    admin.close()
    index = HashIndex("bf-partial", config=task_config)
    items = _items(400)
    with pytest.raises(RedisWriteRefusedError, match="items were queued under job") as info:
        submit_ingestion(
            index, items, batch_size=1, job_id="partial", webhook=hook.url, app=broker_app
        )
    queued = _queued(faulty_redis)
    assert 0 < queued < len(items)
    assert f"{queued} of {len(items)} items were queued" in str(info.value)
    job = get_job("partial", config=task_config)
    assert (job.status, job.total, job.failed) == ("running", len(items), len(items) - queued)
    assert set(job_failures("partial", config=task_config)) == {
        item["id"] for item in items[queued:]
    }
    faulty_redis.free_memory()
    with running_worker(broker_app):  # the queued items are done: the job ends, hook fires
        job = wait_for_job("partial", config=task_config, timeout=60)
        (sent,) = hook.wait(1)
    assert (job.status, job.done, job.failed) == ("partial", queued, len(items) - queued)
    assert orjson.loads(sent["body"])["status"] == "partial"


# transport options of one's own (kombu's Sentinel form takes them: create_app's own
# hint) replaced the pack's whole dict, key prefix included: the queue and results
# left the namespace (a root "rap" list shared by every namespace), refused to its
# ACL user; they are merged now
OWN_TRANSPORT = {
    "broker_transport_options": {"health_check_interval": 25},
    "result_backend_transport_options": {"retry_policy": {"max_retries": 1}},
}


@pytest.mark.parametrize("extra", [{}, OWN_TRANSPORT], ids=["defaults", "own_transport_options"])
def test_the_least_privilege_user_runs_the_task_queue(
    faulty_redis: FaultyRedis, extra: dict[str, Any]
) -> None:
    """As the user `redis-agent acl` prints (docs/operations.md, Least privilege), a job
    is queued, run by a worker and reported, all in the namespace. Before, the worker
    died at start ("Unrecoverable error": kombu's SCRIPT LOAD was refused) and every
    job stayed pending. Celery's remote control stays off: its fan-out subscribes to a
    channel pattern, which ACL channel rules match literally."""
    admin = faulty_redis.admin()
    line = acl_setuser_command(
        "app", "tq-acl", search=False, server_commands=server_commands(admin)
    )
    admin.execute_command(line + " >pw")
    url = f"redis://app:pw@127.0.0.1:{faulty_redis.port}"
    config = RedisAgentConfig(url=url, namespace="tq-acl")
    # what kombu sends after NOSCRIPT (refused, the worker died and the test would hang)
    config.get_client().script_load("return 1")
    app = create_app(config, webhook_secret=SECRET, worker_enable_remote_control=False, **extra)
    index = HashIndex("docs", config=config)
    with running_worker(app):
        job_id = submit_ingestion(index, _items(3), batch_size=2, app=app)
        assert wait_for_job(job_id, config=config, timeout=20).status == "succeeded"
    assert not [k for k in admin.keys("*") if not k.startswith(b"tq-acl:")]
    assert not admin.acl_log()  # nothing was refused
    app.close()
    config.close()
    admin.close()


@pytest.mark.parametrize("setting", ["broker_url", "result_backend"])
@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3/cret@127.0.0.1:1/0",
        "redis://:s3@cret?x@127.0.0.1:1/0",
        "redis://127.0.0.1:1/0;redis://:s3#cret@127.0.0.1:2/0",
    ],
)
def test_a_broker_url_whose_password_kombu_would_split_is_refused_showing_no_piece(
    task_config: RedisAgentConfig, setting: str, url: str
) -> None:
    """left26: kombu read a piece of such a password as the port (its ValueError at the
    first submit said "...as 's3'") or the host ("connecting to cret:6379")."""
    with pytest.raises(ConfigError, match="percent-encode") as refused:
        create_app(task_config, **{setting: url})
    assert "s3" not in str(refused.value) and "cret" not in str(refused.value)
    assert setting in str(refused.value)


@pytest.mark.parametrize("urls", [list, tuple])
def test_a_failover_list_of_broker_urls_with_a_split_password_is_refused(
    task_config: RedisAgentConfig, urls: type
) -> None:
    """review26: Celery takes broker_url as a list of failover URLs too (kombu's
    Connection does); a list was not checked, and the first submit said "...as 's3'"."""
    given = urls(["redis://127.0.0.1:1/0", "redis://:s3/cret@127.0.0.1:2/0"])
    with pytest.raises(ConfigError, match="percent-encode") as refused:
        create_app(task_config, broker_url=given)
    assert "s3" not in str(refused.value) and "cret" not in str(refused.value)
    assert "broker_url" in str(refused.value)


@pytest.mark.parametrize(
    ("setting", "refused"),
    [
        ({"visibility_timeout": float("nan")}, "visibility_timeout must be a finite number"),
        ({"visibility_timeout": float("inf")}, "visibility_timeout must be a finite number"),
        ({"visibility_timeout": "3600"}, "visibility_timeout must be a finite number"),
        ({"visibility_timeout": True}, "visibility_timeout must be a finite number"),
        (
            {"broker_transport_options": {"visibility_timeout": 60}},
            "create_app\\(visibility_timeout",
        ),
        ({"broker_transport_options": {"global_keyprefix": "x:"}}, "namespace="),
        ({"result_backend_transport_options": {"global_keyprefix": "x:"}}, "namespace="),
        ({"broker_transport_options": [("a", 1)]}, "must be a dict"),
    ],
)
def test_settings_the_broker_would_misread_are_refused(
    task_config: RedisAgentConfig, setting: dict[str, Any], refused: str
) -> None:
    """A NaN visibility_timeout passed (``nan <= 0`` is false) and kombu's restore sweep
    then asked Redis for scores below NaN; inf never gave a dead worker's message back; a
    str raised a bare TypeError. A visibility_timeout in the transport options was not
    create_app's (whose own one then said nothing), and a key prefix of one's own took
    the queue out of the namespace."""
    with pytest.raises(ConfigError, match=refused):
        create_app(task_config, **setting)
