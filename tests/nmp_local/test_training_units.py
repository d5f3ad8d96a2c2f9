"""Pure parts of the TRL trainer: hyperparameter mapping, progress folding, trainer choice,
status rendering. No torch needed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prefstream_nmp_local import validation_schedule as schedule
from prefstream_nmp_local.training import job_state, selection
from prefstream_nmp_local.training.dataset_rows import read_rows
from prefstream_nmp_local.training.hyperparameters import dpo_config_kwargs, unsupported
from prefstream_nmp_local.training.progress import fold, parse_lines
from prefstream_nmp_local.training.status_view import render_trl_status

from tests.support.sdk_hyperparameters import nested, samples

BASE: dict[str, Any] = {
    "training_type": "dpo",
    "finetuning_type": "all_weights",
    "epochs": 3,
    "batch_size": 8,
    "learning_rate": 1e-4,
}


SPE = {"steps_per_epoch": 10}


def keys(hyper: dict[str, Any]) -> list[str]:
    return [u.key for u in unsupported(hyper)]


def test_supported_hyperparameters_map_onto_dpo_config() -> None:
    hyper = {
        **BASE,
        "max_steps": 50,
        "log_every_n_steps": 5,
        "seed": 7,
        "weight_decay": 0.01,
        "warmup_steps": 3,
        "dpo": {"ref_policy_kl_penalty": 0.2, "max_grad_norm": 0.5},
    }
    assert keys(hyper) == []
    assert dpo_config_kwargs(hyper, max_seq_length=128, checkpoint_every=20, **SPE) == {
        "num_train_epochs": 3,
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "learning_rate": 1e-4,
        "max_length": 128,
        "save_steps": 20,
        "logging_steps": 5,
        "max_steps": 50,
        "seed": 7,
        "weight_decay": 0.01,
        "warmup_steps": 3,
        "beta": 0.2,
        "max_grad_norm": 0.5,
        "loss_type": ["sigmoid"],
        "loss_weights": [1.0],
    }


def test_sft_weight_adds_an_sft_loss_term_and_average_log_probs_normalises() -> None:
    dpo = {"preference_loss_weight": 0.7, "sft_loss_weight": 0.3, "sft_average_log_probs": True}
    config = dpo_config_kwargs({**BASE, "dpo": dpo}, max_seq_length=64, checkpoint_every=1, **SPE)
    assert config["loss_type"] == ["sigmoid", "sft"]
    assert config["loss_weights"] == [0.7, 0.3]
    avg = {"preference_average_log_probs": True, "sft_loss_weight": 0.0}
    config = dpo_config_kwargs({**BASE, "dpo": avg}, max_seq_length=64, checkpoint_every=1, **SPE)
    assert config["loss_type"] == ["sigmoid_norm"]
    assert config["loss_weights"] == [1.0]


def test_explicit_zero_preference_weight_is_kept() -> None:
    config = dpo_config_kwargs(
        {**BASE, "dpo": {"preference_loss_weight": 0.0, "sft_loss_weight": 1.0}},
        max_seq_length=64,
        checkpoint_every=1,
        **SPE,
    )
    assert config["loss_weights"] == [0.0, 1.0]


@pytest.mark.parametrize(
    ("extra", "bad"),
    [
        ({"optimizer": "adamw_with_cosine_annealing"}, ["optimizer"]),
        ({"min_learning_rate": 1e-6}, ["min_learning_rate"]),
        ({"sequence_packing_enabled": True}, ["sequence_packing_enabled"]),
        ({"lora": {"adapter_dim": 8}}, ["lora"]),
        ({"sft": {"hidden_dropout": 0.1}}, ["sft"]),
        ({"grpo": {"environment": {"name": "mcqa"}}}, ["grpo"]),
        ({"dpo": {"mystery": 1}}, ["dpo.mystery"]),
        (
            {"dpo": {"sft_average_log_probs": False, "sft_loss_weight": 0.5}},
            ["dpo.sft_average_log_probs"],
        ),
        ({"finetuning_type": "lora"}, ["finetuning_type"]),
        ({"finetuning_type": "lora_merged"}, ["finetuning_type"]),
        ({"dpo": 3}, ["dpo"]),
    ],
)
def test_unhonourable_keys_are_named(extra: dict[str, Any], bad: list[str]) -> None:
    assert keys({**BASE, **extra}) == bad


def test_absent_and_no_op_values_are_fine() -> None:
    nothing: dict[str, Any] = {"optimizer": None, "sequence_packing_enabled": False}
    nothing |= {"dpo": None, "lora": {}, "sft": {"hidden_dropout": None}}
    assert keys({**BASE, **nothing}) == []
    # Without an SFT term there is nothing for sft_average_log_probs to change.
    assert keys({**BASE, "dpo": {"sft_average_log_probs": False}}) == []


REFUSED = {"finetuning_type", "optimizer", "min_learning_rate", "sequence_packing_enabled"}
REFUSED |= {"lora", "sft"}
"""What docs/nmp-local.md lists as refused by the TRL trainer (for these sample values)."""
SAME_AS_TRL = {("training_type",), ("dpo", "sft_average_log_probs")}
"""Keys whose sample value asks for what TRL does anyway (dpo; an SFT term averaged)."""


def test_every_sdk_hyperparameter_is_honoured_or_refused_by_name() -> None:
    """Walks the SDK's fields: each one the trainer accepts must change the ``DPOConfig``
    it builds (honoured, not ignored); the others are refused, each by its name."""
    fields = samples()
    assert {u.key for u in unsupported(nested(fields))} == REFUSED
    before = dpo_config_kwargs(BASE, max_seq_length=64, checkpoint_every=1, **SPE)
    honoured = 0
    for field, value in fields:
        if field.path[0] in REFUSED:
            continue
        hyper = {**BASE, **nested([(field, value)])}
        assert keys(hyper) == [], field.dotted
        after = dpo_config_kwargs(hyper, max_seq_length=64, checkpoint_every=1, **SPE)
        if field.path not in SAME_AS_TRL:
            assert after != before, field.dotted
            honoured += 1
    assert honoured >= 15


def test_lora_refusals_say_what_to_do_instead() -> None:
    for problem in unsupported({**BASE, "finetuning_type": "lora", "lora": {"alpha": 16}}):
        assert "'all_weights'" in problem.reason
        assert "NMP_LOCAL_TRAINER=simulated" in problem.reason


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (3, {"eval_strategy": "steps", "eval_steps": 3}),
        (0.25, {"eval_strategy": "steps", "eval_steps": 2}),  # a quarter of 10 steps, rounded
        (0.01, {"eval_strategy": "steps", "eval_steps": 1}),
        (4.0, {"eval_strategy": "steps", "eval_steps": 4}),  # a whole float is steps
        (1.0, {}),  # a whole epoch: TRL's default per-epoch evaluation
        (10, {}),
        (25, {}),  # beyond an epoch: once per epoch, as Customizer documents
    ],
)
def test_val_check_interval_maps_onto_eval_steps(interval: float, expected: dict[str, Any]) -> None:
    hyper = {**BASE, "val_check_interval": interval}
    assert keys(hyper) == []
    config = dpo_config_kwargs(hyper, max_seq_length=64, checkpoint_every=1, **SPE)
    got = {k: config[k] for k in ("eval_strategy", "eval_steps") if k in config}
    assert got == expected


@pytest.mark.parametrize(
    ("total", "per_epoch", "every", "expected"),
    [
        (8, 4, None, [4, 8]),
        (10, 20, None, [10]),  # max_steps ends the first epoch half-way: validated there
        (50, 20, None, [20, 40, 50]),
        (8, 4, 3, [3, 6, 8]),
        (9, 4, 3, [3, 6, 9]),
        (0, 4, None, []),
    ],
)
def test_validation_runs_per_epoch_or_interval_and_where_training_stops(
    total: int, per_epoch: int, every: int | None, expected: list[int]
) -> None:
    assert schedule.validation_steps(total, per_epoch, every) == expected


def test_validation_names_and_best_epoch_never_pass_whole_epochs() -> None:
    assert schedule.validation_message(20, 1.0, 3) == "Epoch 1/3 completed"
    assert schedule.validation_message(10, 0.5, 3) == "Validation at step 10 (epoch 0.5)"
    assert schedule.validation_message(50, 2.5, 3) == "Validation at step 50 (epoch 2.5)"
    assert [schedule.best_epoch(e) for e in (0.5, 0.9999999, 1.0, 2.5)] == [None, 1, 1, 2]


def events_text(*events: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


STARTED = {"event": "started", "at": 10.0, "total_steps": 8, "steps_per_epoch": 4, "epochs": 2}


def test_fold_collects_losses_metrics_and_outcome() -> None:
    text = events_text(
        {**STARTED, "pid": 42},
        {"event": "step", "at": 11.0, "step": 2, "epoch": 0.5},
        {"event": "log", "at": 11.0, "step": 2, "values": {"train_loss": 0.69}},
        {"event": "step", "at": 12.0, "step": 4, "epoch": 1.0},
        {"event": "log", "at": 12.0, "step": 4, "values": {"train_loss": 0.5, "x": "nan?"}},
        {"event": "eval", "at": 12.5, "step": 4, "epoch": 1.0, "values": {"val_loss": 0.6}},
        {"event": "checkpoint", "at": 12.6, "step": 4},
    )
    p = fold(parse_lines(text + '{"event": "step", "at": 13.0, "st'))  # a half-written line
    assert (p.steps_completed, p.epochs_completed, p.percentage_done) == (4, 1, 50.0)
    assert [pt.value for pt in p.train["train_loss"]] == [0.69, 0.5]
    assert "x" not in p.train
    assert p.checkpoints == [4]
    assert p.pid == 42
    assert p.outcome is None
    done = fold(
        parse_lines(
            text + events_text({"event": "completed", "at": 20.0, "step": 8, "output_dir": "/o"})
        )
    )
    assert (done.outcome, done.percentage_done, done.steps_completed) == ("completed", 100.0, 8)


def test_a_resumed_run_overrides_the_steps_it_repeats() -> None:
    p = fold(
        parse_lines(
            events_text(
                STARTED,
                {"event": "log", "at": 11.0, "step": 6, "values": {"train_loss": 0.9}},
                {**STARTED, "at": 30.0, "resumed_from": 4},
                {"event": "log", "at": 31.0, "step": 6, "values": {"train_loss": 0.4}},
            )
        )
    )
    assert [(pt.step, pt.value) for pt in p.train["train_loss"]] == [(6, 0.4)]
    assert p.resumes == [4]
    assert p.started_at == 10.0


def test_trainer_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(selection, "stack_missing", lambda: ("torch", "trl"))
    assert selection.resolve_mode("auto") == "simulated"
    assert selection.resolve_mode("trl") == "trl"
    message = selection.startup_message("auto")
    assert "torch and trl cannot be imported" in message
    assert "pip install 'prefstream-nmp-local[training]'" in message
    monkeypatch.setattr(selection, "stack_missing", lambda: ())
    assert selection.resolve_mode("auto") == "trl"
    assert selection.resolve_mode("simulated") == "simulated"


def test_trl_status_renders_progress_and_terminal_states() -> None:
    state = job_state.new_state(100.0, "/nowhere", {}, {}, {})
    state = job_state.transition(state, "running", 101.0, "Training started in worker pid 9")
    p = fold(
        parse_lines(
            events_text(
                STARTED,
                {"event": "step", "at": 11.0, "step": 4, "epoch": 1.0},
                {"event": "log", "at": 105.0, "step": 4, "values": {"train_loss": 0.5}},
                {
                    "event": "eval",
                    "at": 106.0,
                    "step": 4,
                    "epoch": 1.0,
                    "values": {"val_loss": 0.6, "rewards/accuracies": 0.75},
                },
            )
        )
    )
    state = {**state, "progress": p.to_json()}
    record = {"id": "cust-x", "plan": {**PLAN, "created_at": 100.0}, "training": state}
    view = render_trl_status(record, job_state.trl_progress(state, 110.0))
    assert view["status"] == "running"
    assert view["percentage_done"] == 50.0
    assert (view["best_epoch"], view["val_loss"], view["train_loss"]) == (1, 0.6, 0.5)
    assert view["metrics"]["metrics"]["val_accuracy"][0]["value"] == 0.75
    assert [log["message"] for log in view["status_logs"]] == [
        "created",
        "running",
        "Epoch 1/2 completed",
    ]
    cancelled = job_state.transition(state, "cancelled", 111.0, "Job cancelled by user")
    assert job_state.transition(cancelled, "running", 112.0, None) is cancelled  # final
    assert job_state.trl_progress(cancelled, 500.0).at == 111.0


PLAN: dict[str, Any] = {
    "created_at": 0.0,
    "created_seconds": 0.0,
    "pending_seconds": 0.0,
    "seconds_per_epoch": 1.0,
    "epochs": 2,
    "steps_per_epoch": 4,
    "total_steps": 8,
}


def test_rows_are_read_in_the_same_order_whatever_order_the_files_list_them(
    tmp_path: Any,
) -> None:
    rows = [
        {"prompt": f"p{i}", "chosen_response": "a", "rejected_response": "b"} for i in range(20)
    ]
    for name, ordered in (("arrival", rows), ("reversed", rows[::-1])):
        (tmp_path / name / "training").mkdir(parents=True)
        text = "\n".join(json.dumps(r) for r in ordered) + "\n"
        (tmp_path / name / "training" / "training_file.jsonl").write_text(text)
    train, held_out = read_rows(tmp_path / "arrival")
    assert (train, held_out) == read_rows(tmp_path / "reversed")
    assert sorted(r["prompt"] for r in train + held_out) == sorted(r["prompt"] for r in rows)
    assert len(held_out) == 2  # no validation files: a tenth is held out
