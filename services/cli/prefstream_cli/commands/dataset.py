"""``prefstream dataset cut`` and ``prefstream dataset list``.

The batcher's DuckDB file is locked by the running service against every other process,
so neither command opens it: ``cut`` sends a CutRequest on the control topic, which the
batcher consumes (and, with ``--wait``, follows the datasets topic until the dataset it
caused is announced); ``list`` reads the manifests in ``batcher.datasets_dir``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import click
from prefstream_config import PrefstreamConfig
from prefstream_datasets import MANIFEST, STAGING, Manifest, read_manifest
from prefstream_events import CutRequest, DatasetReady, ce_headers, encode
from prefstream_kafka import make_broker
from prefstream_kafka.reachability import run_guarded
from prefstream_kafka.readers import DatasetWatcher

from prefstream_cli.options import config_options, fail, resolve_config

EXIT_TIMEOUT = 4


@click.command("cut")
@config_options()
@click.option(
    "--policy-model",
    "policy_models",
    multiple=True,
    help="Only pairs from this policy model (repeatable); others in the cut are dropped.",
)
@click.option("--wait/--no-wait", default=True, help="Wait until the dataset is announced.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds to wait.")
def cut(
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
    policy_models: tuple[str, ...],
    wait: bool,
    timeout: float,
) -> None:
    """Ask the running batcher to cut a dataset now from every pending pair.

    Nothing is cut when no pair is pending; with --wait that ends in a timeout (exit 4).
    """
    config = resolve_config(config_path, overrides)
    request = CutRequest(request_id=uuid.uuid4().hex, policy_models=list(policy_models) or None)
    cutting = request_cut(config, request, wait=wait, wait_seconds=timeout)
    event = asyncio.run(run_guarded(config.kafka, cutting))
    if not wait:
        click.echo(f"cut requested: {request.request_id}")
        return
    if event is None:
        click.secho(
            f"no dataset announced within {timeout:g}s for request {request.request_id}: "
            "is the batcher running, and were pairs pending?",
            fg="yellow",
            err=True,
        )
        raise SystemExit(EXIT_TIMEOUT)
    click.echo(event.model_dump_json(indent=2))


async def request_cut(
    config: PrefstreamConfig, request: CutRequest, *, wait: bool, wait_seconds: float
) -> DatasetReady | None:
    kafka = config.kafka
    watcher = DatasetWatcher(kafka, client_id=f"{kafka.client_id}-cli") if wait else None
    if watcher is not None:
        await watcher.start()
    try:
        broker = make_broker(kafka, client_id=f"{kafka.client_id}-cli")
        await broker.connect()
        try:
            await broker.publish(
                encode(request),
                topic=kafka.topics.control,
                key=b"batcher",
                headers=ce_headers("CutRequest", "prefstream/cli", event_id=request.request_id),
            )
        finally:
            await broker.stop()
        if watcher is None:
            return None
        return await watcher.find(request.request_id, wait_seconds)
    finally:
        if watcher is not None:
            await watcher.stop()


@click.command("list")
@config_options()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per dataset.")
def ls(config_path: str | None, overrides: tuple[tuple[str, str], ...], as_json: bool) -> None:
    """List the datasets in batcher.datasets_dir, oldest first (works while the batcher runs)."""
    config = resolve_config(config_path, overrides)
    root = Path(config.batcher.datasets_dir)
    if not root.is_dir():
        fail(f"{root} does not exist: no dataset has been cut with this config yet")
    manifests: list[tuple[Path, Manifest]] = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir() and p.name != STAGING):
        if not (directory / MANIFEST).is_file():
            continue
        try:
            manifests.append((directory, read_manifest(directory)))
        except (OSError, ValueError) as exc:
            click.secho(f"skipping {directory}: {exc}", fg="yellow", err=True)
    manifests.sort(key=lambda item: (item[1].name.rsplit("-", 1)[0], item[1].sequence))
    if as_json:
        for directory, m in manifests:
            click.echo(json.dumps(_summary(directory, m)))
        return
    if not manifests:
        click.echo(f"no datasets in {root}")
        return
    rows = [_row(m) for _, m in manifests]
    header = ("NAME", "PAIRS", "TRAIN", "VAL", "TRIGGER", "MODE", "CREATED", "POLICY MODELS", "ID")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _summary(directory: Path, m: Manifest) -> dict[str, Any]:
    return {
        "name": m.name,
        "sequence": m.sequence,
        "dataset_id": m.dataset_id,
        "directory": str(directory.resolve()),
        "created_at": m.created_at.isoformat(),
        "mode": m.mode,
        "trigger": m.trigger,
        "counts": m.counts.model_dump(),
        "policy_models": m.policy_models,
        "policy_filter": m.policy_filter,
    }


def _row(m: Manifest) -> tuple[str, ...]:
    models = ", ".join(f"{k}={v}" for k, v in sorted(m.policy_models.items())) or "-"
    return (
        m.name,
        str(m.counts.pairs),
        str(m.counts.training),
        str(m.counts.validation),
        m.trigger,
        m.mode,
        m.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        models,
        m.dataset_id,
    )
