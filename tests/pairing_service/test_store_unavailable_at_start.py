"""A pairing store that cannot be opened at start (full disk, a path that is not a
directory) makes the service wait, alive and not ready, instead of exiting; it starts by
itself once the path works (the chaos suite saw it exit with a full tmpfs)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.conftest import KafkaBroker
from tests.support import http_probe

from .harness import Env, Service


async def _wait_then_start(env: Env) -> None:
    await env.create_topics()
    blocker = env.tmp / "data"
    blocker.write_text("a file where the store's folder belongs")
    env.extra["pairing.db_path"] = str(blocker / "pairing.duckdb")
    svc = Service(env).start()
    deadline = time.monotonic() + 60
    while True:
        assert svc.proc.is_running, f"the service exited:\n{svc.proc.tail(40)}"
        ready = http_probe.get(svc.port, "/readyz")
        if ready is not None and "pairing store" in str(ready[1].get("waiting_for", "")):
            break
        assert time.monotonic() < deadline, (
            f"no not-ready answer naming the store\n{svc.proc.tail(40)}"
        )
        await asyncio.sleep(0.2)
    assert ready[0] == 503, ready
    assert http_probe.get(svc.port, "/healthz") is not None
    blocker.unlink()
    blocker.mkdir()
    await svc.wait_ready(90, partitions=env.partitions)
    assert (blocker / "pairing.duckdb").exists()
    svc.stop()


def test_store_that_cannot_open_makes_the_service_wait_not_exit(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    env = Env(kafka_broker.bootstrap_servers, tmp_path)
    asyncio.run(_wait_then_start(env))
