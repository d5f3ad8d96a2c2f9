"""The one YAML configuration: NAT section names, env and -o overrides, secret masking."""

from prefstream_config.errors import ConfigError
from prefstream_config.loader import load_config
from prefstream_config.model import PrefstreamConfig
from prefstream_config.nat import (
    DPOTrajectoryBuilderConfig,
    Hyperparameters,
    LLMConfig,
    NeMoCustomizerTrainerAdapterConfig,
    NeMoCustomizerTrainerConfig,
    NIMDeploymentConfig,
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
    TopicsConfig,
    TracingConfig,
    UiConfig,
)
from prefstream_config.show import masked_dict, render_yaml

__all__ = [
    "BatcherConfig",
    "ConfigError",
    "DPOTrajectoryBuilderConfig",
    "DemoConfig",
    "Hyperparameters",
    "KafkaConfig",
    "LLMConfig",
    "LoggingConfig",
    "NIMDeploymentConfig",
    "NeMoCustomizerTrainerAdapterConfig",
    "NeMoCustomizerTrainerConfig",
    "NmpLocalConfig",
    "PairingConfig",
    "PrefstreamConfig",
    "RetrainingConfig",
    "ServiceConfig",
    "SubmitterConfig",
    "TopicsConfig",
    "TracingConfig",
    "UiConfig",
    "load_config",
    "masked_dict",
    "render_yaml",
]
