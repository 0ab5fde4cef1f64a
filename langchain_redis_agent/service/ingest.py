"""Ingestion in passages: a large document never holds the model or Redis for long.

An embedding model reads only the start of a text (MiniLM: 256 tokens, about 1,000
characters), yet tokenises all of it: one 1 MiB document costs seconds of CPU under
the model's lock, and its whole text is indexed by Redis in one command, while cached
``/chat`` calls wait for both. So documents are split into passages of at most
``passage_chars`` (on paragraph, then sentence, then word boundaries), each embedded
and indexed on its own, a few per model call: every part of the document is
searchable, and a chat request waits for at most one small batch.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from redis_agent_core.embeddings import Embedder
from redis_agent_core.vectors import VectorIndex

__all__ = ["index_passages", "split_passages", "to_passages"]

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
    texts: Sequence[str],
    metadatas: Sequence[Mapping[str, Any]],
    max_chars: int,
) -> list[dict[str, Any]]:
    """Index items ``{id, text, metadata}``: a document within ``max_chars`` keeps its
    id and metadata; a longer one becomes passages ``<id>#<n>`` whose metadata adds
    ``doc_id`` and ``part``. Raises ``ValueError`` if two items would share an id."""
    items: list[dict[str, Any]] = []
    for doc_id, text, metadata in zip(ids, texts, metadatas, strict=True):
        parts = split_passages(text, max_chars)
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


async def index_passages(
    index: VectorIndex, embedder: Embedder, items: Sequence[Mapping[str, Any]], batch: int
) -> None:
    """Embed and index ``items`` ``batch`` at a time, yielding to the event loop between
    batches so that other requests get the model and Redis in between."""
    for start in range(0, len(items), batch):
        rows = items[start : start + batch]
        texts = [r["text"] for r in rows]
        vectors = await embedder.aembed(texts)
        await index.aadd(
            texts,
            ids=[r["id"] for r in rows],
            metadatas=[r["metadata"] for r in rows],
            vectors=vectors,
        )
        await asyncio.sleep(0)
