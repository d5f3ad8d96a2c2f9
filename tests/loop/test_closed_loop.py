"""`prefstream demo`, closed loop, small: a real model trained, served, evaluated, promoted,
and the agents' next round played with the promoted model."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .support import ROOT, as_argv

pytest.importorskip("trl")

pytestmark = pytest.mark.slow

CLOSED_LOOP_CONFIG = ROOT / "configs" / "demo.yml"
AUTO_CUTS = {"batcher.min_new_pairs", "batcher.max_wait_seconds", "batcher.min_pairs"}


def _manifests(datasets: Path) -> list[dict[str, Any]]:
    found = [json.loads(p.read_text()) for p in datasets.rglob("manifest.json")]
    return sorted(found, key=lambda m: int(str(m["sequence"])))


def test_two_rounds_train_deploy_evaluate_and_switch(
    loop_overrides: list[tuple[str, str]], tmp_path: Path, policy_cache: Path
) -> None:
    overrides = [(k, v) for k, v in loop_overrides if k not in AUTO_CUTS] + [
        ("demo.agents", "2"),
        ("demo.games", "10"),
        ("demo.rounds", "2"),
        ("demo.evaluation_games_random", "60"),
        ("demo.evaluation_games_minimax", "20"),
        ("demo.policy_cache_dir", str(policy_cache)),
        ("demo.timeout_seconds", "400"),
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "prefstream_cli",
            "demo",
            "--config",
            str(CLOSED_LOOP_CONFIG),
            *as_argv(overrides),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=460,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    rows = re.findall(r"^\s+(\d)\s+(\S+)\s+.*\s(base|promoted|rejected)\s*$", output, re.M)
    assert [r[0] for r in rows] == ["0", "1", "2"], output[-4000:]
    base = rows[0][1]
    assert all(r[1] != base for r in rows[1:]), "each round evaluates a newly trained model"
    errors = [line for line in output.splitlines() if re.search(r"\b(ERROR|Traceback)\b", line)]
    assert not errors, "\n".join(errors[:20])

    manifests = _manifests(tmp_path / "datasets")
    assert len(manifests) == 2, "one dataset per round"
    assert set(manifests[0]["policy_models"]) == {base}
    expected_player = rows[1][1] if rows[1][2] == "promoted" else base
    assert set(manifests[1]["policy_models"]) == {expected_player}
