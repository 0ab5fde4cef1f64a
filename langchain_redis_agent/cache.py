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

import copy
import json
import logging
import re
import threading
import uuid
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.load import dumpd, load
from langchain_core.load.load import default_init_validator
from langchain_core.load.serializable import Serializable
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
from pydantic import BaseModel

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
from redis_agent_core.errors import ConfigError
from redis_agent_core.jsonvalues import has_non_finite
from redis_agent_core.kit import block_text, scope_with_sent_besides_text, tool_call_text
from redis_agent_core.migrate import peer_config

from .embeddings import to_core_embedder

__all__ = [
    "RedisCache",
    "RedisSemanticCache",
    "dumps_generations",
    "fresh_ids",
    "loads_generations",
    "prompt_text",
]

logger = logging.getLogger("langchain_redis_agent.cache")

# a class in LangChain's string of a call's settings (str() of its kwargs, e.g.
# response_format=Answer): "<class 'app.Answer'>" whatever the class's fields. A
# builtin ("<class 'dict'>", no module) is one class per name and stays keyable.
CLASS_REPR = re.compile(r"<class '[^'.]+\.[^']+'>")

_ALLOWED: list[type[Serializable]] = [
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
_DEFAULT: Any = object()

# dumpd writes ``lc_id()`` as the id; the library's ``load`` accepts exactly these
# ids for the allowed classes (tests/cache/test_langchain.py compares the two paths).
_FAST_CLASSES: dict[tuple[str, ...], type[Serializable]] = {
    tuple(cls.lc_id()): cls for cls in _ALLOWED
}
# ``load`` is marked beta in langchain-core 1.x; the warning says nothing to our users.
warnings.filterwarnings("ignore", message="The function `load` is in beta")
_ESCAPED = "__lc_escaped__"  # how dumpd wraps user dicts that carry an "lc" key
_MAX_DEPTH = 200  # load()'s nesting limit: deeper documents go to load, which raises


def _revive_one(value: dict[str, Any]) -> Any:
    """One allowed constructor dict whose kwargs hold no LangChain objects."""
    ident = tuple(value["id"])
    kwargs = value.get("kwargs", {})
    default_init_validator(ident, kwargs)  # what load() runs before every constructor
    return _FAST_CLASSES[ident](**kwargs)


def _revive_usual(raw: Any, text: str) -> list[Any] | None:
    """The usual payload (generations, each with at most a message) revived directly,
    or ``None`` to let LangChain's ``load`` walk the whole tree.

    Taken only when every ``"lc"`` key of the document sits at those known places
    (counted in the compact JSON text: inside strings a quote is escaped, so the
    count is exact), each is an allowed constructor and nothing is escaped: then
    every other dict is data that ``load`` would return unchanged. It is ~10x
    cheaper than ``load`` (no Reviver built per call, no walk over the data).
    """
    if type(raw) is not list or _ESCAPED in text or text.count("{") + text.count("[") >= _MAX_DEPTH:
        return None
    found: list[dict[str, Any]] = []
    for item in raw:
        if type(item) is not dict or "lc" not in item:
            return None
        found.append(item)
        kwargs = item.get("kwargs")
        if type(kwargs) is dict:
            message = kwargs.get("message")
            if type(message) is dict and "lc" in message:
                found.append(message)
    if len(found) != text.count('"lc":'):
        return None
    for value in found:
        ident = value.get("id")
        if (
            value.get("lc") != 1
            or value.get("type") != "constructor"
            or type(ident) is not list
            or tuple(ident) not in _FAST_CLASSES
            or type(value.get("kwargs", {})) is not dict
        ):
            return None
    out = []
    for item in raw:
        kwargs = item.get("kwargs")
        if type(kwargs) is dict:
            message = kwargs.get("message")
            if type(message) is dict and "lc" in message:
                kwargs["message"] = _revive_one(message)
        out.append(_revive_one(item))
    return out


# Leads a payload the json module wrote: only it reads such a payload back exactly
# (orjson reads an int beyond 64 bits as a float without a word). JSON allows the blank.
_BY_JSON_MODULE = " "


def dumps_generations(generations: Sequence[Generation]) -> str:
    """JSON of generations in LangChain's serialization format."""
    data = [dumpd(g) for g in generations]
    # orjson writes NaN / inf as null: a hit would replay None for a logprob of -inf.
    # The json module writes them as NaN / Infinity, which loads_generations reads back.
    if has_non_finite(data):
        return _BY_JSON_MODULE + json.dumps(data)
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # lone surrogates, ints beyond 64 bits: the json module takes them
        return _BY_JSON_MODULE + json.dumps(data)


def _json_module_loads(payload: str | bytes) -> Any:
    """``json.loads``, with a document nested past Python's recursion limit (which orjson
    refuses at 1,024 levels, then the json module hits) raised as the ``ValueError`` of
    any other unreadable entry: as a ``RecursionError`` it escaped the cache's lookup, so
    one forged entry made every call of its prompt raise instead of missing."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise ValueError("payload is nested too deep to be generations") from None


def loads_generations(payload: str | bytes) -> list[Generation]:
    """Inverse of :func:`dumps_generations`, limited to core output/message classes.

    LangChain's ``load(json.loads(payload), allowed_objects=...)`` (escaped user
    dicts stay data); orjson parses, and the usual shape is built directly (same
    result, checked by a test). Never unpickles anything.
    """
    if payload[:1] in (_BY_JSON_MODULE, _BY_JSON_MODULE.encode()):
        raw = _json_module_loads(payload)  # a tool call's 20-digit int stays an int
    else:
        try:
            raw = orjson.loads(payload)
        except orjson.JSONDecodeError:  # NaN, lone surrogates (entries of older releases)
            raw = _json_module_loads(payload)
    text = payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
    value = _revive_usual(raw, text)
    if value is None:
        value = load(raw, allowed_objects=_ALLOWED)
    if not isinstance(value, list) or not all(isinstance(g, Generation) for g in value):
        raise ValueError("payload is not a list of generations")
    return value


_IMMUTABLE = (str, int, float, bool, type(None), bytes)


def _fresh(value: Any) -> Any:
    """A copy of a revived value sharing nothing mutable with it (cheaper than
    reviving again: no JSON, no validation)."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _IMMUTABLE else _fresh(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else _fresh(v) for v in value]
    if kind in _IMMUTABLE or isinstance(value, (str, int, float, bytes)):  # e.g. TextAccessor
        return value
    if isinstance(value, BaseModel):
        new = value.__copy__()  # new object; __dict__, fields set and extras copied
        fields = new.__dict__
        for k, v in fields.items():
            if type(v) not in _IMMUTABLE:
                fields[k] = _fresh(v)
        extra = new.__pydantic_extra__
        if extra:
            for k, v in extra.items():
                if type(v) not in _IMMUTABLE:
                    extra[k] = _fresh(v)
        return new
    return copy.deepcopy(value)


