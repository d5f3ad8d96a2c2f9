"""The whole configuration: NAT's finetuning sections plus prefstream's own."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from prefstream_config.errors import ConfigError
from prefstream_config.nat import (
    DPOTrajectoryBuilderConfig,
    FinetuningConfig,
    LLMConfig,
    NeMoCustomizerTrainerAdapterConfig,
    NeMoCustomizerTrainerConfig,
)
from prefstream_config.sections import (
    BatcherConfig,
    DemoConfig,
    KafkaConfig,
    LoggingConfig,
    NmpLocalConfig,
    PairingConfig,
    RetrainingConfig,
    ServiceConfig,
    SubmitterConfig,
    TracingConfig,
    UiConfig,
)


class PrefstreamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    llms: dict[str, LLMConfig] = Field(
        default_factory=dict, description="NAT LLM definitions; the demo agents may use one."
    )
    trajectory_builders: dict[str, DPOTrajectoryBuilderConfig] = Field(default_factory=dict)
    trainer_adapters: dict[str, NeMoCustomizerTrainerAdapterConfig] = Field(default_factory=dict)
    trainers: dict[str, NeMoCustomizerTrainerConfig] = Field(default_factory=dict)
    finetuning: FinetuningConfig = Field(default_factory=FinetuningConfig)
    kafka: KafkaConfig = Field(default_factory=KafkaConfig)
    pairing: PairingConfig = Field(default_factory=PairingConfig)
    batcher: BatcherConfig = Field(default_factory=BatcherConfig)
    submitter: SubmitterConfig = Field(default_factory=SubmitterConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    retraining: RetrainingConfig = Field(default_factory=RetrainingConfig)
    nmp_local: NmpLocalConfig = Field(default_factory=NmpLocalConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)

    def builder(self) -> DPOTrajectoryBuilderConfig:
        """In use: ``pairing.trajectory_builder``, else NAT's selection, else the defaults."""
        name = self.pairing.trajectory_builder or self.finetuning.trajectory_builder
        return _select(
            self.trajectory_builders, name, "trajectory_builders", DPOTrajectoryBuilderConfig()
        )

    def trainer(self) -> NeMoCustomizerTrainerConfig:
        return _select(
            self.trainers, self.finetuning.trainer, "trainers", NeMoCustomizerTrainerConfig()
        )

    def adapter(self) -> NeMoCustomizerTrainerAdapterConfig:
        """The trainer adapter in use; there is no sensible default host, so none means an error."""
        return _select(self.trainer_adapters, self.finetuning.trainer_adapter, "trainer_adapters")

    def has_adapter(self) -> bool:
        return bool(self.trainer_adapters)


T = TypeVar("T")


def _select(options: dict[str, T], name: str | None, section: str, default: T | None = None) -> T:
    if name is not None:
        if name not in options:
            known = ", ".join(sorted(options)) or "none"
            raise ConfigError(
                f"finetuning selects {section}.{name}, which is not defined (defined: {known}). "
                f"Add it under '{section}:' or fix the name."
            )
        return options[name]
    if len(options) == 1:
        return next(iter(options.values()))
    if not options and default is not None:
        return default
    if not options:
        raise ConfigError(
            f"no {section} configured: add one under '{section}:' (see the README's config "
            "reference) or run with the default config."
        )
    raise ConfigError(
        f"{len(options)} {section} are defined ({', '.join(sorted(options))}); "
        f"select one with finetuning.{section.rstrip('s')}."
    )
