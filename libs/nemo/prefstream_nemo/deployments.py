"""Deployment Management: deployment configs and model deployments (``{entity_host}/v1``)."""

from __future__ import annotations

from typing import Any

import httpx

from prefstream_nemo.http import get_or_none, path_segment, request
from prefstream_nemo.models import DeploymentInfo
from prefstream_nemo.retry import RetryPolicy

JsonObj = dict[str, Any]


class Deployments:
    def __init__(self, client: httpx.AsyncClient, host: str, policy: RetryPolicy) -> None:
        self._client = client
        self._base = f"{host}/v1/deployment"
        self._policy = policy

    async def get_config(self, namespace: str, name: str) -> JsonObj | None:
        what = f"get deployment config {namespace}/{name}"
        url = f"{self._base}/configs/{path_segment(namespace)}/{path_segment(name)}"
        return await self._get(url, what)

    async def create_config(self, body: JsonObj) -> JsonObj:
        """One attempt; raises :class:`Exists` when the name is taken."""
        what = f"create deployment config {body.get('namespace')}/{body.get('name')}"
        result = await request(
            self._client, "POST", f"{self._base}/configs", what, json=body, create=True
        )
        return result if isinstance(result, dict) else {}

    async def get_deployment(self, namespace: str, name: str) -> DeploymentInfo | None:
        what = f"get deployment {namespace}/{name}"
        url = f"{self._base}/model-deployments/{path_segment(namespace)}/{path_segment(name)}"
        body = await self._get(url, what)
        return None if body is None else DeploymentInfo.parse(body, name=name, namespace=namespace)

    async def create_deployment(self, body: JsonObj) -> DeploymentInfo:
        """One attempt; raises :class:`Exists` when the name is taken."""
        name, namespace = str(body.get("name")), str(body.get("namespace"))
        what = f"create deployment {namespace}/{name}"
        result = await request(
            self._client, "POST", f"{self._base}/model-deployments", what, json=body, create=True
        )
        return DeploymentInfo.parse(result, name=name, namespace=namespace)

    async def _get(self, url: str, what: str) -> JsonObj | None:
        return await get_or_none(self._client, self._policy, url, what)
