"""Signed task messages: a worker with a task secret runs only messages signed with it."""

from __future__ import annotations

import bz2
import dataclasses
import datetime
import lzma
import math
import re
import time
import uuid
import zlib
from typing import Any

import kombu.compression
import pytest
from celery import Celery
from celery.signals import task_failure, task_retry

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.jsonvalues import find_unreadable
from redis_agent_core.tasks import (
    TaskSignatureError,
    get_batch_results,
    get_job,
    submit_batch,
    submit_ingestion,
    wait_for_job,
)
from redis_agent_core.tasks.app import create_app
from redis_agent_core.tasks.inflate import MAX_INFLATED_BYTES
from redis_agent_core.tasks.progress import create_job
from redis_agent_core.tasks.signing import check_queueable, sign_task, verify_task

from . import support
from .conftest import SECRET, _cleanup, running_worker
from .support import HashIndex

pytestmark = pytest.mark.usefixtures("worker")
TASK_SECRET = b"shared-task-secret"


@pytest.fixture(scope="module")
def task_app(task_config: RedisAgentConfig) -> Celery:
    return create_app(task_config, webhook_secret=SECRET, task_secret=TASK_SECRET)


def test_signatures_bind_the_task_name_and_every_argument() -> None:
    args = ["job", {"model": "echo", "model_kwargs": {"b": 1, "a": [1.5, None]}}, [{"id": "0"}]]
    sig = sign_task(TASK_SECRET, "rap.llm_batch", args)
    verify_task(TASK_SECRET, "rap.llm_batch", args, sig)
    reordered = [
        "job",
        {"model_kwargs": {"a": [1.5, None], "b": 1}, "model": "echo"},
        [{"id": "0"}],
    ]
    verify_task(TASK_SECRET, "rap.llm_batch", reordered, sig)  # dict order is not meaning
    altered = ["job", {**args[1], "model": "other"}, args[2]]
    for name, a, s in [
        ("rap.llm_batch", altered, sig),
        ("rap.ingest_batch", args, sig),
        ("rap.llm_batch", args, sign_task(b"another secret", "rap.llm_batch", args)),
        ("rap.llm_batch", args, None),
        ("rap.llm_batch", args, ""),
    ]:
        with pytest.raises(TaskSignatureError):
            verify_task(TASK_SECRET, name, a, s)


@pytest.mark.parametrize(
    "wire",
    [
        '["job1", {"model": "m", "user": NaN}, []]',
        '["job1", {"model": "m", "user": Infinity}, []]',
        '["job1", {"model": "m", "user": 1e999}, []]',
        '["job1", {"model": "m", "user": {"__type__": "decimal", "__value__": "1"}}, []]',
        '[{"__type__": "uuid", "__value__": {"hex": "3fa85f64-5717-4562-b3fc-2c963f66afa6"}},'
        ' {"model": "m", "user": null}, []]',
    ],
)
def test_values_that_would_sign_like_others_are_refused(wire: str) -> None:
    # NaN / Infinity / 1e999 signed like null, and kombu's decoded type markers like the
    # plain string: a captured message could be altered and still verify
    from kombu.utils.json import loads

    genuine = ["3fa85f64-5717-4562-b3fc-2c963f66afa6", {"model": "m", "user": None}, []]
    sig = sign_task(TASK_SECRET, "rap.llm_batch", genuine)
    if wire.startswith('["job1"'):
        sig = sign_task(TASK_SECRET, "rap.llm_batch", ["job1", {"model": "m", "user": None}, []])
    with pytest.raises(TaskSignatureError, match="altered"):
        verify_task(TASK_SECRET, "rap.llm_batch", loads(wire), sig)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (float("nan"), "nan at model_kwargs['t']"),
        (float("-inf"), "-inf at model_kwargs['t']"),
        ({"__type__": "uuid", "__value__": {"hex": "0" * 32}}, "'__type__' key"),
        (uuid.UUID(int=0), "a UUID object at model_kwargs['t']"),  # signed apps only
    ],
)
def test_submit_refuses_unsignable_arguments(
    task_app: Celery, task_config: RedisAgentConfig, value: Any, shown: str
) -> None:
    before = set(task_config.get_client().scan_iter(f"{task_config.namespace}:*"))
    with pytest.raises(ConfigError, match=re.escape(shown)):
        submit_batch(["x"], model="echo", model_kwargs={"t": value}, cache=False, app=task_app)
    after = set(task_config.get_client().scan_iter(f"{task_config.namespace}:*"))
    assert after == before  # nothing written, nothing queued
    with pytest.raises(ConfigError, match="cannot queue"):  # the signer refuses them too
        sign_task(TASK_SECRET, "rap.llm_batch", ["j", {"model_kwargs": {"t": value}}, []])


