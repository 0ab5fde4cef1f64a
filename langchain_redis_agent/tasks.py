"""LangChain chat models as batch models for :func:`redis_agent_core.tasks.submit_batch`.

Either wrap a model in your own factory::

    def factory():                      # mypkg/models.py
        return as_batch_model(ChatOpenAI(model="gpt-4o-mini", temperature=0))

    submit_batch(prompts, model="mypkg.models:factory")

or let the worker build one from its class path and JSON kwargs::

    submit_batch(prompts, model="langchain_redis_agent.tasks:chat_model",
                 model_kwargs={"model_class": "langchain_openai:ChatOpenAI",
                               "model": "gpt-4o-mini", "temperature": 0})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel, BaseLanguageModel
from langchain_core.messages import BaseMessage

from redis_agent_core.errors import ConfigError
from redis_agent_core.tasks._common import load_object

__all__ = ["as_batch_model", "chat_model"]


def as_batch_model(model: BaseLanguageModel) -> Callable[[str], tuple[str, dict[str, Any] | None]]:
    """A ``prompt -> (text, usage)`` callable over a LangChain chat model or LLM."""

    def call(prompt: str) -> tuple[str, dict[str, Any] | None]:
        out = model.invoke(prompt)
        if isinstance(out, BaseMessage):
            usage = getattr(out, "usage_metadata", None)
            return out.text, dict(usage) if usage else None
        return str(out), None

    return call


def chat_model(model_class: str, **kwargs: Any) -> Callable[[str], Any]:
    """Batch-model factory: ``model_class`` (``"package.module:Class"``) built with
    ``kwargs`` on the worker, wrapped by :func:`as_batch_model`."""
    cls = load_object(model_class, "LangChain model class")
    if not (isinstance(cls, type) and issubclass(cls, (BaseChatModel, BaseLanguageModel))):
        raise ConfigError(f"{model_class} is not a LangChain chat model or LLM class")
    return as_batch_model(cls(**kwargs))
