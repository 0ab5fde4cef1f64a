"""LangGraph checkpointers on plain Redis: ``RedisSaver`` and ``ShallowRedisSaver``.

Needs the ``langgraph`` extra. No Redis module is used (no RedisJSON, no
RediSearch), so these run on any Redis 6.2+, managed Redis, Valkey or a Redis
Cluster (every key of a thread shares one hash tag).

Values go through LangGraph's serializer with pickle refused and msgpack
restricted to LangGraph's safe types plus those of the graph's state schema
(LangGraph adds them when the graph is compiled): nothing read from Redis is
unpickled, and no module is imported by name unless allowed.
"""

from __future__ import annotations

import copy
import random
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import ormsgpack
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.serde import _msgpack as lg_msgpack
from langgraph.checkpoint.serde import jsonplus
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.event_hooks import register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from redis_agent_core.checkpoints import (
    CheckpointStore,
    PendingWriteIn,
    StoredCheckpoint,
    Typed,
)
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError, RedisAgentError
from redis_agent_core.keys import as_list

__all__ = [
    "AsyncRedisSaver",
    "AsyncShallowRedisSaver",
    "RedisSaver",
    "ShallowRedisSaver",
    "safe_serializer",
]

_NO_CHECKPOINT_ID = (
    "put_writes needs configurable.checkpoint_id (the checkpoint the writes belong to)"
)


def _checkpoint_id(config: RunnableConfig) -> str | None:
    """``configurable.checkpoint_id``, ``None`` when absent or empty. LangGraph's own
    savers read an empty id (a form field left blank, a client that always sends the
    key) as "no id": the latest checkpoint. Looked up as an id, it found none, and the
    graph started the thread over from an empty state."""
    return get_checkpoint_id(config) or None


def _keep_latest(strategy: str) -> bool:
    if strategy not in ("keep_latest", "delete"):
        raise ConfigError(f"prune strategy must be 'keep_latest' or 'delete', got {strategy!r}")
    return strategy == "keep_latest"


def safe_serializer(allowed_types: Iterable[type | tuple[str, ...]] = ()) -> JsonPlusSerializer:
    """LangGraph's serializer with pickle off and msgpack limited to LangGraph's safe
    types (messages, documents, ``Send``, ``Command``, datetimes...) plus
    ``allowed_types`` (classes, or ``(module, name)`` pairs): nothing else is imported
    by a name read from Redis."""
    return JsonPlusSerializer(
        pickle_fallback=False, allowed_msgpack_modules=list(allowed_types) or None
    )


# Values of a type outside the allowlist: LangGraph's serializer returns them as plain
# data and only logs. A saver turns that into an error naming the type (a dict where
# the graph expects a model is a wrong result); the events reach it through this
# context variable, set around each load.
_blocked: ContextVar[list[str] | None] = ContextVar("redis_agent_blocked", default=None)
_listening = False


def _on_serde_event(event: Any) -> None:
    seen = _blocked.get()
    if seen is not None and event.get("kind") in ("msgpack_blocked", "msgpack_method_blocked"):
        seen.append(f"{event.get('module')}.{event.get('name')}")


def _listen() -> None:
    global _listening
    if not _listening:
        register_serde_event_listener(_on_serde_event)
        _listening = True


