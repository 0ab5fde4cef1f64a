"""Pure functions: build the vector index's search queries and parse their replies into
:class:`Hit` objects (commands and raw replies go through :mod:`redis_agent_core.search`).

Shared by the sync and async paths of :class:`~redis_agent_core.vectors.VectorIndex`.
Replies are parsed in RESP2 (lists) and RESP3 (dicts) forms. Nothing read back is
unpickled: metadata is JSON, vectors are raw float buffers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
from redisvl.query import AggregateHybridQuery, TextQuery

from ..errors import ConfigError, DataCorruptionError
from ..keys import escape_part, unescape_part
from ..search.commands import knn_clause, search_command
from ..search.executor import Flow
from ..search.replies import KEY_ONLY, search_keys, search_rows
from ..search.replies import text as text_of
from .checks import (
    MAX_K,
    NUL,
    WORD_SYNTAX,
    check_alpha,
    check_k,
    check_nonzero,
    check_query_vector,
    check_text,
    nul_id_error,
    text_words,
)
from .schema import DISTANCE_FIELD, METADATA_FIELD, VectorSchema, relevance_from_distance

__all__ = ["Hit", "mmr_select"]

_KEY_FIELD = "__key"


@dataclass
class Hit:
    """One document returned by a query.

    ``score`` is a relevance in [0, 1] for vector queries (see
    :func:`~redis_agent_core.vectors.schema.relevance_from_distance`), the hybrid score
    for hybrid queries and the BM25 score for text queries; ``distance`` is the raw
    vector distance when there is one.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    distance: float | None = None
    vector: np.ndarray | None = field(default=None, repr=False)


# -- ids and keys --
def doc_key(prefix: str, doc_id: str) -> str:
    if not isinstance(doc_id, str) or not doc_id:
        raise ConfigError(f"document ids must be non-empty str, got {doc_id!r}")
    if NUL in doc_id:
        raise nul_id_error(doc_id)
    return prefix + escape_part(doc_id, "document id")


def doc_id(prefix: str, key: str | bytes) -> str:
    text = key.decode() if isinstance(key, bytes) else key
    return unescape_part(text[len(prefix) :] if text.startswith(prefix) else text)


_s = text_of


# -- commands --
def return_fields(
    schema: VectorSchema, *, vectors: bool = False, distance: bool = True
) -> list[Any]:
    names = [schema.text_field, METADATA_FIELD]
    if vectors:
        names.append(schema.vector_field)
    args: list[Any] = []
    for name in names:
        if schema.storage == "json":
            args += [f"$.{name}", "AS", name]
        else:
            args.append(name)
    if distance:
        args.append(DISTANCE_FIELD)
    return args


def _with_filter(filter_str: str) -> str:
    return "*" if filter_str == "*" else f"({filter_str})"


def vector_bytes(schema: VectorSchema, vector: Any, *, stored: bool = False) -> bytes:
    """The query vector as a buffer of the index dtype; raises on a wrong dimension,
    on NaN / infinity and, in a cosine index, on all zeros (``stored``: a stored
    document's vector, as recall measurements query with, is taken as it is)."""
    try:
        with np.errstate(over="ignore"):  # out of float32 range: inf, refused below
            array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"a query vector must be numbers ({exc})") from None
    if array.ndim != 1 or array.shape[0] != schema.dims:
        raise ConfigError(
            f"query vector has shape {array.shape}; this index expects {schema.dims} dims"
        )
    check_query_vector(array)
    if not stored:
        check_nonzero(array, schema.metric)
    return array.astype(schema.numpy_dtype).tobytes()


def knn_command(
    index_name: str,
    schema: VectorSchema,
    vec: bytes,
    k: int,
    filter_str: str,
    *,
    ef_runtime: int | None = None,
    vectors: bool = False,
    ids_only: bool = False,
    nocontent: bool = False,
) -> list[Any]:
    """A search for the ``k`` nearest neighbours that pass ``filter_str``; ``ids_only``:
    their keys (:data:`KEY_ONLY`: a document past its TTL is told apart), ``nocontent``:
    ids alone, nothing loaded (for timing a search: expired documents included)."""
    k = check_k(k)
    ef = None
    if schema.algorithm == "hnsw":
        ef = max(int(ef_runtime or schema.ef_runtime), k)
    clause = knn_clause(k, schema.vector_field, ef_runtime=ef, distance_as=DISTANCE_FIELD)
    return search_command(
        index_name, _with_filter(filter_str) + clause, nocontent=nocontent,
        return_fields=KEY_ONLY if ids_only else return_fields(schema, vectors=vectors),
        sort_by=DISTANCE_FIELD, limit=k, params=("vec", vec),
    )  # fmt: skip


