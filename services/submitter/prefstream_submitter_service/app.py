"""``prefstream service submitter``: the submitter service on the runtime's one lifecycle."""

from __future__ import annotations

import logging

from faststream.asgi import AsgiFastStream
from prefstream_config import ConfigError, PrefstreamConfig
from prefstream_kafka import consumer_options, ensure_topics, make_broker, wait_for_kafka
from prefstream_runtime import configure_logging, service_app
from prefstream_runtime import run as run_asgi
from prefstream_runtime.tracing import setup_tracing
from prefstream_stores.errors import STORE_UNAVAILABLE

from prefstream_submitter_service.service import SERVICE_NAME, SubmitterService

QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "huggingface_hub")


def build_app(config: PrefstreamConfig) -> AsgiFastStream:
    """The app; nothing is opened or connected until it starts."""
    kafka = config.kafka
    tracing = setup_tracing(config.tracing, SERVICE_NAME)
    broker = make_broker(
        kafka, client_id=f"{kafka.client_id}-submitter", acks="all", middlewares=tracing.middlewares
    )
    return service_app(
        SubmitterService(config, broker, tracing),
        broker,
        consumer_options=consumer_options(kafka),
        prepare=lambda: ensure_topics(kafka),
    )


def run(config: PrefstreamConfig) -> None:
    configure_logging(SERVICE_NAME, config.logging.level, config.logging.format)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        config.adapter()
    except ConfigError as exc:
        raise SystemExit(f"error: the submitter needs a trainer adapter: {exc}") from None
    run_asgi(
        build_app(config),
        host=config.submitter.http_host,
        port=config.submitter.http_port,
        service=SERVICE_NAME,
        connect=lambda report: wait_for_kafka(config.kafka, report=report),
        wait_again_on=STORE_UNAVAILABLE,
        shutdown_timeout_s=config.service.shutdown_timeout_seconds,
    )
