"""The closed-loop demo's closing table: one row per policy model, in the order they played."""

from __future__ import annotations

from prefstream_config import PrefstreamConfig
from prefstream_demo.tictactoe.evaluation import OpponentResult

from prefstream_cli.closed_loop import LoopResult, PolicyRow
from prefstream_cli.demo_run import ended


def _wdl(r: OpponentResult) -> str:
    return f"{r.wins}/{r.draws}/{r.losses} of {r.games}" if r.games else "-"


def _training(row: PolicyRow) -> str:
    job = row.job
    if job is None:
        return "base model"
    parts = [job.job_id or job.job_key]
    if job.steps_completed is not None:
        parts.append(f"{job.steps_completed} steps")
    if job.train_loss is not None:
        parts.append(f"train loss {job.train_loss:.4f}")
    if job.val_loss is not None:
        parts.append(f"val loss {job.val_loss:.4f}")
    return ", ".join(parts)


def _final_promoted(result: LoopResult) -> PolicyRow | None:
    """The model the agents play with at the end: the last one promoted."""
    return next((r for r in reversed(result.rows) if r.decision.promoted), None)


def loop_summary(config: PrefstreamConfig, result: LoopResult) -> str:
    promoted = sum(1 for r in result.rows if r.round > 0 and r.decision.promoted)
    header = (
        "round",
        "policy model",
        "vs random W/D/L",
        "vs minimax W/D/L",
        "illegal",
        "score",
        "pairs",
        "gate",
    )
    table = [header]
    for row in result.rows:
        report = row.report
        gate = "base" if row.round == 0 else ("promoted" if row.decision.promoted else "rejected")
        table.append(
            (
                str(row.round),
                row.model,
                _wdl(report.random),
                _wdl(report.minimax),
                f"{100 * report.illegal_rate:.1f}%",
                f"{report.score:.3f}±{report.stderr:.3f}",
                str(row.pairs) if row.games is not None else "-",
                gate,
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [
        "",
        f"prefstream demo (closed loop) {ended(result.stopped_by, result.seconds)}"
        + (" (timed out)" if result.timed_out else "")
        + f": {max(0, len(result.rows) - 1)} trained models, {promoted} promoted",
        "",
    ]
    if result.failure is not None:
        lines += [f"  stopped: {result.failure}", ""]
    final = _final_promoted(result)
    if final is not None and result.rows:
        base = result.rows[0].report
        lines += [
            f"  agents now play {final.model}: {final.report.score - base.score:+.3f} win rate "
            f"against random vs the base model, illegal answers "
            f"{100 * final.report.illegal_rate:.1f}% vs {100 * base.illegal_rate:.1f}%",
            "",
        ]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in table]
    lines.append("")
    lines.append("  training of each model:")
    for row in result.rows:
        lines.append(f"    {row.model}: {_training(row)}")
        if row.round > 0:
            lines.append(f"      gate: {row.decision.reason}")
    lines += [
        "",
        f"  score = win rate against the random player ({config.demo.evaluation_games_random} "
        "seeded held-out games, the model alternating X and O); pairs = pairs its games made",
        f"  evaluations on topic {config.kafka.topics.evaluations}; "
        f"jobs on {config.kafka.topics.jobs}",
    ]
    return "\n".join(lines)
