"""``prefstream pairs build``: ordering, invalid lines, late candidates, the CLI itself."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from prefstream_cli.main import cli
from prefstream_pairing import OfflineBuilder, PairingOptions
from prefstream_testing.synthetic import synthetic_lines


def ev(ex: str, turn: str, idx: int, score: float, **kw: object) -> bytes:
    doc = {
        "example_id": ex,
        "turn_id": turn,
        "turn_index": 0,
        "candidate_index": idx,
        "input": "p",
        "output": f"{ex}{turn}{idx}",
        "score": score,
        **kw,
    }
    return json.dumps(doc).encode() + b"\n"


def build(
    lines: list[bytes], **kw: object
) -> tuple[list[tuple[str, str, int, int]], OfflineBuilder]:
    b = OfflineBuilder(PairingOptions(**kw), max_bytes=1 << 20)  # type: ignore[arg-type]
    b.feed(lines)
    return [(p.example_id, p.turn_id, p.chosen_index, p.rejected_index) for p in b.pairs()], b


def test_order_is_example_then_turn_then_diff() -> None:
    lines = [
        ev("B", "t1", 0, 0.1),
        ev("A", "t2", 0, 0.5),
        ev("B", "t1", 1, 0.9),
        ev("A", "t1", 0, 0.2),
        ev("A", "t2", 1, 0.1),
        ev("A", "t2", 2, 0.9),
        ev("A", "t1", 1, 0.3),
    ]
    got, _ = build(lines)
    assert got == [
        ("B", "t1", 1, 0),
        ("A", "t2", 2, 1),
        ("A", "t2", 2, 0),
        ("A", "t2", 0, 1),
        ("A", "t1", 1, 0),
    ]


def test_runs_are_separate_windows_and_steps_are_filtered() -> None:
    lines = [
        ev("A", "t", 0, 0.1, run_id="r1"),
        ev("A", "t", 1, 0.9, run_id="r2"),
        ev("A", "t", 2, 0.9, ttc_step_name="other"),
    ]
    got, b = build(lines)
    assert got == []
    assert b.summary.filtered == 1


def test_late_candidates_follow_the_policy() -> None:
    lines = [ev("A", "t", 0, 0.1, num_candidates=2), ev("A", "t", 1, 0.5, num_candidates=2)]
    lines.append(ev("A", "t", 2, 0.9, num_candidates=2))
    lines.append(ev("A", "t", 1, 0.7, num_candidates=2))  # a resend: duplicate, not late
    got, b = build(lines, max_pairs_per_turn=1)
    # first close (0, 1) pairs (1>0); the late one re-pairs all three: (2>0) is best
    assert sorted(got) == sorted([("A", "t", 1, 0), ("A", "t", 2, 0)])
    assert (b.summary.late, b.summary.duplicates) == (1, 1)
    bd = OfflineBuilder(PairingOptions(), max_bytes=1 << 20, late_policy="deadletter")
    bd.feed(lines)
    assert [(p.chosen_index, p.rejected_index) for p in bd.pairs()] == [(1, 0)]
    assert bd.summary.late_deadlettered == 1


def test_cli_reports_bad_lines_and_summarises(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    good = list(synthetic_lines(50, 4, seed=5))
    src.write_bytes(
        b"".join(good[:10]) + b"{oops\n\n" + b'{"example_id": 1}\n' + b"".join(good[10:])
    )
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(
        cli,
        [
            "pairs",
            "build",
            str(src),
            "-o",
            str(out),
            "--min-score-diff",
            "0.1",
            "--exhaustive-pairs",
            "false",
            "--set",
            "pairing.late_policy",
            "deadletter",
            "--max-invalid",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"{src}:11: invalid (not_json)" in res.output
    assert f"{src}:13: invalid (missing_field)" in res.output
    summary = json.loads(res.output.strip().splitlines()[-1])["summary"]
    assert summary["invalid"] == 2
    assert summary["valid"] == 200
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == summary["pairs"] > 0
    expected = OfflineBuilder(
        PairingOptions(min_score_diff=0.1, exhaustive_pairs=False), max_bytes=1 << 20
    )
    expected.feed(good)
    assert [r["pair_id"] for r in rows] == [p.pair_id for p in expected.pairs()]
    for r in rows:
        assert set(r) >= {
            "pair_id",
            "content_hash",
            "run_id",
            "example_id",
            "turn_id",
            "prompt",
            "chosen",
            "rejected",
            "chosen_score",
            "rejected_score",
            "score_diff",
            "reward",
            "chosen_index",
            "rejected_index",
        }
        assert r["score_diff"] >= 0.1


def test_cli_rejects_bad_option(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"")
    res = CliRunner().invoke(
        cli, ["pairs", "build", str(src), "-o", str(tmp_path / "o"), "--min-score-diff", "-1"]
    )
    assert res.exit_code == 2
    assert "min_score_diff" in res.output


def test_cli_jobs_do_not_change_the_output(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = list(synthetic_lines(300, 4, seed=9, interleave=8))
    lines += [ev("ex-1", "turn-1", 7, 2.0), b"not json\n"]  # a late candidate, a bad line
    src.write_bytes(b"".join(lines))
    outputs = []
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"out{jobs}.jsonl"
        res = CliRunner().invoke(
            cli, ["pairs", "build", str(src), "-o", str(out), "--jobs", jobs, "--max-invalid", "1"]
        )
        assert res.exit_code == 0, res.output
        summary = json.loads(res.output.strip().splitlines()[-1])["summary"]
        outputs.append((out.read_bytes(), summary))
        assert not list(tmp_path.glob("*.part*"))
    assert outputs[0][1]["late"] == 1
    assert outputs[0] == outputs[1] == outputs[2]


def test_cli_reports_hostile_lines_without_a_traceback(tmp_path: Path) -> None:
    good = list(synthetic_lines(20, 4, seed=3))
    head = ev("X", "t", 0, 0.5).rstrip(b"}\n")
    hostile = [
        head.replace(b'"output": "Xt0"', b'"output": "\xff\xfe"') + b"}\n",
        head + b', "u": ' + b"[" * 1000 + b"]" * 1000 + b"}\n",
        head + b', "\xc0\xaf": 1}\n',
        head.replace(b'"score": 0.5', b'"score": true') + b"}\n",
        head.replace(b'"candidate_index": 0', b'"candidate_index": "0"') + b"}\n",
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(good[:5] + hostile + good[5:]))
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(cli, ["pairs", "build", str(src), "-o", str(out)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code == 3, res.output  # lines were skipped
    assert "Traceback" not in res.output
    for lineno, reason in [
        (6, "invalid_utf8"),
        (7, "too_deep"),
        (8, "invalid_utf8"),
        (9, "invalid_field"),
        (10, "invalid_field"),
    ]:
        assert f"{src}:{lineno}: invalid ({reason}): " in res.output
    summary = json.loads(res.output.strip().splitlines()[-1])["summary"]
    assert summary["invalid"] == 5
    assert summary["invalid_reasons"] == {"invalid_field": 2, "invalid_utf8": 2, "too_deep": 1}
    expected = OfflineBuilder(PairingOptions(), max_bytes=1 << 20)
    expected.feed(good)
    assert [json.loads(x)["pair_id"] for x in out.read_text().splitlines()] == [
        p.pair_id for p in expected.pairs()
    ]
