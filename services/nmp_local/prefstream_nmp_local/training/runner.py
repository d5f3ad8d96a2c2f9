"""The TRL job runner: an asyncio task in nmp-local that schedules, follows and ends workers.

Each tick it follows running workers' progress files into the job records, moves new jobs to
``pending``, and hands the oldest pending job to a worker while fewer than
``max_training_jobs`` train. All state is in the Store and the job folders, so a restarted
nmp-local picks up where it was: a job persisted as ``running`` resumes from its last
checkpoint, or fails saying that none was saved; it never stays ``running``.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefstream_nmp_local import job_lifecycle
from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.customizer_jobs import ACTIVE_KIND, KIND
from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.training import job_state
from prefstream_nmp_local.training.model_files import Snapshot, materialize
from prefstream_nmp_local.training.pool import WorkerPool
from prefstream_nmp_local.training.progress import Progress, fold, parse_lines
from prefstream_nmp_local.training.request import (
    TrainRequest,
    latest_checkpoint,
    log_path,
    progress_path,
    training_dir,
)

log = logging.getLogger("prefstream_nmp_local.training")
JsonObj = dict[str, Any]
LOG_TAIL_CHARS = 1500


def training_root(ctx: AppContext) -> Path:
    return training_dir(ctx.settings.data_dir)


@dataclass
class Running:
    proc: subprocess.Popen[bytes]
    progress_file: Path
    seen_size: int = -1
    progress: Progress = field(default_factory=Progress)


class TrainingRunner:
    def __init__(self, ctx: AppContext, repos: HfRepos) -> None:
        self.ctx = ctx
        self.repos = repos
        self.pool = WorkerPool(training_root(ctx) / "workers")
        self.running: dict[str, Running] = {}
        self.wants_spare = ctx.settings.trainer == "trl"
        """Keep a spare from the start when real training was asked for explicitly; under
        ``auto`` only once a TRL job exists (most ``auto`` servers never train)."""

    async def run_forever(self) -> None:
        """Call ``recover`` first (before serving requests, so none sees a stale state)."""
        try:
            while True:
                try:
                    self.tick()
                except Exception:
                    log.exception("training runner tick failed")
                await asyncio.sleep(self.ctx.settings.tick_seconds)
        finally:
            self.pool.close([r.proc for r in self.running.values()])

    # ---------------------------------------------------------------------------------
    def _trl_records(self) -> list[JsonObj]:
        out = []
        for active in self.ctx.store.list(ACTIVE_KIND):
            record = self.ctx.store.get(KIND, active["id"])
            if record is not None and job_state.is_trl(record):
                out.append(record)
        return out

    def recover(self) -> None:
        """After a restart: finish, resume or fail every job persisted as ``running``."""
        for record in self._trl_records():
            if record["training"]["status"] != "running":
                continue
            folder = Path(record["training"]["job_dir"])
            p = fold(parse_lines(_read_text(progress_path(folder))))
            record = self._with_progress(record, p)
            if p.outcome == "completed" and p.output_dir and Path(p.output_dir).is_dir():
                self._complete(record, p)
                continue
            if p.outcome == "failed":
                self._fail(record, p.message or "training failed")
                continue
            checkpoint = latest_checkpoint(folder)
            if checkpoint is None:
                self._fail(
                    record,
                    f"nmp-local stopped while this job was training (step {p.steps_completed} "
                    f"of {p.total_steps or '?'}) and no checkpoint had been saved yet "
                    f"(checkpoint_every_steps={self.ctx.settings.checkpoint_every_steps}); "
                    "the job cannot continue, resubmit it",
                )
                continue
            self._dispatch(record, checkpoint)

    def tick(self) -> None:
        self.pool.reap()
        for job_id in list(self.running):
            self._follow(job_id)
        now = self.ctx.now()
        pending: list[JsonObj] = []
        for record in self._trl_records():
            training = record["training"]
            if training["status"] == "created":
                limit = self.ctx.settings.max_training_jobs
                training = job_state.transition(
                    training, "pending", now, f"Waiting for a training slot ({limit} at a time)"
                )
                record = {**record, "training": training}
                self.ctx.store.put(KIND, record["id"], record)
            if training["status"] == "pending":
                pending.append(record)
        if self.wants_spare or pending:
            self.wants_spare = True
            if all(r.progress.pid == r.proc.pid for r in self.running.values()):
                self.pool.ensure_spare()  # not while a taken worker still imports
        pending.sort(key=lambda r: float(r["plan"]["created_at"]))
        while pending and len(self.running) < self.ctx.settings.max_training_jobs:
            self._dispatch(pending.pop(0), None)

    # ---------------------------------------------------------------------------------
    def _dispatch(self, record: JsonObj, resume_from: Path | None) -> None:
        training = record["training"]
        cache = training_root(self.ctx) / "cache"
        try:
            model_dir = materialize(self.repos, Snapshot(**training["model"]), cache)
            dataset_dir = materialize(self.repos, Snapshot(**training["dataset"]), cache)
        except Exception as exc:
            self._fail(record, f"could not prepare the model and dataset files: {exc}")
            return
        request = TrainRequest(
            job_id=record["id"],
            model_dir=model_dir,
            dataset_dir=dataset_dir,
            job_dir=Path(training["job_dir"]),
            config=training["config"],
            device=self.ctx.settings.training_device,
            resume_from=resume_from,
        )
        proc = self.pool.take(request)
        now = self.ctx.now()
        training = {**training, "worker_pid": proc.pid}
        if resume_from is None:
            training = job_state.transition(
                training, "running", now, f"Training started in worker pid {proc.pid}"
            )
        else:
            training = job_state.note(
                training,
                now,
                "resumed",
                f"nmp-local restarted; resuming from {resume_from.name} in worker pid {proc.pid}",
            )
        record = {**record, "training": training}
        self.ctx.store.put(KIND, record["id"], record)
        self.running[record["id"]] = Running(
            proc, progress_path(request.job_dir), progress=Progress.from_json(training["progress"])
        )
        log.info("job %s: worker pid %d (resume from %s)", record["id"], proc.pid, resume_from)

    def _follow(self, job_id: str) -> None:
        run = self.running[job_id]
        record = self.ctx.store.get(KIND, job_id)
        if record is None or record["training"]["status"] != "running":
            self.pool.stop(run.proc)  # cancelled (or deleted): end the worker
            del self.running[job_id]
            return
        exit_code = run.proc.poll()  # before reading, so a final event written at exit is seen
        size = _size(run.progress_file)
        if size != run.seen_size:
            run.seen_size = size
            run.progress = fold(parse_lines(_read_text(run.progress_file)))
            if run.progress.to_json() != record["training"]["progress"]:
                record = self._with_progress(record, run.progress)
                self.ctx.store.put(KIND, job_id, record)
        p = run.progress
        if p.outcome == "completed":
            del self.running[job_id]
            self._complete(record, p)
        elif p.outcome == "failed":
            del self.running[job_id]
            self._fail(record, f"training failed: {p.message}")
        elif exit_code is not None:
            del self.running[job_id]
            tail = _read_text(log_path(Path(record["training"]["job_dir"])))[-LOG_TAIL_CHARS:]
            self._fail(
                record,
                f"the training worker (pid {run.proc.pid}) exited with code {exit_code} "
                f"before finishing; last log lines:\n{tail}",
            )

    def _with_progress(self, record: JsonObj, p: Progress) -> JsonObj:
        training = {**record["training"], "progress": p.to_json()}
        if p.pid is not None:
            training["worker_pid"] = p.pid
        return {**record, "training": training}

    def _complete(self, record: JsonObj, p: Progress) -> None:
        at = p.outcome_at or self.ctx.now()
        acc = p.train_pairs.get("rewards/accuracies")
        detail = f"Training completed; output model {record['body']['output_model']}"
        if acc is not None:
            detail += f"; reward accuracy on training pairs {acc:.4f}"
        training = job_state.transition(record["training"], "completed", at, detail)
        job_lifecycle.finalize(self.ctx, self.repos, {**record, "training": training})

    def _fail(self, record: JsonObj, message: str) -> None:
        log.warning("job %s failed: %s", record["id"], message.splitlines()[0])
        training = job_state.transition(record["training"], "failed", self.ctx.now(), message)
        job_lifecycle.finalize(self.ctx, self.repos, {**record, "training": training})


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
