"""OpenTelemetry for one process: the tracer provider, its exporter, and the FastStream
middleware that carries ``traceparent`` on the brokers (docs/tracing.md).

Disabled (the default), :func:`setup_tracing` returns a :class:`Tracing` with no provider,
no middleware and ``tracer=None``: callers skip all tracing work on ``tracer is None``, so
it costs nothing on the hot paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Tracer
from prefstream_config import TracingConfig

INSTRUMENTATION = "prefstream"
_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


@dataclass
class Tracing:
    """What a process traces with; ``tracer is None`` when tracing is off."""

    provider: TracerProvider | None = None
    tracer: Tracer | None = None
    middlewares: tuple[KafkaTelemetryMiddleware, ...] = field(default_factory=tuple)

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    def shutdown(self) -> None:
        """Flush the spans still queued and stop the exporter (at service close)."""
        if self.provider is not None:
            self.provider.shutdown()


DISABLED = Tracing()


def _exporter(config: TracingConfig) -> SpanExporter:
    if config.exporter == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if any(os.environ.get(var) for var in _ENDPOINT_VARS):
        return OTLPSpanExporter()  # the SDK reads the standard variables
    return OTLPSpanExporter(endpoint=config.otlp_endpoint.rstrip("/") + "/v1/traces")


def setup_tracing(config: TracingConfig, service: str) -> Tracing:
    """A provider for ``prefstream-<service>`` exporting in batches, or :data:`DISABLED`.

    The provider is not made global: several services may share one test process."""
    if not config.enabled:
        return DISABLED
    resource = Resource.create({SERVICE_NAME: f"prefstream-{service}"})
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(config.sample_ratio))
    )
    provider.add_span_processor(BatchSpanProcessor(_exporter(config)))
    middleware = KafkaTelemetryMiddleware(tracer_provider=provider)
    return Tracing(provider, provider.get_tracer(INSTRUMENTATION), (middleware,))
