"""Copy a vector index built by langchain-redis or llama-index-vector-stores-redis into
the pack's layout, with the vectors it holds (nothing is embedded again).

The source's layout comes from ``FT.INFO`` (storage, prefixes, fields, vector settings);
its documents are read with ``SCAN`` over its prefixes (a cursor Redis keeps no state
for, so it can be saved and resumed from in another process) and written in batches by
:meth:`VectorIndex.add` under their own ids: a batch written twice overwrites itself, so
an interrupted migration resumes from its last saved cursor without duplicates. At the
end the target's document count is compared with the source's.

The parsing of each peer's documents (:func:`peer_document`) is pure.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson
from redis.cluster import RedisCluster

from ..config import RedisAgentConfig, get_default_config
from ..errors import ConfigError, DataCorruptionError
from ..plans import raw_replies
from ..redis_errors import translate_errors
from ..search.lifecycle import read_info
from ..search.replies import describe_info
from ..vectors import MetadataField, VectorIndex
from ..vectors.schema import METADATA_FIELD

__all__ = [
    "PEERS",
    "MigrationReport",
    "PeerIndex",
    "migrate_vectors",
    "peer_document",
    "read_peer_index",
]

PEERS = ("langchain-redis", "llama-index")
# Bookkeeping fields of each peer: never metadata of the migrated documents.
_LANGCHAIN_OWN = ("_index_name", "_metadata_json")
_LLAMA_OWN = ("id", "doc_id")
_LLAMA_REF = "ref_doc_id"
_DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64}

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PeerIndex:
    """What ``FT.INFO`` says about a peer's index."""

    name: str
    peer: str
    storage: str
    prefixes: tuple[str, ...]
    text_field: str
    vector_field: str
    dims: int
    algorithm: str
    metric: str
    dtype: str
    metadata_fields: tuple[MetadataField, ...]
    num_docs: int
    paths: Mapping[str, str] = field(default_factory=dict)


@dataclass
class MigrationReport:
    """The outcome of :func:`migrate_vectors` (``complete``: the source was read to its
    end; ``verified``: the target then held as many documents as the source)."""

    source: str
    target: str
    source_docs: int
    written: int
    target_docs: int | None
    seconds: float
    resumed: bool
    complete: bool
    verified: bool | None
    unchanged: int = 0
    skipped: dict[str, list[str]] = field(default_factory=dict)
    read: int | None = None
    advice: str | None = None

    @property
    def docs_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self), "docs_per_second": round(self.docs_per_second, 1)}
        out["skipped"] = {r: {"count": len(i), "ids": i[:10]} for r, i in self.skipped.items()}
        return out


# Why a document of the source was not written (a run that is not overwrite=True):
SKIP_REASONS = {
    "deleted_in_pack": "copied by an earlier run, then deleted in the pack: not re-created",
    "changed_in_pack": "copied by an earlier run, then changed in the pack (and in the "
    "source): the pack's version is kept",
    "written_in_pack": "the pack holds a document of that id which no migration copied: kept",
}


def _check_peer(peer: str) -> str:
    if peer not in PEERS:
        raise ConfigError(f"unknown source {peer!r}: use one of {', '.join(PEERS)}")
    return peer


def described_index(config: RedisAgentConfig, name: str, peer: str, hint: str) -> dict[str, Any]:
    """:func:`describe_info` of the peer's index ``name``; :class:`ConfigError` ending
    with ``hint`` when the server has no such index."""
    info = read_info(config, name, f"reading the {peer} index {name!r}")
    if info is None:
        raise ConfigError(f"there is no search index {name!r} on this server; {hint}")
    return describe_info(info)