def check_serde(
    serde: SerializerProtocol | None, allowed_types: Iterable[type | tuple[str, ...]]
) -> SerializerProtocol:
    allowed = list(allowed_types)
    if serde is None:
        return safe_serializer(allowed)
    if allowed:
        if not isinstance(serde, JsonPlusSerializer):
            raise ConfigError(
                "allowed_types= widens LangGraph's JsonPlusSerializer; with another serde= "
                "configure its allowlist there"
            )
        serde = serde.with_msgpack_allowlist(allowed)
    # an EncryptedSerializer hands unencrypted values (anyone with write access can plant
    # one) straight to its inner serializer: that one is checked too
    inner = serde.serde if isinstance(serde, EncryptedSerializer) else serde
    if getattr(inner, "pickle_fallback", False):
        raise ConfigError(
            "serde has pickle_fallback=True: a checkpointer of redis-agent-pack never "
            "unpickles data read from Redis. Pass a serializer without pickle fallback "
            "(e.g. langchain_redis_agent.checkpoint.safe_serializer())"
        )
    if isinstance(inner, JsonPlusSerializer) and _imports_any_name(inner):
        raise ConfigError(
            "serde imports and calls any class a value in Redis names (JsonPlusSerializer() "
            "allows every msgpack type unless LANGGRAPH_STRICT_MSGPACK=true, or "
            "allowed_json_modules=True): a checkpointer of redis-agent-pack never does. "
            "Pass safe_serializer() (or JsonPlusSerializer(allowed_msgpack_modules=None)) "
            "and list your own classes in allowed_types=[...]"
        )
    return serde


def _imports_any_name(serde: JsonPlusSerializer) -> bool:
    """Whether ``serde`` rebuilds a class of any name read from the data: an allowlist of
    ``True`` (LangGraph's default without ``LANGGRAPH_STRICT_MSGPACK``) on either path.
    A serializer with its own ext hook is the application's code, taken as given."""
    custom_hook = getattr(serde, "_custom_unpack_ext_hook", False)
    return getattr(serde, "_allowed_json_modules", None) is True or (
        not custom_hook and getattr(serde, "_allowed_msgpack_modules", None) is True
    )


# The allowlist checked as values are WRITTEN, so a run with a value its saver would refuse
# to read back fails at once (nothing written) instead of succeeding and leaving every
# later resume to fail. LangGraph's encoder hands each object msgpack cannot pack itself
# (models, dataclasses, enums, sets...) to ``jsonplus._msgpack_default``, at any depth
# (nested payloads are packed by the same module function): wrapping that one function
# checks exactly the objects whose class the reader will check, at the cost of a set
# lookup per such object and no second pass. The check is active only while a saver of
# this module encodes (``_writing``); every other use of LangGraph's serializer is as before.
_Allowed = frozenset[tuple[str, ...]] | set[tuple[str, ...]] | None
_writing: ContextVar[tuple[_Allowed, list[str]] | None] = ContextVar(
    "redis_agent_writing", default=None
)
_lg_default = jsonplus._msgpack_default


def _refused_name(obj: Any, allowed: _Allowed) -> str | None:
    """The ``module.name`` of ``obj``, packed as a msgpack extension, when the reader's ext
    hook would refuse to rebuild it (mirrors ``_create_msgpack_ext_hook``: the allowlist
    for constructors and models, ``SAFE_MSGPACK_METHODS`` alone for datetimes; arrays and
    delta snapshots name no class)."""
    if isinstance(obj, jsonplus._DeltaSnapshot):
        return None
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.ndarray):
        return None
    kind = type(obj)
    key: tuple[str, ...] = (
        ("re", "compile") if isinstance(obj, re.Pattern) else (kind.__module__, kind.__name__)
    )
    if isinstance(obj, datetime):
        safe = (*key, "fromisoformat") in lg_msgpack.SAFE_MSGPACK_METHODS
    else:
        safe = key in lg_msgpack.SAFE_MSGPACK_TYPES or (allowed is not None and key in allowed)
    return None if safe else ".".join(key)


def _checked_default(obj: Any) -> Any:
    encoded = _lg_default(obj)  # nested objects first (LangGraph's own errors stand)
    writing = _writing.get()
    # (an exception is written as its repr, a plain string: nothing to check)
    if writing is not None and isinstance(encoded, ormsgpack.Ext):
        name = _refused_name(obj, writing[0])
        if name is not None:
            writing[1].append(name)
            raise TypeError(name)  # ormsgpack stops and raises its own TypeError
    return encoded


jsonplus._msgpack_default = _checked_default


