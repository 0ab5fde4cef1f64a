"""LlamaIndex LLMs as batch models for :func:`redis_agent_core.tasks.submit_batch`.

Wrap an LLM in your own factory (``return as_batch_model(OpenAI(model=...))``) or let
the worker build one::

    submit_batch(prompts, model="llamaindex_redis_agent.tasks:llm",
                 model_kwargs={"llm_class": "llama_index.llms.openai:OpenAI",
                               "model": "gpt-4o-mini"})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.llms import LLM

from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks._common import load_object

__all__ = ["as_batch_model", "llm"]


def _usage(raw: Any) -> dict[str, Any] | None:
    usage = getattr(raw, "usage", None) if raw is not None else None
    if usage is None and isinstance(raw, dict):
        usage = raw.get("usage")
    if usage is None:
        return None
    if isinstance(usage, dict):
        return usage
    dump = getattr(usage, "model_dump", None)
    return dump() if callable(dump) else None


def as_batch_model(model: LLM) -> Callable[[str], tuple[str, dict[str, Any] | None]]:
    """A ``prompt -> (text, usage)`` callable over a LlamaIndex LLM (``complete``)."""

    def call(prompt: str) -> tuple[str, dict[str, Any] | None]:
        out = model.complete(prompt)
        return out.text, _usage(out.raw)

    return call


def llm(llm_class: str, **kwargs: Any) -> Callable[[str], Any]:
    """Batch-model factory: ``llm_class`` (``"package.module:Class"``) built with
    ``kwargs`` on the worker, wrapped by :func:`as_batch_model`."""
    cls = load_object(llm_class, "LlamaIndex LLM class")
    if not (isinstance(cls, type) and issubclass(cls, LLM)):
        raise ConfigError(f"{llm_class} is not a LlamaIndex LLM class")
    return as_batch_model(cls(**kwargs))
