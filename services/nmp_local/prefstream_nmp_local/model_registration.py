"""Register a local model directory with a running nmp-local, over HTTP only.

Four idempotent steps, so running it twice (or after a crash half-way) is fine: the Data
Store namespace, the model repo upload (``HfApi`` skips unchanged files), the Entity Store
model (``artifact.files_url = hf://models/NS/NAME``), and a DPO-capable customization
config ``NS/NAME@local`` whose target is that model. Works against any NeMo platform that
speaks the same APIs.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from prefstream_nmp_local.customizer_configs import DPO_SCHEMA

JsonObj = dict[str, Any]
WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin", "model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "max_seq_len", "seq_length")
DEFAULT_CONTEXT = 2048
UPLOAD_IGNORE = [".git/*", ".cache/*", "*.lock", "*.tmp"]


class RegistrationError(RuntimeError):
    """The directory is not a loadable model, or the platform holds a conflicting entry."""


@dataclass(frozen=True)
class ModelDir:
    """What a model directory tells us before anything is uploaded."""

    path: Path
    context_size: int
    num_parameters: int
    is_chat: bool


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    """``NS/NAME``: the Entity Store model, the Data Store repo and the config's base model."""
    files_url: str
    commit: str
    """The repo commit holding the uploaded files."""
    customization_config: str
    """``NS/NAME@local``."""
    context_size: int
    num_parameters: int


def inspect_model_dir(directory: Path) -> ModelDir:
    """Check ``directory`` holds config, weights and tokenizer; raise saying what is missing."""
    if not directory.is_dir():
        raise RegistrationError(f"{directory} is not a directory")
    missing = []
    if not (directory / "config.json").is_file():
        missing.append("config.json")
    weights = sorted({p for g in WEIGHT_GLOBS for p in directory.glob(g)})
    if not weights:
        missing.append("weights (*.safetensors or pytorch_model*.bin)")
    if not any((directory / f).is_file() for f in TOKENIZER_FILES):
        missing.append(f"a tokenizer (one of {', '.join(TOKENIZER_FILES)})")
    if missing:
        raise RegistrationError(
            f"{directory} is not a model directory: missing {'; '.join(missing)}"
        )
    try:
        config = json.loads((directory / "config.json").read_text())
    except ValueError as exc:
        raise RegistrationError(f"{directory / 'config.json'} is not valid JSON: {exc}") from exc
    tok_config = _json_or_empty(directory / "tokenizer_config.json")
    return ModelDir(
        path=directory,
        context_size=context_size(config),
        num_parameters=sum(_safetensors_parameters(p) for p in weights),
        is_chat=bool(tok_config.get("chat_template"))
        or (directory / "chat_template.jinja").is_file(),
    )


def context_size(config: JsonObj) -> int:
    """The model's context length from its ``config.json`` (text config for multimodal)."""
    for source in (config, config.get("text_config") or {}):
        for key in CONTEXT_KEYS:
            value = source.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return DEFAULT_CONTEXT


def customization_config(namespace: str, name: str, model: ModelDir) -> JsonObj:
    """A DPO (all weights) config targeting ``namespace/name``, shaped like the preloaded ones."""
    option = {
        "training_type": "dpo",
        "finetuning_type": "all_weights",
        "num_gpus": 1,
        "num_nodes": 1,
        "tensor_parallel_size": 1,
        "micro_batch_size": 1,
        "use_sequence_parallel": False,
    }
    return {
        "name": f"{name}@local",
        "namespace": namespace,
        "description": f"{namespace}/{name}, registered from a local directory",
        "target": {
            "name": name,
            "namespace": namespace,
            "base_model": f"{namespace}/{name}",
            "enabled": True,
            "model_path": name,
            "model_uri": f"hf://models/{namespace}/{name}",
            "model_type": "hf",
            "num_parameters": model.num_parameters,
            "precision": "fp32",
            "status": "ready",
        },
        "training_options": [option],
        "training_precision": "fp32",
        "max_seq_length": model.context_size,
        "prompt_template": "{prompt} {completion}",
        "dataset_schemas": [DPO_SCHEMA],
        "custom_fields": {},
    }


