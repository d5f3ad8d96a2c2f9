"""Training curves cut into chunk events: what a reader folds back equals what the platform
logged, every record is bounded, and republishing only replaces equals."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prefstream_events import (
    InvalidEvent,
    JobCurves,
    JobMetricsEvent,
    JobStatus,
    JobStatusEvent,
    decode,
    encode,
    metric_chunks,
)
from prefstream_events.job_metrics import MAX_SERIES, METRICS_CHUNK_STEPS, changed_chunks


@dataclass(frozen=True)
class Logged:
    step: int
    value: float
    at: str | None = None


names = st.sampled_from(["train_loss", "val_loss", "train_accuracy", "val_rewards_margins"])
points = st.lists(
    st.builds(
        Logged,
        step=st.integers(0, 5 * METRICS_CHUNK_STEPS),
        value=st.floats(-1e6, 1e6, allow_nan=False),
    ),
    max_size=300,
)
series_strategy = st.dictionaries(names, points, max_size=4)


def expected(series: dict[str, list[Logged]]) -> dict[str, list[tuple[int, float]]]:
    """Per name, by step, the last value logged for each step."""
    out = {}
    for name, pts in series.items():
        last = {p.step: p.value for p in pts}
        if last:
            out[name] = sorted(last.items())
    return out


def folded(curves: JobCurves, job_key: str) -> dict[str, list[tuple[int, float]]]:
    return {n: [(p.step, p.value) for p in pts] for n, pts in curves.curves(job_key).items()}


@given(series_strategy)
def test_chunks_fold_back_to_the_logged_series_and_stay_bounded(
    series: dict[str, list[Logged]],
) -> None:
    chunks = metric_chunks("job-1", "cust-1", series)
    curves = JobCurves()
    for event in chunks:
        low = event.chunk * METRICS_CHUNK_STEPS
        for pts in event.series.values():
            assert 0 < len(pts) <= METRICS_CHUNK_STEPS
            assert all(low <= p.step < low + METRICS_CHUNK_STEPS for p in pts)
        assert decode(JobMetricsEvent, encode(event)) == event
        curves.apply(event)
    assert [c.chunk for c in chunks] == sorted({c.chunk for c in chunks})
    assert folded(curves, "job-1") == expected(series)


@given(series_strategy, series_strategy)
def test_only_changed_chunks_are_sent_again_and_a_replay_changes_nothing(
    first: dict[str, list[Logged]], more: dict[str, list[Logged]]
) -> None:
    grown = {n: first.get(n, []) + more.get(n, []) for n in {*first, *more}}
    published = {e.chunk: e for e in metric_chunks("j", None, first)}
    resent = changed_chunks(metric_chunks("j", None, grown), published)
    fresh = {e.chunk: e for e in metric_chunks("j", None, grown)}
    resent_chunks = {e.chunk for e in resent}
    for chunk, event in fresh.items():
        was = published.get(chunk)
        assert (chunk in resent_chunks) == (was is None or was.series != event.series)

    curves = JobCurves()
    for event in [*published.values(), *resent]:  # what the topic holds, in log order
        curves.apply(event)
    assert folded(curves, "j") == expected(grown)
    assert not any(curves.apply(e) for e in fresh.values())  # a replay changes nothing


def test_what_the_contract_cannot_carry_is_left_out_not_failed_on() -> None:
    series = {
        "train_loss": [Logged(1, 0.5, "2026-12-04T10:00:00Z"), Logged(2, math.nan)],
        "bad name with spaces": [Logged(1, 1.0)],
        "val_loss": [Logged(3, 0.4, "2026-12-04T10:00:00"), Logged(4, 0.3, "not a time")],
        **{f"extra_{i:02d}": [Logged(0, 1.0)] for i in range(MAX_SERIES + 5)},
    }
    (event,) = metric_chunks("j", "c", series)
    assert "bad name with spaces" not in event.series
    assert len(event.series) == MAX_SERIES
    assert [(p.step, p.value) for p in event.series["train_loss"]] == [(1, 0.5)]
    assert event.series["train_loss"][0].at is not None
    assert [p.at for p in event.series["val_loss"]] == [None, None]  # naive; unparsable


def test_a_record_out_of_its_chunk_or_out_of_order_is_invalid() -> None:
    good = metric_chunks("j", "c", {"train_loss": [Logged(5, 1.0), Logged(6, 0.9)]})[0]
    doc = good.model_dump(mode="json")
    doc["chunk"] = 1
    with pytest.raises(InvalidEvent, match="outside chunk 1"):
        decode(JobMetricsEvent, encode_json(doc))
    doc["chunk"] = 0
    doc["series"]["train_loss"].reverse()
    with pytest.raises(InvalidEvent, match="increasing"):
        decode(JobMetricsEvent, encode_json(doc))


def test_the_key_names_job_and_chunk_so_compaction_keeps_every_chunk() -> None:
    events = metric_chunks("job-7", None, {"train_loss": [Logged(s, 1.0) for s in range(250)]})
    assert [e.key for e in events] == ["job-7/0", "job-7/1", "job-7/2"]


def test_job_status_carries_the_hyperparameters_it_was_created_with() -> None:
    hyper = {"training_type": "dpo", "epochs": 2, "dpo": {"ref_policy_kl_penalty": 0.1}}
    event = JobStatusEvent(
        job_key="k",
        seq=1,
        dataset_id="k",
        dataset_name="d",
        status=JobStatus.CREATED,
        hyperparameters=hyper,
    )
    assert decode(JobStatusEvent, encode(event)).hyperparameters == hyper


def encode_json(doc: object) -> bytes:
    return json.dumps(doc).encode()
