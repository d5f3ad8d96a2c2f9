"""The closed-loop recipe: how many games, how they are sampled and paired, how DPO trains.

Found and measured offline by ``bench/closed_loop/offline_rounds.py`` (the same self-play,
pairing, TRL 1.16 DPO and evaluation games, in one process, one torch thread, on the shared
2-core CPU machine). With these values, win rate against the random player (500 games at
the evaluation temperature), base -> rounds 1, 2, 3; the illegal rate was 0.000 throughout:

    seed 0: 0.442 -> 0.588 -> 0.620 -> 0.648   (+20.6 points)
    seed 1: 0.408 -> 0.548 -> 0.604 -> 0.620   (+21.2)
    seed 2: 0.438 -> 0.572 -> 0.638 -> 0.604   (+16.6)
    seed 3: 0.440 -> 0.564 -> 0.538 -> 0.596   (+15.6)
    seed 4: 0.348 -> 0.570 -> 0.596 -> 0.596   (+24.8)
    seed 5: 0.458 -> 0.494 -> 0.578 -> 0.604   (+14.6)

Three rounds of self-play + training + evaluation took 13.5-16 s per seed (DPO 3-4.7 s a
round on ~1,900-2,700 pairs, self-play 0.2 s, 700 evaluation games 0.4 s), after ~6-14 s
importing torch + trl and a one-off 20-26 s warm start per seed. Against minimax the model
never wins; draws rise from 5-16 to 29-41 of 200. The comparisons below were run on seeds
0-2 (or 0 alone) with the warm start fitted at temperature 1.0; see the bench's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class Recipe:
    rounds: int = 3
    """Self-play, train, evaluate, promote. Round 1 gives most of the gain (+8 to +18)."""
    games_per_round: int = 200
    """Self-play games per round, the model on both sides: ~1,500-2,300 pairs a round."""
    candidates_per_move: int = 4
    """Samples per turn (a served request's ``n``); distinct legal ones are the candidates."""
    temperature: float = 2.0
    """Candidate sampling temperature. Hot sampling keeps four distinct candidates per turn
    as the policy sharpens, and so bad moves to reject: at 1.0 rounds 2-3 lost what round 1
    gained (seed 0: +10.8 at round 3 against +17.8 here; 1.5 gave +21.2/+13.4/+18.4 but
    one illegal answer in seed 2's last evaluation)."""
    continuation: Literal["best", "sampled"] = "sampled"
    """Which candidate a self-play game continues with: the first sampled (the model's own
    play, so positions stay varied) or the best-scored (as the demo agents do today). Best
    gained only +4.6/+6.4/+15.6 (one pass) and +5.0/+5.2/+5.6 (two): games that follow the
    best move drift to drawn positions, and the model learns to draw, not to win."""
    max_pairs_per_turn: int = 6
    """Exhaustive pairs per turn, largest score difference first (4 candidates: at most 6);
    2 ended seed 0 at +7.4 where 6 gave +10.8 (candidates at temperature 1.0)."""
    dataset: Literal["incremental", "cumulative"] = "incremental"
    """Each round trains on its own pairs (the batcher's incremental mode). Cumulative
    doubled and tripled training time for no gain (+19.4/+9.8 at temperature 1.5)."""
    beta: float = 0.1
    """DPO beta; 0.5 held seed 0 to +1.4 (candidates at temperature 1.0, best continuation)."""
    learning_rate: float = 5e-4
    epochs: int = 1
    """Passes over a round's pairs. Two passes doubled training time and gained less
    (+17.8/+15.0/+21.2 against +15.2/+21.4/+20.4)."""
    batch_size: int = 32
    loss_type: tuple[str, ...] = ("sigmoid", "sft")
    """DPO plus an SFT term on the chosen answer (NeMo: preference and SFT loss weights).
    Plain DPO pushes the rejected squares down and the freed probability lands on illegal
    answers: 0.3 % -> 25-34 % illegal after one round; with the SFT term 1-2 % at T = 1."""
    loss_weights: tuple[float, ...] | None = (1.0, 1.0)
    evaluation_temperature: float = 0.3
    """Sampling temperature of evaluation games. At 1.0 the last 1-2 % of probability left
    on illegal answers (at base and after training) decides games and the rate rises over
    rounds; at 0.3 both are ~0 and the win rate shows what the model prefers."""
    evaluation_games_random: int = 500
    evaluation_games_minimax: int = 200