@dataclasses.dataclass
class _Point:
    x: float


def test_the_signer_and_the_json_checks_share_one_walk() -> None:
    # one walk finds NaN / inf (jsonvalues), kombu markers and objects (the signer)
    value = {"a": [1, {"b": math.inf}], "m": {"__type__": "uuid"}, "o": [_Point(math.nan)]}
    found = find_unreadable(value)
    assert found is not None and (found.kind, found.path) == ("non-finite", "['a'][1]['b']")
    found = find_unreadable({"m": {"__type__": "uuid"}}, marker="__type__")
    assert found is not None and (found.kind, found.path) == ("marker", "['m']")
    found = find_unreadable(value["o"], objects=True)  # a dataclass is no JSON type
    assert found is not None and (found.kind, found.path) == ("object", "[0]")
    found = find_unreadable(value["o"])  # ... but orjson encodes it: walked
    assert found is not None and (found.kind, found.path) == ("non-finite", "[0]['x']")
    with pytest.raises(ConfigError, match=re.escape("inf at payload['a'][1]['b']")):
        check_queueable(value, "payload", signed=False)
    with pytest.raises(ConfigError, match=re.escape("'__type__' key (a kombu type marker) at")):
        check_queueable(value["m"], "payload['m']", signed=False)
    with pytest.raises(ConfigError, match=re.escape("a _Point object at payload[0]")):
        check_queueable(value["o"], "payload", signed=True)


WHEN = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("metadata", "shown", "fix"),
    [
        ({"when": WHEN}, "a datetime object at items[1]['metadata']['when']", "isoformat()"),
        (
            {"refs": [{"id": uuid.UUID(int=7)}]},
            "object at items[1]['metadata']['refs'][0]['id']",
            "str(value)",
        ),
        # JSON has no such key: kombu's encoder raised TypeError when the message was
        # signed, after the job record was written
        ({"seen": {WHEN: 1}}, "the datetime key", "key.isoformat()"),
        ({"by": {uuid.UUID(int=7): "x"}}, "the UUID key UUID(", "str(key)"),
        ({"pages": {1: "intro"}}, "the int key 1 in items[1]['metadata']['pages']", "str keys"),
    ],
    ids=["datetime", "uuid", "datetime-key", "uuid-key", "int-key"],
)
def test_ingestion_metadata_json_cannot_carry_is_refused_before_the_job_exists(
    task_app: Celery, task_config: RedisAgentConfig, metadata: dict, shown: str, fix: str
) -> None:
    index = HashIndex("signed-meta", config=task_config)
    items = [{"id": "a", "text": "ok"}, {"id": "b", "text": "ok", "metadata": metadata}]
    job_id = f"meta-{uuid.uuid4().hex}"
    before = set(task_config.get_client().scan_iter(f"{task_config.namespace}:*"))
    with pytest.raises(ConfigError, match=re.escape(shown)) as caught:
        submit_ingestion(index, items, job_id=job_id, app=task_app)
    assert fix in str(caught.value) and "nothing was written" in str(caught.value)
    assert not task_config.get_client().exists(task_config.keys.job(job_id))  # no job record
    assert set(task_config.get_client().scan_iter(f"{task_config.namespace}:*")) == before


def test_the_signer_refuses_a_key_json_cannot_hold_with_a_config_error() -> None:
    # kombu's encoder raised a bare TypeError from inside sign_task
    with pytest.raises(ConfigError, match=re.escape("the datetime key")):
        sign_task(TASK_SECRET, "rap.ingest_batch", ["j", {}, [{"metadata": {WHEN: 1}}]])


def test_signed_jobs_run_end_to_end(task_app: Celery, task_config: RedisAgentConfig) -> None:
    job_id = submit_batch(["signed"], model="echo", cache=False, app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).status == "succeeded"
    assert get_batch_results(job_id, config=task_config)[0]["text"] == "SIGNED"
    index = HashIndex("signed", config=task_config)
    job_id = submit_ingestion(index, [{"id": "s1", "text": "ok"}], app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).status == "succeeded"


