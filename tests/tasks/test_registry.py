"""Workers run only what they registered: a message naming code runs nothing and
imports nothing, whatever it names and however it reached the broker."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from celery import Celery
from celery.signals import task_rejected
from kombu.exceptions import ContentDisallowed

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import DEFAULT_MODEL_NAME, CallableEmbedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks import (
    NotRegisteredError,
    create_app,
    get_batch_results,
    get_job,
    job_failures,
    register_embedder,
    register_index,
    register_model,
    registered,
    submit_batch,
    submit_ingestion,
    wait_for_job,
)
from redis_agent_core.tasks.progress import create_job
from redis_agent_core.tasks.registry import index_name_for, resolve, unregister
from redis_agent_core.vectors import VectorIndex

from .support import HashIndex

pytestmark = pytest.mark.usefixtures("worker")

SENTINEL = "tests.tasks.never_imported"


@pytest.fixture
def no_system(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """os.system replaced by a recorder: the in-process worker shares this process."""
    calls: list[Any] = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    return calls


def _raw(app: Celery, task: str, config: RedisAgentConfig, job_id: str, job: dict, items: list):
    """What an attacker with broker access sends: a hand-made message, no submit_*."""
    create_job(config, job_id, kind=task, total=len(items))
    app.tasks[task].apply_async(args=[job_id, job, items], ignore_result=True)
    return wait_for_job(job_id, config=config, timeout=30)


@pytest.mark.parametrize(
    "field",
    [
        {"model": "os:system"},
        {"model": f"{SENTINEL}:run"},
        {"model": "echo", "limiter": f"{SENTINEL}:run"},
        {"model": "echo", "cache": f"{SENTINEL}:run"},
        {"model": "echo", "limiter": "os:system"},
    ],
    ids=["model-os-system", "model-module", "limiter", "cache", "limiter-os-system"],
)
def test_a_batch_message_naming_code_fails_and_imports_nothing(
    task_app: Celery, task_config: RedisAgentConfig, no_system: list[Any], field: dict
) -> None:
    assert SENTINEL not in sys.modules
    job = {"model_kwargs": {}, "cache": False, "limiter": None, **field}
    job_id = f"raw-{uuid.uuid4().hex}"
    items = [{"id": "0", "prompt": "echo pwned"}, {"id": "1", "prompt": "x"}]
    done = _raw(task_app, "rap.llm_batch", task_config, job_id, job, items)
    assert (done.status, done.failed) == ("failed", 2)
    error = job_failures(job_id, config=task_config)["0"]
    assert "is not registered on this worker" in error
    assert "import paths are never imported" in error
    assert SENTINEL not in sys.modules
    assert no_system == []
    assert get_batch_results(job_id, config=task_config) == [None, None]


@pytest.mark.parametrize(
    "field",
    [
        {"index": f"{SENTINEL}:Index"},
        {"index": "os:system"},
        {"index": "hash_index", "embedder": f"{SENTINEL}:run"},
    ],
    ids=["index-module", "index-os-system", "embedder"],
)
def test_an_ingest_message_naming_code_fails_and_imports_nothing(
    task_app: Celery, task_config: RedisAgentConfig, no_system: list[Any], field: dict
) -> None:
    job = {"index": "hash_index", "spec": {"name": "raw"}, "embedder": None, **field}
    job_id = f"raw-ingest-{uuid.uuid4().hex}"
    items = [{"id": "d0", "text": "t", "metadata": {}}]
    done = _raw(task_app, "rap.ingest_batch", task_config, job_id, job, items)
    assert (done.status, done.failed) == ("failed", 1)
    assert "is not registered on this worker" in job_failures(job_id, config=task_config)["d0"]
    assert SENTINEL not in sys.modules
    assert no_system == []
    assert not task_config.get_client().exists(f"{task_config.namespace}:testidx:raw:d0")


class _CreatesAFile:
    """Unpickling this creates ``path``: what a pickle on the broker could do."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "x"))


def test_a_pickled_message_is_refused_and_never_unpickled(
    task_app: Celery, task_config: RedisAgentConfig, tmp_path: Any
) -> None:
    # accept_content=["json"]: a broker writer sending pickle (Celery's serializer for
    # "application/x-python-serialize") reaches a worker that refuses to decode it
    target = tmp_path / "unpickled"
    rejected: list[tuple[str, BaseException]] = []

    def on_rejected(sender: Any = None, message: Any = None, exc: Any = None, **_: Any) -> None:
        rejected.append((message.content_type, exc))

    task_rejected.connect(on_rejected, weak=False)
    try:
        task_app.send_task("rap.noop", args=[_CreatesAFile(str(target))], serializer="pickle")
        deadline = time.monotonic() + 30
        while not rejected and not target.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # the worker goes on with JSON messages
        marker = submit_batch(["after the pickle"], model="echo", cache=False, app=task_app)
        assert wait_for_job(marker, config=task_config, timeout=30).status == "succeeded"
    finally:
        task_rejected.disconnect(on_rejected)
    assert [(kind, type(exc)) for kind, exc in rejected] == [
        ("application/x-python-serialize", ContentDisallowed)
    ]
    assert not target.exists()


