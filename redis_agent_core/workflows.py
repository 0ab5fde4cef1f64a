"""Records of served workflows (LlamaIndex workflows server): handlers, each run's event
and tick logs, and each run's state, so a served workflow survives a restart.

Framework-free: records are bytes the adapter encodes (JSON). Key layout, all under one
hash tag per store (one slot, so multi-key reads work on a cluster):

- ``wf:{store}:handlers``: hash handler id -> handler record;
- ``wf:{store}:runs``: hash run id -> handler id;
- ``wf:{store}:events:<run>`` / ``wf:{store}:ticks:<run>``: lists; an item's sequence
  number is its index (RPUSH returns it atomically, so two writers never share one);
- ``wf:{store}:state:<run>``: hash state namespace -> state record.

The workflows server is asyncio-only, so these methods are async. Redis down: they
raise :class:`~redis_agent_core.errors.RedisUnavailableError` (a store cannot pretend).
A record over ``config.max_value_bytes`` raises
:class:`~redis_agent_core.errors.ValueTooLargeError`, unsent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from .config import RedisAgentConfig, get_default_config
from .errors import ConfigError
from .keys import check_store_name
from .redis_errors import sent_once, translate_errors
from .scripts import Script

__all__ = ["Log", "WorkflowRecords"]

Log = Literal["events", "ticks"]
_LOGS = ("events", "ticks")


def _check_log(log: str) -> None:
    if log not in _LOGS:
        raise ConfigError(f"log must be 'events' or 'ticks', got {log!r}")


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def _ids(values: Sequence[str], what: str) -> list[str]:
    for v in values:
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{what} must be non-empty str, got {v!r}")
    return list(values)


class WorkflowRecords:
    """Handlers, logs and state of the workflows one server runs, in Redis.

    Args:
        config: connection settings (default: the process-wide config).
        name: store name; servers sharing a name share their handlers (one server at a
            time, as the workflows server requires of any store).

    Construction does no I/O.
    """

    def __init__(self, config: RedisAgentConfig | None = None, *, name: str = "workflows"):
        check_store_name(name, "store name")
        self.config = config or get_default_config()
        self.name = name
        keys = self.config.keys
        self._handlers = keys.workflow(name, "handlers")
        self._runs = keys.workflow(name, "runs")

    # -- keys (pure) --
    def log_key(self, log: Log, run_id: str) -> str:
        _check_log(log)
        return self.config.keys.workflow(self.name, log, run_id)

    def state_key(self, run_id: str) -> str:
        return self.config.keys.workflow(self.name, "state", run_id)

    # -- handlers --
    async def put_handler(self, handler_id: str, run_id: str | None, record: bytes) -> None:
        """Store (replace) a handler's record; ``run_id`` indexes it by run."""
        _ids([handler_id], "handler ids")
        self.config.check_value_sizes((record,), f"the record of workflow handler {handler_id!r}")
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow handler update"):
            async with client.pipeline(transaction=True) as pipe:
                pipe.hset(self._handlers, handler_id, record)
                if run_id:
                    pipe.hset(self._runs, run_id, handler_id)
                await pipe.execute()

    async def handlers(self, handler_ids: Sequence[str] | None = None) -> list[bytes]:
        """Records of these handlers (the ones that exist), or of every handler."""
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow handler query"):
            if handler_ids is None:
                return [_bytes(r) for r in (await client.hgetall(self._handlers)).values()]
            ids = _ids(handler_ids, "handler ids")
            if not ids:
                return []
            return [_bytes(r) for r in await client.hmget(self._handlers, ids) if r is not None]

    async def handler_ids_for_runs(self, run_ids: Sequence[str]) -> list[str]:
        """Handler ids of these runs (runs without a handler left out)."""
        ids = _ids(run_ids, "run ids")
        if not ids:
            return []
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow handler query"):
            found = await client.hmget(self._runs, ids)
        return [h.decode() if isinstance(h, bytes) else h for h in found if h is not None]

    async def delete_handlers(self, pairs: Sequence[tuple[str, str | None]]) -> int:
        """Delete handlers given as ``(handler id, run id)``; returns how many existed."""
        if not pairs:
            return 0
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow handler delete"):
            async with client.pipeline(transaction=True) as pipe:
                pipe.hdel(self._handlers, *[h for h, _ in pairs])
                runs = [r for _, r in pairs if r]
                if runs:
                    pipe.hdel(self._runs, *runs)
                replies = await pipe.execute()
        return int(replies[0])

    # -- event and tick logs --
    async def append(self, log: Log, run_id: str, item: bytes) -> int:
        """Append ``item`` to a run's log; returns its sequence number (0, 1, ...)."""
        key = self.log_key(log, run_id)
        self.config.check_value_sizes((item,), f"an item of the {log} log of run {run_id!r}")
        client = self.config.get_async_client()
        # sent once: a second RPUSH would log the item twice
        with translate_errors(self.config, f"workflow {log} append"), sent_once():
            return int(await client.rpush(key, item)) - 1

    async def read(
        self, log: Log, run_id: str, after: int = -1, limit: int | None = None
    ) -> list[tuple[int, bytes]]:
        """``(sequence, item)`` of a run's log after sequence ``after``, oldest first."""
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ConfigError(f"limit must be an int >= 0 or None, got {limit!r}")
        if limit == 0:
            return []
        start = max(after + 1, 0)
        stop = -1 if limit is None else start + limit - 1
        key = self.log_key(log, run_id)
        client = self.config.get_async_client()
        with translate_errors(self.config, f"workflow {log} read"):
            items = await client.lrange(key, start, stop)
        return [(start + i, _bytes(item)) for i, item in enumerate(items)]

    async def expire_run(self, run_id: str, seconds: int) -> None:
        """Let a run's logs and state expire in ``seconds`` (a finished run's data)."""
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
            raise ConfigError(f"seconds must be a positive int, got {seconds!r}")
        keys = [self.log_key("events", run_id), self.log_key("ticks", run_id)]
        keys.append(self.state_key(run_id))
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow run expiry"):
            async with client.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.expire(key, seconds)
                await pipe.execute()

    # -- run state --
    async def load_state(self, run_id: str, namespace: str) -> bytes | None:
        """The state record of a run's namespace (``""`` is the root), or ``None``."""
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow state load"):
            value = await client.hget(self.state_key(run_id), namespace)
        return None if value is None else _bytes(value)

    async def save_state(self, run_id: str, namespace: str, record: bytes) -> None:
        """Store (replace) the state record of a run's namespace."""
        self.config.check_value_sizes((record,), f"the state of workflow run {run_id!r}")
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow state save"):
            await client.hset(self.state_key(run_id), namespace, record)

    async def copy_state(self, source_run: str, target_run: str) -> int:
        """Copy every namespace's state of ``source_run`` into ``target_run`` (one
        script: both keys share the store's slot); returns the namespaces copied."""
        client = self.config.get_async_client()
        with translate_errors(self.config, "workflow state copy"):
            keys = [self.state_key(source_run), self.state_key(target_run)]
            return int(await _COPY.acall(client, keys, [], wait=self.config.backoff))


# HGETALL + HSET in one script: a reader never sees half of a copied run
_COPY = Script.load(__package__, "workflows_copy.lua")
