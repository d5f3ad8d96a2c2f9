"""One chaos run: start the stack, produce while faults fire, heal, drain, judge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
from prefstream_testing.apache_kafka import ApacheKafka

from tests.chaos import invariants as inv
from tests.chaos.collect import Final, drain, duckdb_pairs, manifests, offline_pairs, read_final
from tests.chaos.effects import commits_after_effects, pairing_needs, submitter_needs
from tests.chaos.faults import Injector
from tests.chaos.fuzz import Stream, build_stream
from tests.chaos.observe import KafkaView, StallMonitor
from tests.chaos.produce import produce
from tests.chaos.report import FaultRow, Report
from tests.chaos.schedule import FAULT_KINDS, Plan
from tests.chaos.stack import NAMESPACE, Stack

Log = Callable[[str], None]


@contextlib.contextmanager
def _quiet_clients() -> Iterator[None]:
    """Our own Kafka clients log every refused connection while the broker is down by
    design; keep those out of the run's output (the services log to their own files)."""
    loggers = [logging.getLogger(n) for n in ("aiokafka", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


async def run_chaos(plan: Plan, work: Path, broker: ApacheKafka, log: Log = print) -> Report:
    with _quiet_clients():
        return await _run(plan, work, broker, log)


async def _run(plan: Plan, work: Path, broker: ApacheKafka, log: Log) -> Report:
    began = time.monotonic()
    report = Report(plan)
    stream = build_stream(plan.seed, plan.fuzz, progress=log)
    stack = Stack(work, broker, plan, log)
    if not stack.tmpfs.mounted:
        report.notes.append(stack.tmpfs.why_not)
    view = KafkaView(broker.bootstrap_servers)
    injector = Injector(stack)
    monitor: asyncio.Task[None] | None = None
    try:
        await stack.start()
        log(f"stack up (topics t{stack.tag}.*, work dir {work})")
        stalls = StallMonitor(
            view,
            stack.groups,
            stack.now,
            excused=lambda group, t: any(
                group in e.groups
                and e.start_s <= t <= (e.end_s if e.end_s is not None else t) + 1.0
                for e in injector.excuses
            ),
        )
        monitor = asyncio.create_task(stalls.run())
        produced, _ = await asyncio.gather(
            produce(
                broker.bootstrap_servers,
                stack.topic("candidates"),
                stream.records,
                plan.production_s,
                log,
            ),
            injector.run(plan.faults),
        )
        log(
            f"produced {produced.sent} records in {produced.seconds:.0f}s "
            f"({produced.resent} resent)"
        )
        await injector.heal()
        report.drained, report.drain_s = await drain(stack, view, plan.drain_timeout_s, log)
        await stalls.sample()
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
        final = await read_final(stack, view)
        await stack.stop()
        _fault_rows(plan, injector, report)
        _judge(plan, stack, stream, final, stalls, work, report)
    finally:
        if monitor is not None and not monitor.done():
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
        await view.close()
        await stack.close()
    report.wall_s = time.monotonic() - began
    return report


def _fault_rows(plan: Plan, injector: Injector, report: Report) -> None:
    done = injector.counts()
    planned = plan.counts()
    for kind in FAULT_KINDS:
        injected, skipped = done.get(kind, (0, 0))
        notes = {i.skipped or i.note for i in injector.injected if i.fault.kind == kind} - {""}
        report.faults.append(
            FaultRow(kind, planned[kind], injected, skipped, "; ".join(sorted(notes))[:120])
        )


def _judge(
    plan: Plan,
    stack: Stack,
    stream: Stream,
    final: Final,
    stalls: StallMonitor,
    work: Path,
    report: Report,
) -> None:
    b = plan.bounds
    truth = inv.classify(final.candidates, stream, b.max_clock_skew_s)
    counts: dict[str, int] = {"good": len(truth.good)}
    for rec in truth.bad.values():
        counts[rec.kind] = counts.get(rec.kind, 0) + 1
    counts["skewed"] = sum(1 for r in stream.records if r.skew_s is not None)
    report.records = counts
    if truth.unknown:
        report.notes.append(
            f"{len(truth.unknown)} records on the candidates topic not generated here"
        )

    seen = [inv.parse_dead_letter(v, h) for v, h in final.deadletters]
    dl_outcome, skew_dl = inv.dead_letters(truth, seen, stack.topic("candidates"))
    expected = offline_pairs(work, truth.good, skew_dl, b.max_record_bytes)
    topic, copies, disagree = inv.topic_pairs(final.pair_values)
    try:
        duck = duckdb_pairs(stack.pairing_db)
        o1 = inv.compare_pairs(
            "DuckDB pairs == pairs build of the good records",
            expected,
            duck,
            "pairs build",
            "DuckDB",
        )
        o2 = inv.compare_pairs(
            "pairs topic == DuckDB pairs (ids, contents)", duck, topic, "DuckDB", "topic"
        )
    except Exception as exc:
        o1 = inv.Outcome(
            "DuckDB pairs == pairs build of the good records", False, f"DuckDB unreadable: {exc}"
        )
        o2 = inv.compare_pairs(
            "pairs topic == pairs build (DuckDB unreadable)",
            expected,
            topic,
            "pairs build",
            "topic",
        )
    o2.numbers += f"; topic copies {copies}, copies that disagree {disagree}"
    o2.held = o2.held and disagree == 0
    ids, names, unreadable = manifests(final.datasets)
    pair_times: dict[str, float] = {}
    for value, t in zip(final.pair_values, final.pair_times, strict=True):
        pid = str(msgspec.json.decode(value)["pair_id"])
        pair_times[pid] = min(t, pair_times.get(pid, t))
    needs = {
        "pairing": pairing_needs(
            truth, expected, pair_times, list(zip(seen, final.deadletter_times, strict=True))
        ),
        "submitter": submitter_needs(
            final.dataset_coords, final.datasets, final.job_events, final.job_times
        ),
    }
    stall_rows: dict[str, tuple[float, float, str]] = {}
    for group in stack.groups:
        s = stalls.longest(group)
        where = f"p{s.partition} at t+{s.at_s:.0f}s" if s else "-"
        stall_rows[group] = (s.longest_s if s else 0.0, b.stall_bound_s(group), where)
    report.outcomes = [
        o1,
        o2,
        dl_outcome,
        inv.pairs_in_datasets(set(topic), ids, unreadable),
        inv.one_job_per_dataset(names, final.nmp_jobs, NAMESPACE),
        inv.seq_monotonic(final.job_events, names.values()),
        inv.drained(final.lags),
        commits_after_effects(stalls.commits, needs),
        inv.no_stall(stall_rows),
        inv.stayed_up([(e.service, e.at_s, e.returncode, e.tail) for e in stack.exits]),
    ]
