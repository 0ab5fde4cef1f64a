"""The schema of a vector index: declared metadata fields plus one vector field.

Pure: builds redisvl ``IndexSchema`` dicts and JSON-safe specs, compares a wanted
schema with what the server reports about a live index, and encodes documents into
Redis field values.
Nothing here talks to a server.
"""

from __future__ import annotations

import math
import numbers
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import orjson

from ..errors import ConfigError, SchemaMismatchError
from ..jsonvalues import NO_DATETIME, check_no_native, has_non_finite, not_json_hint
from ..keys import check_text, check_texts
from ..search.replies import describe_info
from ..tags import TAG_LIMIT, TAG_SEPARATOR
from .checks import DEFAULT_STOPWORDS, NUL, check_exact_number, nul_id_error
from .filters import FilterFieldMismatchError, tag_text

__all__ = [
    "FIELD_TYPES",
    "TAG_SEPARATOR",
    "MetadataField",
    "VectorSchema",
    "relevance_from_distance",
]

FieldType = Literal["tag", "text", "numeric", "geo"]
FIELD_TYPES: tuple[str, ...] = ("tag", "text", "numeric", "geo")
ALGORITHMS = ("hnsw", "flat")
METRICS = ("cosine", "l2", "ip")
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float16": np.float16}
STORAGES = ("hash", "json")

# Tags are split on this separator when indexed (a list value is one tag per item).
# Each item is indexed escaped (filters.tag_value: letters and digits only, every other
# byte as "_hh"), so no value can hold the separator, and a tenant named "a,b" or
# "a\x1fb" is one tag, never two.
METADATA_FIELD = "_metadata"  # the whole metadata dict as JSON, so types round-trip
DISTANCE_FIELD = "vector_distance"
DEFAULT_RECALL_TARGET = 0.95  # recall@10 that tune_recall aims at by default
DEFAULT_EF_RUNTIME = 100  # RediSearch's default of 10 gives recall@10 well below 0.95
# \Z, not $: $ also matches before a final newline, so 'name\n' passed
_NAME_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z")


