"""Customization configs preloaded into a fresh nmp-local (the platform ships these too).

Names carry a version and GPU suffix, e.g. ``meta/llama-3.2-1b-instruct@v1.0.0+A100``.
Most support DPO; one is SFT-only so ``filter[training_type]=dpo`` has something to drop.
"""

from __future__ import annotations

from typing import Any

JsonObj = dict[str, Any]

DPO_SCHEMA: JsonObj = {
    "title": "DPO dataset row",
    "type": "object",
    "required": ["prompt", "chosen_response", "rejected_response"],
    "properties": {
        "prompt": {
            "anyOf": [
                {"type": "string"},
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["role", "content"],
                        "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
                    },
                },
            ]
        },
        "chosen_response": {"type": "string"},
        "rejected_response": {"type": "string"},
    },
}


def _option(training_type: str, finetuning_type: str, gpus: int) -> JsonObj:
    return {
        "training_type": training_type,
        "finetuning_type": finetuning_type,
        "num_gpus": gpus,
        "num_nodes": 1,
        "tensor_parallel_size": 1,
        "micro_batch_size": 1,
        "use_sequence_parallel": False,
    }


def _config(
    namespace: str,
    model: str,
    gpu: str,
    params: int,
    options: list[JsonObj],
    max_seq_length: int = 4096,
) -> JsonObj:
    target_name = f"{model}@2.0"
    return {
        "name": f"{model}@v1.0.0+{gpu}",
        "namespace": namespace,
        "description": f"{namespace}/{model} on {gpu} (preloaded by nmp-local)",
        "target": {
            "name": target_name,
            "namespace": namespace,
            "base_model": f"{namespace}/{model}",
            "enabled": True,
            "model_path": model.replace(".", "_") + "_2_0",
            "model_uri": f"ngc://nvidia/nemo/{model.replace('.', '_')}:2.0",
            "model_type": "hf",
            "num_parameters": params,
            "precision": "bf16-mixed",
            "status": "ready",
        },
        "training_options": options,
        "training_precision": "bf16-mixed",
        "max_seq_length": max_seq_length,
        "prompt_template": "{prompt} {completion}",
        "dataset_schemas": [DPO_SCHEMA],
        "custom_fields": {},
        "project": None,
    }


def builtin_configs() -> list[JsonObj]:
    dpo_sft = [
        _option("dpo", "all_weights", 1),
        _option("sft", "lora", 1),
        _option("sft", "all_weights", 1),
    ]
    return [
        _config("meta", "llama-3.2-1b-instruct", "A100", 1_235_814_400, dpo_sft),
        _config("meta", "llama-3.2-1b-instruct", "L40", 1_235_814_400, dpo_sft),
        _config(
            "meta",
            "llama-3.2-3b-instruct",
            "A100",
            3_212_749_824,
            [_option("dpo", "all_weights", 2), _option("sft", "lora", 1)],
        ),
        _config(
            "meta",
            "llama-3.1-8b-instruct",
            "A100",
            8_030_261_248,
            [
                _option("dpo", "all_weights", 4),
                _option("dpo", "lora", 1),
                _option("sft", "lora", 1),
            ],
        ),
        _config(
            "nvidia",
            "nemotron-nano-llama-3.1-8b",
            "A100",
            8_030_261_248,
            [_option("dpo", "all_weights", 4), _option("sft", "lora", 1)],
            max_seq_length=8192,
        ),
        _config(
            "meta",
            "llama-3.3-70b-instruct",
            "A100",
            70_553_706_496,
            [_option("sft", "lora", 4)],
        ),
    ]
