"""Entity Store: namespaces and dataset registrations (``{entity_host}/v1/...``)."""

from __future__ import annotations

from typing import Any

import httpx

from prefstream_nemo import retry
from prefstream_nemo.errors import Exists
from prefstream_nemo.http import get_or_none, path_segment, request
from prefstream_nemo.retry import RetryPolicy

JsonObj = dict[str, Any]


class EntityStore:
    def __init__(self, client: httpx.AsyncClient, host: str, policy: RetryPolicy) -> None:
        self._client = client
        self._base = f"{host}/v1"
        self._policy = policy

    async def ensure_namespace(self, namespace: str) -> bool:
        """Create the namespace unless it exists (409/422); ``True`` if created now."""

        async def attempt() -> bool:
            try:
                await request(
                    self._client,
                    "POST",
                    f"{self._base}/namespaces",
                    f"create namespace {namespace}",
                    json={"id": namespace, "description": f"prefstream namespace {namespace}"},
                    create=True,
                )
            except Exists:
                return False
            return True

        return await retry.call(self._policy, f"create namespace {namespace}", attempt)

    async def get_dataset(self, namespace: str, name: str) -> JsonObj | None:
        what = f"get dataset {namespace}/{name}"
        url = f"{self._base}/datasets/{path_segment(namespace)}/{path_segment(name)}"
        return await get_or_none(self._client, self._policy, url, what)

    async def create_dataset(self, body: JsonObj) -> JsonObj:
        """One attempt; raises :class:`Exists` when the name is taken."""
        what = f"register dataset {body.get('namespace')}/{body.get('name')}"
        result = await request(
            self._client, "POST", f"{self._base}/datasets", what, json=body, create=True
        )
        return result if isinstance(result, dict) else {}
