"""SIGTERM stops a service whose broker died, within ``service.shutdown_timeout_seconds``.

A batcher whose Kafka broker had been killed ignored SIGTERM: stopping the consumers and
the producer, and committing offsets, waited on the dead broker forever. Now the stop is
bounded: past the bound the service logs what it was still waiting for and exits with
:data:`prefstream_runtime.serve.STOP_TIMED_OUT`, its local stores closed.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from prefstream_kafka.local_brokers import EmbeddedTansu

from tests.batcher_service.harness import Env, pair_event, produce
from tests.runtime.service_process import CLEAN_EXIT, Service
from tests.support import http_probe

BOUND_S = 4.0
"""``service.shutdown_timeout_seconds`` here."""
MARGIN_S = 6.0
"""Process exit and interpreter teardown on a loaded CI machine."""
STOP_TIMED_OUT = 4
"""The exit code of a stop that outlived the bound (``serve.STOP_TIMED_OUT``)."""


WORK = {
    "batcher": {"batcher.min_new_pairs": 1000, "batcher.max_wait_seconds": 8},
    "pairing": {},
}
"""The batcher holds pending pairs that it cuts (and must announce) after the broker died."""


def consumed(service: Service, name: str) -> bool:
    if name != "batcher":
        return True
    return "prefstream_batcher_pairs_pending 5.0" in http_probe.metrics(service.port)


@pytest.mark.parametrize("name", ["batcher", "pairing"])
async def test_sigterm_stops_a_service_whose_broker_was_killed(
    name: str, env: Env, tmp_path: Path
) -> None:
    port = int(env.bootstrap.rsplit(":", 1)[1])
    broker = EmbeddedTansu(port, log_path=tmp_path / "tansu.log").start()
    service = Service(name, env, **{"service.shutdown_timeout_seconds": BOUND_S, **WORK[name]})
    try:
        await service.wait_ready(90)
        await produce(env, [pair_event(i) for i in range(5)])
        await service.until("pairs consumed", lambda: consumed(service, name), 30)
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        broker.wait()

        def unreachable() -> bool:
            answer = service.probe("/readyz")
            return answer is not None and "broker" in answer[1]

        # As an operator would: the service says its broker is gone, then is stopped.
        await service.until("broker unreachable on /readyz", unreachable, 30)
        if name == "batcher":  # the cut of the pending pairs has to be announced
            so_far = service.proc.output_since_start
            await service.until("cut", lambda: "cut decided" in so_far(), 30)
        service.proc._proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        asked = time.monotonic()
        try:
            code = service.proc.wait(BOUND_S + MARGIN_S)
        except Exception as exc:
            raise AssertionError(
                f"{name} still running {BOUND_S + MARGIN_S}s after SIGTERM:\n"
                f"{service.proc.tail(40)}"
            ) from exc
        assert time.monotonic() - asked <= BOUND_S + MARGIN_S
        output = service.proc.output_since_start()
        if name == "pairing" and code in CLEAN_EXIT:
            return  # nothing of its stop needed the broker
        assert code == STOP_TIMED_OUT, service.proc.tail(40)
        assert f"{name} did not stop within {BOUND_S:g}s" in output, service.proc.tail(40)
        assert "waiting for" in output, service.proc.tail(40)
        assert f"{name} stores closed" in output, service.proc.tail(40)
    finally:
        service.proc.kill()
        broker.stop()
