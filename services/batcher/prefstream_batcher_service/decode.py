"""Kafka records to stored pair rows, or to dead letters with the reason and source."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prefstream_datasets import pair_fragments
from prefstream_events import DeadLetter, InvalidEvent, PairEvent, decode
from prefstream_runtime import SourceRecord
from prefstream_runtime.trace_headers import record_traceparent
from prefstream_stores.batcher import PairRow

SERVICE = "batcher"


@dataclass(frozen=True, slots=True)
class Decoded:
    rows: list[PairRow | None]
    """One per record, in record order; ``None`` where the record is not a valid pair."""
    dead: list[tuple[SourceRecord, DeadLetter]]
    """(record, dead letter) for every record that is not a valid PairEvent."""


def pair_row(
    event: PairEvent,
    partition: int,
    offset: int,
    received_at: float,
    traceparent: str | None = None,
) -> PairRow:
    f = pair_fragments(event)
    return PairRow(
        pair_id=event.pair_id,
        content_hash=event.content_hash,
        example_id=event.example_id,
        policy_model=event.policy_model,
        src_partition=partition,
        src_offset=offset,
        received_at=received_at,
        chosen_score=event.chosen_score,
        rejected_score=event.rejected_score,
        score_diff=event.score_diff,
        reward=event.reward,
        prompt_text=f.prompt_text,
        prompt_messages=f.prompt_messages,
        chosen=f.chosen,
        rejected=f.rejected,
        traceparent=traceparent,
    )


def decode_records(
    records: Sequence[SourceRecord], *, max_bytes: int, received_at: float
) -> Decoded:
    """Decode consumed records; nothing here raises for bad data."""
    rows: list[PairRow | None] = []
    dead: list[tuple[SourceRecord, DeadLetter]] = []
    for record in records:
        raw: bytes = record.value or b""
        try:
            event = decode(PairEvent, raw, max_bytes=max_bytes)
        except InvalidEvent as exc:
            letter = DeadLetter.for_record(
                record, reason=exc.reason, detail=exc.detail, service=SERVICE
            )
            dead.append((record, letter))
            rows.append(None)
            continue
        trace = record_traceparent(record)
        rows.append(pair_row(event, record.partition, record.offset, received_at, trace))
    return Decoded(rows, dead)