_UNSEEN: Any = object()


def fresh_ids(message: AIMessage) -> AIMessage:
    """A copy of a replayed answer with no message id and fresh tool-call ids.

    A cached answer carries the ids of the run that wrote it. Replayed with them, a
    second hit in one LangGraph thread has the first's id, so ``add_messages``
    replaces the earlier answer instead of appending (the thread loses a turn), and a
    replayed tool call reuses an id the conversation already answered. ``None`` lets
    the graph give the message its own id, as it does for any message without one.
    A call's new id replaces its old one wherever the message names it (content
    blocks, raw calls, chunks), so a provider sends each call once; a Responses API
    response id (``response_metadata["id"]``, ``resp_...``) is dropped: that response
    belongs to the writer's conversation.
    """
    renamed: dict[str, str] = {}

    def fresh(old: Any) -> str:
        new = f"call_{uuid.uuid4().hex[:24]}"
        if isinstance(old, str):
            renamed[old] = new
        return new

    update: dict[str, Any] = {
        "id": None,
        "tool_calls": [{**c, "id": fresh(c.get("id"))} for c in message.tool_calls],
        "invalid_tool_calls": [{**c, "id": fresh(c.get("id"))} for c in message.invalid_tool_calls],
    }
    response_id = message.response_metadata.get("id")
    if isinstance(response_id, str) and response_id.startswith(_RESPONSES_ID):
        # the writer's Responses API response: ChatOpenAI(use_previous_response_id=True)
        # would continue that conversation (another user's, in a shared cache) on the
        # server and send only what follows the replay; without it, the whole thread
        update["response_metadata"] = {
            k: v for k, v in message.response_metadata.items() if k != "id"
        }
    if renamed:
        # the provider's own copies of the calls name them too, and a provider that
        # sends those back sends each call twice, the old id left unanswered (Anthropic's
        # tool_use blocks, the Responses API's function_call items in content: 400)
        if isinstance(message.content, list):
            update["content"] = [_renamed(b, renamed) for b in message.content]
        raw = message.additional_kwargs.get("tool_calls")
        if isinstance(raw, list):
            update["additional_kwargs"] = {
                **message.additional_kwargs,
                "tool_calls": [_renamed(c, renamed) for c in raw],
            }
        if isinstance(message, AIMessageChunk):
            update["tool_call_chunks"] = [_renamed(c, renamed) for c in message.tool_call_chunks]
    return message.model_copy(update=update)


