"""A job's status events leave in ``seq`` order, whichever tasks publish them.

The chaos run (seed 1206) caught ``queued`` (seq 1), ``submitting`` (seq 2), ``queued``
(seq 1) on the jobs topic: the submitter's first publish after a broker restart waited for
topic metadata while the dataset's flow, started meanwhile, re-published seq 1 and emitted
seq 2 straight through. The sink here holds the first publish the same way.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from prefstream_events import JobStatus, JobStatusEvent
from prefstream_stores.ledger import Ledger
from prefstream_submission.dataset_files import dataset_from_directory
from prefstream_submission.job_events import Emitter

from tests.support.fake_nemo import ListSink, write_dataset


class HeldFirstPublish(ListSink):
    """The first publish waits until :attr:`release` is set (a send waiting for metadata);
    the events reach the list, as the broker's log, in the order their sends complete."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = asyncio.Event()
        self.release = asyncio.Event()
        self._first = True

    async def publish(self, event: JobStatusEvent) -> None:
        if self._first:
            self._first = False
            self.holding.set()
            await self.release.wait()
        await super().publish(event)


async def test_a_republish_and_the_next_event_wait_for_a_publish_in_flight(
    tmp_path: Path,
) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    sink = HeldFirstPublish()
    emitter = Emitter(ledger, sink, namespace="ns")
    sub = ledger.add(dataset_from_directory(write_dataset(tmp_path / "dpo-1")))
    assert sub is not None

    queued = asyncio.create_task(emitter.emit(sub, "queued", status=JobStatus.QUEUED))
    await sink.holding.wait()

    async def flow_start() -> None:  # what SubmissionFlow.run does first
        await emitter.republish_pending(sub)
        await emitter.emit(sub, "started", status=JobStatus.SUBMITTING)

    flow = asyncio.create_task(flow_start())
    # The fake sink never suspends but for the held publish: one pass of the loop lets the
    # flow run as far as it can (to its end, if nothing made it wait).
    await asyncio.sleep(0)
    sink.release.set()
    await asyncio.gather(queued, flow)

    seqs = [e.seq for e in sink.events]
    assert seqs == sorted(seqs), f"seq went back on the topic: {seqs}"
    assert seqs[-1] == 2
    stored = ledger.get(sub.dataset_id)
    assert stored is not None
    assert sub.published_seq == stored.published_seq == 2
    ledger.close()
