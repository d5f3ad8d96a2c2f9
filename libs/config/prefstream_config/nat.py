"""NAT's finetuning sections, with NAT's names and defaults, so a NAT config loads unchanged.

Sources: the NAT DPO guide and ``nvidia-nat-nemo-customizer`` 1.9.0 (see shared/reference).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
)


class _NatComponent(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DPOTrajectoryBuilderConfig(_NatComponent):
    """``_type: dpo_traj_builder``: the pairing rules."""

    type: Literal["dpo_traj_builder"] = Field("dpo_traj_builder", alias="_type")
    ttc_step_name: str = "dpo_candidate_move"
    exhaustive_pairs: bool = True
    min_score_diff: float = Field(0.0, ge=0.0, allow_inf_nan=False)
    max_pairs_per_turn: PositiveInt | None = None
    reward_from_score_diff: bool = True
    require_multiple_candidates: bool = True


class DPOHyperparameters(_NatComponent):
    ref_policy_kl_penalty: float = 0.1
    preference_loss_weight: float = 1.0
    preference_average_log_probs: bool = False
    sft_loss_weight: float = 0.0


class Hyperparameters(_NatComponent):
    """Sent verbatim to Customizer as the job's ``hyperparameters`` (NAT sends ``model_dump()``)."""

    training_type: Literal["sft", "dpo"] = "dpo"
    finetuning_type: Literal["lora", "all_weights"] = "all_weights"
    epochs: PositiveInt = 3
    batch_size: PositiveInt = 4
    learning_rate: PositiveFloat = 5e-5
    dpo: DPOHyperparameters = Field(default_factory=DPOHyperparameters)


class NIMDeploymentConfig(_NatComponent):
    image_name: str = "nvcr.io/nim/meta/llama-3.1-8b-instruct"
    image_tag: str = "latest"
    gpu: PositiveInt = 1
    deployment_name: str | None = None
    description: str = "Fine-tuned model deployment"


class NeMoCustomizerTrainerAdapterConfig(_NatComponent):
    """``_type: nemo_customizer_trainer_adapter``: where and how jobs are submitted.

    ``api_token`` and the timeouts are prefstream additions (a gateway bearer token and
    an overall deadline); everything else is NAT's.
    """

    type: Literal["nemo_customizer_trainer_adapter"] = Field(
        "nemo_customizer_trainer_adapter", alias="_type"
    )
    entity_host: str
    datastore_host: str
    hf_token: SecretStr = SecretStr("")
    namespace: str = Field(min_length=1)
    dataset_name: str = Field("nat-dpo", min_length=1)
    dataset_output_dir: str | None = None
    create_namespace_if_missing: bool = True
    customization_config: str = Field(min_length=1)
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    use_full_message_history: bool = False
    deploy_on_completion: bool = False
    deployment_config: NIMDeploymentConfig = Field(default_factory=NIMDeploymentConfig)
    poll_interval_seconds: PositiveFloat = 30.0
    deployment_timeout_seconds: PositiveFloat = 1800.0
    max_consecutive_status_failures: int = Field(3, ge=1, le=10)
    api_token: SecretStr | None = None
    request_timeout_seconds: PositiveFloat = 60.0
    job_timeout_seconds: PositiveFloat | None = None

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
    continue_on_collection_error: bool = False
    deduplicate_pairs: bool = True
    max_pairs: PositiveInt | None = None
    wait_for_completion: bool = True


class LLMConfig(BaseModel):
    """A NAT ``llms.<name>`` entry. Only what the demo agents read is typed; the rest is kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    type: str = Field("openai", alias="_type")
    model_name: str | None = None
    base_url: str | None = None
    api_key: SecretStr | None = None
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
