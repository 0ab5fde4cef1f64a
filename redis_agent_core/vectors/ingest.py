"""Writes of a :class:`~redis_agent_core.vectors.VectorIndex`: validate everything, then
store documents in pipelined batches (sync: threads, async: tasks; the batches and
their commands are built by the same pure methods)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any

import numpy as np
import orjson

from .. import telemetry
from ..errors import (
    ConfigError,
    PartialWriteError,
    PartialWriteRefusedError,
    RedisWriteRefusedError,
)
from ..fastpath import (
    Batch,
    Packed,
    arg_bytes,
    asend_batch,
    bulk,
    bulk_header,
    command_prefix,
    pack_commands,
    packed_hset,
    pooled,
    send_batch,
)
from ..keys import as_list, escape_part
from ..redis_errors import FAULTS, map_redis_error, translate_errors
from ..tags import TAG_LIMIT
from .checks import NUL, check_nonzero, check_texts
from .lifecycle import IndexLifecycleMixin
from .schema import (
    METADATA_FIELD,
    attach_vectors,
    check_fields,
    document_values,
    encode_checked,
    encode_fields,
    encode_value,
    may_hold_oversize,
    to_matrix,
)


class _Unencoded:
    """Documents validated by ``check_fields``, encoded per batch by ``_batch``."""

    __slots__ = ("metas", "texts")

    def __init__(self, texts: list[str], metas: list[Any]) -> None:
        self.texts = texts
        self.metas = metas


def _drop_only(ids: Sequence[str] | None, drop: bool | None) -> bool:
    """Whether a delete call drops the index (redisvl's form) rather than documents."""
    if drop is None:
        if ids is None:
            raise ConfigError(
                "delete() needs the ids to delete, or drop=True/False to drop the index "
                "(with or without its documents), as redisvl's SearchIndex.delete"
            )
        return False
    if ids is not None:
        raise ConfigError("pass the ids to delete or drop=, not both")
    return True


class IndexIngest(IndexLifecycleMixin):
    """Add and delete documents."""

    # -- writes: shared preparation --
    def check_documents(
        self,
        texts: Sequence[str],
        *,
        ids: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        vectors: Any,
    ) -> None:
        """Raise the :class:`ConfigError` :meth:`add` would raise for these documents;
        nothing is written (a caller tells which document of a refused batch is bad)."""
        self._prepare(texts, ids, metadatas, vectors)

    def _prepare(
        self,
        texts: Sequence[str],
        ids: Sequence[str | None] | None,
        metadatas: Sequence[Mapping[str, Any] | None] | None,
        vectors: Any,
    ) -> tuple[list[str], list[dict[str, Any]] | _Unencoded, np.ndarray]:
        """Validate everything and encode the documents (without their vectors, which
        are attached per batch by :meth:`_batch`) before any write."""
        texts = as_list(texts, "texts")
        n = len(texts)
        # None entries (e.g. LangChain documents without an id) get a random id.
        given = [None] * n if ids is None else as_list(ids, "ids")
        filled: list[str] = [uuid.uuid4().hex if i is None else i for i in given]
        ids = filled
        if len(ids) != n:
            raise ConfigError(f"got {n} texts but {len(ids)} ids")
        if len(set(ids)) != n:
            raise ConfigError("ids must be unique within one add() call")
        for doc_id in ids:
            if type(doc_id) is not str or not doc_id or NUL in doc_id:
                self.key(doc_id)  # raises the error naming the bad id
        check_texts(ids, "document id")
        check_texts(texts, "text")
        if isinstance(metadatas, Mapping):  # iterated, a dict is its keys
            raise ConfigError(
                "metadatas is a list with one dict (or None) per text, got one dict: [metadata]"
            )
        metas = list(metadatas) if metadatas is not None else [None] * n
        if len(metas) != n:
            raise ConfigError(f"got {n} texts but {len(metas)} metadatas")
        # plain dicts (every call from the adapters) in one pass (≈ 1 ms per 20k; the
        # Mapping check of each entry cost ≈ 10 ms, most of the call's validation)
        if metadatas is not None and not all(type(m) is dict for m in metas):
            for i, meta in enumerate(metas):
                if meta is not None and not isinstance(meta, Mapping):
                    raise ConfigError(
                        f"metadatas #{i} is {meta!r:.60} ({type(meta).__name__}), not a "
                        "dict or None; nothing was written"
                    )
        schema = self.schema
        try:
            matrix = to_matrix(vectors)
        except (ValueError, TypeError) as exc:
            raise self._ragged_error(vectors, exc) from exc
        if matrix.ndim != 2 or matrix.shape[0] != n:
            raise ConfigError(f"got {n} texts but vectors of shape {matrix.shape}")
        if matrix.shape[1] != schema.dims:
            raise ConfigError(
                f"wrong vector dimension: index {self.name!r} expects {schema.dims}, got "
                f"{matrix.shape[1]}; nothing was written. Use an embedding model with "
                f"{schema.dims} dims or a new index."
            )
        if not np.isfinite(matrix).all():
            raise ConfigError("vectors contain NaN or infinity; nothing was written")
        check_nonzero(matrix, schema.metric, ids)
        docs: list[dict[str, Any]] | _Unencoded
        if check_fields(schema, texts, metas):
            # Validated whole; each batch is encoded by its writer thread while the
            # server indexes the previous batch (the server no longer idles while a
            # per-document pass runs before the first write).
            docs = _Unencoded(texts, metas)
        else:
            docs = [encode_fields(schema, t, m) for t, m in zip(texts, metas, strict=True)]
        self._check_sizes(ids, texts, metas, matrix)
        return ids, docs, matrix

    def _check_sizes(
        self, ids: list[str], texts: list[str], metas: list[Any], matrix: np.ndarray
    ) -> None:
        """:class:`ValueTooLargeError` for a document sending a value over
        ``config.max_value_bytes``, before any write: the server would close the
        connection mid-batch, which reads as Redis down. Documents are encoded to be
        measured only when a bound says one might be over."""
        config = self.config
        schema = self.schema
        if not may_hold_oversize(schema, texts, metas, config.max_value_bytes):
            return
        for i, doc_id in enumerate(ids):
            values = document_values(schema, texts[i], metas[i], matrix[i])
            config.check_value_sizes(values, f"a value of document {doc_id!r}")

    def _ragged_error(self, vectors: Any, exc: BaseException) -> ConfigError:
        """The error for vectors numpy cannot stack: name the first bad row."""
        dims = self.schema.dims
        try:
            for i, row in enumerate(vectors):
                got = len(row)
                if got != dims:
                    return ConfigError(
                        f"wrong vector dimension: index {self.name!r} expects {dims}, got "
                        f"{got} (row {i}); nothing was written. Use an embedding model with "
                        f"{dims} dims or a new index."
                    )
        except TypeError:
            pass
        return ConfigError(
            f"vectors must be {dims}-dim rows of numbers ({exc}); nothing was written"
        )

    def _batch(
        self,
        ids: list[str],
        docs: list[dict[str, Any]] | _Unencoded,
        matrix: np.ndarray,
        start: int,
        end: int,
        packed: bool = False,
    ) -> list[list[Any]] | Packed:
        """The commands of documents ``start:end``: documents (when validated but not
        yet encoded), keys and vector bytes are built here, per batch, while the server
        indexes the previous batch. ``packed``: RESP bytes for one connection (not a
        cluster client) are allowed."""
        if isinstance(docs, _Unencoded):
            schema = self.schema
            if packed and schema.storage == "hash":
                return self._packed_hash(ids, docs, matrix, start, end)
            batch_docs = [
                encode_checked(schema, t, m)
                for t, m in zip(docs.texts[start:end], docs.metas[start:end], strict=True)
            ]
        else:
            batch_docs = docs[start:end]
        attach_vectors(self.schema, batch_docs, matrix[start:end])
        return self._write_commands([self.key(i) for i in ids[start:end]], batch_docs)

    def _packed_hash(
        self, ids: list[str], docs: _Unencoded, matrix: np.ndarray, start: int, end: int
    ) -> Packed:
        """RESP bytes of one HASH batch, encoded straight from the validated input (no
        per-document dict or command list: FLAT ingest is client-bound). A document
        that needs more than one HSET (a declared field absent, or a TTL) takes the
        general path of :meth:`_write_commands`. Per-document bulk strings are
        :func:`~redis_agent_core.fastpath.bulk` inlined (a call per value costs)."""
        schema = self.schema
        rows = np.ascontiguousarray(matrix[start:end], dtype=schema.numpy_dtype)
        buf = rows.tobytes()
        width = rows.shape[1] * rows.itemsize
        fields = [(f, f.type == "tag", bulk(f.name.encode())) for f in schema.metadata_fields]
        head = command_prefix(2 + 2 * (3 + len(fields)), b"HSET")
        text_name = bulk(schema.text_field.encode())
        meta_name = bulk(METADATA_FIELD.encode())
        vector_name = bulk(schema.vector_field.encode()) + bulk_header(width)
        prefix = self.prefix
        simple = self.ttl is None
        option = orjson.OPT_NON_STR_KEYS
        parts: list[bytes] = []
        count = 0
        texts, metas = docs.texts, docs.metas
        for i in range(start, end):
            meta = metas[i] or {}
            values: list[bytes] = []
            for f, tag, name in fields:
                value = meta.get(f.name)
                if value is None or (tag and value in ([], (), "")):
                    simple = False
                    break
                if not (
                    tag
                    and type(value) is str
                    and value.isascii()
                    and value.isalnum()
                    and len(value) <= TAG_LIMIT
                ):
                    value = encode_value(schema, f, value)  # escaped (tag_value)
                data = arg_bytes(value)
                values.append(name + bulk(data))
            offset = (i - start) * width
            if not simple:
                doc = encode_checked(schema, texts[i], metas[i])
                doc[schema.vector_field] = buf[offset : offset + width]
                commands = self._write_commands([self.key(ids[i])], [doc])
                parts.append(pack_commands(commands))
                count += len(commands)
                simple = self.ttl is None
                continue
            key = (prefix + escape_part(ids[i])).encode()
            text = texts[i].encode()
            meta_json = orjson.dumps(meta, option=option)
            parts.append(
                packed_hset(
                    head,
                    key,
                    text_name,
                    text,
                    b"".join(values),
                    meta_name,
                    meta_json,
                    vector_name,
                    buf[offset : offset + width],
                )
            )
            count += 1
        return Packed(b"".join(parts), count)

    def _write_commands(self, keys: Sequence[str], docs: Sequence[dict]) -> list[list[Any]]:
        """The commands storing one batch (pure)."""
        schema = self.schema
        declared = [f.name for f in schema.metadata_fields]
        commands: list[list[Any]] = []
        for key, doc in zip(keys, docs, strict=True):
            stale: list[str] = []
            if schema.storage == "json":
                commands.append(["JSON.SET", key, "$", orjson.dumps(doc)])
            else:
                stale = [name for name in declared if name not in doc]
                if stale:
                    # A re-added id must not keep an indexed value it no longer has,
                    # and another writer of the id must not land between the HDEL
                    # and the HSET (a mixed document): one transaction (one key).
                    commands += (["MULTI"], ["HDEL", key, *stale])
                command: list[Any] = ["HSET", key]
                for name, value in doc.items():
                    command += (name, value)
                commands.append(command)
            if self.ttl is not None:
                commands.append(["EXPIRE", key, self.ttl])
            if stale:
                commands.append(["EXEC"])
        return commands

    def _send_batch(self, commands: Batch) -> None:
        """Send one batch (idempotent writes: retried whole on a stale connection)."""
        config = self.config
        send_batch(config.get_client(), commands, retries=config.retries, backoff=config.backoff)

    async def _asend_batch(self, commands: Batch) -> None:
        """Async :meth:`_send_batch`."""
        config = self.config
        client = config.get_async_client()
        await asend_batch(client, commands, retries=config.retries, backoff=config.backoff)

    def _report(
        self,
        exc: BaseException | None,
        ids: list[str],
        batches: list[tuple[int, int]],
        confirmed: list[bool],
    ) -> None:
        """Raise the right error when some batch failed; nothing when all were stored."""
        if exc is None:
            telemetry.vectors_added(self.name, len(ids))
            return
        base = map_redis_error(exc, f"adding documents to {self.name!r}", self.config)
        written = [i for (s, e), ok in zip(batches, confirmed, strict=True) if ok for i in ids[s:e]]
        if not written:
            raise base from exc
        unconfirmed = [
            i for (s, e), ok in zip(batches, confirmed, strict=True) if not ok for i in ids[s:e]
        ]
        message = (
            f"{base} {len(written)} of {len(ids)} documents were stored before the failure; "
            f"{len(unconfirmed)} were not confirmed (see .unconfirmed_ids). add() is "
            "idempotent by id: call it again with the same ids."
        )
        if isinstance(base, RedisWriteRefusedError):  # keep the refusal's type and cause
            raise PartialWriteRefusedError(message, written, unconfirmed, cause=base.cause) from exc
        raise PartialWriteError(message, written, unconfirmed) from exc

    def _batches(self, n: int) -> list[tuple[int, int]]:
        return [(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]

    # -- writes (sync) --
    @telemetry.traced("vectors", "add")
    def add(
        self,
        texts: Sequence[str],
        *,
        ids: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        vectors: Any = None,
    ) -> list[str]:
        """Store documents (embedding ``texts`` when ``vectors`` is None) in pipelined
        batches and return their ids exactly as given (random hex ids when None).
        Re-adding an id overwrites it. Bad input raises before anything is written."""
        texts = as_list(texts, "texts")
        if not texts:
            return []
        if vectors is None:
            vectors = self.embedder.embed(texts)
        ids_, docs, matrix = self._prepare(texts, ids, metadatas, vectors)
        was_ready = self._ready
        self._ensure(create=True)
        batches = self._batches(len(ids_))
        confirmed = [False] * len(batches)
        error: BaseException | None = None

        packed = pooled(self.config.get_client())

        def send(i: int) -> None:
            start, end = batches[i]
            self._send_batch(self._batch(ids_, docs, matrix, start, end, packed))
            confirmed[i] = True

        if len(batches) == 1 or self.write_concurrency == 1:
            for i in range(len(batches)):
                try:
                    send(i)
                except FAULTS as exc:
                    error = exc
                    break
        else:
            # Two connections overlap building the next batch with the server indexing
            # the previous one (FLAT ingest is otherwise client + server time, summed).
            with ThreadPoolExecutor(self.write_concurrency) as pool:
                futures = [pool.submit(send, i) for i in range(len(batches))]
                for future in futures:
                    try:
                        future.result()
                    except FAULTS as exc:
                        error = error or exc
                        for other in futures:
                            other.cancel()
                    except CancelledError:
                        pass
        self._report(error, ids_, batches, confirmed)
        if was_ready:
            self._reindex_if_lost()
        self._written(len(ids_))
        return ids_

    @telemetry.traced("vectors", "add")
    async def aadd(
        self,
        texts: Sequence[str],
        *,
        ids: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        vectors: Any = None,
    ) -> list[str]:
        """Async :meth:`add`."""
        texts = as_list(texts, "texts")
        if not texts:
            return []
        if vectors is None:
            vectors = await self.embedder.aembed(texts)
        ids_, docs, matrix = self._prepare(texts, ids, metadatas, vectors)
        was_ready = self._ready
        await self._aensure(create=True)
        batches = self._batches(len(ids_))
        confirmed = [False] * len(batches)
        gate = asyncio.Semaphore(self.write_concurrency)
        failed = asyncio.Event()
        packed = pooled(self.config.get_async_client())

        async def send(i: int) -> None:
            async with gate:
                if failed.is_set():
                    return
                start, end = batches[i]
                try:
                    await self._asend_batch(self._batch(ids_, docs, matrix, start, end, packed))
                except FAULTS:
                    failed.set()
                    raise
                confirmed[i] = True

        results = await asyncio.gather(
            *(send(i) for i in range(len(batches))), return_exceptions=True
        )
        error = next((r for r in results if isinstance(r, BaseException)), None)
        if error is not None and not isinstance(error, FAULTS):
            raise error
        self._report(error, ids_, batches, confirmed)
        if was_ready:
            await self._areindex_if_lost()
        await self._awritten(len(ids_))
        return ids_

    def delete(self, ids: Sequence[str] | None = None, *, drop: bool | None = None) -> int:
        """Delete documents by id; returns how many existed. Missing ids are ignored.

        ``delete(drop=...)`` without ids is redisvl's ``SearchIndex.delete``, for code
        written against it: drop the index, and its documents with ``drop=True``."""
        if _drop_only(ids, drop):
            self.drop(delete_documents=bool(drop))
            return 0
        keys = [self.key(i) for i in as_list(ids or (), "ids")]
        if not keys:
            return 0
        with translate_errors(self.config, f"deleting from {self.name!r}"):
            return int(self.config.get_client().unlink(*keys))

    async def adelete(self, ids: Sequence[str] | None = None, *, drop: bool | None = None) -> int:
        """Async :meth:`delete`."""
        if _drop_only(ids, drop):
            await self.adrop(delete_documents=bool(drop))
            return 0
        keys = [self.key(i) for i in as_list(ids or (), "ids")]
        if not keys:
            return 0
        with translate_errors(self.config, f"deleting from {self.name!r}"):
            return int(await self.config.get_async_client().unlink(*keys))
