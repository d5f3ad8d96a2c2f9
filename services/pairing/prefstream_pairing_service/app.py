"""``prefstream service pairing``: the pairing service on the runtime's one lifecycle."""

from __future__ import annotations

import gc

from faststream.asgi import AsgiFastStream
from prefstream_config import PrefstreamConfig
from prefstream_kafka import consumer_options, ensure_topics, make_broker
from prefstream_runtime import configure_logging, service_app
from prefstream_runtime import run as run_asgi
from prefstream_runtime.tracing import setup_tracing
from prefstream_stores.errors import STORE_UNAVAILABLE

from prefstream_pairing_service.service import Pairing, wait_for_dependencies

SERVICE_NAME = "pairing"


def build_app(config: PrefstreamConfig) -> AsgiFastStream:
    """The app; nothing is opened or connected until it starts.

    Candidates are consumed without FastStream's telemetry middleware (a span per batch
    linking every record would cost the hot path); the service extracts their traces."""
    kafka = config.kafka
    return service_app(
        Pairing(config, setup_tracing(config.tracing, SERVICE_NAME)),
        make_broker(kafka, client_id=f"{kafka.client_id}-pairing"),
        consumer_options=consumer_options(kafka),
        prepare=lambda: ensure_topics(kafka),
    )


def run(config: PrefstreamConfig) -> None:
    configure_logging(SERVICE_NAME, config.logging.level, config.logging.format)
    # The hot path allocates many short-lived containers; default thresholds run a young
    # collection every 700 allocations and walk every open window each time.
    gc.set_threshold(50_000, 20, 50)
    run_asgi(
        build_app(config),
        host=config.pairing.http_host,
        port=config.pairing.http_port,
        service=SERVICE_NAME,
        connect=lambda report: wait_for_dependencies(config, report),
        wait_again_on=STORE_UNAVAILABLE,
        shutdown_timeout_s=config.service.shutdown_timeout_seconds,
    )
