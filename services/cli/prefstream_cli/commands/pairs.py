"""``prefstream pairs build``: pair a JSONL file of CandidateEvents offline.

Runs the pairing library the service runs, so for the same records both produce the same
``pair_id``s. ``-o`` means OUTPUT here; config overrides use ``--set KEY VALUE``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
from prefstream_pairing import OfflineBuilder, PairingOptions
from prefstream_pairing.offline_writer import (
    DIRECT_FROM_BYTES,
    WriterProcessFailed,
    write_pairs,
    write_pairs_forked,
)
from prefstream_pairing.output_file import OutputFile

from prefstream_cli.invalid_lines import (
    EXIT_INVALID,
    max_invalid_option,
    report_invalid,
    too_many_invalid,
)
from prefstream_cli.options import config_options, fail, resolve_config

if TYPE_CHECKING:
    from prefstream_pairing.offline_columnar import ColumnarBuilder

F = TypeVar("F", bound=Callable[..., Any])

_PROGRESS_EVERY = 65536

COLUMNAR_FROM_BYTES = 64 * 2**20
"""Below this the per-object builder is as fast, uses less memory and starts without numpy
and pyarrow (measured with bytecode compiled, docs/performance.md, medians of 5: 55 MB of
input 0.82 s columnar against 0.85 s per-object, 69 MB 0.93 s against 1.06 s)."""


def _lines(fh: IO[bytes], total: int | None) -> Iterator[bytes]:
    if total is None:
        yield from fh
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=None,
        transient=True,
    ) as progress:
        task = progress.add_task("reading", total=total)
        done = 0
        for i, line in enumerate(fh, 1):
            done += len(line)
            if i % _PROGRESS_EVERY == 0:
                progress.update(task, completed=done)
            yield line
        progress.update(task, completed=total)


def _bool(name: str) -> Callable[[F], F]:
    return click.option(
        f"--{name}",
        type=click.BOOL,
        default=None,
        metavar="true|false",
        help="Override the builder option of the same name.",
    )


@click.command("build")
@click.argument(
    "input_path", metavar="INPUT.jsonl", type=click.Path(dir_okay=False, allow_dash=True)
)
@click.option(
    "-o",
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Output JSONL of pairs ('-' for stdout).",
)
@click.option("--ttc-step-name", default=None, help="Only candidates of this TTC step.")
@_bool("exhaustive-pairs")
@click.option("--min-score-diff", type=float, default=None, help="Smallest score difference.")
@click.option(
    "--max-pairs-per-turn",
    type=click.IntRange(min=1),
    default=None,
    help="Keep at most this many pairs per turn (largest differences first).",
)
@_bool("reward-from-score-diff")
@_bool("require-multiple-candidates")
@click.option(
    "--late-policy",
    type=click.Choice(["pair", "deadletter"]),
    default=None,
    help="What a candidate for an already closed window does (default: pairing.late_policy).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a TTY).")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=min(2, os.cpu_count() or 1),
    show_default=True,
    help="Processes that read the input and write the pairs (the output is the same).",
)
@click.option(
    "--direct-io/--no-direct-io",
    default=True,
    show_default=True,
    help=f"Write large outputs (from inputs of {COLUMNAR_FROM_BYTES >> 20} MiB: runs of "
    f"{DIRECT_FROM_BYTES >> 20} MiB or more per writer) with direct I/O (O_DIRECT: no page "
    "cache filled with a file that is not read back). Turn off where buffered writes are "
    "faster: a disk much slower than the writers (~1 GB/s).",
)
@click.option(
    "--engine",
    type=click.Choice(["auto", "columnar", "objects"]),
    default="auto",
    hidden=True,
    help=f"auto: columnar from {COLUMNAR_FROM_BYTES >> 20} MiB of input, else objects "
    "(same output).",
)
@max_invalid_option
@config_options(short_override=False)
def build(
    input_path: str,
    output_path: str,
    ttc_step_name: str | None,
    exhaustive_pairs: bool | None,
    min_score_diff: float | None,
    max_pairs_per_turn: int | None,
    reward_from_score_diff: bool | None,
    require_multiple_candidates: bool | None,
    late_policy: str | None,
    progress: bool | None,
    jobs: int,
    direct_io: bool,
    engine: str,
    max_invalid: int,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Pair INPUT.jsonl (one CandidateEvent per line) into OUTPUT, as the service would.

    Builder options come from the config (--config, --set KEY VALUE; -o is the output
    here) and are overridden by the flags named like the config keys. Invalid lines are
    reported on stderr with their line number and skipped; a JSON summary line of counts
    ends the run on stderr. Any invalid line (more than --max-invalid) makes it exit 3,
    after the pairs of the valid ones were written.
    """
    cfg = resolve_config(config_path, overrides)
    builder = cfg.builder()
    flags = {
        "ttc_step_name": ttc_step_name,
        "exhaustive_pairs": exhaustive_pairs,
        "min_score_diff": min_score_diff,
        "max_pairs_per_turn": max_pairs_per_turn,
        "reward_from_score_diff": reward_from_score_diff,
        "require_multiple_candidates": require_multiple_candidates,
    }
    try:
        builder = builder.model_validate(
            {**builder.model_dump(), **{k: v for k, v in flags.items() if v is not None}}
        )
        options = PairingOptions.from_builder(builder)
    except ValueError as exc:
        fail(f"invalid builder option: {exc}", 2)

    on_invalid = lambda lineno, exc: report_invalid(input_path, lineno, exc)  # noqa: E731
    use_progress = sys.stderr.isatty() if progress is None else progress
    try:
        fh: IO[bytes] = (
            sys.stdin.buffer if input_path == "-" else Path(input_path).open("rb")  # noqa: SIM115
        )
    except OSError as exc:
        fail(f"cannot read {input_path}: {exc.strerror}", 2)
    total = Path(input_path).stat().st_size if use_progress and input_path != "-" else None
    if engine == "auto":
        size = Path(input_path).stat().st_size if input_path != "-" else 0
        engine = "columnar" if size >= COLUMNAR_FROM_BYTES else "objects"
    make: type[OfflineBuilder | ColumnarBuilder] = (
        OfflineBuilder if engine == "objects" else _columnar_builder()
    )
    pairing = make(
        options,
        max_bytes=cfg.kafka.max_record_bytes,
        late_policy=late_policy or cfg.pairing.late_policy,
        on_invalid=on_invalid,
    )
    _build(pairing, _Input(fh, total, input_path), _Output(output_path, jobs, direct_io))
    summary = pairing.summary
    problem = too_many_invalid(summary.invalid, summary.lines, max_invalid)
    if problem:
        click.secho(f"error: {problem}", fg="red", err=True)
    click.echo(json.dumps({"summary": summary.as_dict()}), err=True)  # the last line, always
    if problem:
        raise SystemExit(EXIT_INVALID)


