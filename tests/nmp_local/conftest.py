"""Fixtures: a running nmp-local subprocess with fast clocks, SDK and HfApi clients.

nmp-local has no Xet, so LFS-sized uploads need Xet off in ``huggingface_hub``. The env var
``HF_HUB_DISABLE_XET`` only counts if set before import; flipping the constant it feeds
(read at call time) works whatever the import order, and only for these tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi, constants
from nemo_microservices import NeMoMicroservices
from prefstream_nmp_local.testing import NmpLocalProcess, running_nmp_local

FAST_CLOCKS: dict[str, Any] = {
    "job_created_seconds": 0.1,
    "job_pending_seconds": 0.1,
    "job_seconds_per_epoch": 0.25,
    "deployment_ready_seconds": 0.2,
    "tick_seconds": 0.05,
    "fault_seed": 1234,
}
CONFIG = "meta/llama-3.2-1b-instruct@v1.0.0+A100"
DPO_HYPER: Any = {
    "training_type": "dpo",
    "finetuning_type": "all_weights",
    "epochs": 2,
    "batch_size": 4,
    "learning_rate": 5e-05,
    "dpo": {"ref_policy_kl_penalty": 0.1, "preference_loss_weight": 1.0},
}


NIM: Any = {"image_name": "nvcr.io/nim/meta/llama-3.2-1b-instruct", "image_tag": "1.8.3", "gpu": 1}


def hyper(**overrides: Any) -> Any:
    """``DPO_HYPER`` with some keys changed (typed ``Any`` for the SDK's TypedDicts)."""
    return {**DPO_HYPER, **overrides}


@pytest.fixture(autouse=True)
def _no_xet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)


@pytest.fixture(scope="module")
def nmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NmpLocalProcess]:
    with running_nmp_local(tmp_path_factory.mktemp("nmp-local"), **FAST_CLOCKS) as proc:
        yield proc


@pytest.fixture
def faults(nmp: NmpLocalProcess) -> Iterator[Any]:
    """Set live faults with ``faults(error_rate=…)``; reset to none after the test."""

    def set_faults(**config: Any) -> dict[str, Any]:
        resp = httpx.put(f"{nmp.base_url}/v1/nmp-local/faults", json=config)
        resp.raise_for_status()
        body: dict[str, Any] = resp.json()
        return body

    yield set_faults
    set_faults()


def sdk(base_url: str, **kwargs: Any) -> NeMoMicroservices:
    return NeMoMicroservices(base_url=base_url, _strict_response_validation=True, **kwargs)


def hf(base_url: str) -> HfApi:
    return HfApi(endpoint=f"{base_url}/v1/hf", token="nmp-local-test")


def dpo_rows(n: int, tag: str = "", *, margin: bool = True) -> list[dict[str, Any]]:
    """``n`` valid rows; ``margin=False`` makes chosen and rejected nearly identical."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        prompt: Any = f"{tag} question {i}?"
        if i % 3 == 0:
            prompt = [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": prompt},
            ]
        chosen = f"the correct answer to {i} is {i * 2}"
        rejected = (
            f"no idea about {i}, maybe cats"
            if margin
            else f"the correct answer to {i} is {i * 2} ok"
        )
        rows.append({"prompt": prompt, "chosen_response": chosen, "rejected_response": rejected})
    return rows


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
