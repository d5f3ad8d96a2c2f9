"""``/readyz`` of a running service turns false, with the reason, once its broker is gone.

An orphaned pairing service used to answer ``{"ready": true}`` with no broker: readiness
looked only at the consumer objects and their (stale) assignment.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefstream_kafka.local_brokers import EmbeddedTansu

from tests.batcher_service.harness import Env
from tests.runtime.service_process import Service

SESSION_TIMEOUT_S = 10.0
"""kafka.session_timeout_ms's default: not-ready is due within about this."""


async def test_pairing_turns_not_ready_when_its_broker_stops(env: Env, tmp_path: Path) -> None:
    port = int(env.bootstrap.rsplit(":", 1)[1])
    broker = EmbeddedTansu(port, log_path=tmp_path / "tansu.log").start()
    service = Service("pairing", env)
    try:
        await service.wait_ready(90)
        broker.stop()
        stopped = time.monotonic()

        def not_ready() -> bool:
            answer = service.probe("/readyz")
            return answer is not None and answer[0] == 503

        await service.until("not-ready after the broker stopped", not_ready, SESSION_TIMEOUT_S + 5)
        assert time.monotonic() - stopped <= SESSION_TIMEOUT_S + 5
        status, body = service.probe("/readyz") or (0, {})
        assert status == 503, body
        assert body["ready"] is False
        assert body["broker"].startswith("unreachable since "), body
        service.stop(30)
    finally:
        service.proc.kill()
        broker.stop()