# A term no document holds: its negation matches every document, which turns a KNN
# into a filtered one that RediSearch can be told to answer by brute force.
_NO_SUCH_TERM = "rapnosuchterm7f3a9c"


def _match_every(schema: VectorSchema) -> str:
    """A filter every document passes: the negation of a term none holds (in the text
    field, else in the first tag field; an index with neither has no filter to give)."""
    if schema.index_text:
        return f"(-@{schema.text_field}:({_NO_SUCH_TERM}))"
    tags = [f.name for f in schema.metadata_fields if f.type == "tag"]
    if not tags:
        raise ConfigError("an exact search on HNSW needs a text or a tag field to filter on")
    return f"(-@{tags[0]}:{{{_NO_SUCH_TERM}}})"


def exact_knn_command(
    index_name: str, schema: VectorSchema, vec: bytes, k: int, *, distances: bool = False
) -> list[Any]:
    """The exact ``k`` nearest neighbours (keys, :data:`KEY_ONLY`; ``distances``: their
    distance instead, expired documents included: a yielded field loads nothing),
    whatever the index algorithm: on HNSW a filter matching every document with
    ``HYBRID_POLICY ADHOC_BF`` computes the distance to each document instead of walking
    the graph."""
    k = check_k(k)
    policy = "ADHOC_BF" if schema.algorithm == "hnsw" else None
    clause = knn_clause(k, schema.vector_field, hybrid_policy=policy, distance_as=DISTANCE_FIELD)
    return search_command(
        index_name, _match_every(schema) + clause,
        return_fields=[DISTANCE_FIELD] if distances else KEY_ONLY,
        sort_by=DISTANCE_FIELD, limit=k, params=("vec", vec),
    )  # fmt: skip


def range_command(
    index_name: str,
    schema: VectorSchema,
    vec: bytes,
    radius: float,
    k: int,
    filter_str: str,
    *,
    vectors: bool = False,
) -> list[Any]:
    """A search for up to ``k`` documents within ``radius`` (a distance), nearest first."""
    k = check_k(k)
    query = (
        f"@{schema.vector_field}:[VECTOR_RANGE $radius $vec]=>"
        f"{{$YIELD_DISTANCE_AS: {DISTANCE_FIELD}}}"
    )
    if filter_str != "*":
        query = f"{query} ({filter_str})"
    return search_command(
        index_name, query,
        return_fields=return_fields(schema, vectors=vectors),
        sort_by=DISTANCE_FIELD, limit=k, params=("vec", vec, "radius", repr(float(radius))),
    )  # fmt: skip


def check_page(limit: Any, offset: Any) -> int:
    """``limit`` of a page of filtered documents, checked with its ``offset``:
    :class:`ConfigError` for a limit that is not a positive int (0 too) or an offset
    outside ``[0, MAX_K]``."""
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_K:
        raise ConfigError(
            f"offset must be an int within [0, {MAX_K:,}] (the server's maximum), got {offset!r}"
        )
    return check_k(limit, "limit")


def filter_command(
    index_name: str,
    schema: VectorSchema,
    filter_str: str,
    *,
    offset: int = 0,
    limit: int = 100,
    ids_only: bool = False,
    vectors: bool = False,
    keys: Sequence[str] = (),
    count: bool = False,
) -> list[Any]:
    """A search listing documents that pass a filter (``count``: how many, no rows;
    ``ids_only``: their keys, :data:`KEY_ONLY`; ``keys``: only among those). ``limit``
    is a positive int, as ``k`` is: 0 is refused as -1 is, not read as "none"."""
    limit = 0 if count else check_page(limit, offset)
    returned = KEY_ONLY if ids_only else return_fields(schema, vectors=vectors, distance=False)
    return search_command(
        index_name, filter_str, nocontent=limit == 0, return_fields=returned,
        offset=offset, limit=limit, inkeys=keys,
    )  # fmt: skip


