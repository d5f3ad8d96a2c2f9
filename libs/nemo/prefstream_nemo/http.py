"""One JSON request over httpx, with every failure mapped to :mod:`prefstream_nemo.errors`.

Exactly one attempt: whether and how to retry is the caller's decision (reads retry,
creates look first). Errors never carry request headers, so tokens cannot leak into logs;
a connection failure names the method and URL (without the query), since a wrong host or
port is its most common cause.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from prefstream_nemo import retry
from prefstream_nemo.errors import Missing, from_response, from_transport, json_or_error

JsonObj = dict[str, Any]


def make_client(
    *, timeout: float, token: str | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """An async client; a bearer header only when a token is set (never ``Bearer ``)."""
    headers = {"Accept": "application/json", "User-Agent": "prefstream-submitter"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        transport=transport,
        follow_redirects=False,
    )


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    what: str,
    *,
    json: Any = None,
    data: dict[str, str] | None = None,
    params: dict[str, str | int] | None = None,
    headers: dict[str, str] | None = None,
    create: bool = False,
) -> Any:
    """Send once; return the JSON body of a 2xx (``None`` for an empty one) or raise."""
    try:
        response = await client.request(
            method, url, json=json, data=data, params=params, headers=headers
        )
    except httpx.TransportError as exc:
        raise from_transport(exc, f"{what} ({method} {url})") from None
    if response.status_code >= 400:
        raise from_response(response, what, create=create)
    if not response.content.strip():
        return None
    return json_or_error(response, what)


def path_segment(value: str) -> str:
    """A path segment; ``@`` and ``+`` stay raw as the platform's own clients send them."""
    return quote(value, safe="@+")


async def get_or_none(
    client: httpx.AsyncClient, policy: retry.RetryPolicy, url: str, what: str
) -> JsonObj | None:
    """``GET url`` with the read retry policy; ``None`` when it is missing (404) or not an
    object."""

    async def attempt() -> JsonObj | None:
        try:
            body = await request(client, "GET", url, what)
        except Missing:
            return None
        return body if isinstance(body, dict) else None

    return await retry.call(policy, what, attempt)