def read_peer_index(
    config: RedisAgentConfig, name: str, peer: str, *, text_field: str = "text"
) -> PeerIndex:
    """The layout of the peer index ``name`` (its bare name, as the peer created it)."""
    _check_peer(peer)
    found = described_index(
        config, name, peer, f"give the name the {peer} store was created with (FT._LIST lists them)"
    )
    fields: dict[str, dict[str, Any]] = found["fields"]
    vectors = [n for n, f in fields.items() if f["type"] == "vector"]
    if len(vectors) != 1:
        raise ConfigError(f"index {name!r} has {len(vectors)} vector fields; expected one")
    if text_field not in fields:
        raise ConfigError(
            f"index {name!r} has no field {text_field!r} for the document text; pass "
            f"text_field= (fields: {', '.join(fields)})"
        )
    vector = fields[vectors[0]]
    if vector["dtype"] not in _DTYPES:
        raise ConfigError(f"index {name!r} stores {vector['dtype']} vectors; not supported")
    own = _LANGCHAIN_OWN if peer == "langchain-redis" else _LLAMA_OWN
    metadata = [
        MetadataField(n, f["type"], bool(f.get("case_sensitive", False)))
        for n, f in fields.items()
        if n not in (vectors[0], text_field, *own)
        and f["type"] in ("tag", "text", "numeric", "geo")
    ]
    if peer == "llama-index" and not any(f.name == _LLAMA_REF for f in metadata):
        metadata.append(MetadataField(_LLAMA_REF, "tag"))  # the pack's LlamaIndex store's
    if not found["prefixes"]:
        raise ConfigError(f"index {name!r} covers no key prefix; nothing to migrate")
    return PeerIndex(
        name=name, peer=peer, storage=found["storage"], prefixes=tuple(found["prefixes"]),
        text_field=text_field, vector_field=vectors[0], dims=int(vector["dims"]),
        algorithm=vector["algorithm"], metric=vector["metric"], dtype=vector["dtype"],
        metadata_fields=tuple(metadata), num_docs=int(found["num_docs"]),
        paths={n: f.get("path", n) for n, f in fields.items()},
    )  # fmt: skip


