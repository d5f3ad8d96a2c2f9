"""The pairing service's per-event CPU, step by step, in one process without a broker.

Feeds seeded turns (``prefstream_testing.synthetic``: 4 candidates, ~1 KB each, 16 turns
interleaved) through what the service does to a batch of 1,000 records, timing each
step separately: the decisions (``Processor.process``), encoding the pair records with
``_publish``'s own functions, appending them to aiokafka record batches as ``Sink.send``
does (no network), and the DuckDB transaction (stage, COMMIT, and a CHECKPOINT at the
service's WAL threshold), plus what DuckDB's threads do between statements
("background"). The table gives each step's median µs of CPU per event over the rounds:
a change to one step is measured without the broker's and the producer's share of the two
cores blurring it.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa  # type: ignore[import-untyped]
from aiokafka.producer.message_accumulator import BatchBuilder
from prefstream_pairing import PairingOptions
from prefstream_pairing_service.handler import CHECKPOINT_WAL_BYTES, pair_headers, pair_records
from prefstream_pairing_service.processor import Processor
from prefstream_stores.pairing import PairingStore
from prefstream_testing.kafka import Record
from prefstream_testing.synthetic import synthetic_lines

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import print_table

BATCH = 1000
T0 = 1_700_000_000_000


def batches(turns: int) -> list[list[Record]]:
    lines = [line.rstrip(b"\n") for line in synthetic_lines(turns, 4, seed=7, interleave=16)]
    records = [Record("candidates", 0, i, T0 + i // 20, b"k", raw) for i, raw in enumerate(lines)]
    return [records[i : i + BATCH] for i in range(0, len(records), BATCH)]


def one_round(turns: int, tmp: Path) -> dict[str, float]:
    todo = batches(turns)
    events = sum(len(b) for b in todo)
    store = PairingStore(tmp / f"p{time.monotonic_ns()}.duckdb")
    proc = Processor(
        PairingOptions(),
        store,
        inactivity_gap_s=1000,
        max_age_s=10_000,
        late_policy="pair",
        max_record_bytes=1 << 20,
        cache_size=4 * BATCH,
    )
    spent = dict.fromkeys(("decide", "encode", "append", "stage", "commit", "checkpoint"), 0.0)
    in_duckdb = {"stage", "commit", "checkpoint"}

    @contextmanager
    def step(name: str) -> Iterator[None]:
        # Python steps count this thread only; DuckDB's count the process, since DuckDB
        # runs a statement on its own threads too. What DuckDB's threads do between
        # statements is reported apart, as "background".
        clock = time.process_time if name in in_duckdb else time.thread_time
        t = clock()
        yield
        spent[name] += clock() - t

    started = time.process_time()
    pairs = 0
    for i, recs in enumerate(todo):
        with step("decide"):
            fx = proc.process(recs, T0 + i, float(i))
        pairs += len(fx.pairs)
        with step("encode"):
            encoded = pair_records(fx.pairs, pair_headers(b"2026-12-05T00:00:00Z"))
        with step("append"):
            batch = BatchBuilder(1 << 20, 0)
            for key, value, headers in encoded:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    batch._build()
                    batch = BatchBuilder(1 << 20, 0)
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
            batch._build()
        with step("stage"):
            store.stage(fx.window_rows, fx.candidate_rows, fx.pair_rows, fx.updates)
        with step("commit"):
            store.commit()
        proc.settle(fx.seq)
        if store.wal_bytes() >= CHECKPOINT_WAL_BYTES:  # the service's rule
            with step("checkpoint"):
                store.checkpoint()
    spent["background"] = time.process_time() - started - sum(spent.values())
    store.close()
    out = {step: s / events * 1e6 for step, s in spent.items()}
    out["total"] = sum(out.values())
    out["pairs per event"] = pairs / events
    return out


def main() -> None:
    pa.array([0])  # the first call imports pandas (~1 s here): the service pays it at start
    gc.set_threshold(50_000, 20, 50)  # as the service (prefstream_pairing_service.app.run)
    gc.freeze()
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--turns", type=int, default=25_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rounds = [one_round(args.turns, Path(tmp)) for _ in range(args.rounds)]
    print_table(
        [
            {
                "step": step,
                "median": statistics.median(r[step] for r in rounds),
                "rounds": [r[step] for r in rounds],
            }
            for step in rounds[0]
        ],
        ["step", "median", "rounds"],
    )
    print("(µs of CPU per event; 'pairs per event' is a count)")


if __name__ == "__main__":
    main()
