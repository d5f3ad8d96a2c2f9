"""Customizer: create, find, poll and cancel customization jobs (``{entity_host}/v1``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

from prefstream_nemo import retry
from prefstream_nemo.errors import Transient
from prefstream_nemo.http import request
from prefstream_nemo.models import JobInfo, JobProgress
from prefstream_nemo.retry import RetryPolicy

JsonObj = dict[str, Any]
PAGE_SIZE = 100
MAX_PAGES = 1000


class Customizer:
    def __init__(
        self,
        client: httpx.AsyncClient,
        host: str,
        policy: RetryPolicy,
        *,
        wandb_api_key: str | None = None,
    ) -> None:
        self._client = client
        self._jobs = f"{host}/v1/customization/jobs"
        self._policy = policy
        # As the SDK sends it: a header of the create request only, so never in a body.
        self._create_headers = {"wandb-api-key": wandb_api_key} if wandb_api_key else None

    async def create_job(self, body: JsonObj) -> JobInfo:
        """One attempt (a retried POST can create two jobs); see :func:`retry.create_once`."""
        what = f"create customization job for {body.get('output_model')}"
        result = await request(
            self._client,
            "POST",
            self._jobs,
            what,
            json=body,
            headers=self._create_headers,
            create=True,
        )
        return _parse(result, what)

    async def find_job(
        self, namespace: str, output_model: str, custom: tuple[str, str] | None = None
    ) -> JobInfo | None:
        """The newest job that writes ``output_model`` (or whose ``custom_fields`` hold the
        ``custom`` key/value, for servers that rename output models); ``None`` if none.

        Only ``filter[namespace]`` is sent (servers disagree on what ``filter[dataset]``
        means); the match itself is done here, over every page.
        """
        what = f"find customization job for {output_model}"
        for page in range(1, MAX_PAGES + 1):
            params: dict[str, str | int] = {
                "page": page,
                "page_size": PAGE_SIZE,
                "sort": "-created_at",
                "filter[namespace]": namespace,
            }
            body = await retry.call(self._policy, what, self._list_page(params, what))
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list) or not data:
                return None
            for item in data:
                if isinstance(item, dict) and _matches(item, output_model, custom):
                    return _parse(item, what)
            pagination = body.get("pagination") if isinstance(body, dict) else None
            total_pages = pagination.get("total_pages") if isinstance(pagination, dict) else None
            if isinstance(total_pages, int) and page >= total_pages:
                return None
        return None

    def _list_page(self, params: dict[str, str | int], what: str) -> Callable[[], Awaitable[Any]]:
        return lambda: request(self._client, "GET", self._jobs, what, params=params)

    async def status(self, job_id: str) -> JobProgress:
        what = f"read status of job {job_id}"
        body = await retry.call(
            self._policy,
            what,
            lambda: request(self._client, "GET", f"{self._jobs}/{quote(job_id)}/status", what),
        )
        return JobProgress.parse(body)

    async def cancel(self, job_id: str) -> None:
        """Ask the job to stop; cancelling is idempotent, so it is retried like a read."""
        what = f"cancel job {job_id}"
        await retry.call(
            self._policy,
            what,
            lambda: request(self._client, "POST", f"{self._jobs}/{quote(job_id)}/cancel", what),
        )


def _matches(item: JsonObj, output_model: str, custom: tuple[str, str] | None) -> bool:
    if item.get("output_model") == output_model:
        return True
    fields = item.get("custom_fields")
    return custom is not None and isinstance(fields, dict) and fields.get(custom[0]) == custom[1]


def _parse(body: Any, what: str) -> JobInfo:
    try:
        return JobInfo.parse(body)
    except ValueError as exc:
        raise Transient(f"{what}: unexpected answer: {exc}") from exc
