"""Pure parts of the agent store's semantic search: vector documents, their index, the
KNN query and its reply.

An item may carry several vectors (one per indexed text: LangGraph embeds every
configured field, and each element of a list). Each vector is a hash of its own,
``<store>:v:<member>\\x1d<i>`` (same hash tag as the item), holding the vector and a
TAG of digests of every namespace prefix of the item, so a KNN restricted to a
namespace prefix is one exact-match pre-filter. The index is FLAT (exact, as LangGraph's
in-memory store) with cosine distance; score = 1 - distance (cosine similarity).
The item hash keeps the vector count (field ``n``) so a later put or delete drops
the vectors it no longer has (``put.lua``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from redisvl.schema import IndexSchema

from ..errors import ConfigError, SchemaMismatchError, ZeroVectorError
from ..search.commands import drop_hint, knn_clause, search_command
from ..search.replies import describe_info, search_rows
from .records import decode_member, namespace_prefix

__all__ = [
    "F_PREFIXES",
    "F_VECTOR",
    "VECTOR_SEP",
    "check_index",
    "check_item_vectors",
    "knn_command",
    "pack_vector",
    "parse_knn",
    "prefix_digest",
    "prefix_tags",
    "vector_schema",
]

F_PREFIXES, F_VECTOR = "p", "vector"
VECTOR_SEP = b"\x1d"  # between an item's member and its vector number (parsed from the right)
_DISTANCE = "d"


def prefix_digest(labels: Sequence[str]) -> str:
    """The TAG value of the namespace prefix ``labels``: hex, so no TAG escaping and no
    case folding; a collision is caught by re-checking each hit's namespace."""
    return hashlib.sha1(namespace_prefix(labels).encode(), usedforsecurity=False).hexdigest()[:20]


def prefix_tags(namespace: Sequence[str]) -> str:
    """The TAG field of a vector of an item in ``namespace``: every prefix's digest."""
    return ",".join(prefix_digest(namespace[:depth]) for depth in range(1, len(namespace) + 1))


def pack_vector(vector: Sequence[float], dims: int) -> bytes:
    """``vector`` as FLOAT32 bytes, or :class:`ConfigError` when its size is not ``dims``."""
    arr = np.asarray(vector, dtype=np.float32)
    if arr.ndim != 1 or arr.shape[0] != dims:
        raise ConfigError(
            f"the embedding function returned a vector of shape {arr.shape}, but the store "
            f"index is configured with dims={dims}; set index['dims'] to the model's size"
        )
    if not np.isfinite(arr).all():
        raise ConfigError("the embedding function returned a vector with NaN or infinity")
    return arr.tobytes()


def check_query_vector(vector: Sequence[float], embedder: str | None = None) -> None:
    """:class:`ZeroVectorError` for an all-zero query vector: the store's index is cosine
    and a zero vector has no direction (the server scores it NaN against every item and
    the search listed every item unscored in key order). ``embedder``: named in the
    message."""
    arr = np.asarray(vector, dtype=np.float32)
    if arr.size and arr.any():
        return
    source = f"the embedder {embedder}" if embedder else "the embedding function"
    raise ZeroVectorError(
        f"the query vector from {source} is all zeros: the store's semantic search is "
        "cosine and a zero vector has no direction (every item would score NaN); check the "
        "model's output for that query text (some return zeros for an empty or unknown "
        "input), or search without query=. Nothing was sent"
    )


def check_item_vectors(
    namespace: Sequence[str],
    key: str,
    vectors: Sequence[Sequence[float]],
    fields: Sequence[str] | None = None,
    embedder: str | None = None,
) -> None:
    """:class:`ZeroVectorError` for an all-zero vector of the item ``namespace``/``key``:
    the index is cosine and a zero vector has no direction, so the item was listed
    unscored by every semantic search, whatever the query, as if it had no text.
    ``fields``: the path each vector was embedded from (named in the message, with
    LangGraph's fix, ``index=False``); ``embedder``: named in the message."""
    for i, vector in enumerate(vectors):
        if np.asarray(vector, dtype=np.float32).any():
            continue
        source = f"the embedder {embedder}" if embedder else "the embedding function"
        if fields is not None:
            what = f"the text at {fields[i]!r} (text {i})"
            skip = "put it with index=False (or an index= list without that path)"
        else:
            what = f"vector {i}"
            skip = "give it no vectors (None)"
        raise ZeroVectorError(
            f"{what} of item {tuple(namespace)!r}/{key!r} from {source} is all zeros: the "
            "store's semantic search is cosine and a zero vector has no direction (the item "
            "would be listed unscored by every search, whatever the query); check the "
            "model's output for that text (some return zeros for an empty or unknown "
            f"input), or {skip} to store the item without being found by meaning. "
            "Nothing was written"
        )


def vector_schema(index_name: str, prefix: str, dims: int) -> IndexSchema:
    """The index of a store's vectors (FLAT, cosine, FLOAT32)."""
    return IndexSchema.from_dict(
        {
            "index": {"name": index_name, "prefix": prefix, "storage_type": "hash"},
            "fields": [
                {"name": F_PREFIXES, "type": "tag"},
                {
                    "name": F_VECTOR,
                    "type": "vector",
                    "attrs": {
                        "dims": dims,
                        "distance_metric": "cosine",
                        "algorithm": "flat",
                        "datatype": "float32",
                    },
                },
            ],
        }
    )


def check_index(info: Any, index_name: str, dims: int) -> None:
    """Refuse a live index made for another vector size (its vectors would not be indexed,
    and search would silently miss them)."""
    vector = describe_info(info)["fields"].get(F_VECTOR, {})
    if vector.get("dims") not in (None, dims):
        raise SchemaMismatchError(
            f"the agent store index {index_name!r} holds {vector['dims']}-d vectors but this "
            f"store is configured with dims={dims}. Use another store name for this model, "
            f"or drop the index ({drop_hint(index_name)}) and put the items again."
        )


def knn_command(index_name: str, labels: Sequence[str], vector: bytes, k: int) -> list[Any]:
    """The search of the ``k`` vectors nearest ``vector`` under the namespace prefix ``labels``."""
    where = f"(@{F_PREFIXES}:{{{prefix_digest(labels)}}})" if labels else "*"
    query = where + knn_clause(k, F_VECTOR, distance_as=_DISTANCE)
    return search_command(
        index_name,
        query,
        return_fields=[_DISTANCE],
        sort_by=_DISTANCE,
        limit=k,
        params=["vec", vector],
    )


def parse_knn(reply: Any, vector_prefix: bytes) -> list[tuple[bytes, float]]:
    """``(item member, cosine distance)`` of each hit, nearest first (one per vector)."""
    _, rows = search_rows(reply)
    prefix = vector_prefix.decode()
    out = []
    for key, _, found in rows:
        if not key.startswith(prefix):
            continue
        raw, sep, _ = key[len(prefix) :].encode().rpartition(VECTOR_SEP)
        if not sep:
            continue
        decode_member(raw)  # a malformed member raises DataCorruptionError
        distance = found.get(_DISTANCE)
        text = distance.decode() if isinstance(distance, bytes) else str(distance)
        out.append((raw, float(text)))
    return out
