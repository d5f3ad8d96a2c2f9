"""NAT's finetuning sections, with NAT's names and defaults, so a NAT config loads unchanged.

Sources: the NAT DPO guide and ``nvidia-nat-nemo-customizer`` 1.9.0 (docs/configuration.md
lists every field).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
)

from prefstream_config.customizer_options import (
    LoRAHyperparameters,
    Optimizer,
    SFTHyperparameters,
    WandBIntegration,
)
from prefstream_config.secrets import Secret


class _NatComponent(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


class _Sent(_NatComponent):
    """A section sent to Customizer as JSON, so no infinities or NaNs."""

    model_config = ConfigDict(allow_inf_nan=False)


class DPOTrajectoryBuilderConfig(_NatComponent):
    """``_type: dpo_traj_builder``: the pairing rules."""

    type: Literal["dpo_traj_builder"] = Field("dpo_traj_builder", alias="_type")
    ttc_step_name: str = "dpo_candidate_move"
    """Name of the TTC step whose candidates are paired; others are filtered out."""
    exhaustive_pairs: bool = True
    """All pairs with score(A) > score(B); false: only best vs worst per turn."""
    min_score_diff: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    """Minimum score difference for a pair (compared as IEEE doubles, as NAT does)."""
    max_pairs_per_turn: PositiveInt | None = None
    """Keep the pairs with the largest differences, at most this many per turn."""
    reward_from_score_diff: bool = True
    """Reward = score difference; false: the chosen candidate's score."""
    require_multiple_candidates: bool = True
    """Count turns with one candidate as skipped (they never pair either way)."""


class DPOHyperparameters(_Sent):
    ref_policy_kl_penalty: float = 0.1
    """KL penalty (beta in the DPO objective); higher is more conservative."""
    preference_loss_weight: float = 1.0
    """Weight of the preference (DPO) loss term."""
    preference_average_log_probs: bool = False
    """Average log probabilities over the sequence instead of summing them."""
    sft_loss_weight: float = 0.0
    """Weight of an SFT loss on chosen responses."""
    max_grad_norm: PositiveFloat | None = None
    """Gradient clipping threshold."""
    sft_average_log_probs: bool | None = None
    """Normalise the SFT loss by sequence length instead of summing over tokens."""


class Hyperparameters(_Sent):
    """Sent to Customizer as the job's ``hyperparameters``: NAT's keys always (NAT sends
    ``model_dump()``), the SDK's other keys (defaults null) only when set."""

    training_type: Literal["sft", "dpo"] = "dpo"
    """Customizer training type."""
    finetuning_type: Literal["lora", "lora_merged", "all_weights"] = "all_weights"
    """LoRA (adapter, or merged into the weights) or full-weight finetuning."""
    epochs: PositiveInt = 3
    """Training epochs over the dataset."""
    batch_size: PositiveInt = 4
    """Training batch size."""
    learning_rate: PositiveFloat = 5e-5
    """Optimizer learning rate."""
    dpo: DPOHyperparameters = Field(default_factory=DPOHyperparameters)
    max_steps: PositiveInt | None = None
    """Stop after this many steps, even mid-epoch."""
    log_every_n_steps: PositiveInt | None = None
    """Steps between logged training metrics (Customizer's default: 10)."""
    val_check_interval: PositiveInt | PositiveFloat | None = None
    """Validate every N steps (an integer; 1 is every step) or every fraction of an epoch
    (a float, 0.1 to 1.0; 1.0 is once per epoch)."""
    warmup_steps: NonNegativeInt | None = None
    """Steps over which the learning rate ramps up to learning_rate."""
    weight_decay: NonNegativeFloat | None = None
    """Weight decay penalty."""
    seed: int | None = None
    """Seed for every trainer; none: random."""
    optimizer: Optimizer | None = None
    """Optimizer and learning-rate schedule."""
    min_learning_rate: NonNegativeFloat | None = None
    """Where a cosine-annealing schedule starts; below learning_rate."""
    adam_beta1: float | None = Field(None, ge=0.0, lt=1.0)
    """Adam momentum decay (cosine-annealing optimizers)."""
    adam_beta2: float | None = Field(None, ge=0.0, lt=1.0)
    """Adam squared-gradient decay (cosine-annealing optimizers)."""
    sequence_packing_enabled: bool | None = None
    """Pack several rows into one sequence (experimental in Customizer)."""
    lora: LoRAHyperparameters | None = None
    """LoRA adapter settings."""
    sft: SFTHyperparameters | None = None
    """SFT dropout settings."""


