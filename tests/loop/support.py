"""Helpers shared by the whole-loop tests."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
from prefstream_kafka.local_brokers.ports import is_port_free

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "configs" / "demo-simulated.yml"


def as_argv(overrides: list[tuple[str, str]]) -> list[str]:
    argv: list[str] = []
    for key, value in overrides:
        argv += ["-o", key, value]
    return argv


def ctrl_c_reaches_it() -> None:
    """In the child, before exec: a test runner started in the background by a shell
    without job control (``make test &``) ignores SIGINT, children inherit that, and Python
    then installs no KeyboardInterrupt handler, so ``stop`` would never reach the command
    (seen in CI: the demo outlived its 120 s). Ctrl-C must work as at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class CliProcess:
    """A ``prefstream`` command on the demo config, in the background, its output collected
    line by line; ``stop`` is Ctrl-C, then up to ``stop_timeout`` seconds to exit."""

    def __init__(
        self, command: Sequence[str], overrides: list[tuple[str, str]], *, stop_timeout: float
    ) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefstream_cli",
                *command,
                "--config",
                str(DEMO_CONFIG),
                *as_argv(overrides),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            preexec_fn=ctrl_c_reaches_it,
        )
        self.stop_timeout = stop_timeout
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, pattern: str, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line matched {pattern!r}:\n" + "\n".join(self.lines[-60:]))

    def stop(self) -> int:
        """Ctrl-C: the command stops what it started (every child drains and stops) and
        exits; killed if it has not within ``stop_timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=self.stop_timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self._reader.join(timeout=5)
            if not self._reader.is_alive() and self.proc.stdout is not None:
                self.proc.stdout.close()


def all_children(pid: int) -> list[psutil.Process]:
    """The broker, nmp-local and the three services, once all are running."""
    deadline = time.monotonic() + 60
    while True:
        children = psutil.Process(pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in children)
        started = [n for n in ("nmp-local", "pairing", "batcher", "submitter") if n in names]
        if len(started) == 4 or time.monotonic() > deadline:
            return children
        time.sleep(0.2)


def assert_none_survive(children: list[psutil.Process], ports: list[int]) -> None:
    """Every child is gone (a zombie awaiting its reaper counts as gone) and no service
    port is still listened on."""
    deadline = time.monotonic() + 60
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _running(p)]
        time.sleep(0.2)
    assert not alive, [f"{p.pid} {' '.join(p.cmdline()[-4:])}" for p in alive]
    assert all(is_port_free(port) for port in ports), ports


def kill_survivors(children: list[psutil.Process]) -> None:
    """A failed check must not leave orphans listening on the next test's ports."""
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def service_ports(overrides: list[tuple[str, str]]) -> list[int]:
    keys = ("kafka.embedded_port", "nmp_local.port", "pairing.http_port", "batcher.http_port")
    return [int(value) for key, value in overrides if key in (*keys, "submitter.http_port")]
