"""Follows the five topics the view shows, from their beginning, and folds every event
into the :class:`ViewState`.

Each topic has its own :class:`~prefstream_kafka.readers.TopicFollower`: no consumer group
(the view must never take partitions from the services) and nothing committed. The view
is ready once each follower has returned what its topic held when it connected; a topic
that does not exist yet is ready at once (and followed once it appears). When a follower
fails, the view forgets everything and replays from the beginning, after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaError
from prefstream_config import KafkaConfig
from prefstream_events import (
    DatasetReady,
    DeadLetter,
    EvaluationEvent,
    JobMetricsEvent,
    JobStatusEvent,
)
from prefstream_events.boards import BoardEvent
from prefstream_kafka import wait_for_kafka
from prefstream_kafka.readers import TopicFollower, topic_partitions
from prefstream_runtime.consumer_lag import ConsumerLag
from prefstream_runtime.waiting import describe

from prefstream_ui_service.metrics import UiMetrics
from prefstream_ui_service.view_state import ViewState

log = logging.getLogger("prefstream.ui.reader")

FIRST_RETRY_S = 0.5
MAX_RETRY_S = 10.0
LOST: tuple[type[BaseException], ...] = (KafkaError, OSError, TimeoutError)
READINESS_TIMEOUT_S = 1.0


def followed_topics(kafka: KafkaConfig) -> list[tuple[str, type[BoardEvent]]]:
    t = kafka.topics
    return [
        (t.jobs, JobStatusEvent),
        (t.job_metrics, JobMetricsEvent),
        (t.evaluations, EvaluationEvent),
        (t.datasets, DatasetReady),
        (t.deadletter, DeadLetter),
    ]


class TopicsReader:
    def __init__(self, kafka: KafkaConfig, state: ViewState, metrics: UiMetrics) -> None:
        self.kafka = kafka
        self.state = state
        self.metrics = metrics
        self.phase = "created"
        """waiting (for Kafka), following, or backing-off (after losing a topic)."""
        self.waiting_for = ""
        self._followers: dict[str, TopicFollower[Any]] = {}
        # No consumer group: the series carry group="" (Prometheus drops the label).
        metrics.registry.register(
            ConsumerLag(lambda: [("", f.consumer) for f in self._followers.values()])
        )

    async def run(self) -> None:
        """Until cancelled: wait for Kafka, follow every topic; start over on a failure."""
        delay = FIRST_RETRY_S
        while True:
            self.phase = "waiting"
            await wait_for_kafka(
                self.kafka,
                probe=lambda: topic_partitions(self.kafka, self.kafka.topics.jobs),
                report=self._report,
            )
            self.phase = "following"
            self.waiting_for = ""
            try:
                await self._follow()
            except Exception as exc:
                if isinstance(exc, LOST):
                    log.warning("lost the topics (%s); rebuilding the view", describe(exc))
                else:
                    log.exception("a topic reader failed; rebuilding the view")
                self.waiting_for = describe(exc)
            self.phase = "backing-off"
            self.metrics.rebuilds_total.inc()
            self.state.reset()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_S)

    def _report(self, cause: str) -> None:
        self.waiting_for = cause

    async def _follow(self) -> None:
        followers: dict[str, TopicFollower[Any]] = {
            topic: TopicFollower(
                self.kafka,
                topic,
                model,
                from_beginning=True,
                client_id=f"{self.kafka.client_id}-ui",
            )
            for topic, model in followed_topics(self.kafka)
        }
        self._followers = followers
        tasks = [
            asyncio.create_task(self._fold(topic, follower), name=f"ui-follow-{topic}")
            for topic, follower in followers.items()
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a follower ended: say why
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for follower in followers.values():
                await follower.aclose()
            self._followers = {}

    async def _fold(self, topic: str, follower: TopicFollower[Any]) -> None:
        events = self.metrics.events_total.labels(topic)
        async for event in follower:
            self.state.apply(event)
            events.inc()
        raise RuntimeError(f"the follower of {topic} stopped")

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready once every topic was replayed to its end as of the start."""
        topics: dict[str, str] = {}
        for topic, follower in list(self._followers.items()):
            topics[topic] = "replayed" if await _replayed(follower) else "replaying"
        ready = self.phase == "following" and all(s == "replayed" for s in topics.values())
        detail: dict[str, Any] = {
            "phase": "live" if ready else self.phase,
            "topics": topics,
            "version": self.state.version,
        }
        if self.waiting_for:
            detail["waiting_for"] = self.waiting_for
        return ready and bool(topics), detail


async def _replayed(follower: TopicFollower[Any]) -> bool:
    """A position the consumer must fetch first (its offset was compacted away) or a
    follower closing meanwhile counts as not replayed, rather than holding up /readyz."""
    try:
        return await asyncio.wait_for(follower.replayed(), READINESS_TIMEOUT_S)
    except (TimeoutError, KafkaError, AssertionError):
        return False
