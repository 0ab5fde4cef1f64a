"""An index that picks itself (``algorithm="auto"``, the default).

The index starts FLAT: exact answers and fast ingest (~36k vectors/s against ~1,000 for
HNSW, whose build is server-bound). Queries name an alias (``<ns>:vec:<name>:idx``)
pointing at the live index (``...:idx:flat``). When the index passes a size
(``AUTO_FIRST_CHECK`` documents, then each doubling), one process builds an HNSW index
beside it over the same keys (documents written meanwhile land in both), tunes its
``ef_runtime`` to the recall target, times both at that recall and, when HNSW answers
faster, points the alias at it (``FT.ALIASUPDATE``, atomic: every query is answered by
one index or the other) and drops the FLAT one. When it does not (random-like data,
where HNSW needs a very large ``ef_runtime`` to reach the target), it drops the HNSW
index and stays exact. The alias is the state every process reads (they re-read it every
``AUTO_RECHECK`` seconds); the figures of the last decision are kept in the recall hash.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any

from redisvl.schema import IndexSchema

from ..errors import ConfigError
from ..redis_errors import sent_once, translate_errors
from ..search.executor import arun, run
from ..search.lifecycle import IndexLifecycle, alias_flow, drop_flow, info_flow
from ..search.replies import indexing_done
from . import query as q
from .lifecycle import TUNING_RECHECK
from .queries import tuning_state
from .recall import IndexRecall, RecallReport
from .schema import DEFAULT_RECALL_TARGET

__all__ = ["AUTO_FIRST_CHECK", "AutoReport", "IndexAuto"]

logger = logging.getLogger("redis_agent_core.vectors")

AUTO_FIRST_CHECK = 10_000  # documents before the first HNSW trial (FLAT ~1 ms here)
AUTO_GROWTH = 2.0  # after a trial that kept FLAT, the next one waits for this growth
AUTO_MARGIN = 1.25  # HNSW must answer this many times faster than FLAT to be kept
# Stored vectors as queries find their neighbours more easily than new queries do (seen
# on clustered data at 12k and 20k: >= 0.99 on the sample, 0.95 on fresh queries at ef
# 10), so the trial tunes to halfway between recall_target and 1 (0.975 for 0.95) and
# never keeps an ef_runtime below the schema's (100 by default: ~0.98 on fresh queries on
# 100k embeddings): the sample can only raise it.
SAMPLE_MARGIN = 0.5
LOCK_MS = 120_000  # the switch lock's lease, renewed while the build runs
_TIMED = 30  # queries timed on each index (interleaved)
_CHECK_EVERY = 1.0  # seconds between size checks after writes, per instance


def _take_lock(client: Any, lock: str, token: str) -> bool:
    """Take the switch lock (SET NX), sent once: a re-sent SET would find our own token
    and answer "another process is on it" while we hold the lock."""
    with sent_once():
        return bool(client.set(lock, token, nx=True, px=LOCK_MS))


async def _atake_lock(client: Any, lock: str, token: str) -> bool:
    """Async :func:`_take_lock`."""
    with sent_once():
        return bool(await client.set(lock, token, nx=True, px=LOCK_MS))


_RELEASES: set[asyncio.Future[None]] = set()  # releases outliving their cancelled caller


def _released(task: asyncio.Future[None]) -> None:
    _RELEASES.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a caller gone cannot be told (the lease ends it)


async def _arelease_lock(client: Any, lock: str, token: str) -> None:
    """Release the switch lock if it is still ours, to the end even when the caller is
    cancelled (a timeout, a client gone, anyio cancelling every await of a cancelled
    scope): in a task of its own, shielded; cancelled with its caller, the lock held
    the next trials off for the whole lease (120 s)."""

    async def release() -> None:
        if await client.get(lock) in (token, token.encode()):
            await client.delete(lock)

    task = asyncio.ensure_future(release())
    _RELEASES.add(task)
    task.add_done_callback(_released)
    await asyncio.shield(task)


@dataclass(frozen=True)
class AutoReport:
    """What :meth:`IndexAuto.pick_algorithm` did.

    ``algorithm`` is the live index after the call; ``switched`` whether this call moved
    it to HNSW; ``reason`` says why in words. ``flat_ms`` / ``hnsw_ms`` are the median
    KNN latencies (k 10) timed on both indexes, HNSW at the tuned ``recall``/``ef_runtime``
    (None when no trial ran). ``next_check`` is the size of the next trial."""

    algorithm: str
    switched: bool
    reason: str
    size: int
    flat_ms: float | None = None
    hnsw_ms: float | None = None
    recall: RecallReport | None = None
    next_check: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decide(flat_ms: float, hnsw_ms: float, tuned: RecallReport, force: bool) -> tuple[bool, str]:
    """Whether to keep HNSW, and why."""
    figures = (f"HNSW {hnsw_ms:.2f} ms at ef_runtime {tuned.ef_runtime} (recall "
               f"{tuned.recall:.3f}) vs FLAT {flat_ms:.2f} ms (exact)")  # fmt: skip
    if force:
        return True, "switch forced: " + figures
    if not tuned.reached:
        return False, f"HNSW does not reach recall {tuned.target}: " + figures
    if hnsw_ms * AUTO_MARGIN > flat_ms:
        return False, f"HNSW not {AUTO_MARGIN}x faster: " + figures
    return True, figures


class IndexAuto(IndexRecall):
    """Move an ``algorithm="auto"`` index from FLAT to HNSW when HNSW pays."""

    _last_size_check = 0.0
    _picking: threading.Thread | None = None

    # -- pure parts --
    def _variant_name(self, algorithm: str) -> str:
        return self._keys.variant(algorithm)

    def _hnsw_sibling(self) -> IndexAuto:
        """A view of the HNSW index being built (queried by its own name)."""
        schema = dataclasses.replace(self.schema, algorithm="hnsw")
        sib = type(self)._from_schema(
            self.name, schema, config=self.config, embedder=self._embedder,
            embedder_name=self._embedder_name, ttl=self.ttl, recall_target=self.recall_target,
            key_prefix=self.key_prefix, index_keys=self._keys,
        )  # fmt: skip
        sib.index_name = self._variant_name("hnsw")
        sib.recall_radius = self.recall_radius
        redisvl = IndexSchema.from_dict(schema.redisvl_dict(sib.index_name, self.prefix))
        sib._lifecycle = IndexLifecycle(
            self.config, redisvl, sib._check_info, f"vector index {self.name!r} (HNSW build)"
        )
        return sib

    def _next_check(self, state: dict[str, str]) -> int:
        return int(float(state.get("auto_next", AUTO_FIRST_CHECK)))

    def _plain(self) -> bool:
        """Whether the name is a plain index (made with an explicit algorithm or before
        auto existed): it has no alias to move, so it stays as it is."""
        return self._live == self.index_name

    def _leftover(self) -> bool:
        """Whether an HNSW index beside the live one can only be a dead trial's."""
        return self._live == self._variant_name("flat")

    def _early(self, size: int, state: dict[str, str], force: bool) -> AutoReport | None:
        """The report when no trial is due (already HNSW, plain, below the next size)."""
        if self._plain():
            return AutoReport(self.schema.algorithm, False, "a plain index (no alias): "
                              "kept as it is; re-add the documents under a new name to "
                              "let it pick", size)  # fmt: skip
        if self.schema.algorithm == "hnsw":
            return AutoReport("hnsw", False, "already HNSW", size)
        if not force and size < self._next_check(state):
            return AutoReport("flat", False, "below the next check size", size,
                              next_check=self._next_check(state))  # fmt: skip
        return None

    def _trial_target(self) -> float:
        target = DEFAULT_RECALL_TARGET if self.recall_target is None else self.recall_target
        if self.recall_radius is not None:
            # Near repeats are turned copies, not the stored vectors: nothing flatters
            # them, and each finds its one entry or not (shares of 0 or 1), so the margin
            # would ask the lower bound for every sample found; an unreachable graph node
            # or two then kept a 100k cache on FLAT at 12x the search time. A near repeat
            # HNSW misses is a cache miss (the model answers), never a wrong answer.
            return target
        return target + (1 - target) * SAMPLE_MARGIN

    def _floor(self) -> int:
        return self.schema.ef_runtime

    def _below_floor(self, tuned: RecallReport) -> bool:
        return tuned.ef_runtime is not None and tuned.ef_runtime < self._floor()

    def _floored(self, measured: RecallReport) -> RecallReport:
        """The floor's measurement as the tuning (its target, whether it reaches it)."""
        target = self._trial_target()
        return dataclasses.replace(measured, target=target, reached=measured.recall >= target)

    def _not_auto(self) -> ConfigError:
        return ConfigError(
            f"vector index {self.name!r} has algorithm={self.schema.algorithm!r}: only "
            "algorithm='auto' indexes pick their own; build the other kind under a new name"
        )

    def _save(self, report: AutoReport) -> dict[Any, Any]:
        return {"auto_algorithm": report.algorithm, "auto_next": report.next_check or 0,
                "auto_size": report.size, "auto_flat_ms": report.flat_ms or 0,
                "auto_hnsw_ms": report.hnsw_ms or 0, "auto_reason": report.reason,
                "auto_at": int(time.time())}  # fmt: skip

    def _knn_timing_command(
        self, index: str, algorithm: str, vec: bytes, ef: int | None
    ) -> list[Any]:
        schema = dataclasses.replace(self.schema, algorithm=algorithm)
        return q.knn_command(index, schema, vec, 10, "*", ef_runtime=ef, nocontent=True)

    # -- sync --
    def pick_algorithm(
        self, *, force: bool = False, sample: int | None = None, seed: int | None = None
    ) -> AutoReport:
        """Run the FLAT → HNSW trial now if the index is due one (``force``: run it and
        switch whatever the figures; for tests and operators). Blocks while HNSW builds
        (server-bound, ~1,000 vectors/s); searches keep answering from FLAT meanwhile."""
        if not self.auto:
            raise self._not_auto()
        if not self._ensure(create=False):
            return AutoReport("flat", False, "the index does not exist yet", 0)
        client = self.config.get_client()
        lock, token = self._keys.lock, uuid.uuid4().hex
        with translate_errors(self.config, f"switching {self.name!r}"):
            if not _take_lock(client, lock, token):
                return AutoReport(self.schema.algorithm, False, "another process is on it",
                                  self.count())  # fmt: skip
            try:
                return self._pick(force, sample, seed, lock)
            finally:
                if client.get(lock) in (token, token.encode()):
                    client.delete(lock)

    def _pick(self, force: bool, sample: int | None, seed: int | None, lock: str) -> AutoReport:
        client = self.config.get_client()
        execute = client.execute_command
        self.index.ready = False  # read the live index again: another process may have moved
        self._ensure(create=False)
        size = self.count()
        state = tuning_state(client.hgetall(self.recall_key))
        early = self._early(size, state, force)
        if early is not None:
            if self._leftover():
                # We hold the lock: an HNSW index left by a trial that died is dropped,
                # else it would slow every write down to its own pace.
                run(execute, drop_flow(self._variant_name("hnsw"), delete_documents=False))
            return early
        sib = self._hnsw_sibling()
        sib._ensure(create=True)
        while not indexing_done(run(execute, info_flow(sib.index_name))):
            client.pexpire(lock, LOCK_MS)
            time.sleep(0.2)
        tuned = self._tune(sib, sample, seed)
        vecs = sib._measure(min(sample or _TIMED, _TIMED), 10, seed).vecs
        flat, hnsw = self._variant_name("flat"), sib.index_name
        times: dict[str, list[float]] = {"flat": [], "hnsw": []}
        for vec in vecs:  # interleaved: both see the same load
            for algorithm, name, ef in (("flat", flat, None), ("hnsw", hnsw, tuned.ef_runtime)):
                command = self._knn_timing_command(name, algorithm, vec, ef)
                started = time.perf_counter()
                execute(*command)
                times[algorithm].append((time.perf_counter() - started) * 1000)
        flat_ms, hnsw_ms = median(times["flat"] or [0]), median(times["hnsw"] or [0])
        switch, reason = _decide(flat_ms, hnsw_ms, tuned, force)
        if switch:
            run(execute, alias_flow(self.index_name, hnsw))
            run(execute, drop_flow(flat, delete_documents=False))
        else:
            run(execute, drop_flow(hnsw, delete_documents=False))
        report = AutoReport("hnsw" if switch else "flat", switch, reason, size, round(flat_ms, 3),
                            round(hnsw_ms, 3), tuned,
                            None if switch else int(size * AUTO_GROWTH))  # fmt: skip
        client.hset(self.recall_key, mapping=self._save(report))
        self.index.ready = False
        self._ensure(create=False)
        logger.info("vector index %r: %s", self.name, reason)
        return report

    def _tune(self, index: IndexAuto, sample: int | None, seed: int | None) -> RecallReport:
        """Tune ``index`` (HNSW) to the trial's target, never below the schema's
        ``ef_runtime``; saved beside the index."""
        tuned = index.tune_recall(self._trial_target(), sample=sample, seed=seed)
        if self._below_floor(tuned):
            tuned = self._floored(index.measure_recall(sample=sample, ef_runtime=self._floor(),
                                                       seed=seed))  # fmt: skip
            with translate_errors(self.config, f"saving the tuning of {self.name!r}"):
                self.config.get_client().hset(self.recall_key, mapping=index._save_mapping(tuned))
        return tuned

    async def _atune(self, index: IndexAuto, sample: int | None, seed: int | None) -> RecallReport:
        """Async :meth:`_tune`."""
        tuned = await index.atune_recall(self._trial_target(), sample=sample, seed=seed)
        if self._below_floor(tuned):
            tuned = self._floored(await index.ameasure_recall(
                sample=sample, ef_runtime=self._floor(), seed=seed))  # fmt: skip
            with translate_errors(self.config, f"saving the tuning of {self.name!r}"):
                await self.config.get_async_client().hset(
                    self.recall_key, mapping=index._save_mapping(tuned)
                )
        return tuned

    def _retune(
        self, *, sample: int | None = None, seed: int | None = None, grown: bool = False
    ) -> RecallReport | None:
        """Tune the live HNSW index again, as the trial did, if it has grown
        ``AUTO_GROWTH`` times since it was last tuned (``grown``: at all) (one process at
        a time, under the switch lock); None when not due. Writes start it in a thread."""
        if not self.auto or self._plain() or self.schema.algorithm != "hnsw":
            return None
        client = self.config.get_client()
        with translate_errors(self.config, f"tuning {self.name!r}"):
            state = tuning_state(client.hgetall(self.recall_key))
            last = float(state.get("size", 0) or 0)
            if self.count() < last * AUTO_GROWTH and not (grown and self.count() > last):
                return None
            lock, token = self._keys.lock, uuid.uuid4().hex
            if not _take_lock(client, lock, token):
                return None
            try:
                report = self._tune(self, sample, seed)
            finally:
                if client.get(lock) in (token, token.encode()):
                    client.delete(lock)
        logger.info("vector index %r: ef_runtime %s at %d documents (recall %.3f)", self.name,
                    report.ef_runtime, report.size, report.recall)  # fmt: skip
        return report

    def wait_tuning(self, *, grown: bool = False) -> dict[str, str]:
        """Wait for the trial or re-tuning this instance's writes started in a thread, then
        run the re-tuning now if it is due (``grown``: if the index holds more documents
        than at its last tuning, not only ``AUTO_GROWTH`` times more), so that searches
        after it run at the ``ef_runtime`` tuned at this size. Returns the saved tuning:
        ``ef_runtime``, ``recall`` (on near repeats for a cache), ``size`` (documents when
        tuned), ``sample`` (near repeats the chosen ``ef_runtime`` was judged on)."""
        thread = self._picking
        if thread is not None:
            thread.join()
        if self.auto:
            self.index.ready = False  # read the live index again: the thread may have moved it
            self._ensure(create=False)
            self._retune(grown=grown)
        with translate_errors(self.config, f"reading the state of {self.name!r}"):
            return tuning_state(self.config.get_client().hgetall(self.recall_key))

    def _written(self, count: int) -> None:
        """After a write: start the trial in a thread when the index is due one."""
        if self._retune_due():
            self._start(self._retune_in_background, "retune")
            return
        if not self._due():
            return
        size = self.count()
        with translate_errors(self.config, f"reading the state of {self.name!r}"):
            state = tuning_state(self.config.get_client().hgetall(self.recall_key))
        self._maybe_start(size, state)

    def _due(self) -> bool:
        """Whether to look at the size now (auto, FLAT, nothing running, throttled)."""
        return self._check_now("flat", _CHECK_EVERY)

    def _retune_due(self) -> bool:
        """Whether to look at the growth of a live HNSW index now (throttled as the
        size checks, at most every TUNING_RECHECK seconds)."""
        return self.recall_target is not None and self._check_now("hnsw", TUNING_RECHECK)

    def _check_now(self, algorithm: str, every: float) -> bool:
        """An auto index on ``algorithm`` with no trial running, last looked at
        ``every`` seconds ago or more: True, and the look is stamped."""
        if not self.auto or self.schema.algorithm != algorithm or self._plain():
            return False
        if self._picking is not None and self._picking.is_alive():
            return False
        now = time.monotonic()
        if now - self._last_size_check < every:
            return False
        self._last_size_check = now
        return True

    def _start(self, target: Any, what: str) -> None:
        self._picking = threading.Thread(target=target, name=f"rap-{what}-{self.name}",
                                         daemon=True)  # fmt: skip
        self._picking.start()

    def _maybe_start(self, size: int, state: dict[str, str]) -> None:
        if size >= self._next_check(state):
            self._start(self._pick_in_background, "auto")

    def _retune_in_background(self) -> None:
        try:
            self._retune()
        except Exception:  # a thread has nobody to raise to: say it, retry on a later write
            logger.warning("vector index %r: tuning again failed", self.name, exc_info=True)

    def _pick_in_background(self) -> None:
        try:
            self.pick_algorithm()
        except Exception:  # a thread has nobody to raise to: say it, retry on a later write
            logger.warning("vector index %r: picking the algorithm failed", self.name,
                           exc_info=True)  # fmt: skip

    # -- async --
    async def apick_algorithm(
        self, *, force: bool = False, sample: int | None = None, seed: int | None = None
    ) -> AutoReport:
        """Async :meth:`pick_algorithm`."""
        if not self.auto:
            raise self._not_auto()
        if not await self._aensure(create=False):
            return AutoReport("flat", False, "the index does not exist yet", 0)
        client = self.config.get_async_client()
        lock, token = self._keys.lock, uuid.uuid4().hex
        with translate_errors(self.config, f"switching {self.name!r}"):
            taken: bool | None = None
            try:
                taken = await _atake_lock(client, lock, token)
                if not taken:
                    return AutoReport(self.schema.algorithm, False, "another process is on it",
                                      await self.acount())  # fmt: skip
                return await self._apick(force, sample, seed, lock)
            finally:
                if taken is not False:  # None: cancelled before SET's reply, which may have run
                    await _arelease_lock(client, lock, token)

    async def _apick(
        self, force: bool, sample: int | None, seed: int | None, lock: str
    ) -> AutoReport:
        client = self.config.get_async_client()
        execute = client.execute_command
        self.index.ready = False
        await self._aensure(create=False)
        size = await self.acount()
        state = tuning_state(await client.hgetall(self.recall_key))
        early = self._early(size, state, force)
        if early is not None:
            if self._leftover():
                await arun(execute, drop_flow(self._variant_name("hnsw"), delete_documents=False))
            return early
        sib = self._hnsw_sibling()
        await sib._aensure(create=True)
        while not indexing_done(await arun(execute, info_flow(sib.index_name))):
            await client.pexpire(lock, LOCK_MS)
            await asyncio.sleep(0.2)
        tuned = await self._atune(sib, sample, seed)
        vecs = (await sib._ameasure(min(sample or _TIMED, _TIMED), 10, seed)).vecs
        flat, hnsw = self._variant_name("flat"), sib.index_name
        times: dict[str, list[float]] = {"flat": [], "hnsw": []}
        for vec in vecs:
            for algorithm, name, ef in (("flat", flat, None), ("hnsw", hnsw, tuned.ef_runtime)):
                command = self._knn_timing_command(name, algorithm, vec, ef)
                started = time.perf_counter()
                await execute(*command)
                times[algorithm].append((time.perf_counter() - started) * 1000)
        flat_ms, hnsw_ms = median(times["flat"] or [0]), median(times["hnsw"] or [0])
        switch, reason = _decide(flat_ms, hnsw_ms, tuned, force)
        if switch:
            await arun(execute, alias_flow(self.index_name, hnsw))
            await arun(execute, drop_flow(flat, delete_documents=False))
        else:
            await arun(execute, drop_flow(hnsw, delete_documents=False))
        report = AutoReport("hnsw" if switch else "flat", switch, reason, size, round(flat_ms, 3),
                            round(hnsw_ms, 3), tuned,
                            None if switch else int(size * AUTO_GROWTH))  # fmt: skip
        await client.hset(self.recall_key, mapping=self._save(report))
        self.index.ready = False
        await self._aensure(create=False)
        logger.info("vector index %r: %s", self.name, reason)
        return report

    async def _awritten(self, count: int) -> None:
        """After a write: start the trial (in a thread of its own) when it is due."""
        if self._retune_due():
            self._start(self._retune_in_background, "retune")
            return
        if not self._due():
            return
        size = await self.acount()
        with translate_errors(self.config, f"reading the state of {self.name!r}"):
            state = tuning_state(await self.config.get_async_client().hgetall(self.recall_key))
        self._maybe_start(size, state)