#: How an OpenAI Responses API response id begins (what ``previous_response_id`` takes).
_RESPONSES_ID = "resp_"
#: The keys under which a content block or a provider's raw call names a tool call.
_CALL_ID_KEYS = ("id", "call_id", "tool_call_id")


def _renamed(block: Any, renamed: Mapping[str, str]) -> Any:
    """``block`` (a dict) with every tool-call id of ``renamed`` replaced."""
    if not isinstance(block, dict):
        return block
    found = {
        k: renamed[v] for k in _CALL_ID_KEYS if isinstance(v := block.get(k), str) and v in renamed
    }
    return {**block, **found} if found else block


def _replayed(gens: list[Generation]) -> list[Generation]:
    for g in gens:
        if isinstance(g, ChatGeneration) and isinstance(g.message, AIMessage):
            g.message = fresh_ids(g.message)
    return gens


class _RevivedMemo:
    """Generations already revived, keyed by the exact payload text read from Redis.

    Redis stays authoritative: every lookup still reads the entry (TTL, ``clear()``
    and other processes' writes apply); the memo only skips parsing and validating
    the same bytes again. A payload is admitted on its second hit (the first only
    leaves a marker), so one-off answers cost no copy and little memory. From then
    on callers get fresh copies, so mutating a result cannot change the next hit.
    Bounded by entries and payload characters (FIFO eviction); large payloads are
    not kept.
    """

    def __init__(
        self, max_entries: int = 1024, max_chars: int = 8 << 20, max_payload: int = 64 << 10
    ) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.max_payload = max_payload
        self._items: dict[str, list[Generation] | None] = {}
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, payload: str) -> list[Generation]:
        gens = self._items.get(payload, _UNSEEN)
        if gens is None or gens is _UNSEEN:
            revived = loads_generations(payload)
            if len(payload) > self.max_payload:
                return revived
            if gens is _UNSEEN:  # first hit: the caller gets the only copy
                self._put(payload, None)
                return revived
            self._put(payload, revived)
            gens = revived
        return [_fresh(g) for g in gens]

    def _put(self, payload: str, gens: list[Generation] | None) -> None:
        with self._lock:
            if payload not in self._items:
                self._chars += len(payload)
            self._items[payload] = gens
            while self._items and (
                len(self._items) > self.max_entries or self._chars > self.max_chars
            ):
                oldest = next(iter(self._items))
                del self._items[oldest]
                self._chars -= len(oldest)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._chars = 0


