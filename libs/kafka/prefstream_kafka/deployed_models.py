"""Deployed models, as agents see them: each trained model once, when the jobs topic first
shows its deployment ``ready`` with a URL to call.

The follower joins no consumer group: every agent must see every deployment (a group would
share the topic's partitions among agents, so each would miss the others' share), and a
group's committed offsets would buy nothing, because a restarted agent rebuilds its view by
replaying the compacted topic (``from_beginning=True``) or wants only what comes next.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Self

from prefstream_config import KafkaConfig, PrefstreamConfig
from prefstream_events import JobStatus, JobStatusEvent

from prefstream_kafka.readers import Follower, TopicFollower, read_topic

READY = "ready"
"""``DeploymentState.status`` once the model is served: the submitter copies the platform's
status (``requested``, ``pending``, ``ready``, ``failed``/``error``) verbatim."""


@dataclass(frozen=True, slots=True)
class DeployedModel:
    """A trained model being served at ``url`` (OpenAI-compatible, as the platform gives it)."""

    model: str
    url: str
    job_key: str
    job_id: str | None
    dataset_id: str
    dataset_name: str
    deployed_at: datetime
    """``updated_at`` of the first event that showed the deployment ready."""
    job: JobStatusEvent
    """That event: the job's whole state (losses, epochs, lineage)."""


def deployed_model(event: JobStatusEvent) -> DeployedModel | None:
    """The model ``event`` shows deployed and callable, else ``None``."""
    dep = event.deployment
    if dep is None or dep.status.strip().lower() != READY or not dep.url:
        return None
    if not event.output_model:
        return None
    return DeployedModel(
        model=event.output_model,
        url=dep.url,
        job_key=event.job_key,
        job_id=event.job_id,
        dataset_id=event.dataset_id,
        dataset_name=event.dataset_name,
        deployed_at=event.updated_at,
        job=event,
    )


ENDED_WITHOUT_MODEL = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.SUPERSEDED})
DEPLOYMENT_FAILED = frozenset({"failed", "error"})


def job_failure(event: JobStatusEvent) -> str | None:
    """Why the job ``event`` shows will never be served, or ``None`` while it still may be:
    the job ended without a model, or its deployment failed. An agent waiting for the model
    trained on its data stops waiting on this, instead of waiting for ever."""
    if event.status in ENDED_WITHOUT_MODEL:
        detail = event.error or event.message or "no message"
        return f"job {event.job_id or event.job_key} ended {event.status.value}: {detail}"
    dep = event.deployment
    if dep is not None and dep.status.strip().lower() in DEPLOYMENT_FAILED:
        detail = dep.description or "no description"
        where = f"{dep.namespace}/{dep.name}"
        return f"deployment {where} of {event.output_model} {dep.status}: {detail}"
    return None


@dataclass
class DeployedModels:
    """Every model seen deployed, each once, whatever the order, repetition or mix of the
    events (other jobs, failed deployments, replays, an older ``seq`` after a newer one)."""

    models: dict[str, DeployedModel] = field(default_factory=dict)
    """By model name, in the order they were first seen ready."""

    def apply(self, event: JobStatusEvent) -> DeployedModel | None:
        """The newly deployed model ``event`` shows, if it shows one not seen before."""
        found = deployed_model(event)
        if found is None or found.model in self.models:
            return None
        self.models[found.model] = found
        return found

    def latest(self) -> DeployedModel | None:
        """The most recently deployed (by the time its deployment was seen ready)."""
        return max(self.models.values(), key=lambda m: m.deployed_at, default=None)


class DeployedModelFollower(Follower):
    """``async for model in follower``: each newly deployed model, for ever (see
    :func:`follow_deployed_models`)."""

    def __init__(
        self, kafka: KafkaConfig, *, from_beginning: bool, client_id: str | None = None
    ) -> None:
        self.events = TopicFollower(
            kafka,
            kafka.topics.jobs,
            JobStatusEvent,
            from_beginning=from_beginning,
            client_id=client_id or f"{kafka.client_id}-deployed-models",
        )
        self.seen = DeployedModels()

    async def start(self) -> None:
        """Connect and fix where reading starts; iterating does it too."""
        await self.events.start()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> DeployedModel:
        async for event in self.events:
            found = self.seen.apply(event)
            if found is not None:
                return found
        raise StopAsyncIteration

    async def aclose(self) -> None:
        await self.events.aclose()


def follow_deployed_models(
    config: PrefstreamConfig | KafkaConfig,
    *,
    from_beginning: bool = True,
    client_id: str | None = None,
) -> DeployedModelFollower:
    """Each model the first time a JobStatusEvent shows its deployment ``ready`` with a URL.

    ``from_beginning=True`` replays the jobs topic first (every model deployed so far, then
    new ones); ``False`` yields only deployments that become ready after the follower
    starts (its first iteration, or ``await follower.start()``). Close it with
    ``await follower.aclose()`` or ``async with``.
    """
    kafka = config.kafka if isinstance(config, PrefstreamConfig) else config
    return DeployedModelFollower(kafka, from_beginning=from_beginning, client_id=client_id)


async def deployed_models(config: PrefstreamConfig | KafkaConfig) -> DeployedModels:
    """Every model deployed so far: the jobs topic read up to its end as of the call."""
    kafka = config.kafka if isinstance(config, PrefstreamConfig) else config
    seen = DeployedModels()
    for event in await read_topic(kafka, kafka.topics.jobs, JobStatusEvent):
        seen.apply(event)
    return seen


async def latest_deployed_model(config: PrefstreamConfig | KafkaConfig) -> DeployedModel | None:
    """The model deployed most recently as of the call; ``None`` if none is."""
    return (await deployed_models(config)).latest()


def latest_deployed_model_now(config: PrefstreamConfig | KafkaConfig) -> DeployedModel | None:
    """:func:`latest_deployed_model` for synchronous code (not from a running event loop)."""
    return asyncio.run(latest_deployed_model(config))
