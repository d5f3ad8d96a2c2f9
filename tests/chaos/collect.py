"""After the faults: wait for the stack to drain, then gather what the invariants judge.

Draining is observed, with a deadline: every group's committed offsets equal its topic's
end offsets, the batcher has nothing pending, the submitter nothing queued or in flight.
A run that does not drain by the deadline is judged as it stands (the invariants then say
what is missing), never waited on forever.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec
from prefstream_datasets import read_pair_ids

from tests.chaos.invariants import Coord, Fingerprint, pair_fingerprint
from tests.chaos.observe import KafkaView, read_topic
from tests.chaos.stack import Stack
from tests.support import http_probe

REPO = Path(__file__).resolve().parents[2]
Log = Callable[[str], None]


async def lags(stack: Stack, view: KafkaView) -> dict[str, dict[int, tuple[int, int]]]:
    out: dict[str, dict[int, tuple[int, int]]] = {}
    for name, (group, topic) in stack.groups.items():
        ends = await view.ends(topic)
        committed = await view.committed(group, topic)
        out[name] = {p: (committed.get(p, 0), end) for p, end in ends.items()}
    return out


def _quiet(stack: Stack) -> tuple[bool, str]:
    b = http_probe.readyz(stack.batcher.svc.port) or {}
    s = http_probe.readyz(stack.submitter.svc.port) or {}
    pending = b.get("pending", 0 if b.get("ready") else None)
    busy = (s.get("jobs_in_flight"), s.get("queued")) if s.get("ready") else (None, None)
    return pending == 0 and busy == (
        0,
        0,
    ), f"batcher pending {pending}, submitter in flight/queued {busy}"


async def drain(stack: Stack, view: KafkaView, timeout_s: float, log: Log) -> tuple[bool, float]:
    start = time.monotonic()
    deadline = start + timeout_s
    last = ""
    next_note = start + 15
    while time.monotonic() < deadline:
        try:
            lag = await lags(stack, view)
        except Exception as exc:
            last = f"offsets unreadable: {exc}"
        else:
            behind = {g: sum(e - c for c, e in parts.values()) for g, parts in lag.items()}
            quiet, why = _quiet(stack)
            last = f"lag {behind}, {why}"
            if quiet and not any(behind.values()):
                return True, time.monotonic() - start
        if time.monotonic() >= next_note:
            log(f"draining: {last}")
            next_note = time.monotonic() + 15
        await asyncio.sleep(1.0)  # polling period of an observed condition
    log(f"not drained after {timeout_s:.0f}s: {last}")
    return False, time.monotonic() - start


@dataclass
class Final:
    candidates: list[tuple[int, int, bytes]] = field(default_factory=list)
    pair_values: list[bytes] = field(default_factory=list)
    pair_times: list[float] = field(default_factory=list)
    """Kafka timestamp (s) of each record in ``pair_values``."""
    deadletters: list[tuple[bytes, dict[str, bytes]]] = field(default_factory=list)
    deadletter_times: list[float] = field(default_factory=list)
    datasets: list[dict[str, Any]] = field(default_factory=list)
    dataset_coords: list[tuple[int, int]] = field(default_factory=list)
    job_events: list[dict[str, Any]] = field(default_factory=list)
    job_times: list[float] = field(default_factory=list)
    nmp_jobs: list[dict[str, Any]] = field(default_factory=list)
    lags: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)


async def read_final(stack: Stack, view: KafkaView) -> Final:
    bootstrap = stack.broker.bootstrap_servers
    f = Final()
    f.lags = await lags(stack, view)
    for r in await read_topic(bootstrap, stack.topic("candidates")):
        f.candidates.append((r.partition, r.offset, r.value or b""))
    for r in await read_topic(bootstrap, stack.topic("pairs")):
        f.pair_values.append(r.value or b"")
        f.pair_times.append(r.timestamp / 1000)
    for r in await read_topic(bootstrap, stack.topic("deadletter")):
        f.deadletters.append((r.value or b"", {k: v for k, v in r.headers}))
        f.deadletter_times.append(r.timestamp / 1000)
    for r in await read_topic(bootstrap, stack.topic("datasets")):
        f.datasets.append(msgspec.json.decode(r.value or b"{}"))
        f.dataset_coords.append((r.partition, r.offset))
    for r in await read_topic(bootstrap, stack.topic("jobs")):
        f.job_events.append(msgspec.json.decode(r.value or b"{}"))
        f.job_times.append(r.timestamp / 1000)
    f.nmp_jobs = await nmp_jobs(stack.nmp.proc.base_url)
    return f


async def nmp_jobs(base_url: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    page = 1
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            r = await client.get(
                f"{base_url}/v1/customization/jobs", params={"page": page, "page_size": 1000}
            )
            r.raise_for_status()
            body = r.json()
            found.extend(body["data"])
            if page >= body["pagination"]["total_pages"]:
                return found
            page += 1


def duckdb_pairs(path: Path) -> dict[str, Fingerprint]:
    """The pairing service's pairs, full rows from its ``pairs`` view (service stopped)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(
            "SELECT pair_id, content_hash, run_id, example_id, turn_id, prompt, chosen, rejected,"
            " chosen_score, rejected_score, reward, chosen_index, rejected_index FROM pairs"
        )
        names = [d[0] for d in cur.description]
        out: dict[str, Fingerprint] = {}
        for row in cur.fetchall():
            doc = dict(zip(names, row, strict=True))
            out[str(doc["pair_id"])] = pair_fingerprint(doc, prompt_is_canonical=True)
        return out
    finally:
        con.close()


def offline_pairs(
    work: Path, good: list[tuple[Coord, bytes]], exclude: set[Coord], max_record_bytes: int
) -> dict[str, Fingerprint]:
    """``prefstream pairs build`` of the good records (as the topic holds them, in
    partition/offset order), less the far-skewed ones the service dead-lettered."""
    src = work / "good-candidates.jsonl"
    out = work / "expected-pairs.jsonl"
    with src.open("wb") as fh:
        for coord, value in good:
            if coord not in exclude:
                fh.write(value + b"\n")
    cmd = [
        sys.executable, "-m", "prefstream_cli", "pairs", "build", str(src), "-o", str(out),
        "--jobs", "1", "--set", "kafka.max_record_bytes", str(max_record_bytes),
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"pairs build failed ({done.returncode}):\n{done.stderr[-3000:]}")
    pairs: dict[str, Fingerprint] = {}
    with out.open("rb") as fh:
        for line in fh:
            if line.strip():
                doc = msgspec.json.decode(line)
                pairs[str(doc["pair_id"])] = pair_fingerprint(doc)
    return pairs


def manifests(
    events: list[dict[str, Any]],
) -> tuple[dict[str, set[str]], dict[str, str], list[str]]:
    """Pair ids of each announced dataset (from its manifest), name -> id, unreadable ones."""
    ids: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    bad: list[str] = []
    for e in events:
        dsid = str(e["dataset_id"])
        if dsid in ids:
            continue
        names[str(e["name"])] = dsid
        try:
            sides = read_pair_ids(Path(str(e["directory"])))
        except (OSError, ValueError, KeyError) as exc:
            bad.append(f"{e['name']}: {exc}")
            continue
        ids[dsid] = set(sides["training"]) | set(sides["validation"])
    return ids, names, bad
