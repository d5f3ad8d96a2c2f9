"""``prefstream publish FILE``: send a JSONL file of CandidateEvents to the candidates topic."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
from prefstream_config import PrefstreamConfig
from prefstream_events import CandidateEvent, InvalidEvent, decode
from prefstream_kafka import CandidatePublisher, ensure_topics
from prefstream_kafka.reachability import run_guarded

from prefstream_cli.invalid_lines import check_invalid, max_invalid_option, report_invalid
from prefstream_cli.options import config_options, resolve_config

CHUNK = 5000


def read_candidates(
    lines: Iterable[bytes], *, max_bytes: int
) -> Iterator[tuple[int, CandidateEvent | InvalidEvent]]:
    """Each non-blank line's number and its event, or why it is invalid.

    The one wire decoder (``prefstream_events.decode``), which ``pairs build`` and the
    pairing service agree with: what is published here is what they accept.
    """
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()  # as ``pairs build`` reads a line
        if not line:
            continue
        try:
            yield number, decode(CandidateEvent, line, max_bytes=max_bytes)
        except InvalidEvent as exc:
            yield number, exc


async def publish_file(config: PrefstreamConfig, path: Path) -> tuple[int, int]:
    """Returns (published, invalid). Invalid lines are reported and skipped, never sent."""
    await ensure_topics(config.kafka)
    published = invalid = 0
    async with CandidatePublisher.connect(
        config.kafka, tracing=config.tracing, source="prefstream/cli"
    ) as publisher:
        batch: list[CandidateEvent] = []
        with path.open("rb") as lines:
            for number, result in read_candidates(lines, max_bytes=config.kafka.max_record_bytes):
                if isinstance(result, InvalidEvent):
                    invalid += 1
                    report_invalid(path, number, result)
                    continue
                batch.append(result)
                if len(batch) >= CHUNK:
                    await publisher.publish(batch)
                    published += len(batch)
                    batch.clear()
        await publisher.publish(batch)
        published += len(batch)
    return published, invalid


@click.command("publish")
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@max_invalid_option
@config_options()
def publish(
    path: Path, max_invalid: int, config_path: str | None, overrides: tuple[tuple[str, str], ...]
) -> None:
    """Validate and publish CandidateEvents (one JSON object per line), keyed by example_id.

    Invalid lines are reported on stderr and never sent; any (more than --max-invalid)
    makes the run exit 3 after the valid ones were published.
    """
    config = resolve_config(config_path, overrides)
    published, invalid = asyncio.run(run_guarded(config.kafka, publish_file(config, path)))
    click.echo(f"published {published} candidate events, {invalid} invalid lines skipped")
    check_invalid(invalid, published + invalid, max_invalid)
