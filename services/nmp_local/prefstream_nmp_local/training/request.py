"""What the server hands a worker: one JSON object naming local directories and options.

The server materialises the model and dataset snapshots first, so the worker needs no
access to the Data Store, and the request alone reproduces the run (also on resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    job_id: str
    model_dir: Path
    """A snapshot of the base model repo (``from_pretrained`` loads it)."""
    dataset_dir: Path
    """A snapshot of the dataset repo: ``training/*.jsonl`` and optional ``validation/*.jsonl``."""
    job_dir: Path
    """Progress file, worker log, checkpoints and the final model live here."""
    config: dict[str, Any]
    """``DPOConfig`` keyword arguments (see ``hyperparameters.dpo_config_kwargs``)."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    resume_from: Path | None = None
    """A checkpoint folder to continue from (after an nmp-local restart)."""

    @property
    def progress_path(self) -> Path:
        return progress_path(self.job_dir)

    @property
    def output_dir(self) -> Path:
        return output_dir(self.job_dir)

    @property
    def checkpoints_dir(self) -> Path:
        return checkpoints_dir(self.job_dir)

    @property
    def log_path(self) -> Path:
        return log_path(self.job_dir)


def training_dir(data_dir: Path) -> Path:
    """``DATA_DIR/training``: ``jobs/{id}/``, ``cache/`` (repo snapshots), ``workers/``."""
    return data_dir.resolve() / "training"


def job_folder(data_dir: Path, job_id: str) -> Path:
    return training_dir(data_dir) / "jobs" / job_id


def progress_path(job_dir: Path) -> Path:
    return job_dir / "progress.jsonl"


def output_dir(job_dir: Path) -> Path:
    return job_dir / "output"


def checkpoints_dir(job_dir: Path) -> Path:
    return job_dir / "checkpoints"


def log_path(job_dir: Path) -> Path:
    return job_dir / "worker.log"


def latest_checkpoint(job_dir: Path) -> Path | None:
    """The newest complete ``checkpoint-N`` folder (TRL writes ``trainer_state.json`` last)."""
    found: list[tuple[int, Path]] = []
    root = checkpoints_dir(job_dir)
    if root.is_dir():
        for child in root.iterdir():
            step = child.name.removeprefix("checkpoint-")
            if step.isdigit() and (child / "trainer_state.json").is_file():
                found.append((int(step), child))
    return max(found)[1] if found else None
