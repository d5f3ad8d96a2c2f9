"""A DPO job's rows, read from its dataset files (no torch: tested directly)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

JsonObj = dict[str, Any]


def read_rows(dataset_dir: Path) -> tuple[list[JsonObj], list[JsonObj]]:
    """(training, validation) rows; without validation files 10 % of training is held out."""
    train = _rows(sorted((dataset_dir / "training").glob("*.jsonl")))
    val = _rows(sorted((dataset_dir / "validation").glob("*.jsonl")))
    if not val:
        keep = math.ceil(len(train) * 0.9)
        train, val = train[:keep], train[keep:]
    return train, val


def _rows(paths: list[Path]) -> list[JsonObj]:
    """The files' rows in a canonical order (by a hash of each row's content).

    The seeded shuffle then makes a job's model a function of *which* pairs it trains on:
    a streamed dataset lists its pairs in arrival order, which concurrent agents change
    from run to run (measured: the same demo round trained to 0.614 and 0.662 win rates
    before this, the same figure every run after).
    """
    rows: list[JsonObj] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return sorted(rows, key=_content_hash)


def _content_hash(row: JsonObj) -> str:
    canonical = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
