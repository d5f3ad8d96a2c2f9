"""A full disk under ``datasets_dir`` stalls cuts, not the batcher: it keeps storing pairs,
says why it is not ready, and writes the dataset by itself once space is back.

It used to wedge: the failed cut left DuckDB with an open Arrow result, every later query
failed with ``ResourceInUseException`` until a restart, staging folders piled up and
``/readyz`` stayed green. The disk here is a real 1 MiB tmpfs, filled but for a little.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prefstream_batcher_service.decode import pair_row
from prefstream_datasets import STAGING, CutSpec, Selection
from prefstream_stores.batcher import BatcherStore

from tests.support import http_probe

from .harness import Env, ServiceProcess, TopicReader, check_files, dataset_pair_ids, pair_event
from .harness import produce as produce_pairs

DISK_BYTES = 1024 * 1024
LEFT_FREE = 96 * 1024
"""Room for the staging directory's first files, not for a dataset of CUT pairs."""
CUT = 200


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB filesystem (tmpfs); skipped where this process may not mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("wb") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


async def until(what: str, check: Callable[[], Any], timeout_s: float, proc: ServiceProcess) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if not proc.running:
            raise AssertionError(f"batcher exited while waiting for {what}:\n{proc.proc.tail(60)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} in {timeout_s}s:\n{proc.proc.tail(60)}")
        await asyncio.sleep(0.1)


def staged(datasets: Path) -> list[str]:
    staging = datasets / STAGING
    return sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []


async def test_full_disk_recovers_by_itself_when_space_returns(env: Env, small_disk: Path) -> None:
    datasets = small_disk / "datasets"
    overrides = env.overrides(
        "b0", min_new_pairs=CUT, min_pairs=1, max_wait_seconds=3600, datasets_dir=str(datasets)
    )
    datasets.mkdir()
    filler = fill(small_disk, LEFT_FREE)
    proc = ServiceProcess(env, overrides).start()
    try:
        await proc.wait_ready(60)
        first = [pair_event(i, pad=1500) for i in range(CUT)]
        await produce_pairs(env, first)

        def disk_full() -> dict[str, Any] | None:
            probe = http_probe.get(proc.port, "/readyz")
            if probe is None or probe[0] != 503:
                return None
            problem = probe[1].get("problems", {}).get("write", "")
            return probe[1] if "no space left" in problem else None

        body = await until("not-ready answer naming the full disk", disk_full, 60, proc)
        assert str(datasets) in body["problems"]["write"]

        # The batcher still stores pairs while it cannot write datasets (no wedge).
        more = [pair_event(i, pad=10) for i in range(CUT, CUT + 20)]
        await produce_pairs(env, more)

        def stored_all() -> bool:
            body = http_probe.get(proc.port, "/readyz")
            positions: dict[str, int] = body[1].get("positions", {}) if body else {}
            return sum(positions.values()) == CUT + 20

        await until("the later pairs stored", stored_all, 60, proc)
        assert len(staged(datasets)) <= 1, "failed attempts leave no staging folder behind"
        assert "prefstream_batcher_cut_failures_total" in proc.metrics()

        filler.unlink()
        async with TopicReader(env, env.datasets) as reader:
            await reader.wait_for(
                lambda r: len(r.values) >= 1, 90, "the dataset once space is back"
            )
            [event] = reader.datasets()
        check_files(event)
        assert dataset_pair_ids(event) == {p.pair_id for p in first}
        await until(
            "ready again",
            lambda: (http_probe.get(proc.port, "/readyz") or (0,))[0] == 200,
            30,
            proc,
        )
        assert staged(datasets) == []
    finally:
        proc.stop()


def test_a_scan_abandoned_mid_way_leaves_the_store_usable(tmp_path: Path) -> None:
    """The root of the wedge, where no tmpfs can be mounted: a cut that fails mid-scan
    (disk full) while its traceback is still referenced must not block the connection."""
    store = BatcherStore(tmp_path / "b.duckdb")
    try:
        with store.transaction():
            store.insert_pairs([pair_row(pair_event(i), 0, i, 0.0) for i in range(50)])
        spec = CutSpec(
            sequence=1,
            name="ds-1",
            mode="incremental",
            trigger="forced",
            created_at=datetime(2026, 1, 1, tzinfo=UTC),
            starts={},
            ends={0: 50},
            dedup=True,
            max_pairs=None,
            seed=0,
            validation_fraction=0.2,
            topic="pairs",
        )
        failure: OSError | None = None
        try:
            with store.stream_rows(Selection(spec), ["pair_id"], batch_rows=10) as scan:
                next(scan)
                raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            failure = exc  # kept, as a logged or retried error keeps it
        assert failure is not None
        assert sum(store.side_counts(Selection(spec)).values()) == 50
        with store.transaction():
            store.insert_pairs([pair_row(pair_event(i), 0, i, 0.0) for i in range(50, 60)])
        assert store.counts()["pairs"] == 60
    finally:
        store.close()
