"""``RedisCacheLLM``: any LlamaIndex LLM with an exact or semantic Redis cache in front.

LlamaIndex has no LLM-cache interface, so the cache wraps the LLM: ``chat``,
``complete``, ``stream_chat``, ``stream_complete`` and their async forms are served
from the cache when possible (a hit on a streaming call replays the text as a
stream) and misses are stored. Entries are scoped by the inner LLM's class, model,
generation parameters, prompt formatting (system prompt, templates, formatter
functions), the call kind and its kwargs, read at each call, so a hit never returns
another model's (or another setting's) answer. Works as ``Settings.llm`` in query and chat
engines, and (a ``FunctionCallingLLM`` over one) in a ``FunctionAgent``. Redis down: the
inner LLM answers (the cache degrades to misses).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
import types
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import Any

import orjson
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.tools.types import ToolMetadata
from pydantic import BaseModel, PrivateAttr, ValidationError

from redis_agent_core.cache import (
    CacheHit,
    ExactCache,
    SemanticCache,
    conversation_text,
    make_scope,
)
from redis_agent_core.errors import CapabilityError, ConfigError
from redis_agent_core.jsonvalues import Unreadable, exact_json, find_unreadable, has_non_finite
from redis_agent_core.kit import (
    block_text,
    check_kwargs,
    scope_with_sent_besides_text,
    tool_call_text,
)

__all__ = ["RedisCacheLLM"]

logger = logging.getLogger("llamaindex_redis_agent.llm")

_SECRET = re.compile(r"(?:^|_)(?:key|secret|password|token|credentials?)$", re.IGNORECASE)
_SKIP = frozenset({"callback_manager", "output_parser", "pydantic_program_mode"})
# Applied by LLMs such as HuggingFaceLLM and LlamaCPP inside complete()/chat(): they change
# what the model sees, so they are part of the scope (as text or a fingerprint).
_FORMATTERS = (
    "system_prompt",
    "query_wrapper_prompt",
    "messages_to_prompt",
    "completion_to_prompt",
)
# additional_kwargs in the semantic text (tool calls) or changing run to run (call ids)
_IN_TEXT_OR_UNSEEN = frozenset({"tool_calls", "tool_call_id"})
# Where the cache's own settings go, for a keyword RedisCacheLLM does not take
_HINTS = {
    "filter": "pass filters= (a mapping such as {'tenant': 'acme'})",
    **{
        name: f"set it on the cache: RedisCacheLLM(llm, SemanticCache(..., {name}=...))"
        for name in (
            "distance_threshold",
            "respell_threshold",
            "band_threshold",
            "ttl",
            "name",
            "embedder",
            "verifier",
            "on_error",
        )
    },
}
# Copied from the inner LLM so that predict()/stream() format prompts as it would.
_PROMPT_FIELDS = (
    "system_prompt",
    "messages_to_prompt",
    "completion_to_prompt",
    "output_parser",
    "query_wrapper_prompt",
    "pydantic_program_mode",
)


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _code_digest(code: types.CodeType, h: Any) -> None:
    """Feed what a code object does into ``h``: bytecode, constants and names, not its
    file or line numbers (stable across processes, unlike ``hash(code)``)."""
    h.update(code.co_code)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, h)
        elif isinstance(const, frozenset):  # set order follows str hashes: sort it
            h.update(repr(sorted(map(repr, const))).encode())
        else:
            h.update(repr(const).encode())
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())


@functools.lru_cache(maxsize=256)  # code objects are immutable: hash each once
def _code_hash(code: types.CodeType) -> str:
    h = hashlib.sha256()
    _code_digest(code, h)
    return h.hexdigest()[:32]


def _cell(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # not yet bound
        return None


@functools.lru_cache(maxsize=256)
def _schema(model: type[BaseModel]) -> Any:
    return model.model_json_schema()


def _model_fingerprint(value: Any) -> Any:
    """A pydantic model class by its JSON schema, an instance by its JSON dump (a
    structured-output format, say); ``None`` for anything else, or one that has none."""
    try:
        if isinstance(value, BaseModel):
            return {"model": type(value).__qualname__, "dump": value.model_dump(mode="json")}
        if isinstance(value, type) and issubclass(value, BaseModel):
            return {"model": value.__qualname__, "schema": _schema(value)}
    except Exception:  # a field pydantic cannot serialise: not told apart this way
        return None
    return None


def _fingerprint(
    value: Any, where: str, _seen: set[Any] | None = None, *, strict: bool = True
) -> Any:
    """A JSON-like stand-in for a prompt setting that changes exactly when the model's
    input would: plain values as they are, functions by qualified name, code, defaults
    and closure values, pydantic models by schema or dump. :class:`ConfigError` when that
    cannot be told; with ``strict=False`` such a value stands as its type's name (the
    rest of a dict or list still counts)."""
    if _plain(value):
        return value
    _seen = set() if _seen is None else _seen
    if isinstance(value, dict):
        return {
            str(k): _fingerprint(v, where, _seen, strict=strict)
            for k, v in sorted(value.items(), key=repr)
        }
    if isinstance(value, (list, tuple)):
        return [_fingerprint(v, where, _seen, strict=strict) for v in value]
    if isinstance(value, functools.partial):
        return {
            "partial": _fingerprint(value.func, where, _seen, strict=strict),
            "args": [_fingerprint(a, where, _seen, strict=strict) for a in value.args],
            "kwargs": {
                k: _fingerprint(v, where, _seen, strict=strict)
                for k, v in sorted(value.keywords.items())
            },
        }
    if isinstance(value, types.MethodType):
        return {
            "method": _fingerprint(value.__func__, where, _seen, strict=strict),
            "of": type(value.__self__).__qualname__,
            # the instance's attributes may steer the method (a language, a template)
            "state": _fingerprint(
                dict(getattr(value.__self__, "__dict__", {})), where, _seen, strict=strict
            ),
        }
    if isinstance(value, types.FunctionType):
        if value in _seen:  # a nested function that calls itself
            return {"fn": value.__qualname__}
        _seen.add(value)
        cells = [_cell(c) for c in value.__closure__ or ()]
        return {
            "fn": f"{value.__module__}.{value.__qualname__}",
            "code": _code_hash(value.__code__),
            "defaults": [
                _fingerprint(d, where, _seen, strict=strict) for d in value.__defaults__ or ()
            ],
            "kwdefaults": {
                k: _fingerprint(v, where, _seen, strict=strict)
                for k, v in sorted((value.__kwdefaults__ or {}).items())
            },
            "closure": [_fingerprint(c, where, _seen, strict=strict) for c in cells],
        }
    if isinstance(value, types.BuiltinFunctionType):
        return {"fn": f"{value.__module__}.{value.__qualname__}"}
    template = getattr(value, "get_template", None)
    if callable(template) and hasattr(value, "kwargs"):  # a BasePromptTemplate
        return {
            "template": _fingerprint(template(), where, _seen, strict=strict),
            "kwargs": {
                k: _fingerprint(v, where, _seen, strict=strict)
                for k, v in sorted(value.kwargs.items())
            },
            "functions": {
                k: _fingerprint(v, where, _seen, strict=strict)
                for k, v in sorted((getattr(value, "function_mappings", None) or {}).items())
            },
        }
    spec = getattr(value, "metadata", None)
    if isinstance(spec, ToolMetadata):  # a tool (chat_with_tools): the spec the model reads
        return {"tool": _fingerprint(spec.to_openai_tool(skip_length_check=True), where)}
    model = _model_fingerprint(value)  # after templates: they are pydantic models too
    if model is not None:
        return model
    if not strict:
        return {"type": f"{type(value).__module__}.{type(value).__qualname__}"}
    raise ConfigError(
        f"the inner LLM's {where} is a {type(value).__name__}, which RedisCacheLLM cannot "
        "fingerprint for its cache scope (a changed setting could serve another prompt's "
        "answer); pass a plain function, a functools.partial of one, or a str"
    )


def _call_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's kwargs for the scope: a pydantic class by its schema, an instance by its
    dump, a function by its code (:func:`_fingerprint`); any other object by its repr,
    as before (an address in it makes every call a miss, never a wrong hit). Keyed by
    repr, a structured-output class ``response_format=Answer`` was ``<class 'Answer'>``
    whatever its fields: redefined with another field, it got the old schema's answer."""
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        try:
            out[name] = _fingerprint(value, f"call kwarg {name!r}")
        except (ConfigError, RecursionError):  # RecursionError: a list that holds itself
            out[name] = repr(value)
    return out


