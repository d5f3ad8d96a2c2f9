"""A private, fully local configuration for whole-loop tests: free ports, tmp data dirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefstream_kafka.local_brokers import free_ports


@pytest.fixture
def loop_overrides(tmp_path: Path) -> list[tuple[str, str]]:
    """Overrides that move every port and file of configs/demo.yml somewhere private."""
    kafka, nmp, pairing, batcher, submitter, ui = free_ports(6)
    url = f"http://127.0.0.1:{nmp}"
    return [
        ("kafka.embedded_port", str(kafka)),
        ("kafka.session_timeout_ms", "2000"),
        ("kafka.heartbeat_interval_ms", "500"),
        ("nmp_local.port", str(nmp)),
        ("nmp_local.data_dir", str(tmp_path / "nmp-local")),
        ("nmp_local.job_seconds_per_epoch", "2"),
        ("trainer_adapters.nemo_adapter.entity_host", url),
        ("trainer_adapters.nemo_adapter.datastore_host", url),
        ("trainer_adapters.nemo_adapter.poll_interval_seconds", "0.3"),
        ("pairing.http_port", str(pairing)),
        ("pairing.db_path", str(tmp_path / "pairing.duckdb")),
        ("pairing.inactivity_gap_seconds", "2"),
        ("batcher.http_port", str(batcher)),
        ("batcher.db_path", str(tmp_path / "batcher.duckdb")),
        ("batcher.datasets_dir", str(tmp_path / "datasets")),
        ("batcher.min_new_pairs", "150"),
        ("batcher.max_wait_seconds", "10"),
        ("batcher.min_pairs", "20"),
        ("submitter.http_port", str(submitter)),
        ("submitter.db_path", str(tmp_path / "submitter.duckdb")),
        ("ui.http_port", str(ui)),
        ("logging.format", "text"),
    ]


@pytest.fixture(scope="session")
def policy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where closed-loop demos keep the built base policy: built once per test session."""
    return tmp_path_factory.mktemp("policy-cache")
