"""Durable LlamaIndex workflows on Redis.

- :class:`RedisWorkflowStore` is the workflows server's handler store
  (``llama_agents.server.AbstractWorkflowStore``, package ``llama-agents-server``): a
  served workflow's handlers and status, its event and tick logs and its state live in
  Redis, so ``WorkflowServer(workflow_store=RedisWorkflowStore(...))`` picks its runs up
  again after a restart.
- :class:`RedisContextStore` saves a workflow ``Context`` by id and restores it, in this
  process or another one: a run paused for a human (``InputRequiredEvent``) is resumed
  wherever the answer arrives.

Everything is JSON (``Context.to_dict`` with a ``JsonSerializer``; pickle serializers
are refused). The serializer rebuilds only the classes it is given (``allowed_types``)
and the framework's own, so a stored record cannot make this process import a module.
The Redis logic is the core's :class:`~redis_agent_core.workflows.WorkflowRecords` and
:class:`~redis_agent_core.kvstore.KVStore`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar, cast

import orjson
from llama_agents.client.protocol.serializable_events import EventEnvelopeWithMetadata
from llama_agents.server import AbstractWorkflowStore, HandlerQuery, PersistentHandler

# the record types and decoder of the server's store interface, not re-exported by it
from llama_agents.server._store.abstract_workflow_store import (
    StoredEvent,
    StoredTick,
    decode_persistent_handler,
    is_terminal_status,
)
from pydantic import BaseModel, ValidationError
from workflows import Context, Workflow
from workflows.context import JsonSerializer
from workflows.context.serializers import BaseSerializer, PickleSerializer
from workflows.context.state_store import (
    DictState,
    StateRecord,
    StateStoreFacade,
)
from workflows.context.utils import get_qualified_name
from workflows.errors import ContextSerdeError

from redis_agent_core.config import RedisAgentConfig, check_seconds
from redis_agent_core.errors import ConfigError, DataCorruptionError
from redis_agent_core.kvstore import KVStore
from redis_agent_core.workflows import Log, WorkflowRecords

__all__ = ["RedisContextStore", "RedisWorkflowStore", "classes_named", "matches"]

_STORE_TYPE = "redis"
_S = TypeVar("_S", bound=BaseSerializer)


def matches(handler: PersistentHandler, query: HandlerQuery) -> bool:
    """Whether ``handler`` satisfies ``query`` (an empty list matches nothing, as in the
    server's own stores)."""
    for wanted, value in (
        (query.handler_id_in, handler.handler_id),
        (query.run_id_in, handler.run_id),
        (query.workflow_name_in, handler.workflow_name),
        (query.status_in, handler.status),
    ):
        if wanted is not None and value not in wanted:
            return False
    return query.is_idle is None or query.is_idle == (handler.idle_since is not None)


def _unconditional(query: HandlerQuery) -> bool:
    """Whether ``query`` sets no condition (it matches every handler)."""
    return all(getattr(query, f.name) is None for f in dataclasses.fields(query))


def _stamped(payload: Any) -> bytes:
    return orjson.dumps({"t": datetime.now(timezone.utc).isoformat(), "d": payload})


def _unstamped(raw: bytes) -> tuple[datetime, Any]:
    item = orjson.loads(raw)
    return datetime.fromisoformat(item["t"]), item["d"]


def _check_serializer(serializer: BaseSerializer | None) -> BaseSerializer | None:
    if isinstance(serializer, PickleSerializer):
        raise ConfigError(
            "PickleSerializer is refused: nothing read from Redis is unpickled. "
            "Use JsonSerializer(allowed_types=[...your event and state classes])."
        )
    return serializer


def _closed(serializer: JsonSerializer) -> JsonSerializer:
    """``serializer``, refused when it would import any class a record names (a
    ``JsonSerializer()`` without ``allowed_types``)."""
    if getattr(serializer, "_allowed_type_names", None) is None:
        raise ConfigError(
            "JsonSerializer() without allowed_types imports any class a snapshot in Redis "
            "names: pass JsonSerializer(allowed_types=[...your event and state classes]) "
            "or allowed_types=[...] to the store"
        )
    return serializer


class _WriteChecked(JsonSerializer):
    """A ``JsonSerializer`` refusing, as it writes, a class it would not rebuild when the
    value is read back (:class:`ConfigError` naming it and the fix): a run whose state or
    snapshot holds one fails at once, with nothing written, instead of leaving a record
    every later restore refuses. The check rides the serializer's own walk (one lookup per
    model); reading is ``JsonSerializer``'s."""

    def serialize_value(self, value: Any) -> Any:
        if hasattr(value, "class_name") or isinstance(value, BaseModel):
            name = get_qualified_name(value)
            try:
                self.resolve_class(name)
            except ValueError:
                raise ConfigError(
                    f"a workflow value of type {name} would not be rebuilt when it is read "
                    f"back (nothing was written): add the class to allowed_types=[...] (or "
                    f"to your JsonSerializer(allowed_types=[...]))"
                ) from None
        return super().serialize_value(value)

    def serialize(self, value: Any) -> str:
        try:
            return super().serialize(value)
        except ValueError as exc:  # JsonSerializer.serialize hides the cause: raise ours
            if isinstance(exc.__context__, ConfigError):
                raise exc.__context__ from None
            raise


def _write_checked(serializer: _S) -> _S:
    """``serializer`` checking its writes, when it is a plain ``JsonSerializer`` (a subclass
    keeps its own behaviour, unchecked)."""
    if type(serializer) is not JsonSerializer:
        return serializer
    checked = object.__new__(_WriteChecked)
    checked.__dict__.update(serializer.__dict__)  # same allowlist and registered classes
    return cast(_S, checked)


# What decodes a handler's result when no server gave the store its decoder: the
# framework's own classes only (the server's default, an open JsonSerializer(), would
# import any class a record in Redis names)
_FRAMEWORK_ONLY = JsonSerializer(allowed_types=[])


def classes_named(data: Any) -> set[str]:
    """Every class name a ``JsonSerializer`` payload would rebuild (``qualified_name``
    keys), nested JSON strings included: checked before anything is restored, as the
    framework restores state lazily, on first access."""
    found: set[str] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            name = value.get("qualified_name")
            if isinstance(name, str):
                found.add(name)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and value[:1] in ("{", "["):
            try:
                stack.append(orjson.loads(value))
            except orjson.JSONDecodeError:
                pass
    return found


def _check_steps(data: dict[str, Any], workflow: Workflow, ctx_id: str) -> None:
    """:class:`ConfigError` when the snapshot ``data`` holds the work of steps
    ``workflow`` does not have: a snapshot of another workflow. The framework restores it
    anyway, and the run waits for those steps until its timeout; ``take`` had deleted the
    snapshot by then (a ctx id sent to the wrong workflow's endpoint lost the paused run)."""
    workers = data.get("workers")
    get_steps = getattr(workflow, "_get_steps", None)
    if not isinstance(workers, dict) or get_steps is None:
        return  # another snapshot format, or a workflow without the framework's step table
    # root steps only: a step of a nested scope is keyed "<scope>/<step>"
    root = {str(name) for name in workers if "/" not in str(name)}
    foreign = sorted(root - set(get_steps()))
    if foreign:
        raise ConfigError(
            f"context {ctx_id!r} is a snapshot of another workflow: its steps "
            f"{', '.join(foreign)} are not steps of {type(workflow).__name__}; load it with "
            "the workflow it was saved from (nothing was restored; take() puts it back)"
        )


class _RedisStateStorage:
    """Raw state of one (run, namespace) in the store's state hash."""

    def __init__(self, records: WorkflowRecords, run_id: str, namespace: tuple[str, ...]):
        self._records = records
        self._run_id = run_id
        self._namespace = "/".join(namespace)  # "" is the root, as the server's stores

    @property
    def run_id(self) -> str:
        return self._run_id

    @asynccontextmanager
    async def session(self) -> AsyncIterator[_RedisStateStorage]:
        yield self  # the client's pool: no connection to pin

    async def load(self) -> StateRecord | None:
        raw = await self._records.load_state(self._run_id, self._namespace)
        return None if raw is None else StateRecord.model_validate_json(raw)

    async def save(self, record: StateRecord) -> None:
        await self._records.save_state(
            self._run_id, self._namespace, record.model_dump_json().encode()
        )

    def to_handle(self) -> dict[str, Any]:
        return {"store_type": _STORE_TYPE, "store": self._records.name, "run_id": self._run_id}

    def parse_own_handle(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        if payload.get("store_type") != _STORE_TYPE or not payload.get("run_id"):
            return None
        if payload.get("store") != self._records.name:
            raise ConfigError(
                f"state handle of workflow store {payload.get('store')!r} given to store "
                f"{self._records.name!r}: restore it with a RedisWorkflowStore of that name"
            )
        return payload

    async def copy_from_handle(self, handle: dict[str, Any]) -> None:
        await self._records.copy_state(str(handle["run_id"]), self._run_id)


class RedisWorkflowStore(AbstractWorkflowStore):
    """The workflows server's handler store on Redis.

    Args:
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        name: store name: a restarted server with the same name finds its handlers.
        poll_interval: seconds between reads while a client follows a run's events
            (a finite number >= 0.001; :class:`ConfigError` otherwise).
        finished_ttl: seconds a finished run's event log, ticks and state are kept
            once its handler is completed, failed or cancelled (``None``: kept until
            deleted). The handler record itself stays, so the result can be read.

    As with every store of the server, one running server uses a store name at a time.
    Construction does no I/O.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "workflows",
        poll_interval: float = 0.1,
        finished_ttl: int | None = None,
    ) -> None:
        super().__init__()
        if finished_ttl is not None and (
            isinstance(finished_ttl, bool) or not isinstance(finished_ttl, int) or finished_ttl <= 0
        ):
            raise ConfigError(f"finished_ttl must be a positive int or None, got {finished_ttl!r}")
        # 0, a negative or NaN interval made a client following events a busy loop on Redis
        self.poll_interval = check_seconds(poll_interval, "poll_interval", least=0.001)
        self.records = WorkflowRecords(config, name=name)
        self.finished_ttl = finished_ttl

    def _build_state_store(
        self,
        run_id: str,
        namespace: tuple[str, ...],
        state_type: type[Any] | None,
        serializer: BaseSerializer | None,
    ) -> StateStoreFacade[Any]:
        storage = _RedisStateStorage(self.records, run_id, namespace)
        if serializer is None:  # the facade's default would be an open JsonSerializer()
            serializer = JsonSerializer(allowed_types=[state_type] if state_type else [])
        checked = _write_checked(serializer)
        return StateStoreFacade(storage, state_type or DictState, _check_serializer(checked))

    def _decode(self, raw: bytes) -> PersistentHandler:
        # the server's own decoder: its result decoder, and an unreadable result kept apart
        decoder = self.result_decoder or (lambda _name: _FRAMEWORK_ONLY)
        return decode_persistent_handler(orjson.loads(raw), decoder)

    async def query(self, query: HandlerQuery) -> list[PersistentHandler]:
        """Handlers matching ``query``."""
        ids = query.handler_id_in
        if ids is None and query.run_id_in is not None:
            ids = await self.records.handler_ids_for_runs(query.run_id_in)
        handlers = [self._decode(raw) for raw in await self.records.handlers(ids)]
        return [h for h in handlers if matches(h, query)]

    async def update(self, handler: PersistentHandler) -> None:
        """Store (replace) a handler."""
        record = handler.model_dump_json().encode()
        await self.records.put_handler(handler.handler_id, handler.run_id, record)
        if self.finished_ttl and handler.run_id and is_terminal_status(handler.status):
            await self.records.expire_run(handler.run_id, self.finished_ttl)

    async def delete(self, query: HandlerQuery) -> int:
        """Delete the handlers matching ``query``; returns how many. A query with no
        condition deletes nothing, as in the server's SQLite and Postgres stores (it
        deleted every handler, their results with them)."""
        if _unconditional(query):
            return 0
        found = await self.query(query)
        return await self.records.delete_handlers([(h.handler_id, h.run_id) for h in found])

    async def append_event(self, run_id: str, event: EventEnvelopeWithMetadata) -> None:
        """Append to a run's event log (sequence numbers from 0)."""
        await self.records.append("events", run_id, _stamped(event.model_dump(mode="json")))

    async def _read(
        self, log: Log, run_id: str, after: int | None, limit: int | None
    ) -> list[tuple[int, datetime, Any]]:
        rows = await self.records.read(log, run_id, -1 if after is None else after, limit)
        return [(seq, *_unstamped(raw)) for seq, raw in rows]

    async def query_events(
        self, run_id: str, after_sequence: int | None = None, limit: int | None = None
    ) -> list[StoredEvent]:
        """A run's events after ``after_sequence``, oldest first."""
        return [
            StoredEvent(
                run_id=run_id,
                sequence=seq,
                timestamp=at,
                event=EventEnvelopeWithMetadata.model_validate(data),
            )
            for seq, at, data in await self._read("events", run_id, after_sequence, limit)
        ]

    async def append_tick(self, run_id: str, tick_data: dict[str, Any]) -> None:
        """Append to a run's tick journal."""
        await self.records.append("ticks", run_id, _stamped(tick_data))

    async def get_ticks(self, run_id: str) -> list[StoredTick]:
        """A run's ticks, oldest first."""
        return [
            StoredTick(run_id=run_id, sequence=seq, timestamp=at, tick_data=data)
            for seq, at, data in await self._read("ticks", run_id, None, None)
        ]


def _ctx_id(ctx_id: str) -> str:
    """``ctx_id``, or :class:`ConfigError` for a blank one: it names no run, and every
    caller whose id came out blank (a missing session) saved over, and took, the same
    paused run."""
    if isinstance(ctx_id, str) and not ctx_id:
        raise ConfigError(
            "ctx_id is blank (''): it names no run, and every caller whose id came out "
            "blank would share one snapshot; give each run its own id (e.g. its handler "
            "or session id)"
        )
    return ctx_id


class RedisContextStore:
    """Workflow ``Context`` snapshots by id, for resuming a run elsewhere.

    Args:
        config: connection settings (default: ``REDIS_URL`` or the embedded server).
        name: store name (stores with different names never share ids).
        ttl: seconds a snapshot lives (``None``: ``config.default_ttl``, else forever).
        allowed_types: your event and state classes: the only classes (besides the
            framework's) a restored snapshot may contain.
        serializer: a ``JsonSerializer(allowed_types=[...])`` of your own instead
            (``PickleSerializer`` and an open ``JsonSerializer()``, which would import
            any class a snapshot names, are refused with ``ConfigError``).

    ``save`` / ``load`` / ``take`` / ``delete`` and their async forms ``asave`` /
    ``aload`` / ``atake`` / ``adelete``. Redis down: they raise ``RedisUnavailableError``.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        name: str = "contexts",
        ttl: int | None = None,
        allowed_types: Iterable[type[Any]] = (),
        serializer: JsonSerializer | None = None,
    ) -> None:
        _check_serializer(serializer)
        self.serializer = _write_checked(
            _closed(serializer) if serializer else JsonSerializer(allowed_types=list(allowed_types))
        )
        self._kv = KVStore(config, name=name, ttl=ttl)

    def _dump(self, ctx: Context[Any]) -> bytes:
        if not isinstance(ctx, Context):
            raise ConfigError(f"save() takes a workflows Context, got {type(ctx).__name__}")
        try:
            return orjson.dumps(ctx.to_dict(serializer=self.serializer))
        except ValueError as exc:  # the framework re-raises the state's error untyped
            if isinstance(exc.__context__, ConfigError):
                raise exc.__context__ from None
            raise

    def _restore(self, raw: bytes | None, workflow: Workflow, ctx_id: str) -> Context[Any] | None:
        if raw is None:
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DataCorruptionError(f"context {ctx_id!r} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise DataCorruptionError(f"context {ctx_id!r} is not a snapshot: {raw[:80]!r}")
        for name in sorted(classes_named(data)):
            self.serializer.resolve_class(name)  # raises ValueError for a class not allowed
        _check_steps(data, workflow, ctx_id)
        try:
            return Context.from_dict(workflow, data, serializer=self.serializer)
        except (ContextSerdeError, ValidationError, KeyError, TypeError, AttributeError) as exc:
            # JSON of another shape: the framework's own errors, untyped for a caller
            raise DataCorruptionError(
                f"context {ctx_id!r} is not a readable snapshot ({type(exc).__name__}: {exc})"
                "; delete it and save the run again"
            ) from exc

    def save(self, ctx_id: str, ctx: Context[Any]) -> None:
        """Save (replace) the snapshot of ``ctx`` under ``ctx_id``."""
        self._kv.mset([(_ctx_id(ctx_id), self._dump(ctx))], collection="ctx")

    def load(self, ctx_id: str, workflow: Workflow) -> Context[Any] | None:
        """The saved context for ``workflow`` (run it with ``workflow.run(ctx=...)``), or
        ``None`` when there is none. Raises ``ValueError`` naming a class the snapshot
        holds that is not in ``allowed_types`` (checked before anything is rebuilt)."""
        return self._restore(
            self._kv.mget([_ctx_id(ctx_id)], collection="ctx")[0], workflow, ctx_id
        )

    def delete(self, ctx_id: str) -> bool:
        """Delete a snapshot; returns whether it existed."""
        return self._kv.mdelete([_ctx_id(ctx_id)], collection="ctx") == 1

    def take(self, ctx_id: str, workflow: Workflow) -> Context[Any] | None:
        """:meth:`load` and delete the snapshot in one command: of two workers resuming
        one paused run (a duplicated webhook, a retried job), one gets the context and
        the other ``None``. A snapshot that does not restore is put back before the
        error is raised."""
        raw = self._kv.take(_ctx_id(ctx_id), collection="ctx")
        try:
            return self._restore(raw, workflow, ctx_id)
        except Exception:
            assert raw is not None  # None restores as None
            self._kv.mset([(ctx_id, raw)], collection="ctx")
            raise

    async def asave(self, ctx_id: str, ctx: Context[Any]) -> None:
        """Async :meth:`save`."""
        await self._kv.amset([(_ctx_id(ctx_id), self._dump(ctx))], collection="ctx")

    async def aload(self, ctx_id: str, workflow: Workflow) -> Context[Any] | None:
        """Async :meth:`load`."""
        raw = (await self._kv.amget([_ctx_id(ctx_id)], collection="ctx"))[0]
        return self._restore(raw, workflow, ctx_id)

    async def atake(self, ctx_id: str, workflow: Workflow) -> Context[Any] | None:
        """Async :meth:`take`."""
        raw = await self._kv.atake(_ctx_id(ctx_id), collection="ctx")
        try:
            return self._restore(raw, workflow, ctx_id)
        except Exception:
            assert raw is not None
            await self._kv.amset([(ctx_id, raw)], collection="ctx")
            raise

    async def adelete(self, ctx_id: str) -> bool:
        """Async :meth:`delete`."""
        return await self._kv.amdelete([_ctx_id(ctx_id)], collection="ctx") == 1
