"""Checkpoints of agent threads on plain Redis (hashes, sorted sets, sets).

No module is needed (no RedisJSON, no RediSearch), so this runs on any Redis 6.2+,
managed Redis or Valkey. Every key of one thread carries the thread's hash tag, so
a thread lives in one Redis Cluster slot and each write is one script or MULTI/EXEC.

Keys of a thread (see :class:`~redis_agent_core.keys.KeySpace`): a sorted set indexing
``<ns>\\0<checkpoint id>`` (ids sort by time, so a lexicographic range is newest
first), a set of its namespaces, one hash per checkpoint (record + pending writes),
one hash of channel values per namespace, and a set of the records holding writes of a
checkpoint not in the index (saved before their checkpoint, or after a delete):
``delete_thread`` deletes them all in one script. A shallow store keeps one hash per
namespace holding the latest checkpoint with its values inline.

TTL (``ttl=``): every write sets the expiry of the keys it touches and of the
thread's index, namespace set and value hash, so an idle thread disappears ``ttl``
seconds after its last write (or read, with ``refresh_on_read=True``). Older
checkpoints of an active thread expire ``ttl`` after they were written.

Redis down: every method raises :class:`RedisUnavailableError` (state cannot
pretend to be saved).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TypeVar

from ..config import check_count
from ..plans import arun_plan, run_plan
from ..redis_errors import translate_errors
from .plans import CheckpointPlans, PendingWriteIn, Plan, thread_name
from .records import (
    StoredCheckpoint,
    Typed,
    below,
    check_namespace,
    range_bounds,
    thread_from_namespaces_key,
)

__all__ = ["CheckpointStore", "PendingWriteIn"]

T = TypeVar("T")


class CheckpointStore(CheckpointPlans):
    """Checkpoint records of threads, sync and async.

    Args:
        config: connection settings (default: the process-wide config).
        ttl: seconds a thread's state lives after its last write (``None``:
            ``config.default_ttl``, else forever).
        refresh_on_read: reading a checkpoint (by id or latest) pushes its expiry back.
        shallow: keep only the latest checkpoint of each thread and namespace.
    """

    # -- drivers: one plan, run on the sync or the asyncio client --
    def _run(self, plan: Plan[T], action: str) -> T:
        return run_plan(self.config, plan, action)

    async def _arun(self, plan: Plan[T], action: str) -> T:
        return await arun_plan(self.config, plan, action)

    # -- sync --
    def put(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        *,
        parent_id: str | None,
        checkpoint: Typed,
        metadata: Typed,
        values: Mapping[str, tuple[str, Typed]],
        channel_versions: Mapping[str, str],
    ) -> None:
        """Store one checkpoint atomically.

        ``values``: channel -> (version, value) to store now (full store: the new
        versions only; shallow: every value of the checkpoint); ``channel_versions``:
        every channel version the checkpoint references.
        """
        thread = self._validate(thread_id, checkpoint_ns)
        plan = self.put_plan(
            thread,
            checkpoint_ns,
            checkpoint_id,
            parent_id,
            checkpoint,
            metadata,
            values,
            channel_versions,
        )
        self._run(plan, f"saving checkpoint of thread {thread!r}")

    def put_writes(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        writes: Sequence[PendingWriteIn],
    ) -> None:
        """Store a task's pending writes for a checkpoint atomically."""
        thread = self._validate(thread_id, checkpoint_ns)
        plan = self.writes_plan(thread, checkpoint_ns, checkpoint_id, task_id, writes)
        self._run(plan, f"saving pending writes of thread {thread!r}")

    def get(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        """One checkpoint (the latest of the namespace without an id), or ``None``."""
        thread = self._validate(thread_id, checkpoint_ns)
        plan = self._get_plan(thread, checkpoint_ns, checkpoint_id)
        return self._run(plan, f"reading checkpoint of thread {thread!r}")

    def _thread_ids(self) -> builtins.list[str]:
        client = self.config.get_client()
        # the namespace part holds no glob character (validate_namespace)
        match = self.keys.checkpoint_namespaces_pattern()
        return sorted(
            {
                thread_from_namespaces_key(self.keys, key)
                for key in client.scan_iter(match=match, count=1000)
            }
        )

    def namespaces(self, thread_id: str) -> builtins.list[str]:
        """The checkpoint namespaces a thread has used, in name order."""
        members = self.config.get_client().smembers(self.keys.checkpoint_namespaces(thread_id))
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    def list(
        self,
        thread_id: str | None,
        checkpoint_ns: str | None = None,
        *,
        before: str | None = None,
        page: int = 50,
        where: Callable[[StoredCheckpoint], bool] | None = None,
    ) -> Iterator[StoredCheckpoint]:
        """Checkpoints newest first within each namespace (namespaces in name order).

        ``thread_id=None`` lists every thread (SCANs the namespace: admin use);
        ``checkpoint_ns=None`` every namespace; ``before``: only ids older than this;
        ``where``: a test of each record (values not yet attached), e.g. on metadata.
        """
        if checkpoint_ns is not None:
            check_namespace(checkpoint_ns)
        page = check_count(page, "page (checkpoints read a round trip)")
        client = self.config.get_client()
        with translate_errors(self.config, "listing checkpoints"):
            threads = [thread_name(thread_id)] if thread_id is not None else self._thread_ids()
            for thread in threads:
                nss = [checkpoint_ns] if checkpoint_ns is not None else self.namespaces(thread)
                for ns in nss:
                    top, bottom = range_bounds(ns, before)
                    while True:
                        members = client.zrevrangebylex(
                            self.keys.checkpoint_index(thread), top, bottom, start=0, num=page
                        )
                        if not members:
                            break
                        top = below(members[-1])
                        page_plan = self.page_plan(thread, ns, members, where)
                        yield from self._run(page_plan, "listing checkpoints")
                        if len(members) < page:
                            break

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, write and value of a thread (all namespaces), in
        one step: a checkpoint saved meanwhile is deleted too or comes after."""
        thread = thread_name(thread_id)
        self._run(self.delete_plan(thread), f"deleting thread {thread!r}")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, write and value of a thread to another thread
        (merged into what the target holds; records with the same id are replaced)."""
        src, dst = thread_name(source_thread_id), thread_name(target_thread_id)
        self._run(self.copy_plan(src, dst), f"copying thread {src!r}")

    def delete_checkpoints(self, checkpoints: Sequence[StoredCheckpoint]) -> int:
        """Delete these checkpoints with their pending writes (one MULTI/EXEC per
        thread); values they alone referenced stay until the thread is deleted or
        pruned. Returns how many were deleted."""
        return self._run(self.delete_checkpoints_plan(checkpoints), "deleting checkpoints")

    def prune(self, thread_ids: Sequence[str], *, keep_latest: bool = True) -> None:
        """Keep only the latest checkpoint of each namespace of each thread (with its
        writes and the values it references), or delete the threads."""
        for thread_id in thread_ids:
            thread = thread_name(thread_id)
            self._run(self.prune_plan(thread, keep_latest), f"pruning thread {thread!r}")

    # -- async --
    async def aput(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        *,
        parent_id: str | None,
        checkpoint: Typed,
        metadata: Typed,
        values: Mapping[str, tuple[str, Typed]],
        channel_versions: Mapping[str, str],
    ) -> None:
        """Async :meth:`put`."""
        thread = self._validate(thread_id, checkpoint_ns)
        plan = self.put_plan(
            thread,
            checkpoint_ns,
            checkpoint_id,
            parent_id,
            checkpoint,
            metadata,
            values,
            channel_versions,
        )
        await self._arun(plan, f"saving checkpoint of thread {thread!r}")

    async def aput_writes(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        writes: Sequence[PendingWriteIn],
    ) -> None:
        """Async :meth:`put_writes`."""
        thread = self._validate(thread_id, checkpoint_ns)
        plan = self.writes_plan(thread, checkpoint_ns, checkpoint_id, task_id, writes)
        await self._arun(plan, f"saving pending writes of thread {thread!r}")

    async def aget(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        """Async :meth:`get`."""
        thread = self._validate(thread_id, checkpoint_ns)
        plan = self._get_plan(thread, checkpoint_ns, checkpoint_id)
        return await self._arun(plan, f"reading checkpoint of thread {thread!r}")

    async def _athread_ids(self) -> builtins.list[str]:
        client = self.config.get_async_client()
        # the namespace part holds no glob character (validate_namespace)
        match = self.keys.checkpoint_namespaces_pattern()
        found = {
            thread_from_namespaces_key(self.keys, key)
            async for key in client.scan_iter(match=match, count=1000)
        }
        return sorted(found)

    async def anamespaces(self, thread_id: str) -> builtins.list[str]:
        """Async :meth:`namespaces`."""
        client = self.config.get_async_client()
        members = await client.smembers(self.keys.checkpoint_namespaces(thread_id))
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def alist(
        self,
        thread_id: str | None,
        checkpoint_ns: str | None = None,
        *,
        before: str | None = None,
        page: int = 50,
        where: Callable[[StoredCheckpoint], bool] | None = None,
    ) -> AsyncIterator[StoredCheckpoint]:
        """Async :meth:`list`."""
        if checkpoint_ns is not None:
            check_namespace(checkpoint_ns)
        page = check_count(page, "page (checkpoints read a round trip)")
        client = self.config.get_async_client()
        with translate_errors(self.config, "listing checkpoints"):
            threads = (
                [thread_name(thread_id)] if thread_id is not None else await self._athread_ids()
            )
            for thread in threads:
                nss = (
                    [checkpoint_ns] if checkpoint_ns is not None else await self.anamespaces(thread)
                )
                for ns in nss:
                    top, bottom = range_bounds(ns, before)
                    while True:
                        members = await client.zrevrangebylex(
                            self.keys.checkpoint_index(thread), top, bottom, start=0, num=page
                        )
                        if not members:
                            break
                        top = below(members[-1])
                        page_plan = self.page_plan(thread, ns, members, where)
                        for rec in await self._arun(page_plan, "listing checkpoints"):
                            yield rec
                        if len(members) < page:
                            break

    async def adelete_thread(self, thread_id: str) -> None:
        """Async :meth:`delete_thread`."""
        thread = thread_name(thread_id)
        await self._arun(self.delete_plan(thread), f"deleting thread {thread!r}")

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        src, dst = thread_name(source_thread_id), thread_name(target_thread_id)
        await self._arun(self.copy_plan(src, dst), f"copying thread {src!r}")

    async def adelete_checkpoints(self, checkpoints: Sequence[StoredCheckpoint]) -> int:
        """Async :meth:`delete_checkpoints`."""
        return await self._arun(self.delete_checkpoints_plan(checkpoints), "deleting checkpoints")

    async def aprune(self, thread_ids: Sequence[str], *, keep_latest: bool = True) -> None:
        """Async :meth:`prune`."""
        for thread_id in thread_ids:
            thread = thread_name(thread_id)
            await self._arun(self.prune_plan(thread, keep_latest), f"pruning thread {thread!r}")
