"""A job's status stays coherent when ``max_steps`` or ``val_check_interval`` stop or validate
it mid-epoch, for both trainers: ``epochs_completed`` counts whole epochs, ``best_epoch`` is
null or one of them, and the log lines say what ran (pure renders, checked against the SDK)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from nemo_microservices.types.customization import CustomizationStatusDetails
from prefstream_nmp_local.dpo_rows import DatasetStats
from prefstream_nmp_local.job_views import render_status
from prefstream_nmp_local.jobs_clock import JobPlan, progress
from prefstream_nmp_local.training import job_state
from prefstream_nmp_local.training.progress import fold, parse_lines
from prefstream_nmp_local.training.status_view import render_trl_status

STATS = DatasetStats(n_train=80, n_val=8, margin=0.6, fingerprint="f" * 16)


def simulated(epochs: int, per_epoch: int, total: int, val_every: int | None = None) -> Any:
    plan = JobPlan(
        created_at=0.0,
        created_seconds=0.0,
        pending_seconds=0.0,
        seconds_per_epoch=1.0,
        epochs=epochs,
        steps_per_epoch=per_epoch,
        total_steps=total,
        val_every=val_every,
    )
    return {
        "id": "cust-x",
        "plan": plan.to_json(),
        "stats": STATS.to_json(),
        "log_every": 2,
        "body": {"output_model": "ns/out"},
    }


def finished(record: Any, at: float = 1e6) -> dict[str, Any]:
    view = render_status(record, progress(JobPlan.from_json(record["plan"]), at))
    CustomizationStatusDetails.model_validate(view)  # the SDK's schema accepts it
    return view


def messages(view: dict[str, Any]) -> list[str]:
    return [log["message"] for log in view["status_logs"]]


def test_max_steps_within_the_first_epoch_completes_no_epoch() -> None:
    view = finished(simulated(epochs=2, per_epoch=20, total=10))
    assert (view["epochs_completed"], view["best_epoch"], view["steps_completed"]) == (0, None, 10)
    assert [p["step"] for p in view["metrics"]["metrics"]["val_loss"]] == [10]
    assert view["val_loss"] == view["metrics"]["metrics"]["val_loss"][0]["value"]
    assert messages(view) == [
        "created",
        "pending",
        "running",
        "Validation at step 10 (epoch 0.5)",
        "completed",
    ]
    running = view["status_logs"][2]["detail"]
    assert running.endswith("10 steps over 0.5 of 2 epoch(s) (max_steps=10)")


def test_max_steps_mid_epoch_after_whole_epochs() -> None:
    view = finished(simulated(epochs=3, per_epoch=20, total=50))
    assert view["epochs_completed"] == 2
    assert view["best_epoch"] in (1, 2)
    assert [p["step"] for p in view["metrics"]["metrics"]["val_loss"]] == [20, 40, 50]
    assert messages(view)[3:6] == [
        "Epoch 1/3 completed",
        "Epoch 2/3 completed",
        "Validation at step 50 (epoch 2.5)",
    ]


def test_an_uncut_job_reads_as_before() -> None:
    view = finished(simulated(epochs=2, per_epoch=20, total=40))
    assert view["epochs_completed"] == 2
    assert messages(view)[3:5] == ["Epoch 1/2 completed", "Epoch 2/2 completed"]
    assert view["status_logs"][2]["detail"].endswith("40 steps over 2 epoch(s)")


def test_val_check_interval_validates_every_n_steps() -> None:
    view = finished(simulated(epochs=1, per_epoch=8, total=8, val_every=3))
    assert [p["step"] for p in view["metrics"]["metrics"]["val_loss"]] == [3, 6, 8]
    assert "validating every 3 steps" in view["status_logs"][2]["detail"]
    assert messages(view)[3:6] == [
        "Validation at step 3 (epoch 0.375)",
        "Validation at step 6 (epoch 0.75)",
        "Epoch 1/1 completed",
    ]


@given(
    epochs=st.integers(1, 4),
    per_epoch=st.integers(1, 12),
    cap=st.integers(1, 60),
    every=st.one_of(st.none(), st.integers(1, 11)),
    at=st.floats(0, 10),
)
def test_best_epoch_is_never_an_epoch_that_did_not_complete(
    epochs: int, per_epoch: int, cap: int, every: int | None, at: float
) -> None:
    total = min(epochs * per_epoch, cap)
    record = simulated(epochs, per_epoch, total, every if every and every < per_epoch else None)
    view = render_status(record, progress(JobPlan.from_json(record["plan"]), at))
    assert view["epochs_completed"] == min(epochs, view["steps_completed"] // per_epoch)
    assert view["best_epoch"] is None or 1 <= view["best_epoch"] <= view["epochs_completed"]
    assert (view["val_loss"] is None) == (not view["metrics"]["metrics"]["val_loss"])


def trl_view(*events: dict[str, Any]) -> dict[str, Any]:
    state = job_state.new_state(100.0, "/nowhere", {}, {}, {})
    state = job_state.transition(state, "running", 101.0, "Training started in worker pid 9")
    text = "".join(json.dumps(e) + "\n" for e in events)
    state = {**state, "progress": fold(parse_lines(text)).to_json()}
    state = job_state.transition(state, "completed", 120.0, "Training completed")
    plan = simulated(epochs=2, per_epoch=20, total=10)["plan"]
    view = render_trl_status(
        {"id": "cust-t", "plan": plan, "training": state}, job_state.trl_progress(state, 130.0)
    )
    CustomizationStatusDetails.model_validate(view)
    return view


def test_trl_job_cut_by_max_steps_in_its_first_epoch() -> None:
    """What TRL writes for max_steps=10 with 20 steps an epoch: one evaluation, at 0.5."""
    view = trl_view(
        {"event": "started", "at": 102.0, "total_steps": 10, "steps_per_epoch": 20, "epochs": 2},
        {"event": "step", "at": 110.0, "step": 10, "epoch": 0.5},
        {"event": "log", "at": 110.0, "step": 10, "epoch": 0.5, "values": {"train_loss": 0.6}},
        {"event": "eval", "at": 111.0, "step": 10, "epoch": 0.5, "values": {"val_loss": 0.65}},
        {"event": "completed", "at": 115.0, "step": 10},
    )
    assert (view["epochs_completed"], view["best_epoch"], view["val_loss"]) == (0, None, 0.65)
    assert messages(view) == [
        "created",
        "running",
        "Validation at step 10 (epoch 0.5)",
        "completed",
    ]


def test_trl_job_with_val_check_interval_names_epoch_ends_and_the_rest() -> None:
    view = trl_view(
        {"event": "started", "at": 102.0, "total_steps": 40, "steps_per_epoch": 20, "epochs": 2},
        {"event": "eval", "at": 103.0, "step": 10, "epoch": 0.5, "values": {"val_loss": 0.5}},
        {"event": "eval", "at": 104.0, "step": 20, "epoch": 1.0, "values": {"val_loss": 0.7}},
        {"event": "eval", "at": 105.0, "step": 30, "epoch": 1.5, "values": {"val_loss": 0.4}},
        {"event": "eval", "at": 106.0, "step": 40, "epoch": 2.0, "values": {"val_loss": 0.6}},
        {"event": "completed", "at": 107.0, "step": 40},
    )
    assert (view["epochs_completed"], view["best_epoch"], view["val_loss"]) == (2, 1, 0.4)
    assert messages(view)[2:6] == [
        "Validation at step 10 (epoch 0.5)",
        "Epoch 1/2 completed",
        "Validation at step 30 (epoch 1.5)",
        "Epoch 2/2 completed",
    ]
