"""Read a service subprocess's probes over HTTP, as an orchestrator would."""

from __future__ import annotations

import json
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
