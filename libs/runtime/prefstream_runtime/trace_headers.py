"""W3C trace context in Kafka headers, for paths that build records themselves.

FastStream's telemetry middleware injects and extracts ``traceparent``/``tracestate`` on
the brokers it wraps; the pairing service publishes through a raw aiokafka producer and
the batcher and submitter keep a record's trace in DuckDB, so they use these helpers. Pure:
no I/O, no global state beyond OpenTelemetry's context.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_PROPAGATOR = TraceContextTextMapPropagator()
T = TypeVar("T")


def traceparent_of(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    """The ``traceparent`` header of a consumed record (aiokafka's ``(name, bytes)`` pairs)."""
    for name, value in headers or ():
        if name == TRACEPARENT:
            return value.decode("ascii", "replace")
    return None


def record_traceparent(record: Any) -> str | None:
    """``traceparent_of`` a consumed record; ``None`` for one without headers."""
    return traceparent_of(getattr(record, "headers", None))


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """A context whose current span is the remote one ``traceparent`` names; ``None`` when
    it is missing or malformed."""
    if not traceparent:
        return None
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    ctx = _PROPAGATOR.extract(carrier)
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def span_context_from(traceparent: str | None) -> SpanContext | None:
    ctx = context_from(traceparent)
    return None if ctx is None else trace.get_current_span(ctx).get_span_context()


def kafka_headers(context: Context | None = None) -> list[tuple[str, bytes]]:
    """``traceparent`` (and ``tracestate``) of ``context`` (default: the current one) as
    Kafka headers; empty when there is no valid span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context)
    return [(name, value.encode()) for name, value in carrier.items()]


def traceparent(context: Context | None = None) -> str | None:
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context)
    return carrier.get(TRACEPARENT)


def evenly(items: Sequence[T], limit: int) -> list[T]:
    """At most ``limit`` of ``items``, spread evenly over them (first one included)."""
    n = len(items)
    if n <= limit:
        return list(items)
    return [items[i * n // limit] for i in range(limit)]


def links(traceparents: Iterable[str | None], limit: int | None = None) -> list[Link]:
    """Links to the distinct valid contexts among ``traceparents``, at most ``limit``
    (evenly sampled), in first-seen order."""
    seen: dict[str, SpanContext] = {}
    for tp in traceparents:
        if tp and tp not in seen:
            sc = span_context_from(tp)
            if sc is not None:
                seen[tp] = sc
    valid = list(seen.values())
    return [Link(sc) for sc in (valid if limit is None else evenly(valid, limit))]
