"""Batcher service fixtures: an isolated deployment (topics, groups, files) per test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .harness import Env


@pytest.fixture
async def env(kafka_broker: Any, tmp_path: Path) -> Env:
    environment = Env(kafka_broker.bootstrap_servers, tmp_path)
    await environment.create_topics()
    return environment
