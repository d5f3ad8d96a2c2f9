"""Evaluation games: seeded, batched, legal for the opponent, and tallied exactly."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_demo.tictactoe import Board, score_moves
from prefstream_demo.tictactoe.evaluation import (
    OPPONENTS,
    Evaluation,
    EvaluationResult,
    evaluate,
    evaluate_async,
    opponent_move,
)

Chooser = Callable[[list[Board]], list[int | None]]


def random_chooser(seed: int, illegal_every: int = 0) -> tuple[list[int], Chooser]:
    """Uniform legal moves; with ``illegal_every`` = k, about one answer in k is illegal."""
    rng = random.Random(seed)
    calls: list[int] = []

    def choose(boards: list[Board]) -> list[int | None]:
        calls.append(len(boards))
        moves: list[int | None] = []
        for board in boards:
            if illegal_every and rng.randrange(illegal_every) == 0:
                moves.append(rng.choice([None, *[i for i in range(9) if board.cells[i]]]))
            else:
                moves.append(rng.choice(board.legal_moves()))
        return moves

    return calls, choose


def perfect(boards: list[Board]) -> list[int | None]:
    out: list[int | None] = []
    for board in boards:
        scores = score_moves(board)
        out.append(max(scores, key=lambda m: scores[m]))
    return out


def test_batches_hold_every_waiting_game_once_per_ply() -> None:
    calls, choose = random_chooser(1)
    result = evaluate(choose, random_games=40, minimax_games=20, seed=3)
    assert calls[0] == 60  # every game waits for the model's first move at ply 0 or 1
    assert len(calls) <= 5  # the model moves at most five times in a game
    assert result.random.games == 40
    assert result.minimax.games == 20


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10**6), chooser_seed=st.integers(0, 10**6), illegal=st.sampled_from([0, 4])
)
def test_results_sum_to_games_and_are_seeded(seed: int, chooser_seed: int, illegal: int) -> None:
    runs: list[EvaluationResult] = []
    for _ in range(2):
        _, choose = random_chooser(chooser_seed, illegal)
        runs.append(evaluate(choose, random_games=12, minimax_games=6, seed=seed))
    assert runs[0] == runs[1]
    for part in (runs[0].random, runs[0].minimax):
        assert part.wins + part.draws + part.losses == part.games
        assert part.illegal <= part.losses
        if not illegal:
            assert part.illegal == 0


def test_opponents_only_play_legal_moves() -> None:
    """Board.play raises on an illegal move, so finishing proves every opponent move legal;
    the opponents' own pick is checked directly on many positions too."""
    rng = random.Random(0)
    for _ in range(300):
        board = Board()
        while not board.is_terminal():
            for opponent in OPPONENTS:
                assert opponent_move(opponent, board, rng) in board.legal_moves()
            board = board.play(rng.choice(board.legal_moves()))


def test_minimax_never_loses_and_perfect_play_never_loses() -> None:
    result = evaluate(perfect, random_games=60, minimax_games=30, seed=5)
    assert result.minimax.wins == 0
    assert result.minimax.losses == 0
    assert result.random.losses == 0
    assert result.random.win_rate > 0.7
    assert result.illegal_rate == 0


def test_illegal_answers_lose_and_are_counted() -> None:
    def occupied_or_none(boards: list[Board]) -> list[int | None]:
        return [None if b.ply == 0 else b.cells.index("X") for b in boards]

    result = evaluate(occupied_or_none, random_games=10, minimax_games=4, seed=0)
    assert result.random.illegal == 10
    assert result.random.losses == 10
    assert result.minimax.illegal == 4
    assert result.illegal_rate == 1.0
    assert result.score == 0.0


def test_model_alternates_sides() -> None:
    evaluation = Evaluation(random_games=4, minimax_games=0, seed=9)
    marks = [b.to_move for b in evaluation.pending()]
    assert marks == ["X", "O", "X", "O"]


def test_answer_count_must_match_pending() -> None:
    evaluation = Evaluation(random_games=2, minimax_games=0, seed=0)
    evaluation.pending()
    with pytest.raises(ValueError, match="expected 2 moves"):
        evaluation.answer([0])


def test_score_and_stderr_come_from_the_random_games() -> None:
    _, choose = random_chooser(2)
    result = evaluate(choose, random_games=100, minimax_games=10, seed=1)
    p = result.random.wins / 100
    assert result.score == p
    assert result.stderr == pytest.approx(max((p * (1 - p) / 100) ** 0.5, 0.01))


def test_async_driver_matches_sync() -> None:
    async def achoose(boards: list[Board]) -> Sequence[int | None]:
        return perfect(boards)

    sync = evaluate(perfect, random_games=20, minimax_games=10, seed=4)
    assert asyncio.run(evaluate_async(achoose, random_games=20, minimax_games=10, seed=4)) == sync
