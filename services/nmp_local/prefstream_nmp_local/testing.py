"""Start nmp-local as a subprocess for tests and ops scripts.

    with running_nmp_local(tmp_path, job_seconds_per_epoch=0.3) as nmp:
        client = NeMoMicroservices(base_url=nmp.base_url)
        ...
        nmp.kill(); nmp.start()   # crash + restart on the same data dir and port

The server binds port 0 and reports the port through a file (no free-port race); the
helper then polls ``GET /health`` until it answers — no fixed sleeps. Restarts reuse the
port, so ``base_url`` stays valid for clients created earlier.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from prefstream_nmp_local.settings import ENV_PREFIX, NmpLocalSettings

_LIVE: set[NmpLocalProcess] = set()


class NmpLocalError(RuntimeError):
    """nmp-local did not start (the message carries the tail of its log)."""


class NmpLocalProcess:
    """One nmp-local subprocess on a fixed data dir; start/stop/kill it any number of times."""

    def __init__(
        self,
        data_dir: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 30.0,
        extra_env: Mapping[str, str] | None = None,
        **settings: Any,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        # Validate now, so a typo fails in the test, not as a dead child process.
        self.settings = NmpLocalSettings(host=host, port=port, data_dir=self.data_dir, **settings)
        self._extra_env = dict(extra_env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "nmp-local.log"

    @property
    def base_url(self) -> str:
        if not self.port:
            raise NmpLocalError("nmp-local has not been started yet")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        return self.base_url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> NmpLocalProcess:
        """Spawn, wait for the port file, then for ``/health`` to answer 200."""
        if self.is_running():
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.data_dir / f".nmp-local-{os.getpid()}-{id(self)}.port"
        port_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
        env.update(self.settings.model_copy(update={"port": self.port}).to_env())
        env.update(self._extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        cmd = [sys.executable, "-m", "prefstream_nmp_local", "--port-file", str(port_file)]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        _LIVE.add(self)
        try:
            self.port = self._wait_for_port(port_file)
            self._wait_for_health()
        except BaseException:
            self.kill()
            raise
        finally:
            port_file.unlink(missing_ok=True)
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (graceful shutdown); SIGKILL if it has not exited within ``timeout``."""
        return self._end(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL: a crash, for restart tests."""
        return self._end(signal.SIGKILL, 10.0)

    def restart(self) -> NmpLocalProcess:
        self.stop()
        return self.start()

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
        _LIVE.discard(self)
        return proc.returncode

    def _wait_for_port(self, port_file: Path) -> int:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if port_file.exists():
                return int(port_file.read_text().strip())
            time.sleep(0.02)
        raise NmpLocalError(
            f"nmp-local did not bind a port in {self.startup_timeout}s{self._tail()}"
        )

    def _wait_for_health(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with opener.open(f"{self.base_url}/health", timeout=2.0) as resp:
                    if resp.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.02)
        raise NmpLocalError(f"nmp-local at {self.base_url} never became healthy{self._tail()}")

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise NmpLocalError(
                f"nmp-local exited with code {self._proc.returncode} during startup{self._tail()}"
            )

    def _tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n--- nmp-local log (tail) ---\n" + text[-4000:]

    def __enter__(self) -> NmpLocalProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_nmp_local(data_dir: Path | str, **settings: Any) -> Iterator[NmpLocalProcess]:
    """A started nmp-local (``.base_url``, ``.stop()``, ``.kill()``, ``.start()``), stopped on exit.

    Keyword arguments are ``NmpLocalSettings`` fields (e.g. ``job_seconds_per_epoch=0.2``,
    ``error_rate={"POST /v1/customization/jobs": 1.0}``) plus ``startup_timeout`` and
    ``extra_env``.
    """
    proc = NmpLocalProcess(data_dir, **settings)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@atexit.register
def _reap() -> None:
    for proc in list(_LIVE):
        proc.kill()
