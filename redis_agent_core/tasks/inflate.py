"""Compressed task messages inflate to at most :data:`MAX_INFLATED_BYTES`.

kombu inflates a message as its ``compression`` header says while it receives it, before
Celery reads its content type and before the pack checks a signature (:mod:`.signing`):
a broker writer without the task secret sent a 1 KB bz2 message that took a worker to
4.7 GB (review 13), and a few KB more would kill it, redelivery after redelivery.

:func:`bound_decompression` replaces kombu's decoders (zlib, bz2, lzma) with ones that
stop at the cap, so such a message fails to decode (Celery logs and drops it) and the
worker goes on; a decoder whose output cannot be bounded here (brotli, zstd... when
installed) refuses. kombu keeps its decoders in one table per process, so this holds for
every Celery app of a process that built a pack app: the pack never compresses its
messages, and an app that does keeps working below the cap.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from kombu import compression

__all__ = ["MAX_INFLATED_BYTES", "bound_decompression"]

#: The most a compressed message may inflate to (the pack's own messages are sent
#: uncompressed: an ingestion batch of 100 384-d vectors is ~216 KiB).
MAX_INFLATED_BYTES = 32 * 1024 * 1024


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, /, max_length: int = ...) -> bytes: ...


def _inflate(new: Callable[[], _Decompressor], data: bytes, *, streams: bool) -> bytes:
    """``data`` inflated, stream after stream when ``streams`` (bz2, lzma: as their
    module's ``decompress``); :class:`ValueError` past the cap or when truncated."""
    out = bytearray()
    while True:
        decompressor = new()
        # never more than one byte past the cap: that byte says the cap was passed
        out += decompressor.decompress(data, MAX_INFLATED_BYTES + 1 - len(out))
        if len(out) > MAX_INFLATED_BYTES:
            raise ValueError(
                f"a compressed message inflates to more than {MAX_INFLATED_BYTES} bytes: "
                "refused (redis_agent_core.tasks.inflate)"
            )
        if not decompressor.eof:
            raise ValueError("a compressed message is truncated")
        data = decompressor.unused_data
        if not streams or not data:
            return bytes(out)


def _refuse(content_type: str) -> Callable[[bytes], bytes]:
    def decode(data: bytes) -> bytes:
        raise ValueError(
            f"a message compressed with {content_type} is refused: its inflated size "
            "cannot be bounded (redis_agent_core.tasks.inflate)"
        )

    return decode


_BOUNDED: dict[str, Callable[[bytes], bytes]] = {
    "application/x-gzip": lambda data: _inflate(zlib.decompressobj, data, streams=False),
    "application/x-bz2": lambda data: _inflate(bz2.BZ2Decompressor, data, streams=True),
    "application/x-lzma": lambda data: _inflate(lzma.LZMADecompressor, data, streams=True),
}


def bound_decompression() -> None:
    """Make kombu's decoders stop at :data:`MAX_INFLATED_BYTES` (idempotent)."""
    table: dict[str, Any] = compression._decoders  # kombu's registry: no public view
    for content_type in list(table):
        encoder, _ = compression.get_encoder(content_type)
        decoder = _BOUNDED.get(content_type) or _refuse(content_type)
        compression.register(encoder, decoder, content_type)
