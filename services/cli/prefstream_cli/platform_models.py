"""The demo's base model on the platform: built once (cached), registered, deployed.

Registration and deployment go through the platform's HTTP API only, as a user would do
by hand with ``prefstream nmp-local add-model`` and the deployments API; a deployment is
looked up before it is created, so a rerun against the same platform reuses it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prefstream_config import PrefstreamConfig
from prefstream_demo.served_policy import ServedModel

from prefstream_cli.stack import nmp_local_url

DEPLOY_TIMEOUT_SECONDS = 300.0


async def register_base_model(config: PrefstreamConfig, say: Callable[[str, str], None]) -> str:
    """Build (or reuse) the demo's tiny policy and register it with nmp-local; its name."""
    from prefstream_demo.policy_model.warm_start import build_policy
    from prefstream_nmp_local.model_registration import register_local_model

    demo = config.demo
    say("demo", f"building the tic-tac-toe policy (seed {demo.seed}; cached)")
    directory: Path = await asyncio.to_thread(
        build_policy, Path(demo.policy_cache_dir), seed=demo.seed
    )
    await asyncio.to_thread(register_local_model, nmp_local_url(config), directory, demo.base_model)
    say("demo", f"registered {demo.base_model} from {directory}")
    return demo.base_model


async def deploy_and_wait(
    client: httpx.AsyncClient, base_url: str, model: str, say: Callable[[str, str], None]
) -> ServedModel:
    """Deploy ``model`` (unless a deployment of that name exists) and wait until it serves."""
    namespace, _, name = model.partition("/")
    deployment = _deployment_name(name)
    item = f"{base_url}/v1/deployment/model-deployments/{namespace}/{deployment}"
    found = await client.get(item)
    if found.status_code == 404:
        body = {
            "name": deployment,
            "namespace": namespace,
            "config": {
                "model": model,
                "nim_deployment": {"image_name": "nmp-local", "image_tag": "local", "gpu": 0},
            },
        }
        created = await client.post(f"{base_url}/v1/deployment/model-deployments", json=body)
        created.raise_for_status()
    else:
        found.raise_for_status()
    say("demo", f"deploying {model}")
    deadline = time.monotonic() + DEPLOY_TIMEOUT_SECONDS
    while True:
        current: dict[str, Any] = (await client.get(item)).raise_for_status().json()
        status = current["status_details"]["status"]
        if status == "ready":
            return ServedModel(model=model, url=str(current["url"]))
        if status == "failed":
            raise RuntimeError(
                f"deployment {namespace}/{deployment} failed: "
                f"{current['status_details'].get('description')}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"deployment {namespace}/{deployment} not ready in time")
        await asyncio.sleep(0.2)


def _deployment_name(model_name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in model_name)[:63]