def text_terms(text: str) -> str:
    """The words of a user's text as RediSearch splits indexed text
    (:func:`~.checks.text_words`: ``C:\\path\\file`` is "C pathfile", a newline
    joins the words around it), joined by spaces; a separator kept in a word (it came
    escaped) splits it too, so no character reaches a query as syntax (redisvl leaves
    ``|`` unescaped)."""
    if not isinstance(text, str):
        raise ConfigError(f"query text must be str, got {type(text).__name__}: {text!r}")
    words = text_words(check_text(text, "the query text"))
    return " ".join(part for w in words for part in WORD_SYNTAX.split(w) if part)


def text_command(
    index_name: str, schema: VectorSchema, text: str, k: int, filter_str: str
) -> list[Any] | None:
    """A search scored by BM25 over the text field; ``None`` when no term is left after
    stop words (nothing to search)."""
    k = check_k(k)
    terms = text_terms(text)  # raises on bad input: not the ValueError caught below
    try:
        query = TextQuery(
            terms,
            text_field_name=schema.text_field,
            filter_expression=None if filter_str == "*" else filter_str,
            num_results=k,
        )
        query_string = query.query_string()
    except ValueError:
        return None
    if query_string.startswith(f"@{schema.text_field}:()"):
        return None
    return search_command(
        index_name, query_string, scorer="BM25STD",
        return_fields=return_fields(schema, distance=False), limit=k,
    )  # fmt: skip


#: The first window of best word matches a filtered text search or a hybrid query ranks
#: by the words alone, without the filter; when it cannot prove its answer exact (below)
#: the window grows :data:`WIDEN` times, up to every document (:data:`MAX_K`).
WORD_WINDOW = 100
WIDEN = 4


def _scored(reply: Any) -> tuple[int, list[tuple[str, float]]]:
    """``(total, [(key, score)])`` of a keys-only search with scores, in its order."""
    total, rows = search_rows(reply)
    return total, [(_s(key), float(score or 0.0)) for key, score, _ in rows]


def _wider(window: int, limit: int) -> int:
    return min(window * WIDEN, limit)


@dataclass
class TextPlan:
    """A text search with a filter: the filter restricts, the words alone score.

    RediSearch scores a query's filter clauses too (a TAG or TEXT clause adds its BM25, a
    union under an intersection counts fewer words), so ``words (filter)`` ranked a
    document by its filter. Here a window of the best matches of the words alone (the
    unfiltered query, same scores as a search without a filter) is searched for the ones
    passing the filter (``INKEYS``). Exact: when fewer than ``k`` pass, the next window
    (:data:`WIDEN` times larger) is searched, until ``k`` pass or no match is left; every
    document past a window scores no more than the ones in it. Two round trips when the
    first window holds ``k`` passing documents. Pure: :func:`text_flow` runs it."""

    index_name: str
    schema: VectorSchema
    prefix: str
    words: str  # the words' query, no filter
    k: int
    filter_str: str

    def words_command(self, offset: int, limit: int) -> list[Any]:
        return search_command(self.index_name, self.words, return_fields=KEY_ONLY,
                              scorer="BM25STD", offset=offset, limit=limit)  # fmt: skip

    def among_command(self, keys: Sequence[str]) -> list[Any]:
        return search_command(self.index_name, f"({self.filter_str})", inkeys=keys,
                              return_fields=return_fields(self.schema, distance=False),
                              limit=len(keys))  # fmt: skip


