"""LangChain v1 agent middleware on Redis (``create_agent(..., middleware=[...])``).

- :class:`SemanticCacheMiddleware` serves a model call from the pack's semantic cache
  (exact tier first, then by meaning, checked by the guards). Only the latest user
  message is compared by meaning; everything else the model would see (model and
  its settings, system prompt, tools, and a digest of the other messages through
  :func:`~redis_agent_core.cache.context_scope`) must match exactly, so an answer that
  depended on a history is never served to another history (nor, by default, to
  another user).
- :class:`RateLimitMiddleware` charges each model call to the user's request limits
  and reserves an estimate in the token budgets (the core :class:`RateLimiter`),
  raises :class:`RateLimitExceeded` or waits, and settles the real usage afterwards.
- :class:`ToolResultCacheMiddleware` caches the results of tools marked cacheable,
  with a TTL per tool, keyed by the tool (name, description, argument schema) and the
  canonical JSON of its arguments.

The user (and org) of a call come from the agent's runtime context
(``agent.invoke(..., context={"user_id": ...})`` or a context object with that
attribute), else from the run's config (``metadata`` or ``configurable``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import types
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

import orjson
from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.chat_models import base as chat_models_base
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration
from langchain_core.runnables import RunnableBinding, RunnableConfig
from langchain_core.runnables.config import merge_configs
from langchain_core.runnables.configurable import DynamicRunnable
from langchain_core.tools import BaseTool, InjectedToolCallId
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langgraph.config import get_config
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command
from pydantic import BaseModel
from typing_extensions import is_typeddict

from redis_agent_core.cache import (
    CacheHit,
    ExactCache,
    SemanticCache,
    Share,
    context_scope,
    make_scope,
)
from redis_agent_core.cache.guards import Verifier
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import Embedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.jsonvalues import exact_json, has_non_finite
from redis_agent_core.kit import check_ttl
from redis_agent_core.ratelimit import (
    RateLimiter,
    RateLimitExceeded,
    Reservation,
    check_wait,
    checked_estimator,
)

from .cache import CLASS_REPR, dumps_generations, fresh_ids, loads_generations
from .embeddings import to_core_embedder
from .rate_limit import TokenEstimator, estimate_tokens, settlement, usage_of_messages

__all__ = [
    "CACHE_MARK",
    "RateLimitExceeded",
    "RateLimitMiddleware",
    "SemanticCacheMiddleware",
    "ToolResultCacheMiddleware",
]

logger = logging.getLogger(__name__)

#: ``response_metadata`` key set on a message served from the cache: ``"exact"`` or
#: ``"semantic"`` (the rate-limit middleware refunds such a call).
CACHE_MARK = "redis_agent_cache"
_DEFAULT: Any = object()

ModelHandler = Callable[[ModelRequest], ModelResponse]
AsyncModelHandler = Callable[[ModelRequest], Awaitable[ModelResponse]]
ToolResult = ToolMessage | Command[Any]


# -- pure helpers shared by the sync and async hooks -------------------------------------
def _lookup_value(source: Any, key: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(key)
    return getattr(source, key, None)


def _named(value: Any) -> str | None:
    """The id ``value`` names, ``None`` for none: a blank one (``""``, an anonymous
    caller's) names no one. Read as an id, it made every such caller one user, who
    shared ``per_user`` tool results."""
    return None if value is None else (str(value) or None)


# keys LangGraph Server's auth writes into a run's configurable (langgraph_auth_user_id)
_SERVER_AUTH = "langgraph_auth_"


def _run_config() -> Any:
    try:
        return get_config()
    except RuntimeError:  # outside a runnable context (a middleware called directly)
        return {}


def run_value(runtime: Any, key: str) -> str | None:
    """``key`` from the runtime context, else the run config's metadata/configurable.

    A key LangGraph Server's auth sets (``langgraph_auth_user_id``) is read from
    ``configurable`` only: a client sends a run's context and metadata, and would
    otherwise name anyone.
    """
    if key.startswith(_SERVER_AUTH):
        return _named(_lookup_value(_run_config().get("configurable"), key))
    value = _lookup_value(getattr(runtime, "context", None), key)
    if value is None:
        config = _run_config()
        value = _lookup_value(config.get("metadata"), key)
        if value is None:
            value = _lookup_value(config.get("configurable"), key)
    # a blank id in the context names no one, and the config is not read for one (a
    # client may write the run's metadata: an anonymous caller would name anyone)
    return _named(value)


def context_key(key: object, what: str) -> str:
    """``key`` (the runtime-context / config key naming a user or org) if it is a
    non-empty str: another value never names anyone, so every run would be anonymous
    (one user's limits and results shared by all) or fail at its first call."""
    if not isinstance(key, str) or not key:
        raise ConfigError(
            f"{what} must be a non-empty str, the key of the runtime context or config "
            f"that names the caller (e.g. 'user_id'), got {key!r}"
        )
    return key


def _wire(message: BaseMessage) -> dict[str, Any]:
    """What the model reads of a message: ids, usage and provider metadata left out
    (they change run to run, not what the model sees)."""
    out: dict[str, Any] = {"type": message.type, "content": message.content}
    if isinstance(message, ChatMessage):  # "system" and "user" lines are two inputs
        out["role"] = message.role
    if message.name:
        out["name"] = message.name
    # providers send these on (an AI message's vary run to run with its provider)
    if not isinstance(message, AIMessage) and message.additional_kwargs:
        out["additional_kwargs"] = message.additional_kwargs
    if isinstance(message, AIMessage) and message.tool_calls:
        out["tool_calls"] = [{"name": c["name"], "args": c["args"]} for c in message.tool_calls]
    if isinstance(message, AIMessage) and message.invalid_tool_calls:  # sent back as calls too
        out["invalid_tool_calls"] = [
            {"name": c.get("name"), "args": c.get("args")} for c in message.invalid_tool_calls
        ]
    if isinstance(message, ToolMessage):
        out["status"] = message.status
    return out


# init_chat_model(..., configurable_fields=...): private in LangChain, so looked up by name
_CONFIGURABLE_MODEL = getattr(chat_models_base, "_ConfigurableModel", None)


class _Unkeyable(Exception):
    """A setting the cache cannot key faithfully: the call goes to the model uncached."""


@functools.lru_cache(maxsize=256)  # classes are immutable enough: one schema each
def _class_key(cls: type) -> Any:
    """What keys a class given as a setting (a structured-output ``response_format``):
    its qualified name and JSON schema, what a provider builds its request from. A
    builtin (``dict``) is one class per name; any other class (an ``Enum``, whose
    members no schema holds) raises :class:`_Unkeyable`."""
    if cls.__module__ == "builtins":
        return repr(cls)
    try:
        if issubclass(cls, BaseModel):
            schema = cls.model_json_schema()
        elif is_typeddict(cls) or dataclasses.is_dataclass(cls):
            schema = convert_to_json_schema(cls)
        else:
            raise _Unkeyable(cls)
    except _Unkeyable:
        raise
    except Exception as exc:  # a field pydantic cannot describe
        raise _Unkeyable(cls) from exc
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "schema": schema}


def _has_class(value: Any, depth: int = 0) -> bool:
    if isinstance(value, type):
        return True
    if depth > 32:  # a list that holds itself, or one thousands deep
        raise _Unkeyable(value)
    if isinstance(value, Mapping):
        return any(_has_class(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_class(v, depth + 1) for v in value)
    return False


def _with_schemas(value: Any) -> Any:
    if isinstance(value, type):
        return _class_key(value)
    if isinstance(value, Mapping):
        return {k: _with_schemas(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_with_schemas(v) for v in value]
    return value


def keyable_settings(settings: Mapping[str, Any]) -> Mapping[str, Any]:
    """``settings`` (a request's ``model_settings``, a binding's kwargs) with every class
    in it keyed by its schema (:func:`_class_key`): by ``repr``, a class was
    ``<class 'Answer'>`` whatever its fields, and one schema's answer was served to
    another of its name. Settings holding no class are returned as they are (their keys
    unchanged). Raises :class:`_Unkeyable` for a class that has no schema."""
    if not _has_class(settings):
        return settings
    return {k: _with_schemas(v) for k, v in settings.items()}


def model_identity(model: Any, config: RunnableConfig | None) -> str | None:
    """The LLM string of the chat model a run's config makes of ``model`` (the cache
    key's model part), or ``None`` when that cannot be told.

    A configurable model (``configurable_fields`` / ``configurable_alternatives``,
    ``init_chat_model(configurable_fields=...)``) picks its model and settings from the
    run's ``configurable`` at each call, and a ``.bind(...)`` adds call kwargs: the
    model's own ``_get_llm_string`` (which attribute lookups reach through both) keys
    on its defaults, so one run's answer was served to a run that chose another model.
    """
    kwargs: dict[str, Any] = {}
    for _ in range(16):  # wrappers nest a few deep; a cycle is not followed forever
        if isinstance(model, BaseChatModel):
            try:
                found = model._get_llm_string(**keyable_settings(kwargs))
            except _Unkeyable:
                return None
            # a class in a field of the model (model_kwargs={"response_format": Answer})
            return None if CLASS_REPR.search(found) else found
        if isinstance(model, RunnableBinding):
            if model.config_factories:  # a config computed at call time: not known here
                return None
            kwargs = {**model.kwargs, **kwargs}  # the outer binding's win, as at a call
            config = merge_configs(model.config, config)
            model = model.bound
        elif isinstance(model, DynamicRunnable):
            model, config = model.prepare(config)
        elif _CONFIGURABLE_MODEL is not None and isinstance(model, _CONFIGURABLE_MODEL):
            model = model._model(config)
        else:
            return None
    return None


def _tool_spec(tool: Any) -> Any:
    if isinstance(tool, Mapping):
        return dict(tool)
    try:
        return convert_to_openai_tool(tool)
    except Exception:  # an unconvertible tool: its name still identifies it
        return {"name": getattr(tool, "name", repr(tool))}


class _ToolSpecs:
    """Tool schemas (name, description, arguments) by tool object: ~35 us each to
    build, needed on every call."""

    def __init__(self) -> None:
        self._specs: dict[int, tuple[Any, Any]] = {}

    def __call__(self, tool: Any) -> Any:
        if isinstance(tool, Mapping):
            return dict(tool)
        known = self._specs.get(id(tool))
        if known is not None and known[0] is tool:
            return known[1]
        spec = _tool_spec(tool)
        if len(self._specs) >= 1024:
            self._specs.clear()
        self._specs[id(tool)] = (tool, spec)  # the tool is kept: its id stays its own
        return spec


_CALLBACK_PARAMETERS = frozenset({"run_manager", "callbacks"})
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _fields(schema: Any) -> Any:
    """The field names of a pydantic (v2 or v1) model class."""
    return getattr(schema, "model_fields", None) or getattr(schema, "__fields__", {})


def _is_call_id(metadata: Any) -> bool:
    return any(m is InjectedToolCallId or isinstance(m, InjectedToolCallId) for m in metadata)


def injected_arguments(tool: Any) -> list[str]:
    """The parameters of ``tool`` that the framework fills in, not the model: graph
    state, store, ``runtime``, the run's ``config``, any ``InjectedToolArg`` (but the
    call's own ``InjectedToolCallId``).

    LangGraph's ToolNode injects them after ``wrap_tool_call`` has seen the call, so
    no key built from the call's arguments covers them.
    """
    if not isinstance(tool, BaseTool):
        return []
    call = tool.tool_call_schema
    asked = set(call.get("properties", {}) if isinstance(call, Mapping) else _fields(call))
    fields = _fields(tool.get_input_schema())
    taken = set(fields)
    # the call's own id: a served result is re-issued under the new call's id anyway
    asked.update(name for name, f in fields.items() if _is_call_id(getattr(f, "metadata", ())))
    for function in (getattr(tool, "func", None), getattr(tool, "coroutine", None)):
        if callable(function):
            # one without a default is given by someone (a narrower args_schema leaves
            # the function's own defaults to it); runtime / config are, default or not
            taken.update(
                p.name
                for p in inspect.signature(function).parameters.values()
                if p.kind not in _VARIADIC
                and (p.default is inspect.Parameter.empty or p.name in ("runtime", "config"))
            )
    injected = taken - asked - _CALLBACK_PARAMETERS
    if "runtime" in taken:  # ToolNode gives a parameter of that name the runtime
        injected.add("runtime")
    return sorted(injected)


# LangGraph's getters of what a run injects, called from inside a tool's body
_CONTEXT_GETTERS = frozenset({"get_runtime", "get_config", "get_store"})


def _names(code: types.CodeType) -> set[str]:
    """The global and attribute names ``code`` and the functions inside it use."""
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def context_reads(tool: Any) -> list[str]:
    """The LangGraph getters (``get_runtime()``, ``get_config()``, ``get_store()``) the
    body of ``tool``'s function calls: like an injected argument, what they return
    (the user, the thread, the store) never reaches a key built from the call."""
    found: set[str] = set()
    for function in (getattr(tool, "func", None), getattr(tool, "coroutine", None)):
        code = getattr(inspect.unwrap(function), "__code__", None) if function else None
        if isinstance(code, types.CodeType):
            found |= _names(code) & _CONTEXT_GETTERS
    return sorted(f"{name}()" for name in found)


def _cells(function: Any) -> dict[str, Any]:
    """The closure variables of a function by name."""
    code, closure = function.__code__, function.__closure__ or ()
    return dict(zip(code.co_freevars, (c.cell_contents for c in closure), strict=True))


# How ``create_agent`` (langchain.agents.factory) hands a wrapping middleware its handler.
_FACTORY = "langchain.agents.factory"
_MODEL_CALLS = frozenset({"_execute_model_sync", "_execute_model_async"})


def _inner_wrappers(handler: Callable[..., Any]) -> list[Any]:
    """The middleware LangChain placed inside this one around the model call.

    ``create_agent`` hands the last wrapping middleware the model call itself and every
    other one an ``inner_handler`` closure over the layers inside it; those layers are
    read back from that closure. A handler from elsewhere (passed by hand) is the model.
    Any other handler from the factory is a layout this check does not know (a LangChain
    release that renamed these): it is taken as a request-shaping layer, so the cache
    refuses rather than keys on a request it cannot see the end of.
    """
    if getattr(handler, "__module__", None) != _FACTORY:
        return []
    name = getattr(handler, "__name__", None)
    if name in _MODEL_CALLS:
        return []
    if name != "inner_handler":
        return [handler]
    found: list[Any] = []

    def walk(layer: Any) -> None:
        if getattr(layer, "__name__", None) == "composed":  # two layers composed
            cells = _cells(layer)
            walk(cells["outer"])
            walk(cells["inner"])
            return
        hook = inspect.unwrap(layer)
        found.append(getattr(hook, "__self__", hook))  # a bound hook: its middleware

    try:
        walk(_cells(handler)["inner"])
    except (AttributeError, KeyError, TypeError, ValueError):
        found.append(handler)  # an unknown layout: assume it can change the request
    return found


def _question(messages: Sequence[BaseMessage]) -> int | None:
    """Index of the latest user message (the text compared by meaning)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return i
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or ():
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        else:  # images, files...: only an identical block is the same question
            parts.append(orjson.dumps(block, option=orjson.OPT_SORT_KEYS, default=repr).decode())
    return " ".join(parts)


def canonical_json(value: Any) -> str | None:
    """Sorted-key compact JSON: equal arguments give equal text. ``None`` when the text
    would not tell ``value`` apart: orjson writes a NaN or an infinity as ``null`` (a
    model's ``NaN`` would be served the result of ``null``) and refuses an int beyond
    64 bits."""
    data = exact_json(value, orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, repr)
    return None if data is None else data.decode()


# -- semantic cache ----------------------------------------------------------------------
class SemanticCacheMiddleware(AgentMiddleware):
    """Serve model calls of an agent from the pack's semantic cache.

    Args:
        embeddings: LangChain ``Embeddings`` or a core ``Embedder`` (default: offline
            all-MiniLM-L6-v2).
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        share: who else may be served an answer that depended on earlier messages:
            ``"user"`` (default: the same user with the same history), ``"session"``
            (the same thread) or ``"global"`` (anyone with the same history). A
            first-turn answer (no other message) is shared by everyone.
        user_key: runtime-context / config key naming the user.
        distance_threshold, verifier, respell_threshold, band_threshold, name, ttl,
            on_error: as in the core
            :class:`~redis_agent_core.cache.SemanticCache` (default name ``"agent"``).
        cache: use this core cache instead of building one.

    A call is looked up by the latest user message only; calls with structured
    output (``response_format``), without a user message, or to a model that is not
    a chat model once the run's config has resolved it (a configurable model is
    resolved, a ``.bind(...)``'s kwargs count) go straight to the model.
    A served message gets a fresh id and fresh tool-call ids, and
    ``response_metadata["redis_agent_cache"]`` says which tier answered.

    List it last among the middleware that wrap model calls (only
    :class:`RateLimitMiddleware` may sit inside it): the key must be what the model
    reads. Raises :class:`ConfigError` at the first call otherwise, and at a
    history-dependent call when ``share`` needs a user or a thread id that the run
    does not give.
    """

    def __init__(
        self,
        embeddings: Embeddings | Embedder | None = None,
        config: RedisAgentConfig | None = None,
        *,
        share: Share = "user",
        user_key: str = "user_id",
        distance_threshold: float | None = None,
        verifier: Verifier | None = _DEFAULT,
        respell_threshold: float | None = _DEFAULT,
        band_threshold: float | None = _DEFAULT,
        name: str = "agent",
        ttl: float | None = None,
        on_error: Literal["degrade", "raise"] | None = None,
        cache: SemanticCache | None = None,
    ) -> None:
        super().__init__()
        if share not in ("user", "session", "global"):
            raise ConfigError(f"share must be 'user', 'session' or 'global'; got {share!r}")
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
                ttl=ttl,
                on_error=on_error,
                **kwargs,
            )
        self.cache = cache
        self.share: Share = share
        self.user_key = context_key(user_key, "user_key")
        self._spec = _ToolSpecs()

    def _key(self, request: ModelRequest) -> tuple[str, str] | None:
        """``(question, scope)`` of a request, or ``None`` when it is not cacheable."""
        if request.response_format is not None:
            return None
        messages = list(request.messages)
        index = _question(messages)
        if index is None:
            return None
        model = model_identity(request.model, _run_config())
        if model is None:
            return None
        identity: dict[str, Any] = {
            "model": model,
            "system": _wire(request.system_message) if request.system_message else None,
            "tools": [self._spec(t) for t in request.tools],
            "tool_choice": request.tool_choice,
        }
        try:
            identity["settings"] = keyable_settings(request.model_settings)
        except _Unkeyable:
            return None
        # the question's own name / additional_kwargs reach the model as well
        asked = {k: v for k, v in _wire(messages[index]).items() if k not in ("type", "content")}
        if asked:  # left out when empty: plain questions keep their existing keys
            identity["question"] = asked
        others: list[Mapping[str, Any]] = [_wire(m) for m in messages]
        # values JSON writes as null (a tool call's NaN) would share a digest with None
        if has_non_finite([o for o in others if len(o) > 2]):
            return None
        others[index] = {"type": "question"}  # where the question sits matters
        context = others if len(others) > 1 else []
        user = run_value(request.runtime, self.user_key) if context else None
        session = run_value(request.runtime, "thread_id") if context else None
        try:
            base = make_scope(identity)
            scope = context_scope(base, context, share=self.share, user=user, session=session)
        except TypeError:  # an int beyond 64 bits (a tool call's): JSON cannot key it
            return None
        except ConfigError as exc:
            raise ConfigError(
                f"{exc}. A history-dependent answer is cached per {self.share}: pass "
                f"context={{{self.user_key!r}: ...}} (or config metadata) for the user and "
                "config={'configurable': {'thread_id': ...}} for the session, "
                "or use share='global'."
            ) from exc
        return _text(messages[index].content), scope

    @staticmethod
    def _served(hit: CacheHit | None, tier: str) -> ModelResponse | None:
        if hit is None:
            return None
        try:
            generations = loads_generations(hit.payload)
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("cache entry %s is unreadable (%s): treated as a miss", hit.key, exc)
            return None
        messages: list[BaseMessage] = []
        for g in generations:
            message = getattr(g, "message", None)
            if not isinstance(message, AIMessage):
                return None
            replayed = fresh_ids(message)
            metadata = {**replayed.response_metadata, CACHE_MARK: tier}
            messages.append(replayed.model_copy(update={"response_metadata": metadata}))
        return ModelResponse(result=messages)

    @staticmethod
    def _storable(response: Any) -> tuple[str, dict[str, Any] | None] | None:
        if not isinstance(response, ModelResponse) or response.structured_response is not None:
            return None
        if len(response.result) != 1 or not isinstance(response.result[0], AIMessage):
            return None
        message = response.result[0]
        if message.invalid_tool_calls or CACHE_MARK in message.response_metadata:
            return None
        usage = dict(message.usage_metadata) if message.usage_metadata else None
        return dumps_generations([ChatGeneration(message=message)]), usage

    @staticmethod
    def _check_innermost(handler: Callable[..., Any]) -> None:
        """Refuse to key on a request that a middleware listed after this one may change.

        A ``@dynamic_prompt``, a model switch or a trimmer inside the cache would change
        what the model reads after the key was taken (one user's personalised answer
        served to another); :class:`RateLimitMiddleware` never changes the request.
        """
        shaping = [m for m in _inner_wrappers(handler) if not isinstance(m, RateLimitMiddleware)]
        if shaping:
            names = ", ".join(getattr(m, "name", None) or type(m).__name__ for m in shaping)
            raise ConfigError(
                f"SemanticCacheMiddleware is listed before middleware that wraps model calls "
                f"({names}); it may change the request after the cache keyed it, so one "
                "request's answer could be served to another. List SemanticCacheMiddleware "
                "last among the model-call middleware (RateLimitMiddleware may go either side)."
            )

    def wrap_model_call(self, request: ModelRequest, handler: ModelHandler) -> ModelResponse:
        """Serve the call from the cache, else call the model and store its answer."""
        self._check_innermost(handler)
        key = self._key(request)
        if key is None:
            return handler(request)
        question, scope = key
        served = self._served(self.cache.lookup_exact(question, scope), "exact") or self._served(
            self.cache.lookup(question, scope), "semantic"
        )
        if served is not None:
            return served
        response = handler(request)
        stored = self._storable(response)
        if stored is not None:
            self.cache.update(question, scope, stored[0], usage=stored[1])
        return response

    async def awrap_model_call(
        self, request: ModelRequest, handler: AsyncModelHandler
    ) -> ModelResponse:
        """Async :meth:`wrap_model_call`."""
        self._check_innermost(handler)
        key = self._key(request)
        if key is None:
            return await handler(request)
        question, scope = key
        served = self._served(await self.cache.alookup_exact(question, scope), "exact")
        if served is None:
            served = self._served(await self.cache.alookup(question, scope), "semantic")
        if served is not None:
            return served
        response = await handler(request)
        stored = self._storable(response)
        if stored is not None:
            await self.cache.aupdate(question, scope, stored[0], usage=stored[1])
        return response


# -- rate limits -------------------------------------------------------------------------
class RateLimitMiddleware(AgentMiddleware):
    """Per-user request limits and token budgets around every model call of an agent.

    Args:
        limiter: the core :class:`RateLimiter` (its limits, shared by every process).
        user_key, org_key: runtime-context / config keys naming the user and the org
            (a run without them is charged to the bucket all such runs share).
        estimator: ``(prompt_text, params) -> tokens`` reserved before the call
            (default :func:`~langchain_redis_agent.rate_limit.estimate_tokens`: ~4
            characters a token plus the model's ``max_tokens``, else 256).
        max_wait: seconds to wait for a slot before raising (default 0: raise at once).

    After the call the real ``usage_metadata["total_tokens"]`` replaces the estimate
    (unknown usage: the estimate stays charged); a failed call gives its tokens back;
    an answer served by :class:`SemanticCacheMiddleware` is refunded whole. Raises
    :class:`RateLimitExceeded` (``retry_after`` in seconds) before the model is called.
    """

    def __init__(
        self,
        limiter: RateLimiter,
        *,
        user_key: str = "user_id",
        org_key: str = "org_id",
        estimator: TokenEstimator | None = None,
        max_wait: float = 0.0,
    ) -> None:
        super().__init__()
        if not isinstance(limiter, RateLimiter):
            raise ConfigError(f"limiter must be a RateLimiter, got {type(limiter).__name__}")
        self.limiter = limiter
        self.user_key = context_key(user_key, "user_key")
        self.org_key = context_key(org_key, "org_key")
        self.estimator = checked_estimator(
            estimator, estimate_tokens, "RateLimitMiddleware(estimator=...)"
        )
        self.max_wait = check_wait(max_wait)  # NaN would turn the cap off

    def _request(self, request: ModelRequest) -> dict[str, Any]:
        texts = [_text(m.content) for m in request.messages]
        if request.system_message is not None:
            texts.insert(0, _text(request.system_message.content))
        params = dict(request.model_settings)
        for name in ("max_tokens", "max_completion_tokens"):
            value = getattr(request.model, name, None)
            if name not in params and isinstance(value, int):
                params[name] = value
        return {
            "user": run_value(request.runtime, self.user_key),
            "org": run_value(request.runtime, self.org_key),
            "tokens": self.estimator("\n".join(texts), params),
            "blocking": self.max_wait > 0,
            "max_wait": self.max_wait,
        }

    @staticmethod
    def _usage(response: Any, reservation: Reservation) -> tuple[int, bool]:
        """``(tokens to charge, refund the request)`` for a finished call: an answer
        from :class:`SemanticCacheMiddleware` or from the model's own LangChain cache
        (``usage_metadata["total_cost"] == 0``, as the callback handler reads it) is
        free; a usage the limiter cannot settle at keeps the estimate."""
        messages = response.result if isinstance(response, ModelResponse) else [response]
        answers = [m for m in messages if isinstance(m, AIMessage)]
        if any(CACHE_MARK in m.response_metadata for m in answers):
            return 0, True
        return settlement(usage_of_messages(answers), reservation.tokens, True)

    def wrap_model_call(self, request: ModelRequest, handler: ModelHandler) -> ModelResponse:
        """Admit the call (or raise), call the model, settle the real usage."""
        reservation = self.limiter.acquire(**self._request(request)).reservation
        try:
            response = handler(request)
        except BaseException:
            self.limiter.settle(reservation, 0)
            raise
        if reservation is not None:
            tokens, refund = self._usage(response, reservation)
            self.limiter.settle(reservation, tokens, refund_requests=refund)
        return response

    async def awrap_model_call(
        self, request: ModelRequest, handler: AsyncModelHandler
    ) -> ModelResponse:
        """Async :meth:`wrap_model_call`."""
        reservation = (await self.limiter.aacquire(**self._request(request))).reservation
        try:
            response = await handler(request)
        except BaseException:
            await self.limiter.asettle(reservation, 0)
            raise
        if reservation is not None:
            tokens, refund = self._usage(response, reservation)
            await self.limiter.asettle(reservation, tokens, refund_requests=refund)
        return response


# -- tool results ------------------------------------------------------------------------
class ToolResultCacheMiddleware(AgentMiddleware):
    """Cache the results of cacheable tools in Redis.

    Args:
        ttl: tool name -> seconds its results live (``None``: no expiry). Only these
            tools are cached; a tool can also mark itself with
            ``metadata={"cache_ttl": seconds}``.
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        per_user: results are kept per user (``user_key`` from the runtime context or
            config): for tools whose answer depends on who asks.
        user_key: runtime-context / config key naming the user.
        name, on_error: as in the core :class:`~redis_agent_core.cache.ExactCache`.
        cache: use this core cache instead of building one.

    The key is the tool (name, description and argument schema) and the canonical JSON
    of its arguments (key order does not matter). A cacheable tool that takes injected
    arguments (graph state, store, ``runtime``, the run's ``config``,
    ``InjectedToolArg``) or whose function calls ``get_runtime()``, ``get_config()`` or
    ``get_store()`` raises :class:`ConfigError` at its first call: its result may
    depend on them, and the key cannot see them. Only successful results are stored
    (``status="error"`` and ``Command`` results are not); content and a JSON-able
    artifact are kept.
    """

    def __init__(
        self,
        ttl: Mapping[str, float | None] | None = None,
        config: RedisAgentConfig | None = None,
        *,
        per_user: bool = False,
        user_key: str = "user_id",
        name: str = "tools",
        on_error: Literal["degrade", "raise"] | None = None,
        cache: ExactCache | None = None,
    ) -> None:
        super().__init__()
        if ttl is not None and not isinstance(ttl, Mapping):
            raise ConfigError(f"ttl must map tool names to seconds, got {ttl!r}")
        ttls = dict(ttl or {})
        for tool, seconds in ttls.items():
            check_ttl(seconds, f"ttl of tool {tool!r}")  # what the cache will be given
        self.ttl = ttls
        self.per_user = per_user
        self.user_key = context_key(user_key, "user_key")
        self.cache = cache or ExactCache(config, name=name, on_error=on_error)
        self._spec = _ToolSpecs()
        self._checked: dict[int, Any] = {}  # cacheable tools by id (kept: ids stay theirs)

    def _check_cacheable(self, tool: Any, name: str) -> None:
        """Refuse a tool whose result may depend on injected state (once per tool)."""
        if self._checked.get(id(tool)) is tool:
            return
        injected, reads = injected_arguments(tool), context_reads(tool)
        if injected or reads:
            what = [f"takes {', '.join(map(repr, injected))}"] if injected else []
            what += [f"calls {', '.join(reads)}"] if reads else []
            raise ConfigError(
                f"tool {name!r} is marked cacheable but {' and '.join(what)}, "
                "which the agent injects (state, store, runtime, config) and the cache key "
                "cannot see: one user's or thread's result would be served to another. Pass "
                "what the result depends on as an argument the model gives, or do not cache it"
            )
        if len(self._checked) >= 1024:
            self._checked.clear()
        self._checked[id(tool)] = tool

    def _key(self, request: ToolCallRequest) -> tuple[str, str, float | None] | None:
        """``(arguments, scope, ttl)`` of a call, or ``None`` when the tool is not cacheable."""
        name = request.tool_call["name"]
        if name in self.ttl:
            ttl = self.ttl[name]
        else:
            marked = (getattr(request.tool, "metadata", None) or {}).get("cache_ttl", _DEFAULT)
            if marked is _DEFAULT:
                return None
            ttl = marked
            check_ttl(ttl, f"metadata cache_ttl of tool {name!r}")
        if request.tool is not None:
            self._check_cacheable(request.tool, name)
        # two tools of one name (two agents' "search" over different data) differ here
        spec = self._spec(request.tool) if request.tool is not None else {"name": name}
        identity: dict[str, Any] = {"tool": name, "spec": spec}
        if self.per_user:
            user = run_value(request.runtime, self.user_key)
            if user is None:
                raise ConfigError(
                    f"per_user=True needs {self.user_key!r} in the agent's context or config"
                )
            identity["user"] = user
        args = canonical_json(request.tool_call.get("args", {}))
        if args is None:
            return None  # arguments JSON cannot key exactly: the tool runs, nothing is kept
        return args, make_scope(identity), ttl

    @staticmethod
    def _served(hit: CacheHit | None, request: ToolCallRequest) -> ToolMessage | None:
        if hit is None:
            return None
        try:
            data = orjson.loads(hit.payload)
            content = data["content"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            logger.warning("tool result %s is unreadable (%s): the tool runs again", hit.key, exc)
            return None
        return ToolMessage(
            content=content,
            artifact=data.get("artifact"),
            tool_call_id=request.tool_call["id"] or "",
            name=request.tool_call["name"],
            response_metadata={CACHE_MARK: "exact"},
        )

    @staticmethod
    def _storable(result: ToolResult) -> str | None:
        if not isinstance(result, ToolMessage) or result.status == "error":
            return None
        try:
            return orjson.dumps({"content": result.content, "artifact": result.artifact}).decode()
        except TypeError:  # an artifact that is not JSON: never stored lossily
            return None

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolResult]
    ) -> ToolResult:
        """Serve a cacheable tool's result from Redis, else run the tool and store it."""
        key = self._key(request)
        if key is None:
            return handler(request)
        args, scope, ttl = key
        served = self._served(self.cache.lookup(args, scope), request)
        if served is not None:
            return served
        result = handler(request)
        payload = self._storable(result)
        if payload is not None:
            self.cache.update(args, scope, payload, ttl=ttl)
        return result

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        """Async :meth:`wrap_tool_call`."""
        key = self._key(request)
        if key is None:
            return await handler(request)
        args, scope, ttl = key
        served = self._served(await self.cache.alookup(args, scope), request)
        if served is not None:
            return served
        result = await handler(request)
        payload = self._storable(result)
        if payload is not None:
            await self.cache.aupdate(args, scope, payload, ttl=ttl)
        return result
