"""A prefstream service run as its own process (``prefstream service NAME``), probed over
HTTP: what the runtime tests start, stop and poll."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from prefstream_kafka.local_brokers._process import ManagedProcess
from prefstream_kafka.local_brokers.ports import free_port

from tests.batcher_service.harness import REPO, Env
from tests.support import http_probe

SERVICES = ("pairing", "batcher", "submitter")
CLEAN_EXIT = (0, -signal.SIGTERM)


def service_overrides(name: str, env: Env) -> dict[str, Any]:
    values = env.overrides(name, min_new_pairs=20, min_pairs=1)
    values = {k: v for k, v in values.items() if not k.startswith("batcher.")}
    values.update(
        {
            f"{name}.http_port": free_port(),
            f"{name}.group_id": f"g{env.tag}-{name}",
            f"{name}.db_path": str(env.tmp / name / f"{name}.duckdb"),
        }
    )
    if name == "batcher":
        values.update(
            {
                "batcher.datasets_dir": str(env.datasets_dir(name)),
                "batcher.min_new_pairs": 20,
                "batcher.min_pairs": 1,
            }
        )
    if name == "submitter":
        adapter = "trainer_adapters.a."
        values.update(
            {
                adapter + "_type": "nemo_customizer_trainer_adapter",
                adapter + "entity_host": f"http://127.0.0.1:{free_port()}",
                adapter + "datastore_host": f"http://127.0.0.1:{free_port()}",
                adapter + "namespace": "ns",
                adapter + "customization_config": "m@v1",
            }
        )
    return values


class Service:
    def __init__(self, name: str, env: Env, **extra: Any) -> None:
        """``extra``: further dotted config keys (``{"service.x": 1}`` as ``**{...}``)."""
        self.name = name
        overrides = {**service_overrides(name, env), **extra}
        self.port = int(overrides[f"{name}.http_port"])
        argv = [sys.executable, "-m", "prefstream_cli", "service", name]
        for key, value in overrides.items():
            argv += ["--set", key, str(value)]
        self.proc = ManagedProcess(argv, name=name, log_path=env.tmp / f"{name}.log", cwd=REPO)
        self.proc.start()

    def probe(self, path: str) -> tuple[int, dict[str, Any]] | None:
        return http_probe.get(self.port, path)

    async def until(self, what: str, check: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if not self.proc.is_running:
                raise AssertionError(f"{self.name} exited ({what}):\n{self.proc.tail(40)}")
            if time.monotonic() > deadline:
                tail = self.proc.tail(40)
                raise AssertionError(f"{self.name}: no {what} in {timeout_s}s:\n{tail}")
            await asyncio.sleep(0.1)

    async def wait_waiting(self) -> None:
        """Alive and saying it waits for Kafka: healthz 200, readyz 503 with the reason."""

        def waiting() -> bool:
            ready = self.probe("/readyz")
            return ready is not None and ready[0] == 503 and "waiting_for" in ready[1]

        await self.until("not-ready answer naming Kafka", waiting, 30)
        assert self.probe("/healthz") == (200, {"status": "ok", "service": self.name})
        status, body = self.probe("/readyz") or (0, {})
        assert status == 503
        assert body["ready"] is False
        assert "Unable to bootstrap" in body["waiting_for"], body

    async def wait_ready(self, timeout_s: float) -> None:
        await self.until("ready", lambda: (self.probe("/readyz") or (0,))[0] == 200, timeout_s)

    def stop(self, timeout_s: float) -> None:
        """SIGTERM; a clean stop re-raises the signal after shutdown, as uvicorn does."""
        self.proc.terminate(timeout_s)
        assert self.proc.returncode in CLEAN_EXIT, self.proc.tail(40)
        assert "Traceback" not in self.proc.output_since_start(), self.proc.tail(40)
