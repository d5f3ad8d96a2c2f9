"""Customizer DPO hyperparameters → TRL ``DPOConfig`` keyword arguments (pure).

A key the trainer cannot honour is refused when the job is created (422 naming the key),
rather than silently ignored: a user who asks for a cosine schedule must not get a flat one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Unsupported:
    key: str
    reason: str

    def __str__(self) -> str:
        return f"hyperparameters.{self.key}: {self.reason}"


def unsupported(hyper: JsonObj) -> list[Unsupported]:
    """Every key (nested ``dpo.*`` included) the TRL trainer cannot honour; ``None`` = absent."""
    out: list[Unsupported] = []
    for key, value in hyper.items():
        if value is None or (key in NO_OP_VALUES and value == NO_OP_VALUES[key]):
            continue
        if key not in TOP_LEVEL:
            out.append(Unsupported(key, "not supported by the nmp-local TRL trainer"))
    if hyper.get("finetuning_type") not in (None, "all_weights"):
        out.append(
            Unsupported(
                "finetuning_type",
                f"{hyper['finetuning_type']!r} is not supported by the nmp-local TRL trainer "
                "(it trains all weights; use 'all_weights')",
            )
        )
    dpo = hyper.get("dpo")
    if dpo is not None and not isinstance(dpo, dict):
        out.append(Unsupported("dpo", "expected an object"))
    elif dpo:
        for key, value in dpo.items():
            if value is None:
                continue
            if key not in DPO_KEYS:
                out.append(Unsupported(f"dpo.{key}", "not supported by the nmp-local TRL trainer"))
        if dpo.get("sft_average_log_probs") is False:
            out.append(
                Unsupported(
                    "dpo.sft_average_log_probs",
                    "TRL's SFT term always averages over tokens; only true is supported",
                )
            )
    return out


def dpo_config_kwargs(hyper: JsonObj, *, max_seq_length: int, checkpoint_every: int) -> JsonObj:
    """The ``DPOConfig`` fields these hyperparameters set (call ``unsupported`` first)."""
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
