"""Recall you can state: :class:`IndexRecall` measures how many of the exact nearest
neighbours an index's answer holds, and tunes HNSW's ``ef_runtime`` to the smallest
value reaching a recall target. The tuned value is kept in Redis beside the index
(``<ns>:vec:<name>:recall``) and used by every query that does not pass its own."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

from ..config import RAW_REPLY, RedisAgentConfig
from ..errors import ConfigError
from ..keys import unescape_part
from ..redis_errors import translate_errors
from ..search.lifecycle import namespace_indexes
from ..search.replies import search_keys, search_rows
from . import query as q
from .checks import check_k, check_target
from .queries import IndexQueries
from .queries import tuning_state as _state
from .schema import DEFAULT_RECALL_TARGET

__all__ = [
    "EF_LADDER",
    "IndexRecall",
    "RecallReport",
    "near_bounds",
    "recall_at_k",
    "saved_tunings",
]

# ef_runtime values tried, smallest first; a hit is then narrowed by bisection.
EF_LADDER = (10, 20, 40, 80, 160, 320, 640, 1280, 2560)
DEFAULT_GROWTH = 2.0  # re-tune once the index holds this many times the tuned size


def _check_growth(growth: object) -> float:
    """``growth`` as a float >= 1 (1: re-tune whenever the index did not shrink), else
    :class:`ConfigError`: 0 re-tuned on every call and NaN never did."""
    if not isinstance(growth, bool) and isinstance(growth, (int, float)):
        try:
            value = float(growth)
        except OverflowError:  # an int beyond float range
            value = float("inf")
        if 1.0 <= value < float("inf"):
            return value
    raise ConfigError(
        f"growth must be a finite number >= 1 (the index's size over its size when last "
        f"tuned; default {DEFAULT_GROWTH:g}), got {growth!r}"
    )


DEFAULT_SAMPLE = 100  # stored vectors a measurement or tuning uses as queries
# Near repeats (recall_radius) each find their entry or not: shares of 0 or 1, whose
# spread is wide. Over 100 the 95 % lower bound reaches 0.95 only with 2 misses or
# fewer (an observed 0.98); over 400 it sits 0.015 below a mean of 0.965. They need no
# exact search (their own entry is the answer), so 400 cost less than 100 did with one.
NEAR_SAMPLE = 400
# Tuning on near repeats (tune_recall with recall_radius and no sample given) is a
# sequential test: each ef_runtime is judged on the first 400 near repeats, then 1,600,
# then 6,400, stopping as soon as it is decided. It passes when the share found is at least
# target + Z_PASS standard errors of a share of ``target`` over that many, and never on
# the first 400 alone (2.0 at every look keeps a false pass at ~5 % for a true recall of
# exactly the target, simulated; a lucky first 400 passed ef 140, true recall 0.949, in
# 1 of 10 tunings); it fails early when even Z_FAIL errors above the share miss the
# target. One look at 400 with the bound over the observed share picked ef_runtime 110 to
# 600 on one 100k cache (12 seeds; the curve is flat: 0.94 at 120, 0.97 at 240).
NEAR_LOOKS = (400, 1_600, 6_400)
Z_PASS = 2.0
Z_FAIL = 1.645
MIN_PASS = 1_600  # near repeats an ef_runtime must be judged on to pass


class _Sample(NamedTuple):
    own: list[str]  # the keys of the stored vectors used as queries
    vecs: list[bytes]
    exact: list[list[str]]  # their exact k nearest neighbours (themselves left out)
    size: int  # documents in the index


@dataclass(frozen=True)
class RecallReport:
    """What :meth:`IndexRecall.measure_recall` / :meth:`IndexRecall.tune_recall` found.

    ``recall`` is the mean share of the exact ``k`` nearest neighbours found by the
    index at ``ef_runtime`` (None on FLAT: always exact), over ``sample`` stored
    vectors used as queries, when the index held ``size`` documents. ``reached`` says
    whether ``recall >= target`` (None when no target was asked)."""

    recall: float
    k: int
    sample: int
    size: int
    algorithm: str
    ef_runtime: int | None
    target: float | None = None
    reached: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recall_at_k(found: Sequence[Sequence[str]], exact: Sequence[Sequence[str]]) -> float:
    """Mean of ``|found_i & exact_i| / |exact_i|`` (1.0 when there is nothing to find)."""
    return recall_bounds(found, exact)[0]


def recall_bounds(
    found: Sequence[Sequence[str]], exact: Sequence[Sequence[str]]
) -> tuple[float, float]:
    """``(mean, lower)``: the recall and a one-sided 95 % lower bound of it (mean minus
    1.645 standard errors over the queries). Tuning asks the bound to reach the target,
    so a value that only just reaches it on this sample is not taken."""
    shares = [len(set(f) & set(e)) / len(e) for f, e in zip(found, exact, strict=True) if e]
    if not shares:
        return 1.0, 1.0
    mean = float(np.mean(shares))
    sem = float(np.std(shares, ddof=1) / np.sqrt(len(shares))) if len(shares) > 1 else 0.0
    return mean, mean - 1.645 * sem


def near_bounds(found: Sequence[bool], target: float) -> tuple[float, float, bool]:
    """``(share, lower, decided)`` of near repeats that found their own entry, judged
    against ``target``: ``lower`` is the share minus ``Z_PASS`` standard errors of a share
    of ``target`` over ``len(found)`` (it reaches ``target`` exactly when the test
    passes); ``decided`` whether the test passed (on ``MIN_PASS`` or more) or clearly
    failed (share plus ``Z_FAIL`` errors below ``target``): no further look is needed."""
    n = len(found)
    if not n:
        return 1.0, 1.0, True
    share = sum(found) / n
    se = float(np.sqrt(target * (1 - target) / n))
    lower = share - Z_PASS * se
    return share, lower, (lower >= target and n >= MIN_PASS) or share + Z_FAIL * se < target


def _check_sample(sample: int) -> int:
    if isinstance(sample, bool) or not isinstance(sample, int) or not 1 <= sample <= 10_000:
        raise ConfigError(f"sample must be an int within [1, 10000], got {sample!r}")
    return sample


def _next_ef(tried: dict[int, tuple[float, float]], target: float) -> int | None:
    """The next ``ef_runtime`` to measure, or None when the answer is known: up the
    ladder until the target is reached (by the lower bound), then bisect between the
    last miss and the hit."""
    hits = [ef for ef, (_, low) in tried.items() if low >= target]
    if not hits:
        higher = [ef for ef in EF_LADDER if ef > max(tried, default=0)]
        return higher[0] if higher else None
    best = min(hits)
    below = [ef for ef, (_, lo) in tried.items() if ef < best and lo < target]
    low = max(below, default=None)
    if low is None or best - low <= max(2, best // 10):
        return None
    return (low + best) // 2


def _pick(tried: dict[int, tuple[float, float]], target: float) -> tuple[int, float]:
    """The smallest ``ef_runtime`` whose lower bound reaches ``target`` (else the
    largest tried) and its recall."""
    hits = [ef for ef, (_, low) in tried.items() if low >= target]
    ef = min(hits) if hits else max(tried)
    return ef, tried[ef][0]


def near_repeats(vecs: np.ndarray, distance: float, rng: np.random.Generator) -> np.ndarray:
    """Each row turned by a random direction to cosine ``distance`` from itself (a
    prompt asked again in other words, as a cache sees it)."""
    v = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    u = rng.standard_normal(v.shape)
    u -= np.sum(u * v, axis=1, keepdims=True) * v  # orthogonal to its row
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cos = 1.0 - distance
    return (cos * v + np.sqrt(max(0.0, 1.0 - cos * cos)) * u).astype(np.float32)


class IndexRecall(IndexQueries):
    """Measure recall and tune ``ef_runtime`` to a target (sync and asyncio).

    ``recall_radius`` (None by default) is for an index read only within a distance, as
    the semantic cache reads its own (its distance threshold): the sample queries are
    then stored vectors turned to half that distance (near repeats: a prompt asked again
    in other words), and the recall is the share of them whose own document is among the
    answers, the entry a lookup must find to serve the right answer. Its exact
    neighbours, all far on random-like data, are not what a lookup serves; neither is an
    exact search needed (~36 ms of server CPU a query at 100k entries, scanning them
    all), so the default sample is ``NEAR_SAMPLE``."""

    recall_radius: float | None = None

    # -- pure parts --
    def _sample_size(self, sample: int | None) -> int:
        """``sample``, checked; None: ``NEAR_SAMPLE`` near repeats with ``recall_radius``,
        else ``DEFAULT_SAMPLE`` stored vectors."""
        if sample is None:
            return DEFAULT_SAMPLE if self.recall_radius is None else NEAR_SAMPLE
        return _check_sample(sample)

    def _tune_size(self, sample: int | None) -> int:
        """The stored vectors tuning fetches: the last of ``NEAR_LOOKS`` for near repeats
        when no sample was given (most ef_runtime values are decided on fewer)."""
        if self.recall_radius is not None and sample is None:
            return NEAR_LOOKS[-1]
        return self._sample_size(sample)

    def _sample_commands(self, size: int, sample: int, rng: random.Random) -> list[list[Any]]:
        """Up to 10 pages (40 above 100 vectors), one at a random offset in each of as
        many equal stretches of the index: spread over it, cheap to list, not overlapping
        while the stretches hold a page. HNSW finds its older entries more easily: 10
        pages of 40 anywhere made a 400-vector estimate swing by +-0.01."""
        pages = min(10 if sample <= 100 else 40, sample)
        per = -(-sample // pages)
        stretch = size // pages
        return [q.filter_command(self.index_name, self.schema, "*", vectors=True, limit=per,
                                 offset=i * stretch + rng.randint(0, max(0, stretch - per))
                                 if stretch >= per else rng.randint(0, max(0, size - per)))
                for i in range(pages)]  # fmt: skip

    def _sample_vectors(self, replies: list[Any], sample: int) -> tuple[list[str], list[bytes]]:
        # keyed by the raw key, as search replies give them: a layout whose keys are
        # not prefix + escaped id (the semantic cache's) would not round-trip an id
        hits = {q.text_of(row[0]): h for r in replies
                for row, h in zip(search_rows(r)[1], self._hits(r), strict=True)
                if h.vector is not None}  # fmt: skip
        keys = list(hits)
        random.Random(len(keys)).shuffle(keys)  # a look at the first n spans every page
        keys = keys[:sample]
        return keys, [q.vector_bytes(self.schema, hits[key].vector, stored=True) for key in keys]

    def _ann_commands(self, vecs: list[bytes], k: int, ef: int | None) -> list[list[Any]]:
        return [q.knn_command(self.index_name, self.schema, v, k + 1, "*", ef_runtime=ef,
                              ids_only=True) for v in vecs]  # fmt: skip

    def _exact_commands(self, vecs: list[bytes], k: int) -> list[list[Any]]:
        return [q.exact_knn_command(self.index_name, self.schema, v, k + 1) for v in vecs]

    def _queries(self, vecs: list[bytes], radius: float, seed: int | None) -> list[bytes]:
        """Near repeats of the sampled stored vectors, at half ``radius``."""
        if not vecs:
            return vecs
        if self.schema.metric != "cosine":
            raise ConfigError("recall_radius needs a cosine index")
        rows = np.stack([np.frombuffer(v, dtype=self.schema.numpy_dtype) for v in vecs])
        moved = near_repeats(rows.astype(np.float32), radius / 2,
                             np.random.default_rng(seed))  # fmt: skip
        return [q.vector_bytes(self.schema, row, stored=True) for row in moved]

    def _recall_report(self, recall: float, k: int, n: int, size: int, ef: int | None,
                target: float | None) -> RecallReport:  # fmt: skip
        hnsw = self.schema.algorithm == "hnsw"
        return RecallReport(
            recall=round(recall, 4), k=k, sample=n, size=size, algorithm=self.schema.algorithm,
            ef_runtime=max(ef or self.schema.ef_runtime, k) if hnsw else None, target=target,
            reached=None if target is None else recall >= target,
        )  # fmt: skip

    def _save_mapping(self, report: RecallReport) -> dict[Any, Any]:
        return {"ef_runtime": report.ef_runtime or 0, "recall": report.recall,
                "size": report.size, "sample": report.sample, "target": report.target or 0,
                "reached": int(bool(report.reached))}  # fmt: skip

    # -- sync --
    def _pipeline(self, commands: list[list[Any]]) -> list[Any]:
        with translate_errors(self.config, f"measuring the recall of {self.name!r}"):
            pipe = self.config.get_client().pipeline(transaction=False)
            for c in commands:
                pipe.execute_command(*c, **RAW_REPLY)  # the sampled vectors
            return list(pipe.execute())

    def _ids(self, replies: list[Any], own: list[str], k: int) -> list[list[str]]:
        """The neighbours each query found, without the query's own document: a stored
        vector is always its own nearest, which would flatter the recall."""
        found = [search_keys(r)[1] for r in replies]  # (total, keys, expired): the keys
        if self.recall_radius is not None:  # a near repeat: its own document is the answer
            return [f[:k] for f in found]
        return [[x for x in f if x != key][:k] for f, key in zip(found, own, strict=True)]

    def _measure(self, sample: int, k: int, seed: int | None) -> _Sample:
        size = self.count()
        if size == 0:
            return _Sample([], [], [], 0)
        replies = self._pipeline(self._sample_commands(size, sample, random.Random(seed)))
        own, vecs = self._sample_vectors(replies, sample)
        if self.recall_radius is not None:  # near repeats: each one's own entry
            near = self._queries(vecs, self.recall_radius, seed)
            return _Sample(own, near, [[key] for key in own], size)
        exact = self._ids(self._pipeline(self._exact_commands(vecs, k)), own, k)
        return _Sample(own, vecs, exact, size)

    def _recall(self, s: _Sample, k: int, ef: int | None) -> tuple[float, float]:
        replies = self._pipeline(self._ann_commands(s.vecs, k, ef))
        return recall_bounds(self._ids(replies, s.own, k), s.exact)

    def _looks(self, s: _Sample, sample: int | None) -> tuple[int, ...]:
        """The sample sizes tuning judges an ef_runtime on: ``NEAR_LOOKS`` for near
        repeats when no sample was given, else all of it at once."""
        if self.recall_radius is not None and sample is None:
            return tuple(min(n, len(s.vecs)) for n in NEAR_LOOKS)
        return (len(s.vecs),)

    def _judge(self, found: list[bool], s: _Sample, k: int, replies: list[Any],
               start: int, target: float) -> tuple[float, float, bool]:  # fmt: skip
        end = start + len(replies)
        ids = self._ids(replies, s.own[start:end], k)
        found += [bool(set(f) & set(e)) for f, e in zip(ids, s.exact[start:end], strict=True)]
        return near_bounds(found, target)

    def _recall_seq(
        self, s: _Sample, k: int, ef: int, target: float, looks: tuple[int, ...]
    ) -> tuple[tuple[float, float], int]:
        """``(share, lower), n``: the sequential test of ``ef`` (near repeats), stopped
        at the first look that decides it."""
        if self.recall_radius is None or len(looks) == 1:
            return self._recall(s, k, ef), len(s.vecs)
        found: list[bool] = []
        share, lower = 1.0, 1.0
        for n in looks:
            start = len(found)
            if n > start:
                replies = self._pipeline(self._ann_commands(s.vecs[start:n], k, ef))
                share, lower, decided = self._judge(found, s, k, replies, start, target)
                if decided:
                    break
        return (share, lower), len(found)

    def measure_recall(
        self, *, sample: int | None = None, k: int = 10, ef_runtime: int | None = None,
        seed: int | None = None,
    ) -> RecallReport:  # fmt: skip
        """Recall@``k`` of the index's answers against the exact nearest neighbours, over
        ``sample`` stored vectors used as queries (default 100; with ``recall_radius``,
        the share of 400 near repeats finding their own entry) at ``ef_runtime``
        (default: what a query would use)."""
        k, sample = check_k(k), self._sample_size(sample)
        ef = self._ef(ef_runtime)
        s = self._measure(sample, k, seed)
        return self._recall_report(self._recall(s, k, ef)[0], k, len(s.vecs), s.size, ef, None)

    def tune_recall(
        self, target: float | None = None, *, sample: int | None = None, k: int = 10,
        seed: int | None = None,
    ) -> RecallReport:  # fmt: skip
        """Find the smallest ``ef_runtime`` whose recall@``k`` reaches ``target`` (default:
        ``recall_target``), save it beside the index and use it for queries from now on.
        When no ``ef_runtime`` up to 2,560 reaches it (random-like data), the largest
        is kept and the report says ``reached=False``."""
        target = check_target(self.recall_target if target is None else target)
        target = DEFAULT_RECALL_TARGET if target is None else target
        k, given = check_k(k), sample
        s = self._measure(self._tune_size(sample), k, seed)
        if self.schema.algorithm != "hnsw" or not s.vecs:
            return self._recall_report(1.0, k, len(s.vecs), s.size, None, target)
        looks = self._looks(s, given)
        tried: dict[int, tuple[float, float]] = {}
        used: dict[int, int] = {}
        while (ef := _next_ef(tried, target)) is not None:
            tried[ef], used[ef] = self._recall_seq(s, k, ef, target, looks)
        ef, recall = _pick(tried, target)
        report = self._recall_report(recall, k, used[ef], s.size, ef, target)
        with translate_errors(self.config, f"saving the tuned ef_runtime of {self.name!r}"):
            self.config.get_client().hset(self.recall_key, mapping=self._save_mapping(report))
        self._tuned, self._tuned_loaded = report.ef_runtime, True
        return report

    def ensure_recall(
        self, *, growth: float = DEFAULT_GROWTH, **kwargs: Any
    ) -> RecallReport | None:
        """Tune when never tuned or when the index has grown ``growth`` times since; None
        when the saved tuning still holds (or ``recall_target`` is None). ``growth``: a
        finite number >= 1, else :class:`ConfigError`."""
        growth = _check_growth(growth)
        if self.recall_target is None or self.schema.algorithm != "hnsw":
            return None
        with translate_errors(self.config, f"reading the tuning of {self.name!r}"):
            state = _state(self.config.get_client().hgetall(self.recall_key))
        if state and self.count() < float(state.get("size", 0)) * growth:
            return None
        return self.tune_recall(**kwargs)

    # -- async --
    async def _apipeline(self, commands: list[list[Any]]) -> list[Any]:
        with translate_errors(self.config, f"measuring the recall of {self.name!r}"):
            pipe = self.config.get_async_client().pipeline(transaction=False)
            for c in commands:
                pipe.execute_command(*c, **RAW_REPLY)  # the sampled vectors
            return list(await pipe.execute())

    async def _ameasure(self, sample: int, k: int, seed: int | None) -> _Sample:
        size = await self.acount()
        if size == 0:
            return _Sample([], [], [], 0)
        replies = await self._apipeline(self._sample_commands(size, sample, random.Random(seed)))
        own, vecs = self._sample_vectors(replies, sample)
        if self.recall_radius is not None:  # near repeats: each one's own entry
            near = self._queries(vecs, self.recall_radius, seed)
            return _Sample(own, near, [[key] for key in own], size)
        exact = self._ids(await self._apipeline(self._exact_commands(vecs, k)), own, k)
        return _Sample(own, vecs, exact, size)

    async def _arecall(self, s: _Sample, k: int, ef: int | None) -> tuple[float, float]:
        replies = await self._apipeline(self._ann_commands(s.vecs, k, ef))
        return recall_bounds(self._ids(replies, s.own, k), s.exact)

    async def _arecall_seq(
        self, s: _Sample, k: int, ef: int, target: float, looks: tuple[int, ...]
    ) -> tuple[tuple[float, float], int]:
        """Async :meth:`_recall_seq`."""
        if self.recall_radius is None or len(looks) == 1:
            return await self._arecall(s, k, ef), len(s.vecs)
        found: list[bool] = []
        share, lower = 1.0, 1.0
        for n in looks:
            start = len(found)
            if n > start:
                replies = await self._apipeline(self._ann_commands(s.vecs[start:n], k, ef))
                share, lower, decided = self._judge(found, s, k, replies, start, target)
                if decided:
                    break
        return (share, lower), len(found)

    async def ameasure_recall(
        self, *, sample: int | None = None, k: int = 10, ef_runtime: int | None = None,
        seed: int | None = None,
    ) -> RecallReport:  # fmt: skip
        """Async :meth:`measure_recall`."""
        k, sample = check_k(k), self._sample_size(sample)
        ef = await self._aef(ef_runtime)
        s = await self._ameasure(sample, k, seed)
        recall = (await self._arecall(s, k, ef))[0]
        return self._recall_report(recall, k, len(s.vecs), s.size, ef, None)

    async def atune_recall(
        self, target: float | None = None, *, sample: int | None = None, k: int = 10,
        seed: int | None = None,
    ) -> RecallReport:  # fmt: skip
        """Async :meth:`tune_recall`."""
        target = check_target(self.recall_target if target is None else target)
        target = DEFAULT_RECALL_TARGET if target is None else target
        k, given = check_k(k), sample
        s = await self._ameasure(self._tune_size(sample), k, seed)
        if self.schema.algorithm != "hnsw" or not s.vecs:
            return self._recall_report(1.0, k, len(s.vecs), s.size, None, target)
        looks = self._looks(s, given)
        tried: dict[int, tuple[float, float]] = {}
        used: dict[int, int] = {}
        while (ef := _next_ef(tried, target)) is not None:
            tried[ef], used[ef] = await self._arecall_seq(s, k, ef, target, looks)
        ef, recall = _pick(tried, target)
        report = self._recall_report(recall, k, used[ef], s.size, ef, target)
        with translate_errors(self.config, f"saving the tuned ef_runtime of {self.name!r}"):
            await self.config.get_async_client().hset(
                self.recall_key, mapping=self._save_mapping(report)
            )
        self._tuned, self._tuned_loaded = report.ef_runtime, True
        return report

    async def aensure_recall(
        self, *, growth: float = DEFAULT_GROWTH, **kwargs: Any
    ) -> RecallReport | None:
        """Async :meth:`ensure_recall`."""
        growth = _check_growth(growth)
        if self.recall_target is None or self.schema.algorithm != "hnsw":
            return None
        with translate_errors(self.config, f"reading the tuning of {self.name!r}"):
            state = _state(await self.config.get_async_client().hgetall(self.recall_key))
        if state and await self.acount() < float(state.get("size", 0)) * growth:
            return None
        return await self.atune_recall(**kwargs)


def saved_tunings(config: RedisAgentConfig) -> dict[str, dict[str, str]]:
    """Every vector index of ``config``'s namespace with its saved tuning (``{}``: never
    tuned), read without measuring anything (for ``redis-agent doctor``)."""
    probe = config.keys.vector_index("n")  # <head>n<tail>: the layout from the key scheme
    cut = probe.rindex(":n:") + 1
    head, tail = probe[:cut], probe[cut + 1 :]
    # An auto index is listed by the index behind its alias: <head>n<tail>:flat / :hnsw.
    listed = [re.sub(r":(flat|hnsw)$", "", n) for n in namespace_indexes(config)]
    names = list(dict.fromkeys(unescape_part(n[len(head) : -len(tail)]) for n in listed
                               if n.startswith(head) and n.endswith(tail)))  # fmt: skip
    with translate_errors(config, "reading the vector indexes' tuning"):
        pipe = config.get_client().pipeline(transaction=False)
        for name in names:
            pipe.hgetall(config.keys.vector_recall(name))
        return {name: _state(raw) for name, raw in zip(names, pipe.execute(), strict=True)}
