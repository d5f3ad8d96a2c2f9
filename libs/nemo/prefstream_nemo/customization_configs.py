"""Customizer's customization configs (``{entity_host}/v1/customization/configs``): get by
name, create once. ``retraining.start_from: latest`` makes one per promoted model."""

from __future__ import annotations

from typing import Any

import httpx

from prefstream_nemo.http import get_or_none, path_segment, request
from prefstream_nemo.retry import RetryPolicy

JsonObj = dict[str, Any]


class CustomizationConfigs:
    def __init__(self, client: httpx.AsyncClient, host: str, policy: RetryPolicy) -> None:
        self._client = client
        self._base = f"{host}/v1/customization/configs"
        self._policy = policy

    async def get_customization_config(self, namespace: str, name: str) -> JsonObj | None:
        what = f"get customization config {namespace}/{name}"
        url = f"{self._base}/{path_segment(namespace)}/{path_segment(name)}"
        return await get_or_none(self._client, self._policy, url, what)

    async def create_customization_config(self, body: JsonObj) -> JsonObj:
        """One attempt; raises ``Exists`` when the name is taken (see ``retry.create_once``)."""
        what = f"create customization config {body.get('namespace')}/{body.get('name')}"
        result = await request(self._client, "POST", self._base, what, json=body, create=True)
        return result if isinstance(result, dict) else {}
