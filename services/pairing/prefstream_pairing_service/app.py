"""``prefstream service pairing``: wiring of broker, store, processor and probes."""

from __future__ import annotations

import gc
import logging
from typing import Any

from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage
from prefstream_config import PrefstreamConfig
from prefstream_kafka import consumer_options, ensure_topics, make_broker, raw_body
from prefstream_pairing import PairingOptions
from prefstream_runtime import configure_logging, service_app
from prefstream_runtime import run as run_asgi
from prefstream_stores.pairing import PairingStore

from prefstream_pairing_service.handler import PairingService, Rebalance
from prefstream_pairing_service.metrics import PairingMetrics
from prefstream_pairing_service.processor import Processor
from prefstream_pairing_service.sink import Sink

SERVICE_NAME = "pairing"
log = logging.getLogger("prefstream.pairing")


def build_app(config: PrefstreamConfig) -> AsgiFastStream:
    kafka = config.kafka
    pairing = config.pairing
    options = PairingOptions.from_builder(config.builder())
    metrics = PairingMetrics()
    broker = make_broker(kafka, client_id=f"{kafka.client_id}-pairing")
    state: dict[str, Any] = {}

    subscriber = broker.subscriber(
        kafka.topics.candidates,
        group_id=pairing.group_id,
        batch=True,
        max_records=pairing.batch_max_records,
        batch_timeout_ms=50,
        # Bound how long a fetch may wait at the broker (default 500 ms): measured on Tansu
        # at 10k events/s, the median close latency went from 0.17 s to 0.08 s.
        fetch_max_wait_ms=100,
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        listener=Rebalance(lambda: state["service"]),
        **consumer_options(kafka),
    )

    async def on_candidates(msg: KafkaMessage) -> None:
        # One parameter only: any other makes FastStream unpack the body into kwargs.
        svc: PairingService = state["service"]
        await svc.handle(msg.raw_message, msg.consumer)

    subscriber(on_candidates)

    async def startup() -> None:
        await ensure_topics(kafka)
        store = PairingStore(pairing.db_path)
        sink = Sink(kafka, client_id=f"{kafka.client_id}-pairing-out")
        await sink.start()
        processor = Processor(
            options,
            store,
            inactivity_gap_s=pairing.inactivity_gap_seconds,
            max_age_s=pairing.max_window_age_seconds,
            late_policy=pairing.late_policy,
            max_record_bytes=kafka.max_record_bytes,
            cache_size=max(20_000, 4 * pairing.batch_max_records),
        )
        state["service"] = PairingService(
            processor,
            store,
            sink,
            metrics,
            topic=kafka.topics.candidates,
            pairs_topic=kafka.topics.pairs,
            deadletter_topic=kafka.topics.deadletter,
        )
        state["store"] = store
        state["sink"] = sink

    async def after_startup() -> None:
        svc: PairingService = state["service"]
        svc.consumer = subscriber.consumer
        svc.start_timer(min(1.0, pairing.inactivity_gap_seconds / 4))
        state["ready"] = True
        gc.freeze()  # startup objects never need collecting
        log.info("pairing service started", extra={"db_path": pairing.db_path})

    async def shutdown() -> None:
        state["ready"] = False
        svc: PairingService | None = state.get("service")
        if svc is not None:
            await svc.drain()

    async def after_shutdown() -> None:
        sink: Sink | None = state.get("sink")
        if sink is not None:
            await sink.stop()
        store: PairingStore | None = state.get("store")
        if store is not None:
            store.close()
        log.info("pairing service stopped")

    async def ready() -> tuple[bool, dict[str, Any]]:
        svc: PairingService | None = state.get("service")
        ok = bool(state.get("ready")) and subscriber.consumer is not None
        detail: dict[str, Any] = {}
        if svc is not None:
            detail = {
                "partitions": sorted(svc.owned),
                "windows_open": len(svc.processor.windows),
            }
        return ok, detail

    return service_app(
        broker,
        service=SERVICE_NAME,
        ready=ready,
        registry=metrics.registry,
        on_startup=[startup],
        after_startup=[after_startup],
        on_shutdown=[shutdown],
        after_shutdown=[after_shutdown],
    )


def run(config: PrefstreamConfig) -> None:
    configure_logging("pairing", config.logging.level, config.logging.format)
    # The hot path allocates many short-lived containers; default thresholds run a young
    # collection every 700 allocations and walk every open window each time.
    gc.set_threshold(50_000, 20, 50)
    app = build_app(config)
    run_asgi(
        app, host=config.pairing.http_host, port=config.pairing.http_port, service=SERVICE_NAME
    )