class NIMDeploymentConfig(_NatComponent):
    image_name: str = "nvcr.io/nim/meta/llama-3.1-8b-instruct"
    """NIM container image for the deployment."""
    image_tag: str = "latest"
    """NIM container image tag."""
    gpu: PositiveInt = 1
    """GPUs for the deployment."""
    deployment_name: str | None = None
    """Deployment name; none: derived from the dataset name."""
    description: str = "Fine-tuned model deployment"
    """Deployment description."""


class NeMoCustomizerTrainerAdapterConfig(_NatComponent):
    """``_type: nemo_customizer_trainer_adapter``: where and how jobs are submitted.

    ``api_token``, the timeouts, ``integrations`` and ``wandb_api_key`` are prefstream
    additions (a gateway bearer token, an overall deadline, Customizer's W&B options);
    everything else is NAT's.
    """

    type: Literal["nemo_customizer_trainer_adapter"] = Field(
        "nemo_customizer_trainer_adapter", alias="_type"
    )
    entity_host: str
    """Base URL of the Entity Store / Customizer / Deployment APIs."""
    datastore_host: str
    """Base URL of the Data Store (HF Hub API under /v1/hf)."""
    hf_token: Secret = SecretStr("")
    """Data Store token; empty means no auth header (never a saved huggingface.co token)."""
    namespace: str = Field(min_length=1)
    """Namespace for datasets, models and deployments (created if missing)."""
    dataset_name: str = Field("nat-dpo", min_length=1)
    """Base name; each cut is `<dataset_name>-<sequence>`."""
    dataset_output_dir: str | None = None
    """Kept for NAT compatibility; the batcher's datasets_dir holds the files."""
    create_namespace_if_missing: bool = True
    """Create the namespace in the Entity Store and the Data Store."""
    customization_config: str = Field(min_length=1)
    """Customizer config, e.g. meta/llama-3.2-1b-instruct@v1.0.0+A100."""
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    use_full_message_history: bool = False
    """Prompt as the full message list; false: the last message's content."""
    deploy_on_completion: bool = False
    """Deploy the trained model and wait until it is ready."""
    deployment_config: NIMDeploymentConfig = Field(default_factory=NIMDeploymentConfig)
    poll_interval_seconds: PositiveFloat = 30.0
    """Seconds between job status polls."""
    deployment_timeout_seconds: PositiveFloat = 1800.0
    """Deadline for a deployment to become ready."""
    max_consecutive_status_failures: int = Field(3, ge=1, le=10)
    """Status reads that may fail in a row before the job is reported unknown."""
    api_token: Secret | None = None
    """Bearer token for a gateway in front of the platform (prefstream addition)."""
    request_timeout_seconds: PositiveFloat = 60.0
    """Per-request HTTP timeout."""
    job_timeout_seconds: PositiveFloat | None = None
    """Overall deadline per job; on expiry it is cancelled and reported failed."""
    integrations: list[WandBIntegration] | None = None
    """Sent as each job's integrations (Weights & Biases); none: not sent."""
    wandb_api_key: Secret | None = None
    """W&B API key, sent as the job-create request's wandb-api-key header (as the SDK does),
    never in the job body or events."""

    @field_validator("entity_host", "datastore_host")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class NeMoCustomizerTrainerConfig(_NatComponent):
    """``_type: nemo_customizer_trainer``. ``num_runs`` and ``wait_for_completion`` are kept
    for NAT compatibility; a stream has no runs, so only dedup and sampling apply."""

    type: Literal["nemo_customizer_trainer"] = Field("nemo_customizer_trainer", alias="_type")
    num_runs: PositiveInt = 1
    """NAT collection runs; a stream has none (kept for compatibility)."""
    continue_on_collection_error: bool = False
    """NAT only (kept for compatibility)."""
    deduplicate_pairs: bool = True
    """Drop pairs whose (prompt, chosen, rejected) was already seen."""
    max_pairs: PositiveInt | None = None
    """Cap a dataset's size (seeded sampling in cumulative mode)."""
    wait_for_completion: bool = True
    """NAT only (the submitter always follows jobs)."""


class LLMConfig(BaseModel):
    """A NAT ``llms.<name>`` entry. Only what the demo agents read is typed; the rest is kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = Field("openai", alias="_type")
    model_name: str | None = None
    base_url: str | None = None
    api_key: Secret | None = None
    temperature: float | None = None


class FinetuningConfig(BaseModel):
    """NAT's ``finetuning`` section: which named builder, adapter and trainer are in use."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    trainer: str | None = None
    trajectory_builder: str | None = None
    trainer_adapter: str | None = None
    reward_function: dict[str, Any] | None = None
    num_epochs: int | None = None
    output_dir: str | None = None
