"""The real stack of one chaos run, built from the existing per-service test harnesses.

Pairing, batcher and submitter run as ``python -m prefstream_cli service ...`` children
(through ``tests/pairing_service``, ``tests/batcher_service`` and
``tests/submitter_service`` harnesses), nmp-local through its own test helper, all on one
Apache Kafka (:class:`ApacheKafka`, killable and restartable on its log dir). The
services' data dirs (DuckDB files, dataset directories, the ledger) live on a small tmpfs
when one can be mounted. Topics are the harnesses' ``t<tag>.<name>``, shared by all.

A supervisor restarts any service that exits while it should be running (as ``prefstream
up`` does) and records the exit: services are expected to wait for Kafka, not to die.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from prefstream_config import PairingConfig
from prefstream_nmp_local.testing import NmpLocalProcess
from prefstream_testing.apache_kafka import ApacheKafka

from tests.batcher_service.harness import Env as BatcherEnv
from tests.batcher_service.harness import ServiceProcess as BatcherProcess
from tests.chaos.disk import Tmpfs
from tests.chaos.schedule import Plan
from tests.pairing_service.harness import Env as PairingEnv
from tests.pairing_service.harness import Service as PairingProcess
from tests.submitter_service.harness import FAST_CLOCKS, SubmitterProcess, write_config

NAMESPACE = "prefstream-chaos"
Log = Callable[[str], None]


class Component(Protocol):
    name: str

    @property
    def is_running(self) -> bool: ...

    async def start(self) -> None: ...

    def kill(self) -> None: ...

    def stop(self) -> None: ...

    def returncode(self) -> int | None: ...

    def tail(self) -> str: ...


class _Harnessed:
    """A service run by its test harness (start, wait_ready, kill, stop, and a process
    with an exit code and a log tail)."""

    name: str
    svc: PairingProcess | BatcherProcess

    async def start(self) -> None:
        self.svc.start()

    async def ready(self, timeout_s: float) -> None:
        await self.svc.wait_ready(timeout_s)

    def kill(self) -> None:
        self.svc.kill()

    def stop(self) -> None:
        self.svc.stop()

    def returncode(self) -> int | None:
        return self.svc.proc.returncode

    def tail(self) -> str:
        return self.svc.proc.tail(30)


class _Pairing(_Harnessed):
    name = "pairing"
    svc: PairingProcess

    def __init__(self, env: PairingEnv) -> None:
        self.svc = PairingProcess(env, "p0")

    @property
    def is_running(self) -> bool:
        return self.svc.proc.is_running


class _Batcher(_Harnessed):
    name = "batcher"
    svc: BatcherProcess

    def __init__(self, env: BatcherEnv, overrides: dict[str, Any]) -> None:
        self.svc = BatcherProcess(env, overrides)

    @property
    def is_running(self) -> bool:
        return self.svc.running


class _Submitter:
    name = "submitter"

    def __init__(self, config: Path, log_path: Path) -> None:
        self.svc = SubmitterProcess(config, log_path)

    @property
    def is_running(self) -> bool:
        return self.svc.proc is not None and self.svc.proc.poll() is None

    async def start(self) -> None:
        self.svc.start()

    async def ready(self, timeout_s: float) -> None:
        await asyncio.to_thread(self.svc.wait_ready, timeout_s)

    def kill(self) -> None:
        if self.svc.proc is not None and self.svc.proc.poll() is None:
            self.svc.proc.kill()
            self.svc.proc.wait()

    def stop(self) -> None:
        self.svc.stop()

    def returncode(self) -> int | None:
        return None if self.svc.proc is None else self.svc.proc.poll()

    def tail(self) -> str:
        return "\n".join(self.svc.logs().splitlines()[-30:])


class _Nmp:
    name = "nmp_local"

    def __init__(self, data_dir: Path, seed: int) -> None:
        self.proc = NmpLocalProcess(data_dir, fault_seed=seed, **FAST_CLOCKS)

    @property
    def is_running(self) -> bool:
        return self.proc.is_running()

    async def start(self) -> None:
        await asyncio.to_thread(self.proc.start)

    def kill(self) -> None:
        self.proc.kill()

    def stop(self) -> None:
        self.proc.stop()

    def returncode(self) -> int | None:
        return None

    def tail(self) -> str:
        path = self.proc.log_path
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""
        )


class _Broker:
    name = "broker"

    def __init__(self, broker: ApacheKafka) -> None:
        self.broker = broker

    @property
    def is_running(self) -> bool:
        return self.broker.is_running

    async def start(self) -> None:
        if not self.broker.is_running:
            await asyncio.to_thread(self.broker.restart)

    def kill(self) -> None:
        self.broker.kill()

    def stop(self) -> None:  # the broker belongs to the caller
        pass

    def returncode(self) -> int | None:
        return None

    def tail(self) -> str:
        return ""


@dataclass
class Exit:
    service: str
    at_s: float
    returncode: int | None
    tail: str


@dataclass
class Stack:
    work: Path
    broker: ApacheKafka
    plan: Plan
    log: Log
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    exits: list[Exit] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    """Components a fault took down on purpose (the supervisor leaves them alone)."""
    t0: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        b = self.plan.bounds
        self.logs = self.work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.tmpfs = Tmpfs(self.work / "data", self.plan.tmpfs_mb).mount()
        data = self.tmpfs.path
        bootstrap = self.broker.bootstrap_servers
        extra = {
            "pairing.db_path": str(data / "pairing.duckdb"),
            "pairing.max_window_age_seconds": str(b.max_window_age_s),
            "kafka.max_record_bytes": str(b.max_record_bytes),
        }
        if "max_clock_skew_seconds" in PairingConfig.model_fields:
            extra["pairing.max_clock_skew_seconds"] = str(b.max_clock_skew_s)
        else:
            self.log("pairing.max_clock_skew_seconds is not a config key yet: not set")
        self.pairing_env = PairingEnv(
            bootstrap,
            self.logs,
            partitions=b.partitions,
            gap_s=b.inactivity_gap_s,
            extra=extra,
            tag=self.tag,
        )
        self.batcher_env = BatcherEnv(bootstrap, self.logs, partitions=b.partitions, tag=self.tag)
        overrides = self.batcher_env.overrides(
            "b0", min_new_pairs=b.min_new_pairs, max_wait_seconds=b.max_wait_s, min_pairs=1
        )
        overrides["batcher.db_path"] = str(data / "batcher.duckdb")
        overrides["batcher.datasets_dir"] = str(data / "datasets")
        overrides["kafka.max_record_bytes"] = b.max_record_bytes
        self.datasets_dir = data / "datasets"
        self.nmp = _Nmp(self.work / "nmp-local", self.plan.seed)
        self.pairing = _Pairing(self.pairing_env)
        self.batcher = _Batcher(self.batcher_env, overrides)
        self.broker_c = _Broker(self.broker)
        self._submitter: _Submitter | None = None
        self._supervisor: asyncio.Task[None] | None = None

    # topics and groups -------------------------------------------------------------
    def topic(self, name: str) -> str:
        return f"t{self.tag}.{name}"

    @property
    def groups(self) -> dict[str, tuple[str, str]]:
        """Consumer group of each service and the topic it consumes."""
        return {
            "pairing": (f"g{self.tag}", self.topic("candidates")),
            "batcher": (f"g{self.tag}-b0", self.topic("pairs")),
            "submitter": (f"t{self.tag}-submitter", self.topic("datasets")),
        }

    @property
    def pairing_db(self) -> Path:
        return Path(self.pairing_env.extra["pairing.db_path"])

    @property
    def submitter(self) -> _Submitter:
        assert self._submitter is not None
        return self._submitter

    def components(self) -> dict[str, Component]:
        return {
            "pairing": self.pairing,
            "batcher": self.batcher,
            "submitter": self.submitter,
            "nmp_local": self.nmp,
            "broker": self.broker_c,
        }

    def now(self) -> float:
        return time.monotonic() - self.t0

    # lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        b = self.plan.bounds
        await self.pairing_env.create_topics()
        await self.nmp.start()
        config = write_config(
            self.logs / "submitter.yml",
            bootstrap=self.broker.bootstrap_servers,
            base_url=self.nmp.proc.base_url,
            name=f"t{self.tag}",
            adapter={"namespace": NAMESPACE, "request_timeout_seconds": 10},
            submitter={
                "db_path": str(self.tmpfs.path / "submitter.duckdb"),
                "max_concurrent_jobs": b.max_concurrent_jobs,
            },
            kafka={"partitions": b.partitions, "max_record_bytes": b.max_record_bytes},
        )
        self._submitter = _Submitter(config, self.logs / "submitter.log")
        for c in (self.pairing, self.batcher, self.submitter):
            await c.start()
        await asyncio.gather(
            self.pairing.ready(120.0), self.batcher.ready(120.0), self.submitter.ready(120.0)
        )
        self.t0 = time.monotonic()
        self._supervisor = asyncio.create_task(self._supervise())

    async def _supervise(self) -> None:
        """Restart what exited on its own (not what a fault holds down), once a second."""
        while True:
            await asyncio.sleep(1.0)
            for name, comp in self.components().items():
                if name in self.down or comp.is_running:
                    continue
                if name != "broker":
                    self.exits.append(Exit(name, self.now(), comp.returncode(), comp.tail()))
                    self.log(
                        f"t+{self.now():.1f}s {name} exited on its own (rc {comp.returncode()})"
                    )
                try:
                    await comp.start()
                except Exception as exc:
                    self.log(f"restart of {name} failed: {exc}")

    async def ensure_up(self) -> None:
        for comp in self.components().values():
            if not comp.is_running:
                await comp.start()

    async def stop(self) -> None:
        """Stop the supervisor and the services gracefully (DuckDB files become readable)."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        for comp in (self.pairing, self.batcher, self._submitter):
            if comp is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(comp.stop)

    async def close(self) -> None:
        await self.stop()
        for comp in (self.pairing, self.batcher, self._submitter, self.nmp):
            if comp is not None:
                with contextlib.suppress(Exception):
                    comp.kill()
        if not self.broker.is_running:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.broker.restart)
        if self.tmpfs.mounted:  # keep the state for post-mortems: the tmpfs goes away
            self.tmpfs.release()
            with contextlib.suppress(OSError):
                shutil.copytree(self.tmpfs.path, self.work / "data-final", dirs_exist_ok=True)
        self.tmpfs.unmount()
