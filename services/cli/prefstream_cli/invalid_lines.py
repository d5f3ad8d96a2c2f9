"""Invalid input lines, as ``publish`` and ``pairs build`` report them: one format, one rule.

A run that skipped lines did not do what was asked, so it exits ``EXIT_INVALID`` unless the
user allowed that many with ``--max-invalid``; the valid lines are still processed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from prefstream_events import InvalidEvent

from prefstream_cli.options import fail

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INVALID = 3
DETAIL_CHARS = 300


def invalid_line(path: object, lineno: int, exc: InvalidEvent) -> str:
    """``FILE:LINE: invalid (reason): detail``, the detail cut to a readable length."""
    return f"{path}:{lineno}: invalid ({exc.reason}): {exc.detail[:DETAIL_CHARS]}"


def report_invalid(path: object, lineno: int, exc: InvalidEvent) -> None:
    click.echo(invalid_line(path, lineno, exc), err=True)


def max_invalid_option(func: F) -> F:
    return click.option(
        "--max-invalid",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help=f"Invalid lines tolerated; more make the run exit {EXIT_INVALID} "
        "(the valid lines are still processed).",
    )(func)


def too_many_invalid(invalid: int, lines: int, max_invalid: int) -> str | None:
    """What to tell the user when more than ``max_invalid`` of ``lines`` were invalid."""
    if invalid <= max_invalid:
        return None
    return (
        f"{invalid} of {lines} lines were invalid and skipped (allowed: {max_invalid}); "
        "fix them (see above) or pass --max-invalid N"
    )


def check_invalid(invalid: int, lines: int, max_invalid: int) -> None:
    """Exit ``EXIT_INVALID`` when more than ``max_invalid`` of ``lines`` were invalid."""
    if problem := too_many_invalid(invalid, lines, max_invalid):
        fail(problem, EXIT_INVALID)