def _write_allowlist(serde: SerializerProtocol) -> tuple[bool, _Allowed]:
    """Whether writes through ``serde`` are checked, and against which allowlist: only
    LangGraph's serializer (alone or inside an ``EncryptedSerializer``) decoding with its
    own ext hook; another serde reads with rules of its own."""
    inner = serde.serde if isinstance(serde, EncryptedSerializer) else serde
    if not isinstance(inner, JsonPlusSerializer) or getattr(
        inner, "_custom_unpack_ext_hook", False
    ):
        return False, None
    allowed = getattr(inner, "_allowed_msgpack_modules", None)
    if allowed is True:
        return False, None
    return True, allowed


def dump_checked(serde: SerializerProtocol, value: Any, what: str, holder: str) -> Typed:
    """``serde.dumps_typed(value)``, refusing (:class:`ConfigError` naming the classes and
    the fix, before anything is written) a value holding an object the same serde would
    refuse to rebuild when it is read back."""
    checked, allowed = _write_allowlist(serde)
    if not checked:
        return serde.dumps_typed(value)
    refused: list[str] = []
    token = _writing.set((allowed, refused))
    try:
        return serde.dumps_typed(value)
    except TypeError:
        if not refused:
            raise
        raise ConfigError(
            f"the {what} holds a value of type {refused[0]}, which this {holder} would not "
            f"rebuild when it reads the value back (nothing was written): pass "
            f"allowed_types=[...] with this class to the {holder} (or a serde= allowing it)"
        ) from None
    finally:
        _writing.reset(token)


def load_checked(
    serde: SerializerProtocol,
    value: Typed,
    what: str,
    holder: str,
    loads: Callable[[Typed], Any] | None = None,
) -> Any:
    """``serde.loads_typed(value)`` (or ``loads(value)``), refusing a pickle and a value
    of a type outside the allowlist (:class:`ConfigError` naming it) instead of
    returning it as plain data."""
    if value[0] == "pickle":
        raise DataCorruptionError(
            f"a {what} value in Redis is a pickle, which this {holder} never loads "
            "(it could run code). Delete it or rewrite it with a serializer that does "
            "not pickle"
        )
    _listen()
    seen: list[str] = []
    token = _blocked.set(seen)
    try:
        loaded = (loads or serde.loads_typed)(value)
    except (ValueError, NotImplementedError) as exc:
        if isinstance(exc, RedisAgentError):
            raise
        # JSON or msgpack that does not parse, a type no serializer knows: damaged or
        # planted bytes, named as such rather than as a parser's own error
        raise DataCorruptionError(
            f"a {what} value in Redis (serialized as {value[0]!r}) does not decode "
            f"({type(exc).__name__}: {exc}); delete it or write it again"
        ) from exc
    finally:
        _blocked.reset(token)
    if value[0] == "json":  # (the savers write msgpack: only old or planted data is JSON)
        seen += _unrevived(loaded)
    if seen:
        names = ", ".join(sorted(set(seen)))
        raise ConfigError(
            f"the {what} holds values of type {names}, which this {holder} does not "
            f"import by a name read from Redis: pass allowed_types=[...] with these "
            f"classes to the {holder} (or a serde= allowing them)"
        )
    return loaded


