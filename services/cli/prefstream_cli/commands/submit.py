"""``prefstream submit DATASET_DIR``: one dataset to NeMo Customizer, followed to its end.

The same flow as the submitter service, without Kafka: the ledger lives in memory and
every create looks first, so running the command again for the same files follows the job
the first run made (after Ctrl-C, say) instead of creating a second one.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path

import click
from prefstream_config import (
    ConfigError,
    NeMoCustomizerTrainerAdapterConfig,
    PrefstreamConfig,
)
from prefstream_events import DatasetReady, JobMetricsEvent, JobStatus, JobStatusEvent
from prefstream_nemo import NemoClient
from prefstream_nemo.retry import RetryPolicy
from prefstream_runtime import configure_logging
from prefstream_stores.ledger import Ledger
from prefstream_submission.dataset_files import InvalidDataset, dataset_from_directory
from prefstream_submission.flow import FlowHooks, FlowSettings, SubmissionFlow
from prefstream_submission.job_events import Emitter
from prefstream_submission.model import Submission

from prefstream_cli.options import EXIT_CONFIG, config_options, fail, resolve_config

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
DEFAULT_TIMEOUT_SECONDS = 300.0


def _log_settings(config: PrefstreamConfig) -> tuple[str, str]:
    """``logging.level``/``logging.format`` where the config sets them; otherwise warnings
    as text, so a terminal shows retries and their causes among the progress lines."""
    given = config.logging.model_fields_set
    level = config.logging.level if "level" in given else "WARNING"
    fmt = config.logging.format if "format" in given else "text"
    return level, fmt


def describe(event: JobStatusEvent) -> str:
    """One progress line: status, percentage, epochs/steps, losses, deployment, error."""
    parts = [event.status.value]
    if event.percentage_done is not None:
        parts.append(f"{event.percentage_done:.1f}%")
    if event.epochs_completed is not None:
        parts.append(f"epoch {event.epochs_completed}")
    if event.steps_completed is not None:
        parts.append(f"step {event.steps_completed}")
    if event.train_loss is not None:
        parts.append(f"train_loss {event.train_loss:.4f}")
    if event.val_loss is not None:
        parts.append(f"val_loss {event.val_loss:.4f}")
    if event.deployment is not None:
        parts.append(f"deployment {event.deployment.status}")
        if event.deployment.url:
            parts.append(event.deployment.url)
    if event.error:
        parts.append(f"error: {event.error}")
    return " ".join(parts)


class TerminalSink:
    """Prints each event: a progress line, or its JSON with ``--json``."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json

    async def publish(self, event: JobStatusEvent) -> None:
        if self.as_json:
            click.echo(event.model_dump_json())
        else:
            stamp = datetime.now().strftime("%H:%M:%S")
            click.echo(f"[{stamp}] {describe(event)}")

    async def publish_metrics(self, event: JobMetricsEvent) -> None:
        """With ``--json``, the curves too (the lines ``watch --json`` prints); the progress
        lines already show the latest losses."""
        if self.as_json:
            click.echo(event.model_dump_json())


def _progress(sub: Submission, text: str, *, as_json: bool) -> None:
    if not as_json:
        click.echo(f"[{datetime.now().strftime('%H:%M:%S')}] {text}")


async def submit_dataset(
    config: PrefstreamConfig,
    adapter: NeMoCustomizerTrainerAdapterConfig,
    dataset: DatasetReady,
    *,
    as_json: bool,
    retry_timeout: float,
) -> Submission:
    """``retry_timeout`` bounds every wait on a failing platform: each call's retries and each
    step's tries again (``submitter.retry_timeout_seconds`` for this one command)."""
    ledger = Ledger(":memory:")
    sub = ledger.add(dataset)
    if sub is None:  # pragma: no cover - a fresh in-memory ledger knows nothing
        raise RuntimeError("empty ledger already holds the dataset")
    policy = RetryPolicy(
        attempts=config.submitter.retry_attempts,
        max_seconds=config.submitter.retry_max_seconds,
        deadline_seconds=retry_timeout,
    )
    client = NemoClient.from_config(adapter, policy=policy)
    try:
        flow = SubmissionFlow(
            sub,
            platform=client,
            emitter=Emitter(ledger, TerminalSink(as_json=as_json), namespace=adapter.namespace),
            settings=FlowSettings.from_adapter(
                adapter,
                step_retry_seconds=config.submitter.retry_max_seconds,
                retry_timeout_seconds=retry_timeout,
            ),
            resumed=True,
            hooks=FlowHooks(progress=lambda s, text: _progress(s, text, as_json=as_json)),
        )
        return await flow.run()
    finally:
        await client.aclose()
        ledger.close()


def _succeeded(sub: Submission, adapter: NeMoCustomizerTrainerAdapterConfig) -> bool:
    if sub.status is not JobStatus.COMPLETED:
        return False
    if not adapter.deploy_on_completion:
        return True
    deployment = sub.last_event.deployment if sub.last_event is not None else None
    return deployment is not None and deployment.status == "ready"


@click.command("submit")
@click.argument("dataset_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@config_options()
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Give up (exit 1) when the NeMo platform keeps failing (unreachable, 5xx, timeouts) "
    "for SECONDS in one step or while reading the job's status. Training time is bounded by "
    "the adapter's job_timeout_seconds instead.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print each JobStatusEvent, and each chunk of the job's curves (JobMetricsEvent: the "
    "lines with chunk), as JSON.",
)
def submit(
    dataset_dir: Path,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
    timeout: float,
    as_json: bool,
) -> None:
    """Submit DATASET_DIR to NeMo Customizer and follow the job until it ends.

    DATASET_DIR holds training/training_file.jsonl and validation/validation_file.jsonl
    (and manifest.json when the batcher wrote it). Without a manifest the dataset is named
    by the configured dataset_name, else after the directory. Exits 0 when the job
    completed (and, with deploy_on_completion, its deployment is ready), 1 otherwise.
    Running it again for the same files follows the existing job.
    """
    config = resolve_config(config_path, overrides)
    try:
        adapter = config.adapter()
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
    configure_logging("submit", *_log_settings(config))
    explicit_name = adapter.dataset_name if "dataset_name" in adapter.model_fields_set else None
    try:
        dataset = dataset_from_directory(dataset_dir, name=explicit_name)
    except InvalidDataset as exc:
        fail(str(exc), EXIT_FAILED)
    if not as_json:
        click.echo(
            f"submitting {dataset_dir} as {adapter.namespace}/{dataset.name} "
            f"({dataset.training.rows} training, {dataset.validation.rows} validation rows) "
            f"to {adapter.entity_host}"
        )
    try:
        sub = asyncio.run(
            submit_dataset(config, adapter, dataset, as_json=as_json, retry_timeout=timeout)
        )
    except KeyboardInterrupt:
        click.echo(
            "interrupted: a job already created keeps running in NeMo Customizer; run the "
            "same command again to follow it",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    if _succeeded(sub, adapter):
        if not as_json:
            click.echo(f"job {sub.job_id} completed: output model {sub.output_model}")
        return
    reason = sub.error or "no reason given"
    if sub.job_id is None:
        fail(f"no job was created: {reason}")
    fail(f"job {sub.job_id} ended {sub.status.value}: {reason}")