@dataclass(frozen=True)
class MetadataField:
    """A metadata key indexed for filtering.

    Args:
        name: the metadata key (letters, digits, ``_``).
        type: ``tag`` (exact strings, lists allowed), ``text`` (full-text),
            ``numeric`` (int/float/bool) or ``geo`` (``(lon, lat)`` or ``"lon,lat"``).
        case_sensitive: tags only; ``True`` (default) so "Acme" and "acme" are
            different tenants.
    """

    name: str
    type: FieldType = "tag"
    case_sensitive: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise ConfigError(
                f"invalid metadata field name {self.name!r}: use up to 64 letters, digits "
                "and '_', starting with a letter or '_'"
            )
        if self.type not in FIELD_TYPES:
            raise ConfigError(
                f"metadata field {self.name!r} has type {self.type!r}; "
                f"use one of {', '.join(FIELD_TYPES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "tag":
            data["case_sensitive"] = self.case_sensitive
        return data

    def redisvl_field(self, storage: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {"index_missing": True}
        if self.type == "tag":
            attrs.update(separator=TAG_SEPARATOR, case_sensitive=self.case_sensitive)
        out: dict[str, Any] = {"name": self.name, "type": self.type, "attrs": attrs}
        if storage == "json":
            out["path"] = f"$.{self.name}"
        return out


MetadataSpec = Mapping[str, str] | Sequence[MetadataField | Mapping[str, Any] | str] | None


def parse_metadata_fields(spec: MetadataSpec) -> tuple[MetadataField, ...]:
    """Accept ``{"tenant": "tag"}``, ``[MetadataField(...)]``, ``[{"name":..., "type":...}]``
    or bare names (tags)."""
    if spec is None:
        return ()
    fields: list[MetadataField] = []
    if isinstance(spec, Mapping):
        fields = [MetadataField(name, kind) for name, kind in spec.items()]  # type: ignore[arg-type]
    else:
        for item in spec:
            if isinstance(item, MetadataField):
                fields.append(item)
            elif isinstance(item, str):
                fields.append(MetadataField(item))
            elif isinstance(item, Mapping):
                fields.append(MetadataField(**item))
            else:
                raise ConfigError(f"cannot read metadata field declaration {item!r}")
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        raise ConfigError(f"metadata fields declared twice: {names}")
    return tuple(fields)


@dataclass(frozen=True)
class VectorSchema:
    """Everything that defines an index's layout, independent of namespace and name."""

    dims: int
    metadata_fields: tuple[MetadataField, ...] = ()
    algorithm: str = "hnsw"
    metric: str = "cosine"
    dtype: str = "float32"
    storage: str = "hash"
    text_field: str = "text"
    vector_field: str = "embedding"
    m: int = 16
    ef_construction: int = 200
    ef_runtime: int = DEFAULT_EF_RUNTIME
    # False: the text is stored but not indexed (another role's index opened as a
    # vector index, e.g. the semantic cache's by its algorithm switch)
    index_text: bool = True
    # The index's stop words (not indexed in its text fields, so text filters leave
    # them out); None: RediSearch's default list, which the pack's indexes use.
    stopwords: tuple[str, ...] | None = None
    _by_name: dict[str, MetadataField] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "algorithm", str(self.algorithm).lower())
        object.__setattr__(self, "metric", str(self.metric).lower())
        object.__setattr__(self, "dtype", str(self.dtype).lower())
        object.__setattr__(self, "storage", str(self.storage).lower())
        if not isinstance(self.dims, int) or self.dims <= 0:
            raise ConfigError(f"dims must be a positive int, got {self.dims!r}")
        for name, value, allowed in (
            ("algorithm", self.algorithm, ALGORITHMS),
            ("metric", self.metric, METRICS),
            ("dtype", self.dtype, tuple(DTYPES)),
            ("storage", self.storage, STORAGES),
        ):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        for name in ("m", "ef_construction", "ef_runtime"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        reserved = {self.text_field, self.vector_field, METADATA_FIELD, DISTANCE_FIELD, "id"}
        for f in self.metadata_fields:
            if f.name in reserved:
                raise ConfigError(
                    f"metadata field name {f.name!r} is reserved; reserved names: "
                    f"{sorted(reserved)}"
                )
            if f.name.startswith("__"):  # a field "__key" shadowed the key in FT.AGGREGATE
                raise ConfigError(
                    f"metadata field name {f.name!r} is reserved: names starting with '__' "
                    "are the search engine's own (an indexed '__key' replaced the id of every "
                    "hybrid hit by its value); index it under another name"
                )
        if self.stopwords is not None:
            if isinstance(self.stopwords, str) or not all(
                isinstance(w, str) and w for w in self.stopwords
            ):
                raise ConfigError(
                    f"stopwords must be a list of words or None, got {self.stopwords!r}"
                )
            object.__setattr__(self, "stopwords", tuple(w.lower() for w in self.stopwords))
        object.__setattr__(self, "_by_name", {f.name: f for f in self.metadata_fields})

    @property
    def numpy_dtype(self) -> type[np.floating[Any]]:
        return DTYPES[self.dtype]

    def field(self, name: str) -> MetadataField | None:
        return self._by_name.get(name)

    @property
    def stopword_set(self) -> frozenset[str]:
        """The words the index leaves out of its text fields."""
        return DEFAULT_STOPWORDS if self.stopwords is None else frozenset(self.stopwords)

    @property
    def field_types(self) -> dict[str, str]:
        """Filterable field name -> type (metadata fields plus the text field)."""
        types: dict[str, str] = {f.name: f.type for f in self.metadata_fields}
        if self.index_text:
            types[self.text_field] = "text"
        return types

    # -- specs --
    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": [f.to_dict() for f in self.metadata_fields],
            "dims": self.dims,
            "algorithm": self.algorithm,
            "metric": self.metric,
            "dtype": self.dtype,
            "storage": self.storage,
            "text_field": self.text_field,
            "vector_field": self.vector_field,
            "hnsw": {"m": self.m, "ef_construction": self.ef_construction,
                     "ef_runtime": self.ef_runtime},
            **({} if self.stopwords is None else {"stopwords": list(self.stopwords)}),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VectorSchema:
        try:
            hnsw = data.get("hnsw") or {}
            return cls(
                dims=int(data["dims"]),
                metadata_fields=parse_metadata_fields(data.get("fields") or ()),
                algorithm=data.get("algorithm", "hnsw"),
                metric=data.get("metric", "cosine"),
                dtype=data.get("dtype", "float32"),
                storage=data.get("storage", "hash"),
                text_field=data.get("text_field", "text"),
                vector_field=data.get("vector_field", "embedding"),
                m=int(hnsw.get("m", 16)),
                ef_construction=int(hnsw.get("ef_construction", 200)),
                ef_runtime=int(hnsw.get("ef_runtime", DEFAULT_EF_RUNTIME)),
                stopwords=data.get("stopwords"),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a vector schema spec ({exc}): {dict(data)!r}") from exc

    def redisvl_dict(self, index_name: str, prefix: str) -> dict[str, Any]:
        """The ``IndexSchema.from_dict`` input for this schema."""
        json = self.storage == "json"
        vector_attrs: dict[str, Any] = {
            "dims": self.dims,
            "algorithm": self.algorithm,
            "distance_metric": self.metric,
            "datatype": self.dtype,
        }
        if self.algorithm == "hnsw":
            vector_attrs.update(
                m=self.m, ef_construction=self.ef_construction, ef_runtime=self.ef_runtime
            )
        text: dict[str, Any] = {"name": self.text_field, "type": "text"}
        vector: dict[str, Any] = {
            "name": self.vector_field,
            "type": "vector",
            "attrs": vector_attrs,
        }
        if json:
            text["path"] = f"$.{self.text_field}"
            vector["path"] = f"$.{self.vector_field}"
        index: dict[str, Any] = {"name": index_name, "prefix": prefix, "storage_type": self.storage}
        if self.stopwords is not None:
            index["stopwords"] = list(self.stopwords)
        return {
            "index": index,
            "fields": [
                *([text] if self.index_text else []),
                vector,
                *(f.redisvl_field(self.storage) for f in self.metadata_fields),
            ],
        }

    # -- comparing with the server --
    def differences(self, info: Mapping[str, Any], prefix: str) -> list[str]:
        """What differs between this schema and a live index's info reply (empty: compatible)."""
        found = describe_info(info)
        diffs: list[str] = []
        if found["storage"] != self.storage:
            diffs.append(f"storage: index has {found['storage']}, requested {self.storage}")
        if prefix not in found["prefixes"]:
            diffs.append(f"key prefix: index covers {found['prefixes']}, requested {prefix!r}")
        listed = found["stopwords"]
        have_stop = DEFAULT_STOPWORDS if listed is None else frozenset(listed)
        if have_stop != self.stopword_set:
            # text filters leave out the words the index does not hold: they must agree
            diffs.append(
                f"stop words: index has {_stopwords(listed)}, requested "
                f"{_stopwords(self.stopwords)}"
            )
        wanted: dict[str, dict[str, Any]] = {
            **({self.text_field: {"type": "text"}} if self.index_text else {}),
            self.vector_field: {
                "type": "vector",
                "algorithm": self.algorithm,
                "dims": self.dims,
                "metric": self.metric,
                "dtype": self.dtype,
            },
        }
        for f in self.metadata_fields:
            # a tag's case rule decides how values are folded before escaping: another
            # rule's filters would miss what the index holds
            wanted[f.name] = {"type": f.type}
            if f.type == "tag":
                wanted[f.name]["case_sensitive"] = f.case_sensitive
        have: dict[str, dict[str, Any]] = found["fields"]
        for name, spec in wanted.items():
            if name not in have:
                diffs.append(f"field {name!r} ({spec['type']}) is missing from the index")
                continue
            for key, value in spec.items():
                if have[name].get(key) != value:
                    diffs.append(
                        f"field {name!r} {key}: index has {have[name].get(key)!r}, "
                        f"requested {value!r}"
                    )
        for name in have:
            if name not in wanted:
                diffs.append(f"field {name!r} ({have[name]['type']}) is in the index only")
        return diffs


def _stopwords(words: Sequence[str] | None) -> str:
    return "RediSearch's default list" if words is None else repr(sorted(words))


def filter_field_mismatch(
    name: str, schema: VectorSchema, index_name: str, field: str, info: Any
) -> FilterFieldMismatchError | None:
    """The error of a filter on ``field``, which this store was opened without, when the
    live index (``info``, its FT.INFO reply) has it; ``None`` when the index lacks it
    too (or does not exist): the store's own wording is right then."""
    if info is None:
        return None
    found = describe_info(info)["fields"]
    if field not in found:
        return None
    own = (schema.vector_field, schema.text_field)
    theirs = {n: f["type"] for n, f in found.items() if n not in own and f["type"] != "vector"}
    ours = {f.name: f.type for f in schema.metadata_fields}
    return FilterFieldMismatchError(
        f"cannot filter on {field!r}: index {index_name!r} has it, but this store was opened "
        f"without it (the index's metadata fields: {theirs}; this store's: {ours}). Open "
        f"the store with the index's fields (metadata_fields={theirs}), or with "
        f"VectorIndex.from_existing({name!r}), which reads them from the server (LangChain: "
        "RedisVectorStore.from_existing_index; LlamaIndex: index=VectorIndex.from_existing)."
    )


def mismatch_error(index_name: str, diffs: list[str]) -> SchemaMismatchError:
    return SchemaMismatchError(
        f"index {index_name!r} already exists with a different schema: "
        + "; ".join(diffs)
        + ". Nothing was changed. Open it with the matching options (e.g. "
        "VectorIndex.from_existing), or migrate: create a new index name and re-add the "
        "documents, or call drop() on this one to recreate it (this deletes its documents)."
    )


# -- encoding documents --
# a datetime in metadata is refused (it would read back as a str), as Decimal is; a UUID
# or an Enum by check_finite_metadata (orjson encodes them with no hook)
_META_OPTS = orjson.OPT_NON_STR_KEYS | NO_DATETIME
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _number(text: str) -> Any:
    """A numeric string as an int or float; anything else unchanged (refused by the caller)."""
    stripped = text.strip()
    if not _NUMBER_RE.match(stripped):
        return text
    try:
        return int(stripped)
    except ValueError:
        return float(stripped)


def encode_value(schema: VectorSchema, f: MetadataField, value: Any) -> Any:
    """The Redis value of one declared metadata field; raises ConfigError on bad input."""
    if f.type == "tag":
        if type(value) is str:
            return tag_text(value, f.case_sensitive)  # the common case: one str
        values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        out = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise ConfigError(
                    f"metadata {f.name!r} is a tag field: values must be str or numbers "
                    f"(or a list of them), got {type(v).__name__}: {v!r}"
                )
            out.append(tag_text(str(v), f.case_sensitive))
        return TAG_SEPARATOR.join(out)
    if f.type == "numeric":
        if isinstance(value, str):
            # "25000" from a loader or a peer store: indexed as the number (the
            # metadata keeps the string as given), as RediSearch reads a hash field
            value = _number(value)
        if not isinstance(value, (int, float)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise ConfigError(
                f"metadata {f.name!r} is a numeric field: values must be finite int, float, "
                f"bool or a numeric string, got {type(value).__name__}: {value!r}"
            )
        if isinstance(value, bool):
            return int(value)
        check_exact_number(value, f.name)  # a float string stays a float
        return value
    if f.type == "geo":
        if isinstance(value, str):
            parts = value.split(",")
        elif isinstance(value, (list, tuple)):
            parts = list(value)
        else:
            parts = []
        try:
            lon, lat = (float(p) for p in parts)
        except (TypeError, ValueError):
            raise ConfigError(
                f"metadata {f.name!r} is a geo field: use (longitude, latitude) or "
                f"'lon,lat', got {value!r}"
            ) from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ConfigError(f"metadata {f.name!r}: coordinates out of range: {value!r}")
        return f"{lon},{lat}"
    if not isinstance(value, str):
        raise ConfigError(
            f"metadata {f.name!r} is a text field: values must be str, "
            f"got {type(value).__name__}: {value!r}"
        )
    return value


def check_finite_metadata(metadatas: Sequence[Any], dumped: bytes | None = None) -> None:
    """Refuse NaN and infinity in ``metadatas``, which orjson writes as null: the
    value would silently read back as None. ``dumped``: their orjson encoding when the
    caller has it; only one holding null is walked (None values are the other source
    of null). A ``uuid.UUID`` or an ``enum.Enum`` is refused too (it would read back as
    a str / its value): one loop over all of them, per document only to name it."""
    docs = metadatas if type(metadatas) is list or type(metadatas) is tuple else list(metadatas)
    try:
        check_no_native(docs, "metadata")
    except ConfigError:
        for i, meta in enumerate(docs):
            check_no_native(meta, f"metadata #{i}" if len(docs) > 1 else "metadata")
        raise
    if dumped is None:
        try:
            dumped = orjson.dumps(metadatas, option=_META_OPTS)
        except TypeError:
            dumped = b"null"  # not all JSON: walk anyway
    if b"null" not in dumped:
        return
    for i, meta in enumerate(metadatas):
        if not meta:
            continue
        items = meta.items() if type(meta) is dict else [(None, meta)]
        for key, value in items:  # flat values inline: ~0.5 us a document
            kind = type(value)
            if kind is str or value is None or kind is int or kind is bool:
                continue
            if (value - value != 0) if kind is float else has_non_finite(value):
                where = f"metadata #{i}" if len(metadatas) > 1 else "metadata"
                at = "" if key is None else f" at {key!r}"
                raise ConfigError(
                    f"{where} holds NaN or infinity{at}, which JSON cannot store (it "
                    "would read back as None). Use a finite number, None or a string; "
                    "nothing was written."
                )


def encode_fields(
    schema: VectorSchema, text: str, metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Field mapping (HASH) or JSON document of one entry, without its vector.
    Validates before anything is written: a bad value raises :class:`ConfigError`."""
    if not isinstance(text, str):
        raise ConfigError(f"texts must be str, got {type(text).__name__}: {text!r}")
    meta = metadata if type(metadata) is dict else dict(metadata or {})
    try:
        meta_json = orjson.dumps(meta, option=_META_OPTS)
    except TypeError as exc:
        raise ConfigError(
            f"metadata must be JSON-serialisable ({exc}): {meta!r}. Convert the values "
            f"to str/int/float/bool/list/dict first{not_json_hint(exc)}."
        ) from exc
    doc: dict[str, Any] = {schema.text_field: text}
    for f in schema.metadata_fields:
        value = meta.get(f.name)
        if value is None or (f.type == "tag" and value in ([], (), "")):
            continue  # absent: found by is_empty filters (INDEXMISSING)
        doc[f.name] = encode_value(schema, f, value)
    check_finite_metadata([meta], meta_json)  # after the declared fields' own errors
    doc[METADATA_FIELD] = orjson.loads(meta_json) if schema.storage == "json" else meta_json
    return doc


def check_fields(schema: VectorSchema, texts: Sequence[Any], metadatas: Sequence[Any]) -> bool:
    """Validate a whole write at once, before anything is written, without encoding
    it: texts are str, every metadata is JSON-serialisable (one ``orjson.dumps`` over
    the list, at C speed) without NaN or infinity, and declared fields hold valid
    values. Returns False when
    some metadata is neither a dict nor None (the caller then encodes everything up
    front with :func:`encode_fields`, which converts or rejects it). Raises
    :class:`ConfigError` with the same messages as :func:`encode_fields`."""
    for text in texts:
        if type(text) is not str:
            raise ConfigError(f"texts must be str, got {type(text).__name__}: {text!r}")
    for meta in metadatas:
        if meta is not None and type(meta) is not dict:
            return False
    try:
        dumped = orjson.dumps(metadatas, option=_META_OPTS)
    except TypeError:
        for text, meta in zip(texts, metadatas, strict=True):
            encode_fields(schema, text, meta)  # raises the error naming the document
        raise ConfigError("metadata must be JSON-serialisable") from None
    for f in schema.metadata_fields:
        name = f.name
        plain_tag = f.type == "tag"
        for meta in metadatas:
            if not meta:
                continue
            value = meta.get(name)
            if value is None:
                continue
            if plain_tag and type(value) is str:
                continue  # any str is a valid tag value (encode_value escapes it)
            if f.type == "tag" and value in ([], (), ""):
                continue
            encode_value(schema, f, value)
    check_finite_metadata(metadatas, dumped)  # after the declared fields' own errors
    return True


def encode_checked(
    schema: VectorSchema, text: str, metadata: dict[str, Any] | None
) -> dict[str, Any]:
    """:func:`encode_fields` for input :func:`check_fields` accepted (no checks: the
    writer threads call it per batch while the server indexes the previous one)."""
    meta = metadata or {}
    doc: dict[str, Any] = {schema.text_field: text}
    for f in schema.metadata_fields:
        value = meta.get(f.name)
        if value is None or (f.type == "tag" and value in ([], (), "")):
            continue
        doc[f.name] = (
            value
            if f.type == "tag"
            and type(value) is str
            and value.isascii()
            and value.isalnum()
            and len(value) <= TAG_LIMIT
            else encode_value(schema, f, value)
        )
    meta_json = orjson.dumps(meta, option=_META_OPTS)
    doc[METADATA_FIELD] = orjson.loads(meta_json) if schema.storage == "json" else meta_json
    return doc


def attach_vectors(schema: VectorSchema, docs: Sequence[dict[str, Any]], matrix: Any) -> None:
    """Set the vector field of ``docs`` (from :func:`encode_fields`) from the float32
    rows of ``matrix``: one conversion and one buffer per batch, sliced per row."""
    name = schema.vector_field
    if schema.storage == "json":
        for doc, row in zip(docs, np.asarray(matrix, dtype=np.float32).tolist(), strict=True):
            doc[name] = row
        return
    rows = np.ascontiguousarray(matrix, dtype=schema.numpy_dtype)
    buf = rows.tobytes()
    width = rows.shape[1] * rows.itemsize if rows.ndim == 2 else 0
    for i, doc in enumerate(docs):
        doc[name] = buf[i * width : (i + 1) * width]


def encode_document(
    schema: VectorSchema, text: str, vector: np.ndarray, metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Field mapping (HASH) or JSON document for one entry, vector included."""
    doc = encode_fields(schema, text, metadata)
    attach_vectors(schema, [doc], np.asarray(vector, dtype=np.float32).reshape(1, -1))
    return doc


def may_hold_oversize(
    schema: VectorSchema, texts: Sequence[str], metadatas: Sequence[Any], limit: int
) -> bool:
    """Whether some document of a write might send a value over ``limit`` bytes, by a
    bound that encodes nothing per document: a character is at most 6 bytes of JSON,
    a document's metadata JSON appears at most three times over (its own field, tag
    fields escaped to twice their size), a dimension is at most 32 bytes of JSON."""
    try:
        meta = len(orjson.dumps(metadatas, option=_META_OPTS))
    except TypeError:
        return True  # a Mapping that is not a dict: measure each document
    text = max(map(len, texts), default=0)
    return 6 * text + 3 * meta + 32 * schema.dims + 4096 > limit


def document_values(
    schema: VectorSchema, text: str, metadata: Mapping[str, Any] | None, vector: np.ndarray
) -> list[bytes | str]:
    """The values one document's write sends (HASH: its fields; JSON: the document), to
    measure against the server's limit (checked input: see :func:`may_hold_oversize`)."""
    doc = encode_document(schema, text, vector, metadata)
    if schema.storage == "json":
        return [orjson.dumps(doc)]
    return [v for v in doc.values() if isinstance(v, (bytes, str))]


@lru_cache(maxsize=16)
def _row_packer(dims: int) -> Any:
    return struct.Struct(f"={dims}f").pack


def to_matrix(vectors: Any) -> np.ndarray:
    """Vectors as a float32 matrix, fast for what embedding APIs return (lists of
    Python floats): one ``struct`` pack per row (the same C float cast as numpy's,
    ≈ 3× cheaper than ``np.asarray`` on nested lists), anything else via numpy."""
    if isinstance(vectors, np.ndarray):
        return np.asarray(vectors, dtype=np.float32)
    rows = vectors if type(vectors) is list else list(vectors)
    first = rows[0] if rows else None
    if type(first) is list and first and type(first[0]) is float:
        dims = len(first)
        pack = _row_packer(dims)
        try:
            buf = b"".join([pack(*row) for row in rows])
        except (struct.error, TypeError, OverflowError):
            pass  # ragged, non-numeric or out of float32 range: numpy says what is wrong
        else:
            return np.frombuffer(buf, dtype=np.float32).reshape(len(rows), dims)
    # out-of-range values become inf here; the caller's finite check names them
    with np.errstate(over="ignore"):
        return np.asarray(rows, dtype=np.float32)


def relevance_from_distance(distance: float, metric: str) -> float:
    """Map a RediSearch distance to a relevance in [0, 1] (1 = identical).

    - cosine: distance ``d = 1 - cos`` in [0, 2] → ``1 - d/2`` (= ``(1 + cos)/2``).
    - ip: distance ``d = 1 - dot`` → ``1 - d/2``, clamped to [0, 1] (exact for unit
      vectors).
    - l2: RediSearch reports the *squared* Euclidean distance → ``1 / (1 + sqrt(d))``.
    """
    if metric == "l2":
        return 1.0 / (1.0 + math.sqrt(max(distance, 0.0)))
    return min(1.0, max(0.0, 1.0 - distance / 2.0))


def distance_from_relevance(score: float, metric: str) -> float:
    """Inverse of :func:`relevance_from_distance`: the largest distance with relevance
    ≥ ``score``."""
    # a str ("0.8" from a query string) raised a bare TypeError from the comparison
    if isinstance(score, bool) or not isinstance(score, numbers.Real) or not 0.0 <= score <= 1.0:
        raise ConfigError(f"a relevance threshold must be a number within [0, 1], got {score!r}")
    if metric == "l2":
        if score == 0:
            return math.inf
        return (1.0 / score - 1.0) ** 2
    return 2.0 * (1.0 - score)


def first_invalid(
    ids: Sequence[str],
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any]],
    schema: VectorSchema | None = None,
) -> tuple[int, str, str] | None:
    """``(position, field, reason)`` of the first document that ``VectorIndex.add``
    would refuse (a lone surrogate in its id or text, a NUL in its id; with ``schema``,
    metadata that is not storable JSON or a declared field's bad value), else None. The
    same checks as ``add``, run over the whole input before anything is embedded, written
    or queued; the reason never repeats the value."""
    try:
        check_texts(ids, "id")
        check_texts(texts, "text")
        if not any(NUL in i for i in ids if isinstance(i, str)) and (
            schema is None or check_fields(schema, texts, metadatas)
        ):
            return None
    except ConfigError:
        pass  # find which document, below
    for pos, (doc_id, text, meta) in enumerate(zip(ids, texts, metadatas, strict=True)):
        if isinstance(doc_id, str) and NUL in doc_id:
            return pos, "id", str(nul_id_error(doc_id, "the id"))
        for field_name, value in (("id", doc_id), ("text", text)):
            try:
                check_text(value, field_name)
            except ConfigError as exc:
                return pos, field_name, str(exc)
        if schema is None:
            continue
        try:
            if not check_fields(schema, [text], [meta]):
                encode_fields(schema, text, meta)  # not a dict: converted or refused
        except ConfigError as exc:
            cause = exc.__cause__ or exc.__context__
            # orjson's reason alone: the full message would repeat the metadata
            if isinstance(cause, TypeError):
                return pos, "metadata", f"cannot be stored as JSON ({cause})"
            return pos, "metadata", str(exc)[:200]
    return None
