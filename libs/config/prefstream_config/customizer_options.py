"""Customizer job options NAT has no keys for, named and typed as the ``nemo-microservices``
SDK's job-create types name them (``HyperparametersParam``, ``LoraParametersParam``,
``SftParametersParam``, ``WandBIntegrationParam``).

Every field is optional and ``None`` means "not sent", so a config that sets none of them
sends the same job body as before; the platform's own defaults then apply.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
"""A probability (dropout)."""
Optimizer = Literal[
    "adam_with_cosine_annealing",
    "adam_with_flat_lr",
    "adamw_with_cosine_annealing",
    "adamw_with_flat_lr",
]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)


class LoRAHyperparameters(_Options):
    """Used with ``finetuning_type: lora`` (or ``lora_merged``)."""

    adapter_dim: PositiveInt | None = None
    """Size (rank) of the adapter layers; a power of 2."""
    adapter_dropout: Fraction | None = None
    """Dropout probability in the adapter layers."""
    alpha: PositiveInt | None = None
    """Scaling factor of the LoRA update, often a multiple of adapter_dim."""
    target_modules: list[str] | None = None
    """Layers to adapt, e.g. [linear_qkv, linear_proj]; wildcards allowed."""


class SFTHyperparameters(_Options):
    """Used with ``training_type: sft``."""

    attention_dropout: Fraction | None = None
    """Dropout probability on attention weights."""
    hidden_dropout: Fraction | None = None
    """Dropout probability on hidden states."""


class WandBSettings(_Options):
    """Mapped by Customizer onto ``wandb.init`` settings."""

    project: str | None = None
    """W&B project the run is logged under."""
    entity: str | None = None
    """W&B user or team name."""
    notes: str | None = None
    """A description of the run."""
    tags: list[str] | None = None
    """Labels for the run."""


class WandBIntegration(_Options):
    """One entry of the job's ``integrations``; the API key is the adapter's ``wandb_api_key``."""

    type: Literal["wandb"] = "wandb"
    """The only integration Customizer has."""
    wandb: WandBSettings
