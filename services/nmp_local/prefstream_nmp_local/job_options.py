"""A job's ``hyperparameters`` and ``integrations`` as the SDK's job-create types define them.

Typed, so a value of the wrong type is a 422 whichever trainer runs the job; keys the SDK
does not know are kept (``extra="allow"``): the simulated trainer takes anything, the TRL
trainer refuses what it cannot honour (``training.hyperparameters``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from prefstream_nmp_local.validation_schedule import check_interval

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class DpoIn(_Open):
    ref_policy_kl_penalty: float | None = None
    preference_loss_weight: float | None = None
    preference_average_log_probs: bool | None = None
    sft_loss_weight: float | None = None
    sft_average_log_probs: bool | None = None
    max_grad_norm: float | None = Field(None, gt=0)


class LoraIn(_Open):
    adapter_dim: int | None = Field(None, ge=1)
    adapter_dropout: Probability | None = None
    alpha: int | None = Field(None, ge=1)
    target_modules: list[str] | None = None


class SftIn(_Open):
    attention_dropout: Probability | None = None
    hidden_dropout: Probability | None = None


class HyperparametersIn(_Open):
    finetuning_type: Literal["lora", "lora_merged", "all_weights"]
    training_type: Literal["dpo", "sft", "distillation", "grpo"] = "sft"
    epochs: int | None = Field(None, ge=1)
    batch_size: int | None = Field(None, ge=1)
    learning_rate: float | None = Field(None, gt=0)
    max_steps: int | None = Field(None, ge=1)
    log_every_n_steps: int | None = Field(None, ge=1)
    val_check_interval: Annotated[int | float, AfterValidator(check_interval)] | None = None
    """An integer: steps; a float up to 1.0: a fraction of an epoch (the type is kept)."""
    warmup_steps: int | None = Field(None, ge=0)
    weight_decay: float | None = Field(None, ge=0)
    seed: int | None = None
    optimizer: (
        Literal[
            "adam_with_cosine_annealing",
            "adam_with_flat_lr",
            "adamw_with_cosine_annealing",
            "adamw_with_flat_lr",
        ]
        | None
    ) = None
    min_learning_rate: float | None = Field(None, ge=0)
    adam_beta1: float | None = Field(None, ge=0, lt=1)
    adam_beta2: float | None = Field(None, ge=0, lt=1)
    sequence_packing_enabled: bool | None = None
    dpo: DpoIn | None = None
    lora: LoraIn | None = None
    sft: SftIn | None = None
    grpo: dict[str, Any] | None = None
    distillation: dict[str, Any] | None = None


class WandBIn(_Open):
    project: str | None = None
    entity: str | None = None
    notes: str | None = None
    tags: list[str] | None = None


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["wandb"] = "wandb"
    wandb: WandBIn


def integrations_warning(integrations: list[IntegrationIn]) -> dict[str, str]:
    """The job's ``warnings`` entry: nmp-local has no network to reach W&B."""
    kinds = ", ".join(sorted({i.type for i in integrations}))
    return {
        "message": f"integrations recorded but not used: {kinds}",
        "explanation": "nmp-local does not reach Weights & Biases; the job trains and reports "
        "its metrics in its status only. The wandb-api-key header is ignored and not stored.",
    }
