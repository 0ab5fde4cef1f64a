"""``VectorIndex``: a RediSearch vector index with sync and asyncio methods.

Built on redisvl's ``SearchIndex`` / ``AsyncSearchIndex`` for index creation, and on
pipelined raw commands for writes and the hot query path (the command builders and
reply parsers in :mod:`.query` are shared by both paths). The constructor does no
I/O; the index is created by :meth:`VectorIndex.create` or lazily on the first write.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import orjson
import redis
from redisvl.index import AsyncSearchIndex, SearchIndex
from redisvl.query.filter import FilterExpression
from redisvl.schema import IndexSchema

from ..capabilities import get_capabilities, require_search
from ..config import RedisAgentConfig, get_default_config
from ..embeddings import DEFAULT_MODEL_NAME, Embedder, default_embedder
from ..errors import ConfigError, RedisAgentError, RedisUnavailableError
from ..fastpath import arg_bytes, bulk, command_prefix, pack_commands
from ..keys import escape_part
from ..redis_errors import (
    FAULTS,
    UNAVAILABLE,
    is_missing_index,
    map_redis_error,
    translate_errors,
)
from ..tags import TAG_LIMIT
from . import query as q
from .checks import check_k, check_text, check_texts
from .expressions import compile_filter
from .filters import Filter
from .schema import (
    DEFAULT_EF_RUNTIME,
    METADATA_FIELD,
    MetadataSpec,
    VectorSchema,
    attach_vectors,
    check_fields,
    describe_info,
    distance_from_relevance,
    encode_checked,
    encode_fields,
    encode_value,
    mismatch_error,
    parse_metadata_fields,
    to_matrix,
)

__all__ = ["PartialWriteError", "VectorIndex"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_UNSET: Any = object()
FilterLike: TypeAlias = Filter | Mapping[str, Any] | FilterExpression | None
QueryLike: TypeAlias = str | Sequence[float] | np.ndarray


class _Unencoded:
    """Documents validated by ``check_fields``, encoded per batch by ``_batch``."""

    __slots__ = ("metas", "texts")

    def __init__(self, texts: list[str], metas: list[Any]) -> None:
        self.texts = texts
        self.metas = metas


class _Packed(NamedTuple):
    """One batch as RESP bytes and the number of replies to read."""

    data: bytes
    replies: int


def _packed(commands: list[list[Any]] | _Packed) -> tuple[bytes, int]:
    if isinstance(commands, _Packed):
        return commands.data, commands.replies
    return pack_commands(commands), len(commands)


class PartialWriteError(RedisUnavailableError):
    """Redis failed in the middle of :meth:`VectorIndex.add`.

    ``written_ids`` were confirmed stored; ``unconfirmed_ids`` may or may not be.
    ``add`` is idempotent by id: re-run it with the same ids once Redis is back.
    """

    def __init__(self, message: str, written_ids: list[str], unconfirmed_ids: list[str]) -> None:
        super().__init__(message)
        self.written_ids = written_ids
        self.unconfirmed_ids = unconfirmed_ids


class VectorIndex:
    """A vector index over documents ``(id, text, metadata, vector)`` in Redis.

    Args:
        name: index name (letters, digits, ``_.-``); keys live under the config's
            namespace (``<ns>:vec:<name>:d:<id>``).
        config: the :class:`RedisAgentConfig` (default: the process-wide one).
        embedder: embeds texts when ``add``/queries get no vectors (default: the
            offline all-MiniLM-L6-v2, loaded on first use).
        dims: vector size (default: the embedder's).
        metadata_fields: metadata keys to index for filtering, e.g.
            ``{"tenant": "tag", "year": "numeric"}``. All metadata is stored and
            returned; only declared keys can be filtered on.
        algorithm: ``"hnsw"`` (default) or ``"flat"`` (exact, brute force).
        metric: ``"cosine"`` (default), ``"l2"`` or ``"ip"``.
        dtype: ``"float32"`` (default) or ``"float16"`` (half the memory).
        storage: ``"hash"`` (default) or ``"json"``.
        ef_runtime: HNSW candidate list size at query time; 100 (default) gives
            recall@10 ≈ 0.98 on 384-d embeddings where RediSearch's 10 gives ≈ 0.6.
        m, ef_construction: HNSW graph parameters.
        ttl: seconds before documents expire (default: ``config.default_ttl``).
        batch_size: documents per pipelined round trip when writing.
        write_concurrency: batches in flight at once (each on its own connection).
    """

    def __init__(
        self,
        name: str,
        *,
        config: RedisAgentConfig | None = None,
        embedder: Embedder | None = None,
        dims: int | None = None,
        metadata_fields: MetadataSpec = None,
        algorithm: str = "hnsw",
        metric: str = "cosine",
        dtype: str = "float32",
        storage: str = "hash",
        ef_runtime: int = DEFAULT_EF_RUNTIME,
        m: int = 16,
        ef_construction: int = 200,
        text_field: str = "text",
        vector_field: str = "embedding",
        ttl: int | None = _UNSET,
        batch_size: int = 500,
        write_concurrency: int = 2,
        embedder_name: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise ConfigError(
                f"invalid vector index name {name!r}: use 1-128 letters, digits, '_', '.', '-'"
            )
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
        self.name = name
        self.config = config or get_default_config()
        self._embedder = embedder
        self._embedder_name = embedder_name or (embedder.name if embedder else DEFAULT_MODEL_NAME)
        self._schema_args: dict[str, Any] = dict(
            metadata_fields=parse_metadata_fields(metadata_fields),
            algorithm=algorithm, metric=metric, dtype=dtype, storage=storage,
            ef_runtime=ef_runtime, m=m, ef_construction=ef_construction,
            text_field=text_field, vector_field=vector_field,
        )  # fmt: skip
        self._dims = dims
        self._schema: VectorSchema | None = None
        if dims is not None:
            self._schema = VectorSchema(dims=dims, **self._schema_args)
        else:
            # Validate the options now; dims come from the embedder on first use.
            VectorSchema(dims=1, **self._schema_args)
        self.ttl = self.config.default_ttl if ttl is _UNSET else ttl
        if self.ttl is not None and (
            not isinstance(self.ttl, int) or isinstance(self.ttl, bool) or self.ttl <= 0
        ):
            raise ConfigError(f"ttl must be a positive int or None, got {self.ttl!r}")
        self.batch_size = batch_size
        if not isinstance(write_concurrency, int) or write_concurrency <= 0:
            raise ConfigError(
                f"write_concurrency must be a positive int, got {write_concurrency!r}"
            )
        self.write_concurrency = write_concurrency
        self.index_name = self.config.keys.vector_index(name)
        self.prefix = self.config.keys.vector_prefix(name)
        self._ready = False
        self._hybrid: bool | None = None

    def __repr__(self) -> str:
        return f"VectorIndex({self.name!r}, index={self.index_name!r})"

    # -- properties --
    @property
    def embedder(self) -> Embedder:
        """The embedding model (the default one is loaded on first embed)."""
        if self._embedder is None:
            if self._embedder_name != DEFAULT_MODEL_NAME:
                raise ConfigError(
                    f"index {self.name!r} was built with embedding model "
                    f"{self._embedder_name!r}; pass embedder= (or vectors=) to use it"
                )
            self._embedder = default_embedder()
        return self._embedder

    @property
    def schema(self) -> VectorSchema:
        """The schema (dims resolved from the embedder when not given)."""
        if self._schema is None:
            self._schema = VectorSchema(dims=int(self.embedder.dims), **self._schema_args)
        return self._schema

    def key(self, doc_id: str) -> str:
        """The Redis key of document ``doc_id``."""
        return q.doc_key(self.prefix, doc_id)

    def _fields(self) -> dict[str, tuple[str, bool]]:
        schema = self.schema
        out: dict[str, tuple[str, bool]] = {
            f.name: (f.type, f.case_sensitive) for f in schema.metadata_fields
        }
        out[schema.text_field] = ("text", False)
        return out

    def compile_filter(self, filter: FilterLike) -> str | None:
        """The RediSearch clause of ``filter`` (``None``: matches nothing)."""
        return compile_filter(filter, self._fields())

    # -- specs --
    def to_spec(self) -> dict[str, Any]:
        """A JSON-safe description (name, schema, embedder name) to rebuild this index in
        another process with :meth:`from_spec`. Namespace-independent."""
        return {
            "version": 1,
            "name": self.name,
            "schema": self.schema.to_dict(),
            "embedder": self._embedder_name,
            "ttl": self.ttl,
            "batch_size": self.batch_size,
        }

    @classmethod
    def from_spec(
        cls,
        spec: Mapping[str, Any],
        *,
        config: RedisAgentConfig | None = None,
        embedder: Embedder | None = None,
    ) -> VectorIndex:
        """Rebuild the index described by :meth:`to_spec` (no I/O)."""
        try:
            schema = VectorSchema.from_dict(spec["schema"])
            name = spec["name"]
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a VectorIndex spec ({exc!r}): {spec!r}") from exc
        if embedder is not None and embedder.name != spec.get("embedder", embedder.name):
            raise ConfigError(
                f"spec of index {name!r} says embedding model {spec.get('embedder')!r}, "
                f"got {embedder.name!r}: vectors from another model would not be comparable"
            )
        return cls._from_schema(
            name, schema, config=config, embedder=embedder,
            embedder_name=spec.get("embedder"), ttl=spec.get("ttl"),
            batch_size=int(spec.get("batch_size", 500)),
        )  # fmt: skip

    @classmethod
    def _from_schema(cls, name: str, schema: VectorSchema, **kwargs: Any) -> VectorIndex:
        return cls(
            name, dims=schema.dims, metadata_fields=schema.metadata_fields,
            algorithm=schema.algorithm, metric=schema.metric, dtype=schema.dtype,
            storage=schema.storage, ef_runtime=schema.ef_runtime, m=schema.m,
            ef_construction=schema.ef_construction, text_field=schema.text_field,
            vector_field=schema.vector_field, **kwargs,
        )  # fmt: skip

    @classmethod
    def from_existing(
        cls,
        name: str,
        *,
        config: RedisAgentConfig | None = None,
        embedder: Embedder | None = None,
        ef_runtime: int = DEFAULT_EF_RUNTIME,
    ) -> VectorIndex:
        """Open an index that exists on the server, reading its schema with FT.INFO."""
        config = config or get_default_config()
        index_name = config.keys.vector_index(name)
        with translate_errors(config, f"reading vector index {name!r}"):
            try:
                info = config.get_client().execute_command("FT.INFO", index_name)
            except redis.exceptions.ResponseError as exc:
                if is_missing_index(exc):
                    raise ConfigError(
                        f"vector index {name!r} ({index_name}) does not exist in namespace "
                        f"{config.namespace!r}; create it with VectorIndex(...).create()"
                    ) from exc
                raise
        found = describe_info(info)
        vector_fields = [n for n, f in found["fields"].items() if f["type"] == "vector"]
        text_fields = [n for n, f in found["fields"].items() if f["type"] == "text"]
        if len(vector_fields) != 1:
            raise ConfigError(f"index {index_name} has {len(vector_fields)} vector fields")
        vf = vector_fields[0]
        tf = "text" if "text" in text_fields else (text_fields[0] if text_fields else "text")
        vec = found["fields"][vf]
        meta = [
            {"name": n, "type": f["type"], "case_sensitive": f.get("case_sensitive", True)}
            for n, f in found["fields"].items()
            if n not in (vf, tf) and f["type"] in ("tag", "text", "numeric", "geo")
        ]
        schema = VectorSchema(
            dims=vec["dims"], metadata_fields=parse_metadata_fields(meta),
            algorithm=vec["algorithm"], metric=vec["metric"], dtype=vec["dtype"],
            storage=found["storage"], text_field=tf, vector_field=vf, ef_runtime=ef_runtime,
        )  # fmt: skip
        index = cls._from_schema(name, schema, config=config, embedder=embedder)
        index._ready = True
        return index

    # -- lifecycle (sync) --
    def _search_index(self) -> SearchIndex:
        schema = IndexSchema.from_dict(self.schema.redisvl_dict(self.index_name, self.prefix))
        return SearchIndex(schema, redis_client=self.config.get_client(), owns_client=False)

    def _async_search_index(self) -> AsyncSearchIndex:
        schema = IndexSchema.from_dict(self.schema.redisvl_dict(self.index_name, self.prefix))
        return AsyncSearchIndex(
            schema, redis_client=self.config.get_async_client(), owns_client=False
        )

    def _check_info(self, info: Any) -> None:
        diffs = self.schema.differences(info, self.prefix)
        if diffs:
            raise mismatch_error(self.index_name, diffs)

    def _ensure(self, create: bool) -> bool:
        """Verify (once) that the index exists with this schema; create it if asked.
        Returns whether the index exists."""
        if self._ready:
            return True
        require_search(self.config, f"vector index {self.name!r}")
        client = self.config.get_client()
        with translate_errors(self.config, f"opening vector index {self.name!r}"):
            try:
                info = client.execute_command("FT.INFO", self.index_name)
            except redis.exceptions.ResponseError as exc:
                if not is_missing_index(exc):
                    raise
                if not create:
                    return False
                self._create_sync()
                info = client.execute_command("FT.INFO", self.index_name)
        self._check_info(info)
        self._ready = True
        return True

    def _create_sync(self) -> None:
        index = self._search_index()  # outside the try: schema errors stay as they are
        try:
            index.create(overwrite=False)
        except FAULTS:
            raise
        except Exception as exc:
            if isinstance(exc.__cause__, FAULTS):
                raise exc.__cause__ from exc
            if "already exists" not in str(exc).lower():
                raise RedisAgentError(f"creating index {self.index_name} failed: {exc}") from exc

    async def _aensure(self, create: bool) -> bool:
        if self._ready:
            return True
        await asyncio.to_thread(require_search, self.config, f"vector index {self.name!r}")
        client = self.config.get_async_client()
        with translate_errors(self.config, f"opening vector index {self.name!r}"):
            try:
                info = await client.execute_command("FT.INFO", self.index_name)
            except redis.exceptions.ResponseError as exc:
                if not is_missing_index(exc):
                    raise
                if not create:
                    return False
                index = self._async_search_index()
                try:
                    await index.create(overwrite=False)
                except FAULTS:
                    raise
                except Exception as exc2:
                    if isinstance(exc2.__cause__, FAULTS):
                        raise exc2.__cause__ from exc2
                    if "already exists" not in str(exc2).lower():
                        raise RedisAgentError(
                            f"creating index {self.index_name} failed: {exc2}"
                        ) from exc2
                info = await client.execute_command("FT.INFO", self.index_name)
        self._check_info(info)
        self._ready = True
        return True

    def create(self) -> None:
        """Create the index now (no-op if it exists with the same schema; raises
        :class:`SchemaMismatchError` if it exists with another)."""
        self._ensure(create=True)

    async def acreate(self) -> None:
        """Async :meth:`create`."""
        await self._aensure(create=True)

    def exists(self) -> bool:
        """Whether the index exists on the server (and matches this schema)."""
        return self._ensure(create=False)

    async def aexists(self) -> bool:
        """Async :meth:`exists`."""
        return await self._aensure(create=False)

    # -- writes: shared preparation --
    def _prepare(
        self,
        texts: Sequence[str],
        ids: Sequence[str | None] | None,
        metadatas: Sequence[Mapping[str, Any] | None] | None,
        vectors: Any,
    ) -> tuple[list[str], list[dict[str, Any]] | _Unencoded, np.ndarray]:
        """Validate everything and encode the documents (without their vectors, which
        are attached per batch by :meth:`_batch`) before any write."""
        texts = list(texts)
        n = len(texts)
        # None entries (e.g. LangChain documents without an id) get a random id.
        given = [None] * n if ids is None else ids
        filled: list[str] = [uuid.uuid4().hex if i is None else i for i in given]
        ids = filled
        if len(ids) != n:
            raise ConfigError(f"got {n} texts but {len(ids)} ids")
        if len(set(ids)) != n:
            raise ConfigError("ids must be unique within one add() call")
        for doc_id in ids:
            if type(doc_id) is not str or not doc_id:
                self.key(doc_id)  # raises the error naming the bad id
        check_texts(ids, "document id")
        check_texts(texts, "text")
        metas = list(metadatas) if metadatas is not None else [None] * n
        if len(metas) != n:
            raise ConfigError(f"got {n} texts but {len(metas)} metadatas")
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
        if check_fields(schema, texts, metas):
            # Validated whole; each batch is encoded by its writer thread while the
            # server indexes the previous batch (the server no longer idles while a
            # per-document pass runs before the first write).
            return ids, _Unencoded(texts, metas), matrix
        docs = [encode_fields(schema, t, m) for t, m in zip(texts, metas, strict=True)]
        return ids, docs, matrix

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
    ) -> list[list[Any]] | _Packed:
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
    ) -> _Packed:
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
        vector_name = bulk(schema.vector_field.encode()) + b"$%d\r\n" % width
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
                values.append(b"%s$%d\r\n%s\r\n" % (name, len(data), data))
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
                b"%s$%d\r\n%s\r\n%s$%d\r\n%s\r\n%s%s$%d\r\n%s\r\n%s%s\r\n"
                % (
                    head,
                    len(key),
                    key,
                    text_name,
                    len(text),
                    text,
                    b"".join(values),
                    meta_name,
                    len(meta_json),
                    meta_json,
                    vector_name,
                    buf[offset : offset + width],
                )
            )
            count += 1
        return _Packed(b"".join(parts), count)

    def _write_commands(self, keys: Sequence[str], docs: Sequence[dict]) -> list[list[Any]]:
        """The commands storing one batch (pure)."""
        schema = self.schema
        declared = [f.name for f in schema.metadata_fields]
        commands: list[list[Any]] = []
        for key, doc in zip(keys, docs, strict=True):
            if schema.storage == "json":
                commands.append(["JSON.SET", key, "$", orjson.dumps(doc)])
            else:
                stale = [name for name in declared if name not in doc]
                if stale:
                    # A re-added id must not keep an indexed value it no longer has.
                    commands.append(["HDEL", key, *stale])
                command: list[Any] = ["HSET", key]
                for name, value in doc.items():
                    command += (name, value)
                commands.append(command)
            if self.ttl is not None:
                commands.append(["EXPIRE", key, self.ttl])
        return commands

    def _send_batch(self, commands: list[list[Any]] | _Packed) -> None:
        """Send one batch on one pooled connection, reading every reply; retried whole
        (the writes are idempotent) on connection errors."""
        client = self.config.get_client()
        pool = getattr(client, "connection_pool", None)
        for attempt in range(self.config.retries + 1):
            try:
                if pool is None:  # cluster client: let redis-py route per slot
                    assert not isinstance(commands, _Packed)
                    pipe = client.pipeline(transaction=False)
                    for command in commands:
                        pipe.execute_command(*command)
                    pipe.execute()
                    return
                data, count = _packed(commands)
                conn = pool.get_connection()
                try:
                    conn.send_packed_command([data])
                    for _ in range(count):
                        conn.read_response()
                except BaseException:
                    conn.disconnect()  # unread replies would poison the connection
                    raise
                finally:
                    pool.release(conn)
                return
            except UNAVAILABLE as exc:
                # a stale pooled connection (server restarted) is worth another try; a
                # timeout is not: redis-py's reconnect already waited on a hung server
                if attempt >= self.config.retries or isinstance(exc, redis.exceptions.TimeoutError):
                    raise
                time.sleep(
                    min(self.config.retry_backoff_cap, self.config.retry_backoff_base * 2**attempt)
                )

    async def _asend_batch(self, commands: list[list[Any]] | _Packed) -> None:
        """Async :meth:`_send_batch`."""
        client = self.config.get_async_client()
        pool = getattr(client, "connection_pool", None)
        for attempt in range(self.config.retries + 1):
            try:
                if pool is None:
                    assert not isinstance(commands, _Packed)
                    pipe = client.pipeline(transaction=False)
                    for command in commands:
                        pipe.execute_command(*command)
                    await pipe.execute()
                    return
                data, count = _packed(commands)
                conn = await pool.get_connection()
                try:
                    await conn.send_packed_command([data])
                    for _ in range(count):
                        await conn.read_response()
                except BaseException:
                    await conn.disconnect()
                    raise
                finally:
                    await pool.release(conn)
                return
            except UNAVAILABLE as exc:
                # a stale pooled connection (server restarted) is worth another try; a
                # timeout is not: redis-py's reconnect already waited on a hung server
                if attempt >= self.config.retries or isinstance(exc, redis.exceptions.TimeoutError):
                    raise
                await asyncio.sleep(
                    min(self.config.retry_backoff_cap, self.config.retry_backoff_base * 2**attempt)
                )

    def _report(
        self,
        exc: BaseException | None,
        ids: list[str],
        batches: list[tuple[int, int]],
        confirmed: list[bool],
    ) -> None:
        """Raise the right error when some batch failed; nothing when all were stored."""
        if exc is None:
            return
        base = map_redis_error(exc, f"adding documents to {self.name!r}", self.config)
        written = [i for (s, e), ok in zip(batches, confirmed, strict=True) if ok for i in ids[s:e]]
        if not written:
            raise base from exc
        unconfirmed = [
            i for (s, e), ok in zip(batches, confirmed, strict=True) if not ok for i in ids[s:e]
        ]
        raise PartialWriteError(
            f"{base} {len(written)} of {len(ids)} documents were stored before the failure; "
            f"{len(unconfirmed)} were not confirmed (see .unconfirmed_ids). add() is "
            "idempotent by id: call it again with the same ids.",
            written,
            unconfirmed,
        ) from exc

    def _batches(self, n: int) -> list[tuple[int, int]]:
        return [(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]

    # -- writes (sync) --
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
        texts = list(texts)
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

        packed = getattr(self.config.get_client(), "connection_pool", None) is not None

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
        return ids_

    async def aadd(
        self,
        texts: Sequence[str],
        *,
        ids: Sequence[str | None] | None = None,
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        vectors: Any = None,
    ) -> list[str]:
        """Async :meth:`add`."""
        texts = list(texts)
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
        packed = getattr(self.config.get_async_client(), "connection_pool", None) is not None

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
        return ids_

    # An index this object created can vanish behind it (Redis restarted empty, or a
    # drop elsewhere) while the documents just added were stored: one tiny FT.EXPLAIN
    # (no query runs) after each add finds out, and FT.CREATE then indexes them.
    def _reindex_if_lost(self) -> None:
        with translate_errors(self.config, f"checking vector index {self.name!r}"):
            try:
                self.config.get_client().execute_command("FT.EXPLAIN", self.index_name, "*")
            except redis.exceptions.ResponseError as exc:
                if not is_missing_index(exc):
                    raise
                self._ready = False
                self._ensure(create=True)

    async def _areindex_if_lost(self) -> None:
        client = self.config.get_async_client()
        with translate_errors(self.config, f"checking vector index {self.name!r}"):
            try:
                await client.execute_command("FT.EXPLAIN", self.index_name, "*")
            except redis.exceptions.ResponseError as exc:
                if not is_missing_index(exc):
                    raise
                self._ready = False
                await self._aensure(create=True)

    def delete(self, ids: Sequence[str]) -> int:
        """Delete documents by id; returns how many existed. Missing ids are ignored."""
        keys = [self.key(i) for i in ids]
        if not keys:
            return 0
        with translate_errors(self.config, f"deleting from {self.name!r}"):
            return int(self.config.get_client().unlink(*keys))

    async def adelete(self, ids: Sequence[str]) -> int:
        """Async :meth:`delete`."""
        keys = [self.key(i) for i in ids]
        if not keys:
            return 0
        with translate_errors(self.config, f"deleting from {self.name!r}"):
            return int(await self.config.get_async_client().unlink(*keys))

    # -- reads by id --
    def _get_command(self, key: str) -> list[Any]:
        s = self.schema
        if s.storage == "json":
            return ["JSON.GET", key, f"$.{s.text_field}", f"$.{METADATA_FIELD}"]
        return ["HMGET", key, s.text_field, METADATA_FIELD]

    def _parse_get(self, keys: Sequence[str], replies: Sequence[Any]) -> list[q.Hit]:
        s = self.schema
        hits = []
        for key, reply in zip(keys, replies, strict=True):
            if reply is None:
                continue
            if s.storage == "json":
                data = orjson.loads(reply)
                texts, metas = data.get(f"$.{s.text_field}"), data.get(f"$.{METADATA_FIELD}")
                if not texts:
                    continue
                fields = {s.text_field: texts[0], METADATA_FIELD: orjson.dumps(metas[0])}
            else:
                if reply[0] is None and reply[1] is None:
                    continue
                fields = {s.text_field: reply[0], METADATA_FIELD: reply[1]}
            hits.append(q.make_hit(s, self.prefix, key, fields))
        return hits

    def get(self, ids: Sequence[str]) -> list[q.Hit]:
        """Documents by id, in the order asked; missing ids are skipped."""
        keys = [self.key(i) for i in ids]
        if not keys:
            return []
        with translate_errors(self.config, f"reading from {self.name!r}"):
            pipe = self.config.get_client().pipeline(transaction=False)
            for key in keys:
                pipe.execute_command(*self._get_command(key))
            replies = pipe.execute()
        return self._parse_get(keys, replies)

    async def aget(self, ids: Sequence[str]) -> list[q.Hit]:
        """Async :meth:`get`."""
        keys = [self.key(i) for i in ids]
        if not keys:
            return []
        with translate_errors(self.config, f"reading from {self.name!r}"):
            pipe = self.config.get_async_client().pipeline(transaction=False)
            for key in keys:
                pipe.execute_command(*self._get_command(key))
            replies = await pipe.execute()
        return self._parse_get(keys, replies)

    # -- queries: shared --
    def _vec(self, query: QueryLike) -> bytes:
        if isinstance(query, str):
            query = self.embedder.embed([check_text(query, "the query text")])[0]
        return q.vector_bytes(self.schema, query)

    async def _avec(self, query: QueryLike) -> bytes:
        if isinstance(query, str):
            query = (await self.embedder.aembed([check_text(query, "the query text")]))[0]
        return q.vector_bytes(self.schema, query)

    def _run(self, command: list[Any]) -> Any:
        """Run one search command; a missing index reads as empty (``None``)."""
        if not self._ensure(create=False):
            return None
        with translate_errors(self.config, f"searching {self.name!r}"):
            try:
                return self.config.get_client().execute_command(*command)
            except redis.exceptions.ResponseError as exc:
                if is_missing_index(exc):
                    self._ready = False
                    return None
                limit = q.limit_error(exc)
                if limit is not None:
                    raise limit from exc
                raise

    async def _arun(self, command: list[Any]) -> Any:
        if not await self._aensure(create=False):
            return None
        with translate_errors(self.config, f"searching {self.name!r}"):
            try:
                return await self.config.get_async_client().execute_command(*command)
            except redis.exceptions.ResponseError as exc:
                if is_missing_index(exc):
                    self._ready = False
                    return None
                limit = q.limit_error(exc)
                if limit is not None:
                    raise limit from exc
                raise

    def _hits(self, reply: Any) -> list[q.Hit]:
        return [] if reply is None else q.parse_search(reply, self.schema, self.prefix)[1]

    def _knn(self, vec: bytes, k: int, f: str, ef: int | None, vectors: bool) -> list[Any]:
        return q.knn_command(self.index_name, self.schema, vec, k, f, ef_runtime=ef,
                             vectors=vectors)  # fmt: skip

    # -- KNN --
    def search(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        filter: FilterLike = None,
        ef_runtime: int | None = None,
        return_vectors: bool = False,
    ) -> list[q.Hit]:
        """The ``k`` nearest documents to ``query`` (a text, embedded, or a vector) that
        pass ``filter``, nearest first, ``score`` = relevance in [0, 1]."""
        k = check_k(k)
        f = self.compile_filter(filter)
        vec = self._vec(query)
        if f is None:
            return []
        return self._hits(self._run(self._knn(vec, k, f, ef_runtime, return_vectors)))

    async def asearch(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        filter: FilterLike = None,
        ef_runtime: int | None = None,
        return_vectors: bool = False,
    ) -> list[q.Hit]:
        """Async :meth:`search`."""
        k = check_k(k)
        f = self.compile_filter(filter)
        vec = await self._avec(query)
        if f is None:
            return []
        return self._hits(await self._arun(self._knn(vec, k, f, ef_runtime, return_vectors)))

    # -- range (score threshold) --
    def _range(self, vec: bytes, min_score: float, k: int, f: str) -> list[Any]:
        radius = distance_from_relevance(min_score, self.schema.metric)
        return q.range_command(self.index_name, self.schema, vec, min(radius, 1e9), k, f)

    def search_range(
        self, query: QueryLike, min_score: float, k: int = 4, *, filter: FilterLike = None
    ) -> list[q.Hit]:
        """Up to ``k`` documents with relevance ≥ ``min_score``, nearest first."""
        k = check_k(k)
        f = self.compile_filter(filter)
        vec = self._vec(query)
        if f is None:
            return []
        return self._hits(self._run(self._range(vec, min_score, k, f)))

    async def asearch_range(
        self, query: QueryLike, min_score: float, k: int = 4, *, filter: FilterLike = None
    ) -> list[q.Hit]:
        """Async :meth:`search_range`."""
        k = check_k(k)
        f = self.compile_filter(filter)
        vec = await self._avec(query)
        if f is None:
            return []
        return self._hits(await self._arun(self._range(vec, min_score, k, f)))

    # -- MMR --
    def _mmr(self, vec: bytes, hits: list[q.Hit], k: int, lambda_mult: float) -> list[q.Hit]:
        query = np.frombuffer(vec, dtype=self.schema.numpy_dtype).astype(np.float32)
        picked = q.mmr_select(query, q.hits_to_vectors(hits, self.schema.dims), k, lambda_mult)
        out = [hits[i] for i in picked]
        for hit in out:
            hit.vector = None
        return out

    def mmr(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """Maximal marginal relevance: ``k`` of the ``fetch_k`` nearest documents
        (so at most ``min(k, fetch_k)``), trading relevance (``lambda_mult`` 1) for
        diversity (0)."""
        k, fetch_k = check_k(k), check_k(fetch_k, "fetch_k")
        f = self.compile_filter(filter)
        vec = self._vec(query)
        if f is None:
            return []
        hits = self._hits(self._run(self._knn(vec, fetch_k, f, None, True)))
        return self._mmr(vec, hits, k, lambda_mult)

    async def ammr(
        self,
        query: QueryLike,
        k: int = 4,
        *,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """Async :meth:`mmr`."""
        k, fetch_k = check_k(k), check_k(fetch_k, "fetch_k")
        f = self.compile_filter(filter)
        vec = await self._avec(query)
        if f is None:
            return []
        hits = self._hits(await self._arun(self._knn(vec, fetch_k, f, None, True)))
        return self._mmr(vec, hits, k, lambda_mult)

    # -- text and hybrid --
    def text_search(self, text: str, k: int = 4, *, filter: FilterLike = None) -> list[q.Hit]:
        """Full-text (BM25) search on the text field; ``score`` is the BM25 score."""
        k = check_k(k)
        f = self.compile_filter(filter)
        command = q.text_command(self.index_name, self.schema, text, k, f or "*")
        if f is None or command is None:
            return []
        return self._hits(self._run(command))

    async def atext_search(
        self, text: str, k: int = 4, *, filter: FilterLike = None
    ) -> list[q.Hit]:
        """Async :meth:`text_search`."""
        k = check_k(k)
        f = self.compile_filter(filter)
        command = q.text_command(self.index_name, self.schema, text, k, f or "*")
        if f is None or command is None:
            return []
        return self._hits(await self._arun(command))

    def _hybrid_supported(self) -> bool:
        if self._hybrid is None:
            self._hybrid = get_capabilities(self.config).hybrid
        return self._hybrid

    def hybrid(
        self,
        text: str,
        k: int = 4,
        *,
        alpha: float = 0.7,
        vector: Any = None,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """BM25 + vector search: ``score = alpha * vector_similarity + (1 - alpha) *
        text_score``. Runs as FT.AGGREGATE (FT.HYBRID is used when the server has it);
        falls back to a vector search when the text has no searchable term."""
        k = check_k(k)
        f = self.compile_filter(filter)
        vec = self._vec(text if vector is None else vector)
        if f is None:
            return []
        if q.text_terms(text) and self._hybrid_supported():
            return self._native_hybrid(text, vec, k, f, alpha)
        command = q.hybrid_aggregate_command(self.index_name, self.schema, text, vec, k, f, alpha)
        if command is None:
            return self._hits(self._run(self._knn(vec, k, f, None, False)))
        reply = self._run(command)
        return [] if reply is None else q.parse_aggregate(reply, self.schema, self.prefix)

    async def ahybrid(
        self,
        text: str,
        k: int = 4,
        *,
        alpha: float = 0.7,
        vector: Any = None,
        filter: FilterLike = None,
    ) -> list[q.Hit]:
        """Async :meth:`hybrid`."""
        k = check_k(k)
        f = self.compile_filter(filter)
        vec = await self._avec(text if vector is None else vector)
        if f is None:
            return []
        supported = self._hybrid if q.text_terms(text) else False
        if supported is None:  # one probe per process; later calls skip the thread
            supported = await asyncio.to_thread(self._hybrid_supported)
        if supported:
            return await asyncio.to_thread(self._native_hybrid, text, vec, k, f, alpha)
        command = q.hybrid_aggregate_command(self.index_name, self.schema, text, vec, k, f, alpha)
        if command is None:
            return self._hits(await self._arun(self._knn(vec, k, f, None, False)))
        reply = await self._arun(command)
        return [] if reply is None else q.parse_aggregate(reply, self.schema, self.prefix)

    def _native_hybrid(self, text: str, vec: bytes, k: int, f: str, alpha: float) -> list[q.Hit]:
        """FT.HYBRID through redisvl (Redis >= 8.4); linear combination like the
        FT.AGGREGATE path."""
        from redisvl.query import HybridQuery

        if not self._ensure(create=False):
            return []
        query = HybridQuery(
            text=q.text_terms(text),
            text_field_name=self.schema.text_field,
            vector=vec,
            vector_field_name=self.schema.vector_field,
            filter_expression=None if f == "*" else f,
            combination_method="LINEAR",
            linear_alpha=1.0 - alpha,  # redisvl weighs the text side here
            knn_ef_runtime=self.schema.ef_runtime,
            yield_combined_score_as="hybrid_score",
            num_results=k,
            return_fields=["__key", self.schema.text_field, METADATA_FIELD],
            dtype=self.schema.dtype,
        )
        with translate_errors(self.config, f"searching {self.name!r}"):
            rows = self._search_index().query(query)
        hits = []
        for row in rows:
            key = row.get("__key") or row.get("id")
            if key is not None:
                hits.append(q.make_hit(self.schema, self.prefix, str(key), row,
                                       row.get("hybrid_score", row.get("score"))))  # fmt: skip
        return hits

    # -- filter-only queries --
    def find(self, filter: FilterLike = None, *, limit: int = 100, offset: int = 0) -> list[q.Hit]:
        """Documents passing ``filter`` (no ranking), ``limit`` at a time."""
        f = self.compile_filter(filter)
        if f is None:
            return []
        command = q.filter_command(self.index_name, self.schema, f, offset=offset, limit=limit)
        return self._hits(self._run(command))

    async def afind(
        self, filter: FilterLike = None, *, limit: int = 100, offset: int = 0
    ) -> list[q.Hit]:
        """Async :meth:`find`."""
        f = self.compile_filter(filter)
        if f is None:
            return []
        command = q.filter_command(self.index_name, self.schema, f, offset=offset, limit=limit)
        return self._hits(await self._arun(command))

    def count(self, filter: FilterLike = None) -> int:
        """How many documents pass ``filter`` (all documents when None)."""
        f = self.compile_filter(filter)
        if f is None:
            return 0
        reply = self._run(q.filter_command(self.index_name, self.schema, f, limit=0))
        return 0 if reply is None else q.parse_ids(reply, self.prefix)[0]

    async def acount(self, filter: FilterLike = None) -> int:
        """Async :meth:`count`."""
        f = self.compile_filter(filter)
        if f is None:
            return 0
        reply = await self._arun(q.filter_command(self.index_name, self.schema, f, limit=0))
        return 0 if reply is None else q.parse_ids(reply, self.prefix)[0]

    def delete_by_filter(self, filter: FilterLike) -> int:
        """Delete every document passing ``filter`` (which must not be empty)."""
        f = self.compile_filter(filter)
        if filter is None or f == "*":
            raise ConfigError("delete_by_filter needs a narrowing filter; use clear()")
        deleted = 0
        while f is not None:
            reply = self._run(q.filter_command(self.index_name, self.schema, f, limit=1000,
                                               ids_only=True))  # fmt: skip
            keys = [] if reply is None else q.parse_ids(reply, self.prefix)[1]
            if not keys:
                break
            with translate_errors(self.config, f"deleting from {self.name!r}"):
                removed = int(self.config.get_client().unlink(*keys))
            if removed == 0:  # the index lags behind the keyspace: do not spin
                break
            deleted += removed
        return deleted

    async def adelete_by_filter(self, filter: FilterLike) -> int:
        """Async :meth:`delete_by_filter`."""
        f = self.compile_filter(filter)
        if filter is None or f == "*":
            raise ConfigError("delete_by_filter needs a narrowing filter; use clear()")
        deleted = 0
        while f is not None:
            reply = await self._arun(q.filter_command(self.index_name, self.schema, f,
                                                      limit=1000, ids_only=True))  # fmt: skip
            keys = [] if reply is None else q.parse_ids(reply, self.prefix)[1]
            if not keys:
                break
            with translate_errors(self.config, f"deleting from {self.name!r}"):
                removed = int(await self.config.get_async_client().unlink(*keys))
            if removed == 0:
                break
            deleted += removed
        return deleted

    # -- clear / drop --
    def clear(self) -> int:
        """Delete every document of this index (the index itself stays)."""
        client = self.config.get_client()
        deleted = 0
        with translate_errors(self.config, f"clearing {self.name!r}"):
            batch: list[Any] = []
            for key in client.scan_iter(match=_glob(self.prefix) + "*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += int(client.unlink(*batch))
                    batch.clear()
            if batch:
                deleted += int(client.unlink(*batch))
        return deleted

    async def aclear(self) -> int:
        """Async :meth:`clear`."""
        client = self.config.get_async_client()
        deleted = 0
        with translate_errors(self.config, f"clearing {self.name!r}"):
            batch: list[Any] = []
            async for key in client.scan_iter(match=_glob(self.prefix) + "*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += int(await client.unlink(*batch))
                    batch.clear()
            if batch:
                deleted += int(await client.unlink(*batch))
        return deleted

    def drop(self, *, delete_documents: bool = True) -> None:
        """Drop the index (and, by default, its documents). Explicit only."""
        with translate_errors(self.config, f"dropping {self.name!r}"):
            try:
                self.config.get_client().execute_command("FT.DROPINDEX", self.index_name)
            except redis.exceptions.ResponseError as exc:
                if not is_missing_index(exc):
                    raise
        self._ready = False
        if delete_documents:
            self.clear()

    async def adrop(self, *, delete_documents: bool = True) -> None:
        """Async :meth:`drop`."""
        with translate_errors(self.config, f"dropping {self.name!r}"):
            try:
                await self.config.get_async_client().execute_command(
                    "FT.DROPINDEX", self.index_name
                )
            except redis.exceptions.ResponseError as exc:
                if not is_missing_index(exc):
                    raise
        self._ready = False
        if delete_documents:
            await self.aclear()


def _glob(prefix: str) -> str:
    """Escape glob metacharacters of a key prefix for SCAN MATCH."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix)
