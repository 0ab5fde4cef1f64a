"""LangChain models and embeddings for the pack's Celery workers.

Task messages carry names, never import paths: register what the worker may run in
the worker process (the module given to ``celery -A``)::

    # myapp/worker.py
    from redis_agent_core.tasks import create_app
    from langchain_redis_agent.tasks import register_chat_model, register_embeddings

    app = create_app()
    register_chat_model("gpt-mini", lambda: ChatOpenAI(model="gpt-4o-mini"))
    register_embeddings("DeterministicFakeEmbedding", DeterministicFakeEmbedding(size=8))

then ``submit_batch(prompts, model="gpt-mini")`` from anywhere. Registering embeddings
under the name a store records (the class name by default) serves its
``enqueue_add_documents`` without ``embedder=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseLanguageModel
from langchain_core.messages import BaseMessage

from redis_agent_core.tasks import register_adapted

from .embeddings import to_core_embedder

__all__ = ["as_batch_model", "register_chat_model", "register_embeddings"]

BatchModel = Callable[[str], tuple[str, dict[str, Any] | None]]


def as_batch_model(model: BaseLanguageModel) -> BatchModel:
    """A ``prompt -> (text, usage)`` callable over a LangChain chat model or LLM."""

    def call(prompt: str) -> tuple[str, dict[str, Any] | None]:
        out = model.invoke(prompt)
        if isinstance(out, BaseMessage):
            usage = getattr(out, "usage_metadata", None)
            return out.text, dict(usage) if usage else None
        return str(out), None

    return call


def register_chat_model(
    name: str,
    model: BaseLanguageModel | Callable[..., BaseLanguageModel],
    *,
    replace: bool = False,
) -> None:
    """Let batch jobs use ``model=name``: a chat model or LLM instance (then jobs take
    no ``model_kwargs``), or a factory the worker calls with the job's ``model_kwargs``
    (they come from the message: accept only what you expect)."""
    register_adapted(
        "model", name, model, accepts=BaseLanguageModel, adapt=as_batch_model,
        what="a LangChain chat model or LLM", replace=replace,
    )  # fmt: skip


def register_embeddings(
    name: str, embeddings: Embeddings | Callable[[], Embeddings], *, replace: bool = False
) -> None:
    """Let ingestion jobs use ``embedder=name`` with LangChain ``Embeddings`` (an
    instance, or a no-argument factory called on first use in the worker)."""
    register_adapted(
        "embedder", name, embeddings, accepts=Embeddings, adapt=to_core_embedder,
        what="LangChain Embeddings", replace=replace,
    )  # fmt: skip