def text_flow(plan: TextPlan) -> Flow[list[Hit]]:
    """Run a :class:`TextPlan` (a reply ``None``: no index, no hits)."""
    offset, limit = 0, max(plan.k, WORD_WINDOW)
    found: list[tuple[float, int, Hit]] = []
    while True:
        reply = yield plan.words_command(offset, limit)
        if reply is None:
            return []
        total, scored = _scored(reply)
        if scored:
            passing = yield plan.among_command([key for key, _ in scored])
            if passing is None:
                return []
            rank = {key: (score, offset + i) for i, (key, score) in enumerate(scored)}
            for key, _, fields in search_rows(passing)[1]:
                score, at = rank[_s(key)]
                found.append((score, at, make_hit(plan.schema, plan.prefix, _s(key), fields,
                                                  score)))  # fmt: skip
        offset += limit
        if len(found) >= plan.k or offset >= total or offset >= MAX_K:
            break
        limit = min(_wider(limit, MAX_K), MAX_K - offset)
    found.sort(key=lambda item: (-item[0], item[1]))
    return [hit for _, _, hit in found[: plan.k]]


def text_plan(
    index_name: str, schema: VectorSchema, prefix: str, text: str, k: int, filter_str: str
) -> TextPlan | None:
    """The :class:`TextPlan` of a filtered text search; ``None`` when the text has no
    searchable term."""
    command = text_command(index_name, schema, text, k, "*")
    if command is None:
        return None
    return TextPlan(index_name, schema, prefix, str(command[2]), check_k(k), filter_str)


@dataclass
class HybridPlan:
    """Hybrid search without ``FT.HYBRID``, exact over the whole index: the k nearest by
    vector passing the filter, and a window of the best documents by the text score
    (:data:`WORD_WINDOW` to start), those of them passing the filter joining as
    candidates. The text score is redisvl's optional text clause alone (no filter:
    RediSearch scores a filter's TAG and TEXT clauses too, RediSearch#6707 stopped that
    for ``FT.HYBRID`` only; no ``KNN`` in it either). ``score = alpha * (2 - distance) /
    2 + (1 - alpha) * text_score`` as redisvl's AggregateHybridQuery computes it, best
    ``k``.

    The nearest and the window are independent: one pipeline. A candidate needs its other
    half read (a nearest's text score outside the window, a window document's distance
    and filter) only when it could still rank in the best ``k``: its upper bound (the
    window's last text score for a nearest outside it; the farthest of the k nearest's
    similarity for a window document outside them) reaching the ``k``-th best lower bound
    of the candidates known to pass the filter. Those are read in a second pipeline.

    A document outside both scores at most ``alpha`` times the farthest of the k nearest
    plus ``1 - alpha`` times the window's last text score; when the k-th best candidate
    is below that, the window grows (:data:`WIDEN` times) and the query runs again, so the
    answer is the exact best ``k`` on FLAT; on HNSW every document but one the KNN missed
    although nearer than the farthest it returned ranks exactly. Pure: :func:`hybrid_flow`
    runs it, sync and async."""

    index_name: str
    schema: VectorSchema
    prefix: str
    vec: bytes
    k: int
    filter_str: str
    alpha: float
    clause: str  # "(~@text:(a | b))": redisvl's text clause, its optional form

    def nearest_command(self, ef_runtime: int | None) -> list[Any]:
        """The k nearest passing the filter."""
        return knn_command(self.index_name, self.schema, self.vec, self.k, self.filter_str,
                           ef_runtime=ef_runtime)  # fmt: skip

    def words_command(self, window: int) -> list[Any]:
        """The keys and text scores of the best ``window`` documents by text score (the
        filter is applied to them later)."""
        return search_command(self.index_name, self.clause, return_fields=KEY_ONLY,
                              scorer="BM25STD", limit=window)  # fmt: skip

    def text_score_command(self, key: str) -> list[Any]:
        """The text score of one document (one search per document: RediSearch 2.10
        scored the optional clause wrongly for about 5% of the keys of an ``INKEYS`` list
        of a hundred, never for a single key)."""
        return search_command(self.index_name, self.clause, nocontent=True, scorer="BM25STD",
                              inkeys=[key], limit=1)  # fmt: skip

    def distances_command(self, keys: Sequence[str]) -> list[Any]:
        """The distances (and fields) of ``keys`` that pass the filter."""
        knn = knn_clause(len(keys), self.schema.vector_field, distance_as=DISTANCE_FIELD)
        return search_command(self.index_name, _with_filter(self.filter_str) + knn,
                              return_fields=return_fields(self.schema), sort_by=DISTANCE_FIELD,
                              inkeys=keys, limit=len(keys), params=("vec", self.vec))  # fmt: skip

    def score(self, similarity: float, text_score: float) -> float:
        return self.alpha * similarity + (1 - self.alpha) * text_score


