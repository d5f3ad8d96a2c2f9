"""Benchmark: one batcher cut of N pairs from DuckDB to the JSONL files and the manifest.

    make bench-batcher    (= .venv/bin/python bench/batcher/run.py --pairs 1000000 --repeat 3)

Phase 1 (not timed) generates N seeded synthetic pairs of about 1 KB each (as PairEvent
JSON; half with a system+user message list as prompt) and stores them through the
batcher's own store insert path. Phase 2 runs ``--repeat`` times, each in a fresh child
process, so its peak RSS is the cut's alone: it opens the store with the service's default
``duckdb_memory_limit`` and builds one dataset covering every pair, exactly as the service
does (dedup, split, canonical order, NeMo files, manifest listing every pair id, fsync,
rename). It prints one JSON line: the median cut, every run's seconds and peak RSS, and
the targets.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from report import print_table

TARGET_SECONDS = 10.0
TARGET_RSS_MB = 500.0
PARTITIONS = 4


def peak_rss_kib() -> int:
    """Peak RSS of this process image (``VmHWM``). Not ``ru_maxrss``: Linux carries that
    across ``fork``+``exec``, so a child would report its parent's (generation) peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _words(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(5000)]


def generate(db: Path, pairs: int, seed: int, memory_limit: str) -> dict[str, Any]:
    from prefstream_datasets import encode_fragments
    from prefstream_events import ChatMessage, PairEvent
    from prefstream_stores.batcher import BatcherStore, PairRow

    rng = random.Random(seed)
    words = _words(rng)
    # Zipf-like vocabulary: text compresses roughly like prose.
    cum_weights = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(words))))

    def text(n: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cum_weights, k=n))

    system = ChatMessage(role="system", content="You are a careful tic-tac-toe player.")
    store = BatcherStore(db, memory_limit=memory_limit)
    offsets = [0] * PARTITIONS
    started = time.perf_counter()
    event_bytes = 0
    batch: list[PairRow] = []
    for i in range(pairs):
        example = f"example-{i // 6}"
        question = text(30)
        prompt: Any = [system, ChatMessage(role="user", content=question)] if i % 2 else question
        chosen, rejected = text(28), text(28)
        pair_id = hashlib.sha256(f"pair:{seed}:{i}".encode()).hexdigest()
        content_hash = hashlib.sha256(f"content:{seed}:{i}".encode()).hexdigest()
        if i < 1000:  # what such a pair weighs on the pairs topic
            event_bytes += len(
                PairEvent(
                    pair_id=pair_id,
                    content_hash=content_hash,
                    run_id="bench",
                    example_id=example,
                    turn_id="turn-0",
                    prompt=prompt,
                    chosen=chosen,
                    rejected=rejected,
                    chosen_score=0.9,
                    rejected_score=0.1,
                    score_diff=0.8,
                    reward=0.8,
                    chosen_index=0,
                    rejected_index=1,
                    policy_model="policy-v1",
                ).model_dump_json()
            )
        f = encode_fragments(prompt, chosen, rejected)
        partition = (i // 6) % PARTITIONS
        batch.append(
            PairRow(
                pair_id=pair_id,
                content_hash=content_hash,
                example_id=example,
                policy_model="policy-v1",
                src_partition=partition,
                src_offset=offsets[partition],
                received_at=time.time(),
                chosen_score=0.9,
                rejected_score=0.1,
                score_diff=0.8,
                reward=0.8,
                prompt_text=f.prompt_text,
                prompt_messages=f.prompt_messages,
                chosen=f.chosen,
                rejected=f.rejected,
            )
        )
        offsets[partition] += 1
        if len(batch) == 10_000:
            with store.transaction():
                store.insert_pairs(batch)
            batch.clear()
    if batch:
        with store.transaction():
            store.insert_pairs(batch)
    store.con.execute("CHECKPOINT")
    store.close()
    return {
        "generate_seconds": round(time.perf_counter() - started, 1),
        "mean_event_bytes": round(event_bytes / min(pairs, 1000)),
        "ends": dict(enumerate(offsets)),
    }


def cut(db: Path, out: Path, ends: dict[int, int], memory_limit: str) -> dict[str, object]:
    from prefstream_batcher_service.materialize import OutputOptions, build
    from prefstream_datasets import CutSpec
    from prefstream_stores.batcher import BatcherStore

    store = BatcherStore(db, memory_limit=memory_limit)
    spec = CutSpec(
        sequence=1,
        name="bench-1",
        mode="incremental",
        trigger="forced",
        created_at=datetime.now(UTC),
        starts={},
        ends=ends,
        dedup=True,
        max_pairs=None,
        seed=0,
        validation_fraction=0.2,
        topic="prefstream.pairs.v1",
    )
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    built = build(store, spec, OutputOptions(out, ("nemo",), False))
    seconds = time.perf_counter() - started
    store.close()
    event = built.event
    size = event.training.bytes + event.validation.bytes
    manifest_bytes = Path(event.manifest_path).stat().st_size
    return {
        "cut_seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_rss_kib() / 1024, 1),
        "pairs": event.num_pairs,
        "training_rows": event.training.rows,
        "validation_rows": event.validation.rows,
        "jsonl_mb": round(size / 1e6, 1),
        "manifest_mb": round(manifest_bytes / 1e6, 1),
        "pairs_per_second": round(event.num_pairs / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--memory-limit", default="1GB", help="batcher.duckdb_memory_limit for the cut"
    )
    parser.add_argument("--repeat", type=int, default=3, help="cuts to time (median reported)")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="keep the files here (default: a temp dir)"
    )
    parser.add_argument("--phase", choices=["all", "cut"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--ends", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="prefstream-bench-batcher-"))
    db = work / "batcher.duckdb"
    if args.phase == "cut":
        ends = {int(k): v for k, v in json.loads(args.ends).items()}
        print(json.dumps(cut(db, work / "datasets", ends, args.memory_limit)))
        return
    gen = generate(db, args.pairs, args.seed, "2GB")
    runs = []
    for _ in range(args.repeat):
        shutil.rmtree(work / "datasets", ignore_errors=True)
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase=cut",
                f"--workdir={work}",
                f"--memory-limit={args.memory_limit}",
                f"--ends={json.dumps(gen['ends'])}",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    median = sorted(runs, key=lambda r: r["cut_seconds"])[len(runs) // 2]
    report = {
        **{k: v for k, v in gen.items() if k != "ends"},
        **median,
        "cut_seconds_all": [r["cut_seconds"] for r in runs],
        "peak_rss_mb_all": [r["peak_rss_mb"] for r in runs],
        "target_seconds": TARGET_SECONDS,
        "target_rss_mb": TARGET_RSS_MB,
        "meets_targets": max(r["peak_rss_mb"] for r in runs) <= TARGET_RSS_MB
        and median["cut_seconds"] <= TARGET_SECONDS,
        "workdir": str(work),
    }
    print(json.dumps(report))
    print_table(
        [report],
        ("pairs", "cut_seconds", "cut_seconds_all", "peak_rss_mb_all", "meets_targets"),
    )
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
