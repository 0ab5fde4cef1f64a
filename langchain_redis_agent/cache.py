"""LangChain LLM caches on Redis: :class:`RedisCache` (exact) and
:class:`RedisSemanticCache`, drop-in for ``set_llm_cache(...)`` or ``cache=`` on a model.

Generations are stored as LangChain's own JSON (``dumpd``) and revived with an
allow-list of core output and message classes (never pickle), so message content,
tool calls, ``usage_metadata`` and ``response_metadata`` survive exactly.
Entries are scoped by ``llm_string`` (the model class and its parameters): a hit
never returns another model's answer. Redis down: lookups miss, updates are skipped
(``on_error="raise"`` raises instead), so the model call still goes through.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.load import dumpd
from langchain_core.load.load import Reviver
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from redis_agent_core.cache import (
    CacheHit,
    CacheStats,
    ExactCache,
    SemanticCache,
    conversation_text,
    make_scope,
)
from redis_agent_core.cache.guards import Verifier
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import Embedder

from .embeddings import to_core_embedder

__all__ = [
    "RedisCache",
    "RedisSemanticCache",
    "dumps_generations",
    "loads_generations",
    "prompt_text",
]

logger = logging.getLogger("langchain_redis_agent.cache")

_ALLOWED = [
    Generation,
    GenerationChunk,
    ChatGeneration,
    ChatGenerationChunk,
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    ChatMessage,
    ChatMessageChunk,
]
# Built once: constructing a Reviver costs more than reviving a generation.
_REVIVER = Reviver(allowed_objects=_ALLOWED)
_DEFAULT: Any = object()


def dumps_generations(generations: Sequence[Generation]) -> str:
    """JSON of generations in LangChain's serialization format."""
    return orjson.dumps([dumpd(g) for g in generations]).decode()


def loads_generations(payload: str) -> list[Generation]:
    """Inverse of :func:`dumps_generations`, limited to core output/message classes."""
    value = json.loads(payload, object_hook=_REVIVER)
    if not isinstance(value, list) or not all(isinstance(g, Generation) for g in value):
        raise ValueError("payload is not a list of generations")
    return value


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: keep the text ones
        parts = [
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text")
        ]
        return " ".join(p for p in parts if p)
    return str(content)


def prompt_text(prompt: str) -> str:
    """The text to embed for a LangChain cache ``prompt``.

    Chat models pass the JSON of their messages; this returns the conversation's
    roles and contents (one user message: its content alone). Plain prompts are
    returned unchanged.
    """
    if not prompt.startswith('[{"lc"'):
        return prompt
    try:
        items = orjson.loads(prompt)
    except orjson.JSONDecodeError:
        return prompt
    messages: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict) or item.get("lc") != 1 or "kwargs" not in item:
            return prompt
        kwargs = item["kwargs"]
        role = kwargs.get("type") or str(item.get("id", ["?"])[-1])
        if role == "chat":
            role = kwargs.get("role", role)
        messages.append((role, _content_text(kwargs.get("content", ""))))
    return conversation_text(messages)


def _usage(generations: Sequence[Generation]) -> dict[str, int] | None:
    totals: dict[str, int] = {}
    for g in generations:
        usage = getattr(getattr(g, "message", None), "usage_metadata", None)
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            value = usage.get(key) if usage else None
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return totals or None


