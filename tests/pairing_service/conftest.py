"""Per-test pairing deployments on the session broker from ``tests/conftest.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .harness import Env


@pytest.fixture
def env(kafka_broker: Any, tmp_path: Path) -> Iterator[Env]:
    """Fresh topics, group and DB paths; every service started through it is stopped."""
    e = Env(kafka_broker.bootstrap_servers, tmp_path)
    asyncio.run(e.create_topics())
    yield e
    for svc in e.services:
        svc.kill()
