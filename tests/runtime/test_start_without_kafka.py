"""Services started before their broker wait for it (alive, not ready), then work.

They used to exit (rc 3 after 2.5 s) when Kafka was unreachable at start. Each runs here
as ``prefstream service NAME`` against a port where nothing listens yet.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from prefstream_kafka.local_brokers import EmbeddedTansu

from tests.batcher_service.harness import Env, TopicReader, pair_event, produce
from tests.runtime.service_process import CLEAN_EXIT, SERVICES, Service


async def test_services_wait_for_a_late_broker_then_work(env: Env, tmp_path: Path) -> None:
    services = [Service(name, env) for name in SERVICES]
    broker: EmbeddedTansu | None = None
    try:
        for service in services:
            await service.wait_waiting()
        port = int(env.bootstrap.rsplit(":", 1)[1])
        broker = EmbeddedTansu(port, log_path=tmp_path / "tansu.log").start()
        for service in services:
            await service.wait_ready(90)
        pairs = [pair_event(i) for i in range(40)]
        await produce(env, pairs)
        async with TopicReader(env, env.datasets) as reader:

            def all_cut(_: TopicReader) -> bool:
                return sum(d.num_pairs for d in reader.datasets()) >= len(pairs)

            await reader.wait_for(all_cut, 60, "datasets holding every pair")
        for service in services:
            service.stop(30)
    finally:
        for service in services:
            service.proc.kill()
        if broker is not None:
            broker.stop()


async def test_sigterm_while_waiting_exits_promptly_and_cleanly(env: Env) -> None:
    services = [Service(name, env) for name in SERVICES]
    try:
        for service in services:
            await service.wait_waiting()
        started = time.monotonic()
        for service in services:
            assert service.proc.pid is not None
            service.proc._proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for service in services:
            assert service.proc.wait(10) in CLEAN_EXIT, service.proc.tail(40)
        assert time.monotonic() - started < 10
        for service in services:
            output = service.proc.output_since_start()
            assert "Traceback" not in output, service.proc.tail(40)
            assert "stopped before it started" in output, service.proc.tail(40)
    finally:
        for service in services:
            service.proc.kill()