def llm_identity(llm: LLM) -> dict[str, Any]:
    """Class, model, generation parameters (secrets left out) and prompt formatting
    of ``llm``: what decides the model's input and answer besides the prompt."""
    params = {}
    for name in sorted(type(llm).model_fields):
        if name in _SKIP or name in _FORMATTERS or _SECRET.search(name):
            continue
        value = getattr(llm, name, None)
        # a field holding one non-JSON value (a response format in a kwargs dict) was left
        # out whole, seed and all: its plain parts count, the rest as far as it can be told
        params[name] = _fingerprint(value, name, strict=False)
    formatting = {}
    for name in _FORMATTERS:
        value = getattr(llm, name, None)
        if value is not None:
            formatting[name] = _fingerprint(value, name)
    try:
        model = llm.metadata.model_name
    except Exception:  # metadata may need a network call in odd LLMs
        model = None
    return {"class": llm.class_name(), "model": model, "params": params, "format": formatting}


def _message_text(message: ChatMessage) -> str:
    """What a semantic cache embeds for one message: its text, tool calls as
    ``[tool call name {args}]``, images and other media as a hash of their data."""
    parts: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append(block.text)
        elif isinstance(block, ToolCallBlock):
            parts.append(tool_call_text(block))
        elif not isinstance(block, ThinkingBlock):  # reasoning varies run to run
            parts.append(block_text(str(getattr(block, "block_type", "block")), block))
    calls = message.additional_kwargs.get("tool_calls")
    if calls and isinstance(calls, list):
        parts += [tool_call_text(c) for c in calls]
    return " ".join(p for p in parts if p)