def _similarity(fields: Mapping[str, Any]) -> float:
    return (2 - float(fields.get(DISTANCE_FIELD) or 0.0)) / 2


#: Slack of the bounds that leave a candidate unread: float noise never drops one.
_SLACK = 1e-6


@dataclass
class _Round:
    """One window's candidates (:func:`hybrid_flow`): what is known of each, and which
    halves are still to read: first the window documents' distances (which also says
    which pass the filter), then the nearest's text scores, each only for a candidate
    whose upper bound reaches the ``k``-th best lower bound of the candidates known to
    pass the filter."""

    plan: HybridPlan
    near: list[tuple[str, dict[str, Any]]]  # the nearest: key, fields (distance in them)
    reached: int  # how many nearest the server gave, a document past its TTL included
    total: int  # the window search's match count
    scored: list[tuple[str, float]]  # the window: key, text score, best first
    texts: dict[str, float] = field(default_factory=dict)  # text scores known
    extra: list[str] = field(default_factory=list)  # window documents whose distance to read
    rows: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # read, passing
    prune: bool = True  # False: read every candidate (a window document vanished)
    known: bool = False  # the window's documents' lower bounds pruned the window
    # what earlier (narrower) windows read, not read again: a window document's fields
    # (None: it did not pass the filter), a nearest's text score
    seen: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    near_texts: dict[str, float] = field(default_factory=dict)
    to_read: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        plan = self.plan
        self.texts = {**dict(self.scored), **self.near_texts}
        # not candidates: the nearest, and the window documents read before that did not
        # come back (no vector, failing the filter, deleted)
        out = {key for key, _ in self.near}
        out.update(key for key, fields in self.seen.items() if fields is None)
        # a window document's similarity is at least 0 only for cosine, and it is known
        # to pass only without a filter
        self.known = self.prune and plan.filter_str == "*" and plan.schema.metric == "cosine"
        lows = self._lows() if self.prune else []
        if self.known:
            lows += [plan.score(0.0, s) for key, s in self.scored if key not in out]
        floor = self._floor(lows)
        farthest = self._farthest()
        self.extra = [
            key for key, score in self.scored
            if key not in out and score > 0
            and (floor is None or plan.score(farthest, score) >= floor)
        ]  # fmt: skip

    def _farthest(self) -> float:
        """A similarity no document outside the nearest exceeds: the farthest of them (a
        document past its TTL among them has no distance: the farthest of the others);
        1 when fewer than ``k`` came back or none with a distance."""
        if self.reached < self.plan.k or not self.near:
            return 1.0
        return min(_similarity(fields) for _, fields in self.near)

    def _lows(self) -> list[float]:
        """Lower bounds of the nearest (text score 0 when not known yet)."""
        return [self.plan.score(_similarity(f), self.texts.get(key, 0.0)) for key, f in self.near]

    def vanished(self) -> bool:
        """Whether a window document whose lower bound pruned others was not read back
        (it has no vector, or was deleted or expired since): the round is to be read
        again without its bound (it is then known not to be a candidate)."""
        return self.known and len(self.rows) < len(self.extra)

    def _read(self, replies: Sequence[Any]) -> None:
        """Note the distances' reply; the rows of the window's candidates that pass,
        nearest first."""
        if replies:
            got = {key: fields for key, _, fields in search_rows(replies[0])[1]}
            self.seen.update((key, got.get(key)) for key in self.to_read)
        rows = [(key, self.seen[key]) for key in self.extra]
        passing = [(key, fields) for key, fields in rows if fields is not None]
        self.rows = sorted(passing, key=lambda row: -_similarity(row[1]))

    def _floor(self, lows: list[float]) -> float | None:
        k = self.plan.k
        return sorted(lows, reverse=True)[k - 1] - _SLACK if len(lows) >= k else None

    def distances(self) -> list[list[Any]]:
        self.to_read = [key for key in self.extra if key not in self.seen]
        return [self.plan.distances_command(self.to_read)] if self.to_read else []

    def unscored(self, replies: Sequence[Any]) -> list[str]:
        """Given the distances' reply: the nearest whose text score is to be read (the
        ones outside the window that could still rank)."""
        self._read(replies)
        plan = self.plan
        if not self.prune:
            return [key for key, _ in self.near if key not in self.texts]
        outside = self.scored[-1][1] if self.scored else 0.0  # text score past the window
        exact = [plan.score(_similarity(f), self.texts[key]) for key, f in self.rows]
        floor = self._floor(self._lows() + exact)
        return [
            key for key, fields in self.near
            if key not in self.texts
            and (floor is None or plan.score(_similarity(fields), outside) >= floor)
        ]  # fmt: skip

    def ranked(self, unscored: Sequence[str], replies: Sequence[Any]) -> list[Hit]:
        """The candidates that could rank, by the hybrid score, best first; ties keep
        the nearest first, then by distance."""
        plan, texts = self.plan, self.texts
        for key, reply in zip(unscored, replies, strict=True):
            texts[key] = self.near_texts[key] = dict(_scored(reply)[1]).get(key, 0.0)
        rows = [(key, fields) for key, fields in self.near if key in texts] + self.rows
        hits = []
        for key, fields in rows:
            hit = make_hit(plan.schema, plan.prefix, key, fields)
            hit.score = plan.score(_similarity(fields), texts.get(key, 0.0))
            hits.append(hit)
        order = sorted(range(len(hits)), key=lambda i: (-(hits[i].score or 0.0), i))
        return [hits[i] for i in order]

    def wider(self, ranked: Sequence[Hit], window: int) -> int | None:
        """The next window when a document outside the candidates could still rank in the
        best ``k``; ``None`` when the answer is exact (or every document was a candidate)."""
        plan = self.plan
        if self.reached < plan.k or self.total <= window or not self.scored:
            return None  # every document passing the filter is near, or in the window
        if self.scored[-1][1] <= 0:
            return None
        bound = plan.score(self._farthest(), self.scored[-1][1])
        best = ranked[plan.k - 1].score if len(ranked) >= plan.k else None
        if best is not None and best >= bound - 1e-9:
            return None
        return _wider(window, min(self.total, MAX_K)) if window < MAX_K else None


