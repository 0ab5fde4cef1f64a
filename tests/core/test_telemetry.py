"""With an OpenTelemetry SDK installed (in-memory exporters), every component reports
the documented spans and metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from redis_agent_core import (
    AgentBus,
    ExactCache,
    RateLimiter,
    RedisAgentConfig,
    RequestLimit,
    SemanticCache,
    SessionStore,
    VectorIndex,
    telemetry,
)
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.tasks.progress import create_job, mark_items
from redis_agent_core.telemetry import METRICS

# every text embeds to the same vector: a semantic lookup always finds its candidates
SAME = CallableEmbedder(lambda texts: [[1.0, 0.0, 0.0, 0.0] for _ in texts])

_exporter = InMemorySpanExporter()
_reader = InMemoryMetricReader()


@pytest.fixture(scope="module")
def sdk() -> Iterator[None]:
    """Install the SDK once for the process (OpenTelemetry allows one global provider);
    the processor is shut down after the module, so later tests record nothing."""
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(_exporter))
    trace.set_tracer_provider(tracer_provider)
    meter_provider = MeterProvider(metric_readers=[_reader])
    metrics.set_meter_provider(meter_provider)
    telemetry.refresh()
    yield
    tracer_provider.shutdown()
    _exporter.clear()


def _points() -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """metric name -> [(attributes, value or histogram count)]"""
    out: dict[str, list[tuple[dict[str, Any], Any]]] = {}
    data = _reader.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for p in metric.data.data_points:
                    value = getattr(p, "value", None)
                    value = p.count if value is None else value
                    out.setdefault(metric.name, []).append((dict(p.attributes), value))
    return out


def _total(points: dict[str, list[Any]], name: str, **attrs: Any) -> float:
    return sum(v for a, v in points.get(name, []) if all(a.get(k) == x for k, x in attrs.items()))


def test_every_component_reports_spans_and_metrics(sdk: None, config: RedisAgentConfig) -> None:
    exact = ExactCache(config=config)
    assert exact.lookup("p", "m") is None
    exact.update("p", "m", "answer")
    assert exact.lookup("p", "m") is not None

    semantic = SemanticCache(config=config, embedder=SAME)
    semantic.update("What is 2 plus 2?", "m", "4")
    assert semantic.lookup("What is 3 plus 3?", "m") is None  # numbers differ: refused
    assert semantic.lookup("What is 2 plus 2?", "m") is not None

    limiter = RateLimiter([RequestLimit.per_minute(1)], name="llm", config=config)
    assert limiter.try_acquire(user="u").allowed
    assert not limiter.try_acquire(user="u").allowed

    history = SessionStore(config=config)
    history.append("s", [b'{"role":"user","content":"hi"}'])
    history.read("s")

    index = VectorIndex("docs", config=config, embedder=SAME)
    index.add(["a", "b"], ids=["1", "2"])
    index.search("a", k=1)

    bus = AgentBus(config, sender="t")
    bus.publish("jobs", {"n": 1}, durable=True)
    worker = bus.consumer("jobs", group="g")
    assert len(worker.read(count=10, block=0.1)) == 1

    create_job(config, "job-1", kind="ingest", total=1)
    mark_items(config, "job-1", ["x"], ok=True)

    async def async_side() -> None:
        assert await exact.alookup("p", "m") is not None
        assert await limiter.atry_acquire(user="other") is not None

    asyncio.run(async_side())

    points = _points()
    assert _total(points, "rap.cache.lookups", **{"rap.cache": "exact", "rap.result": "miss"}) == 1
    assert _total(points, "rap.cache.lookups", **{"rap.cache": "exact", "rap.result": "hit"}) == 2
    assert (
        _total(points, "rap.cache.lookups", **{"rap.cache": "semantic", "rap.result": "rejected"})
        == 1
    )
    assert _total(points, "rap.cache.rejections", **{"rap.reason": "number"}) == 1
    assert _total(points, "rap.cache.writes") == 2
    assert _total(points, "rap.ratelimit.decisions", **{"rap.result": "admitted"}) == 2
    refused = {"rap.result": "refused", "rap.reason": "req-user-1per1m"}
    assert _total(points, "rap.ratelimit.decisions", **refused) == 1
    assert _total(points, "rap.history.messages") == 1
    assert _total(points, "rap.history.operations", **{"rap.operation": "read"}) == 1
    assert _total(points, "rap.vectors.documents", **{"rap.index": "docs"}) == 2
    assert _total(points, "rap.vectors.query.duration", **{"rap.index": "docs"}) >= 1
    assert _total(points, "rap.bus.messages", **{"rap.operation": "published"}) == 1
    assert _total(points, "rap.bus.messages", **{"rap.operation": "received"}) == 1
    assert _total(points, "rap.bus.lag", **{"rap.transport": "stream"}) == 1
    assert (
        _total(points, "rap.queue.jobs", **{"rap.kind": "ingest", "rap.result": "submitted"}) == 1
    )
    assert _total(points, "rap.queue.job.duration", **{"rap.result": "succeeded"}) == 1
    assert set(points) <= set(METRICS)

    spans = {s.name: s for s in _exporter.get_finished_spans()}
    for name in ("rap.cache.lookup", "rap.cache.update", "rap.history.append",
                 "rap.vectors.search", "rap.vectors.add", "rap.bus.publish"):  # fmt: skip
        assert name in spans, sorted(spans)
    lookups = [s for s in _exporter.get_finished_spans() if s.name == "rap.cache.lookup"]
    results = {(s.attributes or {}).get("rap.result") for s in lookups}
    assert {"hit", "miss", "rejected"} <= results
    rejected = next(s for s in lookups if (s.attributes or {}).get("rap.result") == "rejected")
    assert (rejected.attributes or {})["rap.reason"] == "number"


def test_docs_list_every_metric() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    assert [name for name in METRICS if f"`{name}`" not in page] == []
