"""Helpers shared by the whole-loop tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "configs" / "demo-simulated.yml"


def as_argv(overrides: list[tuple[str, str]]) -> list[str]:
    argv: list[str] = []
    for key, value in overrides:
        argv += ["-o", key, value]
    return argv
