"""Pure plans of the checkpoint store: keys, queued commands, reply parsing.

A *plan* is a generator: it yields ``(transaction, queue)`` steps, ``queue(pipe)``
putting commands on a pipeline (a MULTI/EXEC one when ``transaction``), is sent each
step's replies and returns the result. :class:`~.store.CheckpointStore` runs the same
plans with a sync or an asyncio client, so both paths issue the same commands.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ..config import RedisAgentConfig, get_default_config
from ..errors import ConfigError, DataCorruptionError, ThreadDeletedError
from ..keys import escape_part
from ..kvstore import check_positive_ttl
from ..plans import Plan, ScriptStep, Step
from ..scripts import Script
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
    write_field,
    write_value,
)

__all__ = ["CheckpointPlans", "PendingWriteIn", "Plan", "Step", "thread_name"]

T = TypeVar("T")
_PUT = Script.load(__package__, "shallow_clear.lua", "put.lua", ID_FIELD=F_ID.decode())
_NOTE_UNINDEXED = Script.load(__package__, "note_unindexed.lua")
_DELETE_THREAD = Script.load(__package__, "delete_thread.lua", undeclared=True)

PendingWriteIn = tuple[str, int, str, Typed]
"""(channel, index, task path, value) of one write to store; index < 0 overwrites."""

Loaded = tuple[StoredCheckpoint, tuple[str, list[tuple[str, bytes]]] | None, Sequence[Any] | None]
"""A record read, where its values live (value hash, (channel, field) pairs; ``None``:
none referenced) and the values read from there (``None``: not read)."""


def thread_name(thread_id: object) -> str:
    """LangGraph accepts any thread id and str()s it; so do we (UUIDs, ints). A blank
    one (``""``) raises :class:`ConfigError`: it names no one, so every caller whose id
    came out blank (an anonymous user, a missing session) shared one thread, each
    resuming the others' conversation (LangGraph's savers keep it as a thread)."""
    name = thread_id if isinstance(thread_id, str) else str(thread_id)
    if not name:
        raise ConfigError(
            "thread_id is blank (''): it names no thread, and every caller whose id came "
            "out blank would share one; give each conversation its own id (e.g. "
            "str(uuid.uuid4()), or the user's session id), and refuse requests without one"
        )
    return name


class CheckpointPlans:
    """Settings, keys and plans of a :class:`~.store.CheckpointStore` (no I/O here)."""

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
            self.keys.checkpoint_unindexed(thread_id),
        ]
        if not self.shallow:
            keys.append(self.keys.checkpoint_blobs(thread_id, checkpoint_ns))
            keys.append(self.keys.checkpoint_head(thread_id, checkpoint_ns))
        return keys

    def _queue_expire(self, pipe: Any, keys: Sequence[str]) -> None:
        if self.ttl is not None:
            for key in keys:
                pipe.expire(key, self.ttl)

    def _put_call(
        self,
        thread_id: str,
        checkpoint_ns: str,
        checkpoint_id: str,
        parent_id: str | None,
        checkpoint: Typed,
        metadata: Typed,
        values: Mapping[str, tuple[str, Typed]],
        channel_versions: Mapping[str, str],
    ) -> tuple[Any, ...]:
        """The one script saving a checkpoint, only while its parent is on the thread
        (put.lua): the record, new values, head, index entry and expiries."""
        key = self.record_key(thread_id, checkpoint_ns, checkpoint_id)
        fields = record_fields(checkpoint_id, parent_id, checkpoint, metadata)
        parent_key = key
        if parent_id and not self.shallow:
            parent_key = self.keys.checkpoint(thread_id, checkpoint_ns, parent_id)
        keys = [
            key,
            self.keys.checkpoint_index(thread_id),
            self.keys.checkpoint_unindexed(thread_id),
            self.keys.checkpoint_namespaces(thread_id),
            parent_key,
        ]
        head: list[bytes] = []
        blobs: list[bytes] = []
        bottom = top = b""
        if self.shallow:
            # the only copy of the thread: every value travels inside the hash
            fields.update(
                {VALUE_PREFIX + ch.encode(): pack_typed(v) for ch, (_, v) in values.items()}
            )
            top, bottom = range_bounds(checkpoint_ns, None)
        else:
            fields[F_REFS] = refs_value(channel_versions)
            keys += [
                self.keys.checkpoint_blobs(thread_id, checkpoint_ns),
                self.keys.checkpoint_head(thread_id, checkpoint_ns),
            ]
            head = [F_ID, fields[F_ID], F_REFS, fields[F_REFS]]
            for ch, (ver, v) in values.items():
                blobs += [blob_field(ch, ver), pack_typed(v)]
        record = [x for pair in fields.items() for x in pair]
        args = [
            index_member(checkpoint_ns, parent_id) if parent_id else b"",
            str(self.ttl).encode() if self.ttl is not None else b"",
            checkpoint_id.encode(),
            index_member(checkpoint_ns, checkpoint_id),
            checkpoint_ns.encode(),
            bottom,
            top,
            str(len(record)).encode(),
            *record,
            str(len(head)).encode(),
            *head,
            *blobs,
        ]
        return _PUT.evalsha(keys, args)

    def _put_refused(self, code: Any, thread: str, ns: str, parent_id: str | None) -> None:
        """Raise when put.lua refused the checkpoint (its parent gone; nothing written)."""
        if not code:
            return
        where = f"thread {thread!r}" + (f" (namespace {ns!r})" if ns else "")
        if int(code) == 2:
            raise DataCorruptionError(
                f"the parent checkpoint {parent_id!r} of the checkpoint being saved on "
                f"{where} is listed in its index but its record is gone: Redis evicted it, "
                "so the thread cannot go on (nothing was written). Run Redis with "
                "maxmemory-policy noeviction; delete the thread to start it over"
            )
        raise ThreadDeletedError(
            f"the parent checkpoint {parent_id!r} of the checkpoint being saved is no "
            f"longer on {where}: the thread was deleted (delete_thread, prune, "
            "delete_for_runs) or expired (ttl=) while a run was writing it, or the config "
            "names a checkpoint_id the thread never had. Nothing was written. Stop the "
            "thread's run before delete_thread; start it over from its latest checkpoint "
            "(a config without checkpoint_id)"
        )

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
        member = index_member(checkpoint_ns, checkpoint_id)
        unindexed = [
            self.keys.checkpoint_index(thread_id),
            self.keys.checkpoint_unindexed(thread_id),
        ]
        pipe.execute_command(*_NOTE_UNINDEXED.eval(unindexed, [member, key]))
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
    def _values(
        pending: Sequence[tuple[StoredCheckpoint, Any]],
        plan: Sequence[tuple[str, Sequence[bytes]]],
        replies: Sequence[Any],
    ) -> builtins.list[Loaded]:
        """Each pending record with the values its request read (``None``: missing)."""
        found = {
            (key, f): blob
            for (key, fields), values in zip(plan, replies, strict=True)
            for f, blob in zip(fields, values, strict=True)
        }
        return [
            (rec, req, None if req is None else [found.get((req[0], f)) for _, f in req[1]])
            for rec, req in pending
        ]

    def _with_values(self, loaded: Sequence[Loaded]) -> Plan[builtins.list[StoredCheckpoint]]:
        """The records with the values they reference attached. A record missing some
        is looked up once more (one trip for all): gone now, its TTL passed between the
        two reads (the value hash never expires before a record: every write pushes
        both back), so it is left out as if the first read had missed it; still there,
        Redis lost its values: :class:`DataCorruptionError` (``attach_blobs``)."""
        short = [rec for rec, _, blobs in loaded if blobs is not None and None in blobs]
        gone: set[str] = set()
        if short:
            keys = [self.record_key(r.thread_id, r.checkpoint_ns, r.checkpoint_id) for r in short]

            def exists(pipe: Any) -> None:
                for key in keys:
                    pipe.exists(key)

            alive = yield False, exists
            gone = {r.checkpoint_id for r, n in zip(short, alive, strict=True) if not n}
        out = []
        for rec, req, blobs in loaded:
            if rec.checkpoint_id in gone:
                continue
            if req is not None and blobs is not None:
                attach_blobs(rec, req[0], req[1], blobs)
            out.append(rec)
        return out

    def page_plan(
        self,
        thread: str,
        ns: str,
        members: Sequence[Any],
        where: Callable[[StoredCheckpoint], bool] | None,
    ) -> Plan[builtins.list[StoredCheckpoint]]:
        """One page of a listing: the records of ``members`` (index entries), then the
        values of those ``where`` keeps."""
        ids: builtins.list[str] = []
        raws = yield False, lambda p: ids.extend(self._queue_records(p, thread, ns, members))
        pending = self._pending(thread, ns, ids, raws, where)
        plan: builtins.list[tuple[str, builtins.list[bytes]]] = []
        replies: Any = []
        if any(req is not None for _, req in pending):
            replies = yield False, lambda p: plan.extend(self._queue_blobs(p, pending))
        return (yield from self._with_values(self._values(pending, plan, replies)))

    def _get_plan(
        self, thread: str, ns: str, checkpoint_id: str | None
    ) -> Plan[StoredCheckpoint | None]:
        """The reads of ``get``: the head and the index, then the record with its values
        (a third trip only when the head is stale)."""
        refs: builtins.list[tuple[str, bytes]] | None = None
        if checkpoint_id is None and not self.shallow:
            top, bottom = range_bounds(ns, None)
            idx, head = self.keys.checkpoint_index(thread), self.keys.checkpoint_head(thread, ns)

            def latest(pipe: Any) -> None:
                pipe.zrevrangebylex(idx, top, bottom, start=0, num=1)
                pipe.hmget(head, [F_ID, F_REFS])

            ids, (head_id, head_refs) = yield False, latest
            if not ids:
                if head_id is not None:  # a head with no index: deleted, or the index lost
                    yield from self._check_index(thread, ns, head_id.decode())
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

        replies = yield False, record_and_values
        raw = replies[0]
        record = parse_record(thread, ns, raw, checkpoint_id)
        if record is None:
            return None
        if refs:
            loaded: Loaded = (record, (blobs, refs), replies[1])
        else:
            request = self._blob_request(record, raw)
            values = None
            if request is not None:
                (values,) = yield False, lambda p: p.hmget(request[0], [f for _, f in request[1]])
            loaded = (record, request, values)
        found = yield from self._with_values([loaded])
        return found[0] if found else None

    def _check_index(self, thread: str, ns: str, head_id: str) -> Plan[None]:
        """Raise if the checkpoint the head names exists while the index lists none: the
        index was evicted or deleted, and reading on would start the thread over."""
        key = self.record_key(thread, ns, head_id)
        (found,) = yield False, lambda p: p.exists(key)
        if found:
            raise DataCorruptionError(
                f"the checkpoint index of thread {thread!r} (namespace {ns!r}) is gone while "
                f"its latest checkpoint {head_id!r} is still stored: Redis evicted or deleted "
                f"{self.keys.checkpoint_index(thread)!r}, so the thread cannot resume. Run "
                "Redis with maxmemory-policy noeviction (or a volatile-* policy and no ttl= "
                "on the saver); delete the thread to start it over"
            )

    @staticmethod
    def _validate(thread_id: object, checkpoint_ns: str) -> str:
        check_namespace(checkpoint_ns)
        return thread_name(thread_id)

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

    def _copy_pairs(
        self, src: str, dst: str, nss: Any, members: Any, noted: Any
    ) -> tuple[builtins.list[tuple[str, str]], set[str]]:
        """(source, target) keys of every record to copy, and the target keys of those
        noted in the source's writes set (pending writes saved before their checkpoint,
        which the index does not list)."""
        pairs = self._record_pairs(src, dst, nss, members)
        src_prefix = self.keys.checkpoint_thread_prefix(src)
        dst_prefix = self.keys.checkpoint_thread_prefix(dst)
        seen = {key for key, _ in pairs}
        notes = set()
        for raw in sorted(noted):
            key = raw.decode() if isinstance(raw, bytes) else raw
            if not key.startswith(src_prefix):
                continue
            target = dst_prefix + key[len(src_prefix) :]
            notes.add(target)
            if key not in seen:
                seen.add(key)
                pairs.append((key, target))
        return pairs, notes

    def _queue_copy_reads(self, pipe: Any, src: str, nss: Any, members: Any, noted: Any) -> None:
        for key, _ in self._copy_pairs(src, src, nss, members, noted)[0]:
            pipe.dump(key)
            pipe.pttl(key)
        for ns in self._ns_list(nss):
            pipe.hgetall(self.keys.checkpoint_blobs(src, ns))

    def _queue_copy_writes(
        self,
        pipe: Any,
        src: str,
        dst: str,
        nss: Any,
        members: Any,
        noted: Any,
        replies: Sequence[Any],
    ) -> None:
        pairs, notes = self._copy_pairs(src, dst, nss, members, noted)
        copied_notes = []
        for i, (_, dst_key) in enumerate(pairs):
            dumped, pttl = replies[2 * i], replies[2 * i + 1]
            if dumped is None or pttl == -2:
                continue  # expired or never written (a shallow hash of a full store)
            # the record hash whole, with its own expiry (0: none); a target record
            # with the same id is replaced
            pipe.restore(dst_key, max(int(pttl), 0), dumped, replace=True)
            if dst_key in notes:
                copied_notes.append(dst_key)
        if copied_notes:
            # writes saved before their checkpoint: noted in the target's set as in the
            # source's, so the target's delete_thread finds them (and the checkpoint's
            # put there takes the note out)
            unindexed = self.keys.checkpoint_unindexed(dst)
            pipe.sadd(unindexed, *copied_notes)
            self._queue_expire(pipe, [unindexed])
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

    def _prune_targets(
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
        # the index again: a checkpoint put since the first read references values the
        # latest seen then does not
        pipe.zrange(self.keys.checkpoint_index(thread), 0, -1)

    def _queue_prune_writes(
        self,
        pipe: Any,
        thread: str,
        latest: Mapping[str, str],
        members: Sequence[bytes],
        drop_members: Sequence[bytes],
        drop_keys: Sequence[str],
        replies: Sequence[Any],
    ) -> None:
        if drop_keys:
            pipe.execute_command("UNLINK", *drop_keys)
            pipe.zrem(self.keys.checkpoint_index(thread), *drop_members)
        if list(replies[-1]) != list(members):
            return  # a put came in between: its values stay (a later prune drops the stale)
        for i, ns in enumerate(latest):
            refs, fields = replies[2 * i], replies[2 * i + 1]
            kept = {field for _, field in parse_refs(refs)}
            stale = [f for f in fields if f not in kept]
            if stale:
                pipe.hdel(self.keys.checkpoint_blobs(thread, ns), *stale)

    def _deletions(
        self, checkpoints: Sequence[StoredCheckpoint]
    ) -> builtins.list[tuple[str, builtins.list[str], builtins.list[bytes]]]:
        by_thread: dict[str, tuple[builtins.list[str], builtins.list[bytes]]] = {}
        for rec in checkpoints:
            keys, members = by_thread.setdefault(rec.thread_id, ([], []))
            keys.append(self.record_key(rec.thread_id, rec.checkpoint_ns, rec.checkpoint_id))
            members.append(index_member(rec.checkpoint_ns, rec.checkpoint_id))
        return [(thread, keys, members) for thread, (keys, members) in by_thread.items()]

    # -- whole operations as plans --
    def put_plan(
        self,
        thread: str,
        ns: str,
        checkpoint_id: str,
        parent_id: str | None,
        checkpoint: Typed,
        metadata: Typed,
        values: Mapping[str, tuple[str, Typed]],
        channel_versions: Mapping[str, str],
    ) -> Plan[None]:
        sizes = (checkpoint[1], metadata[1], *(value[1] for _, value in values.values()))
        self.config.check_value_sizes(sizes, "a checkpoint value")  # before any step runs
        call = self._put_call(
            thread, ns, checkpoint_id, parent_id, checkpoint, metadata, values, channel_versions
        )
        (code,) = yield True, ScriptStep(call)
        self._put_refused(code, thread, ns, parent_id)

    def writes_plan(
        self,
        thread: str,
        ns: str,
        checkpoint_id: str,
        task_id: str,
        writes: Sequence[PendingWriteIn],
    ) -> Plan[None]:
        self.config.check_value_sizes((w[3][1] for w in writes), "a pending write")
        if writes:
            yield True, lambda p: self._queue_writes(p, thread, ns, checkpoint_id, task_id, writes)

    def _read_thread(self, pipe: Any, thread: str) -> None:
        pipe.smembers(self.keys.checkpoint_namespaces(thread))
        pipe.zrange(self.keys.checkpoint_index(thread), 0, -1)
        pipe.smembers(self.keys.checkpoint_unindexed(thread))

    def delete_plan(self, thread: str) -> Plan[None]:
        # one script: a checkpoint saved between a read of the keys and their UNLINK
        # survived as an orphan (delete_thread.lua)
        keys = [
            self.keys.checkpoint_index(thread),
            self.keys.checkpoint_namespaces(thread),
            self.keys.checkpoint_unindexed(thread),
        ]
        prefix = self.keys.checkpoint_thread_prefix(thread)
        yield True, lambda p: p.execute_command(*_DELETE_THREAD.eval(keys, [prefix]))

    def copy_plan(self, src: str, dst: str) -> Plan[None]:
        nss, members, noted = yield False, lambda p: self._read_thread(p, src)
        if not nss and not members and not noted:
            return
        replies = yield False, lambda p: self._queue_copy_reads(p, src, nss, members, noted)
        yield True, lambda p: self._queue_copy_writes(p, src, dst, nss, members, noted, replies)

    def prune_plan(self, thread: str, keep_latest: bool) -> Plan[None]:
        if not keep_latest:
            yield from self.delete_plan(thread)
            return
        if self.shallow:
            return  # holds only the latest already
        (members,) = yield False, lambda p: p.zrange(self.keys.checkpoint_index(thread), 0, -1)
        latest, drop_members, drop_keys = self._prune_targets(thread, members)
        if not latest:
            return
        replies = yield False, lambda p: self._queue_prune_reads(p, thread, latest)
        yield (
            True,
            lambda p: self._queue_prune_writes(
                p, thread, latest, members, drop_members, drop_keys, replies
            ),
        )

    def delete_checkpoints_plan(self, checkpoints: Sequence[StoredCheckpoint]) -> Plan[int]:
        deleted = 0
        for thread, keys, members in self._deletions(checkpoints):

            def queue(
                p: Any, thread: str = thread, keys: Any = keys, members: Any = members
            ) -> None:
                p.execute_command("UNLINK", *keys)
                p.zrem(self.keys.checkpoint_index(thread), *members)

            replies = yield True, queue
            deleted += int(replies[1])
        return deleted
