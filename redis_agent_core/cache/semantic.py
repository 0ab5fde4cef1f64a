"""Semantic LLM cache: a question close enough in meaning gets the stored answer.

``distance_threshold`` is a **cosine distance**: 0 = identical direction, 1 =
unrelated, 2 = opposite. An entry is served when its distance to the query is
``<= distance_threshold`` (so 0 serves only identical vectors). Similarity-style
values (e.g. 0.9 meaning "90 % similar") are a common mistake: values > 2 are
rejected, and the docs say which is which.

A lookup is one search query (built by the search layer): KNN over the few nearest
entries **filtered by scope** (and the partition filters), so a hit never returns
another model's answer. The candidates within the threshold are checked in order by the
verifier (the guards of issue 9: negation, numbers, entities...), the first that passes
is served, and one script call records the hit, miss and rejections in counters shared
by processes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from redisvl.query.filter import FilterExpression, Tag
from redisvl.schema import IndexSchema

from .. import telemetry
from ..config import RedisAgentConfig
from ..embeddings import Embedder, default_embedder
from ..errors import ConfigError, SchemaMismatchError
from ..fastpath import FALLBACK, pack_commands
from ..faults import OnError
from ..redis_errors import FAULTS, REFUSED, REPLY, is_search_timeout, translate_errors
from ..search.commands import drop_hint, knn_clause, search_command
from ..search.executor import arun, run
from ..search.lifecycle import IndexLifecycle, drop_flow
from ..search.replies import describe_info, info_name, search_rows
from ..tags import TAG_SEPARATOR, tag_value
from ..vectors import AUTO_RECHECK, TUNING_RECHECK, VectorIndex
from .band_pass import (
    DEFAULT_BAND_THRESHOLD,
    aband_rejection,
    band_rejection,
    band_verifier,
    default_band_threshold,
)
from .base import ORPHAN, PROBE, RECORD, CacheStore, parse_lookup
from .entry import (
    MEMBER_PARTS,
    PACKED,
    CacheHit,
    canonical_filters,
    check_args,
    compact_digest,
    pack,
    parse_usage,
    text,
    total_tokens,
    unpack,
    usage_json,
)
from .guards import (
    DEFAULT_DISTANCE_THRESHOLD,
    GUARDS_DISTANCE_THRESHOLD,
    Rejection,
    Verifier,
    default_verifier,
)
from .respell_pass import (
    RESPELL_DISTANCE_THRESHOLD,
    arespell,
    default_respell_threshold,
    long_spans,
    pair_distance,
    respell,
)

# embedding alone (no verifier): fow-cache precision 0.75 at 0.05, 0.64 at 0.1
UNGUARDED_DISTANCE_THRESHOLD = 0.05
# Widest threshold a cache with a verifier accepts: the end of the grid `redis-agent cache
# calibrate` searches (fow-cache calibrates at its end with the guards and scorer). The
# guards and the pair scorer tell a near repeat from a near miss; far past this, unrelated
# prompts are candidates (MiniLM puts unrelated questions 0.7-1.0 apart) and some pass: at
# 0.9 (a "90 % similar" habit, as in langchain-redis#22) "Tell me one joke" got the answer
# cached for "What is 1+1?" (0.80).
VERIFIED_MAX_THRESHOLD = 0.6


def _unserved(rows: list[Any], rejections: list[Rejection], chosen: Any) -> list[Rejection]:
    """The first pass's rejections (one a row of ``rows``) but the served row's: a
    candidate the second pass serves is counted as a hit, not also as refused."""
    return [r for row, r in zip(rows, rejections, strict=True) if row is not chosen]


def default_threshold(verifier: object) -> float:
    """The distance threshold a cache uses by default with ``verifier``: the verifier
    catches the near-miss traps that a wider radius lets in, the pair scorer more of them
    than the guards alone. A scorer that cannot run here (no onnxruntime) passes every
    pair: the guards alone decide, at their own threshold."""
    if verifier is None:
        return UNGUARDED_DISTANCE_THRESHOLD
    scorer = getattr(verifier, "scorer", None)
    if scorer is None or not getattr(scorer, "installed", True):
        return GUARDS_DISTANCE_THRESHOLD
    return DEFAULT_DISTANCE_THRESHOLD


__all__ = ["SemanticCache"]

logger = logging.getLogger("redis_agent_core.cache")

_DEFAULT: Any = object()
# \Z, not $: $ also matches before a final newline, so 'name\n' passed
_FIELD_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
# PACKED: payload, usage, tokens, the guards' features of the stored prompt (computed
# when it was written) and the prompt, in one field (entry.pack: a hash field costs
# ≈ 70 B an entry beside its value). Entries written before 2026-12-04 hold them in
# fields of their own: "payload", "usage", "tokens", and "prompt" or "gf" (the features,
# a newline, then the prompt).
_RETURN = ("_d", PACKED, "prompt", "payload", "usage", "tokens", "gf")


def unpacked(fields: dict[str, Any]) -> dict[str, Any]:
    """A search row's fields, an entry's packed field spread as the fields of the earlier
    layout (the features, when there are some, in "gf" beside "prompt")."""
    raw = fields.pop(PACKED, None)
    if raw is not None:
        prompt, payload, usage, tokens, features = unpack(raw)
        fields.update(prompt=prompt, payload=payload, usage=usage, tokens=tokens)
        if features:
            fields["gf"] = features
    return fields


def stored_prompt(fields: Mapping[str, Any]) -> tuple[str, Any]:
    """An entry's prompt and its stored guard features (or None) from its fields (of
    either layout, see :func:`unpacked`)."""
    prompt = fields.get("prompt")
    if prompt is not None:  # written without guards, or before the prompt moved into "gf"
        return text(prompt), fields.get("gf")
    stored = fields.get("gf")
    if stored is None:
        return "", None
    # the features are JSON: a newline inside them is escaped, so the first one ends them
    features, _, prompt = stored.partition(b"\n" if isinstance(stored, bytes) else "\n")
    return text(prompt), features


# How far the server's distance of two identical vectors can be from 0: float32
# rounding, or float16's (RediSearch normalises a stored vector, then rounds it to
# half precision again; measured up to 5e-5 for MiniLM vectors of the same prompt).
_SLACK = {"float32": 1e-6, "float16": 2e-4}


def within(
    rows: list[tuple[str, Any, dict[str, Any]]],
    threshold: float,
    slack: float = 1e-6,
    *,
    past: float | None = None,
) -> list[tuple[str, float, dict[str, Any]]]:
    """``(key, distance, fields)`` of the search rows within ``threshold`` (give or
    take the vector type's rounding, ``slack``), nearest first; with ``past``, only
    those farther than it (the second pass's band)."""
    out = [(key, float(text(fields.get("_d", "inf"))), fields) for key, _, fields in rows]
    out.sort(key=lambda r: r[1])
    low = -math.inf if past is None else past + slack
    return [(k, d, unpacked(f)) for k, d, f in out if low < d <= threshold + slack]


def _size_check_failed(name: str, exc: BaseException) -> None:
    # The entry is written; only the look at the size failed: a later write looks again.
    logger.warning("semantic cache %r: checking whether HNSW is due failed (%s); a later "
                   "write checks again", name, exc)  # fmt: skip


def default_name(filter_fields: Sequence[str]) -> str:
    """The cache name used when none is given: ``"semantic"``, or
    ``"semantic-by-<fields>"`` for a partitioned cache, so caches partitioned
    differently never share (and silently miss in) one index."""
    if not filter_fields:
        return "semantic"
    return "semantic-by-" + "-".join(sorted(filter_fields))


class SemanticCache(CacheStore):
    """Semantic cache of LLM responses in Redis (needs the Redis Query Engine).

    Args:
        config: connection settings (default: the process-wide config).
        embedder: core :class:`Embedder` (default: offline all-MiniLM-L6-v2); wrap a
            framework model with the adapters' ``to_core_embedder``.
        name: cache name; caches with different names never share entries. Default:
            ``"semantic"``, or ``"semantic-by-<fields>"`` with ``filter_fields`` (a
            cache of one name has one set of partition fields: reusing a name with
            other fields raises :class:`SchemaMismatchError`).
        distance_threshold: maximum **cosine distance** (0 = identical, 2 = opposite)
            at which a stored entry is served. Lower is stricter. Not a similarity.
            Default: 0.26 with the default verifier (the guards and the pair scorer;
            docs/cache-guards.md gives its precision and recall on labelled sets nobody
            tuned on), 0.22 with the guards alone (``Verifier()``), 0.05 with ``verifier=None``
            (embedding alone: 0.75 / 0.35); run ``redis-agent cache calibrate`` to choose your own.
        verifier: checks each candidate before it is served (default: the guards'
            :func:`default_verifier`); ``None`` serves the nearest candidate as is.
        respell_threshold: how far (cosine distance) a lookup that found nothing to
            serve looks again among the candidates its search returned (those the
            verifier refused, then those past ``distance_threshold``): one is served
            only when the pair, its misspelt words and short names written as the other
            side writes them ("resett pasword" / "reset password", "NASA" / "National
            Aeronautics and Space Administration"), is the same words, or is within
            ``distance_threshold`` when embedded again and passes the verifier. Default:
            0.45 with a verifier that has the pair scorer (the default one), else
            ``None``: no second pass. Costs nothing when the first pass serves; on a
            miss, for each candidate with such a word, an embedding of the rewritten
            pair and the verifier.
        band_threshold: how far past ``distance_threshold`` (cosine distance) a lookup
            that found nothing to serve, nor in its second pass, serves a candidate its
            search returned when the guards pass it and the pair scorer is surer than its
            own cut (0.95, or the ``"band_cut"`` of the scorer's ``.json``): reworded
            prompts that share an answer, a little too far for the threshold alone.
            Default: 0.45 with a verifier that has the pair scorer (the default one), else
            ``None``: no band. Costs nothing when a pass serves; on a miss, the verifier
            on each candidate of the band (a scorer run for those the guards pass).
        candidates: how many nearest entries one lookup fetches for the verifier.
        filter_fields: partition fields (e.g. ``("tenant",)``); every lookup and
            update must then give ``filters={"tenant": ...}`` and only sees its
            partition.
        algorithm: ``"auto"`` (default): a new cache starts FLAT (exact, the cheapest
            write) behind an alias and moves to HNSW in the background once HNSW answers
            faster at the recall target (the vector index's trial: from 10,000 entries,
            then at each doubling; lookups never stop, every process follows); an
            existing cache keeps the index it has. ``"hnsw"`` (approximate, fast at any
            size, ~2x the write cost) or ``"flat"`` (exact scan, slow at 100k) fix it.
        dtype: ``"float16"`` (half the vector memory) or ``"float32"``. ``None``
            (default): a new cache is float16 (cosine distances move by < 1e-4, which
            changed no served answer on 956 labelled pairs), an existing cache keeps
            the type it was created with.
        ef_runtime: HNSW search breadth; RediSearch's default of 10 gives poor recall,
            100 gives about 0.98 at 100k entries.
        m, ef_construction: HNSW graph parameters. ``ef_construction`` 64 (the vector
            index's 200 costs 2.3x per write: 703 vs 309 µs per insert at 30k 384-d
            entries here, and every miss writes one); the recall a lookup needs is
            reached through ``ef_runtime``, which the auto trial tunes.
        hybrid_policy: ``"batches"`` (default: walk HNSW and filter by scope, fast when
            one scope holds most entries) or ``"auto"`` (let RediSearch choose; better
            when many small scopes share one cache).
        ttl, on_error, log_interval, recheck_after: as in :class:`ExactCache`.
    """

    _kind = "semantic"
    # a bucket's member set in 64 parts by the id's second character (its alphabet):
    # up to ≈ 100k entries each part stays a listpack, ≈ 70 B an entry less
    _member_parts = MEMBER_PARTS

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        embedder: Embedder | None = None,
        name: str | None = None,
        distance_threshold: float | None = None,
        verifier: Verifier | None = _DEFAULT,
        respell_threshold: float | None = _DEFAULT,
        band_threshold: float | None = _DEFAULT,
        candidates: int = 4,
        filter_fields: Sequence[str] = (),
        algorithm: Literal["auto", "hnsw", "flat"] = "auto",
        dtype: Literal["float32", "float16"] | None = None,
        ef_runtime: int = 100,
        m: int = 16,
        ef_construction: int = 64,
        hybrid_policy: Literal["batches", "auto"] = "batches",
        ttl: float | None = None,
        on_error: OnError | None = None,
        log_interval: float = 60.0,
        recheck_after: float = 1.0,
    ) -> None:
        fields = tuple(filter_fields)
        for f in fields:
            canonical_filters({f: "x"})  # validates the name
        if name is None:
            name = default_name(fields)
        super().__init__(
            config,
            name=name,
            ttl=ttl,
            on_error=on_error,
            log_interval=log_interval,
            recheck_after=recheck_after,
            what=f"semantic cache {name!r}",
        )
        self.verifier = default_verifier() if verifier is _DEFAULT else verifier
        if distance_threshold is None:
            distance_threshold = default_threshold(self.verifier)
        self.distance_threshold = self.check_threshold(distance_threshold)
        if self.verifier is not None and self.distance_threshold > VERIFIED_MAX_THRESHOLD:
            raise ConfigError(
                f"distance_threshold={distance_threshold} is a cosine DISTANCE (0 = identical, "
                f"1 = unrelated): past {VERIFIED_MAX_THRESHOLD} unrelated prompts become "
                "candidates, and the guards, built to tell a near repeat from a near miss, "
                "pass some of them ('Tell me one joke' was served the answer to 'What is "
                "1+1?', 0.80 apart). For '90% similar' use 0.1; the default is "
                f"{default_threshold(self.verifier)}. To serve on the embedding alone at any "
                "distance, pass verifier=None."
            )
        self.respell_threshold = self._respell_threshold(respell_threshold)
        self.band_threshold = self._band_threshold(band_threshold)
        self._surer: Verifier | None = None  # the verifier at the band's cut, on first use
        if algorithm not in ("auto", "hnsw", "flat"):
            raise ConfigError(f"algorithm must be 'auto', 'hnsw' or 'flat', got {algorithm!r}")
        if dtype not in ("float32", "float16", None):
            raise ConfigError(f"dtype must be 'float32', 'float16' or None, got {dtype!r}")
        if not isinstance(candidates, int) or not 1 <= candidates <= 50:
            raise ConfigError(f"candidates must be an int in 1..50, got {candidates!r}")
        for value, label in ((ef_runtime, "ef_runtime"), (m, "m"), (ef_construction, "ef")):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{label} must be a positive int, got {value!r}")
        self.filter_fields = fields
        self.embedder = embedder if embedder is not None else default_embedder()
        self.candidates = candidates
        # "auto": the live algorithm, FLAT until the alias is seen pointing at HNSW
        self.auto = algorithm == "auto"
        self.algorithm = "flat" if self.auto else algorithm
        self._keys = self._ns.cache_index_keys(name)
        self._live = ""  # the index behind the alias (auto); the alias itself: a plain index
        self._checked_at = 0.0
        self._tuned: int | None = None  # the ef_runtime the HNSW trial tuned (auto)
        self._tuned_loaded = False
        self._tuned_at = 0.0
        self._view: VectorIndex | None = None  # the index as a vector index, for the trial
        self._dtype_chosen = dtype is not None  # else an existing index decides
        self._set_dtype(dtype or "float16")
        self.ef_runtime = ef_runtime
        self.m = m
        self.ef_construction = ef_construction
        self.index_name = self._ns.cache_index(name)
        self._what = f"semantic cache {name!r}"
        self._lifecycle: IndexLifecycle | None = None
        self._outages = 0  # self.faults.outages when the index was last verified
        self._filter_cache: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
        if hybrid_policy not in ("batches", "auto"):
            raise ConfigError(f"hybrid_policy must be 'batches' or 'auto', got {hybrid_policy!r}")
        self.hybrid_policy = hybrid_policy
        self._knn = self._knn_clause()

    def _knn_clause(self) -> str:
        """The KNN part of a lookup for the live algorithm (EF_RUNTIME is HNSW's only:
        a FLAT index refuses it)."""
        hnsw = self.algorithm == "hnsw"
        return knn_clause(
            self.candidates,
            "vec",
            param="v",
            ef_runtime=(self._tuned or self.ef_runtime) if hnsw else None,
            # RediSearch picks brute force over the filter's matches when the scope
            # filter matches most entries (the usual case: one model per cache),
            # 2.5x slower at 10k than walking HNSW in batches and filtering
            hybrid_policy="BATCHES" if hnsw and self.hybrid_policy == "batches" else None,
            distance_as="_d",
        )

    # -- validation and pure builders --
    def _respell_threshold(self, value: Any) -> float | None:
        """``respell_threshold`` checked against the verifier and the distance threshold
        (see the class docs); None when the second pass is off."""
        if value is _DEFAULT:
            return default_respell_threshold(self.verifier, self.distance_threshold)
        if value is not None and self.verifier is None:
            raise ConfigError(
                "respell_threshold needs a verifier: its candidates are served only when "
                "the verifier passes them respelt. Pass respell_threshold=None with "
                "verifier=None."
            )
        return self._reach(value, "respell_threshold", RESPELL_DISTANCE_THRESHOLD, "second pass")

    def _band_threshold(self, value: Any) -> float | None:
        """``band_threshold`` checked against the verifier and the distance threshold (see
        the class docs); None when the band is off."""
        if value is _DEFAULT:
            return default_band_threshold(self.verifier, self.distance_threshold)
        if value is not None and getattr(self.verifier, "scorer", None) is None:
            raise ConfigError(
                "band_threshold needs a verifier with the pair scorer (the default one): past "
                "the distance threshold only a surer scorer serves. Pass band_threshold=None "
                "with the guards alone or verifier=None."
            )
        return self._reach(value, "band_threshold", DEFAULT_BAND_THRESHOLD, "band")

    def _reach(self, value: Any, name: str, default: float, what: str) -> float | None:
        """How far past ``distance_threshold`` a later look at a lookup's rows reaches
        (``name``), checked: a cosine distance from the distance threshold to
        ``VERIFIED_MAX_THRESHOLD``; None turns it off."""
        if value is None:
            return None
        value = self.check_threshold(value)
        if not self.distance_threshold <= value <= VERIFIED_MAX_THRESHOLD:
            raise ConfigError(
                f"{name}={value} must lie between distance_threshold "
                f"({self.distance_threshold}) and {VERIFIED_MAX_THRESHOLD} (a cosine "
                f"DISTANCE); the default is {default}, None turns the {what} off."
            )
        return float(value)

    @staticmethod
    def check_threshold(value: float) -> float:
        """Validate a cosine-distance threshold (0..2)."""
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            # an int is never NaN, and math.isnan(10**400) overflows
            or (isinstance(value, float) and math.isnan(value))
        ):
            raise ConfigError(f"distance_threshold must be a number, got {value!r}")
        if value > 2:
            raise ConfigError(
                f"distance_threshold={value} looks like a similarity score or a percentage: "
                "it is a cosine DISTANCE between 0 (identical) and 2 (opposite). For "
                "'90% similar' use distance_threshold=0.1."
            )
        if value < 0:
            raise ConfigError(
                f"distance_threshold must be >= 0 (cosine distance, 0 = identical), got {value}"
            )
        return float(value)

    def _pairs(self, filters: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
        pairs = canonical_filters(filters)
        names = tuple(n for n, _ in pairs)
        if sorted(names) != sorted(self.filter_fields):
            raise ConfigError(
                f"semantic cache {self.name!r} is partitioned by {list(self.filter_fields)}: "
                f"give exactly those filters (got {list(names)}). Declare partition fields "
                "with filter_fields=... when building the cache."
            )
        return pairs

    def _filter(self, scope: str, pairs: tuple[tuple[str, str], ...]) -> str:
        key = (scope, pairs)
        cached = self._filter_cache.get(key)
        if cached is None:
            # redisvl escapes tag values, so user input cannot change the query
            expr: FilterExpression = Tag("scope") == scope
            for name, value in pairs:
                expr = expr & (Tag(name) == tag_value(value))
            cached = str(expr)
            if len(self._filter_cache) > 4096:
                self._filter_cache.clear()
            self._filter_cache[key] = cached
        return cached

    def _set_dtype(self, dtype: str) -> None:
        self.dtype = dtype
        self._np_dtype = np.float16 if dtype == "float16" else np.float32

    def _vector_bytes(self, vector: Any) -> bytes:
        arr = np.asarray(vector, dtype=np.float32).reshape(-1)
        if arr.shape[0] != self.embedder.dims:
            raise ConfigError(
                f"vector has {arr.shape[0]} dimensions; this cache's model "
                f"{self.embedder.name!r} has {self.embedder.dims}"
            )
        return arr.astype(self._np_dtype).tobytes()

    def _search_args(self, scope: str, pairs: tuple[tuple[str, str], ...], blob: bytes) -> list:
        # an auto cache queries the alias: the live index, whichever it is
        return search_command(
            self.index_name,
            self._filter(scope, pairs) + self._knn,
            return_fields=_RETURN,
            sort_by="_d",
            limit=self.candidates,
            params=("v", blob),
        )

    def index_schema(self) -> IndexSchema:
        """The redisvl schema of this cache's index (scope and partition tags, vector);
        an auto cache creates it FLAT under its own name, behind the alias."""
        tag = {"type": "tag", "attrs": {"separator": TAG_SEPARATOR, "case_sensitive": True}}
        vector: dict[str, Any] = {
            "dims": self.embedder.dims,
            "algorithm": self.algorithm,
            "distance_metric": "cosine",
            "datatype": self.dtype,
        }
        if self.algorithm == "hnsw":
            vector.update(
                m=self.m, ef_construction=self.ef_construction, ef_runtime=self.ef_runtime
            )
        return IndexSchema.from_dict(
            {
                "index": {
                    "name": self._keys.flat if self.auto else self.index_name,
                    "prefix": self._ns.cache_prefix(self.name),
                    "storage_type": "hash",
                },
                "fields": [
                    {"name": "scope", **tag},
                    *({"name": f, **tag} for f in self.filter_fields),
                    {"name": "vec", "type": "vector", "attrs": vector},
                ],
            }
        )

    @property
    def index(self) -> IndexLifecycle:
        """The lifecycle of this cache's search index (built on first use: the schema
        needs the embedder's dimensions)."""
        if self._lifecycle is None:
            self._lifecycle = IndexLifecycle(
                self.config, self.index_schema(), self._check_existing, self._what,
                alias=self.index_name if self.auto else None,
                stamp=(self._keys.state, self.embedder.name),
            )  # fmt: skip
        return self._lifecycle

    @property
    def _index_ready(self) -> bool:
        return self._lifecycle is not None and self._lifecycle.ready

    @_index_ready.setter
    def _index_ready(self, value: bool) -> None:
        self.index.ready = value

    def _check_existing(self, info: Any) -> None:
        attributes = describe_info(info)["fields"]
        found_fields = sorted(set(attributes) - {"scope", "vec"})
        if found_fields != sorted(self.filter_fields):
            # entries written under one layout are invisible to lookups of the other
            # (or, the other way round, a lookup would cross partitions)
            raise SchemaMismatchError(
                f"semantic cache {self.name!r} exists partitioned by {found_fields}, but "
                f"this cache is partitioned by {sorted(self.filter_fields)}: its writes "
                "could never be read back. Give this cache its own name= (leaving name "
                f"unset picks {default_name(self.filter_fields)!r}), or drop the old "
                f"cache (cache.drop(), or {drop_hint(self.index_name)})."
            )
        vec = attributes.get("vec", {})
        if self.auto:
            self._adopt(info, vec.get("algorithm"))
        if not self._dtype_chosen and vec.get("dtype") in ("float32", "float16"):
            # an existing cache keeps its vector type; a recreated index keeps it too
            self._set_dtype(vec["dtype"])
            self.index.schema = self.index_schema()
        want = {"dims": self.embedder.dims, "dtype": self.dtype, "algorithm": self.algorithm}
        found = {k: vec.get(k, "?") for k in want}
        if any(found[k] != v for k, v in want.items() if found[k] != "?"):
            raise SchemaMismatchError(
                f"index {self.index_name!r} exists with vectors {found}, but this cache "
                f"wants {want}. Use another name= for this model/dtype, or drop the old "
                f"cache with cache.drop() or {drop_hint(self.index_name)}."
            )

    def _adopt(self, info: Any, algorithm: Any) -> None:
        """Take the live index's algorithm (auto): FLAT, HNSW once switched, or whatever
        an existing plain index has."""
        self._live = info_name(info)
        self._checked_at = time.monotonic()
        if algorithm in ("flat", "hnsw") and algorithm != self.algorithm:
            self.algorithm = algorithm
            self._tuned_loaded = False  # read the trial's ef_runtime of the new index
            self._knn = self._knn_clause()

    def _plain(self) -> bool:
        """Whether the name is a plain index (an existing cache from before auto, or an
        explicit algorithm): it has no alias to move and stays as it is."""
        return self._live == self.index_name

    def _stale(self) -> None:
        """While FLAT, an auto cache re-reads which index is live every AUTO_RECHECK
        seconds: another process may have moved it to HNSW (lookups meanwhile go
        through the alias, so they are answered either way)."""
        if (self.auto and self.algorithm == "flat" and self._index_ready and not self._plain()
                and time.monotonic() - self._checked_at > AUTO_RECHECK):  # fmt: skip
            self.index.ready = False
        if self._outages != self.faults.outages:  # Redis was unreachable since: verify
            # the index again (a server restarted empty lost it: an update then stored
            # an entry no lookup found, and the lookup after it missed)
            self._outages = self.faults.outages
            if self._lifecycle is not None:
                self._lifecycle.ready = False
        if self.auto and self._tuned_loaded and time.monotonic() - self._tuned_at > TUNING_RECHECK:
            self._tuned_loaded = False  # the index re-tunes as it grows, in any process

    def _needs_tuning(self) -> bool:
        return self.auto and self.algorithm == "hnsw" and not self._tuned_loaded

    def _set_tuned(self, raw: Any) -> None:
        self._tuned = int(float(text(raw or 0))) or None
        self._tuned_loaded, self._tuned_at = True, time.monotonic()
        self._knn = self._knn_clause()

    def ensure_index(self) -> None:
        """Create the search index if missing (first use; later calls are free)."""
        self._stale()
        self.index.ensure()
        if self._needs_tuning():
            self._set_tuned(self.config.get_client().hget(self._keys.state, "ef_runtime"))

    async def aensure_index(self) -> None:
        """Async :meth:`ensure_index`."""
        self._stale()
        await self.index.aensure()
        if self._needs_tuning():
            client = self.config.get_async_client()
            self._set_tuned(await client.hget(self._keys.state, "ef_runtime"))

    def vector_index(self) -> VectorIndex:
        """This cache's index as an ``algorithm="auto"`` :class:`VectorIndex` (no I/O):
        the FLAT → HNSW trial is the vector index's (``pick_algorithm()`` runs it now),
        and ``measure_recall()`` states the live index's recall as a lookup needs it:
        the share of near repeats of stored prompts (half ``distance_threshold`` away)
        that find their own entry."""
        if self._view is None:
            self._view = VectorIndex(
                re.sub(r"[^A-Za-z0-9_.\-]", "_", self.name)[:128] or "cache",
                config=self.config, embedder=self.embedder, dims=self.embedder.dims,
                metadata_fields={"scope": "tag", **dict.fromkeys(self.filter_fields, "tag")},
                algorithm="auto", dtype=self.dtype, text_field="prompt", index_text=False,
                vector_field="vec", ef_runtime=self.ef_runtime, m=self.m,
                ef_construction=self.ef_construction, ttl=None,
                key_prefix=self._ns.cache_prefix(self.name), index_keys=self._keys,
            )  # fmt: skip
            # a lookup serves only within the threshold: that is the recall it needs
            self._view.recall_radius = self.distance_threshold
        return self._view

    def wait_tuning(self, *, grown: bool = False) -> dict[str, str]:
        """Wait for the FLAT -> HNSW trial or the re-tuning this cache's writes started in
        a thread, then re-tune now if due (``grown``: whenever the cache holds more
        entries than when last tuned); the next lookup reads the ``ef_runtime`` it
        chose. Returns the saved tuning (:meth:`VectorIndex.wait_tuning`)."""
        state = self.vector_index().wait_tuning(grown=grown) if self._trial_due() else {}
        # The next lookup reads which index is live (the trial may have switched it) and
        # the ef_runtime saved for it, instead of waiting for AUTO_RECHECK/TUNING_RECHECK.
        self.index.ready = False
        self._tuned_loaded = False
        return state

    def _trial_due(self) -> bool:
        """Whether a write may start the trial (FLAT) or a new tuning as the index grows
        (HNSW): an auto cache behind its alias; the vector index decides which and when."""
        return self.auto and not self._plain()

    def _written(self) -> None:
        """After a write: the vector index starts the trial in a thread when due (it
        looks at the size at most once a second while FLAT), or tunes the HNSW index
        again once it has doubled (looked at every TUNING_RECHECK seconds)."""
        if self._trial_due():
            try:
                self.vector_index()._written(1)
            except FAULTS as exc:
                _size_check_failed(self.name, exc)

    async def _awritten(self) -> None:
        """Async :meth:`_written`."""
        if self._trial_due():
            try:
                await self.vector_index()._awritten(1)
            except FAULTS as exc:
                _size_check_failed(self.name, exc)

    def _record_args(
        self,
        hit: tuple[str, float, dict[str, Any]] | None,
        rejections: list[Rejection],
        miss_digest: str,
    ) -> tuple[list[str], list[Any]]:
        counters: list[Any] = []
        for r in rejections:
            counters += [f"rejected:{r.guard}", 1]
        if hit is not None:
            key = hit[0]
            digest = key.rsplit(":", 1)[-1]
            tokens = int(text(hit[2].get("tokens") or 0) or 0)
            counters += ["hits", 1]
            if tokens:
                counters += ["tokens_saved", tokens]
        else:
            key, digest = self.entry_key(miss_digest), ""
            counters += ["misses", 1]
        b = (digest or miss_digest)[0]
        keys = [self._stats[b], self._hits[b], key]
        return keys + self._member_keys(digest) if digest else keys, [digest, *counters]

    def _recorded(
        self, hit: tuple[str, float, dict[str, Any]] | None, rejections: list[Rejection], hits: Any
    ) -> CacheHit | None:
        """The lookup's outcome once RECORD ran: an orphan (no member record) is a miss."""
        if hits == ORPHAN:
            hit = None
        result = "hit" if hit is not None else "rejected" if rejections else "miss"
        telemetry.cache_lookup("semantic", self.name, result, [r.guard for r in rejections])
        return self._hit(hit, hits) if hit is not None else None

    def _hit(self, row: tuple[str, float, dict[str, Any]], hits: Any) -> CacheHit:
        key, distance, fields = row
        return CacheHit(
            payload=text(fields.get("payload", b"")),
            prompt=stored_prompt(fields)[0],
            distance=max(0.0, distance),
            usage=parse_usage(fields.get("usage")),
            hits=int(hits or 0),
            key=key,
        )

    def _prepare(
        self, prompt: str, scope: str, filters: Mapping[str, str] | None
    ) -> tuple[tuple[tuple[str, str], ...], str]:
        check_args(prompt, scope)
        pairs = self._pairs(filters)
        return pairs, compact_digest(scope, prompt, pairs)

    def _missing_index(self, exc: Exception) -> bool:
        return self._lifecycle is not None and self._lifecycle.missing(exc)

    # -- lookup --
    def _search(self, client: Any, args: list, prompt: str) -> Any:
        """The FT.SEARCH reply of a lookup. On the fast path the guards parse ``prompt``
        while the server searches: the lookup's own checks then find it parsed, and so
        does the update that usually follows a miss (its write stores the features)."""
        lease = self._fast.lease(client)
        if lease is not None:
            prepare = getattr(self.verifier, "prepare", None) if self._stores_features() else None
            reply = lease.call(
                pack_commands([args]), (lambda: prepare(prompt)) if prepare is not None else None
            )
            if reply is not FALLBACK:
                return reply
        return client.execute_command(*args)

    async def _asearch(self, client: Any, args: list, prompt: str) -> Any:
        """Async :meth:`_search`: on the fast path the parse runs once the search is
        written, before its reply is awaited (as in sync); otherwise the search runs as
        a task, sent before the parse."""
        prepare = getattr(self.verifier, "prepare", None) if self._stores_features() else None
        lease = self._afast.lease(client)
        if lease is not None:
            reply = await lease.call(
                pack_commands([args]), (lambda: prepare(prompt)) if prepare is not None else None
            )
            if reply is not FALLBACK:
                return reply
        if prepare is None:
            return await client.execute_command(*args)
        search = asyncio.ensure_future(client.execute_command(*args))
        try:
            await asyncio.sleep(0)  # the task sends the query and waits for the reply
            prepare(prompt)
        except BaseException:  # cancelled meanwhile, or the parse failed: no orphan task
            search.cancel()
            raise
        return await search

    def _probe_call(
        self, prompt: str, scope: str, filters: Mapping[str, str] | None
    ) -> tuple[str, list[str]]:
        _, digest = self._prepare(prompt, scope, filters)
        b = digest[0]
        keys = [self.entry_key(digest), self._stats[b], self._hits[b]]
        return digest, keys + self._member_keys(digest)

    def lookup_exact(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """The entry stored for exactly this prompt (same scope and filters), or ``None``:
        one round trip, no embedding, no search. A first tier before :meth:`lookup`:
        a hit is counted, a miss is not (the semantic lookup that follows counts it).
        """
        digest, keys = self._probe_call(prompt, scope, filters)
        if not self.faults.available():
            return None
        try:
            reply = self._script(self.config.get_client(), PROBE, keys, [digest])
        except FAULTS as exc:
            return self._lookup_failed(exc, keys, digest, prompt)
        self.faults.ok()
        return parse_lookup(reply, prompt, keys[0])

    async def alookup_exact(
        self, prompt: str, scope: str, *, filters: Mapping[str, str] | None = None
    ) -> CacheHit | None:
        """Async :meth:`lookup_exact`."""
        digest, keys = self._probe_call(prompt, scope, filters)
        if not self.faults.available():
            return None
        try:
            reply = await self._ascript(self.config.get_async_client(), PROBE, keys, [digest])
        except FAULTS as exc:
            return await self._alookup_failed(exc, keys, digest, prompt)
        self.faults.ok()
        return parse_lookup(reply, prompt, keys[0])

    @telemetry.traced("cache", "lookup")
    def lookup(
        self,
        prompt: str,
        scope: str,
        *,
        filters: Mapping[str, str] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
    ) -> CacheHit | None:
        """The nearest entry of this scope (and partition) within the distance
        threshold that the verifier accepts, or ``None``.

        ``vector``: the prompt's embedding if you already have it (skips the model).
        """
        pairs, digest = self._prepare(prompt, scope, filters)
        if not self.faults.available():
            return None
        if vector is None:
            # a prompt is compared with stored prompts, not with passages: both sides use
            # the same (document) form, so entries written before stay comparable
            vector = self.embedder.embed([prompt])[0]
        dtype = self.dtype
        blob = self._vector_bytes(vector)  # a wrong dimension raises before any I/O
        client = self.config.get_client()
        try:
            self.ensure_index()
            if self.dtype != dtype:  # an existing index has another vector type: use it
                blob = self._vector_bytes(vector)
            found = search_rows(
                self._search(client, self._search_args(scope, pairs, blob), prompt)
            )[1]
            rows = within(found, self.distance_threshold, _SLACK[self.dtype])
            chosen, rejections = None, []
            for row in rows:
                rejection = None
                if self.verifier is not None:
                    candidate = self._candidate(row)
                    rejection = self.verifier.verify(prompt, candidate)
                    spans = long_spans(prompt, candidate) if rejection is None else None
                    if spans is not None:
                        rejection = self._span_rejection(self.embedder.embed(list(spans)))
                if rejection is None:
                    chosen = row
                    break
                rejections.append(rejection)
            if chosen is None and self.respell_threshold is not None:
                chosen = self._respelt_hit(prompt, rows + self._far(found))
                rejections = _unserved(rows, rejections, chosen)
            if chosen is None and self.band_threshold is not None:
                chosen = self._band_hit(prompt, self._band(found))
            keys, args = self._record_args(chosen, rejections, digest)
            try:
                hits = self._script(client, RECORD, keys, args)
            except REFUSED as exc:  # full or read-only: serve the hit uncounted
                self.faults.failed("recording a lookup", exc)
                hits = 0
        except FAULTS as exc:
            self.faults.failed("lookup", exc)
            return None
        except REPLY as exc:
            if self._missing_index(exc):
                return None
            if is_search_timeout(exc):  # ON_TIMEOUT FAIL: a fault like any timeout
                self.faults.failed("lookup", exc)
                return None
            raise
        self.faults.ok()
        return self._recorded(chosen, rejections, hits)

    @telemetry.traced("cache", "lookup")
    async def alookup(
        self,
        prompt: str,
        scope: str,
        *,
        filters: Mapping[str, str] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
    ) -> CacheHit | None:
        """Async :meth:`lookup`."""
        pairs, digest = self._prepare(prompt, scope, filters)
        if not self.faults.available():
            return None
        if vector is None:
            vector = (await self.embedder.aembed([prompt]))[0]
        dtype = self.dtype
        blob = self._vector_bytes(vector)  # a wrong dimension raises before any I/O
        client = self.config.get_async_client()
        try:
            await self.aensure_index()
            if self.dtype != dtype:  # an existing index has another vector type: use it
                blob = self._vector_bytes(vector)
            reply = await self._asearch(client, self._search_args(scope, pairs, blob), prompt)
            found = search_rows(reply)[1]
            rows = within(found, self.distance_threshold, _SLACK[self.dtype])
            chosen, rejections = None, []
            for row in rows:
                rejection = None
                if self.verifier is not None:
                    candidate = self._candidate(row)
                    rejection = await self.verifier.averify(prompt, candidate)
                    spans = long_spans(prompt, candidate) if rejection is None else None
                    if spans is not None:
                        vectors = await self.embedder.aembed(list(spans))
                        rejection = self._span_rejection(vectors)
                if rejection is None:
                    chosen = row
                    break
                rejections.append(rejection)
            if chosen is None and self.respell_threshold is not None:
                chosen = await self._arespelt_hit(prompt, rows + self._far(found))
                rejections = _unserved(rows, rejections, chosen)
            if chosen is None and self.band_threshold is not None:
                chosen = await self._aband_hit(prompt, self._band(found))
            keys, args = self._record_args(chosen, rejections, digest)
            try:
                hits = await self._ascript(client, RECORD, keys, args)
            except REFUSED as exc:  # full or read-only: serve the hit uncounted
                self.faults.failed("recording a lookup", exc)
                hits = 0
        except FAULTS as exc:
            self.faults.failed("lookup", exc)
            return None
        except REPLY as exc:
            if self._missing_index(exc):
                return None
            if is_search_timeout(exc):  # ON_TIMEOUT FAIL: a fault like any timeout
                self.faults.failed("lookup", exc)
                return None
            raise
        self.faults.ok()
        return self._recorded(chosen, rejections, hits)

    # -- update --
    def _update_args(
        self,
        prompt: str,
        scope: str,
        payload: str,
        usage: Mapping[str, Any] | None,
        ttl: float | None,
        prepared: tuple[tuple[tuple[str, str], ...], str],
        vector: Any,
    ) -> tuple[list[str], list[Any]]:
        blob = self._vector_bytes(vector)  # for this cache's vector type
        pairs, digest = prepared  # from _prepare: the filters and the entry's digest
        return self._update_call(
            digest,
            prompt,
            scope,
            payload,
            usage=usage,
            ttl=ttl,
            filters=tuple((name, tag_value(value)) for name, value in pairs),
            extra=[("vec", blob)],
        )

    def _stores_features(self) -> bool:
        """Whether entries store the verifier's analysis of their prompt."""
        verifier = self.verifier
        return bool(verifier is not None and getattr(verifier, "guards", None)
                    and hasattr(verifier, "features_of"))  # fmt: skip

    def _entry_fields(
        self, prompt: str, scope: str, payload: str, usage: Mapping[str, Any] | None
    ) -> list[Any]:
        """The scope and one packed field (:func:`.entry.pack`) of payload, usage, the
        verifier's analysis of the prompt when it has one, and the prompt. The analysis
        is stored so that lookups in any process read it instead of parsing the stored
        prompt again (a lookup of the same prompt just before, the usual miss, parsed it
        already)."""
        features = b""
        if self._stores_features():
            features = self.verifier.features_of(prompt)  # type: ignore[union-attr]
            if isinstance(features, str):  # a verifier of one's own may give text
                features = features.encode()
            if b"\n" in features:  # not JSON (ours never holds one): fields of their own
                return [*super()._entry_fields(prompt, scope, payload, usage), "gf", features]
        # check_args and _update_call checked that prompt and payload encode
        data = pack(
            prompt.encode(),
            payload.encode(),
            usage_json(usage),
            total_tokens(usage),
            features,
        )
        return ["scope", scope, PACKED, data]

    def _span_rejection(self, vectors: np.ndarray) -> Rejection | None:
        """Refuse two long prompts whose differing parts (``vectors``: the embeddings of
        :func:`.respell_pass.long_spans`) are not within the threshold.

        A shared context (a RAG template, a system prompt, pasted text) dominates a
        long prompt's embedding, and past the model's window (256 tokens) two prompts
        that differ only after it get one vector: "Who is the CEO?" and "How much did
        revenue grow?" after the same passage were 0.16 apart at 57 words and 0.0 at
        200. So where the guards narrowed the pair to the words it differs by, those
        spans are embedded (by the caller: the async path off the loop) and held to the
        distance threshold too.
        """
        distance = pair_distance(vectors)
        if distance <= self.distance_threshold:
            return None
        return Rejection(
            "span",
            f"the parts the prompts differ by are {distance:.2f} apart (threshold "
            f"{self.distance_threshold}): a shared context made the whole prompts near",
        )

    def _far(
        self, found: list[tuple[str, Any, dict[str, Any]]]
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """The rows of a lookup's search past the distance threshold, within the
        second pass's: the search fetched the ``candidates`` nearest whatever their
        distance, so the second pass needs no query of its own."""
        if self.respell_threshold is None or self.respell_threshold <= self.distance_threshold:
            return []
        return within(
            found, self.respell_threshold, _SLACK[self.dtype], past=self.distance_threshold
        )

    def _respelt_hit(
        self, prompt: str, rows: list[tuple[str, float, dict[str, Any]]]
    ) -> tuple[str, float, dict[str, Any]] | None:
        """The first of ``rows`` (the candidates the first pass refused, then those past
        the distance threshold) that the second pass serves (:func:`.respell_pass.respell`:
        the decision ``cache evaluate`` / ``calibrate`` make too)."""
        assert self.verifier is not None  # (checked with respell_threshold)
        t = self.distance_threshold
        for row in rows:
            found = respell(prompt, self._candidate(row), self.embedder, self.verifier, t)
            if found is not None and found.serves(t):
                return row
        return None

    async def _arespelt_hit(
        self, prompt: str, rows: list[tuple[str, float, dict[str, Any]]]
    ) -> tuple[str, float, dict[str, Any]] | None:
        """Async :meth:`_respelt_hit`."""
        assert self.verifier is not None  # (checked with respell_threshold)
        t = self.distance_threshold
        for row in rows:
            found = await arespell(prompt, self._candidate(row), self.embedder, self.verifier, t)
            if found is not None and found.serves(t):
                return row
        return None

    def _band(
        self, found: list[tuple[str, Any, dict[str, Any]]]
    ) -> list[tuple[str, float, dict[str, Any]]]:
        """The rows of a lookup's search past the distance threshold, within the band."""
        if self.band_threshold is None or self.band_threshold <= self.distance_threshold:
            return []
        return within(found, self.band_threshold, _SLACK[self.dtype], past=self.distance_threshold)

    def _band_verifier(self) -> Verifier:
        """The verifier with its scorer at the band's cut (built on first use: the cut may
        be read from the scorer's ``.json``)."""
        if self._surer is None:
            assert self.verifier is not None  # (checked with band_threshold)
            self._surer = band_verifier(self.verifier)
        return self._surer

    def _band_hit(
        self, prompt: str, rows: list[tuple[str, float, dict[str, Any]]]
    ) -> tuple[str, float, dict[str, Any]] | None:
        """The first of ``rows`` (past the distance threshold, within the band) that the
        band serves (:func:`.band_pass.band_rejection`: the decision ``cache evaluate`` /
        ``calibrate`` make too)."""
        assert self.band_threshold is not None
        for row in rows:
            candidate, surer = self._candidate(row), self._band_verifier()
            found = band_rejection(prompt, candidate, self.embedder, surer, self.band_threshold)
            if found is None:
                return row
        return None

    async def _aband_hit(
        self, prompt: str, rows: list[tuple[str, float, dict[str, Any]]]
    ) -> tuple[str, float, dict[str, Any]] | None:
        """Async :meth:`_band_hit`."""
        assert self.band_threshold is not None
        for row in rows:
            candidate, surer = self._candidate(row), self._band_verifier()
            found = await aband_rejection(
                prompt, candidate, self.embedder, surer, self.band_threshold
            )
            if found is None:
                return row
        return None

    def _candidate(self, row: tuple[str, float, dict[str, Any]]) -> str:
        """A candidate's prompt, its stored guard features handed to the verifier."""
        prompt, features = stored_prompt(row[2])
        remember = getattr(self.verifier, "remember", None)
        if remember is not None:
            remember(prompt, features)
        return prompt

    @telemetry.traced("cache", "update")
    def update(
        self,
        prompt: str,
        scope: str,
        payload: str,
        *,
        usage: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
    ) -> bool:
        """Embed ``prompt`` and store ``payload`` for it in this scope (one script call:
        entry and TTL together). Returns ``False`` when skipped because Redis is down."""
        prepared = self._prepare(prompt, scope, filters)  # validate before embedding
        if not self.faults.writable():
            return False
        if vector is None:
            vector = self.embedder.embed([prompt])[0]
        # every argument is checked here, before anything is sent
        dtype = self.dtype
        keys, args = self._update_args(prompt, scope, payload, usage, ttl, prepared, vector)
        try:
            self.ensure_index()
        except FAULTS as exc:
            self.faults.failed("update", exc)
            return False
        if self.dtype != dtype:  # an existing index has another vector type: use it
            keys, args = self._update_args(prompt, scope, payload, usage, ttl, prepared, vector)
        written = self._write(keys, args)
        if written:
            self._written()
        return written

    @telemetry.traced("cache", "update")
    async def aupdate(
        self,
        prompt: str,
        scope: str,
        payload: str,
        *,
        usage: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        filters: Mapping[str, str] | None = None,
        vector: Sequence[float] | np.ndarray | None = None,
    ) -> bool:
        """Async :meth:`update`."""
        prepared = self._prepare(prompt, scope, filters)
        if not self.faults.writable():
            return False
        if vector is None:
            vector = (await self.embedder.aembed([prompt]))[0]
        # every argument is checked here, before anything is sent
        dtype = self.dtype
        keys, args = self._update_args(prompt, scope, payload, usage, ttl, prepared, vector)
        try:
            await self.aensure_index()
        except FAULTS as exc:
            self.faults.failed("update", exc)
            return False
        if self.dtype != dtype:  # an existing index has another vector type: use it
            keys, args = self._update_args(prompt, scope, payload, usage, ttl, prepared, vector)
        written = await self._awrite(keys, args)
        if written:
            await self._awritten()
        return written

    def drop(self) -> None:
        """Delete the index (and the FLAT / HNSW indexes behind an auto cache's alias),
        the entries, the counters and the trial's state of this cache."""
        self.clear()
        self.index.drop()
        client = self.config.get_client()
        with translate_errors(self.config, f"dropping {self._what}"):
            for name in (self._keys.flat, self._keys.hnsw):
                run(client.execute_command, drop_flow(name, delete_documents=False))
            client.delete(self._keys.lock, self._keys.state)
        self._reset_live()

    async def adrop(self) -> None:
        """Async :meth:`drop`."""
        await self.aclear()
        await self.index.adrop()
        client = self.config.get_async_client()
        with translate_errors(self.config, f"dropping {self._what}"):
            for name in (self._keys.flat, self._keys.hnsw):
                await arun(client.execute_command, drop_flow(name, delete_documents=False))
            await client.delete(self._keys.lock, self._keys.state)
        self._reset_live()

    def _reset_live(self) -> None:
        """Forget the live index: a cache made again starts as a new one."""
        self._live, self._view, self._tuned, self._tuned_loaded = "", None, None, False
        if self.auto:
            self.algorithm = "flat"
            self._knn = self._knn_clause()
