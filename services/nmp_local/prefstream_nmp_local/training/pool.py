"""Worker processes: one pre-started spare that has already imported the ML stack.

Importing torch + transformers + trl takes ~14 s on 2 idle cores (measured; 32 s when two
imports ran at once on a loaded machine), far longer than a tiny DPO run, so a job is handed
to a spare that did that while nobody waited. Workers must be spawned from the event loop's
thread: ``PR_SET_PDEATHSIG`` fires when the spawning *thread* exits.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefstream_nmp_local.training.request import TrainRequest
from prefstream_nmp_local.training.worker import PARENT_ENV

log = logging.getLogger("prefstream_nmp_local.training")
KILL_GRACE_SECONDS = 5.0
"""SIGTERM first (the worker's default handler exits at once); SIGKILL after this."""


@dataclass
class WorkerPool:
    log_dir: Path
    spare: subprocess.Popen[bytes] | None = None
    _stopping: list[tuple[subprocess.Popen[bytes], float]] = field(default_factory=list)

    def ensure_spare(self) -> None:
        if self.spare is not None and self.spare.poll() is None:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            PARENT_ENV: str(os.getpid()),
            "HF_HUB_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONUNBUFFERED": "1",
        }
        with (self.log_dir / "spare-workers.log").open("ab") as out:
            self.spare = subprocess.Popen(
                [sys.executable, "-m", "prefstream_nmp_local.training.worker"],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        log.info("started spare training worker pid %d", self.spare.pid)

    def take(self, request: TrainRequest) -> subprocess.Popen[bytes]:
        """Hand ``request`` to the spare (it may still be importing; the runner starts the next
        spare once this one has finished importing, so two imports never compete for CPU)."""
        line = request.model_dump_json().encode() + b"\n"
        for attempt in (1, 2):
            self.ensure_spare()
            proc = self.spare
            assert proc is not None
            assert proc.stdin is not None
            self.spare = None
            try:
                proc.stdin.write(line)
                proc.stdin.close()
            except BrokenPipeError:  # the spare died (e.g. its import failed): try a fresh one
                proc.wait()
                if attempt == 2:
                    raise
                continue
            return proc
        raise AssertionError("unreachable")

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM now; ``reap`` sends SIGKILL if it is still alive after the grace period."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            self._stopping.append((proc, time.monotonic() + KILL_GRACE_SECONDS))

    def reap(self) -> None:
        now = time.monotonic()
        left: list[tuple[subprocess.Popen[bytes], float]] = []
        for proc, deadline in self._stopping:
            if proc.poll() is not None:
                continue
            if now >= deadline:
                proc.kill()
            left.append((proc, deadline))
        self._stopping = left

    def close(self, running: list[subprocess.Popen[bytes]]) -> None:
        """At shutdown: end every worker, waiting at most the grace period in total."""
        procs = [p for p in [*running, self.spare] if p is not None and p.poll() is None]
        procs += [p for p, _ in self._stopping if p.poll() is None]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.spare = None
        self._stopping = []
