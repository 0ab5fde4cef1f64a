"""LlamaIndex LLMs and embedding models for the pack's Celery workers.

Task messages carry names, never import paths: register what the worker may run in
the worker process (the module given to ``celery -A``)::

    # myapp/worker.py
    from redis_agent_core.tasks import create_app
    from llamaindex_redis_agent.tasks import register_embed_model, register_llm

    app = create_app()
    register_llm("gpt-mini", lambda: OpenAI(model="gpt-4o-mini"))
    register_embed_model("my-embed", lambda: HuggingFaceEmbedding(...))

then ``submit_batch(prompts, model="gpt-mini")`` or
``store.enqueue_add(nodes, embedder="my-embed")`` from anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import LLM

from redis_agent_core.tasks import register_adapted

from .embeddings import to_core_embedder

__all__ = ["as_batch_model", "register_embed_model", "register_llm"]

BatchModel = Callable[[str], tuple[str, dict[str, Any] | None]]


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


def as_batch_model(model: LLM) -> BatchModel:
    """A ``prompt -> (text, usage)`` callable over a LlamaIndex LLM (``complete``)."""

    def call(prompt: str) -> tuple[str, dict[str, Any] | None]:
        out = model.complete(prompt)
        return out.text, _usage(out.raw)

    return call


def register_llm(name: str, llm: LLM | Callable[..., LLM], *, replace: bool = False) -> None:
    """Let batch jobs use ``model=name``: an LLM instance (then jobs take no
    ``model_kwargs``), or a factory the worker calls with the job's ``model_kwargs``
    (they come from the message: accept only what you expect)."""
    register_adapted(
        "model", name, llm, accepts=LLM, adapt=as_batch_model,
        what="a LlamaIndex LLM", replace=replace,
    )  # fmt: skip


def register_embed_model(
    name: str,
    embed_model: BaseEmbedding | Callable[[], BaseEmbedding],
    *,
    replace: bool = False,
) -> None:
    """Let ingestion jobs use ``embedder=name`` with a LlamaIndex embedding model (an
    instance, or a no-argument factory called on first use in the worker)."""
    register_adapted(
        "embedder", name, embed_model, accepts=BaseEmbedding, adapt=to_core_embedder,
        what="a LlamaIndex embedding model", replace=replace,
    )  # fmt: skip
