"""Which model a job starts from (``retraining.start_from``), and the customization config
that makes NeMo Customizer train it.

Customizer trains the base model of a job's customization config; it has no "start from
this model" field. So to continue training the promoted model, the submitter creates a
config that targets it, with the configured config's training options, and gives the job
that config. Its name derives from the model, so every job starting from the same model
shares one config, and a restarted submitter finds the one it may have created.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from prefstream_submission.dataset_files import safe_name

JsonObj = dict[str, Any]

COPIED_FIELDS = (
    "training_options",
    "training_precision",
    "max_seq_length",
    "prompt_template",
    "chat_prompt_template",
    "dataset_schemas",
    "pod_spec",
    "project",
)
"""What a config for a promoted model takes over from the configured one: how to train."""

TARGET_DROPPED = frozenset(
    {"id", "name", "namespace", "base_model", "model_uri", "model_path", "status"}
    | {"created_at", "updated_at"}
)
"""Target fields that name the configured base model's weights, not the promoted model's."""

START_MODEL_FIELD = "prefstream_start_model"
SOURCE_CONFIG_FIELD = "prefstream_source_config"


class CustomizationConfigs(Protocol):
    """Customizer's ``/v1/customization/configs``, as the flow needs it."""

    async def get_customization_config(self, namespace: str, name: str) -> JsonObj | None: ...
    async def create_customization_config(self, body: JsonObj) -> JsonObj: ...


class PromotedModels(Protocol):
    """Where the latest promoted model comes from (the evaluations topic in the service)."""

    async def latest_promoted(self) -> str | None: ...


@dataclass(frozen=True)
class Retraining:
    """What ``start_from: latest`` needs besides the platform the flow already has."""

    configs: CustomizationConfigs
    promoted: PromotedModels


def split_ref(ref: str, default_namespace: str = "default") -> tuple[str, str]:
    """``namespace/name`` (the name may hold ``@version+gpu``) → (namespace, name)."""
    namespace, slash, name = ref.partition("/")
    return (namespace, name) if slash else (default_namespace, ref)


def config_name_for(model: str) -> str:
    """The config that targets ``model``: ``start-from-<model with / as ->``."""
    return safe_name(f"start-from-{model.replace('/', '-')}")


def config_for_model(
    source: JsonObj, *, source_ref: str, model: str, namespace: str, name: str
) -> JsonObj:
    """A config like ``source`` (how to train) whose target's base model is ``model``."""
    body: JsonObj = {
        "name": name,
        "namespace": namespace,
        "description": f"prefstream: {source_ref}'s training options, starting from {model}",
        "custom_fields": {START_MODEL_FIELD: model, SOURCE_CONFIG_FIELD: source_ref},
    }
    body.update({k: source[k] for k in COPIED_FIELDS if k in source})
    target = source.get("target")
    kept = (
        {k: v for k, v in target.items() if k not in TARGET_DROPPED}
        if isinstance(target, dict)
        else {}
    )
    body["target"] = {**kept, "name": name, "namespace": namespace, "base_model": model}
    return body


def targets_model(config: JsonObj) -> str | None:
    """The model a config trains (its target's ``base_model``), if it says."""
    target = config.get("target")
    if isinstance(target, dict) and isinstance(target.get("base_model"), str):
        return str(target["base_model"])
    fields = config.get("custom_fields")
    if isinstance(fields, dict) and isinstance(fields.get(START_MODEL_FIELD), str):
        return str(fields[START_MODEL_FIELD])
    return None
