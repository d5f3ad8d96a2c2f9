"""Read back what the batcher announced: the datasets topic is its durable log of cuts.

Each DatasetReady carries the cut's offset range ends in the pairs topic, so a batcher
that lost its database (or a fresh one replaying the same topics) learns the earlier cuts
and reproduces exactly those, instead of cutting wherever its own consumption happens to
interleave partitions. A restarted batcher also learns here that an announcement it made
just before crashing did go out, and does not repeat it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from prefstream_config import KafkaConfig
from prefstream_events import DatasetReady, InvalidEvent, decode
from prefstream_kafka import client_options
from prefstream_kafka.readers import started, topic_partitions

log = logging.getLogger("prefstream.batcher.restore")


async def read_announcements(kafka: KafkaConfig, topic: str) -> list[DatasetReady]:
    """Every DatasetReady on ``topic`` up to its end at call time (no consumer group).

    The end comes from ``end_offsets``; DatasetReady records are produced one per request,
    which is the case in which Tansu reports it correctly too.
    """
    partitions = await topic_partitions(kafka, topic)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        **client_options(kafka),
        client_id=f"{kafka.client_id}-batcher-restore",
        group_id=None,
        enable_auto_commit=False,
        max_partition_fetch_bytes=max(kafka.max_record_bytes + 4096, 1024 * 1024),
    )
    await started(consumer)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        events: list[DatasetReady] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    try:
                        events.append(decode(DatasetReady, record.value or b""))
                    except InvalidEvent as exc:
                        log.warning(
                            "skipping an unreadable record on the datasets topic",
                            extra={
                                "partition": tp.partition,
                                "offset": record.offset,
                                "reason": exc.reason,
                            },
                        )
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return events
    finally:
        await consumer.stop()


def lineage(
    events: Sequence[DatasetReady], dataset_name: str, pairs_topic: str
) -> list[DatasetReady]:
    """This batcher's announcements (``<dataset_name>-<sequence>``), first one per sequence,
    in sequence order. Events without offsets in ``pairs_topic`` cannot be reproduced and
    are left out."""
    pattern = re.compile(rf"{re.escape(dataset_name)}-(\d+)")
    chosen: dict[int, DatasetReady] = {}
    for event in events:
        match = pattern.fullmatch(event.name)
        if match is None or int(match.group(1)) != event.sequence:
            continue
        if not any(o.topic == pairs_topic for o in event.source_offsets):
            log.warning(
                "announcement without source offsets; it cannot be reproduced",
                extra={"dataset": event.name},
            )
            continue
        chosen.setdefault(event.sequence, event)
    return [chosen[s] for s in sorted(chosen)]


def last_sequence(events: Sequence[DatasetReady], dataset_name: str) -> int:
    """The highest sequence ever announced under ``dataset_name`` (0: none), reproducible or
    not: a name that went out once is never given to other contents."""
    pattern = re.compile(rf"{re.escape(dataset_name)}-(\d+)")
    return max((e.sequence for e in events if pattern.fullmatch(e.name)), default=0)
