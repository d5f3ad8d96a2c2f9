"""The training worker process: ``python -m prefstream_nmp_local.training.worker [REQUEST]``.

With a REQUEST (a JSON object, or a path to a file holding one) it trains at once. Without,
it is a *spare*: it imports the ML stack first (~14 s, measured) and then waits for one
request line on stdin, so a job handed to it starts training immediately. It dies with
nmp-local (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the server leaves no trainer behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import traceback
from pathlib import Path

from prefstream_nmp_local.training.events import EventWriter
from prefstream_nmp_local.training.request import TrainRequest

PR_SET_PDEATHSIG = 1
PARENT_ENV = "NMP_LOCAL_WORKER_PARENT"


def die_with_parent() -> None:
    """Linux only: SIGKILL us when the parent dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    expected = os.environ.get(PARENT_ENV)
    if expected and os.getppid() != int(expected):
        os._exit(1)


def load_request(arg: str) -> TrainRequest:
    text = arg if arg.lstrip().startswith("{") else Path(arg).read_text(encoding="utf-8")
    return TrainRequest.model_validate_json(text)


def redirect_output(path: Path) -> None:
    """From here on, stdout/stderr (Python and native) go to the job's log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def main(argv: list[str]) -> int:
    die_with_parent()
    from prefstream_nmp_local.training import trl_training  # the slow import, before the wait

    if argv:
        request = load_request(argv[0])
    else:
        line = sys.stdin.readline()
        if not line.strip():
            return 0  # nmp-local shut down without using this spare
        request = TrainRequest.model_validate_json(line)
    redirect_output(request.log_path)
    events = EventWriter(request.progress_path)
    print(f"worker pid {os.getpid()} training job {request.job_id}", flush=True)
    try:
        trl_training.train(request, events, os.getpid())
    except BaseException as exc:
        traceback.print_exc()
        events.emit("failed", message=f"{type(exc).__name__}: {exc}")
        return 1
    finally:
        events.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
