"""Golden: the columnar ``pairs build`` writes exactly the bytes of the per-object builder.

``OfflineBuilder`` (today's implementation, kept as the oracle) and ``ColumnarBuilder``
read the same generated lines: ties, float edges, mixed prompts (strings and message lists
in either key order), duplicates, late candidates, invalid lines, several policy models and
runs, other TTC steps. Output bytes, summaries and invalid-line reports must be equal.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_cli.main import cli
from prefstream_events import InvalidEvent
from prefstream_pairing import (
    OfflineBuilder,
    PairingOptions,
    offline_columnar,
    offline_reader,
    offline_writer,
)
from prefstream_pairing.offline_columnar import ColumnarBuilder
from prefstream_pairing.range_writer import RangeWriter
from prefstream_testing.synthetic import synthetic_lines

PROMPTS: list[Any] = [
    "p",
    "q é",
    [{"role": "user", "content": "x"}],
    [{"content": "x", "role": "user"}],  # same canonical prompt, other key order
    [{"role": "user", "content": "x", "name": "n"}],
]
SCORES = [0.9, 0.7, 0.5, 0.2, 0.0, -0.0, 1e308, -1e308, 0.05, 0.1, 1.0, 2.5e-7]
BAD = [b"{oops", b'{"example_id": 1}', b"", b"[]", b'{"score": NaN}']


@st.composite
def records(draw: st.DrawFn) -> list[bytes]:
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 12)) == 0:
            lines.append(draw(st.sampled_from(BAD)) + b"\n")
            continue
        doc: dict[str, Any] = {
            "example_id": draw(st.sampled_from(["A", "B", "C"])),
            "turn_id": draw(st.sampled_from(["t1", "t2"])),
            "turn_index": 0,
            "candidate_index": draw(st.integers(0, 5)),
            "input": draw(st.sampled_from(PROMPTS)),
            "output": draw(st.sampled_from(["a", "b", 'c"\n', "d\u2028"])),
            "score": draw(st.sampled_from(SCORES) | st.floats(-2, 2).map(lambda x: round(x, 2))),
        }
        for key, values in [
            ("run_id", st.sampled_from(["", "r2"])),
            ("num_candidates", st.integers(1, 4)),
            ("policy_model", st.sampled_from(["m1", "m2", None])),
            ("ttc_step_name", st.sampled_from(["dpo_candidate_move", "other"])),
        ]:
            if draw(st.booleans()):
                doc[key] = draw(values)
        lines.append(json.dumps(doc).encode() + b"\n")
    return lines


options = st.builds(
    PairingOptions,
    ttc_step_name=st.sampled_from(["dpo_candidate_move", "other"]),
    exhaustive_pairs=st.booleans(),
    min_score_diff=st.sampled_from([0.0, 0.05, 0.2]),
    max_pairs_per_turn=st.none() | st.integers(1, 3),
    reward_from_score_diff=st.booleans(),
    require_multiple_candidates=st.booleans(),
)


def objects_output(
    lines: list[bytes], o: PairingOptions, policy: str
) -> tuple[bytes, dict[str, object], list[tuple[int, str]]]:
    bad: list[tuple[int, str]] = []
    b = OfflineBuilder(
        o, max_bytes=1 << 20, late_policy=policy, on_invalid=lambda n, e: bad.append((n, e.reason))
    )
    b.feed(lines)
    out = msgspec.json.Encoder().encode_lines(list(b.pairs()))
    return out, b.summary.as_dict(), bad


def columnar_output(
    lines: list[bytes], o: PairingOptions, policy: str
) -> tuple[bytes, dict[str, object], list[tuple[int, str]]]:
    bad: list[tuple[int, str]] = []

    def on_invalid(n: int, e: InvalidEvent) -> None:
        bad.append((n, e.reason))

    b = ColumnarBuilder(o, max_bytes=1 << 20, late_policy=policy, on_invalid=on_invalid)
    b.feed(lines)
    plan = b.plan()
    out = b"".join(bytes(c) for c in b.chunks(plan, 0, plan.window.size, size=7))
    return out, b.summary.as_dict(), bad


@settings(max_examples=300, deadline=None)
@given(
    records(),
    options,
    st.sampled_from(["pair", "deadletter"]),
    st.sampled_from([64, 2]),
)
def test_columnar_bytes_equal_the_per_object_builder(
    lines: list[bytes], o: PairingOptions, policy: str, max_vector: int
) -> None:
    mp = pytest.MonkeyPatch()
    mp.setattr(offline_columnar, "MAX_VECTOR", max_vector)  # 2: big windows take the other path
    try:
        assert columnar_output(lines, o, policy) == objects_output(lines, o, policy)
    finally:
        mp.undo()


@settings(max_examples=200, deadline=None)
@given(records(), options, st.sampled_from([64, 2]), st.data())
def test_measured_bytes_are_the_written_bytes(
    lines: list[bytes], o: PairingOptions, max_vector: int, data: st.DataObject
) -> None:
    """Forked writers start where ``encoded_bytes`` says the runs before theirs end."""
    mp = pytest.MonkeyPatch()
    mp.setattr(offline_columnar, "MAX_VECTOR", max_vector)
    try:
        b = ColumnarBuilder(o, max_bytes=1 << 20)
        b.feed(lines)
        plan = b.plan()
        end = plan.window.size
        lo = data.draw(st.integers(0, end))
        hi = data.draw(st.integers(lo, end))
        written = b"".join(bytes(c) for c in b.chunks(plan, lo, hi, size=5))
        measured_by = data.draw(st.sampled_from([1, 3, 65536]))
        assert b.encoded_bytes(plan, lo, hi, size=measured_by) == len(written)
    finally:
        mp.undo()


def test_synthetic_file_is_byte_identical_with_late_and_duplicate_candidates() -> None:
    lines = list(synthetic_lines(400, 4, seed=11, interleave=16))
    lines += [
        json.dumps(
            {"example_id": "ex-1", "turn_id": "turn-1", "turn_index": 0, "candidate_index": i}
            | {"input": "p", "output": f"late{i}", "score": s, "num_candidates": 4}
        ).encode()
        + b"\n"
        for i, s in [(7, 2.0), (0, 0.3), (8, -1.0)]
    ]
    o = PairingOptions(max_pairs_per_turn=4)
    for policy in ("pair", "deadletter"):
        got = columnar_output(lines, o, policy)
        assert got == objects_output(lines, o, policy)
        assert got[1]["late"]
        assert got[1]["duplicates"]


@pytest.mark.parametrize("direct", [False, True], ids=["page-cache", "direct-io"])
@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_cli_engines_write_the_same_bytes(
    tmp_path: Path, jobs: str, direct: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 2 jobs the input is read by two processes (split however small the file), and
    the invalid lines of both halves are reported in file order with their line numbers;
    with 2 or 3 the writers write their runs of pairs into their places in one file
    (through the page cache, or with direct I/O as large builds are)."""
    monkeypatch.setattr(offline_reader, "MIN_SPLIT_BYTES", 0)
    if direct:
        monkeypatch.setattr(offline_writer, "DIRECT_FROM_BYTES", 0)
    src = tmp_path / "in.jsonl"
    lines = list(synthetic_lines(300, 4, seed=9, interleave=8))
    src.write_bytes(
        b"".join(lines[:50])
        + b"not json\n\n"
        + b"".join(lines[50:1000])
        + b'{"example_id": 1}\n'
        + b"".join(lines[1000:])
        + b"\n{oops\n"
    )
    results = []
    for engine in ("objects", "columnar"):
        out = tmp_path / f"{engine}.jsonl"
        res = CliRunner().invoke(
            cli,
            ["pairs", "build", str(src), "-o", str(out), "--engine", engine, "--jobs", jobs],
        )
        assert res.exit_code == 3, res.output  # invalid lines
        results.append((out.read_bytes(), res.output))
    assert results[0] == results[1]
    assert results[0][0]
    assert f"{src}:1003: invalid (missing_field)" in results[1][1]
    assert f"{src}:1205: invalid (not_json)" in results[1][1]
    assert not list(tmp_path.glob("*.part*"))


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("flag", [[], ["--no-direct-io"]], ids=["default", "no-direct-io"])
def test_direct_io_is_used_unless_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str, flag: list[str]
) -> None:
    """Every writer of a file, one process or forked, writes its run with direct I/O when
    large enough (here: any size), unless ``--no-direct-io``; the bytes are the same."""
    monkeypatch.setattr(offline_writer, "DIRECT_FROM_BYTES", 0)
    seen = tmp_path / "direct.log"

    class Recording(RangeWriter):
        def __init__(self, path: Path, start: int, size: int, *, direct: bool) -> None:
            with seen.open("a") as log:  # forked writers append here too
                log.write(f"{direct}\n")
            super().__init__(path, start, size, direct=direct)

    monkeypatch.setattr(offline_writer, "RangeWriter", Recording)
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(synthetic_lines(100, 4, seed=6)))
    outputs = []
    for engine in ("columnar", "objects"):
        out = tmp_path / f"{engine}.jsonl"
        args = ["pairs", "build", str(src), "-o", str(out), "--engine", engine, "--jobs", jobs]
        res = CliRunner().invoke(cli, [*args, *flag])
        assert res.exit_code == 0, res.output
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert seen.read_text().split() == [str(not flag)] * int(jobs)


