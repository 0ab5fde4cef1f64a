"""Ingestion in passages: a large document never holds the model or Redis for long.

An embedding model reads only the start of a text (MiniLM: 256 tokens, about 1,000
characters), yet tokenises all of it: one 1 MiB document costs seconds of CPU under
the model's lock, and its whole text is indexed by Redis in one command, while cached
``/chat`` calls wait for both. So documents are split into passages of at most
``passage_chars`` (on paragraph, then sentence, then word boundaries), each embedded
and indexed on its own, a few per model call: every part of the document is
searchable, and a chat request waits for at most one small batch.

Chat requests go first: :class:`ForegroundGate` counts the question embeddings in
flight, and a batch of passages starts only when there are none (or after
``max_defer`` seconds, so a steady stream of questions cannot starve ingestion).
And the batches run on a :class:`BackgroundThread`: a thread of its own at a lower
CPU priority (``nice`` +10, Linux sets it per thread), with a model instance of its
own, so a question never queues behind a batch for the model's lock, the event loop
does none of the embedding or indexing work, and the kernel gives the request path the
cores first when both want them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from redis_agent_core.embeddings import Embedder
from redis_agent_core.vectors import VectorIndex

__all__ = [
    "BackgroundThread",
    "ForegroundGate",
    "index_passages",
    "lower_thread_priority",
    "split_passages",
    "to_passages",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: niceness of background work: CFS then gives a normal thread ~10x its CPU share
BACKGROUND_NICENESS = 10


def lower_thread_priority(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Lower the calling thread's CPU priority (on Linux ``nice`` is per thread).
    False where the platform cannot (the work then runs at normal priority)."""
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, max(current, niceness))
        return True
    except (AttributeError, OSError) as exc:  # not Linux, or not permitted
        logger.debug("could not lower the background thread's priority: %s", exc)
        return False


class BackgroundThread:
    """One thread at lower CPU priority for work no request waits for (ingestion).
    Started on first use; :meth:`close` stops it."""

    def __init__(self, name: str = "rap-background") -> None:
        self.name = name
        self.lowered: bool | None = None  # set once the thread started
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _start(self) -> None:
        self.lowered = lower_thread_priority()

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    1, thread_name_prefix=self.name, initializer=self._start
                )
            return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the background thread; the event loop only awaits it."""
        return await asyncio.get_running_loop().run_in_executor(self.executor(), fn, *args)

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None


_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _pieces(text: str, limit: int) -> Iterator[str]:
    """Paragraphs, else sentences, else word-bounded slices, each at most ``limit``."""
    for paragraph in _PARAGRAPH.split(text):
        paragraph = paragraph.strip()
        if len(paragraph) <= limit:
            if paragraph:
                yield paragraph
            continue
        for sentence in _SENTENCE.split(paragraph):
            while len(sentence) > limit:
                cut = sentence.rfind(" ", limit // 2, limit + 1)
                cut = cut if cut > 0 else limit
                yield sentence[:cut].strip()
                sentence = sentence[cut:].lstrip()
            if sentence:
                yield sentence


def split_passages(text: str, max_chars: int) -> list[str]:
    """``text`` as passages of at most ``max_chars``, whole paragraphs and sentences
    packed together where they fit. A text within the limit is one passage, as is."""
    if len(text) <= max_chars:
        return [text]
    passages: list[str] = []
    current = ""
    for piece in _pieces(text, max_chars):
        if current and len(current) + 1 + len(piece) > max_chars:
            passages.append(current)
            current = piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        passages.append(current)
    return passages or [text[:max_chars]]


def to_passages(
    ids: Sequence[str],
    passages: Sequence[Sequence[str]],
    metadatas: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Index items ``{id, text, metadata}`` of documents split by :func:`split_passages`:
    a document of one passage keeps its id and metadata; a longer one becomes passages
    ``<id>#<n>`` whose metadata adds ``doc_id`` and ``part``. Raises ``ValueError`` if
    two items would share an id."""
    items: list[dict[str, Any]] = []
    for doc_id, parts, metadata in zip(ids, passages, metadatas, strict=True):
        if len(parts) == 1:
            items.append({"id": doc_id, "text": parts[0], "metadata": dict(metadata)})
            continue
        for n, part in enumerate(parts):
            meta = {**metadata, "doc_id": doc_id, "part": n}
            items.append({"id": f"{doc_id}#{n}", "text": part, "metadata": meta})
    seen: set[str] = set()
    for item in items:
        if item["id"] in seen:
            raise ValueError(
                f"document id {item['id'][:40]!r} is also the id of a passage of a longer "
                "document ('<id>#<n>'): rename one of them"
            )
        seen.add(item["id"])
    return items


class ForegroundGate:
    """Model calls a user waits for (a question's embedding) go before background ones
    (ingestion batches). One per service, used from its event loop."""

    def __init__(self, max_defer: float = 0.5) -> None:
        self.max_defer = max_defer
        self.active = 0
        self._idle: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._idle is None or self._loop is not loop:  # events belong to one loop
            self._idle, self._loop = asyncio.Event(), loop
            if not self.active:
                self._idle.set()
        return self._idle

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """Around a model call a request waits for (inside the event loop)."""
        idle = self._event()
        self.active += 1
        idle.clear()
        try:
            yield
        finally:
            self.active -= 1
            if not self.active:
                idle.set()

    async def background_turn(self) -> None:
        """Wait until no foreground call is in flight (at most ``max_defer`` seconds)."""
        if self.active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event().wait(), self.max_defer)


def _index_batch(index: VectorIndex, embedder: Embedder, rows: Sequence[Mapping[str, Any]]) -> None:
    texts = [r["text"] for r in rows]
    index.add(
        texts,
        ids=[r["id"] for r in rows],
        metadatas=[r["metadata"] for r in rows],
        vectors=embedder.embed(texts),
    )


async def index_passages(
    index: VectorIndex,
    embedder: Embedder,
    items: Sequence[Mapping[str, Any]],
    batch: int,
    gate: ForegroundGate | None = None,
    background: BackgroundThread | None = None,
) -> None:
    """Embed and index ``items`` ``batch`` at a time, yielding to the event loop (and
    to foreground model calls, through ``gate``) between batches; with ``background``
    each batch is embedded and written there (sync calls), off the event loop."""
    for start in range(0, len(items), batch):
        if gate is not None:
            await gate.background_turn()
        rows = items[start : start + batch]
        if background is not None:
            await background.run(_index_batch, index, embedder, rows)
            continue
        texts = [r["text"] for r in rows]
        vectors = await embedder.aembed(texts)
        await index.aadd(
            texts,
            ids=[r["id"] for r in rows],
            metadatas=[r["metadata"] for r in rows],
            vectors=vectors,
        )
        await asyncio.sleep(0)