# a media block's inline data; without it the LLM reads the block's ``path`` at call time
_INLINE = ("image", "audio", "video", "data")


def _path_blocks(messages: Sequence[ChatMessage]) -> list[tuple[int, int, Any]]:
    """``(message, block, path)`` of each block the LLM will read from a ``path``: the
    block itself holds only that path, so another picture saved at the same path (an
    upload folder) is another model input with the same messages."""
    found: list[tuple[int, int, Any]] = []
    for i, message in enumerate(messages):
        for j, block in enumerate(message.blocks):
            path = getattr(block, "path", None)
            if path is not None and not any(getattr(block, f, None) for f in _INLINE):
                found.append((i, j, path))
    return found


def _file_digests(blocks: list[tuple[int, int, Any]]) -> list[list[Any]] | None:
    """``[message, block, SHA-256 of the file]`` for each of :func:`_path_blocks`, or
    None when a file cannot be read (the call then goes to the model uncached). Reads
    the files: the key builders get its result, and the async methods run it in a
    thread (a large video read on the event loop stalled every other request)."""
    found: list[list[Any]] = []
    for i, j, path in blocks:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError:
            return None
        found.append([i, j, h.hexdigest()])
    return found


def _digests(messages: Sequence[ChatMessage]) -> list[list[Any]] | None:
    return _file_digests(_path_blocks(messages))


async def _adigests(messages: Sequence[ChatMessage]) -> list[list[Any]] | None:
    blocks = _path_blocks(messages)
    # a thread only when there is a file: most calls have none
    return await asyncio.to_thread(_file_digests, blocks) if blocks else []


