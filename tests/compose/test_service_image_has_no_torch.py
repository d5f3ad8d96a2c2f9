"""The services' image (``uv sync --no-dev``, as the Dockerfile does) must not pull torch:
the real trainer is nmp-local's optional ``training`` extra, which only the dev setup
(``make demo``, ``make test``) installs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "trl", "transformers", "datasets", "accelerate")


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".cache" / "bootstrap" / "bin" / "uv")
    if not Path(found).exists():
        pytest.skip("uv is not installed here (make env installs it)")
    return found


def _requirements(*args: str) -> set[str]:
    out = subprocess.run(
        [_uv(), "export", "--frozen", "--no-hashes", "--no-emit-workspace", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    return {
        line.split("==")[0].strip().lower()
        for line in out.splitlines()
        if line and not line.startswith(("#", " "))
    }


def test_the_service_image_resolves_without_the_training_stack() -> None:
    assert not set(HEAVY) & _requirements("--no-dev")


def test_the_dev_setup_has_the_training_stack() -> None:
    assert set(HEAVY) <= _requirements()
