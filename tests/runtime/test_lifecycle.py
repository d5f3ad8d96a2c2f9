"""The runtime's one service lifecycle, without a broker: commit modes, the start gate and
readiness, as :func:`prefstream_runtime.service_app` wires them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from prefstream_runtime import Batch, Commits, Readiness, Subscription
from prefstream_runtime.lifecycle import _Lifecycle
from prefstream_testing.kafka import Record
from prometheus_client import CollectorRegistry


@dataclass
class FakeMessage:
    raw_message: Any
    consumer: Any = None
    acks: list[str] = field(default_factory=list)

    async def ack(self) -> None:
        self.acks.append("ack")

    async def nack(self) -> None:
        self.acks.append("nack")


class FakeService:
    name = "fake"

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.calls: list[str] = []
        self.batches: list[Batch] = []
        self.fail = False
        self.ok = True

    def subscriptions(self) -> Sequence[Subscription]:
        return []

    async def open(self) -> None:
        self.calls.append("open")

    async def start(self) -> None:
        self.calls.append("start")

    async def handle(self, batch: Batch) -> None:
        self.batches.append(batch)
        if self.fail:
            raise RuntimeError("boom")

    async def drain(self) -> None:
        self.calls.append("drain")

    async def close(self) -> None:
        self.calls.append("close")

    def ready(self) -> Readiness:
        return self.ok, {"detail": 1}


def _sub(svc: FakeService, commits: Commits, *, batch: bool = True) -> Subscription:
    return Subscription(
        "t",
        group_id="g",
        handle=svc.handle,
        commits=commits,
        title="t",
        description="d",
        batch=batch,
        retry_pause_s=0.0,
    )


async def _prepare() -> None:
    return None


async def _started(svc: FakeService) -> _Lifecycle:
    life = _Lifecycle(svc, _prepare)
    await life.on_startup()
    await life.after_startup()
    return life


def test_when_handled_paused_acks_on_return_and_nacks_a_failure() -> None:
    async def main() -> None:
        svc = FakeService()
        life = await _started(svc)
        sub = _sub(svc, Commits.WHEN_HANDLED_PAUSED, batch=False)
        msg = FakeMessage(Record())
        await life.handle(sub, msg)  # type: ignore[arg-type]
        assert msg.acks == ["ack"]
        assert [len(b.records) for b in svc.batches] == [1]
        svc.fail = True
        failed = FakeMessage(Record(offset=1))
        await life.handle(sub, failed)  # type: ignore[arg-type]
        assert failed.acks == ["nack"]

    asyncio.run(main())


def test_when_handled_raises_for_faststream_and_by_service_never_acks() -> None:
    async def main() -> None:
        svc = FakeService()
        life = await _started(svc)
        msg = FakeMessage((Record(), Record(offset=1)))
        await life.handle(_sub(svc, Commits.BY_SERVICE), msg)  # type: ignore[arg-type]
        await life.handle(_sub(svc, Commits.WHEN_HANDLED), msg)  # type: ignore[arg-type]
        assert msg.acks == []  # FastStream acknowledges WHEN_HANDLED itself
        assert [len(b.records) for b in svc.batches] == [2, 2]
        svc.fail = True
        with pytest.raises(RuntimeError):
            await life.handle(_sub(svc, Commits.WHEN_HANDLED), msg)  # type: ignore[arg-type]
        assert msg.acks == []

    asyncio.run(main())


def test_handlers_wait_for_start_and_readiness_follows_the_lifecycle() -> None:
    async def main() -> None:
        svc = FakeService()
        life = _Lifecycle(svc, _prepare)
        await life.on_startup()
        assert (await life.ready())[0] is False
        msg = FakeMessage(Record())
        task = asyncio.create_task(
            life.handle(_sub(svc, Commits.WHEN_HANDLED_PAUSED, batch=False), msg)  # type: ignore[arg-type]
        )
        await asyncio.sleep(0.01)
        assert not svc.batches, "handled before start() returned"
        await life.after_startup()
        await task
        assert msg.acks == ["ack"]
        ok, detail = await life.ready()
        assert ok
        assert detail == {"partitions": [], "detail": 1}
        svc.ok = False
        assert (await life.ready())[0] is False
        svc.ok = True
        await life.on_shutdown()
        assert (await life.ready())[0] is False
        await life.after_shutdown()
        assert svc.calls == ["open", "start", "drain", "close"]

    asyncio.run(main())


def test_a_handler_waiting_when_the_service_stops_leaves_its_records_for_a_replay() -> None:
    async def main() -> None:
        svc = FakeService()
        life = _Lifecycle(svc, _prepare)
        await life.on_startup()
        paused = FakeMessage(Record())
        waiting = asyncio.create_task(
            life.handle(_sub(svc, Commits.WHEN_HANDLED_PAUSED, batch=False), paused)  # type: ignore[arg-type]
        )
        nacked = asyncio.create_task(life.handle(_sub(svc, Commits.WHEN_HANDLED), paused))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        await life.on_shutdown()
        await waiting
        with pytest.raises(RuntimeError):
            await nacked
        assert paused.acks == []
        assert not svc.batches

    asyncio.run(main())
