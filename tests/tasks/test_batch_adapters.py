"""Batch jobs over framework models registered by name on the worker."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from llama_index.core.llms.mock import MockLLM

from langchain_redis_agent.tasks import register_chat_model
from llamaindex_redis_agent.tasks import register_llm
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks import get_batch_results, job_failures, submit_batch, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")


def _fake_chat(responses: list[str]) -> FakeListChatModel:
    return FakeListChatModel(responses=responses)


# the in-process worker runs in this process: it sees these registrations
register_chat_model("lc-fake", _fake_chat)
register_chat_model("lc-fixed", FakeListChatModel(responses=["fixed"]))
register_chat_model("lc-not-a-model", lambda: {"not": "a model"})
register_llm("li-mock", MockLLM())


def test_langchain_chat_model_batch(task_app: Celery, task_config: RedisAgentConfig) -> None:
    job_id = submit_batch(
        ["q1", "q2"],
        model="lc-fake",
        model_kwargs={"responses": ["same answer"]},
        cache=False,
        app=task_app,
    )
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 2
    assert [r["text"] for r in get_batch_results(job_id, config=task_config)] == ["same answer"] * 2


def test_llamaindex_llm_batch(task_app: Celery, task_config: RedisAgentConfig) -> None:
    job_id = submit_batch(["echo me", "and me"], model="li-mock", app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 2
    texts = [r["text"] for r in get_batch_results(job_id, config=task_config)]
    assert texts == ["echo me", "and me"]


@pytest.mark.parametrize(
    ("model", "kwargs", "reason"),
    [
        ("lc-not-a-model", {}, "not a LangChain chat model"),
        ("lc-fixed", {"temperature": 0}, "takes no kwargs"),
        ("lc-fake", {"model_class": "collections:OrderedDict"}, "cannot be built"),
    ],
)
def test_a_misfit_model_fails_the_job_with_the_reason(
    task_app: Celery, task_config: RedisAgentConfig, model: str, kwargs: dict[str, Any], reason: str
) -> None:
    job_id = submit_batch(["x"], model=model, model_kwargs=kwargs, cache=False, app=task_app)
    assert wait_for_job(job_id, config=task_config, timeout=30).status == "failed"
    assert reason in job_failures(job_id, config=task_config)["0"]


def test_registering_something_else_is_refused() -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register_chat_model("lc-fake", FakeListChatModel(responses=["other"]))
    with pytest.raises(ConfigError, match="needs a LangChain chat model or LLM or a factory"):
        register_chat_model("lc-bad", 42)  # type: ignore[arg-type]