def _unrevived(value: Any) -> list[str]:
    """The classes named by LangChain serialization envelopes (``{"lc": 2, "type":
    "constructor", "id": [...]}``) left in ``value``: a JSON reviver returns an envelope it
    will not build as a plain dict, which would resume the graph with a dict where an
    object was."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ids = item.get("id")
            if "lc" in item and item.get("type") == "constructor" and isinstance(ids, list):
                found.append(".".join(map(str, ids)))
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return found


_ATOMIC = frozenset({str, int, float, bool, type(None), bytes})
_MEMO_CAP = 4096  # distinct values kept by one list call (a list over many threads)


_PLAIN_MODELS: dict[type, bool] = {}


def _plain_model(kind: type) -> bool:
    """A pydantic model class copied the way BaseModel copies (cached: isinstance on a
    model goes through ABCMeta)."""
    plain = _PLAIN_MODELS.get(kind)
    if plain is None:
        plain = issubclass(kind, BaseModel) and kind.__copy__ is BaseModel.__copy__
        _PLAIN_MODELS[kind] = plain
    return plain


def _fresh(value: Any) -> Any:
    """A copy of a decoded value sharing no mutable part with it (what decoding the
    bytes again gives): dicts and lists rebuilt, pydantic models copied field by
    field (no validation: the original passed it), anything else deep-copied."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict:
        return {k: _fresh(v) for k, v in value.items()} if value else {}
    if kind is list:
        return [_fresh(v) for v in value] if value else []
    if _plain_model(kind):
        # BaseModel.__copy__ with every part copied deeply (it goes through
        # copy.copy three times: most of the cost of a shallow copy)
        clone = object.__new__(kind)  # what BaseModel.__copy__ does (no __new__ of its own)
        setattr_ = object.__setattr__
        fields = value.__dict__.copy()
        for k, v in fields.items():
            if type(v) not in _ATOMIC:
                fields[k] = _fresh(v)
        setattr_(clone, "__dict__", fields)
        setattr_(clone, "__pydantic_fields_set__", set(value.__pydantic_fields_set__))
        extra = value.__pydantic_extra__
        setattr_(clone, "__pydantic_extra__", None if extra is None else _fresh(extra))
        private = getattr(value, "__pydantic_private__", None)
        if private is not None:
            private = {k: _fresh(v) for k, v in private.items() if v is not PydanticUndefined}
        setattr_(clone, "__pydantic_private__", private)
        return clone
    return copy.deepcopy(value)


class _SharedDecoder:
    """Loads of one ``list`` call: checkpoint k of a chat thread holds messages 0..k,
    so each message is decoded (validated, rebuilt) once per call, by its serialized
    bytes, and every tuple gets its own copy (mutating a message of one tuple changes
    no other, as with a saver decoding each checkpoint anew).

    Only for LangGraph's own ``JsonPlusSerializer`` (its msgpack extension hook does
    the allowlist checks on first sight; nothing is unpickled); another serde decodes
    each value as usual. Only pydantic models (messages, documents) and plain data are
    memoised: another extension type is decoded at each occurrence.
    """

    __slots__ = ("_hook", "_memo", "_serde")

    def __init__(self, serde: SerializerProtocol) -> None:
        self._serde = serde
        self._memo: dict[tuple[int, bytes], Any] = {}
        # a subclass overriding loads_typed must keep decoding its own way
        plain = type(serde).loads_typed is JsonPlusSerializer.loads_typed
        self._hook: Callable[[int, bytes], Any] | None = (
            getattr(serde, "_unpack_ext_hook", None) if plain else None
        )

    def _ext(self, code: int, data: bytes) -> Any:
        key = (code, data)
        found = self._memo.get(key, self)
        if found is self:
            assert self._hook is not None
            found = self._hook(code, data)
            if not isinstance(found, BaseModel):
                return found
            if len(self._memo) >= _MEMO_CAP:
                self._memo.clear()
            self._memo[key] = found  # kept pristine: callers only ever get copies
        return _fresh(found)

    def loads(self, value: Typed) -> Any:
        if self._hook is None or value[0] != "msgpack":
            return self._serde.loads_typed(value)
        return ormsgpack.unpackb(value[1], ext_hook=self._ext, option=ormsgpack.OPT_NON_STR_KEYS)