@pytest.mark.parametrize("how", ["unsigned", "other-secret", "altered"])
def test_a_message_not_signed_with_the_secret_does_nothing(
    task_app: Celery, task_config: RedisAgentConfig, how: str
) -> None:
    forged = f"forged-{uuid.uuid4().hex}"
    create_job(task_config, forged, kind="llm_batch", total=1)
    job = {"model": "echo", "model_kwargs": {}, "cache": False, "limiter": None}
    items = [{"id": "0", "prompt": f"forged {how}"}]
    args = [forged, job, items]
    if how == "unsigned":
        kwargs = {}
    elif how == "other-secret":
        kwargs = {"rap_signature": sign_task(b"attacker", "rap.llm_batch", args)}
    else:  # a genuine signature over other arguments
        genuine = sign_task(
            TASK_SECRET, "rap.llm_batch", [forged, job, [{"id": "0", "prompt": "x"}]]
        )
        kwargs = {"rap_signature": genuine}
    task_app.tasks["rap.llm_batch"].apply_async(args=args, kwargs=kwargs, ignore_result=True)
    # the solo worker takes messages in order: once a later signed job finished, the
    # forged one was handled (refused) before it
    marker = submit_batch(["after"], model="echo", cache=False, app=task_app)
    wait_for_job(marker, config=task_config, timeout=30)
    state = get_job(forged, config=task_config)
    assert (state.status, state.done, state.failed) == ("pending", 0, 0)
    assert support.CALLS[f"forged {how}"] == 0  # the model never saw the prompt


