"""Entity Store: namespaces and dataset registrations (``{entity_host}/v1/...``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from prefstream_nemo import retry
from prefstream_nemo.errors import Exists, Missing
from prefstream_nemo.http import request
from prefstream_nemo.retry import RetryPolicy

JsonObj = dict[str, Any]


def _seg(value: str) -> str:
    """A path segment; ``@`` and ``+`` stay raw as the platform's own clients send them."""
    return quote(value, safe="@+")


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

        async def attempt() -> JsonObj | None:
            try:
                body = await request(
                    self._client,
                    "GET",
                    f"{self._base}/datasets/{_seg(namespace)}/{_seg(name)}",
                    what,
                )
            except Missing:
                return None
            return body if isinstance(body, dict) else None

        return await retry.call(self._policy, what, attempt)

    async def create_dataset(self, body: JsonObj) -> JsonObj:
        """One attempt; raises :class:`Exists` when the name is taken."""
        what = f"register dataset {body.get('namespace')}/{body.get('name')}"
        result = await request(
            self._client, "POST", f"{self._base}/datasets", what, json=body, create=True
        )
        return result if isinstance(result, dict) else {}
