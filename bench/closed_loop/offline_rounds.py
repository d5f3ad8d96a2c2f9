"""The closed loop offline: self-play, exhaustive pairs, TRL DPO, evaluation; per round.

Proves a recipe before the demo runs it through services: the same model, prompts,
pairing rule (docs/pairing.md: exhaustive, sorted by score difference, capped per turn),
TRL's DPOTrainer and the same evaluation games, in one process.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/closed_loop/offline_rounds.py --seeds 0 1 2 \
        --set games_per_round=200 --set learning_rate=5e-4

Prints one table row per (seed, round) and a JSON line per row with ``--json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from prefstream_demo.policy_model.recipe import Recipe
from prefstream_demo.tictactoe.board import Board
from prefstream_demo.tictactoe.compact import compact_answer, compact_prompt
from prefstream_demo.tictactoe.evaluation import EvaluationResult, evaluate
from prefstream_demo.tictactoe.minimax import score_move


@dataclass(frozen=True)
class ScoredTurn:
    board: Board
    squares: tuple[int, ...]
    scores: tuple[float, ...]


@dataclass
class PlayStats:
    turns: int = 0
    samples: int = 0
    unusable: int = 0
    model_calls: int = 0


def self_play(model: Any, recipe: Recipe, seed: int) -> tuple[list[ScoredTurn], PlayStats]:
    """``games_per_round`` games, all stepped together: one batched forward pass per ply."""
    import torch
    from prefstream_demo.policy_model.inference import sample_moves

    generator = torch.Generator().manual_seed(seed)
    rng = random.Random(seed)
    boards = [Board() for _ in range(recipe.games_per_round)]
    turns: list[ScoredTurn] = []
    stats = PlayStats()
    while active := [i for i, b in enumerate(boards) if not b.is_terminal()]:
        stats.model_calls += 1
        samples = sample_moves(
            model,
            [boards[i] for i in active],
            samples=recipe.candidates_per_move,
            temperature=recipe.temperature,
            generator=generator,
        )
        for i, drawn in zip(active, samples, strict=True):
            board = boards[i]
            legal = set(board.legal_moves())
            squares: list[int] = []
            for square in drawn:
                stats.samples += 1
                if square is None or square not in legal or square in squares:
                    stats.unusable += 1
                    continue
                squares.append(square)
            if not squares:  # no usable answer: a random move keeps the game going
                boards[i] = board.play(rng.choice(sorted(legal)))
                continue
            scores = tuple(score_move(board, s) for s in squares)
            turns.append(ScoredTurn(board, tuple(squares), scores))
            stats.turns += 1
            if recipe.continuation == "best":
                pick = max(range(len(squares)), key=lambda k: (scores[k], -k))
            else:
                pick = 0
            boards[i] = board.play(squares[pick])
    return turns, stats


def exhaustive_pairs(turn: ScoredTurn, cap: int) -> list[tuple[int, int]]:
    """(chosen, rejected) squares: every strictly better/worse pair, largest gap first."""
    ranked = sorted(range(len(turn.squares)), key=lambda k: (-turn.scores[k], k))
    pairs = [
        (a, b)
        for x, a in enumerate(ranked)
        for b in ranked[x + 1 :]
        if turn.scores[a] > turn.scores[b]
    ]
    pairs.sort(key=lambda p: -(turn.scores[p[0]] - turn.scores[p[1]]))
    return [(turn.squares[a], turn.squares[b]) for a, b in pairs[:cap]]


def dpo_rows(turns: list[ScoredTurn], cap: int) -> list[dict[str, str]]:
    return [
        {
            "prompt": compact_prompt(t.board),
            "chosen": compact_answer(chosen),
            "rejected": compact_answer(rejected),
        }
        for t in turns
        for chosen, rejected in exhaustive_pairs(t, cap)
    ]


def train_dpo(
    base: Path, rows: list[dict[str, str]], recipe: Recipe, out: Path, seed: int
) -> dict[str, float]:
    from datasets import Dataset  # type: ignore[import-untyped]
    from transformers import AutoTokenizer, PrinterCallback
    from trl.trainer.dpo_config import DPOConfig
    from trl.trainer.dpo_trainer import DPOTrainer

    args = DPOConfig(
        output_dir=str(out / "trainer"),
        beta=recipe.beta,
        learning_rate=recipe.learning_rate,
        num_train_epochs=recipe.epochs,
        per_device_train_batch_size=recipe.batch_size,
        max_length=32,
        loss_type=list(recipe.loss_type),
        loss_weights=list(recipe.loss_weights) if recipe.loss_weights else None,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_steps=5,
        seed=seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = DPOTrainer(
        model=str(base),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(base),
    )
    trainer.remove_callback(PrinterCallback)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    trainer.save_model(str(out))
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    logs = [e for e in trainer.state.log_history if "loss" in e]
    last = logs[-1] if logs else {}
    return {
        "train_s": seconds,
        "loss": float(last.get("loss", float("nan"))),
        "reward_acc": float(last.get("rewards/accuracies", float("nan"))),
    }


def evaluate_model(model: Any, recipe: Recipe, seed: int) -> EvaluationResult:
    import torch
    from prefstream_demo.policy_model.inference import sample_moves

    generator = torch.Generator().manual_seed(seed)

    def choose(boards: list[Board]) -> list[int | None]:
        drawn = sample_moves(
            model,
            boards,
            samples=1,
            temperature=recipe.evaluation_temperature,
            generator=generator,
        )
        return [d[0] for d in drawn]

    return evaluate(
        choose,
        random_games=recipe.evaluation_games_random,
        minimax_games=recipe.evaluation_games_minimax,
        seed=seed,
    )


def row(seed: int, round_: int, result: EvaluationResult, extra: dict[str, Any]) -> dict[str, Any]:
    r, m = result.random, result.minimax
    return {
        "seed": seed,
        "round": round_,
        "win_random": round(r.win_rate, 3),
        "wdl_random": f"{r.wins}/{r.draws}/{r.losses}",
        "wdl_minimax": f"{m.wins}/{m.draws}/{m.losses}",
        "illegal": round(result.illegal_rate, 4),
        "stderr": round(result.stderr, 3),
        **extra,
    }


COLUMNS = (
    ("seed", 4),
    ("round", 5),
    ("win_random", 10),
    ("wdl_random", 11),
    ("wdl_minimax", 11),
    ("illegal", 7),
    ("pairs", 5),
    ("unusable", 8),
    ("train_s", 7),
    ("loss", 6),
    ("reward_acc", 10),
    ("play_s", 6),
    ("eval_s", 6),
)


def print_row(values: dict[str, Any]) -> None:
    cells = []
    for name, width in COLUMNS:
        value = values.get(name, "")
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        cells.append(text.rjust(width))
    print(" ".join(cells), flush=True)


def run_seed(
    seed: int, recipe: Recipe, cache: Path, work: Path, as_json: bool
) -> list[dict[str, Any]]:
    from prefstream_demo.policy_model.inference import load_policy
    from prefstream_demo.policy_model.warm_start import build_policy

    current = build_policy(cache, seed=seed)
    model = load_policy(current)
    started = time.perf_counter()
    result = evaluate_model(model, recipe, seed)
    rows = [row(seed, 0, result, {"eval_s": round(time.perf_counter() - started, 1)})]
    print_row(rows[-1])
    seen: list[dict[str, str]] = []
    for round_ in range(1, recipe.rounds + 1):
        t0 = time.perf_counter()
        turns, stats = self_play(model, recipe, seed * 1000 + round_)
        pairs = dpo_rows(turns, recipe.max_pairs_per_turn)
        seen.extend(pairs)
        play_s = time.perf_counter() - t0
        out = work / f"seed{seed}-round{round_}"
        dataset = seen if recipe.dataset == "cumulative" else pairs
        trained = train_dpo(current, dataset, recipe, out, seed * 1000 + round_)
        current = out
        model = load_policy(current)
        t1 = time.perf_counter()
        result = evaluate_model(model, recipe, seed)
        extra = {
            "pairs": len(pairs),
            "unusable": round(stats.unusable / max(1, stats.samples), 3),
            "play_s": round(play_s, 1),
            "eval_s": round(time.perf_counter() - t1, 1),
            **{k: round(v, 3) for k, v in trained.items()},
        }
        rows.append(row(seed, round_, result, extra))
        print_row(rows[-1])
    if as_json:
        for r in rows:
            print(json.dumps(r), flush=True)
    return rows


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(Recipe)}
    defaults = Recipe()
    overrides: dict[str, Any] = {}
    for item in pairs:
        name, _, text = item.partition("=")
        if name not in fields:
            raise SystemExit(f"unknown recipe field {name!r}")
        default = getattr(defaults, name)
        if isinstance(default, tuple) or name in ("loss_type", "loss_weights"):
            parts = [p for p in text.split(",") if p]
            value: Any = tuple(float(p) for p in parts) if name == "loss_weights" else tuple(parts)
        elif isinstance(default, bool):
            value = text.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            value = int(text)
        elif isinstance(default, float):
            value = float(text)
        else:
            value = text
        overrides[name] = value
    return overrides


def quiet() -> None:
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], help="recipe FIELD=VALUE")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "prefstream-policy"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="space-separated FIELD=VALUE on top of --set; each variant runs every seed",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    base = dataclasses.replace(Recipe(), **parse_overrides(args.set))
    t0 = time.perf_counter()
    import torch
    import trl  # noqa: F401  (import time is reported apart from the loop)

    torch.set_num_threads(1)  # two threads spin-wait on the shared 2-core machine
    quiet()

    print(f"imports {time.perf_counter() - t0:.1f}s", flush=True)
    for variant in args.variant or [""]:
        recipe = dataclasses.replace(base, **parse_overrides(variant.split()))
        print(f"\n{variant or 'recipe'}: {recipe}", flush=True)
        run_variant(recipe, args.seeds, args.cache, as_json=args.json)


def run_variant(recipe: Recipe, seeds: list[int], cache: Path, *, as_json: bool) -> None:
    print(" ".join(name.rjust(width) for name, width in COLUMNS), flush=True)
    gains: list[float] = []
    with tempfile.TemporaryDirectory(prefix="offline-rounds-") as work:
        for seed in seeds:
            t = time.perf_counter()
            from prefstream_demo.policy_model.warm_start import build_policy

            build_policy(cache, seed=seed)
            build_s = time.perf_counter() - t
            t = time.perf_counter()
            rows = run_seed(seed, recipe, cache, Path(work), as_json)
            loop_s = time.perf_counter() - t
            gain = rows[-1]["win_random"] - rows[0]["win_random"]
            gains.append(gain)
            print(
                f"seed {seed}: build {build_s:.1f}s, loop {loop_s:.1f}s, "
                f"gain {gain * 100:+.1f} points, illegal {rows[0]['illegal']} -> "
                f"{rows[-1]['illegal']}",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
