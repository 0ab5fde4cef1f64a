"""Checkpoints of agent threads on plain Redis (hashes, sorted sets, sets).

No module is needed (no RedisJSON, no RediSearch), so this runs on any Redis 6.2+,
managed Redis or Valkey. Every key of one thread carries the thread's hash tag, so
a thread lives in one Redis Cluster slot and each write is one MULTI/EXEC.

Keys of a thread (see :class:`~redis_agent_core.keys.KeySpace`): a sorted set indexing
``<ns>\\0<checkpoint id>`` (ids sort by time, so a lexicographic range is newest
first), a set of its namespaces, one hash per checkpoint (record + pending writes),
one hash of channel values per namespace. A shallow store keeps one hash per
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
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

from ..config import RedisAgentConfig, get_default_config
from ..keys import escape_part
from ..kvstore import check_positive_ttl
from ..redis_errors import translate_errors
from .records import (
    F_ID,
    F_REFS,
    VALUE_PREFIX,
    StoredCheckpoint,
    Typed,
    attach_blobs,
    blob_field,
    check_namespace,
    index_member,
    pack_typed,
    parse_record,
    parse_refs,
    range_bounds,
    record_fields,
    refs_value,
    split_member,
    thread_from_namespaces_key,
    write_field,
    write_value,
)

__all__ = ["CheckpointStore", "PendingWriteIn"]

PendingWriteIn = tuple[str, int, str, Typed]
"""(channel, index, task path, value) of one write to store; index < 0 overwrites."""


def _thread(thread_id: object) -> str:
    # LangGraph accepts any thread id and str()s it; so do we (UUIDs, ints)
    return thread_id if isinstance(thread_id, str) else str(thread_id)


class CheckpointStore:
    """Checkpoint records of threads, sync and async.

    Args:
        config: connection settings (default: the process-wide config).
        ttl: seconds a thread's state lives after its last write (``None``:
            ``config.default_ttl``, else forever).
        refresh_on_read: reading a checkpoint (by id or latest) pushes its expiry back.
        shallow: keep only the latest checkpoint of each thread and namespace.
    """

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        ttl: int | None = None,
        refresh_on_read: bool = False,
        shallow: bool = False,
    ) -> None:
        self.config = config or get_default_config()
        self.ttl = check_positive_ttl(ttl) if ttl is not None else self.config.default_ttl
        self.refresh_on_read = bool(refresh_on_read)
        self.shallow = bool(shallow)
        self.keys = self.config.keys

    # -- pure: keys and queued commands (shared by sync and async) --
    def record_key(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
        if self.shallow:
            return self.keys.checkpoint_latest(thread_id, checkpoint_ns)
        return self.keys.checkpoint(thread_id, checkpoint_ns, checkpoint_id)

    def _thread_keys(self, thread_id: str, checkpoint_ns: str) -> builtins.list[str]:
        keys = [
            self.keys.checkpoint_index(thread_id),
            self.keys.checkpoint_namespaces(thread_id),
        ]
        if not self.shallow:
            keys.append(self.keys.checkpoint_blobs(thread_id, checkpoint_ns))
            keys.append(self.keys.checkpoint_head(thread_id, checkpoint_ns))
        return keys

    def _queue_expire(self, pipe: Any, keys: Sequence[str]) -> None:
        if self.ttl is not None:
            for key in keys:
                pipe.expire(key, self.ttl)

    def _queue_put(
        self,
        pipe: Any,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        parent_id: str | None,
        checkpoint: Typed,
        metadata: Typed,
        values: Mapping[str, tuple[str, Typed]],
        channel_versions: Mapping[str, str],
    ) -> None:
        key = self.record_key(thread_id, checkpoint_ns, checkpoint_id)
        idx = self.keys.checkpoint_index(thread_id)
        fields = record_fields(checkpoint_id, parent_id, checkpoint, metadata)
        if self.shallow:
            # one hash per namespace: replaced whole, old writes and values go with it
            fields.update(
                {VALUE_PREFIX + ch.encode(): pack_typed(v) for ch, (_, v) in values.items()}
            )
            pipe.delete(key)
            top, bottom = range_bounds(checkpoint_ns, None)
            pipe.zremrangebylex(idx, bottom, top)
        else:
            fields[F_REFS] = refs_value(channel_versions)
            # a later put of an older id makes the head stale: readers then check it
            # against the index and take the longer way
            pipe.hset(
                self.keys.checkpoint_head(thread_id, checkpoint_ns),
                mapping={F_ID: fields[F_ID], F_REFS: fields[F_REFS]},
            )
            if values:
                pipe.hset(
                    self.keys.checkpoint_blobs(thread_id, checkpoint_ns),
                    mapping={blob_field(ch, ver): pack_typed(v) for ch, (ver, v) in values.items()},
                )
        pipe.hset(key, mapping=fields)
        pipe.zadd(idx, {index_member(checkpoint_ns, checkpoint_id): 0})
        pipe.sadd(self.keys.checkpoint_namespaces(thread_id), checkpoint_ns.encode())
        self._queue_expire(pipe, [key, *self._thread_keys(thread_id, checkpoint_ns)])

    def _queue_writes(
        self,
        pipe: Any,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        task_id: str,
        writes: Sequence[PendingWriteIn],
    ) -> None:
        key = self.record_key(thread_id, checkpoint_ns, checkpoint_id)
        for channel, idx, task_path, value in writes:
            name = write_field(checkpoint_id, task_id, idx)
            data = write_value(task_path, channel, value)
            # special channels (negative index: error, interrupt, ...) are replaced;
            # a retried regular write keeps its first value (as LangGraph's savers do)
            if idx < 0:
                pipe.hset(key, name, data)
            else:
                pipe.hsetnx(key, name, data)
        self._queue_expire(pipe, [key, *self._thread_keys(thread_id, checkpoint_ns)])

    def _blob_request(
        self, record: StoredCheckpoint, raw: Mapping[Any, Any]
    ) -> tuple[str, list[tuple[str, bytes]]] | None:
        if self.shallow:
            return None
        refs = parse_refs(raw.get(F_REFS))
        if not refs:
            return None
        return self.keys.checkpoint_blobs(record.thread_id, record.checkpoint_ns), refs

    # -- a page of a listing: record hashes, then the values they reference --
    def _queue_records(self, pipe: Any, thread: str, ns: str, members: Any) -> builtins.list[str]:
        ids = [split_member(m)[1] for m in members]
        if self.shallow:
            for cid in ids:
                pipe.hgetall(self.record_key(thread, ns, cid))
            return ids
        # the key of each record is this prefix plus its escaped id (one escape per id)
        prefix = self.keys.checkpoint(thread, ns, "")
        for cid in ids:
            pipe.hgetall(prefix + escape_part(cid))
        return ids

    def _pending(
        self,
        thread: str,
        ns: str,
        ids: Sequence[str],
        raws: Sequence[Any],
        where: Callable[[StoredCheckpoint], bool] | None = None,
    ) -> builtins.list[
        tuple[StoredCheckpoint, tuple[str, builtins.list[tuple[str, bytes]]] | None]
    ]:
        # ``where`` sees the record before its values are fetched: a filtered listing
        # fetches values only for the checkpoints it returns
        found = [
            (rec, raw)
            for cid, raw in zip(ids, raws, strict=True)
            if (rec := parse_record(thread, ns, raw, cid)) is not None
            and (where is None or where(rec))
        ]
        return [(rec, self._blob_request(rec, raw)) for rec, raw in found]

    @staticmethod
    def _queue_blobs(
        pipe: Any, pending: Sequence[tuple[StoredCheckpoint, Any]]
    ) -> builtins.list[tuple[str, builtins.list[bytes]]]:
        # one HMGET per value hash for the whole page: checkpoints of a namespace share
        # one hash, and unchanged channels share versions, so each value travels once
        wanted: dict[str, dict[bytes, None]] = {}
        for _, req in pending:
            if req is not None:
                fields = wanted.setdefault(req[0], {})
                for _, f in req[1]:
                    fields[f] = None
        plan = [(key, list(unique)) for key, unique in wanted.items()]
        for key, names in plan:
            pipe.hmget(key, names)
        return plan

    @staticmethod
    def _finish(
        pending: Sequence[tuple[StoredCheckpoint, Any]],
        plan: Sequence[tuple[str, Sequence[bytes]]],
        replies: Sequence[Any],
    ) -> builtins.list[StoredCheckpoint]:
        found = {
            (key, f): blob
            for (key, fields), values in zip(plan, replies, strict=True)
            for f, blob in zip(fields, values, strict=True)
        }
        for rec, req in pending:
            if req is not None:
                key, refs = req
                attach_blobs(rec, refs, [found.get((key, f)) for _, f in refs])
        return [rec for rec, _ in pending]

    def _get_plan(
        self, thread: str, ns: str, checkpoint_id: str | None
    ) -> Generator[Callable[[Any], None], Sequence[Any], StoredCheckpoint | None]:
        """The reads of :meth:`get` as a plan: yields what to queue on a pipeline, is
        sent the replies, returns the record (run by the sync and async drivers)."""
        refs: builtins.list[tuple[str, bytes]] | None = None
        if checkpoint_id is None and not self.shallow:
            top, bottom = range_bounds(ns, None)
            idx, head = self.keys.checkpoint_index(thread), self.keys.checkpoint_head(thread, ns)

            def latest(pipe: Any) -> None:
                pipe.zrevrangebylex(idx, top, bottom, start=0, num=1)
                pipe.hmget(head, [F_ID, F_REFS])

            ids, (head_id, head_refs) = yield latest
            if not ids:
                return None
            checkpoint_id = split_member(ids[0])[1]
            if head_id is not None and head_id.decode() == checkpoint_id:
                refs = parse_refs(head_refs)
        key = self.record_key(thread, ns, checkpoint_id or "")
        blobs = self.keys.checkpoint_blobs(thread, ns)

        def record_and_values(pipe: Any) -> None:
            pipe.hgetall(key)
            if refs:
                pipe.hmget(blobs, [f for _, f in refs])
            if self.refresh_on_read:
                self._queue_expire(pipe, [key, *self._thread_keys(thread, ns)])

        replies = yield record_and_values
        raw = replies[0]
        record = parse_record(thread, ns, raw, checkpoint_id)
        if record is None:
            return None
        if refs:
            return attach_blobs(record, refs, replies[1])
        request = self._blob_request(record, raw)
        if request is not None:
            (values,) = yield lambda pipe: pipe.hmget(request[0], [f for _, f in request[1]])
            attach_blobs(record, request[1], values)
        return record

    @staticmethod
    def _validate(thread_id: object, checkpoint_ns: str) -> str:
        check_namespace(checkpoint_ns)
        return _thread(thread_id)

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
        with translate_errors(self.config, f"saving checkpoint of thread {thread!r}"):
            pipe = self.config.get_client().pipeline(transaction=True)
            self._queue_put(
                pipe,
                thread,
                checkpoint_ns,
                checkpoint_id,
                parent_id,
                checkpoint,
                metadata,
                values,
                channel_versions,
            )
            pipe.execute()

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
        if not writes:
            return
        with translate_errors(self.config, f"saving pending writes of thread {thread!r}"):
            pipe = self.config.get_client().pipeline(transaction=True)
            self._queue_writes(pipe, thread, checkpoint_ns, checkpoint_id, task_id, writes)
            pipe.execute()

    def get(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        """One checkpoint (the latest of the namespace without an id), or ``None``."""
        thread = self._validate(thread_id, checkpoint_ns)
        client = self.config.get_client()
        with translate_errors(self.config, f"reading checkpoint of thread {thread!r}"):
            plan = self._get_plan(thread, checkpoint_ns, checkpoint_id)
            try:
                step = next(plan)
                while True:
                    with client.pipeline(transaction=False) as pipe:
                        step(pipe)
                        replies = pipe.execute()
                    step = plan.send(replies)
            except StopIteration as done:
                record: StoredCheckpoint | None = done.value
                return record

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
        page = max(1, page)
        client = self.config.get_client()
        with translate_errors(self.config, "listing checkpoints"):
            threads = [_thread(thread_id)] if thread_id is not None else self._thread_ids()
            for thread in threads:
                nss = [checkpoint_ns] if checkpoint_ns is not None else self.namespaces(thread)
                for ns in nss:
                    top, bottom = range_bounds(ns, before)
                    start = 0
                    while True:
                        members = client.zrevrangebylex(
                            self.keys.checkpoint_index(thread), top, bottom, start=start, num=page
                        )
                        if not members:
                            break
                        start += len(members)
                        with client.pipeline(transaction=False) as pipe:
                            ids = self._queue_records(pipe, thread, ns, members)
                            pending = self._pending(thread, ns, ids, pipe.execute(), where)
                        with client.pipeline(transaction=False) as pipe:
                            plan = self._queue_blobs(pipe, pending)
                            records = self._finish(pending, plan, pipe.execute())
                        yield from records
                        if len(members) < page:
                            break

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, write and value of a thread (all namespaces)."""
        thread = _thread(thread_id)
        client = self.config.get_client()
        with translate_errors(self.config, f"deleting thread {thread!r}"):
            pipe = client.pipeline(transaction=False)
            pipe.smembers(self.keys.checkpoint_namespaces(thread))
            pipe.zrange(self.keys.checkpoint_index(thread), 0, -1)
            nss, members = pipe.execute()
            pipe = client.pipeline(transaction=True)
            # one UNLINK of same-slot keys (the async cluster pipeline's unlink() splits
            # multi-key calls and returns a coroutine)
            pipe.execute_command("UNLINK", *self._delete_keys(thread, nss, members))
            pipe.execute()

    def _delete_keys(self, thread: str, nss: Any, members: Any) -> builtins.list[str]:
        keys = [self.keys.checkpoint_index(thread), self.keys.checkpoint_namespaces(thread)]
        for raw in nss:
            ns = raw.decode() if isinstance(raw, bytes) else raw
            keys.append(self.keys.checkpoint_blobs(thread, ns))
            keys.append(self.keys.checkpoint_latest(thread, ns))
            keys.append(self.keys.checkpoint_head(thread, ns))
        for member in members:
            ns, cid = split_member(member)
            keys.append(self.keys.checkpoint(thread, ns, cid))
        return keys

    # -- copy and prune: pure planning shared by sync and async --
    def _record_pairs(
        self, src: str, dst: str, nss: Any, members: Any
    ) -> builtins.list[tuple[str, str]]:
        pairs = []
        for raw in nss:
            ns = raw.decode() if isinstance(raw, bytes) else raw
            pairs.append(
                (self.keys.checkpoint_latest(src, ns), self.keys.checkpoint_latest(dst, ns))
            )
            pairs.append((self.keys.checkpoint_head(src, ns), self.keys.checkpoint_head(dst, ns)))
        for member in members:
            ns, cid = split_member(member)
            pairs.append((self.keys.checkpoint(src, ns, cid), self.keys.checkpoint(dst, ns, cid)))
        return pairs

    @staticmethod
    def _ns_list(nss: Any) -> builtins.list[str]:
        return sorted(raw.decode() if isinstance(raw, bytes) else raw for raw in nss)

    def _queue_copy_reads(self, pipe: Any, src: str, nss: Any, members: Any) -> None:
        for key, _ in self._record_pairs(src, src, nss, members):
            pipe.dump(key)
            pipe.pttl(key)
        for ns in self._ns_list(nss):
            pipe.hgetall(self.keys.checkpoint_blobs(src, ns))

    def _queue_copy_writes(
        self, pipe: Any, src: str, dst: str, nss: Any, members: Any, replies: Sequence[Any]
    ) -> None:
        pairs = self._record_pairs(src, dst, nss, members)
        for i, (_, dst_key) in enumerate(pairs):
            dumped, pttl = replies[2 * i], replies[2 * i + 1]
            if dumped is None or pttl == -2:
                continue  # expired or never written (a shallow hash of a full store)
            # the record hash whole, with its own expiry (0: none); a target record
            # with the same id is replaced
            pipe.restore(dst_key, max(int(pttl), 0), dumped, replace=True)
        namespaces = self._ns_list(nss)
        for ns, blobs in zip(namespaces, replies[2 * len(pairs) :], strict=True):
            if blobs:
                pipe.hset(self.keys.checkpoint_blobs(dst, ns), mapping=blobs)
        if members:
            pipe.zadd(self.keys.checkpoint_index(dst), {m: 0 for m in members})
        if namespaces:
            pipe.sadd(self.keys.checkpoint_namespaces(dst), *[n.encode() for n in namespaces])
        for ns in namespaces:
            self._queue_expire(pipe, self._thread_keys(dst, ns))

    def _prune_plan(
        self, thread: str, members: Any
    ) -> tuple[dict[str, str], builtins.list[bytes], builtins.list[str]]:
        """(kept id per namespace, index members to drop, record keys to drop)."""
        latest: dict[str, str] = {}
        parsed = [split_member(m) for m in members]
        for ns, cid in parsed:
            if cid > latest.get(ns, ""):
                latest[ns] = cid
        drop_members = [index_member(ns, cid) for ns, cid in parsed if latest[ns] != cid]
        drop_keys = [
            self.keys.checkpoint(thread, ns, cid) for ns, cid in parsed if latest[ns] != cid
        ]
        return latest, drop_members, drop_keys

    def _queue_prune_reads(self, pipe: Any, thread: str, latest: Mapping[str, str]) -> None:
        for ns, cid in latest.items():
            pipe.hget(self.keys.checkpoint(thread, ns, cid), F_REFS)
            pipe.hkeys(self.keys.checkpoint_blobs(thread, ns))

    def _queue_prune_writes(
        self,
        pipe: Any,
        thread: str,
        latest: Mapping[str, str],
        drop_members: Sequence[bytes],
        drop_keys: Sequence[str],
        replies: Sequence[Any],
    ) -> None:
        if drop_keys:
            pipe.execute_command("UNLINK", *drop_keys)
            pipe.zrem(self.keys.checkpoint_index(thread), *drop_members)
        for i, ns in enumerate(latest):
            refs, fields = replies[2 * i], replies[2 * i + 1]
            kept = {field for _, field in parse_refs(refs)}
            stale = [f for f in fields if f not in kept]
            if stale:
                pipe.hdel(self.keys.checkpoint_blobs(thread, ns), *stale)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, write and value of a thread to another thread
        (merged into what the target holds; records with the same id are replaced)."""
        src, dst = _thread(source_thread_id), _thread(target_thread_id)
        client = self.config.get_client()
        with translate_errors(self.config, f"copying thread {src!r}"):
            with client.pipeline(transaction=False) as pipe:
                pipe.smembers(self.keys.checkpoint_namespaces(src))
                pipe.zrange(self.keys.checkpoint_index(src), 0, -1)
                nss, members = pipe.execute()
            if not nss and not members:
                return
            with client.pipeline(transaction=False) as pipe:
                self._queue_copy_reads(pipe, src, nss, members)
                replies = pipe.execute()
            with client.pipeline(transaction=True) as pipe:
                self._queue_copy_writes(pipe, src, dst, nss, members, replies)
                pipe.execute()

    def delete_checkpoints(self, checkpoints: Sequence[StoredCheckpoint]) -> int:
        """Delete these checkpoints with their pending writes (one MULTI/EXEC per
        thread); values they alone referenced stay until the thread is deleted or
        pruned. Returns how many were deleted."""
        deleted = 0
        client = self.config.get_client()
        for thread, keys, members in self._deletions(checkpoints):
            with translate_errors(self.config, f"deleting checkpoints of thread {thread!r}"):
                with client.pipeline(transaction=True) as pipe:
                    pipe.execute_command("UNLINK", *keys)
                    pipe.zrem(self.keys.checkpoint_index(thread), *members)
                    deleted += int(pipe.execute()[1])
        return deleted

    def _deletions(
        self, checkpoints: Sequence[StoredCheckpoint]
    ) -> builtins.list[tuple[str, builtins.list[str], builtins.list[bytes]]]:
        by_thread: dict[str, tuple[builtins.list[str], builtins.list[bytes]]] = {}
        for rec in checkpoints:
            keys, members = by_thread.setdefault(rec.thread_id, ([], []))
            keys.append(self.record_key(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id))
            members.append(index_member(rec.checkpoint_ns, rec.checkpoint_id))
        return [(thread, keys, members) for thread, (keys, members) in by_thread.items()]

    def prune(self, thread_ids: Sequence[str], *, keep_latest: bool = True) -> None:
        """Keep only the latest checkpoint of each namespace of each thread (with its
        writes and the values it references), or delete the threads."""
        for thread_id in thread_ids:
            thread = _thread(thread_id)
            if not keep_latest:
                self.delete_thread(thread)
                continue
            if self.shallow:
                continue  # holds only the latest already
            client = self.config.get_client()
            with translate_errors(self.config, f"pruning thread {thread!r}"):
                members = client.zrange(self.keys.checkpoint_index(thread), 0, -1)
                latest, drop_members, drop_keys = self._prune_plan(thread, members)
                if not latest:
                    continue
                with client.pipeline(transaction=False) as pipe:
                    self._queue_prune_reads(pipe, thread, latest)
                    replies = pipe.execute()
                with client.pipeline(transaction=True) as pipe:
                    self._queue_prune_writes(pipe, thread, latest, drop_members, drop_keys, replies)
                    pipe.execute()

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
        with translate_errors(self.config, f"saving checkpoint of thread {thread!r}"):
            # async pipelines always under `async with`: redis-py 8.1's asyncio cluster
            # MULTI/EXEC outside it fails now and then with "Event loop is closed"
            async with self.config.get_async_client().pipeline(transaction=True) as pipe:
                self._queue_put(
                    pipe,
                    thread,
                    checkpoint_ns,
                    checkpoint_id,
                    parent_id,
                    checkpoint,
                    metadata,
                    values,
                    channel_versions,
                )
                await pipe.execute()

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
        if not writes:
            return
        with translate_errors(self.config, f"saving pending writes of thread {thread!r}"):
            async with self.config.get_async_client().pipeline(transaction=True) as pipe:
                self._queue_writes(pipe, thread, checkpoint_ns, checkpoint_id, task_id, writes)
                await pipe.execute()

    async def aget(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        """Async :meth:`get`."""
        thread = self._validate(thread_id, checkpoint_ns)
        client = self.config.get_async_client()
        with translate_errors(self.config, f"reading checkpoint of thread {thread!r}"):
            plan = self._get_plan(thread, checkpoint_ns, checkpoint_id)
            try:
                step = next(plan)
                while True:
                    async with client.pipeline(transaction=False) as pipe:
                        step(pipe)
                        replies = await pipe.execute()
                    step = plan.send(replies)
            except StopIteration as done:
                record: StoredCheckpoint | None = done.value
                return record

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
        page = max(1, page)
        client = self.config.get_async_client()
        with translate_errors(self.config, "listing checkpoints"):
            threads = [_thread(thread_id)] if thread_id is not None else await self._athread_ids()
            for thread in threads:
                nss = (
                    [checkpoint_ns] if checkpoint_ns is not None else await self.anamespaces(thread)
                )
                for ns in nss:
                    top, bottom = range_bounds(ns, before)
                    start = 0
                    while True:
                        members = await client.zrevrangebylex(
                            self.keys.checkpoint_index(thread), top, bottom, start=start, num=page
                        )
                        if not members:
                            break
                        start += len(members)
                        async with client.pipeline(transaction=False) as pipe:
                            ids = self._queue_records(pipe, thread, ns, members)
                            pending = self._pending(thread, ns, ids, await pipe.execute(), where)
                        async with client.pipeline(transaction=False) as pipe:
                            plan = self._queue_blobs(pipe, pending)
                            records = self._finish(pending, plan, await pipe.execute())
                        for rec in records:
                            yield rec
                        if len(members) < page:
                            break

    async def adelete_thread(self, thread_id: str) -> None:
        """Async :meth:`delete_thread`."""
        thread = _thread(thread_id)
        client = self.config.get_async_client()
        with translate_errors(self.config, f"deleting thread {thread!r}"):
            async with client.pipeline(transaction=False) as pipe:
                pipe.smembers(self.keys.checkpoint_namespaces(thread))
                pipe.zrange(self.keys.checkpoint_index(thread), 0, -1)
                nss, members = await pipe.execute()
            async with client.pipeline(transaction=True) as pipe:
                # one UNLINK of same-slot keys (the async cluster pipeline's unlink() splits
                # multi-key calls and returns a coroutine)
                pipe.execute_command("UNLINK", *self._delete_keys(thread, nss, members))
                await pipe.execute()

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        src, dst = _thread(source_thread_id), _thread(target_thread_id)
        client = self.config.get_async_client()
        with translate_errors(self.config, f"copying thread {src!r}"):
            async with client.pipeline(transaction=False) as pipe:
                pipe.smembers(self.keys.checkpoint_namespaces(src))
                pipe.zrange(self.keys.checkpoint_index(src), 0, -1)
                nss, members = await pipe.execute()
            if not nss and not members:
                return
            async with client.pipeline(transaction=False) as pipe:
                self._queue_copy_reads(pipe, src, nss, members)
                replies = await pipe.execute()
            async with client.pipeline(transaction=True) as pipe:
                self._queue_copy_writes(pipe, src, dst, nss, members, replies)
                await pipe.execute()

    async def adelete_checkpoints(self, checkpoints: Sequence[StoredCheckpoint]) -> int:
        """Async :meth:`delete_checkpoints`."""
        deleted = 0
        client = self.config.get_async_client()
        for thread, keys, members in self._deletions(checkpoints):
            with translate_errors(self.config, f"deleting checkpoints of thread {thread!r}"):
                async with client.pipeline(transaction=True) as pipe:
                    pipe.execute_command("UNLINK", *keys)
                    pipe.zrem(self.keys.checkpoint_index(thread), *members)
                    deleted += int((await pipe.execute())[1])
        return deleted

    async def aprune(self, thread_ids: Sequence[str], *, keep_latest: bool = True) -> None:
        """Async :meth:`prune`."""
        for thread_id in thread_ids:
            thread = _thread(thread_id)
            if not keep_latest:
                await self.adelete_thread(thread)
                continue
            if self.shallow:
                continue
            client = self.config.get_async_client()
            with translate_errors(self.config, f"pruning thread {thread!r}"):
                members = await client.zrange(self.keys.checkpoint_index(thread), 0, -1)
                latest, drop_members, drop_keys = self._prune_plan(thread, members)
                if not latest:
                    continue
                async with client.pipeline(transaction=False) as pipe:
                    self._queue_prune_reads(pipe, thread, latest)
                    replies = await pipe.execute()
                async with client.pipeline(transaction=True) as pipe:
                    self._queue_prune_writes(pipe, thread, latest, drop_members, drop_keys, replies)
                    await pipe.execute()
