"""Semantic recall over chat history: :class:`_Recall`, the redisvl vector index of a
namespace's messages that :class:`~redis_agent_core.history.SessionStore` writes to
and queries when built with an embedder."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..config import RedisAgentConfig
from ..embeddings import Embedder, aembed_query, embed_query
from ..errors import ConfigError, SchemaMismatchError, ZeroVectorError
from ..redis_errors import FAULTS, map_redis_error
from ..search.commands import drop_hint
from ..search.lifecycle import IndexLifecycle
from ..search.replies import describe_info
from ..vectors.checks import check_k
from .model import RecalledMessage, _as_bytes


def _session_tag(session_id: str) -> str:
    """The recall documents' tag of a session: a hex digest, because tag values are
    case-insensitive and split on ``,`` (raw ids would mix sessions)."""
    return hashlib.sha1(session_id.encode("utf-8"), usedforsecurity=False).hexdigest()


class _Recall:
    """Vector index of a namespace's messages for semantic recall (redisvl, FLAT, cosine).

    One hash document per recalled message: session tag (:func:`_session_tag`),
    sequence number, payload and vector. Documents get the store's TTL when written
    (not sliding). The index is created on first use.
    """

    def __init__(self, config: RedisAgentConfig, embedder: Embedder, ttl: int | None) -> None:
        self.config = config
        self.embedder = embedder
        self.ttl = ttl
        self._schema: Any = None
        self._lifecycle: IndexLifecycle | None = None

    def schema(self) -> Any:
        if self._schema is None:
            from redisvl.schema import IndexSchema

            keys = self.config.keys
            self._schema = IndexSchema.from_dict(
                {
                    "index": {
                        "name": keys.history_recall_index(),
                        "prefix": keys.history_recall_prefix(),
                        "key_separator": ":",
                        "storage_type": "hash",
                    },
                    "fields": [
                        {"name": "session", "type": "tag"},
                        {"name": "seq", "type": "numeric"},
                        {
                            "name": "vector",
                            "type": "vector",
                            "attrs": {
                                "dims": self.embedder.dims,
                                "distance_metric": "cosine",
                                "algorithm": "flat",
                                "datatype": "float32",
                            },
                        },
                    ],
                }
            )
        return self._schema

    @property
    def lifecycle(self) -> IndexLifecycle:
        if self._lifecycle is None:
            self._lifecycle = IndexLifecycle(
                self.config,
                self.schema(),
                self._check,
                "semantic recall over chat history",
                stamp=(self.config.keys.history_recall_state(), self.embedder.name),
            )
        return self._lifecycle

    def _check(self, info: Any) -> None:
        """Refuse an index built for another embedding size: its documents would not be
        indexed, and recall would silently find nothing."""
        vector = describe_info(info)["fields"].get("vector", {})
        if vector.get("dims") not in (None, self.embedder.dims):
            name = self.config.keys.history_recall_index()
            raise SchemaMismatchError(
                f"the recall index {name!r} holds {vector['dims']}-d vectors, but the "
                f"embedder {self.embedder.name!r} makes {self.embedder.dims}-d ones. Use "
                "another namespace for this model, or drop the index "
                f"({drop_hint(name, delete_documents=False)}) to rebuild it from new messages."
            )

    def _index(self) -> Any:
        from ..search.redisvl_index import CheckedSearchIndex

        self.lifecycle.ensure()
        return CheckedSearchIndex(self.schema(), redis_client=self.config.get_client())

    async def _aindex(self) -> Any:
        from ..search.redisvl_index import AsyncCheckedSearchIndex

        await self.lifecycle.aensure()
        return AsyncCheckedSearchIndex(self.schema(), redis_client=self.config.get_async_client())

    @staticmethod
    def _texts(texts: Sequence[str | None] | None, count: int) -> list[tuple[int, str]]:
        if texts is None:
            return []
        if len(texts) != count:
            raise ConfigError(f"texts must have one entry per payload ({count}), got {len(texts)}")
        return [(i, t) for i, t in enumerate(texts) if t]

    def embed(self, texts: Sequence[str | None] | None, count: int) -> list[tuple[int, bytes]]:
        wanted = self._texts(texts, count)
        if not wanted:
            return []
        self._index()  # fail (no search, Redis down) before anything is written
        matrix = self.embedder.embed([t for _, t in wanted])
        _check_rows(self.embedder, wanted, matrix)
        return [
            (i, row.astype("float32").tobytes()) for (i, _), row in zip(wanted, matrix, strict=True)
        ]

    async def aembed(
        self, texts: Sequence[str | None] | None, count: int
    ) -> list[tuple[int, bytes]]:
        wanted = self._texts(texts, count)
        if not wanted:
            return []
        await self._aindex()  # fail (no search, Redis down) before anything is written
        matrix = await self.embedder.aembed([t for _, t in wanted])
        _check_rows(self.embedder, wanted, matrix)
        return [
            (i, row.astype("float32").tobytes()) for (i, _), row in zip(wanted, matrix, strict=True)
        ]

    def _doc_calls(
        self, session_id: str, seq: int, payloads: Sequence[bytes | str], vectors: list
    ) -> list[tuple[Any, ...]]:
        from ..keys import escape_part

        # a NUL written as %00 (escape_part wrote "%" as %25): RediSearch loads a hit's
        # fields from its key cut at a NUL, so a session "bob\x00" recalled nothing
        part = escape_part(session_id).replace("\x00", "%00")
        prefix = self.config.keys.history_recall_prefix() + part + ":"
        calls: list[tuple[Any, ...]] = []
        for i, vector in vectors:
            key = f"{prefix}{int(seq) + i}"
            calls.append(
                (
                    "HSET",
                    key,
                    "session",
                    _session_tag(session_id),
                    "seq",
                    int(seq) + i,
                    "msg",
                    payloads[i],
                    "vector",
                    vector,
                )
            )
            if self.ttl:
                calls.append(("EXPIRE", key, self.ttl))
        return calls

    def write(
        self, session_id: str, seq: int, payloads: Sequence[bytes | str], vectors: list
    ) -> None:
        if not vectors:
            return
        self._index()
        calls = self._doc_calls(session_id, seq, payloads, vectors)
        try:
            pipe = self.config.get_client().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            pipe.execute()
        except FAULTS as exc:
            raise map_redis_error(exc, _INDEX_ACTION, self.config) from exc

    async def awrite(
        self, session_id: str, seq: int, payloads: Sequence[bytes | str], vectors: list
    ) -> None:
        if not vectors:
            return
        await self._aindex()
        calls = self._doc_calls(session_id, seq, payloads, vectors)
        try:
            pipe = self.config.get_async_client().pipeline(transaction=False)
            for c in calls:
                pipe.execute_command(*c)
            await pipe.execute()
        except FAULTS as exc:
            raise map_redis_error(exc, _INDEX_ACTION, self.config) from exc

    def _query(self, session_id: str, vector: Any, k: int, max_distance: float | None) -> Any:
        from redisvl.query import VectorQuery, VectorRangeQuery
        from redisvl.query.filter import Tag

        where = Tag("session") == _session_tag(session_id)
        fields = ["msg", "seq"]
        if max_distance is not None:
            return VectorRangeQuery(
                vector=vector,
                vector_field_name="vector",
                return_fields=fields,
                filter_expression=where,
                distance_threshold=max_distance,
                num_results=k,
            )
        return VectorQuery(
            vector=vector,
            vector_field_name="vector",
            return_fields=fields,
            filter_expression=where,
            num_results=k,
        )

    @staticmethod
    def _parse(rows: list[dict[str, Any]]) -> list[RecalledMessage]:
        out = [
            RecalledMessage(
                payload=_as_bytes(row["msg"]),
                distance=float(row.get("vector_distance", 0.0)),
                seq=int(row["seq"]),
            )
            for row in rows
        ]
        return sorted(out, key=lambda r: (r.distance, r.seq))

    def relevant(
        self, session_id: str, query: str, k: int, max_distance: float | None
    ) -> list[RecalledMessage]:
        k = _check_query(query, k, max_distance)
        index = self._index()
        # the messages were stored with embed(); the query takes the model's query form
        vector = _query_vector(embed_query(self.embedder, [query])[0])
        query_ = self._query(session_id, vector, k, max_distance)
        try:
            # a lost index (Redis restarted empty, or dropped) is created again here
            rows = self.lifecycle.retrying(lambda: index.query(query_))
        except FAULTS as exc:
            raise map_redis_error(exc, "recall messages", self.config) from exc
        return self._parse(rows)

    async def arelevant(
        self, session_id: str, query: str, k: int, max_distance: float | None
    ) -> list[RecalledMessage]:
        k = _check_query(query, k, max_distance)
        index = await self._aindex()
        vector = _query_vector((await aembed_query(self.embedder, [query]))[0])
        query_ = self._query(session_id, vector, k, max_distance)
        try:
            rows = await self.lifecycle.aretrying(lambda: index.query(query_))
        except FAULTS as exc:
            raise map_redis_error(exc, "recall messages", self.config) from exc
        return self._parse(rows)

    def _forget_query(self, session_id: str) -> Any:
        from redisvl.query import FilterQuery
        from redisvl.query.filter import Tag

        return FilterQuery(
            filter_expression=Tag("session") == _session_tag(session_id),
            return_fields=["seq"],
            num_results=10_000,
        )

    def forget(self, session_id: str) -> None:
        index = self._index()
        while True:
            # a lost index would find no documents and leave the session's behind
            rows = self.lifecycle.retrying(lambda: index.query(self._forget_query(session_id)))
            if not rows:
                return
            self.config.get_client().delete(*[row["id"] for row in rows])

    async def aforget(self, session_id: str) -> None:
        index = await self._aindex()
        while True:
            rows = await self.lifecycle.aretrying(
                lambda: index.query(self._forget_query(session_id))
            )
            if not rows:
                return
            await self.config.get_async_client().delete(*[row["id"] for row in rows])


#: What a failed recall write says. It runs after the messages were stored (another
#: call, on a cluster another slot): read as "the append failed", the error made callers
#: append again, and the messages were stored twice.
_INDEX_ACTION = (
    "indexing for recall the messages just stored (they ARE in the session's history: "
    "appending them again would store them twice; only recall will not find them)"
)


def _check_rows(embedder: Embedder, wanted: Sequence[tuple[int, str]], matrix: Any) -> None:
    """:class:`ZeroVectorError` for a message the model embeds as all zeros: the index
    is cosine, a zero vector has no direction, and the server never returned the
    message to any query (stored, silently never recalled)."""
    zero = ~np.asarray(matrix).any(axis=-1)
    if zero.any():
        row = int(np.argmax(zero))
        index, text = wanted[row]
        raise ZeroVectorError(
            f"embedding model {embedder.name!r} returned all zeros for message {index} of "
            f"this append ({text[:60]!r}): recall compares directions (cosine) and a zero "
            "vector has none, so the message could never be recalled. Nothing was stored; "
            "check the model's output for that text (some return zeros for an unknown "
            "input), or pass None as that message's text to store it without recall"
        )


def _query_vector(row: Any) -> list[float]:
    """The query's vector, refused when all zeros (the server scored it NaN against
    every message and recall returned nothing, as if nothing were relevant)."""
    array = np.asarray(row, dtype=np.float32)
    if not array.any():
        raise ZeroVectorError(
            "the recall query's vector is all zeros: recall compares directions (cosine) "
            "and a zero vector has none, so it found nothing, as if no message were "
            "relevant. Nothing was sent; check the embedding model's output for that "
            "query (some return zeros for an empty or unknown input)"
        )
    return array.tolist()


def _check_query(query: object, k: object, max_distance: object) -> int:
    """``k`` if the arguments of a recall are valid, else :class:`ConfigError` (before
    the query is embedded: the model would get a non-str, redisvl a bool ``k``)."""
    if not isinstance(query, str):
        raise ConfigError(f"query must be a str, got {type(query).__name__}: {query!r}")
    if max_distance is not None and (
        isinstance(max_distance, bool)
        or not isinstance(max_distance, int | float)
        or not 0 <= max_distance < math.inf
    ):
        raise ConfigError(
            f"max_distance must be a finite number >= 0 or None, got {max_distance!r}"
        )
    return check_k(k)