class RedisSaver(BaseCheckpointSaver[str]):
    """LangGraph checkpointer keeping every checkpoint of a thread in Redis.

    Sync and async methods both work (``graph.invoke`` and ``graph.ainvoke``).

    Args:
        config: connection settings (default: the process-wide config).
        ttl: seconds a thread's state lives after its last write (``None``:
            ``config.default_ttl``, else forever). Each checkpoint expires ``ttl``
            after it was written; the latest one is always the freshest.
        refresh_on_read: reading a checkpoint pushes its expiry (and the
            thread's) back by ``ttl``.
        serde: serializer (default :func:`safe_serializer`); pickle fallback refused.
        allowed_types: classes stored in the graph's state beyond LangGraph's safe
            types (your pydantic models, dataclasses, enums), or ``(module, name)``
            pairs. A stored value of another type raises :class:`ConfigError` naming
            it, instead of coming back as a dict.
    """

    _shallow = False

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        ttl: int | None = None,
        refresh_on_read: bool = False,
        serde: SerializerProtocol | None = None,
        allowed_types: Iterable[type | tuple[str, ...]] = (),
    ) -> None:
        super().__init__(serde=check_serde(serde, allowed_types))
        _listen()
        self._store = CheckpointStore(
            config, ttl=ttl, refresh_on_read=refresh_on_read, shallow=self._shallow
        )

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisSaver:
        """A saver on the Redis at ``url`` (``?cluster=true`` for a cluster)."""
        return cls(RedisAgentConfig(url=url), **kwargs)

    @property
    def core(self) -> CheckpointStore:
        """The core store behind this saver."""
        return self._store

    def setup(self) -> None:
        """Nothing to create (no index); kept for code written for other savers."""

    async def asetup(self) -> None:
        """Async :meth:`setup` (nothing to do)."""

    # -- pure conversions, shared by sync and async --
    def _dumps(self, value: Any) -> Typed:
        return dump_checked(self.serde, value, "checkpoint", "saver")

    def _loads(self, value: Typed, decoder: _SharedDecoder | None = None) -> Any:
        loads = decoder.loads if decoder is not None else None
        return load_checked(self.serde, value, "checkpoint", "saver", loads)

    @staticmethod
    def _target(config: RunnableConfig) -> tuple[str, str, str | None]:
        conf = config.get("configurable") or {}
        if conf.get("thread_id") is None:
            raise ConfigError(
                "config has no configurable.thread_id: pass "
                "{'configurable': {'thread_id': ...}} to the graph"
            )
        return str(conf["thread_id"]), conf.get("checkpoint_ns") or "", _checkpoint_id(config)

    def _put_args(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[tuple[str, str, str], dict[str, Any]]:
        thread, ns, parent = self._target(config)
        record = checkpoint.copy()
        values: dict[str, Any] = record.pop("channel_values")  # type: ignore[misc]
        versions = {ch: str(v) for ch, v in checkpoint["channel_versions"].items()}
        if self._shallow:
            # the only copy of the thread: every value travels with the checkpoint
            stored = {
                ch: (versions[ch], self._dumps(v)) for ch, v in values.items() if ch in versions
            }
        else:
            stored = {
                ch: (str(v), self._dumps(values[ch]) if ch in values else ("empty", b""))
                for ch, v in new_versions.items()
            }
        return (thread, ns, checkpoint["id"]), {
            "parent_id": parent,
            "checkpoint": self._dumps(record),
            "metadata": self._dumps(get_checkpoint_metadata(config, metadata)),
            "values": stored,
            "channel_versions": versions,
        }

    @staticmethod
    def _writes(
        writes: Sequence[tuple[str, Any]], task_path: str, dumps: Any
    ) -> list[PendingWriteIn]:
        return [
            (channel, WRITES_IDX_MAP.get(channel, i), task_path, dumps(value))
            for i, (channel, value) in enumerate(writes)
        ]

    def _tuple(
        self,
        rec: StoredCheckpoint,
        thread_id: Any = None,
        decoder: _SharedDecoder | None = None,
    ) -> CheckpointTuple:
        checkpoint: Checkpoint = self._loads(rec.checkpoint)
        versions = checkpoint.get("channel_versions", {})
        checkpoint["channel_values"] = {
            ch: self._loads(v, decoder)
            for ch, v in rec.values.items()
            if v[0] != "empty" and ch in versions
        }
        tid = thread_id if thread_id is not None else rec.thread_id
        return CheckpointTuple(
            config={
                "configurable": {
                    "thread_id": tid,
                    "checkpoint_ns": rec.checkpoint_ns,
                    "checkpoint_id": rec.checkpoint_id,
                }
            },
            checkpoint=checkpoint,
            metadata=self._loads(rec.metadata),
            parent_config=(
                {
                    "configurable": {
                        "thread_id": tid,
                        "checkpoint_ns": rec.checkpoint_ns,
                        "checkpoint_id": rec.parent_id,
                    }
                }
                if rec.parent_id
                else None
            ),
            pending_writes=[
                (w.task_id, w.channel, self._loads(w.value, decoder)) for w in rec.writes
            ],
        )

    def _list_plan(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> tuple[str | None, str | None, str | None, str | None, int]:
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise ConfigError(
                f"limit must be an int >= 0 or None (every checkpoint), got {limit!r:.60}"
            )
        conf = (config or {}).get("configurable") or {}
        thread = str(conf["thread_id"]) if conf.get("thread_id") is not None else None
        ns = conf.get("checkpoint_ns")
        only_id = _checkpoint_id(config) if config else None
        before_id = _checkpoint_id(before) if before else None
        page = limit if limit is not None and not filter and limit > 0 else 50
        return thread, ns, only_id, before_id, page

    def _matches(self, rec: StoredCheckpoint, tup_filter: dict[str, Any] | None) -> bool:
        if not tup_filter:
            return True
        metadata = self._loads(rec.metadata)
        return all(metadata.get(k) == v for k, v in tup_filter.items())

    def _where(
        self, tup_filter: dict[str, Any] | None
    ) -> Callable[[StoredCheckpoint], bool] | None:
        if not tup_filter:
            return None
        return lambda rec: self._matches(rec, tup_filter)

    def _run_filter(self, run_ids: Sequence[str]) -> Callable[[StoredCheckpoint], bool] | None:
        wanted = {str(r) for r in as_list(run_ids, "run_ids")}
        if not wanted:
            return None
        return lambda rec: str(self._loads(rec.metadata).get("run_id")) in wanted

    # -- sync --
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread, ns, checkpoint_id = self._target(config)
        rec = self._store.get(thread, ns, checkpoint_id)
        return self._tuple(rec, config["configurable"]["thread_id"]) if rec else None

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        thread, ns, only_id, before_id, page = self._list_plan(config, filter, before, limit)
        if limit is not None and limit <= 0:
            return
        by_id = only_id is not None and thread is not None
        if only_id is not None and thread is not None:
            recs: Any = [
                r
                for n in ([ns] if ns is not None else self._store.namespaces(thread))
                if (r := self._store.get(thread, n, only_id)) is not None
                and (before_id is None or r.checkpoint_id < before_id)
            ]
        else:
            recs = self._store.list(
                thread, ns, before=before_id, page=page, where=self._where(filter)
            )
        count = 0
        decoder = _SharedDecoder(self.serde)
        for rec in recs:
            if by_id and not self._matches(rec, filter):
                continue
            yield self._tuple(rec, decoder=decoder)
            count += 1
            if limit is not None and count >= limit:
                return

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        (thread, ns, cid), kwargs = self._put_args(config, checkpoint, metadata, new_versions)
        self._store.put(thread, ns, cid, **kwargs)
        return self._stored_config(config, ns, cid)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread, ns, cid = self._target(config)
        if cid is None:
            raise ConfigError(
                "put_writes needs configurable.checkpoint_id (the checkpoint written to)"
            )
        self._store.put_writes(
            thread, ns, cid, task_id, self._writes(writes, task_path, self._dumps)
        )

    def delete_thread(self, thread_id: str) -> None:
        self._store.delete_thread(str(thread_id))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and pending write of a thread to another thread."""
        self._store.copy_thread(str(source_thread_id), str(target_thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (with their writes) whose metadata ``run_id`` is one of
        ``run_ids``, in every thread. Reads every checkpoint of the namespace: an admin
        operation, not for a request path."""
        where = self._run_filter(run_ids)
        if where is not None:
            self._store.delete_checkpoints(list(self._store.list(None, where=where)))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``"keep_latest"``: keep each namespace's latest checkpoint (with its writes);
        ``"delete"``: delete the threads. Do not keep_latest a graph using LangGraph's
        beta delta channels (their values are rebuilt from ancestors' writes)."""
        self._store.prune(
            [str(t) for t in as_list(thread_ids, "thread_ids")], keep_latest=_keep_latest(strategy)
        )

    # -- async --
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread, ns, checkpoint_id = self._target(config)
        rec = await self._store.aget(thread, ns, checkpoint_id)
        return self._tuple(rec, config["configurable"]["thread_id"]) if rec else None

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        thread, ns, only_id, before_id, page = self._list_plan(config, filter, before, limit)
        if limit is not None and limit <= 0:
            return
        count = 0
        decoder = _SharedDecoder(self.serde)
        if only_id is not None and thread is not None:
            nss = [ns] if ns is not None else await self._store.anamespaces(thread)
            for n in nss:
                rec = await self._store.aget(thread, n, only_id)
                if rec is None or (before_id is not None and rec.checkpoint_id >= before_id):
                    continue
                if self._matches(rec, filter):
                    yield self._tuple(rec, decoder=decoder)
                    count += 1
                    if limit is not None and count >= limit:
                        return
            return
        async for rec in self._store.alist(
            thread, ns, before=before_id, page=page, where=self._where(filter)
        ):
            yield self._tuple(rec, decoder=decoder)
            count += 1
            if limit is not None and count >= limit:
                return

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        (thread, ns, cid), kwargs = self._put_args(config, checkpoint, metadata, new_versions)
        await self._store.aput(thread, ns, cid, **kwargs)
        return self._stored_config(config, ns, cid)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread, ns, cid = self._target(config)
        if cid is None:
            raise ConfigError(
                "put_writes needs configurable.checkpoint_id (the checkpoint written to)"
            )
        await self._store.aput_writes(
            thread, ns, cid, task_id, self._writes(writes, task_path, self._dumps)
        )

    async def adelete_thread(self, thread_id: str) -> None:
        await self._store.adelete_thread(str(thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        await self._store.acopy_thread(str(source_thread_id), str(target_thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async :meth:`delete_for_runs`."""
        where = self._run_filter(run_ids)
        if where is not None:
            found = [rec async for rec in self._store.alist(None, where=where)]
            await self._store.adelete_checkpoints(found)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async :meth:`prune`."""
        await self._store.aprune(
            [str(t) for t in as_list(thread_ids, "thread_ids")], keep_latest=_keep_latest(strategy)
        )

    # -- versions --
    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """Monotonic string versions (``<counter>.<random>``), as LangGraph's savers use."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(str(current).split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    @staticmethod
    def _stored_config(config: RunnableConfig, ns: str, cid: str) -> RunnableConfig:
        return {
            "configurable": {
                "thread_id": config["configurable"]["thread_id"],
                "checkpoint_ns": ns,
                "checkpoint_id": cid,
            }
        }


class AsyncRedisSaver(RedisSaver):
    """:class:`RedisSaver` under the name async code looks for (same class: both
    sync and async methods work on either)."""


class ShallowRedisSaver(RedisSaver):
    """A :class:`RedisSaver` keeping only the latest checkpoint of each thread and
    namespace (with its values inline): constant memory per thread, no history.

    Each put replaces the previous checkpoint and its pending writes in one
    MULTI/EXEC. ``get_tuple`` of an older id, and LangGraph's beta delta channels
    (which rebuild values from ancestors' writes), find nothing.
    """

    _shallow = True


class AsyncShallowRedisSaver(ShallowRedisSaver):
    """:class:`ShallowRedisSaver` under the name async code looks for."""