@pytest.mark.parametrize(
    "setting",
    [
        {"accept_content": ["json", "pickle"]},
        {"result_accept_content": ["application/x-python-serialize"]},
        {"task_serializer": "pickle"},
        {"result_serializer": "PICKLE"},
    ],
)
def test_settings_that_would_unpickle_are_refused(
    task_config: RedisAgentConfig, setting: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError, match=f"{next(iter(setting))}=.*unpickle"):
        create_app(task_config, **setting)
    assert create_app(task_config, accept_content=["json"])  # JSON stays allowed


def test_the_error_names_the_name_and_how_to_register() -> None:
    with pytest.raises(NotRegisteredError) as info:
        resolve("model", "gpt-nano")
    message = str(info.value)
    assert "'gpt-nano'" in message and "register_model('gpt-nano', ...)" in message
    assert "'echo'" in message  # what is registered, to spot a typo
    assert isinstance(info.value, ConfigError)
    with pytest.raises(NotRegisteredError):
        resolve("index", ["not", "a", "name"])  # JSON from a message: never a key


def test_built_in_names() -> None:
    assert resolve("index", "vector_index") is VectorIndex
    assert DEFAULT_MODEL_NAME in registered("embedder")
    assert index_name_for(VectorIndex) == "vector_index"


def test_registration_is_checked() -> None:
    def one() -> Any:
        return None

    def two() -> Any:
        return None

    register_model("reg-test", one)
    register_model("reg-test", one)  # the same again: a module imported twice
    try:
        with pytest.raises(ConfigError, match="already registered"):
            register_model("reg-test", two)
        register_model("reg-test", two, replace=True)
        assert resolve("model", "reg-test") is two
    finally:
        unregister("model", "reg-test")
    with pytest.raises(ConfigError, match="needs a callable"):
        register_model("reg-test", "pkg.mod:factory")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="non-empty string"):
        register_model("", one)
    with pytest.raises(ConfigError, match="from_spec"):
        register_index("reg-test", dict)
    with pytest.raises(ConfigError, match="already registered"):
        register_index("vector_index", HashIndex)  # a built-in is not silently replaced


def test_an_unregistered_index_class_is_refused_before_anything_is_written(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    class Unlisted(HashIndex):
        pass

    client = task_config.get_client()
    before = set(client.scan_iter(match=f"{task_config.namespace}:job:*"))
    with pytest.raises(ConfigError, match="register_index"):
        submit_ingestion(
            Unlisted("u", config=task_config), [{"id": "a", "text": "t"}], app=task_app
        )
    assert set(client.scan_iter(match=f"{task_config.namespace}:job:*")) == before
    # naming the worker's registered type explicitly is enough
    job_id = submit_ingestion(
        Unlisted("u", config=task_config), [{"id": "a", "text": "t"}],
        index_type="hash_index", app=task_app,
    )  # fmt: skip
    assert wait_for_job(job_id, config=task_config, timeout=30).status == "succeeded"


def _letters(texts: Sequence[str]) -> np.ndarray:
    """4-d vectors counting the letters a, b, c, d."""
    return np.asarray([[t.count(c) + 0.01 for c in "abcd"] for t in texts], dtype=np.float32)


def test_an_embedder_registered_under_the_index_model_name_needs_no_embedder_argument(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    register_embedder("letters-4", lambda: CallableEmbedder(_letters, name="letters-4", dims=4))
    index = VectorIndex(
        "letters", config=task_config, dims=4, algorithm="flat", embedder_name="letters-4"
    )
    items = [{"id": "a", "text": "aaaa"}, {"id": "d", "text": "dddd"}]
    job = wait_for_job(submit_ingestion(index, items, app=task_app), config=task_config, timeout=30)
    assert (job.status, job.done) == ("succeeded", 2)
    hits = index.search(np.asarray([0.0, 0.0, 0.0, 1.0], dtype=np.float32), k=1)
    assert hits[0].id == "d"


def test_submit_checks_only_the_form_of_names(task_app: Celery) -> None:
    # the worker decides what is registered; the submitter may not know its models
    job_id = submit_batch([], model="only-on-the-worker", app=task_app)
    assert get_job(job_id, config=task_app.agent_config).status == "succeeded"
    with pytest.raises(ConfigError, match="non-empty string"):
        submit_batch(["x"], model="echo", limiter="", app=task_app)
