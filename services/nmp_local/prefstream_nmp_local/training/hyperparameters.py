"""Customizer DPO hyperparameters → TRL ``DPOConfig`` keyword arguments (pure).

A key the trainer cannot honour is refused when the job is created (422 naming the key),
rather than silently ignored: a user who asks for a cosine schedule must not get a flat one.
A key that asks for nothing (``null``, an empty section, ``sequence_packing_enabled:
false``) is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefstream_nmp_local.validation_schedule import every_steps

JsonObj = dict[str, Any]

TOP_LEVEL = frozenset(
    {
        "finetuning_type",
        "training_type",
        "epochs",
        "batch_size",
        "learning_rate",
        "max_steps",
        "log_every_n_steps",
        "val_check_interval",
        "seed",
        "weight_decay",
        "warmup_steps",
        "adam_beta1",
        "adam_beta2",
        "dpo",
    }
)
DPO_KEYS = frozenset(
    {
        "ref_policy_kl_penalty",
        "preference_loss_weight",
        "sft_loss_weight",
        "max_grad_norm",
        "preference_average_log_probs",
        "sft_average_log_probs",
    }
)
NO_OP_VALUES: dict[str, Any] = {"sequence_packing_enabled": False}
"""Keys the trainer cannot act on, accepted only with the value that asks for nothing."""
NO_LORA = (
    "the nmp-local TRL trainer trains all weights and has no LoRA; use finetuning_type "
    "'all_weights' without a lora section, or start nmp-local with "
    "NMP_LOCAL_TRAINER=simulated to simulate LoRA jobs"
)
REASONS = {
    "lora": NO_LORA,
    "sft": "SFT settings; nmp-local trains DPO only",
    "grpo": "GRPO settings; nmp-local trains DPO only",
    "distillation": "distillation settings; nmp-local trains DPO only",
}
"""Why a known SDK section is refused; any other key is simply not supported."""


@dataclass(frozen=True)
class Unsupported:
    key: str
    reason: str

    def __str__(self) -> str:
        return f"hyperparameters.{self.key}: {self.reason}"


def _asks_for_something(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_asks_for_something(v) for v in value.values())
    return value is not None


def unsupported(hyper: JsonObj) -> list[Unsupported]:
    """Every key (nested ``dpo.*`` included) the TRL trainer cannot honour; ``None`` = absent."""
    out: list[Unsupported] = []
    for key, value in hyper.items():
        if not _asks_for_something(value) or NO_OP_VALUES.get(key, object()) == value:
            continue
        if key not in TOP_LEVEL:
            reason = REASONS.get(key, "not supported by the nmp-local TRL trainer")
            out.append(Unsupported(key, reason))
    if hyper.get("finetuning_type") not in (None, "all_weights"):
        out.append(Unsupported("finetuning_type", f"{hyper['finetuning_type']!r}: {NO_LORA}"))
    dpo = hyper.get("dpo")
    if dpo is not None and not isinstance(dpo, dict):
        out.append(Unsupported("dpo", "expected an object"))
    elif dpo:
        for key, value in dpo.items():
            if value is None:
                continue
            if key not in DPO_KEYS:
                out.append(Unsupported(f"dpo.{key}", "not supported by the nmp-local TRL trainer"))
        if dpo.get("sft_average_log_probs") is False and (dpo.get("sft_loss_weight") or 0) > 0:
            out.append(
                Unsupported(
                    "dpo.sft_average_log_probs",
                    "TRL's SFT term always averages over tokens; with an sft_loss_weight only "
                    "true is supported",
                )
            )
    return out


def dpo_config_kwargs(
    hyper: JsonObj, *, max_seq_length: int, checkpoint_every: int, steps_per_epoch: int
) -> JsonObj:
    """The ``DPOConfig`` fields these hyperparameters set (call ``unsupported`` first).

    ``eval_strategy`` comes out only as ``"steps"`` (for ``val_check_interval``); the worker
    otherwise evaluates once per epoch, and not at all without validation rows.
    """
    dpo: JsonObj = hyper.get("dpo") or {}
    out: JsonObj = {
        "num_train_epochs": int(hyper.get("epochs") or 1),
        "per_device_train_batch_size": int(hyper.get("batch_size") or 16),
        "per_device_eval_batch_size": int(hyper.get("batch_size") or 16),
        "learning_rate": float(hyper.get("learning_rate") or 9e-6),
        "max_length": int(max_seq_length),
        "save_steps": int(checkpoint_every),
        "logging_steps": int(hyper.get("log_every_n_steps") or 1),
    }
    if hyper.get("max_steps"):
        out["max_steps"] = int(hyper["max_steps"])
    every = every_steps(hyper.get("val_check_interval"), steps_per_epoch)
    if every is not None:
        out["eval_strategy"] = "steps"
        out["eval_steps"] = every
    for ours, theirs in (
        ("seed", "seed"),
        ("weight_decay", "weight_decay"),
        ("warmup_steps", "warmup_steps"),
        ("adam_beta1", "adam_beta1"),
        ("adam_beta2", "adam_beta2"),
    ):
        if hyper.get(ours) is not None:
            out[theirs] = hyper[ours]
    if dpo.get("ref_policy_kl_penalty") is not None:
        out["beta"] = float(dpo["ref_policy_kl_penalty"])
    if dpo.get("max_grad_norm") is not None:
        out["max_grad_norm"] = float(dpo["max_grad_norm"])
    preference = "sigmoid_norm" if dpo.get("preference_average_log_probs") else "sigmoid"
    raw_weight = dpo.get("preference_loss_weight")
    pref_weight = 1.0 if raw_weight is None else float(raw_weight)
    sft_weight = float(dpo.get("sft_loss_weight") or 0.0)
    if sft_weight > 0:
        out["loss_type"] = [preference, "sft"]
        out["loss_weights"] = [pref_weight, sft_weight]
    else:
        out["loss_type"] = [preference]
        out["loss_weights"] = [pref_weight]
    return out
