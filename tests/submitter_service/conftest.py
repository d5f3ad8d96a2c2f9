"""Fixtures: nmp-local with fast job clocks, and a per-test stack (topics, config, processes).

Every test gets its own topics, consumer group and ledger, so tests share the session
broker and a module's nmp-local without seeing each other's records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefstream_config import KafkaConfig
from prefstream_nmp_local.testing import NmpLocalProcess, running_nmp_local

from .harness import FAST_CLOCKS, SubmitterProcess, kafka_config, write_config


@pytest.fixture(scope="module")
def nmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NmpLocalProcess]:
    with running_nmp_local(tmp_path_factory.mktemp("nmp-local"), **FAST_CLOCKS) as proc:
        yield proc


def set_faults(nmp: NmpLocalProcess, **faults: Any) -> None:
    """Replace nmp-local's live fault settings (``{}`` clears them)."""
    response = httpx.put(f"{nmp.base_url}/v1/nmp-local/faults", json=faults, timeout=10)
    response.raise_for_status()


class Stack:
    """One test's world: its topics, its config file, the submitter processes it started."""

    def __init__(self, tmp_path: Path, bootstrap: str, nmp: NmpLocalProcess, name: str) -> None:
        self.tmp_path = tmp_path
        self.bootstrap = bootstrap
        self.nmp = nmp
        self.name = name
        self.kafka: KafkaConfig = kafka_config(bootstrap, name)
        self.processes: list[SubmitterProcess] = []

    def config(self, file: str = "config.yml", **sections: Mapping[str, Any]) -> Path:
        return write_config(
            self.tmp_path / file,
            bootstrap=self.bootstrap,
            base_url=self.nmp.base_url,
            name=self.name,
            **sections,
        )

    def submitter(
        self, config: Path, env: Mapping[str, str] | None = None, log: str = "submitter.log"
    ) -> SubmitterProcess:
        proc = SubmitterProcess(config, self.tmp_path / log, env)
        self.processes.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.processes:
            proc.stop()


@pytest.fixture
def stack(
    tmp_path: Path, kafka_broker: Any, nmp: NmpLocalProcess, unique_name: str
) -> Iterator[Stack]:
    s = Stack(tmp_path, kafka_broker.bootstrap_servers, nmp, unique_name.replace("_", "-"))
    try:
        yield s
    finally:
        s.close()
