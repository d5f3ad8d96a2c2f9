"""``retraining.start_from: latest`` with the real submitter, broker and nmp-local: the
second job trains the model promoted after the first, through a config made for it."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefstream_events import EvaluationEvent, JobStatus
from prefstream_kafka.evaluations import EvaluationPublisher
from prefstream_submission.start_model import config_name_for

from .conftest import Stack
from .harness import (
    CUSTOMIZATION_CONFIG,
    JobsReader,
    dataset_event,
    final,
    get_json,
    jobs_for,
    publish,
    terminal,
    write_rows,
)

NS = "prefstream-test"


def latest_config(stack: Stack) -> Path:
    path = stack.config()
    doc = yaml.safe_load(path.read_text())
    doc["retraining"] = {"start_from": "latest"}
    doc["kafka"]["topics"]["evaluations"] = f"{stack.name}.evaluations"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def promoted(model: str) -> EvaluationEvent:
    return EvaluationEvent.model_validate(
        {
            "model": model,
            "opponents": [{"opponent": "random", "games": 4, "wins": 3, "draws": 1, "losses": 0}],
            "score": 0.875,
            "score_stderr": 0.1,
            "promoted": True,
            "reason": "first",
            "seed": 1,
        }
    )


async def test_second_job_starts_from_the_model_promoted_after_the_first(stack: Stack) -> None:
    proc = stack.submitter(latest_config(stack))
    proc.start().wait_ready()
    kafka = stack.kafka.model_copy(
        update={
            "topics": stack.kafka.topics.model_copy(
                update={"evaluations": f"{stack.name}.evaluations"}
            )
        }
    )
    first = dataset_event(write_rows(stack.tmp_path / "r-1"), f"{stack.name}-1", 1)
    second = dataset_event(write_rows(stack.tmp_path / "r-2"), f"{stack.name}-2", 2)

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, first)
        await reader.wait_for(terminal(first.dataset_id), 60, "the first job to finish")
        one = final(reader.events(first.dataset_id), first.dataset_id)
        assert one is not None
        assert one.status is JobStatus.COMPLETED, one
        assert (one.customization_config, one.start_model) == (CUSTOMIZATION_CONFIG, None)
        assert one.output_model is not None

        async with EvaluationPublisher.connect(kafka) as evaluations:
            await evaluations.publish(promoted(one.output_model))
        await publish(stack.kafka, second)
        await reader.wait_for(terminal(second.dataset_id), 60, "the second job to finish")
        two = final(reader.events(second.dataset_id), second.dataset_id)

    assert two is not None
    assert two.status is JobStatus.COMPLETED, two
    name = config_name_for(one.output_model)
    assert (two.customization_config, two.start_model) == (f"{NS}/{name}", one.output_model)
    config = await get_json(f"{stack.nmp.base_url}/v1/customization/configs/{NS}/{name}")
    assert config["target"]["base_model"] == one.output_model
    assert two.output_model is not None
    (job,) = await jobs_for(stack.nmp.base_url, two.output_model)
    assert job["config"] == f"{NS}/{name}"
