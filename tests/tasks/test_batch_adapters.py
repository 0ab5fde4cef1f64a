"""Batch jobs over framework models built on the worker from JSON kwargs."""

from __future__ import annotations

import pytest
from celery import Celery

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.tasks import get_batch_results, submit_batch, wait_for_job

pytestmark = pytest.mark.usefixtures("worker")


def test_langchain_chat_model_batch(task_app: Celery, task_config: RedisAgentConfig) -> None:
    job_id = submit_batch(
        ["q1", "q2"],
        model="langchain_redis_agent.tasks:chat_model",
        model_kwargs={
            "model_class": "langchain_core.language_models.fake_chat_models:FakeListChatModel",
            "responses": ["same answer"],
        },
        cache=False,
        app=task_app,
    )
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 2
    assert [r["text"] for r in get_batch_results(job_id, config=task_config)] == ["same answer"] * 2


def test_llamaindex_llm_batch(task_app: Celery, task_config: RedisAgentConfig) -> None:
    job_id = submit_batch(
        ["echo me", "and me"],
        model="llamaindex_redis_agent.tasks:llm",
        model_kwargs={"llm_class": "llama_index.core.llms.mock:MockLLM"},
        app=task_app,
    )
    assert wait_for_job(job_id, config=task_config, timeout=30).done == 2
    texts = [r["text"] for r in get_batch_results(job_id, config=task_config)]
    assert texts == ["echo me", "and me"]


def test_a_non_model_class_fails_the_job_with_the_reason(
    task_app: Celery, task_config: RedisAgentConfig
) -> None:
    from redis_agent_core.tasks import job_failures

    job_id = submit_batch(
        ["x"],
        model="langchain_redis_agent.tasks:chat_model",
        model_kwargs={"model_class": "collections:OrderedDict"},
        app=task_app,
    )
    assert wait_for_job(job_id, config=task_config, timeout=30).status == "failed"
    assert "not a LangChain chat model" in job_failures(job_id, config=task_config)["0"]
