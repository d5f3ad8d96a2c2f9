"""``prefstream service batcher``: wiring of broker, store, service and probes.

Subscribers:

- the pairs topic, in batches, with ``NACK_ON_ERROR``: offsets are committed when the
  handler returns, i.e. after the DuckDB transaction holding the batch's effect; an error
  seeks back and the batch is redelivered (storing it again is a no-op).
- the control topic, one record at a time, for ``prefstream dataset cut``; its own group,
  starting at the end of the topic, so an old request is not replayed into a new batcher.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage
from prefstream_config import PrefstreamConfig
from prefstream_events import (
    CutRequest,
    DatasetReady,
    DeadLetter,
    InvalidEvent,
    decode,
)
from prefstream_kafka import consumer_options, ensure_topics, make_broker
from prefstream_runtime import configure_logging, service_app
from prefstream_runtime import run as run_asgi

from prefstream_batcher_service.metrics import BatcherMetrics
from prefstream_batcher_service.service import BatcherService

SERVICE_NAME = "batcher"
log = logging.getLogger("prefstream.batcher")


def _records(msg: Any) -> Any:
    """The raw aiokafka records: the service decodes and validates bytes itself."""
    return msg.raw_message


def _assigned(consumer: Any) -> list[int]:
    return sorted(tp.partition for tp in consumer.assignment()) if consumer is not None else []


def build_app(config: PrefstreamConfig) -> AsgiFastStream:
    """The app; nothing is opened or connected until it starts."""
    return create(config)[0]


def create(config: PrefstreamConfig) -> tuple[AsgiFastStream, BatcherService]:
    """The app and the service behind it (tests drive and observe the service)."""
    kafka = config.kafka
    batcher = config.batcher
    metrics = BatcherMetrics()
    broker = make_broker(
        kafka,
        client_id=f"{kafka.client_id}-batcher",
        # A dead letter carries the original record, base64-encoded.
        max_request_size=max(3 * kafka.max_record_bytes + 65536, 4 * 1024 * 1024),
    )
    datasets = broker.publisher(
        kafka.topics.datasets,
        title="datasets",
        description="One DatasetReady per cut, keyed by dataset_id, after its files are in place.",
        schema=DatasetReady,
    )
    deadletters = broker.publisher(
        kafka.topics.deadletter,
        title="dead letters",
        description="Pair and control records that could not be decoded, with reason and source.",
        schema=DeadLetter,
    )
    service = BatcherService(config, datasets, deadletters, metrics)
    options = consumer_options(kafka)

    pairs = broker.subscriber(
        kafka.topics.pairs,
        group_id=batcher.group_id,
        batch=True,
        max_records=batcher.batch_max_records,
        batch_timeout_ms=100,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_records,
        title="pairs",
        description="PairEvents from pairing, in batches; offsets committed after the DuckDB "
        "transaction holding them.",
        **options,
    )

    async def on_pairs(msg: KafkaMessage) -> None:
        # One parameter only: any other makes FastStream unpack the body into kwargs.
        try:
            await service.handle_pairs(msg.raw_message)
        except Exception:
            # The broker runs with logger=None; without this a failing batch would be
            # redelivered silently.
            log.exception("pair batch failed; it will be redelivered")
            raise

    pairs(on_pairs)

    control = broker.subscriber(
        kafka.topics.control,
        group_id=f"{batcher.group_id}.control",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=_records,
        title="control",
        description="CutRequest from `prefstream dataset cut`; read from the end of the topic.",
        **{**options, "auto_offset_reset": "latest"},
    )

    async def on_control(msg: KafkaMessage) -> None:
        record: Any = msg.raw_message
        try:
            request = decode(CutRequest, record.value or b"", max_bytes=kafka.max_record_bytes)
        except InvalidEvent as exc:
            letter = DeadLetter.for_record(
                record, reason=exc.reason, detail=exc.detail, service=SERVICE_NAME
            )
            await service.dead_letter([(record, letter)])
            return
        try:
            spec = await service.request_cut(request)
        except Exception:
            log.exception("cut request failed; it will be redelivered")
            raise
        log.info(
            "cut request handled",
            extra={
                "request_id": request.request_id,
                "dataset": spec.name if spec is not None else None,
            },
        )

    control(on_control)

    async def startup() -> None:
        await ensure_topics(kafka)
        await service.open()

    async def after_startup() -> None:
        service.start_background()
        log.info("batcher service started", extra={"db_path": batcher.db_path})

    async def shutdown() -> None:
        await service.drain()

    async def after_shutdown() -> None:
        await service.close()
        log.info("batcher service stopped")

    async def ready() -> tuple[bool, dict[str, Any]]:
        assigned = _assigned(pairs.consumer)
        ok = service.opened and bool(assigned) and bool(_assigned(control.consumer))
        return ok, {"partitions": assigned, **(service.status() if service.opened else {})}

    app = service_app(
        broker,
        service=SERVICE_NAME,
        ready=ready,
        registry=metrics.registry,
        on_startup=[startup],
        after_startup=[after_startup],
        on_shutdown=[shutdown],
        after_shutdown=[after_shutdown],
    )
    return app, service


def run(config: PrefstreamConfig) -> None:
    configure_logging(SERVICE_NAME, config.logging.level, config.logging.format)
    app = build_app(config)
    run_asgi(
        app, host=config.batcher.http_host, port=config.batcher.http_port, service=SERVICE_NAME
    )
