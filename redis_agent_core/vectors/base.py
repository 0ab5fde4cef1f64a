"""The state every part of :class:`~redis_agent_core.vectors.VectorIndex` shares: the
constructor's checks, the schema, keys, filters and specs (no I/O)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

import numpy as np
from redisvl.query.filter import FilterExpression

from ..config import RedisAgentConfig, check_ttl_seconds, get_default_config
from ..embeddings import Embedder, builtin_embedder, default_embedder_name
from ..errors import ConfigError
from ..keys import IndexKeys
from ..search.lifecycle import IndexLifecycle
from . import query as q
from .checks import check_target
from .expressions import compile_filter
from .filters import Filter, IndexFields
from .schema import (
    ALGORITHMS,
    DEFAULT_EF_RUNTIME,
    DEFAULT_RECALL_TARGET,
    MetadataSpec,
    VectorSchema,
    parse_metadata_fields,
)

# \Z, not $: $ also matches before a final newline, so 'name\n' passed
_NAME_RE = re.compile(r"\A[A-Za-z0-9_.\-]{1,128}\Z")
_UNSET: Any = object()
FilterLike: TypeAlias = Filter | Mapping[str, Any] | FilterExpression | None
QueryLike: TypeAlias = str | Sequence[float] | np.ndarray
IndexT = TypeVar("IndexT", bound="IndexCore")  # the class a classmethod builds


def check_key_prefix(prefix: Any) -> str | None:
    """A user's key prefix as given (``None``: the namespaced default). Documents are
    stored at ``prefix + id``, so a prefix normally ends with a separator (``"docs:"``)."""
    if prefix is None:
        return None
    if not isinstance(prefix, str) or not prefix or len(prefix) > 256:
        raise ConfigError(
            f"key_prefix must be a non-empty str of at most 256 characters, got {prefix!r}"
        )
    if any(c in prefix for c in "*?[]\\") or not prefix.isprintable():
        raise ConfigError(
            f"key_prefix {prefix!r} holds a glob character or a control character; "
            "use letters, digits and separators such as ':' or '_'"
        )
    return prefix


class IndexCore:
    """Settings, schema, keys and specs of a vector index (see :class:`VectorIndex`)."""

    def __init__(
        self,
        name: str,
        *,
        config: RedisAgentConfig | None = None,
        embedder: Embedder | None = None,
        dims: int | None = None,
        metadata_fields: MetadataSpec = None,
        algorithm: str = "auto",
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
        recall_target: float | None = DEFAULT_RECALL_TARGET,
        key_prefix: str | None = None,
        index_keys: IndexKeys | None = None,
        index_text: bool = True,
        stopwords: Sequence[str] | None = None,
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
        self._embedder_name = embedder_name or (
            embedder.name if embedder else default_embedder_name()
        )
        # Vectors passed in with dims= and no model: nothing to record or check.
        self._model_known = embedder is not None or embedder_name is not None or dims is None
        # "auto": the live index starts FLAT and may become HNSW (see .auto); the schema
        # always names the live algorithm, read back from the server by _check_info.
        if not isinstance(algorithm, str) or algorithm.lower() not in ("auto", *ALGORITHMS):
            raise ConfigError(
                f"algorithm must be one of auto, {', '.join(ALGORITHMS)}, got {algorithm!r}"
            )
        self.auto = algorithm.lower() == "auto"
        if self.auto:
            algorithm = "flat"
        self._schema_args: dict[str, Any] = dict(
            metadata_fields=parse_metadata_fields(metadata_fields),
            algorithm=algorithm, metric=metric, dtype=dtype, storage=storage,
            ef_runtime=ef_runtime, m=m, ef_construction=ef_construction,
            text_field=text_field, vector_field=vector_field, index_text=index_text,
            stopwords=None if stopwords is None else tuple(stopwords),
        )  # fmt: skip
        self._dims = dims
        self._schema: VectorSchema | None = None
        if dims is not None:
            self._schema = VectorSchema(dims=dims, **self._schema_args)
        else:
            # Validate the options now; dims come from the embedder on first use.
            VectorSchema(dims=1, **self._schema_args)
        # up to 100 years: Redis refused 1e20 s in the write batch, after the documents
        # were written (left without a TTL)
        self.ttl = check_ttl_seconds(self.config.default_ttl if ttl is _UNSET else ttl)
        self.batch_size = batch_size
        if not isinstance(write_concurrency, int) or write_concurrency <= 0:
            raise ConfigError(
                f"write_concurrency must be a positive int, got {write_concurrency!r}"
            )
        self.write_concurrency = write_concurrency
        self.recall_target = check_target(recall_target)
        # Another role's index (the semantic cache's) names its own keys; by default a
        # vector store's: <ns>:vec:<name>:idx, its variants, lock and tuning hash.
        self._keys = index_keys or self.config.keys.vector_index_keys(name)
        self.index_name = self._keys.name
        self.key_prefix = check_key_prefix(key_prefix)
        # A key prefix of the user's (a langchain-redis / redisvl layout kept on
        # migration) replaces the namespaced one; the index name stays namespaced.
        self.prefix = key_prefix or self.config.keys.vector_prefix(name)
        self._lifecycle: IndexLifecycle | None = None
        self._hybrid: bool | None = None

    def _written(self, count: int) -> None:
        """Called after ``count`` documents were written (the auto index may switch)."""

    async def _awritten(self, count: int) -> None:
        """Async :meth:`_written`."""

    def __repr__(self) -> str:
        return f"VectorIndex({self.name!r}, index={self.index_name!r})"

    # -- properties --
    @property
    def embedder(self) -> Embedder:
        """The embedding model (the default one is loaded on first embed)."""
        if self._embedder is None:
            shipped = builtin_embedder(self._embedder_name)
            if shipped is None:
                raise ConfigError(
                    f"index {self.name!r} was built with embedding model "
                    f"{self._embedder_name!r}; pass embedder= (or vectors=) to use it"
                )
            self._embedder = shipped
        return self._embedder

    @property
    def schema(self) -> VectorSchema:
        """The schema (dims resolved from the embedder when not given)."""
        if self._schema is None:
            self._schema = VectorSchema(dims=int(self.embedder.dims), **self._schema_args)
        return self._schema

    @property
    def recall_key(self) -> str:
        """The hash holding the tuned ``ef_runtime``, its recall and the size tuned at."""
        return self._keys.state

    def key(self, doc_id: str) -> str:
        """The Redis key of document ``doc_id``."""
        return q.doc_key(self.prefix, doc_id)

    def _fields(self) -> IndexFields:
        schema = self.schema
        out: dict[str, tuple[str, bool]] = {
            f.name: (f.type, f.case_sensitive) for f in schema.metadata_fields
        }
        if schema.index_text:
            out[schema.text_field] = ("text", False)
        return IndexFields(out, schema.stopword_set)

    def compile_filter(self, filter: FilterLike) -> str | None:
        """The RediSearch clause of ``filter`` (``None``: matches nothing)."""
        return compile_filter(filter, self._fields())

    # -- specs --
    def to_spec(self) -> dict[str, Any]:
        """A JSON-safe description (name, schema, embedder name) to rebuild this index in
        another process with :meth:`from_spec`. Namespace-independent."""
        schema = self.schema.to_dict()
        if self.auto:
            schema["algorithm"] = "auto"
        return {
            "version": 1,
            "name": self.name,
            "schema": schema,
            "embedder": self._embedder_name,
            "ttl": self.ttl,
            "batch_size": self.batch_size,
            **({"key_prefix": self.key_prefix} if self.key_prefix else {}),
        }

    @classmethod
    def from_spec(
        cls: type[IndexT],
        spec: Mapping[str, Any],
        *,
        config: RedisAgentConfig | None = None,
        embedder: Embedder | None = None,
    ) -> IndexT:
        """Rebuild the index described by :meth:`to_spec` (no I/O)."""
        try:
            data = dict(spec["schema"])
            auto = str(data.get("algorithm", "")).lower() == "auto"
            schema = VectorSchema.from_dict({**data, "algorithm": "flat"} if auto else data)
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
            batch_size=int(spec.get("batch_size", 500)), key_prefix=spec.get("key_prefix"),
            auto=auto,
        )  # fmt: skip

    @classmethod
    def _from_schema(
        cls: type[IndexT], name: str, schema: VectorSchema, *, auto: bool = False, **kwargs: Any
    ) -> IndexT:
        return cls(
            name, dims=schema.dims, metadata_fields=schema.metadata_fields,
            algorithm="auto" if auto else schema.algorithm, metric=schema.metric,
            dtype=schema.dtype, storage=schema.storage, ef_runtime=schema.ef_runtime, m=schema.m,
            ef_construction=schema.ef_construction, text_field=schema.text_field,
            vector_field=schema.vector_field, index_text=schema.index_text,
            stopwords=schema.stopwords, **kwargs,
        )  # fmt: skip