#: How many times a round whose window documents did not all come back is read again
#: pruned (without their bounds) before it is read unpruned.
_AGAIN = 2


class Batch(list[list[Any]]):
    """Commands a flow yields at once: the executor sends them in one pipeline and
    gives back their replies in order (``None``: no index)."""


def hybrid_flow(plan: HybridPlan, ef_runtime: int | None) -> Flow[list[Hit]]:
    """Run a :class:`HybridPlan`: the nearest and the first window in one pipeline, then
    the distances of the window's documents that could still rank, then (in one
    pipeline, a search each) the text scores of the nearest that could: one to three
    round trips (2.0-2.1 on the benchmark's queries), two or three more per widening."""
    window = max(plan.k, WORD_WINDOW)
    first = yield Batch([plan.nearest_command(ef_runtime), plan.words_command(window)])
    if first is None:
        return []
    nearest, words = first
    near = [(key, fields) for key, _, fields in search_rows(nearest)[1]]
    reached = sum(map(len, search_keys(nearest)[1:]))  # a document past its TTL counts
    seen: dict[str, dict[str, Any] | None] = {}
    near_texts: dict[str, float] = {}
    while True:
        total, scored = _scored(words)
        round_ = _Round(plan, near, reached, total, scored, seen=seen, near_texts=near_texts)
        commands = round_.distances()
        replies = (yield Batch(commands)) if commands else []
        if replies is None:
            return []
        unscored = round_.unscored(replies)
        for again in range(_AGAIN + 1):
            if not round_.vanished():
                break
            # again, without the bounds of what did not come back (read: in ``seen``);
            # the last time unpruned
            round_ = _Round(plan, near, reached, total, scored, prune=again < _AGAIN,
                            seen=seen, near_texts=near_texts)  # fmt: skip
            commands = round_.distances()
            replies = (yield Batch(commands)) if commands else []
            if replies is None:
                return []
            unscored = round_.unscored(replies)
        commands = [plan.text_score_command(key) for key in unscored]
        replies = (yield Batch(commands)) if commands else []
        if replies is None:
            return []
        ranked = round_.ranked(unscored, replies)
        wider = round_.wider(ranked, window)
        if wider is None:
            return ranked[: plan.k]
        window = wider
        words = yield plan.words_command(window)
        if words is None:
            return []