@dataclass(frozen=True, slots=True)
class _Input:
    fh: IO[bytes]
    total: int | None
    """Its size when a progress bar is drawn, else ``None``."""
    path: str
    """``-`` for stdin."""


@dataclass(frozen=True, slots=True)
class _Output:
    path: str
    """``-`` for stdout."""
    jobs: int
    direct_io: bool


def _columnar_builder() -> type[ColumnarBuilder]:
    """Imported when chosen: it brings numpy and pyarrow."""
    from prefstream_pairing.offline_columnar import ColumnarBuilder

    return ColumnarBuilder


def _build(pairing: OfflineBuilder | ColumnarBuilder, source: _Input, output: _Output) -> None:
    """Feed the input to the builder, then write its pairs (the same bytes either engine)."""
    if isinstance(pairing, OfflineBuilder):
        with source.fh:
            pairing.feed(_lines(source.fh, source.total))
        writers = _object_writers(pairing)
    else:
        _feed_columnar(pairing, source, output.jobs)
        writers = _columnar_writers(pairing, output.direct_io)
    _write(output, *writers)


Writers = tuple[Callable[[IO[bytes]], None], Callable[[OutputFile, int], None]]
"""How to write the pairs to a stream, and to an output file by N writer processes (one:
this process alone)."""


def _object_writers(pairing: OfflineBuilder) -> Writers:
    return (
        lambda out: write_pairs(pairing, out, None),
        lambda file, jobs: write_pairs_forked(pairing, file.writable, jobs, scratch=file.directory),
    )


def _feed_columnar(pairing: ColumnarBuilder, source: _Input, jobs: int) -> None:
    if source.path == "-" or source.total is not None:  # stdin, or a progress bar to drive
        with source.fh:
            pairing.feed(_lines(source.fh, source.total))
        return
    from prefstream_pairing.offline_reader import ReaderProcessFailed, feed_file

    source.fh.close()
    try:
        feed_file(pairing, Path(source.path), jobs)
    except ReaderProcessFailed as exc:
        fail(str(exc), 1)


def _columnar_writers(pairing: ColumnarBuilder, direct_io: bool) -> Writers:
    from prefstream_pairing.offline_writer import write_columnar, write_columnar_forked

    plan = pairing.plan()
    return (
        lambda out: write_columnar(pairing, plan, out),
        lambda file, jobs: write_columnar_forked(
            pairing, plan, file.writable, jobs, direct=direct_io
        ),
    )


def _write(
    output: _Output,
    to_stream: Callable[[IO[bytes]], None],
    to_file: Callable[[OutputFile, int], None],
) -> None:
    """To stdout for ``-``; a file by ``jobs`` writer processes where the OS forks, else by
    this one; a device or a pipe by this process, as a stream.

    A file takes its name only when complete (:class:`OutputFile`): a build that fails or
    is killed leaves no file that looks finished, and on Linux no file at all (a device
    or a pipe is written in place)."""
    if output.path == "-":
        to_stream(sys.stdout.buffer)
        return
    path = Path(output.path)
    if path.exists() and not path.is_file():
        with path.open("wb") as out:
            to_stream(out)
        return
    try:
        with OutputFile(path) as file:
            to_file(file, output.jobs if hasattr(os, "fork") else 1)
            file.complete()
    except WriterProcessFailed as exc:
        fail(str(exc), 1)
    except OSError as exc:  # a full disk, a quota, a read-only directory
        reason = exc.strerror or str(exc)
        fail(f"cannot write {output.path}: {reason}; free space or choose another OUTPUT", 1)