def _str(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _number_or_text(value: str) -> Any:
    """A hash field as langchain-redis reads it back without ``_metadata_json``."""
    if value.isdigit():
        return int(value)
    if value.replace(".", "", 1).isdigit():
        return float(value)
    return value


def _vector(source: PeerIndex, key: str, raw: Any) -> np.ndarray:
    if raw is None:
        raise DataCorruptionError(f"document {key!r} has no vector field {source.vector_field!r}")
    if isinstance(raw, (bytes, bytearray)):
        if len(raw) % np.dtype(_DTYPES[source.dtype]).itemsize:
            raise DataCorruptionError(
                f"document {key!r}: vector field holds {len(raw)} bytes, not whole "
                f"{source.dtype} values"
            )
        array = np.frombuffer(raw, dtype=_DTYPES[source.dtype])
    else:
        array = np.asarray(raw, dtype=np.float64)
    if array.ndim != 1 or array.shape[0] != source.dims:
        raise DataCorruptionError(
            f"document {key!r}: vector has {array.size} values, the index says {source.dims}"
        )
    return array


def _doc_id(source: PeerIndex, key: str, fields: Mapping[str, Any]) -> str:
    if source.peer == "llama-index" and fields.get("id"):
        return _str(fields["id"])
    prefix = max((p for p in source.prefixes if key.startswith(p)), key=len, default="")
    rest = key[len(prefix) :]
    # langchain-redis's legacy keys are "<prefix>::<id>"; LlamaIndex's "<prefix>_<id>"
    separator = "_" if source.peer == "llama-index" else ":"
    return rest[1:] if rest.startswith(separator) and len(rest) > 1 else rest


def peer_document(
    source: PeerIndex, key: str, fields: Mapping[str, Any]
) -> tuple[str, str, np.ndarray, dict[str, Any]]:
    """``(id, text, vector, metadata)`` of one stored peer document (hash fields as
    str/bytes, or a JSON document's top-level values).

    langchain-redis: metadata from ``_metadata_json`` (the metadata as given), else the
    other fields (numbers read back as the peer does). LlamaIndex: every field but the
    id, text and vector (``_node_content`` rebuilds the node), typed values taken from
    the node's own metadata."""
    text_value = fields.get(source.text_field)
    text_ = "" if text_value is None else _str(text_value)
    vector = _vector(source, key, fields.get(source.vector_field))
    skip = {source.text_field, source.vector_field}
    metadata: dict[str, Any]
    if source.peer == "langchain-redis":
        raw = fields.get("_metadata_json")
        if raw is not None:
            try:
                metadata = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise DataCorruptionError(f"document {key!r}: _metadata_json is not JSON") from exc
        else:
            metadata = {
                _str(k): _number_or_text(_str(v)) if isinstance(v, (bytes, str)) else v
                for k, v in fields.items()
                if _str(k) not in skip and not _str(k).startswith("_")
            }
    else:
        metadata = {
            _str(k): _str(v) if isinstance(v, bytes) else v
            for k, v in fields.items()
            if _str(k) not in skip and _str(k) != "id"
        }
        content = metadata.get("_node_content")
        if isinstance(content, str):
            try:
                node_meta = orjson.loads(content).get("metadata") or {}
            except orjson.JSONDecodeError as exc:
                raise DataCorruptionError(f"document {key!r}: _node_content is not JSON") from exc
            metadata.update({k: v for k, v in node_meta.items() if k in metadata})
    if not isinstance(metadata, dict):
        raise DataCorruptionError(f"document {key!r}: metadata is not a JSON object")
    return _doc_id(source, key, fields), text_, vector, metadata


def _target(source: PeerIndex, to: str, config: RedisAgentConfig, batch_size: int) -> VectorIndex:
    return VectorIndex(
        to, config=config, dims=source.dims, metadata_fields=source.metadata_fields,
        algorithm=source.algorithm, metric=source.metric,
        dtype="float16" if source.dtype == "float16" else "float32",
        storage=source.storage, batch_size=batch_size,
    )  # fmt: skip


def _read_batch(client: Any, source: PeerIndex, keys: Sequence[Any]) -> list[dict[str, Any]]:
    """The documents at ``keys`` (hash fields, or JSON documents' top level)."""
    pipe = raw_replies(client.pipeline(transaction=False))  # vectors: bytes
    for key in keys:
        if source.storage == "json":
            pipe.execute_command("JSON.GET", key, "$")
        else:
            pipe.hgetall(key)
    out = []
    for reply in pipe.execute():
        if source.storage == "json":
            value = orjson.loads(reply) if reply else []
            out.append(value[0] if value else {})
        else:
            out.append({_str(k): v for k, v in (reply or {}).items()})
    return out


def _print(text: bytes, metadata: Any, vector: bytes) -> str:
    """The fingerprint of one document as the pack stores it: its text, its metadata
    (as JSON with sorted keys) and its vector's bytes in the target's dtype (SHA-256,
    whose hardware form is the cheapest here, cut to 16 bytes)."""
    meta = orjson.dumps(metadata, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    sizes = struct.pack("<QQ", len(text), len(meta))
    return hashlib.sha256(b"".join((sizes, text, meta, vector))).hexdigest()[:32]


def _row_prints(
    dtype: Any, rows: Sequence[tuple[str, str, np.ndarray, dict[str, Any]]], matrix: np.ndarray
) -> list[str]:
    """:func:`_print` of the documents a batch writes (``matrix``: their float32
    vectors, cast to the target's dtype as :meth:`VectorIndex.add` stores them)."""
    buf = np.ascontiguousarray(matrix, dtype=dtype).tobytes()
    width = len(buf) // len(rows)
    return [
        _print(text.encode(), metadata, buf[i * width : (i + 1) * width])
        for i, (_, text, _, metadata) in enumerate(rows)
    ]


def _held_prints(client: Any, target: VectorIndex, ids: Sequence[str]) -> list[str | None]:
    """:func:`_print` of the documents the target holds at ``ids`` (None: none held)."""
    schema = target.schema
    pipe = raw_replies(client.pipeline(transaction=False))
    names = (schema.text_field, METADATA_FIELD, schema.vector_field)
    for doc_id in ids:
        if schema.storage == "json":
            pipe.execute_command("JSON.GET", target.key(doc_id), *(f"$.{n}" for n in names))
        else:
            pipe.hmget(target.key(doc_id), list(names))
    out: list[str | None] = []
    for reply in pipe.execute():
        text: Any
        raw: Any
        if schema.storage == "json":
            found = orjson.loads(reply) if reply else {}
            text, meta, vector = ((found.get(f"$.{n}") or [None])[0] for n in names)
            text = None if text is None else _str(text).encode()
            raw = None if vector is None else np.asarray(vector, dtype=np.float32)
            raw = None if raw is None else raw.astype(schema.numpy_dtype).tobytes()
        else:
            text, meta_raw, raw = reply or (None, None, None)
            try:
                meta = None if meta_raw is None else orjson.loads(meta_raw)
            except orjson.JSONDecodeError:
                meta = None
        held = text is not None and meta is not None and raw is not None
        out.append(_print(bytes(text), meta, bytes(raw)) if held else None)
    return out


def _decide(
    would: str, recorded: str | None, exists: bool, held: str | None, overwrite: bool
) -> str:
    """``"write"``, ``"unchanged"``, ``"check"`` (the target's copy must be read: pass
    its print as ``held``) or a key of :data:`SKIP_REASONS`, for one source document
    whose pack form prints ``would``; ``recorded``: the print an earlier run wrote."""
    if overwrite or (recorded is None and not exists):
        return "write"
    if not exists:
        return "deleted_in_pack"
    if recorded == would:
        return "unchanged"  # the source did not change: whatever the pack did stays
    if held is None:
        return "check"
    if held == would or held == recorded:  # the pack holds the copy (or the new form)
        return "write"
    return "written_in_pack" if recorded is None else "changed_in_pack"


def _advice(report: MigrationReport, start_docs: int) -> str | None:
    """What to do when the documents read differ from the source's count (pure)."""
    if report.verified is not False:
        return None
    read, docs = report.read, report.source_docs
    if read is not None and read < docs:
        return (
            f"the source index counts {docs} documents and this run read {read}: "
            "documents were written to the source during the run. Stop the application "
            "writing to it, then run the command again: it writes only the documents "
            "that changed since, and skips those the pack changed"
        )
    if docs != start_docs:
        return (
            f"the source index counted {start_docs} documents at the start and {docs} at "
            f"the end, and this run read {read}: documents were deleted from the source "
            "during the run (their copies stay in the pack: delete them there if they "
            "should go). Run the command again once the source is quiet"
        )
    return (
        f"this run read {read} documents under the source's key prefixes and its index "
        f"counts {docs}: keys it did not index (FT.INFO {report.source!r}: "
        "hash_indexing_failures) or of another index sharing a prefix were copied too. "
        "Running again will not change this: delete what should not be in the pack there"
    )


def migrate_vectors(
    source_name: str,
    *,
    peer: str,
    to: str | None = None,
    config: RedisAgentConfig | None = None,
    text_field: str = "text",
    batch_size: int = 500,
    progress: Progress | None = None,
    max_batches: int | None = None,
    overwrite: bool = False,
) -> MigrationReport:
    """Copy the peer index ``source_name`` into the pack's vector index ``to`` (default:
    the same name), vectors included. Resumes a migration into ``to`` that stopped
    before its end (the cursor is saved after every batch). ``max_batches`` stops after
    that many batches (a partial, resumable run).

    Run again after a completed run, it writes only the documents that changed in the
    source since; a document changed or deleted in the pack since a run copied it is
    kept as the pack has it (``report.skipped`` names it, by reason), unless
    ``overwrite=True``."""
    _check_peer(peer)
    config = config or get_default_config()
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
    source = read_peer_index(config, source_name, peer, text_field=text_field)
    target_name = to or source_name
    target = _target(source, target_name, config, batch_size)
    if any(target.prefix.startswith(p) for p in source.prefixes):
        raise ConfigError(
            f"the source index covers the target's keys ({target.prefix}); migrate into "
            "another namespace (config=RedisAgentConfig(namespace=...))"
        )
    state_key = config.keys.migration("vectors", target_name)
    client = config.get_client()
    with translate_errors(config, f"reading the state of the migration into {target_name!r}"):
        state = {_str(k): _str(v) for k, v in client.hgetall(state_key).items()}
    origin = f"{peer}:{source_name}"
    if state and state.get("source") != origin:
        raise ConfigError(
            f"a migration from {state.get('source')!r} into {target_name!r} has not finished; "
            f"finish it, or delete {state_key} to start over"
        )
    resumed = bool(state)
    # id -> source key of every document read so far: a later document with an id
    # already read from another key would overwrite it (kept across resumes); the
    # documents skipped, by reason; and, kept after the run, id -> print of each copy
    # written, to tell a later run what the pack changed since
    ids_key, skipped_key, copied_key = (state_key + s for s in (":ids", ":skipped", ":copied"))
    # a target this run makes holds nothing of the pack's: its documents are neither
    # checked nor looked up (the first run's speed)
    fresh = state.get("fresh") == "1"
    if not resumed:
        with translate_errors(config, "clearing the ids of an earlier migration"):
            client.delete(ids_key, skipped_key)
            fresh = not target.exists()
            if fresh:  # dropped (or never made): its copies are gone
                client.delete(copied_key)
    prefix_index = int(state.get("prefix", 0))
    cursor = int(state.get("cursor", 0))
    nodes = _scan_nodes(client)
    names = list(nodes)
    node = state.get("node", names[0])
    if node not in nodes:  # the cluster's primaries changed: rescan (writes are idempotent)
        node, cursor = names[0], 0
    written = int(state.get("written", 0))
    unchanged = int(state.get("unchanged", 0))
    started = time.perf_counter()
    scan_type = "ReJSON-RL" if source.storage == "json" else "hash"
    batches = 0
    target.create()
    dtype = target.schema.numpy_dtype
    while prefix_index < len(source.prefixes):
        if max_batches is not None and batches >= max_batches:
            break
        match = _glob(source.prefixes[prefix_index]) + "*"
        with translate_errors(config, f"reading {source_name!r}"):
            cursor, keys = nodes[node].scan(cursor, match=match, count=batch_size,
                                            _type=scan_type)  # fmt: skip
            docs = _read_batch(client, source, keys) if keys else []
        found = [(_str(k), d) for k, d in zip(keys, docs, strict=True) if d]
        rows = [peer_document(source, k, d) for k, d in found]
        if rows:
            ids = [r[0] for r in rows]
            try:
                doc_keys = [target.key(i) for i in ids]
            except ConfigError as exc:  # an empty id: named by the target's checks
                raise _refusal(target, source_name, [k for k, _ in found], rows, written,
                               exc) from exc  # fmt: skip
            with translate_errors(config, f"checking the ids copied into {target_name!r}"):
                pipe = client.pipeline(transaction=False)
                pipe.hmget(ids_key, ids)
                if not fresh:
                    pipe.hmget(copied_key, ids)
                    for doc_key in doc_keys:
                        pipe.exists(doc_key)
                earlier, *looked_up = pipe.execute()
            recorded, *exists = looked_up or [[None] * len(ids), *[0] * len(ids)]
            _check_collisions(source_name, found, ids, earlier, written)
            matrix = np.vstack([r[2] for r in rows]).astype(np.float32)
            prints = _row_prints(dtype, rows, matrix)
            recorded = [None if r is None else _str(r) for r in recorded]
            plan = [
                _decide(w, r, bool(e), None, overwrite)
                for w, r, e in zip(prints, recorded, exists, strict=True)
            ]
            check = [i for i, p in enumerate(plan) if p == "check"]
            if check:
                with translate_errors(config, f"reading documents of {target_name!r}"):
                    held = _held_prints(client, target, [ids[i] for i in check])
                for i, h in zip(check, held, strict=True):
                    plan[i] = _decide(prints[i], recorded[i], h is not None, h, overwrite)
            chosen = [i for i, p in enumerate(plan) if p == "write"]
            if chosen:
                _write(target, source_name, [found[i][0] for i in chosen],
                       [rows[i] for i in chosen], matrix[chosen], written)  # fmt: skip
            skips: dict[Any, Any] = {ids[i]: p for i, p in enumerate(plan) if p in SKIP_REASONS}
            with translate_errors(config, f"noting the ids copied into {target_name!r}"):
                pipe = client.pipeline(transaction=False)
                pipe.hset(ids_key, mapping={i: k for i, (k, _) in zip(ids, found, strict=True)})
                if chosen:
                    pipe.hset(copied_key, mapping={ids[i]: prints[i] for i in chosen})
                if skips:
                    pipe.hset(skipped_key, mapping=skips)
                pipe.execute()
            written += len(chosen)
            unchanged += plan.count("unchanged")
        if cursor == 0:  # this server is done: the next one, or the next prefix
            following = names.index(node) + 1
            if following == len(names):
                prefix_index += 1
            node = names[following % len(names)]
        batches += 1
        with translate_errors(config, f"saving the state of the migration into {target_name!r}"):
            client.hset(state_key, mapping={
                "source": origin, "prefix": prefix_index, "node": node, "cursor": cursor,
                "written": written, "unchanged": unchanged, "fresh": int(fresh),
            })  # fmt: skip
        if progress is not None:
            progress(min(written + unchanged, source.num_docs), source.num_docs)
    complete = prefix_index >= len(source.prefixes)
    target_docs = verified = read = None
    source_docs = source.num_docs
    with translate_errors(config, "reading the skipped documents"):
        skipped_ids = {_str(k): _str(v) for k, v in client.hgetall(skipped_key).items()}
    skipped: dict[str, list[str]] = {}
    for doc_id, reason in sorted(skipped_ids.items()):
        skipped.setdefault(reason, []).append(doc_id)
    if complete:
        target_docs = target.count()
        source_docs = read_peer_index(config, source_name, peer, text_field=text_field).num_docs
        with translate_errors(config, "clearing the migration state"):
            read = int(client.hlen(ids_key))
            client.delete(state_key, ids_key, skipped_key)  # a rerun starts over
        verified = read == source_docs
    report = MigrationReport(
        source=source_name, target=target_name, source_docs=source_docs, written=written,
        target_docs=target_docs, seconds=time.perf_counter() - started, resumed=resumed,
        complete=complete, verified=verified, unchanged=unchanged, skipped=skipped, read=read,
    )  # fmt: skip
    report.advice = _advice(report, source.num_docs)
    return report


def _write(
    target: VectorIndex,
    source_name: str,
    keys: Sequence[str],
    rows: Sequence[tuple[str, str, np.ndarray, dict[str, Any]]],
    matrix: np.ndarray,
    written: int,
) -> None:
    """Write one batch's chosen documents (``matrix``: their float32 vectors)."""
    ids, texts, _, metadatas = zip(*rows, strict=True)
    try:
        target.add(list(texts), ids=list(ids), metadatas=list(metadatas), vectors=matrix)
    except ConfigError as exc:
        raise _refusal(target, source_name, keys, rows, written, exc) from exc


def _refusal(
    target: VectorIndex,
    source_name: str,
    keys: Sequence[str],
    rows: Sequence[tuple[str, str, np.ndarray, dict[str, Any]]],
    written: int,
    exc: ConfigError,
) -> DataCorruptionError:
    """The error naming the document of a batch the target refuses (checked before
    the batch is written)."""
    culprit = _refused(target, keys, rows, exc)
    return DataCorruptionError(
        f"peer document {culprit[0]!r} of {source_name!r} cannot be migrated: "
        f"{culprit[1]}. Nothing of its batch was written ({written} documents "
        "were copied before it); fix or delete it in the source, then run the "
        "migration again: it resumes at this batch"
    )


def _check_collisions(
    source_name: str,
    found: Sequence[tuple[str, Any]],
    ids: Sequence[str],
    earlier: Sequence[Any],
    written: int,
) -> None:
    """Raise naming the documents of this batch whose id an earlier batch copied from
    another key (writing them would overwrite it silently: the run ended only with
    ``verified: false``). The same key again is a batch written twice (a resume, or a
    key SCAN returned twice): it overwrites itself."""
    clashes = [
        (doc_id, _str(before), key)
        for (key, _), doc_id, before in zip(found, ids, earlier, strict=True)
        if before is not None and _str(before) != key
    ]
    if clashes:
        named = "; ".join(f"id {i!r} of {k!r} was copied from {b!r}" for i, b, k in clashes[:5])
        more = f" (and {len(clashes) - 5} more)" if len(clashes) > 5 else ""
        raise DataCorruptionError(
            f"{len(clashes)} peer document(s) of {source_name!r} have the id of a document "
            f"already copied, and would overwrite it: {named}{more}. Nothing of their batch "
            f"was written ({written} documents were copied before it); give one of each pair "
            "another id (or delete it) in the source, then run the migration again: it "
            "resumes at this batch"
        )


def _refused(
    target: VectorIndex,
    keys: Sequence[str],
    rows: Sequence[tuple[str, str, np.ndarray, dict[str, Any]]],
    exc: ConfigError,
) -> tuple[str, str]:
    """``(source key, reason)`` of the document of a batch the target refused (an id
    another document of the batch has, or what the target says of it alone)."""
    seen: dict[str, str] = {}
    for key, (doc_id, text, vector, metadata) in zip(keys, rows, strict=True):
        if doc_id in seen:
            return key, f"its id {doc_id!r} is also the id of {seen[doc_id]!r}"
        seen[doc_id] = key
        alone = np.asarray(vector, dtype=np.float32)[None, :]
        try:
            target.check_documents([text], ids=[doc_id], metadatas=[metadata], vectors=alone)
        except ConfigError as one:
            return key, str(one)
    return ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else ""), str(exc)


def _scan_nodes(client: Any) -> dict[str, Any]:
    """The servers a SCAN must visit, by name: each primary of a cluster (each holds its
    own keys and cursor; ``RedisCluster.scan`` would return a dict of cursors), else the
    one server, named ``""``."""
    if isinstance(client, RedisCluster):
        nodes = sorted(client.get_primaries(), key=lambda node: node.name)
        return {node.name: node.redis_connection for node in nodes}
    return {"": client}


def _glob(prefix: str) -> str:
    """Glob metacharacters of a key prefix escaped for SCAN MATCH."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in prefix)