def hybrid_plan(
    index_name: str,
    schema: VectorSchema,
    prefix: str,
    text: str,
    vec: bytes,
    k: int,
    filter_str: str,
    alpha: float,
) -> HybridPlan | None:
    """The :class:`HybridPlan` of a hybrid query; ``None`` when the text has no
    searchable term (callers fall back to a vector query)."""
    alpha = check_alpha(alpha)
    k = check_k(k)
    terms = text_terms(text)
    try:
        query = AggregateHybridQuery(
            text=terms,
            text_field_name=schema.text_field,
            vector=vec,
            vector_field_name=schema.vector_field,
            dtype=schema.dtype,
            num_results=k,
        )
    except ValueError:
        return None
    clause = str(query.build_args()[0]).rsplit("=>", 1)[0]
    if not clause.startswith("(~"):  # redisvl's form changed: refuse a silent change
        raise ConfigError(f"unexpected hybrid text clause {clause!r} (redisvl version?)")
    return HybridPlan(index_name, schema, prefix, vec, k, filter_str, alpha, clause)


def native_hybrid_query(
    schema: VectorSchema, text: str, vec: bytes, k: int, filter_str: str, alpha: float
) -> Any:
    """The ``FT.HYBRID`` query (Redis >= 8.4, through redisvl's HybridQuery) of a hybrid
    search: the same linear combination as :class:`HybridPlan`, ``alpha`` on the vector
    side (redisvl's ``linear_alpha`` weighs the text side). Only built when the server
    has the command (the capability probe)."""
    alpha = check_alpha(alpha)
    from redisvl.query import HybridQuery

    return HybridQuery(
        text=text_terms(text),
        text_field_name=schema.text_field,
        vector=vec,
        vector_field_name=schema.vector_field,
        filter_expression=None if filter_str == "*" else filter_str,
        combination_method="LINEAR",
        linear_alpha=1.0 - alpha,
        knn_ef_runtime=schema.ef_runtime,
        yield_combined_score_as="hybrid_score",
        num_results=check_k(k),
        return_fields=[_KEY_FIELD, schema.text_field, METADATA_FIELD],
        dtype=schema.dtype,
    )


@contextmanager
def widening(k: int, what: str) -> Iterator[None]:
    """Around a filtered text search or a hybrid query (:func:`text_flow`,
    :func:`hybrid_flow`): the server's ``MAXSEARCHRESULTS`` refusing one of its windows
    (100, then 4x wider, up to every match) is no ``k`` too large, which
    :func:`limit_error`'s advice would say: the query reads past the best matches of its
    words to prove its ``k`` exact, and stops rather than answer unproven."""
    try:
        yield
    except ConfigError as exc:
        if "MAXSEARCHRESULTS" not in str(exc):
            raise
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        raise ConfigError(
            f"{what} (k={k}) reads the matches of its words in widening windows ("
            f"{WORD_WINDOW}, then {WIDEN}x wider) until its best {k} are proven, and the "
            f"server refused one: {cause} (its MAXSEARCHRESULTS). Raise it to the index's "
            "document count with FT.CONFIG SET MAXSEARCHRESULTS, or use words or a filter "
            "that select fewer documents"
        ) from exc.__cause__


def limit_error(exc: BaseException) -> ConfigError | None:
    """The :class:`ConfigError` for a server refusing a ``k``/``limit``/``offset`` above
    its ``MAXSEARCHRESULTS`` (configured below the default that :func:`check_k` knows)."""
    text = str(exc)
    if "exceeds maximum" not in text:
        return None
    return ConfigError(
        f"the server refused the query: {text} (its MAXSEARCHRESULTS); ask for fewer "
        "results, or raise it with FT.CONFIG SET MAXSEARCHRESULTS"
    )