# Content blocks left out of the embedded text: reasoning varies run to run, and tool
# calls are rendered from the message's ``tool_calls``.
_UNSEEN_BLOCKS = frozenset(
    {
        "reasoning",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "server_tool_call",
        "server_tool_call_chunk",
    }
)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # text blocks as text; images, files... as a stand-in
        parts = []
        for b in content:
            if isinstance(b, str):
                parts.append(b)
            elif isinstance(b, dict) and b.get("type") == "text":
                parts.append(str(b.get("text", "")))
            elif not isinstance(b, dict) or b.get("type") not in _UNSEEN_BLOCKS:
                kind = b.get("type") if isinstance(b, dict) else None
                parts.append(block_text(str(kind or "block"), b))
        return " ".join(p for p in parts if p)
    return str(content)


# a message's JSON fields that are in the embedded text (content, role, tool calls) or
# change run to run without reaching the model (ids, provider metadata, call ids)
_IN_TEXT_OR_UNSEEN = frozenset(
    {"content", "type", "tool_calls", "id", "response_metadata", "usage_metadata", "tool_call_id"}
)


def prompt_text(prompt: str) -> str:
    """The text to embed for a LangChain cache ``prompt``.

    Chat models pass the JSON of their messages; this returns the conversation's
    roles and contents (one user message: its content alone), with tool calls as
    ``[tool call name {args}]`` and images or files as a hash of their data (so the same
    question about another image is another prompt). Plain prompts are returned
    unchanged.
    """
    return _prompt_parts(prompt)[0]


def _prompt_parts(
    prompt: str,
) -> tuple[str, list[dict[str, Any]], list[tuple[str, str]]]:
    """(:func:`prompt_text`, each message's fields besides it, and its (role, text):
    for the scope)."""
    if not prompt.startswith('[{"lc"'):
        return prompt, [], []
    try:
        items = orjson.loads(prompt)
    except orjson.JSONDecodeError:
        return prompt, [], []
    messages: list[tuple[str, str]] = []
    extras: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict) or item.get("lc") != 1 or "kwargs" not in item:
            return prompt, [], []
        kwargs = item["kwargs"]
        role = kwargs.get("type") or str(item.get("id", ["?"])[-1])
        if role == "chat":
            role = kwargs.get("role", role)
        content = _content_text(kwargs.get("content", ""))
        calls = kwargs.get("tool_calls")
        if calls and isinstance(calls, list):
            content = " ".join([content, *(tool_call_text(c) for c in calls)]).strip()
        messages.append((role, content))
        extras.append({k: v for k, v in kwargs.items() if k not in _IN_TEXT_OR_UNSEEN})
    return conversation_text(messages), extras, messages


def _usage(generations: Sequence[Generation]) -> dict[str, int] | None:
    totals: dict[str, int] = {}
    for g in generations:
        usage = getattr(getattr(g, "message", None), "usage_metadata", None)
        for key in ("input_tokens", "output_tokens", "total_tokens"):
            value = usage.get(key) if usage else None
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return totals or None


def _check_generations(return_val: Any) -> None:
    """:class:`ConfigError` unless ``return_val`` is a non-empty list (or tuple) of
    ``Generation``: anything else was stored, then read back as an unreadable entry
    (logged, a miss), and an empty list, served as a hit, made `invoke` raise IndexError."""
    if (
        isinstance(return_val, (list, tuple))
        and return_val
        and all(isinstance(g, Generation) for g in return_val)
    ):
        return
    if isinstance(return_val, (list, tuple)):
        kinds = sorted({type(g).__name__ for g in return_val if not isinstance(g, Generation)})
        got = f"a {type(return_val).__name__} of {', '.join(kinds)}" if kinds else "an empty list"
    else:
        got = f"a {type(return_val).__name__}"
    raise ConfigError(
        f"the cache stores a non-empty list of Generation (or ChatGeneration), got {got}: "
        "pass return_val=[Generation(text=...)] (a chat model's answer as "
        "[ChatGeneration(message=...)]). Nothing was written"
    )