def test_unsigned_tasks_outside_the_signed_set_never_run(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # Celery's built-ins and rap.noop carry no signature: a broker writer without the
    # secret could otherwise queue them (chord_unlock re-queued itself forever)
    refused: list[tuple[str, BaseException]] = []
    retried: list[str] = []

    def on_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
        refused.append((sender.name, exception))

    def on_retry(sender: Any = None, **_: Any) -> None:
        retried.append(sender.name)

    task_failure.connect(on_failure, weak=False)
    task_retry.connect(on_retry, weak=False)
    try:
        task_app.send_task("rap.noop", args=["ran unsigned"])
        task_app.send_task("celery.accumulate", args=[1, 2])
        task_app.send_task(
            "celery.chord_unlock",
            args=["forged-group", {"task": "rap.noop", "args": [], "kwargs": {}, "options": {}}],
            kwargs={"result": [["never-finishes-1", None]], "interval": 0.1},
        )
        marker = submit_batch(["after builtins"], model="echo", cache=False, app=task_app)
        wait_for_job(marker, config=task_config, timeout=30)
        time.sleep(1.0)  # a chord_unlock that ran would have re-queued itself ~10 times
    finally:
        task_failure.disconnect(on_failure)
        task_retry.disconnect(on_retry)
    assert retried == []
    assert sorted(name for name, _ in refused) == [
        "celery.accumulate",
        "celery.chord_unlock",
        "rap.noop",
    ]
    assert all(isinstance(exc, TaskSignatureError) for _, exc in refused)


def test_without_a_secret_builtins_still_run(task_config: RedisAgentConfig) -> None:
    plain = create_app(task_config)
    assert plain.tasks["celery.accumulate"](1, 2) == (1, 2)
    assert plain.tasks["rap.noop"]("x") == "x"


def test_a_broker_writer_without_the_secret_cannot_control_the_workers(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # review 13: remote control (pidbox) is not a task: without the secret, an app on the
    # same broker pinged the worker, set rap.ingest_batch to 1/h and shut it down
    attacker = create_app(task_config)
    assert attacker.control.ping(timeout=1.0) == []
    assert attacker.control.rate_limit("rap.ingest_batch", "1/h", reply=True, timeout=1.0) == []
    attacker.control.shutdown()
    index = HashIndex("after-control", config=task_config)
    job_id = submit_ingestion(index, [{"id": "c1", "text": "ok"}], app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).status == "succeeded"
    # an app that wants remote control back says so
    assert task_app.conf.worker_enable_remote_control is False
    kept = create_app(task_config, task_secret=TASK_SECRET, worker_enable_remote_control=True)
    assert kept.conf.worker_enable_remote_control is True
    assert attacker.conf.worker_enable_remote_control is True  # no secret: Celery's default


def _bombs(size: int) -> dict[str, bytes]:
    zeros = b"\0" * size
    return {
        "application/x-gzip": zlib.compress(zeros, 9),
        "application/x-bz2": bz2.compress(zeros, 9),
        "application/x-lzma": lzma.compress(zeros),
    }


def test_a_compressed_message_cannot_inflate_past_the_cap(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    # review 13: kombu inflates a message by its `compression` header before any
    # signature check: a 1 KB bz2 message from a broker writer without the secret took
    # a worker to 4.7 GB; a few KB more, out of memory (and redelivered, again and again)
    over = MAX_INFLATED_BYTES + 1
    for content_type, bomb in _bombs(over).items():
        assert len(bomb) < over // 100  # what makes it a bomb
        with pytest.raises(ValueError, match="more than"):
            kombu.compression.decompress(bomb, content_type)
        # multi-stream: many small streams add up
        half = _bombs(over // 2 + 1)[content_type]
        if content_type != "application/x-gzip":  # zlib reads one stream, as before
            with pytest.raises(ValueError, match="more than"):
                kombu.compression.decompress(half + half, content_type)
    # what a compressing app sends still arrives as sent
    body = b'{"a": [1, 2, 3]}' * 1000
    for content_type in _bombs(1):
        encoder, _ = kombu.compression.get_encoder(content_type)
        assert kombu.compression.decompress(encoder(body), content_type) == body
    # end to end: the bomb is dropped and the worker goes on with signed work
    with task_app.connection_for_write() as conn:
        conn.Producer().publish(
            _bombs(over)["application/x-bz2"],
            routing_key="rap",
            exchange="rap",
            content_type="application/json",
            content_encoding="utf-8",
            headers={"compression": "application/x-bz2", "task": "rap.noop", "id": "bomb"},
        )
    index = HashIndex("after-bomb", config=task_config)
    job_id = submit_ingestion(index, [{"id": "b1", "text": "ok"}], app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).status == "succeeded"


def test_a_rotated_secret_still_runs_what_the_old_one_signed(redis_url: str) -> None:
    # a queue of its own: the module's worker (another secret) must not take these
    config = RedisAgentConfig(url=redis_url, namespace="rot" + uuid.uuid4().hex[:10])
    old, new = b"secret-before-rotation", b"secret-after-rotation"
    before = create_app(config, task_secret=old)
    queued = submit_batch(["queued before"], model="echo", cache=False, app=before)
    # the switch: sign with the new secret, still accept the old one. On main, every
    # message queued (or retried, redelivered) before it was refused: its job pending forever
    rotated = create_app(config, task_secret=new, task_secret_fallbacks=[old])
    attacker = create_app(config, task_secret=b"attacker")
    try:
        with running_worker(rotated):
            assert wait_for_job(queued, config=config, timeout=30).status == "succeeded"
            forged = submit_batch(["forged at rotation"], model="echo", cache=False, app=attacker)
            after = submit_batch(["signed after"], model="echo", cache=False, app=rotated)
            assert wait_for_job(after, config=config, timeout=30).status == "succeeded"
        assert get_job(forged, config=config).status == "pending"  # refused, untouched
        assert support.CALLS["forged at rotation"] == 0
        # the rotated app signs with the new secret only: once the fallback is dropped,
        # its messages still run, and the old secret's no longer do
        args = ["j", {"model": "echo"}, []]
        verify_task(
            rotated.task_secrets, "rap.llm_batch", args, sign_task(old, "rap.llm_batch", args)
        )
        verify_task(
            (new,), "rap.llm_batch", args, sign_task(rotated.task_secret, "rap.llm_batch", args)
        )
        with pytest.raises(TaskSignatureError):
            verify_task((new,), "rap.llm_batch", args, sign_task(old, "rap.llm_batch", args))
    finally:
        _cleanup(redis_url, config.namespace)
        config.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"task_secret_fallbacks": ["old"]}, "without a task_secret"),
        ({"task_secret": "new", "task_secret_fallbacks": "old"}, "not old_secret"),
        ({"task_secret": "new", "task_secret_fallbacks": [""]}, "non-empty"),
    ],
)
def test_task_secret_fallbacks_are_checked(
    task_config: RedisAgentConfig, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        create_app(task_config, **kwargs)


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("task_secert", "task_secret"),
        ("task_secret_fallback", "task_secret_fallbacks"),
        ("webhook_alow", "webhook_allow"),
        ("visibility_timout", "visibility_timeout"),
        ("CELERY_ACCEPT_CONTENT", "accept_content"),
    ],
)
def test_a_misspelt_keyword_is_refused_not_kept_as_a_celery_setting(
    task_config: RedisAgentConfig, name: str, meant: str
) -> None:
    # Celery keeps any key: on main create_app(task_secert=...) built an app that signed
    # nothing, and its workers ran every message
    with pytest.raises(ConfigError, match=f"did you mean '{meant}'"):
        create_app(task_config, **{name: "x"})
    assert create_app(task_config, broker_pool_limit=3).conf.broker_pool_limit == 3
