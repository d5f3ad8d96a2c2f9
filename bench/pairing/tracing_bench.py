"""What tracing costs the pairing service's hot path, per candidate event, in one process.

Seeded turns (``prefstream_testing.synthetic``: 4 candidates, ~1 KB each) go through the
decisions (``Processor.process``) and the building of the pair records (``pair_records``
untraced, ``_traced_pairs`` traced) in batches of 1,000, with a ``BatchSpanProcessor``
whose exporter drops the spans and the service's sampler (``ParentBased`` over
``TraceIdRatioBased(1.0)``). The candidates carry a sampled ``traceparent``, an unsampled
one (an agent that sampled them out), or none. The table gives the median µs of this
thread's CPU per candidate event over the rounds.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Tracer
from prefstream_pairing import PairingOptions
from prefstream_pairing_service.handler import _traced_pairs, pair_records
from prefstream_pairing_service.processor import Processor
from prefstream_stores.pairing import PairingStore
from prefstream_testing.kafka import Record
from prefstream_testing.synthetic import synthetic_lines

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import print_table

BATCH = 1000
T0 = 1_700_000_000_000
MODES = ("off", "on, sampled candidates", "on, unsampled candidates", "on, untraced candidates")


@dataclass
class TracedRecord(Record):
    """A consumed record with headers (``record_traceparent`` reads them)."""

    headers: list[tuple[str, bytes]] = field(default_factory=list)


class Dropped(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def records(turns: int, flags: str | None) -> list[TracedRecord]:
    """Each candidate with its own context (flags ``01`` sampled, ``00`` not) or none."""
    out = []
    for i, line in enumerate(synthetic_lines(turns, 4, seed=7, interleave=16)):
        headers = []
        if flags is not None:
            headers = [("traceparent", f"00-{i + 1:032x}-{i + 1:016x}-{flags}".encode())]
        value = line.rstrip(b"\n")
        out.append(TracedRecord("candidates", 0, i, T0 + i // 20, b"k", value, headers))
    return out


def one_round(turns: int, mode: str, tracer: Tracer, tmp: Path) -> float:
    flags = {MODES[1]: "01", MODES[2]: "00"}.get(mode)
    todo = records(turns, flags)
    proc = Processor(
        PairingOptions(),
        PairingStore(tmp / f"p{time.monotonic_ns()}.duckdb"),
        inactivity_gap_s=1000,
        max_age_s=10_000,
        late_policy="pair",
        max_record_bytes=1 << 20,
        cache_size=4 * BATCH,
        traced=mode != "off",
    )
    spent = 0.0
    for i in range(0, len(todo), BATCH):
        t = time.thread_time()
        fx = proc.process(todo[i : i + BATCH], T0 + i, float(i))
        if mode == "off":
            pair_records(fx.pairs, [])
        else:
            _traced_pairs(tracer, fx, [])
        spent += time.thread_time() - t
        proc.settle(fx.seq)
    proc.store.close()
    return spent / len(todo) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    gc.set_threshold(50_000, 20, 50)  # as the service
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(1.0)))
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    tracer = provider.get_tracer("pairing")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.rounds):  # interleaved, so drift hits every mode alike
            for mode in MODES:
                runs[mode].append(one_round(args.turns, mode, tracer, Path(tmp)))
    off = statistics.median(runs["off"])
    for mode in MODES:
        median = statistics.median(runs[mode])
        rows.append({"tracing": mode, "median": median, "vs off": median / off})
    provider.shutdown()
    print_table(rows, ["tracing", "median", "vs off"])
    print("(µs of CPU per candidate event: decisions and pair records, no broker)")


if __name__ == "__main__":
    main()
