"""The runtime tests' per-test environment: a free broker port (nothing listens yet)."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefstream_kafka.local_brokers.ports import free_port

from tests.batcher_service.harness import Env


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(f"127.0.0.1:{free_port()}", tmp_path)