@pytest.mark.parametrize("error", [1, -1], ids=["short", "long"])
def test_a_writer_that_ends_elsewhere_than_measured_fails_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int
) -> None:
    """The guard of the forked writers: one byte of disagreement is an error, not a file
    with a gap or an overlap (a writer with more bytes than measured stops before it
    writes into its neighbour's range); the output of an earlier build stays as it was."""
    measured = ColumnarBuilder.encoded_bytes
    monkeypatch.setattr(
        ColumnarBuilder,
        "encoded_bytes",
        lambda self, plan, lo, hi: measured(self, plan, lo, hi) + error,
    )
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(synthetic_lines(50, 4, seed=3)))
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"earlier build\n")
    res = CliRunner().invoke(
        cli, ["pairs", "build", str(src), "-o", str(out), "--engine", "columnar", "--jobs", "2"]
    )
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert ("bytes, not the" if error > 0 else "more than measured") in res.output
    assert out.read_bytes() == b"earlier build\n"
    assert sorted(tmp_path.iterdir()) == [src, out]  # and no partial file left


@pytest.mark.parametrize("failing", [0, 1, 2], ids=["first", "middle", "last"])
def test_a_writer_that_fails_before_it_measures_stops_the_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: int
) -> None:
    """Writers learn where their run starts from the writer before them: one that fails
    before it tells (here the first, the middle or the last of three) fails the build,
    the writers after it see the end of the pipe instead of waiting for ever, and every
    child is reaped."""
    b = ColumnarBuilder(PairingOptions(), max_bytes=1 << 20, late_policy="pair")
    b.feed(synthetic_lines(60, 4, seed=4))
    plan = b.plan()
    failing_lo = plan.window.size * failing // 3
    measured = ColumnarBuilder.encoded_bytes

    def measure(self: ColumnarBuilder, plan: offline_columnar.PairPlan, lo: int, hi: int) -> int:
        if lo == failing_lo:
            raise OSError("injected: this writer dies before it measures its run")
        return measured(self, plan, lo, hi)

    monkeypatch.setattr(ColumnarBuilder, "encoded_bytes", measure)
    forked: list[int] = []
    fork = os.fork

    def recording_fork() -> int:
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    expected = offline_writer.WriterProcessFailed if failing else OSError
    with pytest.raises(expected):
        offline_writer.write_columnar_forked(b, plan, tmp_path / "out.jsonl", 3)
    assert len(forked) == 2
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped already, not running or a zombie


def test_forked_writers_to_a_device_write_in_one_process(tmp_path: Path) -> None:
    """``-o /dev/null`` (or a pipe) has no places to write into: one writer, no error."""
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(synthetic_lines(50, 4, seed=3)))
    res = CliRunner().invoke(
        cli, ["pairs", "build", str(src), "-o", "/dev/null", "--engine", "columnar", "--jobs", "2"]
    )
    assert res.exit_code == 0, res.output


def _small_files(limit: int) -> None:
    """In the child before exec: writes past ``limit`` bytes fail with EFBIG, as on a full
    disk (SIGXFSZ ignored, so the write returns the error instead of killing the process)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.parametrize("engine", ["columnar", "objects"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path: Path, engine: str, jobs: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(synthetic_lines(300, 4, seed=5)))
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"earlier build\n")
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "prefstream_cli", "pairs", "build", str(src)),
            *("-o", str(out), "--engine", engine, "--jobs", jobs),
        ],
        capture_output=True,
        text=True,
        preexec_fn=lambda: _small_files(src.stat().st_size // 4),
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert out.read_bytes() == b"earlier build\n"
    assert sorted(tmp_path.iterdir()) == [src, out]
