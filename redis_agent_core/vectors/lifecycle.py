"""The lifecycle of a :class:`~redis_agent_core.vectors.VectorIndex`: open an existing
index, create, compare, recreate when lost, clear and drop, all through the search
layer's :class:`~redis_agent_core.search.IndexLifecycle` (the same checks in both
modes)."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any, TypeVar

from redisvl.index import AsyncSearchIndex, SearchIndex
from redisvl.schema import IndexSchema

from ..config import RedisAgentConfig, get_default_config
from ..embeddings import Embedder
from ..errors import ConfigError
from ..redis_errors import translate_errors
from ..search.executor import arun, run
from ..search.lifecycle import IndexLifecycle, aread_info, drop_flow, read_info
from ..search.redisvl_index import AsyncCheckedSearchIndex, CheckedSearchIndex
from ..search.replies import describe_info, info_name
from .base import IndexCore
from .schema import (
    ALGORITHMS,
    DEFAULT_EF_RUNTIME,
    VectorSchema,
    mismatch_error,
    parse_metadata_fields,
)

LifecycleT = TypeVar("LifecycleT", bound="IndexLifecycleMixin")

# How often (seconds) an auto index asks the server which index is live: another process
# may have switched it to HNSW; until then this one queries without its ef_runtime.
AUTO_RECHECK = 1.0
# How often (seconds) an auto index on HNSW reads its tuned ef_runtime again: the index
# re-tunes as it grows (see .auto), in whichever process wrote past the size.
TUNING_RECHECK = 30.0


def _document_text_field(
    index_name: str,
    fields: dict[str, Any],
    vector_field: str,
    text_fields: list[str],
    text_field: str | None,
) -> str:
    """The field holding the documents' text of an index opened from the server:
    ``text_field`` when given (refused when it is the vector or a non-TEXT field),
    else ``text``; refused when the index has other TEXT fields but no ``text``."""
    if text_field is not None:
        if not isinstance(text_field, str) or not text_field:
            raise ConfigError(f"text_field must be a non-empty str, got {text_field!r}")
        kind = fields.get(text_field, {}).get("type")
        if text_field == vector_field or (kind is not None and kind != "text"):
            raise ConfigError(
                f"text_field {text_field!r} of index {index_name} is a {kind} field; name a "
                f"TEXT field ({', '.join(text_fields) or 'none'}) or a field not in the index"
            )
        return text_field
    if "text" in text_fields or not text_fields:
        return "text"  # with no TEXT field: the text is stored under "text", unindexed
    raise ConfigError(
        f"index {index_name} has TEXT fields {text_fields} but none named 'text': pass "
        f"text_field= to from_existing (text_field={text_fields[0]!r} to take that field "
        "as the documents' text, or the field where the text is stored unindexed)"
    )


class IndexLifecycleMixin(IndexCore):
    """Create, check, clear and drop the index."""

    @classmethod
    def from_existing(
        cls: type[LifecycleT],
        name: str,
        *,
        config: RedisAgentConfig | None = None,
        embedder: Embedder | None = None,
        ef_runtime: int = DEFAULT_EF_RUNTIME,
        text_field: str | None = None,
    ) -> LifecycleT:
        """Open an index that exists on the server, reading its schema from the server.

        The documents' text is the TEXT field ``text``; an index without one: pass
        ``text_field`` (a TEXT field of the index: indexed text; any other name: the
        text is stored there unindexed, as with ``index_text=False``). An index with
        other TEXT fields but no ``text`` one is refused without ``text_field``: which
        field holds the documents' text cannot be read from the server."""
        config = config or get_default_config()
        index_name = config.keys.vector_index(name)
        info = read_info(config, index_name, f"reading vector index {name!r}")
        if info is None:
            raise ConfigError(
                f"vector index {name!r} ({index_name}) does not exist in namespace "
                f"{config.namespace!r}; create it with VectorIndex(...).create()"
            )
        found = describe_info(info)
        vector_fields = [n for n, f in found["fields"].items() if f["type"] == "vector"]
        text_fields = [n for n, f in found["fields"].items() if f["type"] == "text"]
        if len(vector_fields) != 1:
            raise ConfigError(f"index {index_name} has {len(vector_fields)} vector fields")
        vf = vector_fields[0]
        tf = _document_text_field(index_name, found["fields"], vf, text_fields, text_field)
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
            stopwords=found["stopwords"], index_text=tf in text_fields,
        )  # fmt: skip
        default_prefix = config.keys.vector_prefix(name)
        prefixes = found["prefixes"]
        # an index made with key_prefix= covers its own prefix: keep it
        key_prefix = None if default_prefix in prefixes or not prefixes else prefixes[0]
        auto = info_name(info) != index_name  # asked by the alias of an auto index
        index = cls._from_schema(
            name, schema, config=config, embedder=embedder, key_prefix=key_prefix, auto=auto
        )
        index._ready = True
        return index

    # -- lifecycle --
    @property
    def index(self) -> IndexLifecycle:
        """The search index's lifecycle (built on first use: the schema may need the
        embedder's dimensions)."""
        if self._lifecycle is None:
            if self.auto:  # created FLAT under its own name, queried through the alias
                flat = dataclasses.replace(self.schema, algorithm="flat")
                schema = IndexSchema.from_dict(flat.redisvl_dict(self._keys.flat, self.prefix))
            else:
                schema = IndexSchema.from_dict(
                    self.schema.redisvl_dict(self.index_name, self.prefix)
                )
            self._lifecycle = IndexLifecycle(
                self.config, schema, self._check_info, f"vector index {self.name!r}",
                alias=self.index_name if self.auto else None,
                stamp=(self.recall_key, self._embedder_name) if self._model_known else None,
                record=self.recall_key,
            )  # fmt: skip
        return self._lifecycle

    @property
    def _ready(self) -> bool:
        return self._lifecycle is not None and self._lifecycle.ready

    @_ready.setter
    def _ready(self, value: bool) -> None:
        self.index.ready = value

    def _search_index(self) -> SearchIndex:
        schema = IndexSchema.from_dict(self.schema.redisvl_dict(self.index_name, self.prefix))
        return CheckedSearchIndex(schema, redis_client=self.config.get_client(), owns_client=False)

    def _async_search_index(self) -> AsyncSearchIndex:
        schema = IndexSchema.from_dict(self.schema.redisvl_dict(self.index_name, self.prefix))
        return AsyncCheckedSearchIndex(
            schema, redis_client=self.config.get_async_client(), owns_client=False
        )

    def _dims_of(self, info: Any) -> int | None:
        if info is None:
            return None
        field = describe_info(info)["fields"].get(self._schema_args["vector_field"])
        return None if field is None or field["type"] != "vector" else int(field["dims"])

    def stored_dims(self) -> int | None:
        """The vector size of this index on the server (``None``: no such index yet),
        read without knowing it first: a store whose vectors come from the caller
        takes its dimension from the index, or from the first write."""
        return self._dims_of(read_info(self.config, self.index_name, f"reading {self.name!r}"))

    async def astored_dims(self) -> int | None:
        """Async :meth:`stored_dims`."""
        info = await aread_info(self.config, self.index_name, f"reading {self.name!r}")
        return self._dims_of(info)

    def as_redisvl_index(self, asyncio: bool = False) -> SearchIndex | AsyncSearchIndex:
        """This index as a redisvl ``SearchIndex`` (``AsyncSearchIndex`` with
        ``asyncio=True``, on the running loop's client) sharing the config's client, for
        code that builds redisvl queries itself. No I/O."""
        return self._async_search_index() if asyncio else self._search_index()

    @property
    def client(self) -> Any:
        """The config's sync client (as redisvl's ``SearchIndex.client``)."""
        return self.config.get_client()

    def query(self, query: Any) -> Any:
        """Run a redisvl query object (``VectorQuery``, ``FilterQuery``, ``CountQuery``,
        ...) on this index, as redisvl's ``SearchIndex.query``. Documents are in the
        pack's layout (metadata as JSON in ``_metadata``)."""
        return self._search_index().query(query)

    async def aquery(self, query: Any) -> Any:
        """Async :meth:`query`."""
        return await self._async_search_index().query(query)

    def _check_info(self, info: Any) -> None:
        if self.auto:  # take the live algorithm (FLAT, or HNSW once switched)
            self._adopt(info)
            self._checked_at = time.monotonic()
        diffs = self.schema.differences(info, self.prefix)
        if diffs:
            raise mismatch_error(self.index_name, diffs)

    _checked_at = 0.0
    _live = ""  # the index the alias points at (auto; the alias itself: a plain index)

    def _adopt(self, info: Any) -> None:
        """Make the schema name the live index's algorithm (auto indexes)."""
        self._live = info_name(info)
        vec = describe_info(info)["fields"].get(self.schema.vector_field, {})
        algorithm = vec.get("algorithm")
        if algorithm in ("flat", "hnsw") and algorithm != self.schema.algorithm:
            self._schema = dataclasses.replace(self.schema, algorithm=algorithm)
            self._tuned_loaded = False  # read the tuned ef_runtime of the new index

    def _stale(self) -> None:
        """An auto index re-reads which index is live every AUTO_RECHECK seconds."""
        if self.auto and self._ready and time.monotonic() - self._checked_at > AUTO_RECHECK:
            self.index.ready = False

    def _ensure(self, create: bool) -> bool:
        """Verify (once) that the index exists with this schema; create it if asked.
        Returns whether the index exists."""
        self._stale()
        return self.index.ensure(create=create)

    async def _aensure(self, create: bool) -> bool:
        self._stale()
        return await self.index.aensure(create=create)

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

    def _variants(self) -> list[str]:
        """The indexes an auto index may have built (the live one and a new one)."""
        if not self.auto:
            return []
        return [self._keys.variant(a) for a in ALGORITHMS]

    def drop(self, *, delete_documents: bool = True) -> None:
        """Drop the index (and, by default, its documents). Explicit only."""
        self.index.drop()
        with translate_errors(self.config, f"dropping {self.name!r}"):
            for name in self._variants():
                run(self.config.get_client().execute_command,
                    drop_flow(name, delete_documents=False))  # fmt: skip
            self.config.get_client().delete(self._keys.lock)
        if delete_documents:
            self.clear()
            with translate_errors(self.config, f"dropping {self.name!r}"):
                self.config.get_client().delete(self.recall_key)

    async def adrop(self, *, delete_documents: bool = True) -> None:
        """Async :meth:`drop`."""
        await self.index.adrop()
        client = self.config.get_async_client()
        with translate_errors(self.config, f"dropping {self.name!r}"):
            for name in self._variants():
                await arun(client.execute_command, drop_flow(name, delete_documents=False))
            await client.delete(self._keys.lock)
        if delete_documents:
            await self.aclear()
            with translate_errors(self.config, f"dropping {self.name!r}"):
                await self.config.get_async_client().delete(self.recall_key)

    def _reindex_if_lost(self) -> None:
        self.index.recreate_if_lost()

    async def _areindex_if_lost(self) -> None:
        await self.index.arecreate_if_lost()


def _glob(prefix: str) -> str:
    """Escape glob metacharacters of a key prefix for SCAN MATCH."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", prefix)
