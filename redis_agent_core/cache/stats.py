"""Cache counters: :class:`CacheStats` and the sum of the per-bucket counter hashes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .entry import text

__all__ = ["CacheStats", "merge_stats"]


@dataclass(frozen=True)
class CacheStats:
    """Counters shared by every process using the cache (kept in Redis)."""

    hits: int = 0
    misses: int = 0
    tokens_saved: int = 0
    entries: int = 0
    rejections: dict[str, int] = field(default_factory=dict)

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits / lookups (0.0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hit_rate,
            "tokens_saved": self.tokens_saved,
            "entries": self.entries,
            "rejections": dict(self.rejections),
        }


def merge_stats(replies: Sequence[Mapping[Any, Any]], entries: int) -> CacheStats:
    """Sum the per-bucket counter hashes into one :class:`CacheStats`."""
    totals: dict[str, int] = {}
    for reply in replies:
        for k, v in (reply or {}).items():
            name = text(k)
            totals[name] = totals.get(name, 0) + int(v)
    rejections = {
        name.removeprefix("rejected:"): count
        for name, count in totals.items()
        if name.startswith("rejected:")
    }
    return CacheStats(
        hits=totals.get("hits", 0),
        misses=totals.get("misses", 0),
        tokens_saved=totals.get("tokens_saved", 0),
        entries=entries,
        rejections=rejections,
    )
