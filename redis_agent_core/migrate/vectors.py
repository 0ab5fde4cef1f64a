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

    @property
    def docs_per_second(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "docs_per_second": round(self.docs_per_second, 1)}


def _check_peer(peer: str) -> str:
    if peer not in PEERS:
        raise ConfigError(f"unknown source {peer!r}: use one of {', '.join(PEERS)}")
    return peer


def read_peer_index(
    config: RedisAgentConfig, name: str, peer: str, *, text_field: str = "text"
) -> PeerIndex:
    """The layout of the peer index ``name`` (its bare name, as the peer created it)."""
    _check_peer(peer)
    info = read_info(config, name, f"reading the {peer} index {name!r}")
    if info is None:
        raise ConfigError(
            f"there is no search index {name!r} on this server; give the name the {peer} "
            "store was created with (FT._LIST lists them)"
        )
    found = describe_info(info)
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
) -> MigrationReport:
    """Copy the peer index ``source_name`` into the pack's vector index ``to`` (default:
    the same name), vectors included. Resumes a migration into ``to`` that stopped
    before its end (the cursor is saved after every batch). ``max_batches`` stops after
    that many batches (a partial, resumable run)."""
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
    # id -> source key of every document copied so far: a later document with an id
    # already copied from another key would overwrite it (kept across resumes)
    ids_key = state_key + ":ids"
    if not resumed:
        with translate_errors(config, "clearing the ids of an earlier migration"):
            client.delete(ids_key)
    prefix_index = int(state.get("prefix", 0))
    cursor = int(state.get("cursor", 0))
    nodes = _scan_nodes(client)
    names = list(nodes)
    node = state.get("node", names[0])
    if node not in nodes:  # the cluster's primaries changed: rescan (writes are idempotent)
        node, cursor = names[0], 0
    written = int(state.get("written", 0))
    started = time.perf_counter()
    scan_type = "ReJSON-RL" if source.storage == "json" else "hash"
    batches = 0
    target.create()
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
            ids, texts, vectors, metadatas = zip(*rows, strict=True)
            with translate_errors(config, f"checking the ids copied into {target_name!r}"):
                earlier = client.hmget(ids_key, list(ids))
            _check_collisions(source_name, found, ids, earlier, written)
            try:
                target.add(list(texts), ids=list(ids), metadatas=list(metadatas),
                           vectors=np.vstack(vectors).astype(np.float32))  # fmt: skip
            except ConfigError as exc:
                # a document the target refuses (checked before the batch is written)
                culprit = _refused(target, [k for k, _ in found], rows, exc)
                raise DataCorruptionError(
                    f"peer document {culprit[0]!r} of {source_name!r} cannot be migrated: "
                    f"{culprit[1]}. Nothing of its batch was written ({written} documents "
                    "were copied before it); fix or delete it in the source, then run the "
                    "migration again: it resumes at this batch"
                ) from exc
            with translate_errors(config, f"noting the ids copied into {target_name!r}"):
                client.hset(ids_key, mapping={i: k for i, (k, _) in zip(ids, found, strict=True)})
            written += len(rows)
        if cursor == 0:  # this server is done: the next one, or the next prefix
            following = names.index(node) + 1
            if following == len(names):
                prefix_index += 1
            node = names[following % len(names)]
        batches += 1
        with translate_errors(config, f"saving the state of the migration into {target_name!r}"):
            client.hset(state_key, mapping={
                "source": origin, "prefix": prefix_index, "node": node, "cursor": cursor,
                "written": written,
            })  # fmt: skip
        if progress is not None:
            progress(min(written, source.num_docs), source.num_docs)
    complete = prefix_index >= len(source.prefixes)
    target_docs = verified = None
    if complete:
        target_docs = target.count()
        verified = target_docs == source.num_docs
        with translate_errors(config, "clearing the migration state"):
            client.delete(state_key, ids_key)  # a rerun starts over (writes are idempotent)
    return MigrationReport(
        source=source_name, target=target_name, source_docs=source.num_docs, written=written,
        target_docs=target_docs, seconds=time.perf_counter() - started, resumed=resumed,
        complete=complete, verified=verified,
    )  # fmt: skip


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