def _joined(deltas: list[str], text: str) -> str:
    """The streamed text: the deltas joined when they hold more than the last chunk's
    text (MockLLM's text lags one delta behind), else that text."""
    joined = "".join(deltas)
    return joined if len(joined) > len(text) and joined.startswith(text) else text


def _final_chat(last: ChatResponse, deltas: list[str]) -> ChatResponse:
    content = last.message.content or ""
    full = _joined(deltas, content)
    if full == content or not all(isinstance(b, TextBlock) for b in last.message.blocks):
        return last
    message = last.message.model_copy(update={"blocks": [TextBlock(text=full)]})
    return last.model_copy(update={"message": message})


def _final_completion(last: CompletionResponse, deltas: list[str]) -> CompletionResponse:
    if not isinstance(last.text, str):  # not cached (_storable), as it is
        return last
    full = _joined(deltas, last.text)
    return last if full == last.text else last.model_copy(update={"text": full})


def _usage(response: ChatResponse | CompletionResponse) -> dict[str, int] | None:
    sources: list[Any] = [response.additional_kwargs]
    raw = response.raw
    if isinstance(raw, dict):
        sources.append(raw.get("usage"))
    else:
        sources.append(getattr(raw, "usage", None))
    for source in sources:
        if source is None:
            continue
        if not isinstance(source, dict):
            source = getattr(source, "model_dump", lambda: {})()
        usage = {
            k: int(v)
            for k, v in source.items()
            if k.endswith("_tokens") and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if usage:
            return usage
    return None


def _payload(
    data: dict[str, Any], kwargs: dict[str, Any], message_kwargs: dict[str, Any]
) -> str | None:
    """The cache entry of a response, or None (logged) where a hit would not replay
    what the model returned: a NaN / inf (JSON null) or a value of no JSON type (a
    datetime would come back as a str) in its or its message's ``additional_kwargs``
    (pydantic models there, e.g. OpenAI's tool calls, come back as dicts, as before)."""
    found = find_unreadable(kwargs, objects=True, keys=True) or find_unreadable(
        message_kwargs, objects=True, allow=(BaseModel,)
    )
    if found is None:
        try:
            return orjson.dumps({**data, "additional_kwargs": kwargs}).decode()
        except TypeError as exc:  # e.g. an int beyond 64 bits
            found = Unreadable("object", exc, "")
    logger.warning(
        "response not cached: its additional_kwargs hold %r at %s, which the cache cannot "
        "store as it is (a hit would replay another value)",
        found.value,
        found.path or "the top level",
    )
    return None


def _has_answer(message: ChatMessage) -> bool:
    """Whether a chat answer holds anything to replay: text other than whitespace, a
    tool call (a block or OpenAI's ``tool_calls``) or a media block; reasoning alone
    (a ``ThinkingBlock``: the model stopped before it answered) does not count."""
    for block in message.blocks:
        if isinstance(block, TextBlock):
            if block.text.strip():
                return True
        elif not isinstance(block, ThinkingBlock):
            return True
    return bool(message.additional_kwargs.get("tool_calls"))


def _has_text_answer(text: str, kwargs: Mapping[str, Any]) -> bool:
    """:func:`_has_answer` of a completion: text other than whitespace, or tool calls in
    its ``additional_kwargs`` (a chat answer turned into a completion keeps them there)."""
    return bool(text.strip() or kwargs.get("tool_calls"))


def _storable(response: Any, kind: type[ChatResponse] | type[CompletionResponse]) -> bool:
    """Whether the inner LLM's ``response`` is an answer to cache. :class:`ConfigError`
    when it is not a ``kind`` at all (the model's answer cannot be returned as one
    either); ``False`` (logged: the answer is returned, not cached) for an empty answer,
    which a hit would serve until the entry expired (a content filter, a token limit
    spent on reasoning), and for a text that is not a str (set on a response after it
    was built), which a hit could not rebuild: every later call raised."""
    if kind is ChatResponse:
        ok = isinstance(response, ChatResponse) and isinstance(response.message, ChatMessage)
    else:
        ok = isinstance(response, CompletionResponse)
    if not ok:
        raise ConfigError(
            f"the wrapped LLM returned a {type(response).__name__} where LlamaIndex expects "
            f"a {kind.__name__}: RedisCacheLLM caches only that (fix the LLM's "
            "chat/complete to return one). Nothing was written"
        )
    if isinstance(response, ChatResponse):
        text_ok, empty = True, not _has_answer(response.message)
    else:
        text_ok = isinstance(response.text, str)
        empty = text_ok and not _has_text_answer(response.text, response.additional_kwargs)
    if text_ok and not empty:
        return True
    logger.warning(
        "response not cached: %s (asked again, the model answers again)",
        "its answer is empty" if text_ok else f"its text is a {type(response.text).__name__}",
    )
    return False


def _unreadable(hit: CacheHit | None) -> None:
    """Log an entry no hit can be built from (one raised on every call): a miss."""
    logger.warning("cache entry %s is unreadable: treated as a miss", hit and hit.key)


_STREAM_EXAMPLE = {
    "ChatResponse": "ChatResponse(message=ChatMessage(content=so_far), delta=piece)",
    "CompletionResponse": "CompletionResponse(text=so_far, delta=piece)",
}


def _streamed(item: Any, kind: type[Any], llm: LLM, method: str) -> str:
    """The delta of ``item``, one chunk of ``llm``'s stream; :class:`ConfigError` when it
    is no ``kind`` (a ``str`` yielded as the text): that failed here with a bare
    ``AttributeError: 'str' object has no attribute 'delta'``, nothing cached."""
    if not isinstance(item, kind):
        raise ConfigError(
            f"{type(llm).__name__}.{method}() yielded a {type(item).__name__}, not a "
            f"{kind.__name__}: a LlamaIndex streaming LLM yields {kind.__name__} objects "
            f"(the text so far and the new piece), e.g. {_STREAM_EXAMPLE[kind.__name__]}; "
            "nothing was cached"
        )
    return item.delta or ""


def _generate(items: list[Any]) -> Generator[Any, None, None]:
    # a real generator: LlamaIndex's callback wrappers only wrap generators as streams
    yield from items


def _chunks(text: str) -> list[str]:
    """Split text into word-sized stream deltas (whitespace kept)."""
    return re.findall(r"\S+\s*|\s+", text) or [""]


class RedisCacheLLM(FunctionCallingLLM):
    """An LLM that answers from a Redis cache when it can and asks ``llm`` otherwise.

    Args:
        llm: the LlamaIndex LLM to wrap (its ``metadata`` is delegated).
        cache: a core :class:`ExactCache` or :class:`SemanticCache` (default: a new
            ``ExactCache()`` on ``REDIS_URL`` / the embedded server).
        filters: a fixed partition, e.g. ``{"tenant": "acme"}`` (a semantic cache must
            declare the same ``filter_fields``).

    Responses served from the cache carry ``additional_kwargs["cache_hit"] = True``.
    """

    _llm: LLM = PrivateAttr()
    _cache: ExactCache | SemanticCache = PrivateAttr()
    _filters: dict[str, str] | None = PrivateAttr(default=None)

    def __init__(
        self,
        llm: LLM,
        cache: ExactCache | SemanticCache | None = None,
        *,
        filters: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        # pydantic would drop an unknown one: filter= for filters= lost the partition
        check_kwargs("RedisCacheLLM", kwargs, accepted=type(self).model_fields, hints=_HINTS)
        if cache is not None and not isinstance(cache, (ExactCache, SemanticCache)):
            raise ConfigError(
                f"cache must be a core ExactCache or SemanticCache, got {type(cache).__name__}"
            )
        for name in _PROMPT_FIELDS:
            if name not in kwargs and getattr(llm, name, None) is not None:
                kwargs[name] = getattr(llm, name)
        kwargs.setdefault("callback_manager", llm.callback_manager)
        super().__init__(**kwargs)
        self._llm = llm
        self._cache = cache if cache is not None else ExactCache()
        self._filters = dict(filters) if filters else None
        llm_identity(llm)  # refuse an unfingerprintable formatter now, not at the first call

    @classmethod
    def class_name(cls) -> str:
        return "RedisCacheLLM"

    @property
    def llm(self) -> LLM:
        """The wrapped LLM."""
        return self._llm

    @property
    def cache(self) -> ExactCache | SemanticCache:
        """The core cache (``stats()``, ``clear()``)."""
        return self._cache

    @property
    def metadata(self) -> LLMMetadata:
        return self._llm.metadata

    # -- keys and payloads (pure, shared by sync and async) --
    def _scope(
        self, kind: str, kwargs: dict[str, Any], files: list[list[Any]] | None = None
    ) -> str:
        # computed per call: a setting of the inner LLM changed after wrapping
        # (temperature, a template) must change the scope
        identity = {**llm_identity(self._llm), "call": kind, "kwargs": _call_kwargs(kwargs)}
        if files:  # only then: calls without files keep the scope they always had
            identity["files"] = files
        return make_scope(identity)

    def _chat_key(
        self,
        messages: Sequence[ChatMessage],
        kwargs: dict[str, Any],
        files: list[list[Any]] | None,
    ) -> tuple[str, str] | None:
        """``(text, scope)`` of a chat call, or ``None`` when JSON cannot key it exactly
        (a NaN or an infinity, written as null; an int beyond 64 bits, refused) or a
        block's file could not be read (``files`` None: :func:`_digests`, read by the
        caller): such a call goes to the model uncached."""
        if files is None:
            return None
        try:
            scope = self._scope("chat", kwargs, files)
            if not isinstance(self._cache, SemanticCache):
                # exact: the full messages, blocks and kwargs included
                data = exact_json([m.model_dump(mode="json") for m in messages])
                # pydantic's JSON mode already wrote a NaN as None: look at the values
                if data is None or (
                    b"null" in data and has_non_finite([m.model_dump() for m in messages])
                ):
                    return None
                return data.decode(), scope
            conversation = [(m.role.value, _message_text(m)) for m in messages]
            text = conversation_text(conversation)
            # what the messages send besides that text (OpenAI's "name" is in
            # additional_kwargs): "Who am I?" from alice and from bob are two model inputs
            besides = [
                {k: v for k, v in m.additional_kwargs.items() if k not in _IN_TEXT_OR_UNSEEN}
                for m in messages
            ]
            if has_non_finite(besides):
                return None
            return text, scope_with_sent_besides_text(scope, besides, conversation)
        except TypeError:  # an int beyond 64 bits in the kwargs or the messages
            return None

    def _complete_key(
        self, prompt: str, formatted: bool, kwargs: dict[str, Any]
    ) -> tuple[str, str]:
        return prompt, self._scope("complete" if not formatted else "complete:formatted", kwargs)

    @staticmethod
    def _chat_payload(response: ChatResponse) -> str | None:
        if not _storable(response, ChatResponse):
            return None
        return _payload(
            {"message": response.message.model_dump(mode="json")},
            response.additional_kwargs,
            response.message.additional_kwargs,
        )

    @staticmethod
    def _completion_payload(response: CompletionResponse) -> str | None:
        if not _storable(response, CompletionResponse):
            return None
        return _payload({"text": response.text}, response.additional_kwargs, {})

    @staticmethod
    def _load(hit: CacheHit | None) -> dict[str, Any] | None:
        if hit is None:
            return None
        try:
            data = orjson.loads(hit.payload)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            _unreadable(hit)
            return None
        data.setdefault("additional_kwargs", {})["cache_hit"] = True
        return data

    def _chat_hit(self, hit: CacheHit | None) -> ChatResponse | None:
        data = self._load(hit)
        if data is None or "message" not in data:
            return None
        try:
            message = ChatMessage.model_validate(data["message"])
        except ValidationError:
            message = None
        # an entry written before empty answers were refused is a miss too
        if message is None or not _has_answer(message):
            _unreadable(hit)
            return None
        return ChatResponse(message=message, additional_kwargs=data["additional_kwargs"])

    def _completion_hit(self, hit: CacheHit | None) -> CompletionResponse | None:
        data = self._load(hit)
        if data is None or "text" not in data:
            return None
        text = data["text"]
        if not isinstance(text, str) or not _has_text_answer(text, data["additional_kwargs"]):
            _unreadable(hit)
            return None
        return CompletionResponse(text=data["text"], additional_kwargs=data["additional_kwargs"])

    @staticmethod
    def _replay_chat(response: ChatResponse) -> list[ChatResponse]:
        out, acc = [], ""
        for delta in _chunks(response.message.content or ""):
            acc += delta
            message = response.message.model_copy(update={"blocks": []})
            message.content = acc
            out.append(
                ChatResponse(
                    message=message, delta=delta, additional_kwargs=response.additional_kwargs
                )
            )
        out[-1] = ChatResponse(
            message=response.message,
            delta=out[-1].delta,
            additional_kwargs=response.additional_kwargs,
        )
        return out

    @staticmethod
    def _replay_completion(response: CompletionResponse) -> list[CompletionResponse]:
        out, acc = [], ""
        for delta in _chunks(response.text):
            acc += delta
            out.append(
                CompletionResponse(
                    text=acc, delta=delta, additional_kwargs=response.additional_kwargs
                )
            )
        return out

    def _store(
        self, text: str, scope: str, payload: str | None, usage: dict[str, int] | None
    ) -> None:
        if payload is not None:  # None: the answer would not replay as given (logged)
            self._cache.update(text, scope, payload, usage=usage, filters=self._filters)

    async def _astore(
        self, text: str, scope: str, payload: str | None, usage: dict[str, int] | None
    ) -> None:
        if payload is not None:
            await self._cache.aupdate(text, scope, payload, usage=usage, filters=self._filters)

    # -- sync --
    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        key = self._chat_key(messages, kwargs, _digests(messages))
        if key is None:
            return self._llm.chat(messages, **kwargs)
        text, scope = key
        cached = self._chat_hit(self._cache.lookup(text, scope, filters=self._filters))
        if cached is not None:
            return cached
        response = self._llm.chat(messages, **kwargs)
        self._store(text, scope, self._chat_payload(response), _usage(response))
        return response

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        text, scope = self._complete_key(prompt, formatted, kwargs)
        cached = self._completion_hit(self._cache.lookup(text, scope, filters=self._filters))
        if cached is not None:
            return cached
        response = self._llm.complete(prompt, formatted=formatted, **kwargs)
        self._store(text, scope, self._completion_payload(response), _usage(response))
        return response

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        key = self._chat_key(messages, kwargs, _digests(messages))
        if key is None:
            return self._llm.stream_chat(messages, **kwargs)
        text, scope = key
        cached = self._chat_hit(self._cache.lookup(text, scope, filters=self._filters))
        if cached is not None:
            return _generate(self._replay_chat(cached))
        inner = self._llm.stream_chat(messages, **kwargs)

        def gen() -> Generator[ChatResponse, None, None]:
            last, deltas = None, []
            for last in inner:
                deltas.append(_streamed(last, ChatResponse, self._llm, "stream_chat"))
                yield last
            if last is not None:  # stored only when the stream ran to its end
                final = _final_chat(last, deltas)
                self._store(text, scope, self._chat_payload(final), _usage(last))

        return gen()

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        text, scope = self._complete_key(prompt, formatted, kwargs)
        cached = self._completion_hit(self._cache.lookup(text, scope, filters=self._filters))
        if cached is not None:
            return _generate(self._replay_completion(cached))
        inner = self._llm.stream_complete(prompt, formatted=formatted, **kwargs)

        def gen() -> Generator[CompletionResponse, None, None]:
            last, deltas = None, []
            for last in inner:
                deltas.append(_streamed(last, CompletionResponse, self._llm, "stream_complete"))
                yield last
            if last is not None:
                final = _final_completion(last, deltas)
                self._store(text, scope, self._completion_payload(final), _usage(last))

        return gen()

    # -- async --
    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        key = self._chat_key(messages, kwargs, await _adigests(messages))
        if key is None:
            return await self._llm.achat(messages, **kwargs)
        text, scope = key
        cached = self._chat_hit(await self._cache.alookup(text, scope, filters=self._filters))
        if cached is not None:
            return cached
        response = await self._llm.achat(messages, **kwargs)
        await self._astore(text, scope, self._chat_payload(response), _usage(response))
        return response

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        text, scope = self._complete_key(prompt, formatted, kwargs)
        cached = self._completion_hit(await self._cache.alookup(text, scope, filters=self._filters))
        if cached is not None:
            return cached
        response = await self._llm.acomplete(prompt, formatted=formatted, **kwargs)
        await self._astore(text, scope, self._completion_payload(response), _usage(response))
        return response

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        key = self._chat_key(messages, kwargs, await _adigests(messages))
        if key is None:
            return await self._llm.astream_chat(messages, **kwargs)
        text, scope = key
        cached = self._chat_hit(await self._cache.alookup(text, scope, filters=self._filters))
        if cached is not None:
            replay = self._replay_chat(cached)

            async def hit() -> AsyncGenerator[ChatResponse, None]:
                for item in replay:
                    yield item

            return hit()
        inner = await self._llm.astream_chat(messages, **kwargs)

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            last, deltas = None, []
            async for last in inner:
                deltas.append(_streamed(last, ChatResponse, self._llm, "astream_chat"))
                yield last
            if last is not None:
                final = _final_chat(last, deltas)
                await self._astore(text, scope, self._chat_payload(final), _usage(last))

        return gen()

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        text, scope = self._complete_key(prompt, formatted, kwargs)
        cached = self._completion_hit(await self._cache.alookup(text, scope, filters=self._filters))
        if cached is not None:
            replay = self._replay_completion(cached)

            async def hit() -> AsyncGenerator[CompletionResponse, None]:
                for item in replay:
                    yield item

            return hit()
        inner = await self._llm.astream_complete(prompt, formatted=formatted, **kwargs)

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            last, deltas = None, []
            async for last in inner:
                deltas.append(_streamed(last, CompletionResponse, self._llm, "astream_complete"))
                yield last
            if last is not None:
                final = _final_completion(last, deltas)
                await self._astore(text, scope, self._completion_payload(final), _usage(last))

        return gen()

    # -- tools (FunctionAgent, structured_predict): the inner LLM's own plumbing; the
    # call itself goes through chat() with the tool specs in its kwargs, so in the scope
    def _calling(self) -> FunctionCallingLLM:
        if not isinstance(self._llm, FunctionCallingLLM):
            raise CapabilityError(
                f"{type(self._llm).__name__} does not call tools (it is no "
                "FunctionCallingLLM): give the agent a ReActAgent, or wrap a "
                "function-calling LLM in RedisCacheLLM"
            )
        return self._llm

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[Any],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The inner LLM's chat kwargs for ``tools`` (its tool specs, tool choice...)."""
        return self._calling()._prepare_chat_with_tools_compat(
            tools,
            user_msg=user_msg,
            chat_history=chat_history,
            verbose=verbose,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
            tool_required=tool_required,
            **kwargs,
        )

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[Any],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        return self._calling()._validate_chat_with_tools_response(
            response, tools, allow_parallel_tool_calls=allow_parallel_tool_calls, **kwargs
        )

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of a response (cached or not), read by the inner LLM; none
        from a plain inner LLM when ``error_on_no_tool_call=False`` (a CodeActAgent asks
        every FunctionCallingLLM, which this wrapper is, whatever it wraps)."""
        if not error_on_no_tool_call and not isinstance(self._llm, FunctionCallingLLM):
            return []
        return self._calling().get_tool_calls_from_response(
            response, error_on_no_tool_call=error_on_no_tool_call, **kwargs
        )
