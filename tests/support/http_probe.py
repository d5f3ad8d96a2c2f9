"""Read a service subprocess's probes over HTTP, as an orchestrator would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def readyz(port: int) -> dict[str, Any] | None:
    """The /readyz body, or None while the service does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            body: dict[str, Any] = json.loads(r.read())
            return body
    except (OSError, ValueError):
        return None


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def get(port: int, path: str) -> tuple[int, dict[str, Any]] | None:
    """Status and JSON body of ``path`` whatever the status, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, json.loads(err.read())
        finally:
            err.close()
    except (OSError, ValueError):
        return None
