"""The jobs table of ``prefstream watch`` (issue #14, defect 10): natural order, whole names
and percentages at 80 columns, the job id, a filter and a limit, elapsed time, ETA and
"epoch x of N"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from prefstream_cli.commands.watch import render, selected_jobs
from prefstream_cli.main import cli
from prefstream_events import JobStatus, JobStatusEvent
from prefstream_events.boards import Boards
from prefstream_events.eta import JobClock
from rich.console import Console

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def job(name: str, *, seq: int = 1, at: datetime = T0, **fields: object) -> JobStatusEvent:
    doc: dict[str, object] = {
        "job_key": f"key-{name}",
        "seq": seq,
        "dataset_id": f"ds-{name}",
        "dataset_name": name,
        "status": JobStatus.RUNNING,
        "job_id": f"cust-{name}",
        "updated_at": at,
        **fields,
    }
    return JobStatusEvent.model_validate(doc)


def shown(boards: Boards, width: int, clock: JobClock | None = None, now: datetime = T0) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(render(boards, clock=clock, now=now))
    return console.export_text()


def column(text: str, index: int) -> str:
    """The cells of one column of a rendered table, joined (folded text rejoined)."""
    rows = [ln.split("│") for ln in text.splitlines() if ln.startswith("│")]
    return "".join(row[index + 1].strip() for row in rows)


def test_rows_sort_naturally() -> None:
    boards = Boards()
    for n in (2, 10, 1):
        boards.apply(job(f"tictactoe-{n}"))
    assert [j.dataset_name for j in boards.jobs.ordered()] == [
        "tictactoe-1",
        "tictactoe-2",
        "tictactoe-10",
    ]


def test_names_percentage_and_job_id_survive_80_columns() -> None:
    boards = Boards()
    boards.apply(job("tictactoe-incremental-000010", percentage_done=42.5))
    text = shown(boards, 80)
    assert column(text, 0) == "tictactoe-incremental-000010"
    assert column(text, 1) == "cust-tictactoe-incremental-000010"
    assert column(text, 2) == "running"
    assert "42.5%" in column(text, 3)


def test_elapsed_eta_and_epoch_of_n() -> None:
    boards, clock = Boards(), JobClock()
    first = job("ttt-1", seq=1, at=T0, percentage_done=10.0, epochs_completed=0)
    later = job(
        "ttt-1",
        seq=2,
        at=T0 + timedelta(seconds=100),
        percentage_done=60.0,
        epochs_completed=1,
        hyperparameters={"epochs": 3},
    )
    for event in (first, later):
        boards.apply(event)
        clock.observe(event)
    text = shown(boards, 160, clock, now=T0 + timedelta(seconds=100))
    assert "1 of 3" in text  # epochs completed of all
    assert "1m 40s" in text  # elapsed since first seen
    assert "~1m 20s" in text  # 40 % left at 0.5 %/s


def test_filter_and_limit() -> None:
    boards = Boards()
    for n in range(1, 13):
        boards.apply(job(f"ttt-{n}", at=T0 + timedelta(seconds=n)))
    boards.apply(job("chess-1"))
    names = [j.dataset_name for j in selected_jobs(boards.jobs, pattern="ttt-*", limit=3)]
    assert names == ["ttt-10", "ttt-11", "ttt-12"]  # the 3 latest, in natural order
    assert [j.dataset_name for j in selected_jobs(boards.jobs, pattern="*cust-chess*")] == [
        "chess-1"
    ]  # the pattern matches the job id too


def test_watch_has_filter_and_limit_options() -> None:
    text = CliRunner().invoke(cli, ["watch", "--help"]).output
    assert "--filter" in text
    assert "--limit" in text