def register_local_model(base_url: str, directory: Path, name: str) -> RegisteredModel:
    """Upload ``directory`` as model ``name`` ("NS/NAME") and make it trainable and servable."""
    namespace, _, short = name.partition("/")
    if not namespace or not short or "/" in short:
        raise RegistrationError(f"model name must be NAMESPACE/NAME, got {name!r}")
    model = inspect_model_dir(Path(directory))
    base = base_url.rstrip("/")
    files_url = f"hf://models/{name}"
    config = customization_config(namespace, short, model)
    with httpx.Client(base_url=base, timeout=60.0) as http:
        try:
            _ensure_namespaces(http, namespace)
            commit = _upload(base, model.path, name)
            _ensure_model(http, namespace, short, files_url, model)
            _ensure_config(http, config, name)
        except httpx.HTTPError as exc:
            raise RegistrationError(f"cannot talk to {base}: {exc}") from exc
    return RegisteredModel(
        name=name,
        files_url=files_url,
        commit=commit,
        customization_config=f"{namespace}/{config['name']}",
        context_size=model.context_size,
        num_parameters=model.num_parameters,
    )


def _ensure_namespaces(http: httpx.Client, namespace: str) -> None:
    ds = http.post("/v1/datastore/namespaces", data={"namespace": namespace})
    _ok_or_exists(ds, f"Data Store namespace {namespace}")
    es = http.post("/v1/namespaces", json={"id": namespace})
    _ok_or_exists(es, f"Entity Store namespace {namespace}")


def _upload(base: str, directory: Path, repo_id: str) -> str:
    from huggingface_hub import HfApi, constants

    constants.HF_HUB_DISABLE_XET = True  # nmp-local has no Xet: LFS files take git-LFS
    api = HfApi(endpoint=f"{base}/v1/hf", token=False)
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="model",
            folder_path=directory,
            commit_message=f"add-model {directory.name}",
            ignore_patterns=UPLOAD_IGNORE,
        )
    except Exception as exc:  # huggingface_hub's errors wrap its own HTTP client's
        raise RegistrationError(
            f"uploading {directory} to {base}/v1/hf: {type(exc).__name__}: {exc}"
        ) from exc
    return str(info.oid)


def _ensure_model(
    http: httpx.Client, namespace: str, name: str, files_url: str, model: ModelDir
) -> None:
    spec = {
        "context_size": model.context_size,
        "is_chat": model.is_chat,
        "num_parameters": model.num_parameters,
        "num_virtual_tokens": 0,
    }
    body = {
        "name": name,
        "namespace": namespace,
        "description": f"registered from {model.path.name} by nmp-local add-model",
        "spec": spec,
        "artifact": {
            "files_url": files_url,
            "status": "upload_completed",
            "backend_engine": "hugging_face",
        },
    }
    resp = http.post("/v1/models", json=body)
    if not _ok_or_exists(resp, f"model {namespace}/{name}"):
        return
    existing = _get(http, f"/v1/models/{namespace}/{name}")
    artifact = existing.get("artifact") or {}
    if artifact.get("files_url") != files_url:
        raise RegistrationError(
            f"model {namespace}/{name} already exists with files_url "
            f"{artifact.get('files_url')!r}, not {files_url!r}; pick another name"
        )
    if existing.get("spec") != spec:
        patch = http.patch(f"/v1/models/{namespace}/{name}", json={"spec": spec})
        _raise_for(patch, f"updating model {namespace}/{name}")


def _ensure_config(http: httpx.Client, config: JsonObj, base_model: str) -> None:
    key = f"{config['namespace']}/{config['name']}"
    resp = http.post("/v1/customization/configs", json=config)
    if not _ok_or_exists(resp, f"customization config {key}"):
        return
    existing = _get(http, f"/v1/customization/configs/{key}")
    target = existing.get("target") or {}
    if target.get("base_model") != base_model:
        raise RegistrationError(
            f"customization config {key} already exists for {target.get('base_model')!r}, "
            f"not {base_model!r}"
        )


def _ok_or_exists(resp: httpx.Response, what: str) -> bool:
    """True when it already existed (409; some platforms answer 422 for duplicates)."""
    if resp.status_code in (200, 201):
        return False
    if resp.status_code == 409 or (resp.status_code == 422 and "exist" in resp.text):
        return True
    _raise_for(resp, f"creating {what}")
    return False


def _raise_for(resp: httpx.Response, doing: str) -> None:
    if resp.status_code >= 400:
        raise RegistrationError(f"{doing}: HTTP {resp.status_code}: {resp.text[:500]}")


def _get(http: httpx.Client, path: str) -> JsonObj:
    resp = http.get(path)
    _raise_for(resp, f"reading {path}")
    body: JsonObj = resp.json()
    return body


def _json_or_empty(path: Path) -> JsonObj:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _safetensors_parameters(path: Path) -> int:
    """Parameter count from a safetensors header (no torch needed); 0 for other formats."""
    if path.suffix != ".safetensors":
        return 0
    with path.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
    total = 0
    for key, tensor in header.items():
        if key != "__metadata__":
            count = 1
            for dim in tensor["shape"]:
                count *= int(dim)
            total += count
    return total