class _LangChainCache(BaseCache):
    _core: ExactCache | SemanticCache
    _filters: dict[str, str] | None

    def __init__(self) -> None:
        self._scopes: dict[str, str] = {}
        self._memo = _RevivedMemo()

    @property
    def core(self) -> ExactCache | SemanticCache:
        """The core cache behind this adapter (stats, clear, direct use)."""
        return self._core

    def _scope(self, llm_string: str) -> str | None:
        """The entries' scope for ``llm_string``; ``None`` (the call is not cached) when
        it holds a class by name only (see :data:`CLASS_REPR`)."""
        scope = self._scopes.get(llm_string)
        if scope is None:
            if len(self._scopes) > 1024:
                self._scopes.clear()
            found = CLASS_REPR.search(llm_string)
            if found is not None:
                logger.warning(
                    "a call passes the class %s among its settings (response_format=...?), "
                    "which LangChain gives the cache by name only: two schemas of that name "
                    "would share answers, so such calls are not cached. Pass its schema "
                    "instead (response_format=Answer.model_json_schema()) or use "
                    "model.with_structured_output(Answer), which passes the schema itself",
                    found.group(0),
                )
            scope = self._scopes[llm_string] = (
                "" if found else make_scope({"llm_string": llm_string})
            )
        return scope or None

    def _key(self, prompt: str, llm_string: str) -> tuple[str, str] | None:
        """(text, scope) of a prompt: exact caches key on the prompt's whole JSON."""
        scope = self._scope(llm_string)
        return None if scope is None else (prompt, scope)

    def _revive(self, hit: CacheHit | None) -> RETURN_VAL_TYPE | None:
        if hit is None:
            return None
        try:
            return _replayed(self._memo.get(hit.payload))
        except (ValueError, TypeError, KeyError, NotImplementedError) as exc:
            logger.warning("cache entry %s is unreadable (%s): treated as a miss", hit.key, exc)
            return None

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Generations cached for this prompt and model, else ``None``."""
        key = self._key(prompt, llm_string)
        if key is None:
            return None
        return self._revive(self._core.lookup(*key, filters=self._filters))

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """Async :meth:`lookup` (native asyncio Redis client)."""
        key = self._key(prompt, llm_string)
        if key is None:
            return None
        return self._revive(await self._core.alookup(*key, filters=self._filters))

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store generations for this prompt and model (a non-empty list of
        ``Generation``; anything else raises :class:`ConfigError`, nothing written)."""
        _check_generations(return_val)
        key = self._key(prompt, llm_string)
        if key is None:
            return
        self._core.update(
            *key,
            dumps_generations(return_val),
            usage=_usage(return_val),
            filters=self._filters,
        )

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Async :meth:`update`."""
        _check_generations(return_val)
        key = self._key(prompt, llm_string)
        if key is None:
            return
        await self._core.aupdate(
            *key,
            dumps_generations(return_val),
            usage=_usage(return_val),
            filters=self._filters,
        )

    def _check_clear(self) -> None:
        """:class:`ConfigError` for ``clear()`` on a partitioned cache: caches with
        ``filters=`` of one name share their entries' keys, so it removed every
        partition's entries (acme's ``clear()`` emptied globex's cache too)."""
        if self._filters:
            raise ConfigError(
                f"clear() on a cache with filters={self._filters!r} would remove the entries "
                f"of every partition of cache {self._core.name!r}, not only this one's; "
                "call .core.clear() to remove them all (or let this partition's entries "
                "expire with ttl=). Nothing was removed"
            )

    def clear(self, **kwargs: Any) -> None:
        """Remove every entry of this cache (other caches and keys are untouched). A
        cache with ``filters=`` raises :class:`ConfigError`: its entries share one
        store with the other partitions' (``.core.clear()`` removes them all)."""
        self._check_clear()
        self._core.clear()
        self._memo.clear()

    async def aclear(self, **kwargs: Any) -> None:
        """Async :meth:`clear`."""
        self._check_clear()
        await self._core.aclear()
        self._memo.clear()

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
        redis_url, redis_client: the server, as langchain-redis takes it.
        prefix: langchain-redis's name for ``name``.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "llm",
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
        on_error: Literal["degrade", "raise"] | None = None,
        cache: ExactCache | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
        prefix: str | None = None,
    ) -> None:
        super().__init__()
        if prefix is not None:  # langchain-redis's name for separate caches
            if name != "llm":
                raise ConfigError("pass name= or prefix= (langchain-redis's name), not both")
            name = prefix
        config = peer_config(
            "RedisCache", config=config, redis_url=redis_url, redis_client=redis_client
        )
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
            at which an entry is served. Not a similarity: > 2 is rejected. Default:
            the core's (0.26 with the guards and pair scorer, 0.22 with the guards
            alone, 0.05 with ``verifier=None``).
        verifier: candidate checks before serving (default: the built-in guards);
            ``None`` disables them.
        respell_threshold: how far a miss looks again for a prompt that differs by
            misspelt words or short names (default: the core's, 0.45 with the pair
            scorer); ``None`` turns that second pass off. As in the core.
        band_threshold: how far past ``distance_threshold`` an entry is still served
            when the guards pass it and the pair scorer is surer (default: the core's,
            0.45 with the pair scorer); ``None`` turns the band off. As in the core.
        filters: a fixed partition for this cache object, e.g. ``{"tenant": "acme"}``.
        name, ttl, dtype, algorithm, on_error: as in the core :class:`SemanticCache`
            (default name ``"semantic"``, or ``"semantic-by-tenant"`` with
            ``filters={"tenant": ...}``: caches partitioned differently get their own
            index).
        cache: use this core :class:`SemanticCache` instead of building one.
        redis_url, redis_client: the server, as langchain-redis takes it.
    """

    def __init__(
        self,
        embeddings: Embeddings | Embedder | None = None,
        config: RedisAgentConfig | None = None,
        *,
        distance_threshold: float | None = None,
        verifier: Verifier | None = _DEFAULT,
        respell_threshold: float | None = _DEFAULT,
        band_threshold: float | None = _DEFAULT,
        name: str | None = None,
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
        dtype: Literal["float32", "float16"] | None = None,
        algorithm: Literal["auto", "hnsw", "flat"] = "auto",
        on_error: Literal["degrade", "raise"] | None = None,
        cache: SemanticCache | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
    ) -> None:
        super().__init__()
        config = peer_config(
            "RedisSemanticCache", config=config, redis_url=redis_url, redis_client=redis_client
        )
        if cache is None:
            embedder = (
                to_core_embedder(embeddings) if isinstance(embeddings, Embeddings) else embeddings
            )
            kwargs: dict[str, Any] = {} if verifier is _DEFAULT else {"verifier": verifier}
            if respell_threshold is not _DEFAULT:
                kwargs["respell_threshold"] = respell_threshold
            if band_threshold is not _DEFAULT:
                kwargs["band_threshold"] = band_threshold
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

    def _key(self, prompt: str, llm_string: str) -> tuple[str, str] | None:
        scope = self._scope(llm_string)
        if scope is None:
            return None
        # the embedded text, and a scope holding what the messages send besides it (a
        # name: "Who am I?" from alice and from bob are two model inputs, one text)
        text, besides, messages = _prompt_parts(prompt)
        return text, scope_with_sent_besides_text(scope, besides, messages)