# -- replies --
def _metadata(schema: VectorSchema, key: str, raw: Any, fields: Mapping[str, Any]) -> dict:
    if raw is None:
        # Written by another tool: rebuild what we can from the indexed fields.
        return {f.name: _s(fields[f.name]) for f in schema.metadata_fields if f.name in fields}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DataCorruptionError(
            f"document {key!r}: field {METADATA_FIELD!r} is not valid JSON ({exc}); "
            "re-add the document to repair it"
        ) from exc
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]  # JSONPath replies wrap the value in a list
    if not isinstance(value, dict):
        raise DataCorruptionError(f"document {key!r}: metadata is not a JSON object")
    return value


def _text(schema: VectorSchema, raw: Any) -> str:
    if raw is None:
        return ""
    text = _s(raw)
    if schema.storage == "json" and text.startswith("["):
        try:
            value = orjson.loads(text)
            if isinstance(value, list) and value and isinstance(value[0], str):
                return value[0]
        except orjson.JSONDecodeError:
            pass
    return text


def _vector(schema: VectorSchema, key: str, raw: Any) -> np.ndarray | None:
    if raw is None:
        return None
    if schema.storage == "json":
        value = orjson.loads(raw)
        if value and isinstance(value[0], list):
            value = value[0]
        return np.asarray(value, dtype=np.float32)
    array = np.frombuffer(raw, dtype=schema.numpy_dtype)
    if array.shape[0] != schema.dims:
        raise DataCorruptionError(
            f"document {key!r}: vector has {array.shape[0]} values, expected {schema.dims}"
        )
    return array.astype(np.float32)


def make_hit(
    schema: VectorSchema, prefix: str, key: str, fields: Mapping[str, Any], score: Any = None
) -> Hit:
    distance = fields.get(DISTANCE_FIELD)
    hit = Hit(
        id=doc_id(prefix, key),
        text=_text(schema, fields.get(schema.text_field)),
        metadata=_metadata(schema, key, fields.get(METADATA_FIELD), fields),
        vector=_vector(schema, key, fields.get(schema.vector_field)),
    )
    if distance is not None:
        hit.distance = float(distance)
        hit.score = relevance_from_distance(hit.distance, schema.metric)
    elif score is not None:
        hit.score = float(score)
    return hit


def parse_search(reply: Any, schema: VectorSchema, prefix: str) -> tuple[int, list[Hit]]:
    """``(total, hits)`` of a search reply (with or without scores or content)."""
    total, rows = search_rows(reply)
    return total, [make_hit(schema, prefix, key, fields, score) for key, score, fields in rows]


def parse_ids(reply: Any, prefix: str) -> tuple[int, list[str], list[str]]:
    """``(total, keys, expired keys)`` of a keys-only search reply (raw keys, not ids;
    :func:`~redis_agent_core.search.replies.search_keys`)."""
    return search_keys(reply)


# -- MMR --
def mmr_select(
    query: np.ndarray, candidates: np.ndarray, k: int, lambda_mult: float = 0.5
) -> list[int]:
    """Indices of ``k`` candidates by maximal marginal relevance (cosine similarity):
    each pick maximises ``lambda * sim(query) - (1 - lambda) * max sim(picked)``."""
    if not 0.0 <= lambda_mult <= 1.0:
        raise ConfigError(f"lambda_mult must be within [0, 1], got {lambda_mult!r}")
    if len(candidates) == 0 or k <= 0:
        return []

    def unit(m: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(m, axis=-1, keepdims=True)
        return m / np.where(norms == 0, 1.0, norms)

    cands = unit(np.asarray(candidates, dtype=np.float32))
    to_query = cands @ unit(np.asarray(query, dtype=np.float32))
    picked = [int(np.argmax(to_query))]
    closest = cands @ cands[picked[0]]
    while len(picked) < min(k, len(cands)):
        scores = lambda_mult * to_query - (1 - lambda_mult) * closest
        scores[picked] = -np.inf
        best = int(np.argmax(scores))
        picked.append(best)
        closest = np.maximum(closest, cands @ cands[best])
    return picked


def hits_to_vectors(hits: Sequence[Hit], dims: int) -> np.ndarray:
    rows = [h.vector if h.vector is not None else np.zeros(dims, np.float32) for h in hits]
    return np.vstack(rows) if rows else np.zeros((0, dims), np.float32)
