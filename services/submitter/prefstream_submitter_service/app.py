"""``prefstream service submitter``: DatasetReady in, NeMo Customizer jobs and JobStatusEvents out.

Wiring only: the consumer records each dataset in the ledger and commits its offset only
after that (a crash never loses a dataset; a re-delivery is a no-op); the scheduler and
the per-dataset flow (``prefstream_nemo.flow``) do the rest.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faststream import AckPolicy
from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage
from prefstream_config import ConfigError, PrefstreamConfig
from prefstream_events import (
    DatasetReady,
    DeadLetter,
    InvalidEvent,
    JobStatusEvent,
    ce_headers,
    decode,
    encode,
)
from prefstream_kafka import consumer_options, ensure_topics, make_broker, raw_body
from prefstream_nemo import NemoClient
from prefstream_nemo.flow import FlowHooks, FlowSettings
from prefstream_nemo.job_events import Emitter
from prefstream_nemo.retry import RetryPolicy
from prefstream_runtime import configure_logging, service_app
from prefstream_runtime import run as run_asgi
from prefstream_stores.ledger import Ledger

from prefstream_submitter_service.metrics import SubmitterMetrics
from prefstream_submitter_service.scheduler import Scheduler
from prefstream_submitter_service.sink import SOURCE, KafkaSink

SERVICE_NAME = "submitter"
log = logging.getLogger("prefstream.submitter")
NACK_BACKOFF_SECONDS = 1.0
QUIET_LOGGERS = ("httpx", "httpx2", "httpcore", "huggingface_hub")


def retry_policy(config: PrefstreamConfig, metrics: SubmitterMetrics) -> RetryPolicy:
    sub = config.submitter
    return RetryPolicy(
        attempts=sub.retry_attempts,
        max_seconds=sub.retry_max_seconds,
        initial_seconds=min(0.5, max(sub.retry_max_seconds, 0.01)),
        on_retry=lambda what, exc: metrics.api_retries_total.inc(),
    )


def build_app(config: PrefstreamConfig) -> AsgiFastStream:
    kafka = config.kafka
    settings = config.submitter
    metrics = SubmitterMetrics()
    broker = make_broker(kafka, client_id=f"{kafka.client_id}-submitter", acks="all")
    state: dict[str, Any] = {}
    started = asyncio.Event()

    jobs = broker.publisher(
        kafka.topics.jobs,
        title="job status",
        description="Full current state of each dataset's training job, keyed by job_key; "
        "the highest seq per job_key wins.",
        schema=JobStatusEvent,
    )
    deadletters = broker.publisher(
        kafka.topics.deadletter,
        title="dead letters",
        description="DatasetReady records that could not be decoded.",
        schema=DeadLetter,
    )
    subscriber = broker.subscriber(
        kafka.topics.datasets,
        group_id=settings.group_id,
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        title="datasets",
        description="DatasetReady from the batcher; committed once recorded in the ledger.",
        **consumer_options(kafka),
    )

    async def on_dataset(msg: KafkaMessage) -> None:
        # One parameter only: any other makes FastStream unpack the body into kwargs.
        await started.wait()
        record = msg.raw_message
        try:
            dataset = decode(DatasetReady, msg.body, max_bytes=kafka.max_record_bytes)
        except InvalidEvent as exc:
            await _dead_letter(record, exc)
            metrics.datasets_total.labels("invalid").inc()
            await msg.ack()
            return
        scheduler: Scheduler = state["scheduler"]
        try:
            admitted = await scheduler.admit(dataset)
        except Exception:
            log.exception("could not record dataset; it will be redelivered")
            await asyncio.sleep(NACK_BACKOFF_SECONDS)
            await msg.nack()
            return
        metrics.datasets_total.labels("new" if admitted else "duplicate").inc()
        await msg.ack()

    subscriber(on_dataset)

    async def _dead_letter(record: Any, exc: InvalidEvent) -> None:
        letter = DeadLetter.for_record(
            record, reason=exc.reason, detail=exc.detail, service=SERVICE_NAME
        )
        log.warning(
            "invalid DatasetReady sent to the dead-letter topic",
            extra={"reason": exc.reason, "detail": exc.detail, "offset": record.offset},
        )
        await deadletters.publish(
            encode(letter), key=record.key, headers=ce_headers("DeadLetter", SOURCE)
        )

    async def startup() -> None:
        adapter = config.adapter()
        await ensure_topics(kafka)
        ledger = Ledger(settings.db_path)
        client = NemoClient.from_config(adapter, policy=retry_policy(config, metrics))
        emitter = Emitter(ledger, KafkaSink(jobs, metrics), namespace=adapter.namespace)
        hooks = FlowHooks(
            job_created=lambda sub, latency: metrics.submit_latency.observe(latency),
            poll_error=lambda sub, exc: metrics.poll_errors_total.inc(),
        )
        state["ledger"] = ledger
        state["client"] = client
        state["scheduler"] = Scheduler(
            ledger=ledger,
            emitter=emitter,
            platform=client,
            settings=FlowSettings.from_adapter(
                adapter, step_retry_seconds=settings.retry_max_seconds
            ),
            max_concurrent_jobs=settings.max_concurrent_jobs,
            queue_policy=settings.queue_policy,
            hooks=hooks,
            on_flow_restart=metrics.flow_restarts_total.inc,
        )
        metrics.jobs.counts = ledger.status_counts

    async def after_startup() -> None:
        scheduler: Scheduler = state["scheduler"]
        await scheduler.start()
        started.set()
        state["ready"] = True
        log.info("submitter started", extra={"db_path": settings.db_path})

    async def shutdown() -> None:
        state["ready"] = False
        scheduler: Scheduler | None = state.get("scheduler")
        if scheduler is not None:
            await scheduler.stop()

    async def after_shutdown() -> None:
        client: NemoClient | None = state.get("client")
        if client is not None:
            await client.aclose()
        ledger: Ledger | None = state.get("ledger")
        if ledger is not None:
            metrics.jobs.counts = dict
            ledger.close()
        log.info("submitter stopped")

    async def ready() -> tuple[bool, dict[str, Any]]:
        scheduler: Scheduler | None = state.get("scheduler")
        ok = (
            bool(state.get("ready"))
            and subscriber.consumer is not None
            and scheduler is not None
            and scheduler.running
        )
        detail: dict[str, Any] = {}
        if scheduler is not None:
            detail = {"jobs_in_flight": scheduler.in_flight(), "queued": scheduler.queued()}
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
    configure_logging(SERVICE_NAME, config.logging.level, config.logging.format)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        config.adapter()
    except ConfigError as exc:
        raise SystemExit(f"error: the submitter needs a trainer adapter: {exc}") from None
    app = build_app(config)
    run_asgi(
        app, host=config.submitter.http_host, port=config.submitter.http_port, service=SERVICE_NAME
    )