class _LangChainCache(BaseCache):
    _core: ExactCache | SemanticCache
    _filters: dict[str, str] | None

    def __init__(self) -> None:
        self._scopes: dict[str, str] = {}

    @property
    def core(self) -> ExactCache | SemanticCache:
        """The core cache behind this adapter (stats, clear, direct use)."""
        return self._core

    def _scope(self, llm_string: str) -> str:
        scope = self._scopes.get(llm_string)
        if scope is None:
            if len(self._scopes) > 1024:
                self._scopes.clear()
            scope = self._scopes[llm_string] = make_scope({"llm_string": llm_string})
        return scope

    def _key_text(self, prompt: str) -> str:
        return prompt

    def _revive(self, hit: CacheHit | None) -> RETURN_VAL_TYPE | None:
        if hit is None:
            return None
        try:
            return loads_generations(hit.payload)
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("cache entry %s is unreadable (%s): treated as a miss", hit.key, exc)
            return None

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Generations cached for this prompt and model, else ``None``."""
        hit = self._core.lookup(
            self._key_text(prompt), self._scope(llm_string), filters=self._filters
        )
        return self._revive(hit)

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup` (native asyncio Redis client)."""
        hit = await self._core.alookup(
            self._key_text(prompt), self._scope(llm_string), filters=self._filters
        )
        return self._revive(hit)

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store generations for this prompt and model."""
        self._core.update(
            self._key_text(prompt),
            self._scope(llm_string),
            dumps_generations(return_val),
            usage=_usage(return_val),
            filters=self._filters,
        )

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Async :meth:`update`."""
        await self._core.aupdate(
            self._key_text(prompt),
            self._scope(llm_string),
            dumps_generations(return_val),
            usage=_usage(return_val),
            filters=self._filters,
        )

    def clear(self, **kwargs: Any) -> None:
        """Remove every entry of this cache (other caches and keys are untouched)."""
        self._core.clear()

    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`."""
        await self._core.aclear()

    def stats(self) -> CacheStats:
        """Hits, misses, hit rate and tokens saved, shared by every process."""
        return self._core.stats()

    async def astats(self) -> CacheStats:
        """Async :meth:`stats`."""
        return await self._core.astats()


class RedisCache(_LangChainCache):
    """Exact LLM cache in Redis: the same prompt and model parameters get the stored
    generations in one round trip.

    Args:
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        name: cache name (separate caches never share entries).
        ttl: seconds an entry lives (default: forever / ``config.default_ttl``).
        filters: a fixed partition for this cache object, e.g. ``{"tenant": "acme"}``.
        on_error: ``"degrade"`` (Redis down: miss / skip, logged) or ``"raise"``.
        cache: use this core :class:`ExactCache` instead of building one.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "llm",
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
        on_error: Literal["degrade", "raise"] = "degrade",
        cache: ExactCache | None = None,
    ) -> None:
        super().__init__()
        self._core = cache or ExactCache(config, name=name, ttl=ttl, on_error=on_error)
        self._filters = dict(filters) if filters else None


class RedisSemanticCache(_LangChainCache):
    """Semantic LLM cache in Redis: a question close in meaning to a cached one, for
    the same model and parameters, gets the stored generations.

    For chat models the conversation's roles and contents are embedded, not the JSON.

    Args:
        embeddings: LangChain ``Embeddings`` or a core ``Embedder`` (default: offline
            all-MiniLM-L6-v2).
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        distance_threshold: maximum **cosine distance** (0 = identical, 2 = opposite)
            at which an entry is served. Not a similarity: > 2 is rejected.
        verifier: candidate checks before serving (default: the built-in guards);
            ``None`` disables them.
        filters: a fixed partition for this cache object, e.g. ``{"tenant": "acme"}``.
        name, ttl, dtype, algorithm, on_error: as in the core :class:`SemanticCache`.
        cache: use this core :class:`SemanticCache` instead of building one.
    """

    def __init__(
        self,
        embeddings: Embeddings | Embedder | None = None,
        config: RedisAgentConfig | None = None,
        *,
        distance_threshold: float = 0.1,
        verifier: Verifier | None = _DEFAULT,
        name: str = "semantic",
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
        dtype: Literal["float32", "float16"] = "float32",
        algorithm: Literal["hnsw", "flat"] = "hnsw",
        on_error: Literal["degrade", "raise"] = "degrade",
        cache: SemanticCache | None = None,
    ) -> None:
        super().__init__()
        if cache is None:
            embedder = (
                to_core_embedder(embeddings) if isinstance(embeddings, Embeddings) else embeddings
            )
            kwargs: dict[str, Any] = {} if verifier is _DEFAULT else {"verifier": verifier}
            cache = SemanticCache(
                config,
                embedder=embedder,
                name=name,
                distance_threshold=distance_threshold,
                filter_fields=tuple(filters or ()),
                dtype=dtype,
                algorithm=algorithm,
                ttl=ttl,
                on_error=on_error,
                **kwargs,
            )
        self._core = cache
        self._filters = dict(filters) if filters else None

    def _key_text(self, prompt: str) -> str:
        return prompt_text(prompt)
