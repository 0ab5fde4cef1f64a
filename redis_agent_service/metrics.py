"""``/metrics``: the service's counters in Prometheus text format (prometheus-client).

Built from the same snapshot as ``/stats``: cache counters are shared by every process
(kept in Redis), and each live worker process publishes its own counters through Redis,
so a scrape of any worker sees all of them, with a ``process`` label (``host:pid``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "render_metrics"]

#: per-process counter -> (metric name, help)
_PROCESS_COUNTERS = {
    "requests": ("rap_service_requests", "chat requests handled"),
    "cache_hits": ("rap_service_cache_hits", "chat answers served from the cache"),
    "llm_calls": ("rap_service_llm_calls", "model calls (cache misses)"),
    "rate_limited": ("rap_service_rate_limited", "requests refused by a limit"),
    "tokens_spent": ("rap_service_tokens_spent", "model tokens spent"),
    "tokens_saved": ("rap_service_tokens_saved", "model tokens saved by cache hits"),
    "jobs_submitted": ("rap_service_jobs_submitted", "ingestion jobs queued"),
    "documents_ingested": ("rap_service_documents_ingested", "documents indexed or queued"),
    "bus_events": ("rap_service_bus_events", "chat events published on the bus"),
    "connections_closed": (
        "rap_service_connections_closed",
        "keep-alive connections closed to even out the workers",
    ),
}
_PROCESS_GAUGES = {
    "hit_latency_ms_p50": ("rap_service_hit_latency_ms_p50", "median latency of cache hits"),
    "miss_latency_ms_p50": ("rap_service_miss_latency_ms_p50", "median latency of misses"),
    "connections": ("rap_service_connections", "connections with a request in the last 3 s"),
}


class _Snapshot:
    """A collector over one ``/stats`` snapshot."""

    def __init__(self, stats: Mapping[str, Any]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        cache = self.stats.get("cache", {})
        for key, help_text in (
            ("hits", "semantic cache hits (all processes)"),
            ("misses", "semantic cache misses (all processes)"),
            ("tokens_saved", "tokens saved by cache hits (all processes)"),
        ):
            yield CounterMetricFamily(f"rap_cache_{key}", help_text, value=cache.get(key, 0))
        yield GaugeMetricFamily(
            "rap_cache_entries", "entries in the cache", cache.get("entries", 0)
        )
        yield GaugeMetricFamily("rap_cache_hit_rate", "hits / lookups", cache.get("hit_rate", 0.0))
        rejections = CounterMetricFamily(
            "rap_cache_rejections", "candidates refused by a guard", labels=["reason"]
        )
        for reason, count in sorted(cache.get("rejections", {}).items()):
            rejections.add_metric([reason], count)
        yield rejections
        processes = self.stats.get("processes") or [self.stats.get("process", {})]
        for field, (name, help_text) in _PROCESS_COUNTERS.items():
            family = CounterMetricFamily(name, help_text, labels=["process"])
            for proc in processes:
                family.add_metric([str(proc.get("process", "?"))], proc.get(field) or 0)
            yield family
        for field, (name, help_text) in _PROCESS_GAUGES.items():
            gauge = GaugeMetricFamily(name, help_text, labels=["process"])
            for proc in processes:
                if proc.get(field) is not None:
                    gauge.add_metric([str(proc.get("process", "?"))], proc[field])
            yield gauge
        lag = GaugeMetricFamily(
            "rap_service_loop_lag_ms", "event-loop lag of the worker", labels=["process", "stat"]
        )
        for proc in processes:
            for stat, value in (proc.get("loop_lag_ms") or {}).items():
                if isinstance(value, int | float):
                    lag.add_metric([str(proc.get("process", "?")), stat], value)
        yield lag


def render_metrics(stats: Mapping[str, Any]) -> bytes:
    """The Prometheus text exposition of a ``/stats`` snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(stats))
    return generate_latest(registry)
