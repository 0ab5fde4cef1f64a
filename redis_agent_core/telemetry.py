"""OpenTelemetry spans and metrics of every Redis-backed operation.

Only the OpenTelemetry *API* is a dependency: until the application installs an SDK
(``trace.set_tracer_provider`` / ``metrics.set_meter_provider``), every call here is a
no-op costing well under a microsecond, so the hot paths stay as measured in
``benchmarks/``. With an SDK, each public operation of a component is a span named
``rap.<component>.<operation>`` (attributes below) and the metrics of
:data:`METRICS` are recorded. docs/operations.md lists them for dashboards.

Span attributes: ``rap.component``, ``rap.operation``, and where they apply
``rap.result`` (hit / miss / rejected / admitted / refused), ``rap.reason`` (the guard
or limit), ``rap.cache``, ``rap.index``, ``rap.k``, ``rap.topic``.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from opentelemetry import metrics, trace

__all__ = [
    "METRICS",
    "bus_message",
    "cache_lookup",
    "cache_write",
    "history_operation",
    "limiter_decision",
    "queue_job",
    "refresh",
    "traced",
    "vector_query",
    "vectors_added",
]

_SCOPE = "redis_agent_pack"

#: name -> (kind, unit, description, attributes): the documented metrics
METRICS: dict[str, tuple[str, str, str, str]] = {
    "rap.cache.lookups": (
        "counter", "{lookup}", "cache lookups by result",
        "rap.cache (exact/semantic), rap.name, rap.result (hit/miss/rejected)",
    ),
    "rap.cache.rejections": (
        "counter", "{rejection}", "semantic candidates refused by a guard",
        "rap.name, rap.reason (the guard)",
    ),
    "rap.cache.writes": ("counter", "{write}", "entries written", "rap.cache, rap.name"),
    "rap.ratelimit.decisions": (
        "counter", "{decision}", "limiter decisions",
        "rap.name, rap.result (admitted/refused), rap.reason (the limit that refused)",
    ),
    "rap.history.operations": (
        "counter", "{operation}", "history reads and writes", "rap.operation",
    ),
    "rap.history.messages": ("counter", "{message}", "messages appended", ""),
    "rap.vectors.queries": (
        "counter", "{query}", "vector index queries", "rap.index, rap.operation",
    ),
    "rap.vectors.query.duration": (
        "histogram", "s", "vector query latency", "rap.index, rap.operation",
    ),
    "rap.vectors.documents": ("counter", "{document}", "documents added", "rap.index"),
    "rap.queue.jobs": (
        "counter", "{job}", "background jobs by event",
        "rap.kind (ingest/llm_batch), rap.result (submitted/succeeded/partial/failed)",
    ),
    "rap.queue.job.duration": (
        "histogram", "s", "job run time, submit to finish", "rap.kind, rap.result",
    ),
    "rap.bus.messages": (
        "counter", "{message}", "bus messages",
        "rap.topic, rap.operation (published/received), rap.transport (pubsub/stream)",
    ),
    "rap.bus.lag": (
        "histogram", "s", "age of a message when it is received", "rap.topic, rap.transport",
    ),
}  # fmt: skip

_meter = metrics.get_meter(_SCOPE)  # a proxy: real once the app sets a meter provider
_instruments: dict[str, Any] = {}
for _name, (_kind, _unit, _description, _) in METRICS.items():
    _make = _meter.create_histogram if _kind == "histogram" else _meter.create_counter
    _instruments[_name] = _make(_name, unit=_unit, description=_description)

_tracer = trace.get_tracer(_SCOPE)


class _Installed:
    """Whether the application has installed an SDK tracer / meter provider, looked up
    at most once a second: a no-op call then costs one clock read (~0.1 us) instead of
    building attributes for a proxy that drops them (~1 us). An SDK installed at
    startup is seen within a second; once seen it stays on."""

    tracing = False
    metrics = False
    _checked = -1.0

    @classmethod
    def check(cls) -> None:
        now = time.monotonic()
        if now - cls._checked < 1.0 or (cls.tracing and cls.metrics):
            return
        cls._checked = now
        cls.tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        cls.metrics = type(metrics.get_meter_provider()).__name__ != "_ProxyMeterProvider"


def refresh() -> None:
    """Look for an installed SDK now (else it is seen within a second), e.g. right
    after installing one in a test."""
    _Installed._checked = -1.0
    _Installed.check()


def _tracing() -> bool:
    _Installed.check()
    return _Installed.tracing


def _annotate(attributes: dict[str, Any]) -> None:
    if not _Installed.tracing:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({k: v for k, v in attributes.items() if v is not None})


def _add(name: str, value: float, attributes: dict[str, Any]) -> None:
    _instruments[name].add(value, {k: v for k, v in attributes.items() if v is not None})


def _record(name: str, value: float, attributes: dict[str, Any]) -> None:
    _instruments[name].record(value, {k: v for k, v in attributes.items() if v is not None})


def _on() -> bool:
    _Installed.check()
    return _Installed.tracing or _Installed.metrics


F = TypeVar("F", bound=Callable[..., Any])


def traced(component: str, operation: str) -> Callable[[F], F]:
    """Run a sync or async method in a ``rap.<component>.<operation>`` span (only when
    tracing is configured; otherwise the method is called directly)."""
    name = f"rap.{component}.{operation}"
    attributes = {"rap.component": component, "rap.operation": operation}

    def wrap(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                if not _tracing():
                    return await fn(*args, **kwargs)
                with _tracer.start_as_current_span(name, attributes=attributes):
                    return await fn(*args, **kwargs)

            return cast(F, awrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not _tracing():
                return fn(*args, **kwargs)
            with _tracer.start_as_current_span(name, attributes=attributes):
                return fn(*args, **kwargs)

        return cast(F, wrapper)

    return wrap


# -- what the components report (each also annotates the current span) --


def cache_lookup(cache: str, name: str, result: str, reasons: Iterable[str] = ()) -> None:
    """One cache lookup: ``result`` is hit, miss, or rejected (candidates found, all
    refused by guards: ``reasons``)."""
    if not _on():
        return
    reasons = list(reasons)
    _add("rap.cache.lookups", 1, {"rap.cache": cache, "rap.name": name, "rap.result": result})
    for reason in reasons:
        _add("rap.cache.rejections", 1, {"rap.name": name, "rap.reason": reason})
    _annotate({"rap.cache": cache, "rap.result": result, "rap.reason": ",".join(reasons) or None})


def cache_write(cache: str, name: str) -> None:
    if not _on():
        return
    _add("rap.cache.writes", 1, {"rap.cache": cache, "rap.name": name})


def limiter_decision(name: str, admitted: bool, reason: str | None = None) -> None:
    if not _on():
        return
    result = "admitted" if admitted else "refused"
    attributes = {"rap.name": name, "rap.result": result, "rap.reason": reason}
    _add("rap.ratelimit.decisions", 1, attributes)
    _annotate(attributes)


def history_operation(operation: str, messages: int = 0) -> None:
    if not _on():
        return
    _add("rap.history.operations", 1, {"rap.operation": operation})
    if messages:
        _add("rap.history.messages", messages, {})


def vector_query(index: str, operation: str, k: int | None, started: float) -> None:
    """A query that began at ``started`` (``time.perf_counter()``) has returned."""
    if not _on():
        return
    attributes = {"rap.index": index, "rap.operation": operation}
    _add("rap.vectors.queries", 1, attributes)
    _record("rap.vectors.query.duration", time.perf_counter() - started, attributes)
    _annotate({"rap.index": index, "rap.k": k})


def vectors_added(index: str, count: int) -> None:
    if not _on():
        return
    _add("rap.vectors.documents", count, {"rap.index": index})
    _annotate({"rap.index": index})


def queue_job(kind: str, result: str, seconds: float | None = None) -> None:
    if not _on():
        return
    attributes = {"rap.kind": kind, "rap.result": result}
    _add("rap.queue.jobs", 1, attributes)
    if seconds is not None:
        _record("rap.queue.job.duration", seconds, attributes)


def bus_message(topic: str, operation: str, transport: str, lag: float | None = None) -> None:
    if not _on():
        return
    attributes = {"rap.topic": topic, "rap.operation": operation, "rap.transport": transport}
    _add("rap.bus.messages", 1, attributes)
    if lag is not None:
        _record("rap.bus.lag", max(0.0, lag), {"rap.topic": topic, "rap.transport": transport})
    _annotate({"rap.topic": topic})
