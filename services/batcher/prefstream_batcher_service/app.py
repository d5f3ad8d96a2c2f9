"""``prefstream service batcher``: the batcher service on the runtime's one lifecycle."""

from __future__ import annotations

from faststream.asgi import AsgiFastStream
from prefstream_config import PrefstreamConfig
from prefstream_events.limits import max_pair_bytes
from prefstream_kafka import consumer_options, ensure_topics, make_broker, wait_for_kafka
from prefstream_runtime import configure_logging, service_app
from prefstream_runtime import run as run_asgi
from prefstream_runtime.tracing import setup_tracing
from prefstream_stores.errors import STORE_UNAVAILABLE

from prefstream_batcher_service.service import BatcherService

SERVICE_NAME = "batcher"


def build_app(config: PrefstreamConfig) -> AsgiFastStream:
    """The app; nothing is opened or connected until it starts."""
    return create(config)[0]


def create(config: PrefstreamConfig) -> tuple[AsgiFastStream, BatcherService]:
    """The app and the service behind it (tests drive and observe the service)."""
    kafka = config.kafka
    # A dead letter carries the original record, base64-encoded.
    options = {"max_request_size": max_pair_bytes(kafka.max_record_bytes)}
    tracing = setup_tracing(config.tracing, SERVICE_NAME)
    broker = make_broker(
        kafka, client_id=f"{kafka.client_id}-batcher", middlewares=tracing.middlewares, **options
    )
    service = BatcherService(config, broker, tracing)
    app = service_app(
        service,
        broker,
        consumer_options=consumer_options(kafka),
        prepare=lambda: ensure_topics(kafka),
    )
    return app, service


def run(config: PrefstreamConfig) -> None:
    configure_logging(SERVICE_NAME, config.logging.level, config.logging.format)
    run_asgi(
        build_app(config),
        host=config.batcher.http_host,
        port=config.batcher.http_port,
        service=SERVICE_NAME,
        connect=lambda report: wait_for_kafka(config.kafka, report=report),
        wait_again_on=STORE_UNAVAILABLE,
        shutdown_timeout_s=config.service.shutdown_timeout_seconds,
    )
